"""Views of joint operations: the operation, its participants, the areas each brings in, duty, the
operation's picture and alerts, and the common action log.

Every participant (the lead, invitees) sees the operation; a tenant outside it gets 404. Reads of what
other participants share are audited in the reader's and the owner's trail, as for agreements.
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from areas.api.views import GeoJSONRenderer
from incidents.api.serializers import ActionSerializer
from tenants.api.base import TenantGenericViewSet
from tenants.audit import audit_record_for_tenants
from tenants.choices import Capability

from .. import operations, selectors, services
from ..choices import ShareKind
from ..models import JointOperation
from .serializers import (
    AgreementSerializer,
    OperationContributeSerializer,
    OperationCreateSerializer,
    OperationDutySerializer,
    OperationInviteSerializer,
    OperationLogEntrySerializer,
    OperationSerializer,
    OperationUpdateSerializer,
    SharedAlertSerializer,
)
from .views import AgreementConflict

CONFLICT = OpenApiResponse(
    description="Not possible in the operation's current state (over, not joined, ...)"
)


class OperationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["planned", "running", "over"], required=False)


@extend_schema(
    parameters=[OpenApiParameter("tenant", str, OpenApiParameter.PATH, description="Slug of the tenant.")]
)
class OperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    """Joint operations this tenant leads, joined or is invited to (e.g. "Koningsdag 2027 Den Haag").

    The lead's admin creates one and invites tenants; their admins join or decline; each joined participant's
    admin brings areas in (``contribute``); operators go on duty and write the common action log.
    """

    model = JointOperation
    serializer_class = OperationSerializer
    read_capability = Capability.VIEW
    write_capability = Capability.MANAGE
    action_capabilities = {"duty": Capability.OPERATE}
    audit_object_type = "joint_operation"

    def get_tenant_queryset(self):
        params = OperationFilterSerializer(data=self.request.query_params if self.action == "list" else {})
        params.is_valid(raise_exception=True)
        return selectors.operation_list(tenant=self.tenant, **params.validated_data)

    def required_capability(self, request):
        if getattr(self, "action", None) == "log" and request.method == "POST":
            return Capability.OPERATE
        return super().required_capability(request)

    def _answer(self, operation, code=status.HTTP_200_OK):
        fresh = selectors.operation_list(tenant=self.tenant).get(pk=operation.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def _run(self, step, **kwargs):
        try:
            return step(**kwargs)
        except services.AgreementStateError as exc:
            raise AgreementConflict(str(exc)) from exc

    @extend_schema(parameters=[OperationFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=OperationCreateSerializer, responses={201: OperationSerializer})
    def create(self, request, *args, **kwargs):
        """Create an operation led by this tenant and invite other tenants (by slug)."""
        data = OperationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        operation = operations.operation_create(lead=self.tenant, actor=request.user, **data.validated_data)
        return self._answer(operation, status.HTTP_201_CREATED)

    @extend_schema(request=OperationUpdateSerializer, responses={200: OperationSerializer, 409: CONFLICT})
    def partial_update(self, request, *args, **kwargs):
        """The lead changes name, description, window or public page; shared areas follow the window."""
        operation = self.get_object()
        data = OperationUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        self._run(
            operations.operation_update, operation=operation, tenant=self.tenant, actor=request.user,
            **data.validated_data,
        )  # fmt: skip
        return self._answer(operation)

    @extend_schema(request=OperationInviteSerializer, responses={200: OperationSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def invite(self, request, *args, **kwargs):
        """The lead invites another tenant."""
        operation = self.get_object()
        data = OperationInviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self._run(
            operations.operation_invite, operation=operation, tenant=self.tenant, actor=request.user,
            invitee=data.validated_data["tenant"], role=data.validated_data["role"],
        )  # fmt: skip
        return self._answer(operation)

    @extend_schema(request=None, responses={200: OperationSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def join(self, request, *args, **kwargs):
        """Accept the invitation: from now on this tenant sees what the participants bring in."""
        operation = self.get_object()
        self._run(
            operations.operation_respond,
            operation=operation,
            tenant=self.tenant,
            actor=request.user,
            join=True,
        )
        return self._answer(operation)

    @extend_schema(request=None, responses={204: None, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def decline(self, request, *args, **kwargs):
        """Decline the invitation; the operation is then no longer visible to this tenant."""
        operation = self.get_object()
        self._run(
            operations.operation_respond,
            operation=operation,
            tenant=self.tenant,
            actor=request.user,
            join=False,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def leave(self, request, *args, **kwargs):
        """Leave the operation (not the lead): this tenant's areas stop being shared, and it sees nothing
        more of the operation, at once."""
        operation = self.get_object()
        self._run(operations.operation_leave, operation=operation, tenant=self.tenant, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: OperationSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def close(self, request, *args, **kwargs):
        """The lead closes the operation: every area brought in stops being shared at once."""
        operation = self.get_object()
        self._run(operations.operation_close, operation=operation, tenant=self.tenant, actor=request.user)
        return self._answer(operation)

    @extend_schema(request=OperationContributeSerializer, responses={201: AgreementSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def contribute(self, request, *args, **kwargs):
        """Bring this tenant's areas (a selection and/or a tag) into the operation: shared with every joined
        participant for the operation's window, as the ``kinds`` say. Ended with ``agreements/{id}/end/``."""
        operation = self.get_object()
        data = OperationContributeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = self._run(
            operations.operation_contribute, operation=operation, tenant=self.tenant, actor=request.user,
            area_slugs=data.validated_data["areas"], area_tag=data.validated_data["area_tag"],
            kinds=data.validated_data["kinds"],
        )  # fmt: skip
        fresh = selectors.agreement_list(tenant=self.tenant).get(pk=agreement.pk)
        return Response(AgreementSerializer(fresh, context=self.get_serializer_context()).data, status=201)

    @extend_schema(request=OperationDutySerializer, responses={200: OperationSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def duty(self, request, *args, **kwargs):
        """Go on duty for the operation (alerts in its areas are e-mailed to you) or off duty."""
        operation = self.get_object()
        data = OperationDutySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self._run(
            operations.operation_duty_set, operation=operation, tenant=self.tenant, user=request.user,
            on_duty=data.validated_data["on_duty"],
        )  # fmt: skip
        return self._answer(operation)

    def _shared(self, request, operation, kind):
        shared = selectors.operation_shared(operation, reader=self.tenant, kind=kind, token=request.auth)
        others = [item for item in shared if item.agreement.provider_id != self.tenant.pk]
        services.shared_read_record(
            shared=others, actor=request.user, reader=self.tenant, kind=kind or "areas"
        )
        return shared

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="RFC 7946 FeatureCollection")}
    )
    @action(detail=True, methods=["get"], renderer_classes=[GeoJSONRenderer, JSONRenderer])
    def picture(self, request, *args, **kwargs):
        """Every area the participants brought in (this tenant's own included), as a FeatureCollection with
        owner, status and forecast as each contribution shares them."""
        operation = self.get_object()
        body = selectors.shared_feature_collection(self._shared(request, operation, None))
        return Response(body, content_type="application/geo+json")

    @extend_schema(responses={200: SharedAlertSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def alerts(self, request, *args, **kwargs):
        """Open alerts in the operation's areas (and those resolved in the last 24 hours), with owners."""
        operation = self.get_object()
        rows = selectors.shared_alerts(
            self._shared(request, operation, ShareKind.ALERTS),
            include_resolved_since=timezone.now() - timedelta(hours=24),
        )
        return Response(SharedAlertSerializer(rows, many=True).data)

    @extend_schema(
        methods=["GET"], responses={200: OperationLogEntrySerializer(many=True)},
        description="The common action log: every participant's entries, with organisation and author.",
    )  # fmt: skip
    @extend_schema(
        methods=["POST"], request=ActionSerializer,
        responses={201: OperationLogEntrySerializer, 409: CONFLICT},
        description="Write an entry (an action of this tenant's own log, linked to the operation).",
    )  # fmt: skip
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def log(self, request, *args, **kwargs):
        operation = self.get_object()
        if request.method == "POST":
            data = ActionSerializer(data=request.data, context=self.get_serializer_context())
            data.is_valid(raise_exception=True)
            link = self._run(
                operations.operation_log_add, operation=operation, tenant=self.tenant, actor=request.user,
                data=dict(data.validated_data),
            )  # fmt: skip
            rows, _ = selectors.operation_log(operation)
            row = next(r for r in rows if r["id"] == link.action_id)
            return Response(OperationLogEntrySerializer(row).data, status=status.HTTP_201_CREATED)
        if not selectors.is_joined(operation, self.tenant):
            return Response([])
        rows, authors = selectors.operation_log(operation)
        others = [t for t in authors if t.pk != self.tenant.pk]
        if others:
            audit_record_for_tenants(
                tenants=[self.tenant, *others], actor=request.user, action="sharing.read", obj=operation,
                object_label=operation.name,
                details={"kind": "operation_log", "reader": self.tenant.slug, "operation": operation.slug},
            )  # fmt: skip
        return Response(OperationLogEntrySerializer(rows, many=True).data)
