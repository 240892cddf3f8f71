"""Writes of the sharing app: offer, accept, decline and end an agreement, and record reads of shared data.

Every step is written to the audit trail of both tenants. A step that is not allowed in the agreement's
current state raises :class:`AgreementStateError` (409) and changes nothing.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from areas.models import Area
from tenants.audit import audit_record_for_tenants
from tenants.models import Tenant
from tenants.selectors import tenant_get_active

from .choices import AgreementState, ShareKind
from .models import SharingAgreement

MAX_PURPOSE = 2000


class AgreementStateError(Exception):
    """The step is not possible in the agreement's current state (accepting an expired offer, ...)."""


def audit_agreement(
    agreement: SharingAgreement, *, actor, action: str, details: dict | None = None, tenants=None
) -> None:
    """One entry per party (or per tenant of ``tenants``) for a step of ``agreement``."""
    audit_record_for_tenants(
        tenants=tenants if tenants is not None else agreement.audit_tenants(),
        actor=actor,
        action=f"sharing.agreement.{action}",
        obj=agreement,
        object_label=f"{agreement.provider.slug} → {agreement.recipient_label}",
        details={
            "provider": agreement.provider.slug,
            "recipient": agreement.recipient.slug if agreement.recipient_id else None,
            **({"operation": agreement.operation.slug} if agreement.operation_id else {}),
            **(details or {}),
        },
    )


def validate_shared_selection(
    *, provider: Tenant, area_slugs: list[str], area_tag: str, kinds: list[str], errors: dict
) -> list[Area]:
    """The provider's own, unarchived areas named by slug (errors name any other), and known kinds."""
    slugs = list(dict.fromkeys(area_slugs))
    areas = list(Area.objects.filter(tenant=provider, slug__in=slugs, archived_at__isnull=True))
    unknown = sorted(set(slugs) - {a.slug for a in areas})
    if unknown:
        errors["areas"] = [f"{provider.slug} has no area '{slug}' to share." for slug in unknown]
    elif not slugs and not area_tag:
        errors["areas"] = ["Name the areas to share, or an area tag (or both)."]
    bad_kinds = [k for k in kinds if k not in ShareKind.values]
    if bad_kinds:
        errors["kinds"] = [
            f"'{k}' is not a kind of data; use {', '.join(ShareKind.values)}." for k in bad_kinds
        ]
    elif not kinds:
        errors["kinds"] = ["Share at least one kind of data."]
    return areas


def _validate_offer(
    *, provider: Tenant, recipient_slug: str, area_slugs: list[str], area_tag: str, kinds: list[str],
    valid_from: datetime, valid_to: datetime | None, purpose: str, now: datetime,
) -> tuple[Tenant | None, list[Area]]:  # fmt: skip
    errors: dict[str, list[str]] = {}
    recipient = tenant_get_active(slug=recipient_slug or "")
    if recipient is None:
        errors["recipient"] = [f"There is no active tenant '{recipient_slug}'."]
    elif recipient.pk == provider.pk:
        errors["recipient"] = ["A tenant cannot share with itself."]
    areas = validate_shared_selection(
        provider=provider, area_slugs=area_slugs, area_tag=area_tag, kinds=kinds, errors=errors
    )
    if valid_to is not None and valid_to <= valid_from:
        errors["valid_to"] = ["valid_to must be after valid_from."]
    elif valid_to is not None and valid_to <= now:
        errors["valid_to"] = ["valid_to is in the past: the agreement would never be valid."]
    if not purpose.strip():
        errors["purpose"] = ["Say what the sharing is for."]
    elif len(purpose) > MAX_PURPOSE:
        errors["purpose"] = [f"At most {MAX_PURPOSE} characters."]
    if errors:
        raise ValidationError(errors)
    return recipient, areas


