"""Alerts and the rules that raise them (the action log and learning follow in this app)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from areas.choices import CrowdLevel
from tenants.models import Tenant
from tenants.scoping import TenantScopedManager

from .choices import AlertKind, AlertState


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
                fields=["rule", "area", "source"],
                condition=~Q(state=AlertState.RESOLVED) & Q(rule__isnull=False),
                name="alert_one_unresolved_per_subject",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["tenant", "state", "-opened_at"], name="alert_state")]

    def __str__(self) -> str:
        return f"{self.kind} {self.state}: {self.message[:60]}"


class Webhook(models.Model):
    """An outbound webhook: alerts are POSTed to it as JSON signed with HMAC-SHA256."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One attempt to deliver an alert event to a webhook."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    attempt = models.PositiveIntegerField(default=1)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} -> {self.webhook} ({self.status_code or self.error[:30]})"
