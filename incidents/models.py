"""Alerts and the rules that raise them (the action log and learning follow in this app)."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from areas.choices import CrowdLevel
from tenants.models import Tenant
from tenants.scoping import TenantScopedManager

from .choices import ALERT_EVENTS, ActionStatus, AlertKind, AlertState, IncidentKind, Judgement, Severity


def default_notify_roles() -> list[str]:
    return ["admin", "operator"]


class AlertRule(models.Model):
    """When to raise an alert: a level now or forecast, stale data, or a failing source."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=[c for c in AlertKind.choices if c[0] != AlertKind.MANUAL])
    area = models.ForeignKey(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
        help_text="Empty: every area of the tenant.",
    )
    source = models.ForeignKey(
        "sources.Source",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
        help_text="For source_down: one source; empty: every source.",
    )
    level = models.CharField(max_length=12, choices=CrowdLevel.choices, blank=True)
    within_hours = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(48)]
    )
    minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1440)]
    )
    notify_roles = models.JSONField(default=default_notify_roles, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """A raised alert with its lifecycle: open -> acknowledged -> resolved, with who and when."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    area = models.ForeignKey(
        "areas.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    source = models.ForeignKey(
        "sources.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    subject = models.CharField(
        max_length=40, blank=True, help_text="'area:<id>' or 'source:<id>': what a rule's alert is about."
    )
    level = models.CharField(max_length=12, blank=True)
    state = models.CharField(max_length=14, choices=AlertState.choices, default=AlertState.OPEN)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(
        blank=True, help_text="Why it was resolved: the condition cleared, or a note."
    )
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last evaluation that found it true."
    )

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One unresolved alert per rule and subject: re-evaluation updates it instead of raising again.
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=~Q(state=AlertState.RESOLVED) & Q(rule__isnull=False),
                name="alert_one_unresolved_per_subject",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "state", "-opened_at"], name="alert_state")]

    def __str__(self) -> str:
        return f"{self.kind} {self.state}: {self.message[:60]}"


def default_webhook_events() -> list[str]:
    return list(ALERT_EVENTS)


class Webhook(models.Model):
    """An outbound webhook: the events it subscribes to are POSTed as CloudEvents, signed with HMAC-SHA256."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    events = models.JSONField(
        default=default_webhook_events, help_text="Event types it receives, e.g. ['alert.opened']."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    def __str__(self) -> str:
        return self.name


class WebhookEvent(models.Model):
    """An event for webhooks, stored once: every retry sends the same CloudEvent (same id, same data)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=60, help_text="Short type, e.g. 'alert.opened'.")
    source = models.CharField(max_length=500, help_text="URI of the object the event is about.")
    subject = models.CharField(max_length=200, blank=True)
    time = models.DateTimeField()
    data = models.JSONField(default=dict)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-time"]
        indexes = [models.Index(fields=["tenant", "time"], name="webhook_event_time")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDelivery(models.Model):
    """One attempt to deliver an event to a webhook: the delivery log of a subscription."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    webhook_event = models.ForeignKey(
        WebhookEvent, null=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=60)
    attempt = models.PositiveIntegerField(default=1)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    delivered = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    next_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next attempt is due; empty when delivered or given up."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["webhook", "-created_at"], name="webhook_delivery_log")]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.webhook} ({self.status_code or self.error[:30]})"


class InterventionType(models.Model):
    """A kind of measure in the tenant's catalogue (extra trams, traffic controllers, closing an entrance)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="intervention_types")
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="intervention_unique_slug")]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    """A reported situation: overcrowding, a blocked exit, a fight, a medical case, a lost child."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=20, choices=IncidentKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="incidents")
    occurred_at = models.DateTimeField()
    description = models.TextField(blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.area} ({self.occurred_at:%Y-%m-%d %H:%M})"


class ActionLogAppendOnlyError(Exception):
    """Raised when code tries to delete (or bulk-change) the action log; edits go through a new revision."""


class ActionLogQuerySet(models.QuerySet):
    """The action log keeps every entry: no bulk update or delete (PostgreSQL triggers refuse them too)."""

    def update(self, **kwargs):
        raise ActionLogAppendOnlyError(
            f"{self.model._meta.verbose_name_plural} change only through incidents.actions (with a revision)."
        )

    def delete(self):
        raise ActionLogAppendOnlyError(f"{self.model._meta.verbose_name_plural} are never deleted.")


