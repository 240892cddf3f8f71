"""Views of the areas API: areas and event zones (with GeoJSON export and import), events, crowd levels."""

import hashlib
import logging
import time

import shapely.errors
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import JSONParser
from core.problems import problem_response
from tenants.api.base import TenantModelViewSet, TenantViewMixin
from tenants.choices import Capability

from .. import selectors, services
from ..buildings import read_buildings
from ..forecasts import area_forecast, forecast_properties
from ..geometry import GeometryError, reproject
from ..models import Area, BuildingLayer, Event
from ..status import MAP_STATUS_KEYS, area_statuses
from .serializers import (
    AreaFilterSerializer,
    AreaForecastSerializer,
    AreaSerializer,
    CrowdLevelSettingsSerializer,
    EventSerializer,
)

logger = logging.getLogger(__name__)

MAX_IMPORT_FEATURES = 5000
BAND_FIELDS = ("density_bands", "capacity_bands", "flow_bands")
FEATURE_ONLY_PROPERTIES = {
    "id",
    "surface_m2",
    "effective_surface_m2",
    "bbox",
    "centroid",
    "created_at",
    "updated_at",
    "status",
    "level",
    "forecast_level",
    "forecast_level_3h",
    "forecast",
}


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class GeoJSONParser(JSONParser):
    media_type = "application/geo+json"


