"""Serializers of the areas API."""

from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import AwareDateTimeField, ScopedSlugRelatedField

from ..choices import AreaKind
from ..geometry import GeometryError, MeasuredGeometry, measure
from ..levels import (
    BAND_KEYS,
    DEFAULT_CAPACITY_BANDS,
    DEFAULT_DENSITY_BANDS,
    DEFAULT_FLOW_BANDS,
    LEVELS,
    PUBLIC_LABELS,
    validate_bands,
)
from ..models import Area, AreaForecast, Event
from ..selectors import event_organisers


@extend_schema_field(OpenApiTypes.OBJECT)
class GeometryField(serializers.Field):
    """GeoJSON Polygon/MultiPolygon in WGS84; validated and measured on input."""

    default_error_messages = {"invalid": "{message}"}

    def to_internal_value(self, data) -> MeasuredGeometry:
        try:
            return measure(data)
        except GeometryError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def to_representation(self, value):
        return value


class BandsField(serializers.JSONField):
    """Lower bounds of busy, very_busy, crowded and critical; null to use the tenant's or default bands."""

    def __init__(self, *, unit: str, **kwargs):
        self.unit = unit
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return validate_bands(data, unit=self.unit)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class TagsField(serializers.ListField):
    """Free tags, compared case-insensitively (stored lower-case)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(max_length=40), max_length=20, required=False, **kwargs)

    def to_internal_value(self, data):
        tags = super().to_internal_value(data)
        cleaned = []
        for tag in tags:
            tag = tag.strip().lower()
            if not tag or "|" in tag:
                raise serializers.ValidationError(f"Tag {tag!r} is empty or contains '|'.")
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned


class AreaSerializer(serializers.ModelSerializer):
    """An area or event zone. ``parent`` and ``event`` are slugs within the same tenant."""

    geometry = GeometryField()
    parent = ScopedSlugRelatedField(Area, required=False, allow_null=True)
    event = ScopedSlugRelatedField(Event, required=False, allow_null=True)
    valid_from = AwareDateTimeField(required=False, allow_null=True)
    valid_to = AwareDateTimeField(required=False, allow_null=True)
    tags = TagsField()
    density_bands = BandsField(unit="persons/m²")
    capacity_bands = BandsField(unit="% of capacity")
    flow_bands = BandsField(unit="persons/min/m")
    archived = serializers.BooleanField(
        source="is_archived",
        required=False,
        help_text="Archived areas are hidden from lists; false restores.",
    )
    effective_surface_m2 = serializers.FloatField(read_only=True)
    bbox = serializers.SerializerMethodField()
    centroid = serializers.SerializerMethodField()

    class Meta:
        model = Area
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "kind",
            "geometry",
            "surface_m2",
            "usable_surface_m2",
            "effective_surface_m2",
            "capacity",
            "valid_from",
            "valid_to",
            "tags",
            "parent",
            "event",
            "density_bands",
            "capacity_bands",
            "flow_method",
            "flow_bands",
            "archived",
            "bbox",
            "centroid",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "surface_m2", "created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False}}

    def get_bbox(self, area) -> list[float]:
        return [area.min_lon, area.min_lat, area.max_lon, area.max_lat]

    def get_centroid(self, area) -> list[float]:
        return [area.centroid_lon, area.centroid_lat]

    def validate_slug(self, value):
        clash = Area.objects.filter(slug=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"Another area of this tenant already has slug '{value}'.")
        return value

    def validate(self, attrs):
        if self.instance is None and not attrs.get("slug"):
            slug = slugify(attrs.get("name", ""))[:80]
            if not slug:
                raise serializers.ValidationError({"slug": ["Give a slug, or a name to derive it from."]})
            try:
                attrs["slug"] = self.validate_slug(slug)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"slug": exc.detail}) from exc
        return attrs


class AreaFilterSerializer(serializers.Serializer):
    """Query parameters of the area list and GeoJSON."""

    active_at = AwareDateTimeField(
        required=False, help_text="Only areas active at this moment (ISO 8601 with zone)."
    )
    kind = serializers.ChoiceField(choices=AreaKind.choices, required=False)
    tag = serializers.CharField(required=False, max_length=40)
    bbox = serializers.CharField(required=False, help_text="minlon,minlat,maxlon,maxlat (WGS84)")
    event = serializers.SlugField(required=False, help_text="Slug of an event: its zones.")
    parent = serializers.SlugField(required=False, help_text="Slug of a parent area: its sub-areas.")
    q = serializers.CharField(required=False, max_length=100, help_text="Text in name or slug.")
    archived = serializers.ChoiceField(choices=["false", "true", "all"], default="false", required=False)

    def validate_bbox(self, value):
        parts = value.split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(parts) != 4 or len(numbers) != 4:
            raise serializers.ValidationError(
                f"bbox must be four numbers minlon,minlat,maxlon,maxlat; got {value!r}."
            )
        min_lon, min_lat, max_lon, max_lat = numbers
        if not (
            -180 <= min_lon <= 180
            and -180 <= max_lon <= 180
            and -90 <= min_lat <= 90
            and -90 <= max_lat <= 90
        ):
            raise serializers.ValidationError(
                "bbox is out of range: longitudes within ±180, latitudes within ±90."
            )
        if min_lon > max_lon or min_lat > max_lat:
            raise serializers.ValidationError(
                "bbox minimum exceeds maximum (order is minlon,minlat,maxlon,maxlat)."
            )
        return (min_lon, min_lat, max_lon, max_lat)


class EventSerializer(serializers.ModelSerializer):
    """An event and its temporary zones. ``organisers`` are usernames of members with the organiser role."""

    start = AwareDateTimeField()
    end = AwareDateTimeField()
    organisers = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Organiser users who may see and edit this event.",
    )
    zones = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "start",
            "end",
            "expected_attendance",
            "organiser",
            "organisers",
            "zones",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False}}

    def to_representation(self, event):
        data = super().to_representation(event)
        page = self.context.get("organisers")
        if page is not None and event.pk in page:
            data["organisers"] = page[event.pk]
        else:  # a single event, possibly just changed: read its grants now
            data["organisers"] = event_organisers(events=[event])[event.pk]
        return data

    def validate_slug(self, value):
        clash = Event.objects.filter(slug=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"Another event of this tenant already has slug '{value}'.")
        return value

    def validate(self, attrs):
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError(
                {"end": [f"end ({end.isoformat()}) must be after start ({start.isoformat()})."]}
            )
        if self.instance is None and not attrs.get("slug"):
            slug = slugify(attrs.get("name", ""))[:80]
            if not slug:
                raise serializers.ValidationError({"slug": ["Give a slug, or a name to derive it from."]})
            try:
                attrs["slug"] = self.validate_slug(slug)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"slug": exc.detail}) from exc
        return attrs


class AreaForecastSerializer(serializers.ModelSerializer):
    """A forecast: ``points`` are hourly ``{time, p10, p50, p90, level, level_p90}``; ``accuracy`` is the
    model's holdout backtest per horizon (MAE model, MAE seasonal naive, ratio, n; ratio < 1 beats it);
    ``record`` is how this area's forecasts 3 h ahead did on that holdout (``within``: 8 hours in 10 were
    at most that far off, in people or in flow); ``trust`` says whether the forecast can be used (``ok``),
    and if not why (``too_little_data``, ``no_recent_counts``, ``stuck_counts``): then clients show the
    reason instead of the points, and no forecast alert comes from it."""

    area = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    points = serializers.ListField(child=serializers.DictField(), read_only=True)
    accuracy = serializers.DictField(read_only=True)
    record = serializers.DictField(read_only=True)
    trust = serializers.DictField(read_only=True)

    class Meta:
        model = AreaForecast
        fields = [
            "area",
            "issued_at",
            "method",
            "quantity",
            "model_version",
            "trained_at",
            "accuracy",
            "record",
            "trust",
            "note",
            "points",
        ]
        read_only_fields = fields


class CrowdLevelSettingsSerializer(serializers.Serializer):
    """The tenant's own bands (null: defaults) and, read-only, the bands in force and the public labels."""

    density_bands = BandsField(unit="persons/m²")
    capacity_bands = BandsField(unit="% of capacity")
    flow_bands = BandsField(unit="persons/min/m")
    effective_density_bands = serializers.DictField(child=serializers.FloatField(), read_only=True)
    effective_capacity_bands = serializers.DictField(child=serializers.FloatField(), read_only=True)
    effective_flow_bands = serializers.DictField(child=serializers.FloatField(), read_only=True)
    default_density_bands = serializers.DictField(child=serializers.FloatField(), read_only=True)
    default_capacity_bands = serializers.DictField(child=serializers.FloatField(), read_only=True)
    default_flow_bands = serializers.DictField(
        child=serializers.FloatField(),
        read_only=True,
        help_text="Fruin's walkway levels of service (C, D, E, F) in persons per minute per metre.",
    )
    levels = serializers.ListField(child=serializers.CharField(), read_only=True)
    public_labels = serializers.DictField(read_only=True)

    @staticmethod
    def describe(settings) -> dict:
        own_density = settings.density_bands if settings else None
        own_capacity = settings.capacity_bands if settings else None
        own_flow = settings.flow_bands if settings else None
        return {
            "density_bands": own_density,
            "capacity_bands": own_capacity,
            "flow_bands": own_flow,
            "effective_density_bands": own_density or DEFAULT_DENSITY_BANDS,
            "effective_capacity_bands": own_capacity or DEFAULT_CAPACITY_BANDS,
            "effective_flow_bands": own_flow or DEFAULT_FLOW_BANDS,
            "default_density_bands": DEFAULT_DENSITY_BANDS,
            "default_capacity_bands": DEFAULT_CAPACITY_BANDS,
            "default_flow_bands": DEFAULT_FLOW_BANDS,
            "levels": list(LEVELS),
            "public_labels": PUBLIC_LABELS,
        }


__all__ = [
    "BAND_KEYS",
    "AreaFilterSerializer",
    "AreaSerializer",
    "CrowdLevelSettingsSerializer",
    "EventSerializer",
]
