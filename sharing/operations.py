"""Writes of joint operations: create, invite, join or decline, leave, close; bring areas in; duty; the
common action log.

A participant brings areas in with an *operation agreement*: a :class:`SharingAgreement` without a single
recipient, shared with every joined participant (its ``parties``) for the operation's window. Joining is
the consent to receive; bringing areas in is the consent to give. Leaving or closing ends it at once.
Every step is in the audit trail of every party of the operation.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.actions import action_create
from tenants.audit import audit_record_for_tenants
from tenants.models import Tenant
from tenants.scoping import tenant_scope
from tenants.selectors import tenant_get_active

from .choices import AgreementState, ParticipantState, ShareKind
from .models import JointOperation, OperationDuty, OperationLogLink, OperationParticipant, SharingAgreement
from .services import AgreementStateError, audit_agreement, validate_shared_selection


def _audit(
    operation: JointOperation, *, actor, action: str, details: dict | None = None, tenants=None
) -> None:
    audit_record_for_tenants(
        tenants=tenants if tenants is not None else list(operation.parties.all()),
        actor=actor,
        action=f"sharing.operation.{action}",
        obj=operation,
        object_label=operation.name,
        details={"operation": operation.slug, "lead": operation.lead.slug, **(details or {})},
    )


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _participant(operation: JointOperation, tenant: Tenant) -> OperationParticipant | None:
    return OperationParticipant.objects.filter(operation=operation, tenant=tenant).first()


def _require_lead(operation: JointOperation, tenant: Tenant, what: str) -> None:
    if tenant.pk != operation.lead_id:
        raise PermissionDenied(f"Only the lead ({operation.lead.slug}) can {what}.")


def _require_open(operation: JointOperation, now: datetime) -> None:
    if operation.status(now) == "over":
        raise AgreementStateError(f"The operation '{operation.slug}' is over.")


def _joined(operation: JointOperation) -> list[Tenant]:
    return [
        p.tenant
        for p in OperationParticipant.objects.filter(operation=operation, state=ParticipantState.JOINED)
        .select_related("tenant")
        .order_by("pk")
    ]


def _sync_parties(operation: JointOperation, *, actor=None) -> None:
    """Every open operation agreement is shared with exactly the joined participants; a participant that
    newly receives one has that in its audit trail and the provider's."""
    # In the lead's scope: the lead is a party of the operation and of every open operation agreement (it
    # never leaves), while a tenant that is joining or leaving may not be. Nothing read here is returned.
    with tenant_scope(operation.lead):
        joined = _joined(operation)
        agreements = list(
            SharingAgreement.objects.filter(operation=operation, state=AgreementState.ACCEPTED)
            .select_related("provider", "operation")
            .prefetch_related("parties")
        )
    for agreement in agreements:
        before = {t.pk for t in agreement.parties.all()}
        agreement.parties.set(joined)
        for tenant in joined:
            if tenant.pk not in before:
                audit_agreement(
                    agreement, actor=actor, action="shared_with",
                    details={"participant": tenant.slug}, tenants=[agreement.provider, tenant],
                )  # fmt: skip


def _invitees(lead: Tenant, slugs: list[str], errors: dict, existing: set[int] = frozenset()) -> list[Tenant]:
    found = []
    for slug in dict.fromkeys(slugs):
        tenant = tenant_get_active(slug=slug)
        if tenant is None:
            errors.setdefault("invite", []).append(f"There is no active tenant '{slug}'.")
        elif tenant.pk == lead.pk:
            errors.setdefault("invite", []).append("The lead takes part already.")
        elif tenant.pk in existing:
            errors.setdefault("invite", []).append(f"'{slug}' is invited already.")
        else:
            found.append(tenant)
    return found


def _check_window(starts_at, ends_at, now, errors: dict) -> None:
    if ends_at <= starts_at:
        errors["ends_at"] = ["ends_at must be after starts_at."]
    elif ends_at <= now:
        errors["ends_at"] = ["ends_at is in the past: the operation would be over before it starts."]