class AreaViewSet(TenantModelViewSet):
    """Areas and event zones of the tenant. Organisers see and edit only the zones of their own events.

    DELETE removes an area without history; an area that anything refers to (sub-areas, data, the
    action log) is archived instead and stays readable with ``?archived=true``.
    """

    model = Area
    serializer_class = AreaSerializer
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = (Capability.MANAGE, Capability.EVENTS)
    action_capabilities = {"import_features": Capability.MANAGE}
    parser_classes = [JSONParser, GeoJSONParser]

    def get_tenant_queryset(self):
        filters = {}
        if self.action in ("list", "geojson", "status"):
            params = AreaFilterSerializer(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            filters = params.validated_data
        else:
            filters = {"archived": "all"}
        return selectors.area_list(membership=self.membership, **filters)

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if not self.is_schema_request() and not self.has_capability(Capability.MANAGE):
            # Organisers place zones only in events they may change.
            editable = selectors.event_list(membership=self.membership, permission=selectors.ORGANISER_CHANGE)
            fields = serializer.child.fields if hasattr(serializer, "child") else serializer.fields
            fields["event"].queryset_filter = lambda field: editable
        return serializer

    def _check_organiser_may_edit(self, area: Area | None, data: dict) -> None:
        if self.has_capability(Capability.MANAGE):
            return
        target_event = data.get("event", area.event if area else None)
        if target_event is None:
            raise PermissionDenied("Event organisers work only on temporary zones of their own events.")
        if (
            area is not None
            and area.event_id
            and not self.request.user.has_perm(selectors.ORGANISER_CHANGE, area.event)
        ):
            raise PermissionDenied("You may view this zone's event but not change it.")

    @extend_schema(parameters=[AreaFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        self._check_organiser_may_edit(None, serializer.validated_data)
        serializer.instance = services.area_create(
            tenant=self.tenant, actor=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        self._check_organiser_may_edit(serializer.instance, serializer.validated_data)
        serializer.instance = services.area_update(
            area=serializer.instance, actor=self.request.user, data=serializer.validated_data
        )

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted"),
            200: OpenApiResponse(
                AreaSerializer, description="Archived instead, because the area has history"
            ),
        }
    )
    def destroy(self, request, *args, **kwargs):
        area = self.get_object()
        self._check_organiser_may_edit(area, {})
        outcome = services.area_delete(area=area, actor=request.user)
        if outcome == "archived":
            return Response(AreaSerializer(area).data, status=status.HTTP_200_OK)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[AreaFilterSerializer],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="RFC 7946 FeatureCollection")},
    )
    @action(
        detail=False, methods=["get"], renderer_classes=[GeoJSONRenderer, JSONRenderer], url_path="geojson"
    )
    def geojson(self, request, *args, **kwargs):
        """The areas as an RFC 7946 FeatureCollection (same filters as the list): WGS 84 lon/lat, polygons
        counter-clockwise, no ``crs``. Each feature carries the crowd picture now (``status``, ``level``) and
        the latest stored forecast: ``forecast_level`` for the next hour, ``forecast_level_3h`` the highest
        level expected within three hours, and ``forecast`` with the numbers (null without a forecast; for a
        forecast that is not trustworthy the levels are null and ``forecast`` holds only ``issued_at`` and
        ``trust``, which says why)."""
        areas = list(self.get_queryset())
        return Response(
            _shared_picture(request, areas, "geojson", lambda: self._feature_collection(areas)),
            content_type="application/geo+json",
        )

    def _feature_collection(self, areas: "list[Area]") -> dict:
        now = timezone.now()
        statuses = area_statuses(tenant=self.tenant, areas=areas, now=now)
        forecasts = selectors.latest_forecasts(areas=areas)
        features = []
        for area in areas:
            data = AreaSerializer(area, context=self.get_serializer_context()).data
            geometry = data.pop("geometry")
            properties = dict(data)
            summary = statuses[area.pk].as_dict()  # the crowd picture now, for maps coloured by level
            properties["status"] = {key: summary[key] for key in MAP_STATUS_KEYS}
            # Flat copies for GIS tools that style by a top-level property (QGIS, Leaflet choropleths).
            properties["level"] = summary["level"]
            properties.update(forecast_properties(forecasts.get(area.pk), now))
            features.append(
                {"type": "Feature", "id": area.slug, "geometry": geometry, "properties": properties}
            )
        body = {"type": "FeatureCollection", "features": features}
        if areas:
            body["bbox"] = [
                min(a.min_lon for a in areas),
                min(a.min_lat for a in areas),
                max(a.max_lon for a in areas),
                max(a.max_lat for a in areas),
            ]
        return body

    @extend_schema(responses={200: AreaForecastSerializer})
    @action(detail=True, methods=["get"])
    def forecast(self, request, *args, **kwargs):
        """Expected people for the next 48 hours: hourly p10/p50/p90, the levels they imply, and the model's
        version, training time and backtest accuracy against the weekly seasonal-naive baseline."""
        area = self.get_object()
        forecast = area_forecast(tenant=self.tenant, area=area)
        return Response(AreaForecastSerializer(forecast).data)

    @extend_schema(parameters=[AreaFilterSerializer], responses={200: OpenApiResponse(OpenApiTypes.OBJECT)})
    @action(detail=False, methods=["get"])
    def status(self, request, *args, **kwargs):
        """The crowd picture now for every area: people, density, level, trend, freshness and sources."""
        areas = list(self.get_queryset())

        def compute() -> dict:
            statuses = area_statuses(tenant=self.tenant, areas=areas)
            return {"time": timezone.now(), "areas": [statuses[a.pk].as_dict() for a in areas]}

        return Response(_shared_picture(request, areas, "status", compute))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("dry_run", bool, description="Validate and report, change nothing.")],
        responses={
            200: inline_serializer(
                "AreaImportResult",
                {
                    "created": serializers.ListField(child=serializers.CharField()),
                    "updated": serializers.ListField(child=serializers.CharField()),
                    "ignored_properties": serializers.DictField(),
                    "dry_run": serializers.BooleanField(),
                },
            )
        },
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_features(self, request, *args, **kwargs):
        """Create or update areas by slug from a GeoJSON FeatureCollection; all or nothing.

        A legacy ``crs`` member (e.g. EPSG:28992 from a Dutch GIS) is reprojected to WGS84. Properties that
        are not area fields are reported back as ``ignored_properties``.
        """
        dry_run = str(request.query_params.get("dry_run", "")).lower() in ("1", "true", "yes")
        features, problems = _parse_feature_collection(request.data)
        if problems:
            return _import_problem(problems, len(features))

        def validate(properties, instance):
            serializer = AreaSerializer(instance=instance, data=properties, partial=instance is not None)
            serializer.is_valid(raise_exception=True)
            return dict(serializer.validated_data)

        result = services.areas_import(
            tenant=self.tenant, actor=request.user, features=features, validate=validate, dry_run=dry_run
        )
        if result.errors:
            return _import_problem(result.errors, len(features))
        return Response(
            {
                "created": result.created,
                "updated": result.updated,
                "ignored_properties": result.ignored_properties,
                "dry_run": result.dry_run,
            }
        )


