"""Models of the sharing app: the agreement between a providing and a receiving tenant."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Tenant
from tenants.scoping import TenantScopedManager

from .choices import AgreementState, ShareKind


class SharingAgreement(models.Model):
    """An offer by one tenant (the provider) to show the crowd picture of some of its areas to another
    tenant (the recipient): which areas, which kinds of data, for how long and why.

    Both sides see the agreement: it is scoped through ``parties`` (the provider and the recipient). Data
    flows only while it is accepted and ``valid_from <= now < valid_to`` (see :meth:`is_active`).
    """

    provider = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agreements_offered")
    recipient = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agreements_received")
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
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=models.F("valid_from")),
                name="sharing_valid_to_after_valid_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider.slug} → {self.recipient.slug} ({self.pk})"

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
