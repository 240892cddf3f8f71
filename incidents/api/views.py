"""Views of the incidents API: alerts (with acknowledge and resolve), alert rules and webhooks."""

import csv
import io

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.api.base import TenantGenericViewSet, TenantModelViewSet, TenantViewMixin
from tenants.choices import Capability

from .. import actions, selectors, services
from ..models import ActionLogEntry, Alert, AlertRule, Incident, InterventionType, Outcome, Webhook
from .serializers import (
    ActionRevisionSerializer,
    ActionSerializer,
    AlertFilterSerializer,
    AlertRaiseSerializer,
    AlertResolveSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    IncidentSerializer,
    InterventionTypeSerializer,
    OutcomeSerializer,
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
    """Outbound webhooks for alert events, signed with HMAC-SHA256 (see docs/api.md)."""

    model = Webhook
    serializer_class = WebhookSerializer
    read_capability = Capability.MANAGE
    write_capability = Capability.MANAGE

    def get_tenant_queryset(self):
        return selectors.webhook_list(tenant=self.tenant)

    @extend_schema(
        responses={
            201: inline_serializer(
                "WebhookCreated", {"id": serializers.IntegerField(), "secret": serializers.CharField()}
            )
        }
    )
    def create(self, request, *args, **kwargs):
        serializer = WebhookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        webhook, secret = services.webhook_create(
            tenant=self.tenant,
            actor=request.user,
            name=data["name"],
            url=data["url"],
            secret=data.get("secret"),
        )
        body = WebhookSerializer(webhook).data | {"secret": secret}  # shown once
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        from sources.secrets import encrypt_secrets

        secret = serializer.validated_data.pop("secret", None)
        webhook = serializer.save()
        if secret:
            webhook.secret_encrypted = encrypt_secrets({"secret": secret})
            webhook.save(update_fields=["secret_encrypted"])

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, *args, **kwargs):
        """The latest delivery attempts of this webhook."""
        webhook = self.get_object()
        return Response(WebhookDeliverySerializer(webhook.deliveries.all()[:100], many=True).data)


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
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = (Capability.OPERATE, Capability.EVENTS)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_tenant_queryset(self):
        entries = ActionLogEntry.objects.filter(tenant=self.tenant).select_related(
            "intervention", "created_by"
        )
        entries = entries.prefetch_related("areas", "alerts")
        if not self.has_capability(Capability.VIEW):
            from areas.selectors import area_list

            entries = entries.filter(
                areas__in=area_list(membership=self.membership, archived="all")
            ).distinct()
        params = self.request.query_params
        if params.get("area"):
            entries = entries.filter(areas__slug=params["area"])
        if params.get("intervention"):
            entries = entries.filter(intervention__slug=params["intervention"])
        if params.get("status"):
            entries = entries.filter(status=params["status"])
        since = params.get("since")
        if since:
            entries = entries.filter(started_at__gte=_aware(since, "since"))
        until = params.get("until")
        if until:
            entries = entries.filter(started_at__lt=_aware(until, "until"))
        return entries.order_by("-started_at", "-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter("area", str),
            OpenApiParameter("intervention", str),
            OpenApiParameter("status", str),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
        ]
    )
    def list(self, request, *args, **kwargs):
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
    @action(detail=True, methods=["get"])
    def revisions(self, request, *args, **kwargs):
        """Every state of the entry, with who changed what and when."""
        entry = self.get_object()
        return Response(ActionRevisionSerializer(entry.revisions.select_related("actor"), many=True).data)


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
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = (Capability.OPERATE, Capability.EVENTS)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_tenant_queryset(self):
        incidents = Incident.objects.filter(tenant=self.tenant).select_related("area", "reported_by")
        if not self.has_capability(Capability.VIEW):
            from areas.selectors import area_list

            incidents = incidents.filter(area__in=area_list(membership=self.membership, archived="all"))
        if self.request.query_params.get("area"):
            incidents = incidents.filter(area__slug=self.request.query_params["area"])
        if self.request.query_params.get("kind"):
            incidents = incidents.filter(kind=self.request.query_params["kind"])
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
            buffer = io.StringIO()
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
            writer = csv.DictWriter(buffer, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
            response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="learning-{self.tenant.slug}.csv"'
            return response
        return Response({"group_by": list(group_by), "rows": rows})


def _aware(text: str, name: str):
    from django.utils.dateparse import parse_datetime

    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationError({name: [f"{text!r} is not an ISO 8601 time with a time zone."]})
    return moment