def _shared_picture(request, areas: list[Area], name: str, compute) -> dict:
    """The crowd picture of exactly these areas, shared for ``CROWD_PICTURE_CACHE_SECONDS`` by every caller.

    A control room has dozens of screens polling the same picture; computing it once per few seconds
    instead of once per screen keeps the status endpoint fast under load (bench/loadtest.py). The key holds
    the visible areas and their last change (so an organiser's subset or an edited area is never served
    another's picture), the query string and the language. The body's ``time`` says when it was computed.

    When the picture is due, one request recomputes it (a short lock) while the others keep getting the
    previous one, at most three periods old: no stampede of identical computations when it expires. A cache
    that is down is skipped: the picture is then computed per request.
    """
    seconds = settings.CROWD_PICTURE_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    fingerprint = hashlib.sha256(
        "|".join(
            [name, translation.get_language() or "", request.META.get("QUERY_STRING", "")]
            + [f"{a.pk}:{a.updated_at.isoformat()}" for a in areas]
        ).encode()
    ).hexdigest()
    key = f"crowd-picture:{request.tenant.pk}:{fingerprint}"
    try:
        cached = cache.get(key)
        if cached is not None:
            computed_at, body = cached
            fresh = time.time() - computed_at < seconds
            if fresh or not cache.add(f"{key}:lock", 1, seconds):
                return body
    except Exception:  # a cache outage must not take the crowd picture down
        logger.warning("Crowd picture cache unavailable, computing per request")
        return compute()
    body = compute()
    try:
        cache.set(key, (time.time(), body), 3 * seconds)
        cache.delete(f"{key}:lock")
    except Exception:  # idem
        logger.warning("Crowd picture cache unavailable, computing per request")
    return body


def _import_problem(errors: list[dict], total: int):
    first = errors[0]
    label = f"Feature {first['feature']}" + (f" ('{first['slug']}')" if first.get("slug") else "")
    messages = "; ".join(
        f"{name}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
        for name, msgs in first["errors"].items()
    )
    detail = (
        f"{len(errors)} of {total} feature{'s' if total != 1 else ''} invalid; nothing was imported. "
        f"{label}: {messages}"
    )
    return problem_response(400, detail, code="validation", errors=errors)