@transaction.atomic
def operation_create(
    *, lead: Tenant, actor, slug: str, name: str, starts_at: datetime, ends_at: datetime,
    description: str = "", public_page: bool = False, invite: list[str] = (), roles: dict | None = None,
    now: datetime | None = None,
) -> JointOperation:  # fmt: skip
    """Create an operation led by ``lead`` and invite other tenants to it."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if JointOperation.objects.filter(lead=lead, slug=slug).exists():
        errors["slug"] = [f"{lead.slug} has an operation '{slug}' already."]
    _check_window(starts_at, ends_at, now, errors)
    invitees = _invitees(lead, list(invite), errors)
    if errors:
        raise ValidationError(errors)
    operation = JointOperation.objects.create(
        lead=lead, slug=slug, name=name, description=description, starts_at=starts_at, ends_at=ends_at,
        public_page=public_page, created_at=now, created_by=_user(actor),
    )  # fmt: skip
    operation.parties.set([lead, *invitees])
    roles = roles or {}
    OperationParticipant.objects.create(
        operation=operation, tenant=lead, role=roles.get(lead.slug, "lead"), state=ParticipantState.JOINED,
        invited_at=now, responded_at=now,
    )  # fmt: skip
    for tenant in invitees:
        OperationParticipant.objects.create(
            operation=operation, tenant=tenant, role=roles.get(tenant.slug, ""), invited_at=now
        )
    _audit(
        operation, actor=actor, action="created",
        details={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                 "invited": [t.slug for t in invitees], "public_page": public_page},
    )  # fmt: skip
    return operation


@transaction.atomic
def operation_update(
    *, operation: JointOperation, tenant: Tenant, actor, now: datetime | None = None, **changes
) -> JointOperation:
    """The lead changes name, description, window or the public page; operation agreements follow."""
    now = now or timezone.now()
    _require_lead(operation, tenant, "change the operation")
    _require_open(operation, now)
    allowed = {"name", "description", "starts_at", "ends_at", "public_page"}
    changes = {k: v for k, v in changes.items() if k in allowed}
    errors: dict[str, list[str]] = {}
    starts_at, ends_at = (
        changes.get("starts_at", operation.starts_at),
        changes.get("ends_at", operation.ends_at),
    )
    if "starts_at" in changes or "ends_at" in changes:
        _check_window(starts_at, ends_at, now, errors)
    if errors:
        raise ValidationError(errors)
    for key, value in changes.items():
        setattr(operation, key, value)
    operation.save()
    SharingAgreement.objects.filter(operation=operation, state=AgreementState.ACCEPTED).update(
        valid_from=operation.starts_at, valid_to=operation.window_end()
    )
    _audit(
        operation, actor=actor, action="updated",
        details={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changes.items()},
    )  # fmt: skip
    return operation


@transaction.atomic
def operation_invite(
    *,
    operation: JointOperation,
    tenant: Tenant,
    actor,
    invitee: str,
    role: str = "",
    now: datetime | None = None,
) -> OperationParticipant:
    """The lead invites another tenant (again, after it declined or left)."""
    now = now or timezone.now()
    _require_lead(operation, tenant, "invite")
    _require_open(operation, now)
    current = {
        p.tenant_id
        for p in OperationParticipant.objects.filter(
            operation=operation, state__in=[ParticipantState.INVITED, ParticipantState.JOINED]
        )
    }
    errors: dict[str, list[str]] = {}
    (found,) = _invitees(operation.lead, [invitee], errors, existing=current) or [None]
    if errors:
        raise ValidationError(errors)
    participant, _ = OperationParticipant.objects.update_or_create(
        operation=operation, tenant=found,
        defaults={"state": ParticipantState.INVITED, "role": role, "invited_at": now, "responded_at": None},
    )  # fmt: skip
    operation.parties.add(found)
    _audit(operation, actor=actor, action="invited", details={"invited": found.slug, "role": role})
    return participant


@transaction.atomic
def operation_respond(
    *, operation: JointOperation, tenant: Tenant, actor, join: bool, now: datetime | None = None
) -> OperationParticipant:
    """An invited tenant joins (and from then on sees what the participants bring in) or declines."""
    now = now or timezone.now()
    participant = _participant(operation, tenant)
    if participant is None or participant.state != ParticipantState.INVITED:
        state = participant.state if participant else "not invited"
        raise AgreementStateError(f"{tenant.slug} is {state} here; only an open invitation can be answered.")
    _require_open(operation, now)
    participant.state = ParticipantState.JOINED if join else ParticipantState.DECLINED
    participant.responded_at = now
    participant.save(update_fields=["state", "responded_at"])
    _audit(
        operation, actor=actor, action="joined" if join else "declined", details={"participant": tenant.slug}
    )
    if join:
        _sync_parties(operation, actor=actor)
    else:
        operation.parties.remove(tenant)
    return participant


def _end_contributions(
    operation: JointOperation, provider: Tenant | None, *, actor, tenant: Tenant, reason: str, now
):
    agreements = SharingAgreement.objects.filter(operation=operation, state=AgreementState.ACCEPTED)
    if provider is not None:
        agreements = agreements.filter(provider=provider)
    for agreement in agreements.select_related("provider", "operation"):
        was = agreement.status(now)
        agreement.state = AgreementState.ENDED
        agreement.ended_at, agreement.ended_by, agreement.ended_by_tenant = now, _user(actor), tenant
        agreement.end_reason = reason
        agreement.save(update_fields=["state", "ended_at", "ended_by", "ended_by_tenant", "end_reason"])
        audit_agreement(
            agreement,
            actor=actor,
            action="ended",
            details={"ended_by_tenant": tenant.slug, "was": was, "reason": reason},
        )


@transaction.atomic
def operation_leave(*, operation: JointOperation, tenant: Tenant, actor, now: datetime | None = None) -> None:
    """A participant (not the lead) leaves: its areas stop being shared and it sees nothing more, at once."""
    now = now or timezone.now()
    if tenant.pk == operation.lead_id:
        raise AgreementStateError("The lead does not leave its operation; it closes it.")
    participant = _participant(operation, tenant)
    if participant is None or participant.state != ParticipantState.JOINED:
        raise AgreementStateError(f"{tenant.slug} has not joined this operation.")
    everyone = list(operation.parties.all())
    _end_contributions(
        operation, tenant, actor=actor, tenant=tenant, reason=f"{tenant.name} left the operation.", now=now
    )
    participant.state, participant.responded_at = ParticipantState.LEFT, now
    participant.save(update_fields=["state", "responded_at"])
    OperationDuty.objects.filter(operation=operation, tenant=tenant).delete()
    operation.parties.remove(tenant)
    _sync_parties(operation, actor=actor)
    _audit(operation, actor=actor, action="left", details={"participant": tenant.slug}, tenants=everyone)


@transaction.atomic
def operation_close(
    *, operation: JointOperation, tenant: Tenant, actor, now: datetime | None = None
) -> JointOperation:
    """The lead closes the operation before its end: every operation agreement ends at once."""
    now = now or timezone.now()
    _require_lead(operation, tenant, "close the operation")
    _require_open(operation, now)
    _end_contributions(
        operation, None, actor=actor, tenant=tenant, reason="The lead closed the operation.", now=now
    )
    operation.closed_at = now
    operation.save(update_fields=["closed_at"])
    _audit(operation, actor=actor, action="closed")
    return operation


@transaction.atomic
def operation_contribute(
    *, operation: JointOperation, tenant: Tenant, actor, area_slugs: list[str], area_tag: str = "",
    kinds: list[str], now: datetime | None = None,
) -> SharingAgreement:  # fmt: skip
    """A joined participant brings areas into the operation: shared with every joined participant for the
    operation's window."""
    now = now or timezone.now()
    participant = _participant(operation, tenant)
    if participant is None or participant.state != ParticipantState.JOINED:
        raise AgreementStateError(f"{tenant.slug} has to join the operation before bringing areas in.")
    _require_open(operation, now)
    errors: dict[str, list[str]] = {}
    area_tag = (area_tag or "").strip()
    areas = validate_shared_selection(
        provider=tenant, area_slugs=area_slugs, area_tag=area_tag, kinds=kinds, errors=errors
    )
    if errors:
        raise ValidationError(errors)
    agreement = SharingAgreement.objects.create(
        provider=tenant, recipient=None, operation=operation, area_tag=area_tag,
        kinds=[k for k in ShareKind.values if k in kinds], valid_from=operation.starts_at,
        valid_to=operation.window_end(), purpose=f"Joint operation: {operation.name}",
        state=AgreementState.ACCEPTED, offered_at=now, offered_by=_user(actor), responded_at=now,
    )  # fmt: skip
    agreement.areas.set(areas)
    agreement.parties.set(_joined(operation))
    audit_agreement(
        agreement, actor=actor, action="offered",
        details={"areas": sorted(a.slug for a in areas), "area_tag": area_tag, "kinds": agreement.kinds},
    )  # fmt: skip
    return agreement


