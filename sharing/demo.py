"""Demo part of ``seed_demo``: King's Day as one joint operation of the four demo organisations, and two
ordinary sharing agreements (one active, one ended).

It runs once after every demo tenant was seeded (a finisher, tenants/demo.py), so all their areas exist.
No scope is active there: every step enters the scope of the tenant that acts, and goes through the
services of the sharing app, so the demo's operation has the same audit trail as one made in the app.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from areas.models import Area
from incidents.actions import ensure_default_interventions
from incidents.models import ActionLogEntry, InterventionType
from tenants.audit import audit_record_for_tenants
from tenants.choices import Role
from tenants.demo import register_demo_finisher
from tenants.scoping import tenant_scope

from .choices import AgreementState, ParticipantState, ShareKind
from .models import JointOperation, OperationDuty, OperationLogLink, OperationParticipant, SharingAgreement
from .operations import (
    operation_close,
    operation_contribute,
    operation_create,
    operation_duty_set,
    operation_invite,
    operation_log_add,
    operation_respond,
)
from .services import agreement_accept, agreement_end, agreement_offer

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DAY_STARTS = time(6, 0)  # the operation's day runs from 06:00 to 06:00 the next morning, local time

LEAD = "den-haag"
SLUG = "koningsdag"
NAME = "Koningsdag Den Haag"
DESCRIPTION = (
    "King's Day: the city leads, with Rotterdam as neighbouring city, the organiser and the police unit. "
    "One picture of the areas each organisation brings in, and one common log."
)
INVITED = {"rotterdam": "neighbouring city", "koningsdag-events": "organiser", "politie-den-haag": "police"}
# What each participant brings in: (its area slugs, the kinds of data it shares).
FIELD_KINDS = [ShareKind.STATUS, ShareKind.FORECASTS, ShareKind.ALERTS]
CONTRIBUTIONS = {
    "den-haag": (
        ["boulevard", "de-pier", "kurhausplein", "tramhaltes-kurhaus"],
        [*FIELD_KINDS, ShareKind.ACTION_LOG],
    ),
    "rotterdam": (["coolsingel", "erasmusbrug-noord"], FIELD_KINDS),
    "koningsdag-events": (["binnenrotte", "schouwburgplein"], FIELD_KINDS),
    "politie-den-haag": (["scheveningen-haven", "commandopost-kurhaus"], FIELD_KINDS),
}

# The common log, per organisation: (hours after 06:00, minutes it lasted or None while it goes on,
# intervention slug, area slugs, description). The operators write them.
COMMON_LOG = {
    "den-haag": [
        (2.5, None, "traffic-controllers", ["boulevard"],
         "Twelve traffic controllers (verkeersregelaars) at the boulevard crossings from the Zeekant to the "
         "Kurhaus; cyclists dismount on the boulevard until 20:00."),
        (5.25, None, "one-way-routing", ["de-pier"],
         "One-way route on De Pier: in from the boulevard stairs, out by the north exit. Stewards at both "
         "ends."),
        (7.67, 40, "close-entrance", ["kurhausplein"],
         "Entrance to the Kurhaus square from the Gevers Deynootweg closed for 40 minutes: the square was "
         "full. Visitors sent on to the boulevard; reopened after the count dropped below 1,200."),
    ],
    "rotterdam": [
        (1.75, None, "extra-public-transport", ["coolsingel"],
         "RET runs RandstadRail line E every 5 minutes between Rotterdam Centraal and Den Haag Centraal from "
         "09:00 to 20:00, for visitors going on to Scheveningen; extra hosts at station Beurs."),
        (4.0, None, "boa-deployment", ["coolsingel", "erasmusbrug-noord"],
         "Four BOA teams of Stadstoezicht on the Coolsingel and the Erasmusbrug: keep the tram lane and the "
         "emergency route clear."),
    ],
    "koningsdag-events": [
        (3.0, None, "open-extra-exit", ["schouwburgplein"],
         "Extra exit opened on the Kruiskade side of the Schouwburgplein; stewards posted at both gates."),
        (6.5, 20, "stop-inflow", ["binnenrotte"],
         "Inflow to the Binnenrotte stage stopped for 20 minutes at capacity; the queue held at the Markthal "
         "with a message on the screens."),
    ],
    "politie-den-haag": [
        (3.5, None, "police-deployment", ["commandopost-kurhaus"],
         "Command post (CoPI) on the Gevers Deynootweg staffed: police, fire service, GHOR and the "
         "municipality meet every hour; a mobile unit (ME) on standby."),
        (6.0, None, "police-deployment", ["scheveningen-haven"],
         "Extra police presence at the harbour: four foot patrols and the mounted police along the "
         "Dr. Lelykade until 22:00."),
    ],
}  # fmt: skip

ORGANISER_PURPOSE = (
    "Koningsdag: the organiser follows the crowd on the Scheveningen seafront to time its programme and "
    "place its stewards."
)
ORGANISER_AREAS = ["boulevard", "de-pier", "kurhausplein"]
ENDED_PURPOSE = (
    "Marathon Rotterdam: Den Haag watched the Coolsingel and the Erasmusbrug for visitors travelling on by "
    "RandstadRail."
)
ENDED_AREAS = ["coolsingel", "erasmusbrug-noord"]
ENDED_REASON = "The marathon is over; for Koningsdag Rotterdam shares through the joint operation."


def operation_window(now: datetime) -> tuple[datetime, datetime]:
    """The operation's day around ``now``: from 06:00 to 06:00 the next morning in Europe/Amsterdam (23 or
    25 hours on the days the clocks change). Before 06:00 that is the day that began yesterday morning, so
    the operation is running whenever the demo starts."""
    local = now.astimezone(AMSTERDAM)
    day = local.date() if local.time() >= DAY_STARTS else local.date() - timedelta(days=1)
    return (
        datetime.combine(day, DAY_STARTS, tzinfo=AMSTERDAM),
        datetime.combine(day + timedelta(days=1), DAY_STARTS, tzinfo=AMSTERDAM),
    )


@register_demo_finisher(50, "joint-operation")
def seed_joint_operation(*, tenants, users_by_tenant, stdout) -> None:
    """The operation "Koningsdag Den Haag" with all four organisations in it, and two agreements.

    Idempotent: a step that was done already is skipped. The operation is the running one with slug
    ``koningsdag``. When the one there is over (a demo seeded again on a later day) or not started yet (the
    clock was moved back), it is kept as that day's history: closed when still open, given a dated slug
    (``koningsdag-2027-04-27``), and a new ``koningsdag`` is created for today's window. Its window is not
    moved instead, because its common log would then hold entries from outside the window, and
    ``operation_update`` refuses an operation that is over.
    """
    slugs = [LEAD, *INVITED]
    missing = [slug for slug in slugs if slug not in tenants]
    if missing:
        stdout.write(f"  joint operation: skipped, demo tenants missing: {', '.join(missing)}")
        return
    now = timezone.now()
    operation = _operation(tenants, users_by_tenant, now, stdout)
    for slug in INVITED:
        _join(operation, tenants[LEAD], tenants[slug], users_by_tenant, stdout)
    for slug in slugs:
        _contribute(operation, tenants[slug], users_by_tenant[slug][Role.ADMIN], stdout)
    for slug in slugs:
        _common_log(operation, tenants[slug], users_by_tenant[slug][Role.OPERATOR], now, stdout)
    for slug in slugs:
        _on_duty(operation, tenants[slug], users_by_tenant[slug][Role.OPERATOR], stdout)
    _organiser_agreement(tenants, users_by_tenant, now, stdout)
    _ended_agreement(tenants, users_by_tenant, now, stdout)


def _operation(tenants, users_by_tenant, now: datetime, stdout) -> JointOperation:
    """The running operation ``koningsdag`` of the lead; an earlier one is kept under a dated slug."""
    lead, admin = tenants[LEAD], users_by_tenant[LEAD][Role.ADMIN]
    starts_at, ends_at = operation_window(now)
    with tenant_scope(lead):
        existing = JointOperation.objects.filter(lead=lead, slug=SLUG).first()
        if existing is not None and existing.status(now) == "running":
            stdout.write(f"  {lead.slug}: joint operation {existing.name} is running")
            return existing
        if existing is not None:
            _retire(existing, lead, admin, now, stdout)
        operation = operation_create(
            lead=lead, actor=admin, slug=SLUG, name=NAME, description=DESCRIPTION, starts_at=starts_at,
            ends_at=ends_at, public_page=True, invite=list(INVITED), roles={LEAD: "lead", **INVITED}, now=now,
        )  # fmt: skip
    stdout.write(
        f"  {lead.slug}: joint operation {NAME} from {starts_at:%Y-%m-%d %H:%M} to {ends_at:%Y-%m-%d %H:%M} "
        f"(Europe/Amsterdam), inviting {', '.join(INVITED)}"
    )
    return operation


def _retire(operation: JointOperation, lead, admin, now: datetime, stdout) -> None:
    """Keep an earlier demo operation as history under a dated slug (in the lead's scope)."""
    if operation.status(now) != "over":  # planned: the demo's clock was moved back
        operation_close(operation=operation, tenant=lead, actor=admin, now=now)
    day = operation.starts_at.astimezone(AMSTERDAM).date()
    slug = f"{SLUG}-{day.isoformat()}"
    if JointOperation.objects.filter(lead=lead, slug=slug).exists():
        slug = f"{slug}-{operation.pk}"
    name = f"{NAME} ({day.isoformat()})"
    # No service renames an operation (a slug is its address); the seeder does, and says so in the trail.
    JointOperation.objects.filter(pk=operation.pk).update(slug=slug, name=name)
    audit_record_for_tenants(
        tenants=list(operation.parties.all()), actor="manage.py seed_demo",
        action="sharing.operation.renamed", obj=operation, object_label=name,
        details={"operation": slug, "was": operation.slug, "lead": lead.slug,
                 "reason": "The demo starts a new operation for today."},
    )  # fmt: skip
    stdout.write(f"  {lead.slug}: the earlier joint operation is kept as {slug}")


def _join(operation: JointOperation, lead, tenant, users_by_tenant, stdout) -> None:
    """``tenant`` is invited (again, after it declined or left) and joins, acting as its admin."""
    with tenant_scope(lead):  # a tenant that declined or left is no party any more: read as the lead
        participant = OperationParticipant.objects.filter(operation=operation, tenant=tenant).first()
        if participant is not None and participant.state == ParticipantState.JOINED:
            return
        if participant is None or participant.state != ParticipantState.INVITED:
            operation_invite(
                operation=operation, tenant=lead, actor=users_by_tenant[LEAD][Role.ADMIN],
                invitee=tenant.slug, role=INVITED[tenant.slug],
            )  # fmt: skip
    with tenant_scope(tenant):
        operation_respond(operation=operation, tenant=tenant, actor=users_by_tenant[tenant.slug][Role.ADMIN],
                          join=True)  # fmt: skip
    stdout.write(f"  {tenant.slug}: joined {operation.name} as {INVITED[tenant.slug]}")


def _contribute(operation: JointOperation, tenant, admin, stdout) -> None:
    """``tenant`` brings its areas in, once (an open contribution of it is left as it is)."""
    area_slugs, kinds = CONTRIBUTIONS[tenant.slug]
    with tenant_scope(tenant):
        if SharingAgreement.objects.filter(
            operation=operation, provider=tenant, state=AgreementState.ACCEPTED
        ).exists():
            return
        chosen = _present(tenant, area_slugs)
        if not chosen:
            stdout.write(f"  {tenant.slug}: none of its demo areas is there to bring in")
            return
        operation_contribute(operation=operation, tenant=tenant, actor=admin, area_slugs=chosen, kinds=kinds)
    stdout.write(f"  {tenant.slug}: brought {len(chosen)} areas into {operation.name} ({', '.join(kinds)})")


def _compression(operation: JointOperation, now: datetime) -> float:
    """How much the common log's hours are compressed so that none is in the future: a demo seeded early in
    the morning has the whole story in the time since 06:00."""
    latest = max(h + (m or 0) / 60 for entries in COMMON_LOG.values() for h, m, *_ in entries)
    available = max((now - operation.starts_at).total_seconds() / 3600 - 1 / 60, 0.0)
    return min(1.0, available / latest)


def _at(start: datetime, hours: float, factor: float) -> datetime:
    return (start + timedelta(hours=hours * factor)).replace(second=0, microsecond=0)


def _common_log(operation: JointOperation, tenant, operator, now: datetime, stdout) -> None:
    """The operator's entries in the common log (an entry whose description is there already is skipped)."""
    start, factor = operation.starts_at, _compression(operation, now)
    added = 0
    with tenant_scope(tenant):
        ensure_default_interventions(tenant=tenant)
        linked = OperationLogLink.objects.filter(operation=operation, tenant=tenant).values("action_id")
        written = set(ActionLogEntry.objects.filter(pk__in=linked).values_list("description", flat=True))
        for hours, minutes, intervention, area_slugs, description in COMMON_LOG[tenant.slug]:
            areas = list(Area.objects.filter(tenant=tenant, slug__in=area_slugs, archived_at__isnull=True))
            if description in written or not areas:
                continue
            started_at = max(_at(start, hours, factor), operation.starts_at)
            data = {
                "intervention": InterventionType.objects.get(tenant=tenant, slug=intervention),
                "description": description,
                "areas": areas,
                "started_at": started_at,
                "status": "active",
            }
            if minutes is not None:
                data["status"] = "ended"
                data["ended_at"] = min(max(_at(start, hours + minutes / 60, factor), started_at), now)
            operation_log_add(operation=operation, tenant=tenant, actor=operator, data=data)
            added += 1
    if added:
        stdout.write(f"  {tenant.slug}: {added} entries in the common log of {operation.name}")


def _on_duty(operation: JointOperation, tenant, operator, stdout) -> None:
    with tenant_scope(tenant):
        if OperationDuty.objects.filter(operation=operation, tenant=tenant, user=operator).exists():
            return
        operation_duty_set(operation=operation, tenant=tenant, user=operator, on_duty=True)
    stdout.write(f"  {tenant.slug}: {operator.get_username()} on duty for {operation.name}")


def _organiser_agreement(tenants, users_by_tenant, now: datetime, stdout) -> None:
    """den-haag shares its seafront with koningsdag-events (accepted three days ago, until ended)."""
    provider, recipient = tenants[LEAD], tenants["koningsdag-events"]
    with tenant_scope(provider):
        agreements = SharingAgreement.objects.filter(
            provider=provider, recipient=recipient, purpose=ORGANISER_PURPOSE
        ).select_related("provider", "recipient")
        if any(a.status(now) in ("active", "scheduled") for a in agreements):
            return
        offer = next((a for a in agreements if a.status(now) == "offered"), None)
        if offer is None:
            offer = agreement_offer(
                provider=provider, actor=users_by_tenant[provider.slug][Role.ADMIN],
                recipient_slug=recipient.slug, area_slugs=_present(provider, ORGANISER_AREAS),
                kinds=FIELD_KINDS, purpose=ORGANISER_PURPOSE, valid_from=now - timedelta(days=3),
                now=now - timedelta(days=3),
            )  # fmt: skip
    with tenant_scope(recipient):
        agreement_accept(
            agreement=offer, tenant=recipient, actor=users_by_tenant[recipient.slug][Role.ADMIN],
            now=min(offer.offered_at + timedelta(hours=2), now),
        )  # fmt: skip
    stdout.write(f"  {provider.slug}: shares its seafront with {recipient.slug} (agreement accepted)")


def _ended_agreement(tenants, users_by_tenant, now: datetime, stdout) -> None:
    """rotterdam shared two areas with den-haag for the marathon; that agreement has ended."""
    provider, recipient = tenants["rotterdam"], tenants[LEAD]
    provider_admin = users_by_tenant[provider.slug][Role.ADMIN]
    with tenant_scope(provider):
        agreement = (
            SharingAgreement.objects.filter(provider=provider, recipient=recipient, purpose=ENDED_PURPOSE)
            .order_by("-offered_at", "-pk")
            .first()
        )
        if agreement is not None and agreement.state in (AgreementState.ENDED, AgreementState.DECLINED):
            return
        if agreement is None:
            agreement = agreement_offer(
                provider=provider, actor=provider_admin, recipient_slug=recipient.slug,
                area_slugs=_present(provider, ENDED_AREAS), kinds=[ShareKind.STATUS, ShareKind.FORECASTS],
                purpose=ENDED_PURPOSE, valid_from=now - timedelta(days=14), now=now - timedelta(days=14),
            )  # fmt: skip
    if agreement.state == AgreementState.OFFERED:
        with tenant_scope(recipient):
            agreement = agreement_accept(
                agreement=agreement, tenant=recipient, actor=users_by_tenant[recipient.slug][Role.ADMIN],
                now=min(agreement.offered_at + timedelta(hours=3), now),
            )  # fmt: skip
    with tenant_scope(provider):
        agreement_end(
            agreement=agreement, tenant=provider, actor=provider_admin, reason=ENDED_REASON,
            now=min(agreement.offered_at + timedelta(days=12), now),
        )  # fmt: skip
    stdout.write(f"  {provider.slug}: its agreement with {recipient.slug} for the marathon has ended")


def _present(tenant, slugs: list[str]) -> list[str]:
    """The slugs of ``tenant``'s unarchived areas among ``slugs`` (in the tenant's scope)."""
    found = set(
        Area.objects.filter(tenant=tenant, slug__in=slugs, archived_at__isnull=True).values_list(
            "slug", flat=True
        )
    )
    return [slug for slug in slugs if slug in found]