def _parse_feature_collection(data) -> tuple[list[dict], list[dict]]:
    """Split a FeatureCollection into per-feature property dicts (geometry included) and structural errors."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        return [], [
            {"feature": None, "slug": None, "errors": {"type": ["Body must be a GeoJSON FeatureCollection."]}}
        ]
    raw_features = data.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        return [], [
            {
                "feature": None,
                "slug": None,
                "errors": {"features": ["The FeatureCollection has no features."]},
            }
        ]
    if len(raw_features) > MAX_IMPORT_FEATURES:
        return [], [
            {
                "feature": None,
                "slug": None,
                "errors": {
                    "features": [
                        f"At most {MAX_IMPORT_FEATURES} features per import; got {len(raw_features)}."
                    ]
                },
            }
        ]
    crs_name = None
    crs = data.get("crs")
    if isinstance(crs, dict):
        crs_name = (crs.get("properties") or {}).get("name")
    features, problems, seen = [], [], {}
    writable = (
        set(AreaSerializer.Meta.fields) - set(AreaSerializer.Meta.read_only_fields) - {"bbox", "centroid"}
    )
    for index, feature in enumerate(raw_features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append({"feature": index, "slug": None, "errors": {"type": ["Not a GeoJSON Feature."]}})
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            problems.append(
                {"feature": index, "slug": None, "errors": {"properties": ["Must be an object."]}}
            )
            continue
        slug = properties.get("slug") or (feature.get("id") if isinstance(feature.get("id"), str) else None)
        slug = slug or slugify(str(properties.get("name", "")))[:80]
        if not slug:
            problems.append(
                {
                    "feature": index,
                    "slug": None,
                    "errors": {"slug": ["Give each feature a slug (or id, or name)."]},
                }
            )
            continue
        if slug in seen:
            problems.append(
                {
                    "feature": index,
                    "slug": slug,
                    "errors": {"slug": [f"Slug also used by feature {seen[slug]}."]},
                }
            )
            continue
        seen[slug] = index
        geometry = feature.get("geometry")
        if crs_name and isinstance(geometry, dict):
            try:
                geometry = reproject(geometry, crs_name)
            except GeometryError as exc:
                problems.append({"feature": index, "slug": slug, "errors": {"crs": exc.messages}})
                continue
            except (TypeError, ValueError, AttributeError, shapely.errors.ShapelyError):
                pass  # malformed coordinates: the geometry validation below names the problem
        values = {k: v for k, v in properties.items() if k in writable}
        values["slug"] = slug
        values["geometry"] = geometry
        ignored = sorted(k for k in properties if k not in writable and k not in FEATURE_ONLY_PROPERTIES)
        features.append({"index": index, "slug": slug, "properties": values, "ignored": ignored})
    return features, problems


class EventViewSet(TenantModelViewSet):
    """Events and their zones. Admins create events and assign organisers; organisers edit their own."""

    model = Event
    serializer_class = EventSerializer
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = Capability.MANAGE
    action_capabilities = {
        "update": (Capability.MANAGE, Capability.EVENTS),
        "partial_update": (Capability.MANAGE, Capability.EVENTS),
    }

    def get_tenant_queryset(self):
        return selectors.event_list(membership=self.membership).prefetch_related("zones")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "_page_events", None) is not None:
            context["organisers"] = selectors.event_organisers(events=self._page_events)
        return context

    def paginate_queryset(self, queryset):
        """Look up the organisers of the whole page in one query (the list's serializer context)."""
        page = super().paginate_queryset(queryset)
        self._page_events = list(page) if page is not None else list(queryset)
        return page

    def perform_create(self, serializer):
        serializer.instance = services.event_create(
            tenant=self.tenant, actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer):
        event = serializer.instance
        if not self.has_capability(Capability.MANAGE):
            if not self.request.user.has_perm(selectors.ORGANISER_CHANGE, event):
                raise PermissionDenied("You may view this event but not change it.")
            if "organisers" in serializer.validated_data:
                raise PermissionDenied("Only admins assign organisers.")
        serializer.instance = services.event_update(
            event=event, actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance):
        services.event_delete(event=instance, actor=self.request.user)

    def destroy(self, request, *args, **kwargs):
        try:
            return super().destroy(request, *args, **kwargs)
        except services.EventHasZonesError as exc:
            return problem_response(409, str(exc), code="conflict")


class CrowdLevelSettingsView(TenantViewMixin, APIView):
    """The tenant's crowd-level bands: every member reads them, admins set or clear them (null = defaults)."""

    read_capability = None
    write_capability = Capability.MANAGE

    @extend_schema(responses=CrowdLevelSettingsSerializer)
    def get(self, request, *args, **kwargs):
        settings = selectors.crowd_level_settings_get(tenant=self.tenant)
        return Response(CrowdLevelSettingsSerializer.describe(settings))

    @extend_schema(request=CrowdLevelSettingsSerializer, responses=CrowdLevelSettingsSerializer)
    def patch(self, request, *args, **kwargs):
        serializer = CrowdLevelSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        bands = {k: v for k, v in serializer.validated_data.items() if k in BAND_FIELDS}
        settings = services.crowd_level_settings_update(tenant=self.tenant, actor=request.user, **bands)
        return Response(CrowdLevelSettingsSerializer.describe(settings))

    @extend_schema(request=CrowdLevelSettingsSerializer, responses=CrowdLevelSettingsSerializer)
    def put(self, request, *args, **kwargs):
        serializer = CrowdLevelSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bands = {name: serializer.validated_data.get(name) for name in BAND_FIELDS}
        settings = services.crowd_level_settings_update(tenant=self.tenant, actor=request.user, **bands)
        return Response(CrowdLevelSettingsSerializer.describe(settings))


class BuildingLayerView(TenantViewMixin, APIView):
    """The tenant's building footprints with heights, drawn as blocks on the 3D map.

    GET (members with the view right, and organisers) returns the stored FeatureCollection (empty when
    none was uploaded). PUT (admins) replaces it, all or nothing, from a FeatureCollection of Polygons or
    MultiPolygons of at most 20,000 buildings; the height in metres comes from the property ``height``,
    ``hoogte``, or the 3D BAG's ``b3_h_dak_max`` / ``h_dak_max`` minus ``b3_h_maaiveld`` / ``h_maaiveld``
    when given. Only footprint, height and id are kept. A ``crs`` member (e.g. EPSG:28992) is reprojected.
    """

    model = BuildingLayer
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = Capability.MANAGE
    parser_classes = [JSONParser, GeoJSONParser]
    renderer_classes = [GeoJSONRenderer, JSONRenderer]

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="RFC 7946 FeatureCollection")}
    )
    def get(self, request, *args, **kwargs):
        layer = selectors.building_layer_get(tenant=self.tenant)
        body = dict(layer.geojson) if layer else {"type": "FeatureCollection", "features": []}
        if layer and layer.bbox:
            body["bbox"] = layer.bbox
        body["uploaded_at"] = layer.uploaded_at if layer else None  # a foreign member (RFC 7946 6.1)
        return Response(body, content_type="application/geo+json")

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: inline_serializer(
                "BuildingLayerResult",
                {
                    "feature_count": serializers.IntegerField(),
                    "height_keys": serializers.DictField(
                        child=serializers.IntegerField(),
                        help_text="Buildings per property the height came from.",
                    ),
                    "bbox": serializers.ListField(child=serializers.FloatField(), allow_null=True),
                    "uploaded_at": serializers.DateTimeField(),
                },
            )
        },
    )
    def put(self, request, *args, **kwargs):
        read = read_buildings(request.data)
        if read.rejected:
            return _buildings_problem(read)
        layer = services.building_layer_replace(tenant=self.tenant, actor=request.user, read=read)
        return Response(
            {
                "feature_count": layer.feature_count,
                "height_keys": read.height_keys,
                "bbox": layer.bbox,
                "uploaded_at": layer.uploaded_at,
            },
            content_type="application/json",
        )


def _buildings_problem(read):
    first = read.errors[0]
    label = "The upload" if first["feature"] is None else f"Feature {first['feature']}"
    if first.get("id") is not None:
        label += f" ('{first['id']}')"
    messages = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in first["errors"].items())
    if first["feature"] is None:
        detail = f"{label}: {messages}"
    else:
        detail = (
            f"{read.rejected} of {read.total} feature{'s' if read.total != 1 else ''} invalid; nothing was "
            f"stored. {label}: {messages}"
        )
    return problem_response(400, detail, code="validation", errors=read.errors)