@transaction.atomic
def agreement_offer(
    *,
    provider: Tenant,
    actor,
    recipient_slug: str,
    area_slugs: list[str],
    area_tag: str = "",
    kinds: list[str],
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    purpose: str,
    token_access: bool = False,
    now: datetime | None = None,
) -> SharingAgreement:
    """Offer ``recipient`` the named areas (and every area tagged ``area_tag``) of ``provider``."""
    now = now or timezone.now()
    valid_from = valid_from or now
    area_tag = (area_tag or "").strip()
    recipient, areas = _validate_offer(
        provider=provider, recipient_slug=recipient_slug, area_slugs=area_slugs, area_tag=area_tag,
        kinds=kinds, valid_from=valid_from, valid_to=valid_to, purpose=purpose, now=now,
    )  # fmt: skip
    agreement = SharingAgreement.objects.create(
        provider=provider,
        recipient=recipient,
        area_tag=area_tag,
        kinds=[k for k in ShareKind.values if k in kinds],
        valid_from=valid_from,
        valid_to=valid_to,
        purpose=purpose.strip(),
        token_access=token_access,
        offered_at=now,
        offered_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    agreement.parties.set([provider, recipient])
    agreement.areas.set(areas)
    audit_agreement(
        agreement,
        actor=actor,
        action="offered",
        details={
            "areas": sorted(a.slug for a in areas),
            "area_tag": area_tag,
            "kinds": agreement.kinds,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
            "token_access": token_access,
        },
    )
    return agreement


def _open_offer(agreement: SharingAgreement, *, tenant: Tenant, verb: str, now: datetime) -> SharingAgreement:
    """The agreement, locked, when ``tenant`` may answer it (``verb``: accept or decline); else raise."""
    agreement = _locked(agreement)
    if agreement.operation_id:
        raise AgreementStateError(
            f"An operation agreement is not {verb}ed on its own: participants share by joining the operation "
            f"'{agreement.operation.slug}'."
        )
    if tenant.pk != agreement.recipient_id:
        raise PermissionDenied(
            f"Only the receiving tenant ({agreement.recipient.slug}) can {verb} this offer."
        )
    if agreement.state != AgreementState.OFFERED:
        raise AgreementStateError(
            f"This agreement is {agreement.status(now)}; only an open offer can be {verb}ed."
        )
    return agreement


def _locked(agreement: SharingAgreement) -> SharingAgreement:
    return (
        SharingAgreement.objects.select_for_update(of=("self",))
        .select_related("provider", "recipient", "operation")
        .get(pk=agreement.pk)
    )


@transaction.atomic
def agreement_accept(
    *, agreement: SharingAgreement, tenant: Tenant, actor, now: datetime | None = None
) -> SharingAgreement:
    """The recipient accepts an open offer; data flows from ``valid_from``."""
    now = now or timezone.now()
    agreement = _open_offer(agreement, tenant=tenant, verb="accept", now=now)
    if agreement.valid_to is not None and agreement.valid_to <= now:
        raise AgreementStateError(
            f"This offer expired at {agreement.valid_to.isoformat()}; "
            f"ask {agreement.provider.slug} for a new one."
        )
    agreement.state = AgreementState.ACCEPTED
    agreement.responded_at, agreement.responded_by = now, _user(actor)
    agreement.save(update_fields=["state", "responded_at", "responded_by"])
    audit_agreement(agreement, actor=actor, action="accepted")
    return agreement


@transaction.atomic
def agreement_decline(
    *, agreement: SharingAgreement, tenant: Tenant, actor, reason: str = "", now: datetime | None = None
) -> SharingAgreement:
    """The recipient declines an open offer."""
    now = now or timezone.now()
    agreement = _open_offer(agreement, tenant=tenant, verb="decline", now=now)
    agreement.state = AgreementState.DECLINED
    agreement.responded_at, agreement.responded_by = now, _user(actor)
    agreement.end_reason = reason.strip()[:MAX_PURPOSE]
    agreement.save(update_fields=["state", "responded_at", "responded_by", "end_reason"])
    audit_agreement(agreement, actor=actor, action="declined", details={"reason": agreement.end_reason})
    return agreement


@transaction.atomic
def agreement_end(
    *, agreement: SharingAgreement, tenant: Tenant, actor, reason: str = "", now: datetime | None = None
) -> SharingAgreement:
    """Either side ends an offer or an accepted agreement, at once: nothing is shared from this moment."""
    now = now or timezone.now()
    agreement = _locked(agreement)
    if agreement.operation_id and tenant.pk != agreement.provider_id:
        raise PermissionDenied(
            f"Only {agreement.provider.slug}, which brought these areas into the operation, can end this; "
            "a participant leaves the operation instead."
        )
    if agreement.state not in (AgreementState.OFFERED, AgreementState.ACCEPTED):
        raise AgreementStateError(f"This agreement is already {agreement.state}.")
    was = agreement.status(now)
    agreement.state = AgreementState.ENDED
    agreement.ended_at, agreement.ended_by, agreement.ended_by_tenant = now, _user(actor), tenant
    agreement.end_reason = reason.strip()[:MAX_PURPOSE]
    agreement.save(update_fields=["state", "ended_at", "ended_by", "ended_by_tenant", "end_reason"])
    audit_agreement(
        agreement, actor=actor, action="ended",
        details={"ended_by_tenant": tenant.slug, "was": was, "reason": agreement.end_reason},
    )  # fmt: skip
    return agreement


def shared_read_record(*, shared: list, actor, reader: Tenant, kind: str) -> None:
    """Write one audit entry per agreement read (``shared``: the ``selectors.SharedAreas`` read), in the
    trail of both tenants: who read which areas of whose."""
    for item in shared:
        agreement = item.agreement
        audit_record_for_tenants(
            tenants=agreement.audit_tenants(reader=reader),
            actor=actor,
            action="sharing.read",
            obj=agreement,
            object_label=f"{agreement.provider.slug} → {agreement.recipient_label}",
            details={"kind": kind, "reader": reader.slug, "areas": [a.slug for a in item.areas]},
        )


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
