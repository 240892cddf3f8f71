"""Tenants (organisations), their members and API tokens."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.utils import timezone

from .choices import Role, TenantKind
from .scoping import TenantScopedManager

slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", "Use lower-case letters, digits and single hyphens, e.g. 'den-haag'."
)


def validate_time_zone(value: str) -> None:
    """Reject names that are not IANA time zones."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not an IANA time zone such as 'Europe/Amsterdam'.")


class Tenant(models.Model):
    """An organisation on the platform: a municipality, police unit or event organiser."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=TenantKind.choices, default=TenantKind.MUNICIPALITY)
    time_zone = models.CharField(max_length=64, default="Europe/Amsterdam", validators=[validate_time_zone])
    public_page_enabled = models.BooleanField(
        default=False, help_text="Serve the public visitor page and register for this tenant."
    )
    retention_days = models.PositiveIntegerField(
        default=365,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Observations older than this are purged.",
    )
    small_count_threshold = models.PositiveIntegerField(
        default=15,
        validators=[MaxValueValidator(1000)],
        help_text="Counts below this are shown as 0 in public outputs.",
    )
    map_tile_url = models.CharField(
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=(
            "Raster tile URL template for the map background, e.g. https://tiles.example.nl/{z}/{x}/{y}.png; "
            "blank: no base map (closed networks)."
        ),
    )
    mfa_required_for_all = models.BooleanField(
        default=False,
        help_text="Require a second factor (TOTP) of every member; tenant admins always need one.",
    )
    audit_retention_days = models.PositiveIntegerField(
        default=730,
        validators=[MinValueValidator(30), MaxValueValidator(3650)],
        help_text="Audit-trail entries older than this are purged.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one tenant. A user may belong to several tenants."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True, help_text="An inactive membership grants nothing.")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["tenant", "user__username"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant.slug} ({self.role})"


class ApiToken(models.Model):
    """A bearer token for the API, stored only as a SHA-256 hash, with expiry and revocation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="When set, the token works for this tenant only.",
    )
    name = models.CharField(max_length=100, blank=True)
    source_ids = models.JSONField(
        default=list, blank=True, help_text="When not empty, the token may push only to these sources (ids)."
    )
    may_create_series = models.BooleanField(
        default=False, help_text="Whether a push with an unknown series key creates the series."
    )
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token in lists.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_usable(self) -> bool:
        """True while neither revoked nor expired."""
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuditResult(models.TextChoices):
    SUCCESS = "success", "success"
    DENIED = "denied", "denied"
    FAILED = "failed", "failed"
    ERROR = "error", "error"


class AuditAppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit entry outside the retention purge."""


class AuditEntryQuerySet(models.QuerySet):
    """Audit entries are append-only: bulk updates and deletes refuse (the purge service has its own door)."""

    def update(self, **kwargs):
        raise AuditAppendOnlyError("Audit entries are append-only; they cannot be changed.")

    def delete(self):
        raise AuditAppendOnlyError("Audit entries are removed only by the retention purge (tenants.audit).")

    def _purge(self) -> int:
        """Delete through the raw SQL path; only :func:`tenants.audit.audit_purge` calls this."""
        return self._raw_delete(self.db)


class AuditEntry(models.Model):
    """One line of the append-only audit trail: who did what to which object, from where, with what result.

    ``tenant`` is empty for platform-level events (a failed log-in with an unknown user name); those are
    visible to platform staff only. Neither foreign key is a database constraint and neither cascades:
    an entry outlives the tenant, user or object it names (``actor_label`` keeps the name).
    """

    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="audit_entries",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, help_text="User name, 'system' or a command, at the time.")
    action = models.CharField(
        max_length=100, help_text="Dotted name, e.g. 'member.update'; see docs/audit.md."
    )
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=200, blank=True)
    result = models.CharField(max_length=10, choices=AuditResult.choices, default=AuditResult.SUCCESS)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="Changes and context; secrets redacted.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = TenantScopedManager(manager_class=models.Manager.from_queryset(AuditEntryQuerySet))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time"),
            models.Index(fields=["tenant", "action"], name="audit_tenant_action"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.result}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditAppendOnlyError("Audit entries are append-only; they cannot be changed.")
        kwargs.pop("force_update", None)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditAppendOnlyError("Audit entries are removed only by the retention purge (tenants.audit).")


class LoginThrottle(models.Model):
    """Failed log-ins counted per user name and per client address (tenants.lockout), platform-wide.

    Holds no password and no tenant data: a lower-cased user name or an address, a count and two times.
    """

    class Kind(models.TextChoices):
        USER = "user", "user name"
        ADDRESS = "address", "client address"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="login_throttle_kind_key")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.failures} failure(s)"
