"""The fetch dispatcher: claims due sources and orders them fairly between tenants.

Every few seconds beat runs :func:`claim_due_sources`. It takes the due sources (PostgreSQL: ``FOR
UPDATE SKIP LOCKED``, so a second dispatcher started by mistake skips what the first holds), moves each
one's ``next_due_at`` forward by its interval in the same transaction (so it is claimed once per due
time), and returns them interleaved round-robin by tenant: the queue then alternates between tenants, so
one tenant with 500 due sources does not delay another's 5.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from .models import Source
from .services import sources_due

MAX_CLAIM = 2000


@dataclass(frozen=True)
class Claim:
    """A source fetch to run for one due time."""

    tenant_id: int
    source_id: int
    due_at: datetime
    poll_interval: int


def interleave_by_tenant(claims: list[Claim]) -> list[Claim]:
    """Round-robin over tenants, each tenant's own claims oldest-due first."""
    queues: OrderedDict[int, list[Claim]] = OrderedDict()
    for claim in sorted(claims, key=lambda c: c.due_at):
        queues.setdefault(claim.tenant_id, []).append(claim)
    ordered: list[Claim] = []
    while queues:
        for tenant_id in list(queues):
            ordered.append(queues[tenant_id].pop(0))
            if not queues[tenant_id]:
                del queues[tenant_id]
    return ordered


def claim_due_sources(*, now: datetime | None = None, limit: int = MAX_CLAIM) -> list[Claim]:
    """Claim due sources and schedule their next due time; fair order across tenants."""
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        due = Source.objects.filter(sources_due(now=now)).order_by("next_due_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(due.values_list("pk", "tenant_id", "next_due_at", "poll_interval")[:limit])
        if not rows:
            return []
        claims = [Claim(tenant_id=t, source_id=pk, due_at=d, poll_interval=i) for pk, t, d, i in rows]
        updates = []
        for claim in claims:
            following = claim.due_at + timedelta(seconds=claim.poll_interval)
            if (
                following <= now
            ):  # fell behind (worker outage): resume from now instead of a burst of catch-ups
                following = now + timedelta(seconds=claim.poll_interval)
            updates.append(Source(pk=claim.source_id, next_due_at=following, last_dispatched_at=now))
        Source.objects.bulk_update(updates, ["next_due_at", "last_dispatched_at"], batch_size=500)
    return interleave_by_tenant(claims)
