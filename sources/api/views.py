"""Views of the sources API: connectors, sources (CRUD, test, health, push tokens), series, observations."""

import dataclasses
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.export import csv_download
from core.problems import BACKEND_UNAVAILABLE, problem_response
from tenants.api.base import TenantGenericViewSet, TenantModelViewSet, TenantViewMixin
from tenants.choices import Capability, role_has
from tenants.models import Membership
from tenants.services import api_token_issue

from .. import selectors, services
from ..connectors import connector_kinds
from ..connectors.base import ConnectorError
from ..models import Series, Source
from ..push import (
    PushFormatError,
    TooManyRowsError,
    parse_csv,
    parse_json,
    push_ingest,
    push_refusal,
)
from ..selectors import ObservationQuery, TooManyPointsError, observation_points
from .filters import SeriesFilter
from .serializers import (
    ObservationQuerySerializer,
    PushResultSerializer,
    PushTokenRequestSerializer,
    SeriesGeoJSONQuerySerializer,
    SeriesSerializer,
    SourceSerializer,
    SourceTestResultSerializer,
    SourceTestSerializer,
)

User = get_user_model()
logger = logging.getLogger(__name__)
PREVIEW_READINGS = 50


class PushRateThrottle(ScopedRateThrottle):
    """The push throttle fails open: while Redis (its counters) is unreachable, pushes are stored anyway.

    Observations that a camera pushes once are lost when refused, and many vendor clients do not retry;
    the throttle only guards fairness between authenticated machine accounts, and the database still
    bounds every request (PUSH_MAX_ROWS). Every other throttle fails closed with a retryable 503.
    """

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except BACKEND_UNAVAILABLE as exc:
            logger.warning("Push throttle skipped, cache unavailable: %s: %s", type(exc).__name__, exc)
            return True


# A push body: a list of rows, or {"observations": [rows]}; rows are judged one by one, so any JSON goes.
PUSH_ROW = {"type": "object", "properties": {"series": {"type": "string"}, "time": {"type": "string"}}}
PUSH_JSON_SCHEMA = {
    "anyOf": [
        {"type": "array", "items": PUSH_ROW},
        {"type": "object", "properties": {"observations": {"type": "array", "items": PUSH_ROW}}},
    ]
}


def _is_push_only(kind: str) -> bool:
    connector = connector_kinds().get(kind)
    return bool(connector and connector.push_only)


def _push_only_preview(kind: str) -> dict:
    """A test of a push-only source: there is nothing to fetch (the vendor pushes), so say so."""
    detail = f"'{kind}' sources are push-only: nothing to fetch; the sender pushes to .../observations/."
    return {"ok": False, "error": detail, "readings": [], "total": 0, "warnings": []}


class RawJSONParser(BaseParser):
    """Hands the body over unparsed: the push endpoint reports JSON problems per row itself."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"format": "json", "body": stream.read() if stream else b""}


class RawCSVParser(RawJSONParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"format": "csv", "body": stream.read() if stream else b""}


class ConnectorListView(APIView):
    """Available connectors with their configuration JSON Schema (for forms that configure a source)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiResponse({"type": "array", "items": {"type": "object"}})})
    def get(self, request):
        return Response(
            [
                {
                    "kind": kind,
                    "label": cls.label,
                    "description": cls.description,
                    "push_only": cls.push_only,
                    "default_poll_interval": cls.default_poll_interval,
                    "config_schema": cls.config_schema,
                    "secret_schema": cls.secret_schema,
                    "stores": cls.stores,
                    "inventory": dataclasses.asdict(cls.inventory) if cls.inventory else None,
                }
                for kind, cls in connector_kinds().items()
            ]
        )


def _preview(result) -> dict:
    readings = [
        {
            "key": r.key,
            "metric": r.metric,
            "unit": r.unit,
            "time": r.time.isoformat(),
            "value": r.value,
            "area": r.area,
            "facility": r.facility,
            "location": list(r.location) if r.location else None,
        }
        for r in result.readings[:PREVIEW_READINGS]
    ]
    return {
        "ok": True,
        "error": "",
        "readings": readings,
        "total": len(result.readings),
        "warnings": result.warnings,
    }