@transaction.atomic
def operation_duty_set(*, operation: JointOperation, tenant: Tenant, user, on_duty: bool) -> bool:
    """Put a member of a joined participant on duty for the operation (alerts reach them) or off it."""
    participant = _participant(operation, tenant)
    if participant is None or participant.state != ParticipantState.JOINED:
        raise AgreementStateError(f"{tenant.slug} has not joined this operation.")
    if on_duty:
        OperationDuty.objects.get_or_create(operation=operation, tenant=tenant, user=user)
    else:
        OperationDuty.objects.filter(operation=operation, tenant=tenant, user=user).delete()
    _audit(
        operation, actor=user, action="duty", tenants=[tenant],
        details={"participant": tenant.slug, "on_duty": on_duty},
    )  # fmt: skip
    return on_duty


@transaction.atomic
def operation_log_add(
    *, operation: JointOperation, tenant: Tenant, actor, data: dict, now=None
) -> OperationLogLink:
    """Write an entry in the common action log: an action of the writer's own organisation (in its own log,
    its outcome measured as for any action), linked to the operation and shown to every participant."""
    now = now or timezone.now()
    participant = _participant(operation, tenant)
    if participant is None or participant.state != ParticipantState.JOINED:
        raise AgreementStateError(f"{tenant.slug} has not joined this operation.")
    _require_open(operation, now)
    entry = action_create(tenant=tenant, actor=actor, data=data)
    link = OperationLogLink.objects.create(operation=operation, tenant=tenant, action=entry, created_at=now)
    _audit(
        operation, actor=actor, action="logged",
        details={"participant": tenant.slug, "action": entry.pk, "intervention": entry.intervention.slug},
    )  # fmt: skip
    return link
