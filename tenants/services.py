"""Writes of the tenants app: onboarding tenants, inviting and managing members, issuing API tokens."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_scopes import scopes_disabled

from .audit import audit_record
from .choices import Role, TenantKind
from .models import ApiToken, Membership, Tenant

User = get_user_model()

TOKEN_PREFIX = "csm_"  # noqa: S105  (a visible prefix, not a secret)


def set_password_url(user) -> str:
    """An absolute one-time link where the user chooses a password (Django's reset-token machinery)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


@dataclass
class Invitation:
    """Result of inviting someone: the membership, whether an account was made, and the link sent."""

    membership: Membership
    user_created: bool
    set_password_url: str | None


def _user_for_email(*, email: str, username: str | None) -> tuple["User", bool]:
    email = User.objects.normalize_email(email).strip()
    user = User.objects.filter(email__iexact=email).order_by("pk").first()
    if user is None and username:
        user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    user = User(username=username or email, email=email)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user, True


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    kind: str = TenantKind.MUNICIPALITY,
    time_zone: str = "Europe/Amsterdam",
    admin_email: str | None = None,
    actor=None,
) -> tuple[Tenant, Invitation | None]:
    """Onboard a tenant and, when an e-mail is given, its first admin."""
    tenant = Tenant(slug=slug, name=name, kind=kind, time_zone=time_zone)
    tenant.full_clean()
    tenant.save()
    audit_record(
        tenant=tenant, actor=actor, action="tenant.create", obj=tenant, object_label=tenant.slug,
        details={"name": name, "kind": kind, "time_zone": time_zone},
    )  # fmt: skip
    invitation = None
    if admin_email:
        invitation = membership_invite(tenant=tenant, actor=actor, email=admin_email, role=Role.ADMIN)
    return tenant, invitation


TENANT_EDITABLE_FIELDS = (
    "name",
    "time_zone",
    "public_page_enabled",
    "retention_days",
    "small_count_threshold",
    "map_tile_url",
    "mfa_required_for_all",
    "audit_retention_days",
)


@transaction.atomic
def tenant_update(*, tenant: Tenant, actor, **changes) -> Tenant:
    """Change a tenant's settings (never its slug)."""
    changed = {}
    for field, value in changes.items():
        if field not in TENANT_EDITABLE_FIELDS:
            raise ValidationError({field: "This setting cannot be changed here."})
        if getattr(tenant, field) != value:
            changed[field] = [getattr(tenant, field), value]
        setattr(tenant, field, value)
    tenant.full_clean()
    tenant.save()
    audit_record(
        tenant=tenant, actor=actor, action="tenant.update", obj=tenant, object_label=tenant.slug,
        details={"changes": changed},
    )  # fmt: skip
    return tenant


