"""Serializers of the sources API."""

from django.conf import settings
from rest_framework import serializers

from core.fields import AwareDateTimeField, ScopedSlugRelatedField

from ..choices import Metric
from ..connectors import connector_kinds
from ..models import Series, Source
from ..secrets import decrypt_secrets
from ..selectors import AGGREGATES, source_health


class AreaSlugsField(serializers.ListField):
    """Slugs of the tenant's areas this source feeds (looked up inside the tenant scope)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.SlugField(), required=False, **kwargs)

    def to_internal_value(self, data):
        slugs = super().to_internal_value(data)
        area_model = Source._meta.get_field("areas").related_model
        areas = {a.slug: a for a in area_model.objects.filter(slug__in=slugs)}
        unknown = [s for s in slugs if s not in areas]
        if unknown:
            raise serializers.ValidationError(f"Unknown area(s): {', '.join(unknown)}.")
        return [areas[s] for s in slugs]

    def to_representation(self, value):
        return sorted(a.slug for a in value.all())


class SourceSerializer(serializers.ModelSerializer):
    """A data source. ``secrets`` is write-only: reads show which secret names are set, never values."""

    kind = serializers.CharField(help_text="Connector kind; see GET /api/v1/connectors/.")
    secrets = serializers.DictField(
        write_only=True, required=False, help_text="API keys or passwords; stored encrypted, never returned."
    )
    secrets_set = serializers.SerializerMethodField()
    areas = AreaSlugsField()
    health = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "config",
            "secrets",
            "secrets_set",
            "poll_interval",
            "enabled",
            "areas",
            "owner",
            "purpose",
            "health",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"poll_interval": {"required": False}}

    def get_secrets_set(self, source) -> list[str]:
        try:
            return sorted(decrypt_secrets(source.secrets_encrypted))
        except ValueError:
            return ["<undecryptable: check SOURCE_SECRET_KEYS>"]

    def get_health(self, source) -> dict:
        return source_health(source)

    def validate_slug(self, value):
        clash = Source.objects.filter(slug=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"Another source of this tenant already has slug '{value}'.")
        return value

    def validate_kind(self, value):
        if value not in connector_kinds():
            raise serializers.ValidationError(
                f"Unknown connector '{value}'; one of: {', '.join(connector_kinds())}."
            )
        if self.instance is not None and value != self.instance.kind:
            raise serializers.ValidationError("The connector of a source cannot change; create a new source.")
        return value


class SourceTestSerializer(serializers.Serializer):
    """An unsaved source set-up to try ("test connection" before saving)."""

    kind = serializers.CharField(help_text="Connector kind; see GET /api/v1/connectors/.")
    config = serializers.DictField(required=False, default=dict)
    secrets = serializers.DictField(required=False, default=dict)
    areas = AreaSlugsField()

    def validate_kind(self, value):
        if value not in connector_kinds():
            raise serializers.ValidationError(
                f"Unknown connector '{value}'; one of: {', '.join(connector_kinds())}."
            )
        return value


class SourceTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    readings = serializers.ListField(child=serializers.DictField())
    total = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())


class SeriesSerializer(serializers.ModelSerializer):
    """A measured quantity of a source; admins may attach it to an area, rename it or set its unit."""

    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    area = ScopedSlugRelatedField(
        Series._meta.get_field("area").related_model, allow_null=True, required=False
    )

    class Meta:
        model = Series
        fields = [
            "id",
            "source",
            "key",
            "name",
            "metric",
            "unit",
            "area",
            "facility",
            "lon",
            "lat",
            "line_width_m",
            "latest_time",
            "latest_value",
        ]
        read_only_fields = ["id", "source", "key", "metric", "facility", "latest_time", "latest_value"]
        extra_kwargs = {
            "line_width_m": {
                "min_value": 0.1,
                "max_value": 1000,
                "help_text": "people_passing series: counting-line width in metres (effective walkway).",
            },
            "lon": {"min_value": -180, "max_value": 180, "help_text": "Longitude (WGS84); null with lat."},
            "lat": {"min_value": -90, "max_value": 90, "help_text": "Latitude (WGS84); null with lon."},
        }

    def validate(self, attrs):
        """lon and lat are set (or cleared) together, and must not be swapped for the service region."""
        lon = attrs.get("lon", self.instance.lon if self.instance else None)
        lat = attrs.get("lat", self.instance.lat if self.instance else None)
        if (lon is None) != (lat is None):
            missing = "lat" if lat is None else "lon"
            raise serializers.ValidationError({missing: ["Give lon and lat together (or clear both)."]})
        if lon is not None and not _in_home_region(lon, lat) and _in_home_region(lat, lon):
            message = f"lon {lon} and lat {lat} look swapped: this point lies outside the service region."
            raise serializers.ValidationError({"lon": [message]})
        return attrs


def _in_home_region(lon: float, lat: float) -> bool:
    if not settings.HOME_REGION_BBOX:
        return True
    min_lon, min_lat, max_lon, max_lat = settings.HOME_REGION_BBOX
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


class ObservationQuerySerializer(serializers.Serializer):
    """Query parameters of observation reads."""

    series = serializers.CharField(required=False, help_text="Series ids, comma-separated.")
    source = serializers.SlugField(required=False, help_text="Source slug: all its series.")
    area = serializers.SlugField(required=False, help_text="Area slug: the series attached to it.")
    metric = serializers.ChoiceField(choices=Metric.choices, required=False)
    start = AwareDateTimeField(required=False, help_text="Inclusive; default 24 hours before end.")
    end = AwareDateTimeField(required=False, help_text="Exclusive; default now.")
    resample = serializers.ChoiceField(choices=["raw", "5min", "15min", "hour", "day"], default="raw")
    agg = serializers.ChoiceField(choices=list(AGGREGATES), default="mean")
    format = serializers.ChoiceField(choices=["json", "csv"], default="json")

    def validate_series(self, value):
        try:
            return [int(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise serializers.ValidationError("series must be comma-separated ids, e.g. 3,7.") from None

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["end must be after start."]})
        return attrs


class SeriesGeoJSONQuerySerializer(serializers.Serializer):
    """Query parameters of the located series map layer."""

    metric = serializers.CharField(
        required=False, help_text="Metrics, comma-separated, e.g. parking_vacant,parking_capacity."
    )

    def validate_metric(self, value):
        metrics = [m.strip() for m in value.split(",") if m.strip()]
        unknown = [m for m in metrics if m not in Metric.values]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown metric(s): {', '.join(unknown)}; one of: {', '.join(Metric.values)}."
            )
        return metrics


class PushTokenRequestSerializer(serializers.Serializer):
    """Issue a token for a member (usually an integration account) that may push to this source only."""

    user = serializers.CharField(help_text="Username of an active member with the integration or admin role.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    may_create_series = serializers.BooleanField(default=False)
    ttl_days = serializers.IntegerField(required=False, min_value=1, max_value=730)


class PushResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    updated = serializers.IntegerField(
        help_text="Forecast values revised (forecasts are replaced, not kept)."
    )
    errors = serializers.ListField(child=serializers.DictField())
    conflicts = serializers.ListField(child=serializers.DictField())
    created_series = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())
