"""Models of the sharing app: the agreement between a providing and a receiving tenant."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Tenant
from tenants.scoping import TenantScopedManager

from .choices import AgreementState, ParticipantState, ShareKind


class JointOperation(models.Model):
    """An event several organisations work together (e.g. "Koningsdag 2027 Den Haag"): a lead tenant,
    participants, a time window, the areas each participant brings in (operation agreements) and one
    common action log. Visible to every tenant invited to it (scoped through ``parties``)."""

    lead = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="operations_led")
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    public_page = models.BooleanField(
        default=False, help_text="Serve a public read-only page of the operation (the lead decides)."
    )
    parties = models.ManyToManyField(Tenant, related_name="joint_operations", help_text="Lead and invitees.")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Closed by the lead before its end.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantScopedManager(path="parties")

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "slug"], name="operation_slug_unique_per_lead"),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="operation_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def window_end(self):
        """When sharing for the operation stops: its end, or when the lead closed it."""
        return min(self.ends_at, self.closed_at) if self.closed_at else self.ends_at

    def status(self, now=None) -> str:
        """planned, running or over."""
        now = now or timezone.now()
        if now >= self.window_end():
            return "over"
        return "running" if now >= self.starts_at else "planned"


class OperationParticipant(models.Model):
    """A tenant in a joint operation: invited by the lead, then joined (or declined, or left)."""

    operation = models.ForeignKey(JointOperation, on_delete=models.CASCADE, related_name="participants")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(
        max_length=200, blank=True, help_text="What it does here, e.g. 'neighbouring city'."
    )
    state = models.CharField(
        max_length=10, choices=ParticipantState.choices, default=ParticipantState.INVITED
    )
    invited_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedManager(path="operation__parties")

    class Meta:
        ordering = ["operation", "id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "tenant"], name="operation_participant_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug} in {self.operation.slug}"


class OperationDuty(models.Model):
    """A member of a participant on duty for the operation: alerts in operation areas reach them."""

    operation = models.ForeignKey(JointOperation, on_delete=models.CASCADE, related_name="duties")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(default=timezone.now)

    objects = TenantScopedManager(path="operation__parties")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operation", "tenant", "user"], name="operation_duty_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on duty for {self.operation_id}"


class OperationLogLink(models.Model):
    """An entry of the operation's common action log: an action-log entry of the participant that wrote
    it, kept in that participant's own log (so its outcome is measured as for any action)."""

    operation = models.ForeignKey(JointOperation, on_delete=models.PROTECT, related_name="log_links")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    action = models.OneToOneField("incidents.ActionLogEntry", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantScopedManager(path="operation__parties")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"action {self.action_id} in operation {self.operation_id}"


class SharingAgreement(models.Model):
    """An offer by one tenant (the provider) to show the crowd picture of some of its areas to another
    tenant (the recipient): which areas, which kinds of data, for how long and why.

    Both sides see the agreement: it is scoped through ``parties`` (the provider and the recipient). Data
    flows only while it is accepted and ``valid_from <= now < valid_to`` (see :meth:`is_active`).
    """

    provider = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agreements_offered")
    recipient = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="agreements_received",
        help_text="Empty for an operation agreement: it shares with every participant of the operation.",
    )
    operation = models.ForeignKey(
        JointOperation, null=True, blank=True, on_delete=models.CASCADE, related_name="agreements"
    )
    parties = models.ManyToManyField(
        Tenant, related_name="sharing_agreements", help_text="Provider and recipient."
    )
    # An area an agreement names counts as history: it is archived, not deleted (areas.area_has_history).
    areas = models.ManyToManyField("areas.Area", blank=True, related_name="sharing_agreements")
    area_tag = models.CharField(
        max_length=50, blank=True, help_text="Also share every area of the provider with this tag."
    )
    kinds = models.JSONField(default=list, help_text=f"Any of: {', '.join(ShareKind.values)}.")
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True, help_text="Empty: until either side ends it.")
    purpose = models.TextField()
    token_access = models.BooleanField(
        default=False, help_text="API tokens of the recipient's members may read the shared data too."
    )
    state = models.CharField(max_length=10, choices=AgreementState.choices, default=AgreementState.OFFERED)
    offered_at = models.DateTimeField(default=timezone.now)
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_by_tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_reason = models.TextField(blank=True)

    objects = TenantScopedManager(path="parties")

    class Meta:
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(provider=models.F("recipient")), name="sharing_not_with_itself"
            ),
            models.CheckConstraint(
                condition=models.Q(recipient__isnull=False) | models.Q(operation__isnull=False),
                name="sharing_with_a_tenant_or_an_operation",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=models.F("valid_from")),
                name="sharing_valid_to_after_valid_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider.slug} → {self.recipient_label} ({self.pk})"

    @property
    def recipient_label(self) -> str:
        return self.recipient.slug if self.recipient_id else f"operation {self.operation.slug}"

    def is_active(self, now=None) -> bool:
        """Accepted and inside its validity window: the only state in which data is shared."""
        now = now or timezone.now()
        return (
            self.state == AgreementState.ACCEPTED
            and self.valid_from <= now
            and (self.valid_to is None or now < self.valid_to)
        )

    def status(self, now=None) -> str:
        """What a person needs to know: offered, scheduled, active, expired, declined or ended."""
        now = now or timezone.now()
        if self.state in (AgreementState.DECLINED, AgreementState.ENDED):
            return self.state
        if self.valid_to is not None and now >= self.valid_to:
            return "expired"
        if self.state == AgreementState.OFFERED:
            return "offered"
        return "active" if self.valid_from <= now else "scheduled"

    def side(self, tenant: Tenant) -> str:
        """'provider' or 'recipient': which side ``tenant`` is on."""
        return "provider" if tenant.pk == self.provider_id else "recipient"

    def audit_tenants(self, reader: Tenant | None = None) -> list[Tenant]:
        """Whose audit trail an event of this agreement goes to: provider and recipient, or for an
        operation agreement the provider and ``reader`` (or every party)."""
        if self.recipient_id:
            return [self.provider, self.recipient]
        if reader is not None:
            return [self.provider, reader]
        return list(self.parties.all())
