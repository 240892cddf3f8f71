"""Celery tasks of the sources app: the dispatcher, one fetch, one shared national feed, retention."""

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from core.retry import backoff_seconds
from tenants.models import Tenant
from tenants.tasks import TenantTask, for_each_tenant

from .dispatch import claim_due_sources
from .models import Source
from .services import observations_purge, source_fetch
from .shared_feeds import Member, fetch_shared_feed

logger = logging.getLogger(__name__)
MAX_FETCH_RETRIES = 2


@shared_task(name="sources.tasks.dispatch_due_sources", ignore_result=True)
def dispatch_due_sources() -> int:
    """Beat, every few seconds: enqueue one fetch per due source, interleaved fairly between tenants."""
    return enqueue_fetches(claim_due_sources())


def fetch_expiry_seconds(poll_interval: int) -> int:
    """How long a fetch message stays valid: past it the next due time's fetch supersedes it.

    When a worker dies mid-fetch, Redis hands its message out again only after the visibility timeout
    (an hour). For intervals up to half of that the message has expired by then and is dropped: the next
    due time, one interval later, has fetched the source already. For longer intervals the redelivery is
    the retry, still before the next due time. Either way the source is fetched again within one interval
    and a completed due time is never fetched twice (docs/operations.md, "Workers and sources")."""
    return max(poll_interval * 2, 120)


def enqueue_fetches(claims, *, queue: str | None = None) -> int:
    """One fetch message per claim, and one per shared feed for all its claims (``queue``: a test's own
    queue; by default Celery's)."""
    options = {"queue": queue} if queue else {}
    feeds: dict[tuple[str, str], list] = {}
    for claim in claims:
        if claim.feed is not None:
            feeds.setdefault(claim.feed, []).append(claim)
    for (kind, key), members in feeds.items():
        fetch_shared_feed_task.apply_async(
            args=[kind, key, [[c.tenant_id, c.source_id, c.due_at.isoformat()] for c in members]],
            expires=fetch_expiry_seconds(min(c.poll_interval for c in members)),
            **options,
        )
    for claim in claims:
        if claim.feed is not None:
            continue
        fetch_source_task.apply_async(
            args=[claim.tenant_id, claim.source_id, claim.due_at.isoformat()],
            expires=fetch_expiry_seconds(claim.poll_interval),
            **options,
        )
    return len(claims)


@shared_task(
    base=TenantTask,
    bind=True,
    name="sources.tasks.fetch_source",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_FETCH_RETRIES,
    ignore_result=True,
)
def fetch_source_task(self, tenant_id: int, source_id: int, due_at: str | None = None) -> str:
    """Fetch one source for one due time. Idempotent: a redelivered task for a completed due time does
    nothing, and a repeated fetch stores no duplicate observations."""
    source = Source.objects.filter(pk=source_id).select_related("tenant").first()
    if source is None or not source.enabled:
        return "skipped: gone or disabled"
    due = datetime.fromisoformat(due_at) if due_at else None
    if due is not None and source.last_completed_due_at is not None and source.last_completed_due_at >= due:
        return "skipped: already fetched for this due time"
    if due is not None:
        # The dispatch lag (due time to start of fetch) is the figure to watch when scaling workers.
        lag = (timezone.now() - due).total_seconds()
        logger.info(
            "fetch start source=%s tenant=%s due=%s lag=%.3f try=%s",
            source_id, tenant_id, due.isoformat(), lag, self.request.retries,
        )  # fmt: skip
    outcome = source_fetch(source=source, due_at=due)
    if not outcome.ok and outcome.retryable and self.request.retries < MAX_FETCH_RETRIES:
        # Exponential backoff with jitter, well inside the source's interval: 10 s, 20 s, ...
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, first=10, cap=source.poll_interval / 3)
        )
    return "ok" if outcome.ok else f"failed: {outcome.error}"


@shared_task(
    bind=True,
    name="sources.tasks.fetch_shared_feed",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_FETCH_RETRIES,
    ignore_result=True,
)
def fetch_shared_feed_task(self, kind: str, key: str, members: list) -> str:
    """Download a national feed once and fetch each member source (of any tenant) from its own part of it
    (sources.shared_feeds). Members are [tenant_id, source_id, due time]. Idempotent like a single fetch."""
    started = timezone.now()
    outcome = fetch_shared_feed(
        kind=kind,
        key=key,
        members=[Member(t, s, datetime.fromisoformat(d) if d else None) for t, s, d in members],
        token=self.request.id,
    )
    logger.info(
        "shared feed kind=%s sources=%s downloads=%s ok=%s failed=%s skipped=%s seconds=%.3f try=%s",
        kind, len(members), outcome.downloads, outcome.fetched, outcome.failed, outcome.skipped,
        (timezone.now() - started).total_seconds(), self.request.retries,
    )  # fmt: skip
    if outcome.retryable and self.request.retries < MAX_FETCH_RETRIES:
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, first=10, cap=outcome.poll_interval / 3)
        )
    return outcome.summary()


@shared_task(name="sources.tasks.purge_old_observations", ignore_result=True)
def purge_old_observations() -> int:
    """Daily fan-out: one retention purge per tenant."""
    return for_each_tenant(purge_tenant_observations)


@shared_task(
    base=TenantTask, name="sources.tasks.purge_tenant_observations", acks_late=True, ignore_result=True
)
def purge_tenant_observations(tenant_id: int) -> int:
    """Delete one tenant's observations older than its retention period."""
    tenant = Tenant.objects.get(pk=tenant_id)
    deleted = observations_purge(tenant=tenant)
    if deleted:
        logger.info(
            "Purged %s observations of %s older than %s days", deleted, tenant.slug, tenant.retention_days
        )
    return deleted
