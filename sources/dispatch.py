"""The fetch dispatcher: claims due sources and orders them fairly between tenants.

Every few seconds beat runs :func:`claim_due_sources`. It takes the due sources (PostgreSQL: ``FOR
UPDATE SKIP LOCKED``, so a second dispatcher started by mistake skips what the first holds), moves each
one's ``next_due_at`` forward by its interval in the same transaction (so it is claimed once per due
time), and returns them interleaved round-robin by tenant: the queue then alternates between tenants, so
one tenant with 500 due sources does not delay another's 5.

Sources of a shared national feed (``sources.shared_feeds``) are claimed together: with a due one come the
feed's other sources that would fall due before its next download, and all of them get the same next due
time, so the feed is downloaded once per interval for all of them. Their claims carry the feed.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from .models import Source
from .services import sources_due
from .shared_feeds import feed_of

MAX_CLAIM = 2000


@dataclass(frozen=True)
class Claim:
    """A source fetch to run for one due time."""

    tenant_id: int
    source_id: int
    due_at: datetime
    poll_interval: int
    feed: tuple[str, str] | None = None  # (kind, key) of the shared feed it is fetched with, if any


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
        rows = list(
            due.values_list("pk", "tenant_id", "next_due_at", "poll_interval", "kind", "config")[:limit]
        )
        if not rows:
            return []
        claims = [
            Claim(tenant_id=t, source_id=pk, due_at=d, poll_interval=i, feed=feed_of(kind, config))
            for pk, t, d, i, kind, config in rows
        ]
        claims += _feed_companions(claims, now=now)
        bases = _feed_bases(claims)
        updates = []
        for claim in claims:
            base = bases.get(claim.feed, claim.due_at)  # a feed's sources share their next due time
            following = base + timedelta(seconds=claim.poll_interval)
            if (
                following <= now
            ):  # fell behind (worker outage): resume from now instead of a burst of catch-ups
                following = now + timedelta(seconds=claim.poll_interval)
            updates.append(Source(pk=claim.source_id, next_due_at=following, last_dispatched_at=now))
        Source.objects.bulk_update(updates, ["next_due_at", "last_dispatched_at"], batch_size=500)
    return interleave_by_tenant(claims)


def _feed_bases(claims: list[Claim]) -> dict[tuple[str, str], datetime]:
    """Per shared feed: the earliest due time of its claims, from which all its sources are rescheduled."""
    bases: dict[tuple[str, str], datetime] = {}
    for claim in claims:
        if claim.feed is not None and (claim.feed not in bases or claim.due_at < bases[claim.feed]):
            bases[claim.feed] = claim.due_at
    return bases


def _feed_companions(claims: list[Claim], *, now: datetime) -> list[Claim]:
    """The not yet due sources of the claimed shared feeds that would fall due before the feed's next
    download (the earliest due time plus the shortest interval of the feed's due claims): claimed now, with
    the feed, so the feed is downloaded once for all of them. Locked rows are skipped, as for due ones."""
    horizon: dict[tuple[str, str], datetime] = {}
    for feed, base in _feed_bases(claims).items():
        interval = min(c.poll_interval for c in claims if c.feed == feed)
        horizon[feed] = base + timedelta(seconds=interval)
    if not horizon:
        return []
    claimed = {c.source_id for c in claims}
    candidates = (
        Source.objects.filter(
            enabled=True, kind__in={kind for kind, _ in horizon}, next_due_at__lt=max(horizon.values())
        )
        .filter(Q(circuit_open_until__isnull=True) | Q(circuit_open_until__lte=now))
        .exclude(pk__in=claimed)
        .order_by("next_due_at")
    )
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    companions = []
    for pk, t, d, i, kind, config in candidates.values_list(
        "pk", "tenant_id", "next_due_at", "poll_interval", "kind", "config"
    ):
        feed = feed_of(kind, config)
        if feed in horizon and d < horizon[feed]:
            companions.append(Claim(tenant_id=t, source_id=pk, due_at=d, poll_interval=i, feed=feed))
    return companions
