"""Views of the sharing API: agreements (offer, accept, decline, end) and the shared crowd picture.

The shared views answer only what accepted agreements that are valid now share with the requesting
tenant, and write each read to the audit trail of both tenants. Nothing here is cached: an ended agreement
stops sharing with the next request.
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from areas.api.views import GeoJSONRenderer
from tenants.api.base import TenantGenericViewSet, TenantViewMixin
from tenants.choices import Capability

from .. import selectors, services
from ..choices import ShareKind
from ..models import SharingAgreement
from .serializers import (
    AgreementOfferSerializer,
    AgreementSerializer,
    AgreementStepSerializer,
    SharedActionSerializer,
    SharedAlertSerializer,
    SharedForecastSerializer,
    SharedSeriesSerializer,
)

STATUSES = ("offered", "scheduled", "active", "expired", "declined", "ended")


class AgreementConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "agreement_state"
    default_detail = "This step is not possible in the agreement's current state."


class AgreementFilterSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=["provider", "recipient"], required=False)
    status = serializers.ChoiceField(choices=STATUSES, required=False)


@extend_schema(
    parameters=[OpenApiParameter("tenant", str, OpenApiParameter.PATH, description="Slug of the tenant.")]
)
class AgreementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    """Sharing agreements this tenant offered (``side=provider``) or received (``side=recipient``).

    An admin offers (POST), the receiving tenant's admin accepts or declines, and either side ends it at
    any time. Every step is in the audit trail of both tenants. Another pair's agreement answers 404.
    """

    model = SharingAgreement
    serializer_class = AgreementSerializer
    read_capability = Capability.VIEW
    write_capability = Capability.MANAGE
    audit_object_type = "sharing_agreement"

    def get_tenant_queryset(self):
        params = AgreementFilterSerializer(data=self.request.query_params if self.action == "list" else {})
        params.is_valid(raise_exception=True)
        return selectors.agreement_list(tenant=self.tenant, **params.validated_data)

    @extend_schema(parameters=[AgreementFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=AgreementOfferSerializer, responses={201: AgreementSerializer})
    def create(self, request, *args, **kwargs):
        """Offer an agreement to another tenant; it shares nothing until that tenant's admin accepts it."""
        offer = AgreementOfferSerializer(data=request.data)
        offer.is_valid(raise_exception=True)
        data = offer.validated_data
        agreement = services.agreement_offer(
            provider=self.tenant,
            actor=request.user,
            recipient_slug=data["recipient"],
            area_slugs=data["areas"],
            area_tag=data["area_tag"],
            kinds=data["kinds"],
            valid_from=data.get("valid_from"),
            valid_to=data.get("valid_to"),
            purpose=data["purpose"],
            token_access=data["token_access"],
        )
        body = self.get_serializer(selectors.agreement_list(tenant=self.tenant).get(pk=agreement.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)

    def _step(self, request, step):
        agreement = self.get_object()
        params = AgreementStepSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        extra = {} if step is services.agreement_accept else {"reason": params.validated_data["reason"]}
        try:
            step(agreement=agreement, tenant=self.tenant, actor=request.user, **extra)
        except services.AgreementStateError as exc:
            raise AgreementConflict(str(exc)) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=agreement.pk)).data)

    @extend_schema(
        request=None,
        responses={
            200: AgreementSerializer,
            409: OpenApiResponse(
                description="Not possible in the agreement's current state (expired, ended, ...)"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, *args, **kwargs):
        """Accept an open offer (the receiving tenant's admin). 409 when it expired, was ended or declined."""
        return self._step(request, services.agreement_accept)

    @extend_schema(
        request=AgreementStepSerializer,
        responses={
            200: AgreementSerializer,
            409: OpenApiResponse(
                description="Not possible in the agreement's current state (expired, ended, ...)"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, *args, **kwargs):
        """Decline an open offer (the receiving tenant's admin), optionally with a ``reason``."""
        return self._step(request, services.agreement_decline)

    @extend_schema(
        request=AgreementStepSerializer,
        responses={
            200: AgreementSerializer,
            409: OpenApiResponse(
                description="Not possible in the agreement's current state (expired, ended, ...)"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def end(self, request, *args, **kwargs):
        """End an offer or an agreement (either side's admin), at once: nothing is shared from now on."""
        return self._step(request, services.agreement_end)


class SharedFilterSerializer(serializers.Serializer):
    agreement = serializers.IntegerField(required=False, min_value=1, help_text="Only this agreement.")


class SharedView(TenantViewMixin, APIView):
    """Base of the shared views: the areas that active agreements share with the requesting tenant, for
    members with the 'view' right; API tokens only where the agreement allows them. Each read is audited
    on both sides."""

    kind: str | None = None
    read_capability = Capability.VIEW
    audit_object_type = "shared"

    def shared(self, request) -> list[selectors.SharedAreas]:
        params = SharedFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        agreements = selectors.agreements_active(
            recipient=self.tenant,
            kind=self.kind,
            token=request.auth,
            agreement_id=params.validated_data.get("agreement"),
        )
        shared = selectors.shared_areas(agreements)
        services.shared_read_record(
            shared=shared, actor=request.user, reader=self.tenant, kind=self.kind or "areas"
        )
        return shared


class SharedAreasView(SharedView):
    renderer_classes = [GeoJSONRenderer, JSONRenderer]

    @extend_schema(
        parameters=[SharedFilterSerializer],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="RFC 7946 FeatureCollection")},
    )
    def get(self, request, *args, **kwargs):
        """Areas other organisations share with this tenant, as a FeatureCollection. Each feature names its
        ``owner``; ``status``/``level`` when the agreement shares the status, ``forecast_level`` and
        ``forecast`` when it shares forecasts. Read-only: shared areas are edited only by their owner."""
        body = selectors.shared_feature_collection(self.shared(request))
        return Response(body, content_type="application/geo+json")


class SharedAlertsView(SharedView):
    kind = ShareKind.ALERTS

    @extend_schema(parameters=[SharedFilterSerializer], responses={200: SharedAlertSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        """Open alerts in the shared areas, and those resolved in the last 24 hours, with their owner."""
        rows = selectors.shared_alerts(
            self.shared(request), include_resolved_since=timezone.now() - timedelta(hours=24)
        )
        return Response(SharedAlertSerializer(rows, many=True).data)


class SharedActionsView(SharedView):
    kind = ShareKind.ACTION_LOG

    @extend_schema(parameters=[SharedFilterSerializer], responses={200: SharedActionSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        """The owners' action-log entries for the shared areas (running ones and those of the last 7 days)."""
        rows = selectors.shared_actions(self.shared(request), since=timezone.now() - timedelta(days=7))
        return Response(SharedActionSerializer(rows, many=True).data)


class SharedSeriesView(SharedView):
    kind = ShareKind.SERIES

    @extend_schema(parameters=[SharedFilterSerializer], responses={200: SharedSeriesSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        """The series of the shared areas with their latest values (no source URLs or credentials)."""
        return Response(SharedSeriesSerializer(selectors.shared_series(self.shared(request)), many=True).data)


class SharedForecastsView(SharedView):
    kind = ShareKind.FORECASTS

    @extend_schema(
        parameters=[SharedFilterSerializer],
        responses={200: SharedForecastSerializer(many=True)},
    )
    def get(self, request, *args, **kwargs):
        """The latest stored forecast of each shared area: hourly p10/p50/p90 and the levels they imply."""
        rows = selectors.shared_forecasts(self.shared(request))
        return Response(SharedForecastSerializer(rows, many=True).data)
