"""Views of the incidents API: alerts, rules, webhooks, the action log (CSV export, attachments), outcomes."""

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from areas.selectors import area_list
from core.export import csv_download, csv_response
from core.problems import problem_response
from tenants.api.base import TenantGenericViewSet, TenantModelViewSet, TenantViewMixin
from tenants.choices import Capability
from tenants.scoping import tenant_scope

from .. import actions, selectors, services, webhooks
from ..attachments import (
    ALLOWED_TYPES,
    AttachmentTooLargeError,
    UnsupportedAttachmentError,
    attachment_add,
)
from ..choices import EVENT_TYPE_PREFIX
from ..models import (
    ActionAttachment,
    ActionLogEntry,
    Alert,
    AlertRule,
    Incident,
    InterventionType,
    Outcome,
    Webhook,
)
from .filters import ActionFilter, IncidentFilter
from .serializers import (
    ActionAttachmentSerializer,
    ActionRevisionSerializer,
    ActionSerializer,
    AlertFilterSerializer,
    AlertRaiseSerializer,
    AlertResolveSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    AttachmentUploadSerializer,
    IncidentSerializer,
    InterventionTypeSerializer,
    OutcomeSerializer,
    WebhookDeliveryFilterSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)


class AlertViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantGenericViewSet
):
    """Alerts of the tenant, newest first. Operators raise (POST), acknowledge and resolve them."""

    model = Alert
    serializer_class = AlertSerializer
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = Capability.OPERATE

    def get_tenant_queryset(self):
        filters = {}
        if self.action == "list":
            params = AlertFilterSerializer(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            filters = params.validated_data
        return selectors.alert_list(membership=self.membership, **filters)

    @extend_schema(parameters=[AlertFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=AlertRaiseSerializer, responses={201: AlertSerializer})
    def create(self, request, *args, **kwargs):
        serializer = AlertRaiseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_raise(tenant=self.tenant, actor=request.user, **serializer.validated_data)
        body = AlertSerializer(alert).data | {"similar": actions.similar_situations(alert=alert)}
        return Response(body, status=status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        """One alert, with what was done in similar past situations and how it worked (``similar``)."""
        alert = self.get_object()
        return Response(AlertSerializer(alert).data | {"similar": actions.similar_situations(alert=alert)})

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, *args, **kwargs):
        """Take the alert on: open -> acknowledged, recording who and when."""
        alert = services.alert_acknowledge(alert=self.get_object(), actor=request.user)
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=AlertResolveSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, *args, **kwargs):
        """Close the alert with an optional note."""
        serializer = AlertResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_resolve(
            alert=self.get_object(), actor=request.user, **serializer.validated_data
        )
        return Response(AlertSerializer(alert).data)


class AlertRuleViewSet(TenantModelViewSet):
    """When alerts are raised. Admins write; members with the view right read."""

    model = AlertRule
    serializer_class = AlertRuleSerializer

    def get_tenant_queryset(self):
        return selectors.alert_rule_list(tenant=self.tenant)

    def perform_create(self, serializer):
        serializer.instance = services.alert_rule_save(
            tenant=self.tenant, actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer):
        serializer.instance = services.alert_rule_save(
            tenant=self.tenant,
            actor=self.request.user,
            data=dict(serializer.validated_data),
            rule=serializer.instance,
        )


class WebhookViewSet(TenantModelViewSet):
    """Outbound webhooks: CloudEvents 1.0 for the subscribed ``events``, signed with HMAC-SHA256, retried with
    backoff, with a delivery log per webhook (see docs/api.md)."""

    model = Webhook
    serializer_class = WebhookSerializer
    read_capability = Capability.MANAGE
    write_capability = Capability.MANAGE

    def get_tenant_queryset(self):
        return selectors.webhook_list(tenant=self.tenant)

    @extend_schema(
        responses={
            201: inline_serializer(
                "WebhookCreated",
                {
                    "id": serializers.IntegerField(),
                    "name": serializers.CharField(),
                    "url": serializers.URLField(),
                    "events": serializers.ListField(child=serializers.CharField()),
                    "enabled": serializers.BooleanField(),
                    "created_at": serializers.DateTimeField(),
                    "secret": serializers.CharField(),
                },
            )
        }
    )
    def create(self, request, *args, **kwargs):
        serializer = WebhookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook, secret = webhooks.webhook_create(
            tenant=self.tenant, actor=request.user, **serializer.validated_data
        )
        body = WebhookSerializer(webhook).data | {"secret": secret}  # shown once
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = webhooks.webhook_update(
            webhook=serializer.instance, actor=self.request.user, data=serializer.validated_data
        )

    @extend_schema(
        parameters=[WebhookDeliveryFilterSerializer], responses=WebhookDeliverySerializer(many=True)
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, *args, **kwargs):
        """The delivery log of this webhook, newest first (paged): every attempt with its event id and type,
        answer, error, duration and, for a failed attempt that will be retried, when."""
        webhook = self.get_object()
        params = WebhookDeliveryFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = self.paginate_queryset(
            selectors.webhook_delivery_list(webhook=webhook, **params.validated_data)
        )
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "WebhookTestQueued",
                {"event_id": serializers.UUIDField(), "type": serializers.CharField()},
            )
        },
    )
    @action(detail=True, methods=["post"])
    def test(self, request, *args, **kwargs):
        """Send a ``webhook.test`` CloudEvent to this webhook now; the delivery log shows how it went."""
        event = webhooks.webhook_test_event(webhook=self.get_object(), actor=request.user)
        return Response(
            {"event_id": event.event_id, "type": EVENT_TYPE_PREFIX + event.type},
            status=status.HTTP_202_ACCEPTED,
        )


class InterventionTypeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantGenericViewSet,
):
    """The tenant's catalogue of measures, seeded with the defaults. Admins extend it or archive types."""

    model = InterventionType
    serializer_class = InterventionTypeSerializer
    read_capability = (Capability.VIEW, Capability.EVENTS)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_tenant_queryset(self):
        actions.ensure_default_interventions(tenant=self.tenant)
        types = InterventionType.objects.filter(tenant=self.tenant)
        if self.action == "list" and self.request.query_params.get("archived") != "true":
            types = types.filter(archived_at__isnull=True)
        return types.order_by("name", "pk")

    def perform_create(self, serializer):
        archived = serializer.validated_data.pop("archived", False)
        serializer.save(tenant=self.tenant, archived_at=timezone.now() if archived else None)

    def perform_update(self, serializer):
        archived = serializer.validated_data.pop("archived", None)
        instance = serializer.save()
        if archived is not None:
            instance.archived_at = (instance.archived_at or timezone.now()) if archived else None
            instance.save(update_fields=["archived_at"])


class ActionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantGenericViewSet,
):
    """The action log. Append-only: PATCH creates a revision, ended or cancelled entries are closed,
    nothing is ever deleted (DELETE answers 405)."""

    model = ActionLogEntry
    serializer_class = ActionSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ActionFilter
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = (Capability.OPERATE, Capability.EVENTS)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_tenant_queryset(self):
        entries = ActionLogEntry.objects.filter(tenant=self.tenant).select_related(
            "intervention", "created_by"
        )
        entries = entries.prefetch_related("areas", "alerts", "attachments__uploaded_by")
        if not self.has_capability(Capability.VIEW):
            entries = entries.filter(
                areas__in=area_list(membership=self.membership, archived="all")
            ).distinct()
        return entries.order_by("-started_at", "-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                description="csv: every entry in the filter as a streamed CSV download (no paging).",
            ),
        ],
        responses={200: ActionSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR},
        operation_id="tenants_actions_list",
        filters=True,  # the ActionFilter parameters, also for the CSV export
    )
    def list(self, request, *args, **kwargs):
        export = request.query_params.get("format", "json")
        if export not in ("json", "csv"):
            raise ValidationError({"format": [f"'{export}' is not a format here; use json or csv."]})
        if export == "csv":
            entries = self.filter_queryset(self.get_queryset())
            return csv_response(
                f"actions-{self.tenant.slug}.csv",
                ACTION_CSV_COLUMNS,
                lambda: (_action_row(e) for e in entries.iterator(chunk_size=500)),
                context=tenant_scope(self.tenant),
            )
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        actions.ensure_default_interventions(tenant=self.tenant)  # the defaults exist before the first entry
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = actions.action_create(
            tenant=self.tenant, actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer):
        serializer.instance = actions.action_update(
            entry=serializer.instance, actor=self.request.user, data=dict(serializer.validated_data)
        )

    def update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    @extend_schema(responses=ActionRevisionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def revisions(self, request, *args, **kwargs):
        """Every state of the entry, with who changed what and when."""
        entry = self.get_object()
        return Response(ActionRevisionSerializer(entry.revisions.select_related("actor"), many=True).data)

    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: ActionAttachmentSerializer},
    )
    @extend_schema(methods=["GET"], responses=ActionAttachmentSerializer(many=True))
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser, FormParser],
        pagination_class=None,
    )
    def attachments(self, request, *args, **kwargs):
        """The entry's photos and documents; POST ``multipart/form-data`` with a ``file`` (JPEG, PNG, WebP or
        PDF, at most ATTACHMENT_MAX_BYTES) attaches one. Photos must not show people identifiably."""
        entry = self.get_object()
        if request.method == "GET":
            files = entry.attachments.select_related("uploaded_by")
            return Response(ActionAttachmentSerializer(files, many=True, context={"request": request}).data)
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            attachment = attachment_add(
                entry=entry, actor=request.user, upload=serializer.validated_data["file"]
            )
        except UnsupportedAttachmentError as exc:
            return problem_response(415, str(exc), code="unsupported_media_type")
        except AttachmentTooLargeError as exc:
            return problem_response(413, str(exc), code="too_large")
        body = ActionAttachmentSerializer(attachment, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AttachmentViewSet(mixins.RetrieveModelMixin, TenantGenericViewSet):
    """Files attached to action log entries: the description (GET) and the file itself (``content/``)."""

    model = ActionAttachment
    serializer_class = ActionAttachmentSerializer
    read_capability = (Capability.VIEW, Capability.EVENTS)
    http_method_names = ["get", "head", "options"]

    def get_tenant_queryset(self):
        files = ActionAttachment.objects.filter(tenant=self.tenant).select_related("uploaded_by")
        if not self.has_capability(Capability.VIEW):
            visible = ActionLogEntry.objects.filter(
                areas__in=area_list(membership=self.membership, archived="all")
            )
            files = files.filter(entry__in=visible)
        return files.order_by("pk")

    def perform_content_negotiation(self, request, force=False):
        # A browser asks for image/* or application/pdf: errors still answer as problem JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={(200, media): OpenApiTypes.BINARY for media in ALLOWED_TYPES},
    )
    @action(detail=True, methods=["get"])
    def content(self, request, *args, **kwargs):
        """The file, with its detected content type, as a download."""
        attachment = self.get_object()
        try:
            with attachment.file.open("rb") as handle:
                content = handle.read()  # at most ATTACHMENT_MAX_BYTES; no file handle outlives the request
        except FileNotFoundError:
            raise NotFound("The file of this attachment is gone (purged or lost).") from None
        response = HttpResponse(content, content_type=attachment.content_type)
        response["Content-Disposition"] = content_disposition_header(True, attachment.filename)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantGenericViewSet,
):
    """Reported incidents; never deleted (DELETE answers 405)."""

    model = Incident
    serializer_class = IncidentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = (Capability.OPERATE, Capability.EVENTS)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_tenant_queryset(self):
        incidents = Incident.objects.filter(tenant=self.tenant).select_related("area", "reported_by")
        if not self.has_capability(Capability.VIEW):
            incidents = incidents.filter(area__in=area_list(membership=self.membership, archived="all"))
        return incidents.order_by("-occurred_at", "-pk")

    def perform_create(self, serializer):
        serializer.instance = actions.incident_create(
            tenant=self.tenant, actor=self.request.user, data=dict(serializer.validated_data)
        )


class OutcomeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, TenantGenericViewSet
):
    """Measured effects of actions per area; operators add their judgement (PATCH)."""

    model = Outcome
    serializer_class = OutcomeSerializer
    write_capability = Capability.OPERATE
    http_method_names = ["get", "patch", "head", "options"]

    def get_tenant_queryset(self):
        outcomes = Outcome.objects.filter(tenant=self.tenant).select_related(
            "area", "action__intervention", "judged_by"
        )
        params = self.request.query_params
        if params.get("area"):
            outcomes = outcomes.filter(area__slug=params["area"])
        if params.get("intervention"):
            outcomes = outcomes.filter(action__intervention__slug=params["intervention"])
        if params.get("action"):
            outcomes = outcomes.filter(action_id=params["action"])
        return outcomes.order_by("-window_start", "-pk")

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = actions.outcome_judge(
            outcome=serializer.instance,
            actor=self.request.user,
            judgement=data.get("judgement", serializer.instance.judgement),
            note=data.get("judgement_note", serializer.instance.judgement_note),
        )


class LearningView(TenantViewMixin, APIView):
    """What worked: measured effects per intervention type and context, as JSON or CSV (``format=csv``)."""

    read_capability = Capability.VIEW

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "group_by", str, description=f"Comma-separated, from: {', '.join(actions.GROUPS)}"
            ),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, *args, **kwargs):
        group_by = tuple(
            g for g in request.query_params.get("group_by", ",".join(actions.GROUPS)).split(",") if g
        )
        unknown = [g for g in group_by if g not in actions.GROUPS]
        if unknown or not group_by:
            raise ValidationError(
                {"group_by": [f"Choose from {', '.join(actions.GROUPS)}; not {', '.join(unknown)}."]}
            )
        rows = actions.learning_report(tenant=self.tenant, group_by=group_by)
        if request.query_params.get("format") == "csv":
            columns = [
                *group_by,
                "count",
                "measured",
                "median_effect_pct",
                "p25_effect_pct",
                "p75_effect_pct",
                "judged",
                "judged_effective",
                "low_confidence",
            ]
            return csv_download(
                f"learning-{self.tenant.slug}.csv", columns, ([row.get(c) for c in columns] for row in rows)
            )
        return Response({"group_by": list(group_by), "rows": rows})


ACTION_CSV_COLUMNS = [
    "id",
    "intervention",
    "intervention_name",
    "description",
    "areas",
    "alerts",
    "incident",
    "status",
    "planned_at",
    "started_at",
    "ended_at",
    "created_by",
    "organisation",
    "revision",
    "attachments",
    "created_at",
    "updated_at",
]


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""


def _action_row(entry: ActionLogEntry) -> list:
    """One CSV row of the action log (several areas or alerts are joined with ';')."""
    return [
        entry.pk,
        entry.intervention.slug,
        entry.intervention.name,
        entry.description,
        ";".join(sorted(a.slug for a in entry.areas.all())),
        ";".join(str(a.pk) for a in sorted(entry.alerts.all(), key=lambda a: a.pk)),
        entry.incident_id or "",
        entry.status,
        _iso(entry.planned_at),
        _iso(entry.started_at),
        _iso(entry.ended_at),
        entry.created_by.username if entry.created_by else "",
        entry.organisation,
        entry.revision,
        len(entry.attachments.all()),
        _iso(entry.created_at),
        _iso(entry.updated_at),
    ]
