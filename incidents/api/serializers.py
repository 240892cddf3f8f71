"""Serializers of the incidents API."""

from rest_framework import serializers

from areas.levels import LEVELS
from areas.models import Area
from areas.selectors import area_list
from core.fields import AwareDateTimeField, ScopedSlugRelatedField
from sources.models import Source
from tenants.choices import Role

from ..choices import ALERT_EVENTS, WEBHOOK_EVENTS, ActionStatus, AlertKind, AlertState, Judgement
from ..models import (
    ActionAttachment,
    ActionLogEntry,
    ActionRevision,
    Alert,
    AlertRule,
    Incident,
    InterventionType,
    Outcome,
    Webhook,
    WebhookDelivery,
)


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
    """An outbound webhook and the ``events`` it receives (default: the alert events). ``secret`` is
    write-only; without one a secret is generated and shown once."""

    secret = serializers.CharField(write_only=True, required=False, min_length=16, max_length=200)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(WEBHOOK_EVENTS)),
        allow_empty=False,
        required=False,
        help_text=f"Event types, default {', '.join(ALERT_EVENTS)}.",
    )

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "secret", "events", "enabled", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One delivery attempt: the event (CloudEvent ``id``, type, subject), the answer and the next retry."""

    event_id = serializers.UUIDField(source="webhook_event.event_id", read_only=True, allow_null=True)
    subject = serializers.CharField(source="webhook_event.subject", read_only=True, allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "subject",
            "attempt",
            "status_code",
            "delivered",
            "error",
            "duration_ms",
            "next_retry_at",
            "created_at",
        ]
        read_only_fields = fields


class WebhookDeliveryFilterSerializer(serializers.Serializer):
    event_type = serializers.CharField(required=False, max_length=60)
    delivered = serializers.BooleanField(required=False, allow_null=True, default=None)


class ActionAttachmentSerializer(serializers.ModelSerializer):
    """A file attached to an action log entry; ``content`` is where to download it."""

    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    content = serializers.SerializerMethodField()

    class Meta:
        model = ActionAttachment
        fields = [
            "id",
            "entry",
            "filename",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "content",
        ]
        read_only_fields = fields

    def get_content(self, obj) -> str:
        request = self.context.get("request")
        tenant = getattr(request, "tenant", None) or obj.tenant  # the request's tenant: no query per file
        return f"/api/v1/tenants/{tenant.slug}/attachments/{obj.pk}/content/"


class AttachmentUploadSerializer(serializers.Serializer):
    """``multipart/form-data`` with one ``file``: a JPEG, PNG, WebP image or a PDF."""

    file = serializers.FileField(allow_empty_file=False, use_url=False)


def _visible_areas(field):
    """Areas the caller may name: all for staff with the view right, own event zones for organisers."""
    request = field.context.get("request")
    return area_list(membership=request.membership, archived="false")


class InterventionTypeSerializer(serializers.ModelSerializer):
    """A measure in the tenant's catalogue; archive it (``archived``: true) instead of deleting it."""

    archived = serializers.BooleanField(required=False, write_only=True)
    is_archived = serializers.SerializerMethodField()

    class Meta:
        model = InterventionType
        fields = ["id", "slug", "name", "description", "is_default", "archived", "is_archived"]
        read_only_fields = ["id", "is_default"]

    def get_is_archived(self, obj) -> bool:
        return obj.archived_at is not None

    def validate_slug(self, value):
        clash = InterventionType.objects.filter(slug=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"The catalogue already has '{value}'.")
        return value


class IncidentSerializer(serializers.ModelSerializer):
    """A reported situation."""

    area = ScopedSlugRelatedField(Area, queryset_filter=_visible_areas)
    occurred_at = AwareDateTimeField()
    reported_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "kind", "severity", "area", "occurred_at", "description", "reported_by", "created_at"]
        read_only_fields = ["id", "reported_by", "created_at"]


class ActionSerializer(serializers.ModelSerializer):
    """An action log entry: who (``created_by``, ``organisation``), what (``intervention`` slug and
    ``description``), where (``areas``), when (``planned_at``, ``started_at``, ``ended_at``), why (``alerts``
    ids and/or ``incident``) and ``status``. Edits create revisions; ended or cancelled entries are closed."""

    intervention = ScopedSlugRelatedField(InterventionType)
    areas = ScopedSlugRelatedField(Area, many=True, queryset_filter=_visible_areas)
    alerts = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Alert.objects.none())
    incident = serializers.PrimaryKeyRelatedField(
        required=False, allow_null=True, queryset=Incident.objects.none()
    )
    planned_at = AwareDateTimeField(required=False, allow_null=True)
    started_at = AwareDateTimeField(required=False, allow_null=True)
    ended_at = AwareDateTimeField(required=False, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    status = serializers.ChoiceField(choices=ActionStatus.choices, required=False)
    attachments = ActionAttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = ActionLogEntry
        fields = [
            "id",
            "intervention",
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
        read_only_fields = [
            "id",
            "created_by",
            "organisation",
            "revision",
            "attachments",
            "created_at",
            "updated_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Querysets are built per request, inside the tenant scope (another tenant's id is "not found").
        if "request" in self.context and getattr(self.context["request"], "tenant", None) is not None:
            self.fields["alerts"].child_relation.queryset = Alert.objects.all()
            self.fields["incident"].queryset = Incident.objects.all()


class ActionRevisionSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ActionRevision
        fields = ["number", "actor", "at", "changes", "snapshot"]
        read_only_fields = fields


class OutcomeSerializer(serializers.ModelSerializer):
    """A measured effect (read-only) and the operators' judgement (``judgement``, ``judgement_note``)."""

    area = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    intervention = serializers.CharField(source="action.intervention.slug", read_only=True)
    judged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    judgement = serializers.ChoiceField(choices=Judgement.choices)

    class Meta:
        model = Outcome
        fields = [
            "id",
            "action",
            "intervention",
            "area",
            "method",
            "window_start",
            "window_end",
            "observed_mean",
            "expected_mean",
            "effect_pct",
            "before_mean",
            "after_mean",
            "before_after_pct",
            "level_at_start",
            "confidence",
            "confidence_note",
            "measured_at",
            "judgement",
            "judgement_note",
            "judged_by",
            "judged_at",
        ]
        read_only_fields = [f for f in fields if f not in ("judgement", "judgement_note")]
