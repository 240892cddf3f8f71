"""Serializers of the incidents API."""

from rest_framework import serializers

from areas.levels import LEVELS
from areas.models import Area
from sources.models import Source
from tenants.api.fields import AwareDateTimeField, ScopedSlugRelatedField
from tenants.choices import Role

from ..choices import AlertKind, AlertState
from ..models import Alert, AlertRule, Webhook, WebhookDelivery


class AlertSerializer(serializers.ModelSerializer):
    """An alert and its lifecycle."""

    area = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    rule = serializers.SlugRelatedField(slug_field="name", read_only=True)
    opened_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "state",
            "level",
            "message",
            "area",
            "source",
            "rule",
            "details",
            "opened_at",
            "opened_by",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "resolution",
            "last_seen_at",
        ]
        read_only_fields = fields


class AlertRaiseSerializer(serializers.Serializer):
    """An alert raised by a person."""

    message = serializers.CharField(max_length=2000)
    area = ScopedSlugRelatedField(Area, required=False, allow_null=True)
    level = serializers.ChoiceField(choices=LEVELS, required=False, allow_blank=True)


class AlertResolveSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AlertFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=[*AlertState.values, "active"], required=False)
    area = serializers.SlugField(required=False)
    kind = serializers.ChoiceField(choices=AlertKind.choices, required=False)
    since = AwareDateTimeField(required=False)


class AlertRuleSerializer(serializers.ModelSerializer):
    """A rule: ``level_now`` and ``forecast_level`` need ``level`` (and ``within_hours``), ``stale_data``
    needs ``minutes``; ``source_down`` may name a ``source``. Without ``area`` a rule covers every area."""

    area = ScopedSlugRelatedField(Area, required=False, allow_null=True)
    source = ScopedSlugRelatedField(Source, required=False, allow_null=True)
    level = serializers.ChoiceField(choices=LEVELS[1:], required=False, allow_blank=True)
    within_hours = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=48)
    minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1440)
    notify_roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.values), required=False)

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "kind",
            "area",
            "source",
            "level",
            "within_hours",
            "minutes",
            "notify_roles",
            "enabled",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class WebhookSerializer(serializers.ModelSerializer):
    """An outbound webhook. ``secret`` is write-only; without one a secret is generated and shown once."""

    secret = serializers.CharField(write_only=True, required=False, min_length=16, max_length=200)

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "secret", "enabled", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "alert", "event", "attempt", "status_code", "delivered", "error", "created_at"]
        read_only_fields = fields
