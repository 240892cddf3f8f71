"""One download per national feed, shared by every source (of every tenant) that reads it.

Three hundred municipalities may each have a source on NDW's national ``trafficspeed.xml.gz``. Instead of
300 downloads and 300 parses of the same 50 MB file a minute, the file is downloaded once per interval and
parsed once for the union of the sites all those sources want; each source then gets only its own sites'
values and stores them through the normal path (``services.source_fetch``: health, warnings, no_data,
plausibility, idempotent store, the circuit breaker), exactly as if it had fetched the file itself.

How a connector opts in (a protocol, duck-typed so that ``connectors.base`` needs no change):

- ``shared_feed_key(config) -> str | None`` (classmethod): the feed a source with this config reads, e.g.
  the file's URL; sources of one kind with the same key share it. ``None``: this source fetches alone.
- ``shared_requests() -> list[(role, key, items, required)]`` (on the source's connector, so it sees the
  source's own config and state): every file it needs at this fetch, in the order its ``parse`` wants them,
  with the items (site ids) it wants from each. A ``required`` file that fails fails the source's fetch; an
  optional one (NDW's measurement site table) gives the source a payload with ``meta["error"]`` instead.
- ``download_shared(role, key, *, http) -> Payload`` and ``parse_shared(role, payload, items) -> (per_item,
  common)`` (classmethods): download once, parse once for the union of the items. Each source is then handed
  ``Payload(body=b"", url=key, meta={"role": role, "shared": {its items only}, **common})`` as if its own
  ``fetch`` had returned it.

Scheduling (``sources.dispatch``): sources keep their own due times. When the dispatcher claims a due source
of a shared feed, it also claims the feed's other sources that would fall due before the feed's next download
(within the shortest interval of the due ones) and gives all of them the same next due time. After one round
the sources of a feed are aligned and fetched together: one task (``fetch_shared_feed_task``), one download
per feed per interval. A source with a longer interval than the others joins every n-th download.

Several workers, several dispatchers: claiming uses ``SELECT ... FOR UPDATE SKIP LOCKED`` as for single
sources, so a source is claimed once per due time. The task also takes a cache lock per feed and interval
slot (the batch's earliest due time divided by its shortest interval; Redis ``SET NX`` in production), held
by the task id, so its own retries and redeliveries go on but a second batch of the same feed in the same
slot (two dispatchers that each claimed part of it) is dropped: its sources are rescheduled already and
are fetched with the feed at its next download.

Decisions:
- Tenants stay sealed. Sources are read with scopes disabled (this is a fan-out task), but each source's
  connector is built, and its part stored, inside its own tenant's scope; a part holds only the source's own
  items; the shared file and the other sources' selections are kept in memory only, never in any source's
  state, log line or message. Warnings name only the source's own sites.
- A shared download that fails marks every source that needs it failing with the message its own fetch would
  have given (``source_fetch`` records it: consecutive failures, circuit breaker), and a retryable failure
  retries the task like a single fetch (two retries with backoff); sources already stored for the due time
  are skipped on a retry.
- A source whose config changed between the claim and the task (another feed now) is fetched on its own.
- ``SOURCE_SHARED_FEEDS=false`` switches sharing off: every source fetches on its own again.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django_scopes import scopes_disabled

from tenants.scoping import tenant_scope

from .connectors import get_connector
from .connectors.base import ConnectorError, Payload
from .http import HttpClient
from .models import Source
from .services import build_connector, source_fetch

logger = logging.getLogger(__name__)


def feed_of(kind: str, config) -> tuple[str, str] | None:
    """(kind, key) of the shared feed a source reads, or None when it fetches on its own."""
    if not settings.SOURCE_SHARED_FEEDS:
        return None
    try:
        cls = get_connector(kind)
    except KeyError:
        return None
    key_of = getattr(cls, "shared_feed_key", None)
    if key_of is None or getattr(cls, "shared_requests", None) is None:
        return None
    key = key_of(config)
    return (kind, key) if key else None


@dataclass(frozen=True)
class Member:
    """A source to serve from a shared feed, for one due time."""

    tenant_id: int
    source_id: int
    due_at: datetime | None


@dataclass
class SharedOutcome:
    """What one run of a shared feed did."""

    fetched: int = 0  # sources whose fetch succeeded
    failed: int = 0
    skipped: int = 0  # gone, disabled, done already for the due time, or another batch held the slot
    downloads: int = 0
    retryable: bool = False  # a required download failed in a way that trying again soon may fix
    locked: bool = False  # another batch of this feed holds the slot
    poll_interval: int = 60

    def summary(self) -> str:
        if self.locked:
            return f"skipped: another batch of this feed holds the slot ({self.skipped} sources)"
        return f"{self.fetched} ok, {self.failed} failed, {self.skipped} skipped, {self.downloads} downloads"


def lock_name(kind: str, key: str, *, due: datetime, interval: int) -> str:
    """Cache key of the slot of one feed download: no URL in it, only a digest."""
    digest = hashlib.sha256(f"{kind}\n{key}".encode()).hexdigest()[:24]
    return f"shared-feed:{digest}:{interval}:{int(due.timestamp() // interval)}"


def _take_slot(name: str, token: str, timeout: int) -> bool:
    if cache.add(name, token, timeout):
        return True
    return cache.get(name) == token  # the same task again: a retry or a redelivery


def fetch_shared_feed(
    *,
    kind: str,
    key: str,
    members: list[Member],
    token: str | None = None,
    http: HttpClient | None = None,
    now: datetime | None = None,
) -> SharedOutcome:
    """Download and parse the feed once, then fetch each member source from its own part of it."""
    outcome = SharedOutcome()
    with scopes_disabled():  # a fan-out over tenants: every source is then handled in its own scope
        by_pk = {
            s.pk: s
            for s in Source.objects.filter(pk__in=[m.source_id for m in members]).select_related("tenant")
        }
    todo: list[tuple[Source, datetime | None]] = []
    for member in members:
        source = by_pk.get(member.source_id)
        # Gone, moved, disabled, or (as TenantTask does) its tenant deactivated: not fetched.
        if (
            source is None
            or source.tenant_id != member.tenant_id
            or not (source.enabled and source.tenant.is_active)
        ):
            outcome.skipped += 1
        elif (
            member.due_at is not None
            and source.last_completed_due_at is not None
            and source.last_completed_due_at >= member.due_at
        ):
            outcome.skipped += 1  # stored already for this due time (a retry, or a redelivered task)
        else:
            todo.append((source, member.due_at))
    if not todo:
        return outcome
    outcome.poll_interval = min(source.poll_interval for source, _ in todo)
    dues = [due for _, due in todo if due is not None]
    slot = lock_name(
        kind, key, due=min(dues) if dues else now or timezone.now(), interval=outcome.poll_interval
    )
    if not _take_slot(slot, token or uuid.uuid4().hex, 2 * outcome.poll_interval):
        outcome.locked, outcome.skipped = True, outcome.skipped + len(todo)
        logger.info("shared feed kind=%s: slot held by another batch; %s sources skipped", kind, len(todo))
        return outcome

    requests: dict[int, list] = {}
    alone: list[tuple[Source, datetime | None]] = []
    for source, due in todo:
        with tenant_scope(source.tenant):
            if feed_of(source.kind, source.config) != (kind, key):
                alone.append((source, due))  # its config changed since the claim
                continue
            try:
                requests[source.pk] = list(build_connector(source, now=now).shared_requests())
            except Exception:  # the source's own fetch records what is wrong with it
                logger.exception("shared feed kind=%s: source %s cannot take part", kind, source.pk)
                alone.append((source, due))

    results = _download_and_parse(kind, requests, http=http or HttpClient(), outcome=outcome)

    for source, due in todo:
        if source.pk not in requests:
            continue
        parts, error = [], None
        for role, rkey, items, required in requests[source.pk]:
            result = results[(role, rkey)]
            if isinstance(result, ConnectorError):
                if required:
                    error = result
                    break
                parts.append(
                    Payload(body=b"", url=rkey, status=0, meta={"role": role, "error": result.message})
                )
            else:
                per_item, common = result
                own = {item: per_item[item] for item in items if item in per_item}
                parts.append(Payload(body=b"", url=rkey, meta={"role": role, "shared": own, **common}))
        if error is not None and error.retryable:
            outcome.retryable = True
        with tenant_scope(source.tenant):
            fetched = source_fetch(source=source, due_at=due, now=now, fetch=_handing(parts, error))
        outcome.fetched, outcome.failed = outcome.fetched + fetched.ok, outcome.failed + (not fetched.ok)
    for source, due in alone:
        with tenant_scope(source.tenant):
            fetched = source_fetch(source=source, due_at=due, http=http, now=now)
        outcome.fetched, outcome.failed = outcome.fetched + fetched.ok, outcome.failed + (not fetched.ok)
    return outcome


def _download_and_parse(kind: str, requests: dict[int, list], *, http: HttpClient, outcome: SharedOutcome):
    """Per (role, key): the parse for the union of the items every source asked for, or the ConnectorError."""
    cls = get_connector(kind)
    wanted: dict[tuple[str, str], set[str]] = {}
    for source_requests in requests.values():
        for role, rkey, items, _required in source_requests:
            wanted.setdefault((role, rkey), set()).update(items)
    results: dict[tuple[str, str], object] = {}
    for (role, rkey), items in wanted.items():
        try:
            outcome.downloads += 1
            payload = cls.download_shared(role, rkey, http=http)
            results[(role, rkey)] = cls.parse_shared(role, payload, frozenset(items))
        except ConnectorError as exc:
            results[(role, rkey)] = exc
        except Exception as exc:  # a connector bug: logged once here, each source records the message
            logger.exception("shared feed kind=%s role=%s failed", kind, role)
            results[(role, rkey)] = ConnectorError(f"Connector error {type(exc).__name__}: {exc}"[:500])
    return results


def _handing(parts: list[Payload], error: ConnectorError | None):
    """The ``fetch`` given to source_fetch: this source's parts, or the shared failure raised as its own."""

    def fetch(_connector):
        if error is not None:
            raise error.with_traceback(None)
        return parts

    return fetch