class SourceViewSet(TenantModelViewSet):
    """Data sources of the tenant; secrets are write-only. Admins configure, viewers read."""

    model = Source
    serializer_class = SourceSerializer
    action_capabilities = {
        "observations": Capability.VIEW,  # GET; POST (push) is checked in the handler
        "health": Capability.VIEW,
    }

    def get_tenant_queryset(self):
        return selectors.source_list(tenant=self.tenant)

    def required_capability(self, request):
        if self.action == "observations" and request.method == "POST":
            return Capability.PUSH
        return super().required_capability(request)

    def get_throttles(self):
        if self.action == "observations" and self.request.method == "POST":
            self.throttle_scope = "push"
            return [PushRateThrottle()]
        return super().get_throttles()

    def perform_create(self, serializer):
        serializer.instance = services.source_create(
            tenant=self.tenant, actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer):
        serializer.instance = services.source_update(
            source=serializer.instance, actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance):
        services.source_delete(source=instance, actor=self.request.user)

    @extend_schema(request=None, responses=SourceTestResultSerializer)
    @action(detail=True, methods=["post"], url_path="test")
    def test(self, request, *args, **kwargs):
        """Fetch and parse now and show what would be stored; stores nothing and changes no health."""
        source = self.get_object()
        if _is_push_only(source.kind):
            return Response(_push_only_preview(source.kind))
        try:
            result = services.fetch_and_parse(source)
        except ConnectorError as exc:
            return Response({"ok": False, "error": exc.message, "readings": [], "total": 0, "warnings": []})
        return Response(_preview(result))

    @extend_schema(
        request=SourceTestSerializer, responses=SourceTestResultSerializer, operation_id="tenants_sources_try"
    )
    @action(detail=False, methods=["post"], url_path="test")
    def test_unsaved(self, request, *args, **kwargs):
        """Try a set-up before saving it ("test connection"); nothing is stored."""
        serializer = SourceTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        probe = Source(tenant=self.tenant, kind=data["kind"], config=data["config"], name="test")
        if _is_push_only(probe.kind):
            return Response(_push_only_preview(probe.kind))
        try:
            with transaction.atomic():
                services._validate_source(probe, data["secrets"])
                probe.secrets_encrypted = services.encrypt_secrets(data["secrets"])
                result = services.fetch_and_parse(probe, areas=data.get("areas"))
        except services.ValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        except ConnectorError as exc:
            return Response({"ok": False, "error": exc.message, "readings": [], "total": 0, "warnings": []})
        return Response(_preview(result))

    @extend_schema(
        responses=inline_serializer(
            "SourceHealth",
            {
                "id": serializers.IntegerField(),
                "slug": serializers.CharField(),
                "name": serializers.CharField(),
                "kind": serializers.CharField(),
                "status": serializers.CharField(),
            },
            many=True,
        )
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def health(self, request, *args, **kwargs):
        """Every source with status, last success, last error, consecutive failures, lag and circuit state."""
        now = timezone.now()
        return Response(
            [
                {
                    "id": s.pk,
                    "slug": s.slug,
                    "name": s.name,
                    "kind": s.kind,
                    **selectors.source_health(s, now=now),
                }
                for s in self.get_queryset()
            ]
        )

    @extend_schema(
        request=PushTokenRequestSerializer,
        responses={201: inline_serializer("PushToken", {"token": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], url_path="push-tokens")
    def push_tokens(self, request, *args, **kwargs):
        """Issue a token that may push to this source only (shown once)."""
        source = self.get_object()
        serializer = PushTokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        membership = (
            Membership.objects.filter(tenant=self.tenant, user__username=data["user"], is_active=True)
            .select_related("user")
            .first()
        )
        if membership is None or not role_has(membership.role, Capability.PUSH):
            raise ValidationError(
                {"user": [f"'{data['user']}' is not an active member with the integration or admin role."]}
            )
        token, raw = api_token_issue(
            user=membership.user,
            tenant=self.tenant,
            name=data.get("name") or f"push to {source.slug}",
            ttl_days=data.get("ttl_days"),
            source_ids=[source.pk],
            may_create_series=data["may_create_series"],
        )
        return Response(
            {
                "token": raw,
                "expires_at": token.expires_at,
                "sources": [source.slug],
                "user": membership.user.username,
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        methods=["POST"],
        request={"application/json": PUSH_JSON_SCHEMA, "text/csv": OpenApiTypes.STR},
        parameters=[OpenApiParameter("atomic", bool, description="All rows or none.")],
        responses={
            200: PushResultSerializer,
            409: OpenApiResponse(description="The source is disabled"),
            413: OpenApiResponse(description="More than 10,000 rows"),
        },
    )
    @extend_schema(methods=["GET"], parameters=[ObservationQuerySerializer], responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get", "post"], parser_classes=[RawJSONParser, RawCSVParser])
    def observations(self, request, *args, **kwargs):
        """GET: this source's observations (see /observations/). POST: push observations (JSON or CSV)."""
        source = self.get_object()
        if request.method == "GET":
            return _observations_response(request, self.tenant, source=source)
        return self._push(request, source)

    def _push(self, request, source: Source):
        refusal = push_refusal(source=source, token=request.auth)
        if refusal:  # before the body is read
            return problem_response(refusal.status, refusal.message, code=refusal.code)
        data = request.data  # parsed first, so an unsupported content type answers 415 before anything else
        body = data.get("body", b"") if isinstance(data, dict) else b""
        parse = parse_csv if (request.content_type or "").startswith("text/csv") else parse_json
        try:
            items, row_errors = parse(body, max_rows=settings.PUSH_MAX_ROWS)
        except TooManyRowsError as exc:
            return problem_response(413, str(exc), code="too_many_rows")
        except PushFormatError as exc:
            return problem_response(400, str(exc), code="parse_error")
        atomic = str(request.query_params.get("atomic", "")).lower() in ("1", "true", "yes")
        try:
            report = push_ingest(
                source=source,
                token=request.auth,
                role=self.membership.role,
                items=items,
                row_errors=row_errors,
                atomic=atomic,
            )
        except services.AtomicRejectedError as exc:
            body = exc.report.as_dict() | {"accepted": 0}
            return problem_response(
                400,
                f"{exc.report.rejected} row(s) rejected and ?atomic=true: nothing was stored.",
                code="rows_rejected",
                errors=body["errors"],
            )
        if report.accepted == 0 and report.duplicate == 0 and report.rejected:
            return problem_response(
                400, f"All {report.rejected} row(s) were rejected; nothing was stored.", code="rows_rejected",
                errors=report.errors,
            )  # fmt: skip
        return Response(report.as_dict())


def _observations_response(request, tenant, *, source: Source | None = None):
    params = ObservationQuerySerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    data = params.validated_data
    end = data.get("end") or timezone.now()
    start = data.get("start") or end - timezone.timedelta(hours=24)
    series = Series.objects.filter(tenant=tenant).select_related("source", "area")
    if source is not None:
        series = series.filter(source=source)
    if data.get("source"):
        series = series.filter(source__slug=data["source"])
    if data.get("series"):
        series = series.filter(pk__in=data["series"])
    if data.get("area"):
        series = series.filter(area__slug=data["area"])
    if data.get("metric"):
        series = series.filter(metric=data["metric"])
    series = list(series.order_by("source__slug", "key")[:500])
    if data.get("series") and len(series) != len(set(data["series"])):
        missing = sorted(set(data["series"]) - {s.pk for s in series})
        raise NotFound(f"No series {', '.join(map(str, missing))} in this tenant.")
    query = ObservationQuery(
        series=series,
        start=start,
        end=end,
        resample=data["resample"],
        agg=data["agg"],
        time_zone=tenant.time_zone,
    )
    try:
        points = observation_points(query)
    except TooManyPointsError as exc:
        return problem_response(400, str(exc), code="too_many_points")
    if data["format"] == "csv":
        return csv_download(
            f"observations-{tenant.slug}.csv",
            ["source", "series", "metric", "unit", "time", "value"],
            (
                [
                    s.source.slug,
                    s.key,
                    s.metric,
                    s.unit,
                    time.isoformat(),
                    value,
                ]  # a feed's key is no formula
                for s in series
                for time, value in points[s.pk]
            ),
        )
    return Response(
        {
            "start": start,
            "end": end,
            "resample": data["resample"],
            "agg": data["agg"] if data["resample"] != "raw" else None,
            "series": [
                {
                    "id": s.pk,
                    "source": s.source.slug,
                    "key": s.key,
                    "name": s.name,
                    "metric": s.metric,
                    "unit": s.unit,
                    "area": s.area.slug if s.area else None,
                    "points": [[time.isoformat(), value] for time, value in points[s.pk]],
                }
                for s in series
            ],
        }
    )


class SeriesViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, TenantGenericViewSet
):
    """Series of the tenant's sources; admins attach a series to an area, rename it or set its unit."""

    model = Series
    serializer_class = SeriesSerializer
    http_method_names = ["get", "patch", "head", "options"]
    filter_backends = [DjangoFilterBackend]
    filterset_class = SeriesFilter

    def get_tenant_queryset(self):
        return selectors.series_list(tenant=self.tenant)


class ObservationsView(TenantViewMixin, APIView):
    """Observations of the tenant's series, raw or resampled (5min to day; mean/sum/min/max), JSON or CSV."""

    read_capability = Capability.VIEW

    @extend_schema(parameters=[ObservationQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request, *args, **kwargs):
        return _observations_response(request, self.tenant)


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class SeriesGeoJSONView(TenantViewMixin, APIView):
    """The tenant's located series as an RFC 7946 FeatureCollection of Points with their latest value.

    For map layers: transport stops, parking garages, weather stations. Series without a position are
    left out (give them one with PATCH .../series/{id}/ {lon, lat}). ``stale`` is true when there is no
    value or the latest is older than 15 minutes.
    """

    model = Series
    read_capability = Capability.VIEW
    renderer_classes = [GeoJSONRenderer, JSONRenderer]

    @extend_schema(
        parameters=[SeriesGeoJSONQuerySerializer],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="RFC 7946 FeatureCollection")},
    )
    def get(self, request, *args, **kwargs):
        params = SeriesGeoJSONQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        now = timezone.now()
        features = [
            {
                "type": "Feature",
                "id": s.pk,
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {
                    "id": s.pk,
                    "key": s.key,
                    "name": s.name,
                    "metric": s.metric,
                    "unit": s.unit,
                    "source": s.source.slug,
                    "facility": s.facility,
                    "latest_value": s.latest_value,
                    "latest_time": s.latest_time,
                    "stale": selectors.series_is_stale(s, now=now),
                },
            }
            for s in selectors.series_located(tenant=self.tenant, metrics=params.validated_data.get("metric"))
        ]
        body = {"type": "FeatureCollection", "features": features}
        if features:
            lons = [f["geometry"]["coordinates"][0] for f in features]
            lats = [f["geometry"]["coordinates"][1] for f in features]
            body["bbox"] = [min(lons), min(lats), max(lons), max(lats)]
        return Response(body, content_type="application/geo+json")
