"""Views of the incidents API: alerts (with acknowledge and resolve), alert rules and webhooks."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants.api.base import TenantGenericViewSet, TenantModelViewSet
from tenants.choices import Capability

from .. import selectors, services
from ..models import Alert, AlertRule, Webhook
from .serializers import (
    AlertFilterSerializer,
    AlertRaiseSerializer,
    AlertResolveSerializer,
    AlertRuleSerializer,
    AlertSerializer,
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
        return Response(AlertSerializer(alert).data, status=status.HTTP_201_CREATED)

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