@transaction.atomic
def membership_invite(
    *, tenant: Tenant, actor, email: str, role: str, username: str | None = None
) -> Invitation:
    """Give someone a role in the tenant, creating the account when needed and mailing a set-password link."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role '{role}'."})
    user, created = _user_for_email(email=email, username=username)
    with scopes_disabled():
        existing = Membership.objects.filter(tenant=tenant, user=user).first()
    if existing is not None:
        raise ValidationError({"email": f"{user.username} is already a member of {tenant.name}."})
    membership = Membership.objects.create(tenant=tenant, user=user, role=role, invited_by=actor)
    audit_record(
        tenant=tenant, actor=actor, action="member.invite", obj=membership, object_type="member",
        object_label=user.get_username(),
        details={"user": user.get_username(), "role": role, "user_created": created},
    )  # fmt: skip
    link = set_password_url(user) if not user.has_usable_password() else None
    body = (
        f"You have been given the role '{membership.get_role_display()}' in {tenant.name} "
        "on the Crowd Safety Manager.\n"
    )
    if link:
        body += f"\nChoose your password here: {link}\n"
    else:
        body += f"\nLog in at {settings.SITE_URL}{settings.LOGIN_URL}\n"
    transaction.on_commit(
        lambda: send_mail(
            f"Crowd Safety Manager: {tenant.name}", body, None, [user.email], fail_silently=True
        )
    )
    return Invitation(membership=membership, user_created=created, set_password_url=link)


def _ensure_an_admin_remains(membership: Membership, *, role: str, is_active: bool) -> None:
    was_admin = membership.role == Role.ADMIN and membership.is_active
    stays_admin = role == Role.ADMIN and is_active
    if was_admin and not stays_admin:
        others = (
            Membership.objects.filter(tenant=membership.tenant, role=Role.ADMIN, is_active=True)
            .exclude(pk=membership.pk)
            .exists()
        )
        if not others:
            raise ValidationError({"role": "A tenant keeps at least one active admin."})


@transaction.atomic
def membership_update(
    *, membership: Membership, actor, role: str | None = None, is_active: bool | None = None
) -> Membership:
    """Change a member's role or suspend/restore the membership; the last active admin stays."""
    new_role = membership.role if role is None else role
    new_active = membership.is_active if is_active is None else is_active
    if new_role not in Role.values:
        raise ValidationError({"role": f"Unknown role '{new_role}'."})
    _ensure_an_admin_remains(membership, role=new_role, is_active=new_active)
    changes = {}
    if new_role != membership.role:
        changes["role"] = [membership.role, new_role]
    if new_active != membership.is_active:
        changes["is_active"] = [membership.is_active, new_active]
    membership.role, membership.is_active = new_role, new_active
    membership.save(update_fields=["role", "is_active", "updated_at"])
    audit_record(
        tenant=membership.tenant, actor=actor, action="member.update", obj=membership, object_type="member",
        object_label=membership.user.get_username(), details={"changes": changes},
    )  # fmt: skip
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    """Remove a member from the tenant; the last active admin cannot be removed."""
    _ensure_an_admin_remains(membership, role="", is_active=False)
    audit_record(
        tenant=membership.tenant, actor=actor, action="member.remove", obj=membership, object_type="member",
        object_label=membership.user.get_username(),
        details={"user": membership.user.get_username(), "role": membership.role},
    )  # fmt: skip
    membership.delete()


def membership_unlock(*, membership: Membership, actor) -> bool:
    """An admin ends the log-in lock-out (and the failure count) of a member; True when one was locked."""
    from . import lockout

    username = membership.user.get_username()
    was_locked = lockout.locked_until(username=username) is not None
    lockout.unlock(username=username)
    audit_record(
        tenant=membership.tenant, actor=actor, action="member.unlock", obj=membership, object_type="member",
        object_label=username, details={"user": username, "was_locked": was_locked},
    )  # fmt: skip
    return was_locked


def hash_token(raw: str) -> str:
    """SHA-256 of a raw token; tokens are random and long, so a fast hash is the right tool."""
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_issue(
    *,
    user,
    tenant: Tenant | None = None,
    name: str = "",
    ttl_days: int | None = None,
    source_ids: list[int] | None = None,
    may_create_series: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw key, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    days = settings.API_TOKEN_TTL_DAYS if ttl_days is None else ttl_days
    token = ApiToken(
        user=user,
        tenant=tenant,
        name=name,
        source_ids=list(source_ids or []),
        may_create_series=may_create_series,
        prefix=raw[:12],
        key_hash=hash_token(raw),
        expires_at=timezone.now() + timedelta(days=days),
    )
    with scopes_disabled():
        token.save()
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token at once."""
    with scopes_disabled():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_touch(*, token: ApiToken) -> None:
    """Record use, at most once a minute per token so reads do not turn into writes."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        with scopes_disabled():
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def api_tokens_purge_expired(*, older_than_days: int = 30) -> int:
    """Delete tokens that expired or were revoked more than ``older_than_days`` ago."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    with scopes_disabled():
        expired = ApiToken.objects.filter(expires_at__lt=cutoff)
        revoked = ApiToken.objects.filter(revoked_at__lt=cutoff)
        return expired.delete()[0] + revoked.delete()[0]