class AppendOnlyModel(models.Model):
    """A row of the action log: never deleted (instances refuse ``delete``; see ActionLogQuerySet)."""

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise ActionLogAppendOnlyError(f"{self._meta.verbose_name_plural} are never deleted.")


class ActionLogEntry(AppendOnlyModel):
    """An intervention: who did what, where, when and why. Append-only: edits become revisions.

    Never deleted, and neither a tenant nor an area deletion reaches it (PROTECT). On PostgreSQL triggers
    enforce it (incidents migration 0005): no DELETE or TRUNCATE, and an UPDATE only as the next revision,
    of which an ActionRevision row must exist when the transaction commits; a closed entry never changes.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="actions")
    intervention = models.ForeignKey(InterventionType, on_delete=models.PROTECT, related_name="actions")
    description = models.TextField(blank=True)
    areas = models.ManyToManyField("areas.Area", related_name="actions")
    alerts = models.ManyToManyField(Alert, blank=True, related_name="actions")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    status = models.CharField(max_length=10, choices=ActionStatus.choices, default=ActionStatus.ACTIVE)
    planned_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    organisation = models.CharField(max_length=200, help_text="The organisation the actor acted for.")
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager(manager_class=models.Manager.from_queryset(ActionLogQuerySet))

    class Meta:
        ordering = ["-started_at", "-created_at"]
        verbose_name_plural = "action log entries"

    def __str__(self) -> str:
        return f"{self.intervention} ({self.status})"


class ActionRevision(AppendOnlyModel):
    """One state of an action log entry, with who changed what and when. Never edited or deleted."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(ActionLogEntry, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    changes = models.JSONField(
        default=dict, help_text="field -> [old, new]; on the first revision, the values."
    )
    snapshot = models.JSONField(default=dict)

    objects = TenantScopedManager(manager_class=models.Manager.from_queryset(ActionLogQuerySet))

    class Meta:
        ordering = ["entry", "number"]
        constraints = [models.UniqueConstraint(fields=["entry", "number"], name="revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.entry_id} r{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ActionLogAppendOnlyError("A revision is never changed.")
        super().save(*args, **kwargs)


class Outcome(models.Model):
    """The measured effect of an action on one of its areas, and the operators' own judgement."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    action = models.ForeignKey(ActionLogEntry, on_delete=models.PROTECT, related_name="outcomes")
    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="outcomes")
    method = models.CharField(max_length=40)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    observed_mean = models.FloatField(null=True)
    expected_mean = models.FloatField(null=True, help_text="Forecast p50 issued before the action began.")
    effect_pct = models.FloatField(null=True, help_text="Observed against expected, in %: -30 is 30 % fewer.")
    before_mean = models.FloatField(null=True)
    after_mean = models.FloatField(null=True)
    before_after_pct = models.FloatField(null=True)
    level_at_start = models.CharField(max_length=12, blank=True)
    confidence = models.CharField(max_length=10, default="ok")
    confidence_note = models.TextField(blank=True)
    measured_at = models.DateTimeField()
    judgement = models.CharField(max_length=10, choices=Judgement.choices, blank=True)
    judgement_note = models.TextField(blank=True)
    judged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    judged_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-window_start"]
        constraints = [models.UniqueConstraint(fields=["action", "area"], name="outcome_unique_area")]

    def __str__(self) -> str:
        return f"outcome of {self.action_id} on {self.area_id}: {self.effect_pct}"


def attachment_path(instance: "ActionAttachment", filename: str) -> str:
    """Where an upload is stored: per tenant, under a random name (the original name is kept in the row)."""
    extension = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}
    return (
        f"attachments/{instance.tenant_id}/{uuid.uuid4().hex}.{extension.get(instance.content_type, 'bin')}"
    )


class ActionAttachment(models.Model):
    """A photo or document attached to an action log entry; purged with the tenant's retention period."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(ActionLogEntry, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=200, help_text="The uploaded file's name, for downloads.")
    content_type = models.CharField(
        max_length=40, help_text="Detected from the content, not the client's word."
    )
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField()

    objects = TenantScopedManager()

    class Meta:
        ordering = ["uploaded_at", "pk"]
        indexes = [models.Index(fields=["tenant", "uploaded_at"], name="attachment_uploaded")]

    def __str__(self) -> str:
        return f"{self.filename} on {self.entry_id}"
