"""Reads of the tenants app. Membership look-ups cross tenants by nature, so they run unscoped here."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django_scopes import scopes_disabled

from .models import ApiToken, Membership, Tenant


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
