"""Reads of the tenants app. Membership look-ups cross tenants by nature, so they run unscoped here."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django_scopes import scopes_disabled

from .models import ApiToken, AuditEntry, Membership, Tenant


def tenant_get_active(*, slug: str) -> Tenant | None:
    """The active tenant with this slug, or None."""
    return Tenant.objects.filter(slug=slug, is_active=True).first()


def membership_get_active(*, user: AbstractBaseUser, tenant: Tenant) -> Membership | None:
    """The user's active membership of ``tenant``; None for anonymous, inactive or absent members."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    with scopes_disabled():
        return (
            Membership.objects.select_related("tenant", "user")
            .filter(user=user, tenant=tenant, is_active=True, tenant__is_active=True)
            .first()
        )


def memberships_of_user(*, user: AbstractBaseUser) -> list[Membership]:
    """All active memberships of a user in active tenants, for the tenant switcher and /api/v1/tenants/."""
    if not user.is_authenticated:
        return []
    with scopes_disabled():
        return list(
            Membership.objects.select_related("tenant")
            .filter(user=user, is_active=True, tenant__is_active=True)
            .order_by("tenant__name")
        )


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    """Members of the tenant (requires the tenant's scope)."""
    return (
        Membership.objects.filter(tenant=tenant)
        .select_related("user", "invited_by")
        .order_by("user__username")
    )


def api_token_by_hash(*, key_hash: str) -> ApiToken | None:
    """The token with this hash, whatever its tenant (authentication runs before any tenant is known)."""
    with scopes_disabled():
        return ApiToken.objects.select_related("user", "tenant").filter(key_hash=key_hash).first()


def audit_entry_list(
    *,
    tenant: Tenant,
    action: str | None = None,
    actor: str | None = None,
    result: str | None = None,
    since=None,
    until=None,
    object_type: str | None = None,
    object_id: str | None = None,
) -> QuerySet[AuditEntry]:
    """The tenant's audit trail, newest first (requires the tenant's scope).

    ``action`` matches a dotted prefix ('member' finds member.invite, member.update ...), ``actor`` the user
    name, ``since`` inclusive and ``until`` exclusive.
    """
    entries = AuditEntry.objects.filter(tenant=tenant)
    if action:
        entries = entries.filter(Q(action=action) | Q(action__startswith=action.rstrip(".") + "."))
    if actor:
        entries = entries.filter(actor_label=actor)
    if result:
        entries = entries.filter(result=result)
    if since:
        entries = entries.filter(created_at__gte=since)
    if until:
        entries = entries.filter(created_at__lt=until)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    return entries.order_by("-created_at", "-id")
