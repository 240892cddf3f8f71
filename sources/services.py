"""Writes of the sources app: sources, ingestion (push and fetch), health, push tokens, retention."""

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import egress
from core.retry import backoff_seconds
from tenants.audit import audit_record
from tenants.models import Tenant

from . import plausibility
from .choices import DEFAULT_UNITS, FUTURE_METRICS, Metric
from .connectors import connector_kinds, get_connector
from .connectors.base import AreaInfo, ConnectorContext, ConnectorError, ParseResult, Reading
from .http import HttpClient
from .models import Observation, Series, Source
from .secrets import decrypt_secrets, encrypt_secrets
from .store import insert_observations, stored_values, update_latest

logger = logging.getLogger(__name__)

MAX_REPORTED = 1000  # errors and conflicts listed per request; counts are always complete
MAX_KEPT_WARNINGS = 20  # of the last successful fetch, for the health page


# --- ingestion --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Item:
    """One row to ingest, from a push request or a connector reading."""

    row: int
    key: str
    time: datetime
    value: float
    metric: str | None = None
    unit: str | None = None
    name: str = ""
    area: str | None = None
    facility: str = ""
    location: tuple[float, float] | None = None  # (lon, lat), stored when the series is created
    line_width_m: float | None = None  # people_passing: counting-line width, stored when the series has none


@dataclass
class IngestReport:
    """What happened to each row: accepted (new), duplicate (stored already) or rejected (with a reason)."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    updated: int = 0  # forecast values revised
    errors: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    created_series: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def reject(self, row: int, key: str | None, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append({"row": row, "series": key, "reason": reason})

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "updated": self.updated,
            "errors": self.errors,
            "conflicts": self.conflicts,
            "created_series": self.created_series,
            "warnings": self.warnings,
        }


class AtomicRejectedError(Exception):
    """``?atomic=true`` and some rows were rejected: nothing was stored."""

    def __init__(self, report: IngestReport):
        super().__init__("rows rejected")
        self.report = report


def _area_ids(tenant: Tenant, slugs: set[str]) -> dict[str, int]:
    if not slugs:
        return {}
    area_model = Series._meta.get_field("area").related_model
    return dict(area_model.objects.filter(tenant=tenant, slug__in=slugs).values_list("slug", "pk"))


def default_area_id(source: Source) -> int | None:
    """A source that feeds exactly one area puts its new series there."""
    area_ids = list(source.areas.values_list("pk", flat=True)[:2])
    return area_ids[0] if len(area_ids) == 1 else None


def _resolve_series(
    source: Source, items: list[Item], *, may_create: bool, default_metric: str | None, report: IngestReport
) -> dict[str, Series]:
    keys = {item.key for item in items}
    series = {s.key: s for s in Series.objects.filter(source=source, key__in=keys)}
    _fill_locations(series, items, report)
    missing = keys - set(series)
    if not missing or not may_create:
        return series
    first = {}
    for item in items:
        if item.key in missing and item.key not in first:
            first[item.key] = item
    areas = _area_ids(source.tenant, {i.area for i in first.values() if i.area})
    fallback_area = default_area_id(source)
    new = []
    for key, item in first.items():
        metric = item.metric or default_metric
        if metric not in Metric.values or _field_problem(item):
            continue  # rejected per row below, with the reason
        if item.area and item.area not in areas:
            report.warnings.append(f"Series '{key}': no area '{item.area}' in this tenant; attach it later.")
        lon, lat = _checked_location(item, report)
        new.append(
            Series(
                tenant=source.tenant,
                source=source,
                key=key,
                name=(item.name or key)[:200],
                metric=metric,
                unit=item.unit if item.unit is not None else DEFAULT_UNITS.get(metric, ""),
                area_id=areas.get(item.area) if item.area else fallback_area,
                facility=item.facility,
                lon=lon,
                lat=lat,
                line_width_m=_checked_width(item, report) if metric == Metric.PEOPLE_PASSING else None,
            )
        )
    Series.objects.bulk_create(new, ignore_conflicts=True)  # a concurrent request may create the same key
    created = {s.key for s in new}
    series.update({s.key: s for s in Series.objects.filter(source=source, key__in=created)})
    report.created_series.extend(sorted(created))
    return series


def _fill_locations(series: dict[str, Series], items: list[Item], report: IngestReport) -> None:
    """Give a located reading's position (and a counting line's width) to an existing series that has none
    (made before the connector knew it). A position or width set by an admin is never overwritten."""
    unplaced = {key for key, s in series.items() if s.lon is None or s.lat is None}
    unmeasured = {
        key for key, s in series.items() if s.metric == Metric.PEOPLE_PASSING and s.line_width_m is None
    }
    if not unplaced and not unmeasured:
        return
    changed: dict[str, Series] = {}
    for item in items:
        if item.location is not None and item.key in unplaced:
            unplaced.discard(item.key)
            lon, lat = _checked_location(item, report)
            if lon is not None:
                series[item.key].lon, series[item.key].lat = lon, lat
                changed[item.key] = series[item.key]
        if item.line_width_m is not None and item.key in unmeasured:
            unmeasured.discard(item.key)
            width = _checked_width(item, report)
            if width is not None:
                series[item.key].line_width_m = width
                changed[item.key] = series[item.key]
    if changed:
        Series.objects.bulk_update(list(changed.values()), ["lon", "lat", "line_width_m"])


def _checked_width(item: Item, report: IngestReport) -> float | None:
    """The item's counting-line width in metres when plausible (0.1 to 1000); else None and a warning."""
    if item.line_width_m is None:
        return None
    width = item.line_width_m
    if isinstance(width, bool) or not isinstance(width, int | float) or not 0.1 <= width <= 1000:
        report.warnings.append(
            f"Series '{item.key}': line width {width!r} is not a number of metres between 0.1 and 1000; "
            "stored without a width (set line_width_m on the series)."
        )
        return None
    return float(width)


def _checked_location(item: Item, report: IngestReport) -> tuple[float | None, float | None]:
    """The item's (lon, lat) when it is a valid WGS84 position; else (None, None) and a warning."""
    if item.location is None:
        return None, None
    try:
        lon, lat = (float(v) for v in item.location)
    except (TypeError, ValueError):
        lon = lat = math.nan
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        report.warnings.append(
            f"Series '{item.key}': location {item.location!r} is not a WGS84 (longitude, latitude); "
            "created without a location."
        )
        return None, None
    return lon, lat


def ingest(
    *,
    source: Source,
    items: list[Item],
    may_create_series: bool,
    default_metric: str | None = None,
    atomic: bool = False,
    now: datetime | None = None,
    report: IngestReport | None = None,
    pushed: bool = False,
) -> IngestReport:
    """Validate rows, store the valid ones idempotently and report per row. Runs in one transaction.

    A valid row is never lost because a neighbour was bad, unless ``atomic`` asks for all or nothing.
    Every row must be plausible (``sources.plausibility``); ``pushed`` rows also lie within the push window.
    """
    now = now or timezone.now()
    report = report or IngestReport()
    oldest = plausibility.push_oldest(source.tenant, now) if pushed else None
    # Inside a caller's transaction no savepoint is needed (a database error fails the whole unit), except
    # in atomic mode, where the rejection is raised on purpose and the caller goes on using the connection.
    with transaction.atomic(savepoint=atomic):
        series_by_key = _resolve_series(
            source, items, may_create=may_create_series, default_metric=default_metric, report=report
        )
        seen: dict[tuple[int, datetime], tuple[int, float]] = {}
        rows: list[tuple[int, datetime, float]] = []
        row_of: dict[tuple[int, datetime], Item] = {}
        for item in items:
            series = series_by_key.get(item.key)
            if series is None:
                if item.metric and item.metric not in Metric.values:
                    report.reject(item.row, item.key, f"Unknown metric '{item.metric}'.")
                elif may_create_series:
                    report.reject(
                        item.row, item.key, f"Unknown series '{item.key}': give a 'metric' to create it."
                    )
                else:
                    report.reject(
                        item.row,
                        item.key,
                        f"Unknown series '{item.key}' (this caller may not create series).",
                    )
                continue
            problem = _field_problem(item) or _value_problem(item, series.metric, now, oldest)
            if problem:
                report.reject(item.row, item.key, problem)
                continue
            key = (series.pk, item.time)
            if key in seen:
                report.duplicate += 1
                if seen[key][1] != item.value and len(report.conflicts) < MAX_REPORTED:
                    report.conflicts.append(
                        _conflict(item, seen[key][1], f"repeats row {seen[key][0]} with another value")
                    )
                continue
            seen[key] = (item.row, item.value)
            rows.append((series.pk, item.time, float(item.value)))
            row_of[key] = item
        if atomic and report.rejected:
            raise AtomicRejectedError(report)
        metric_of = {s.pk: s.metric for s in series_by_key.values()}
        forecasts = [r for r in rows if metric_of[r[0]] in FUTURE_METRICS]
        if forecasts:
            rows = [r for r in rows if metric_of[r[0]] not in FUTURE_METRICS]
            for key in _store_forecasts(tenant_id=source.tenant_id, rows=forecasts, report=report):
                row_of.pop(key, None)
        inserted = insert_observations(tenant_id=source.tenant_id, rows=rows)
        report.accepted += len(inserted)
        duplicates = [key for key in row_of if key not in inserted]
        report.duplicate += len(duplicates)
        if duplicates:
            stored = stored_values(keys=duplicates[:MAX_REPORTED])
            for key in duplicates[:MAX_REPORTED]:
                item = row_of[key]
                if key in stored and stored[key] != item.value and len(report.conflicts) < MAX_REPORTED:
                    report.conflicts.append(
                        _conflict(
                            item, stored[key], "stored earlier with another value; the first write wins"
                        )
                    )
        newest: dict[int, tuple[datetime, float]] = {}
        data_time = None
        for series_id, time, value in rows + forecasts:
            is_new = (series_id, time) in inserted or metric_of[series_id] in FUTURE_METRICS
            if is_new and (series_id not in newest or time > newest[series_id][0]):
                newest[series_id] = (time, value)
            if metric_of[series_id] not in FUTURE_METRICS and (data_time is None or time > data_time):
                data_time = time
        update_latest(source=source, newest=newest, data_time=data_time)
    return report


def _store_forecasts(*, tenant_id: int, rows: list[tuple[int, datetime, float]], report: "IngestReport"):
    """Forecasts are revised until their time comes: the newest value replaces the stored one.

    Yields the keys handled (all of them); counts new values as accepted, changed ones as updated.
    """
    existing = {
        (o.series_id, o.time): o
        for o in Observation.objects.filter(
            series_id__in={r[0] for r in rows}, time__in={r[1] for r in rows}
        ).only("series_id", "time", "value")
    }
    new = []
    for series_id, time, value in rows:
        stored = existing.get((series_id, time))
        if stored is None:
            new.append(Observation(tenant_id=tenant_id, series_id=series_id, time=time, value=value))
            report.accepted += 1
        elif stored.value != value:
            Observation.objects.filter(pk=stored.pk).update(value=value)
            report.updated += 1
        else:
            report.duplicate += 1
        yield (series_id, time)
    Observation.objects.bulk_create(new, ignore_conflicts=True)


def _conflict(item: Item, kept: float, reason: str) -> dict:
    return {
        "row": item.row,
        "series": item.key,
        "time": item.time.isoformat(),
        "value": item.value,
        "kept_value": kept,
        "reason": reason,
    }


def _field_problem(item: Item) -> str | None:
    """Limits of the series columns, checked per row so one odd row cannot fail a whole batch."""
    if len(item.key) > 200:
        return "Series key is longer than 200 characters."
    if item.unit is not None and len(item.unit) > 20:
        return f"Unit {item.unit[:30]!r} is longer than 20 characters."
    if len(item.facility or "") > 200:
        return "Facility id is longer than 200 characters."
    return None


def _value_problem(item: Item, metric: str, now: datetime, oldest) -> str | None:
    """``oldest`` is set for pushed rows: they keep to the push window and count in whole numbers."""
    whole = oldest is not None
    return plausibility.value_problem(item.value, metric, whole_counts=whole) or plausibility.time_problem(
        item.time, metric, now, oldest=oldest
    )


# --- fetching ---------------------------------------------------------------------------------------


def connector_context(source: Source, areas=None) -> ConnectorContext:
    """The tenant and areas a connector may know about (the source's areas, else all the tenant's).

    Areas are read only when the connector asks for them.
    """

    def load_areas():
        chosen = areas if areas is not None else (list(source.areas.all()) if source.pk else [])
        if not chosen:
            area_model = Series._meta.get_field("area").related_model
            chosen = list(area_model.objects.filter(tenant=source.tenant, archived_at__isnull=True))
        return [
            AreaInfo(
                slug=a.slug,
                name=a.name,
                centroid=(a.centroid_lon, a.centroid_lat),
                bbox=(a.min_lon, a.min_lat, a.max_lon, a.max_lat),
                geometry=a.geometry,
            )
            for a in chosen
        ]

    return ConnectorContext(
        tenant_slug=source.tenant.slug, time_zone=source.tenant.time_zone, areas=load_areas
    )


def build_connector(
    source: Source, *, http: HttpClient | None = None, now: datetime | None = None, areas=None
):
    cls = get_connector(source.kind)
    return cls(
        config=source.config,
        secrets=decrypt_secrets(source.secrets_encrypted),
        context=connector_context(source, areas),
        http=http,
        state=source.state,
        now=now,
    )


def fetch_and_parse(
    source: Source, *, http: HttpClient | None = None, now: datetime | None = None, areas=None, fetch=None
) -> ParseResult:
    """Run the connector's fetch and parse; raises ConnectorError. Stores nothing.

    ``fetch(connector)``, when given, replaces ``connector.fetch()``: sources.shared_feeds hands a source its
    part of a download shared with other sources (it may raise ConnectorError as a fetch would)."""
    connector = build_connector(source, http=http, now=now, areas=areas)
    merged = ParseResult(state=None)
    for payload in fetch(connector) if fetch is not None else connector.fetch():
        result = connector.parse(payload)
        merged.readings.extend(result.readings)
        merged.warnings.extend(result.warnings)
        if result.state is not None:
            connector.state.update(result.state)
            merged.state = dict(connector.state)
    return merged


def readings_to_items(readings: list[Reading]) -> list[Item]:
    return [
        Item(row=i, key=r.key, time=r.time, value=r.value, metric=r.metric, unit=r.unit, name=r.name,
             area=r.area, facility=r.facility, location=r.location, line_width_m=r.line_width_m)
        for i, r in enumerate(readings)
    ]  # fmt: skip


@dataclass
class FetchOutcome:
    """Result of one fetch of a source."""

    ok: bool
    error: str = ""
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    retryable: bool = False


MAX_KEPT_WARNINGS = 50


def source_fetch(
    *,
    source: Source,
    due_at: datetime | None = None,
    http: HttpClient | None = None,
    now: datetime | None = None,
    fetch=None,
) -> FetchOutcome:
    """Fetch, parse and store one source, and record its health. A failed fetch or parse stores nothing.

    ``fetch``: see :func:`fetch_and_parse` (a shared national file, sources.shared_feeds)."""
    started = now or timezone.now()
    Source.objects.filter(pk=source.pk).update(last_attempt_at=started)
    try:
        result = fetch_and_parse(source, http=http, now=now, fetch=fetch)
    except ConnectorError as exc:
        _record_failure(source, exc.message, now=started)
        return FetchOutcome(ok=False, error=exc.message, retryable=exc.retryable)
    except Exception as exc:  # a connector bug must not kill the worker loop; the tenant sees the message
        logger.exception("Connector %s failed on source %s", source.kind, source.pk)
        message = f"Connector error {type(exc).__name__}: {exc}"[:500]
        _record_failure(source, message, now=started)
        return FetchOutcome(ok=False, error=message)
    with transaction.atomic():
        report = ingest(
            source=source, items=readings_to_items(result.readings), may_create_series=True, now=started
        )
        warnings = result.warnings + [
            f"row {e['row']} ({e['series']}): {e['reason']}" for e in report.errors[:20]
        ]
        brought = report.accepted + report.duplicate + report.updated  # rows that are (now) stored
        updates = {
            "last_success_at": started,
            "consecutive_failures": 0,
            "circuit_open_until": None,
            "last_warnings": [w[:500] for w in warnings[:MAX_KEPT_WARNINGS]],
            "empty_fetches": 0 if brought else F("empty_fetches") + 1,
        }
        if result.state is not None:
            updates["state"] = result.state
            source.state = result.state
        if due_at is not None:
            updates["last_completed_due_at"] = due_at
        Source.objects.filter(pk=source.pk).update(**updates)
    return FetchOutcome(
        ok=True,
        stored=report.accepted,
        duplicates=report.duplicate,
        rejected=report.rejected,
        warnings=warnings,
    )


def _record_failure(source: Source, message: str, *, now: datetime) -> None:
    failures = source.consecutive_failures + 1
    updates = {"last_error": message, "last_error_at": now, "consecutive_failures": failures}
    threshold = settings.SOURCE_CIRCUIT_THRESHOLD
    if failures >= threshold:
        # Open the circuit: pause with exponential backoff (capped at an hour) and jitter.
        pause = backoff_seconds(failures - threshold, first=source.poll_interval, cap=3600, jitter=(1.0, 1.2))
        updates["circuit_open_until"] = now + timedelta(seconds=pause)
    Source.objects.filter(pk=source.pk).update(**updates)
    for name, value in updates.items():
        setattr(source, name, value)


# --- sources ----------------------------------------------------------------------------------------


def _config_urls(value, path=""):
    """(path, url) of every string in a connector config under a key that names a URL."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(item, str) and (key == "url" or str(key).endswith("_url")):
                yield where, item
            else:
                yield from _config_urls(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and item.lower().startswith(("http://", "https://")):
                yield f"{path}[{index}]", item
            else:
                yield from _config_urls(item, f"{path}[{index}]")


def _unreachable_urls(config) -> list[str]:
    """Config URLs the egress policy refuses whatever DNS says (literal private addresses, localhost).

    Host names are checked again when the fetch connects (core.egress), where the address is pinned.
    """
    errors = []
    for where, url in _config_urls(config):
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL:
            continue  # the connector's schema reports malformed URLs
        problem = egress.refused_host(host) if host else None
        if problem:
            errors.append(f"{where}: the address {problem}.")
    return errors


def _validate_source(source: Source, secrets: dict | None) -> None:
    errors: dict[str, list[str]] = {}
    try:
        cls = get_connector(source.kind)
    except KeyError:
        raise ValidationError(
            {"kind": [f"Unknown connector '{source.kind}'; one of: {', '.join(connector_kinds())}."]}
        ) from None
    config_errors = cls.validate_config(source.config)
    if not config_errors:
        config_errors = _unreachable_urls(source.config)
    if config_errors:
        errors["config"] = config_errors
    if secrets is not None:
        secret_errors = cls.validate_secrets(secrets)
        if secret_errors:
            errors["secrets"] = secret_errors
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def source_create(*, tenant: Tenant, actor, data: dict) -> Source:
    """Create a source; its connector's JSON Schema checks config and secrets."""
    data = dict(data)
    areas = data.pop("areas", None)
    secrets = data.pop("secrets", None) or {}
    cls = get_connector(data["kind"]) if data.get("kind") in connector_kinds() else None
    if cls is not None:
        data.setdefault("poll_interval", cls.default_poll_interval)
    source = Source(tenant=tenant, **data)
    _validate_source(source, secrets)
    source.secrets_encrypted = encrypt_secrets(secrets)
    if source.enabled and not cls.push_only:
        source.next_due_at = timezone.now()
    source.full_clean()
    source.save()
    if areas is not None:
        source.areas.set(areas)
    if secrets:
        _audit_secret(source, actor, secrets, rotated=False)
    return source


def _audit_secret(source: Source, actor, secrets: dict, *, rotated: bool) -> None:
    """A secret was set: the entry names the keys, never the values (the request's entry follows)."""
    audit_record(
        tenant=source.tenant, actor=actor, action="source.secret.set", obj=source, object_type="source",
        object_label=source.slug, details={"keys": sorted(secrets), "replaced_earlier": rotated},
        covers_request=False,
    )  # fmt: skip


@transaction.atomic
def source_update(*, source: Source, actor, data: dict) -> Source:
    """Change a source. ``secrets`` replaces the stored secrets; leaving it out keeps them."""
    data = dict(data)
    areas = data.pop("areas", None)
    secrets = data.pop("secrets", None)
    was_enabled = source.enabled
    for name, value in data.items():
        setattr(source, name, value)
    _validate_source(source, secrets)
    if secrets is not None:
        try:
            had_secrets = bool(decrypt_secrets(source.secrets_encrypted))
        except ValueError:  # undecryptable (a lost key): they are being replaced now, so they existed
            had_secrets = True
        source.secrets_encrypted = encrypt_secrets(secrets)
        _audit_secret(source, actor, secrets, rotated=had_secrets)
    if source.enabled and (not was_enabled or "poll_interval" in data or "config" in data):
        source.next_due_at = timezone.now()  # changed set-up: fetch soon, and close the circuit
        source.circuit_open_until = None
    source.full_clean()
    source.save()
    if areas is not None:
        source.areas.set(areas)
    return source


@transaction.atomic
def source_delete(*, source: Source, actor) -> None:
    """Delete a source with its series and observations."""
    source.delete()


def observations_purge(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Delete the tenant's observations older than its retention period; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=tenant.retention_days)
    deleted, _ = Observation.objects.filter(tenant=tenant, time__lt=cutoff).delete()
    return deleted


def sources_due(*, now: datetime) -> Q:
    """The condition for a source that the dispatcher should fetch now."""
    push_kinds = [kind for kind, cls in connector_kinds().items() if cls.push_only]
    return (
        Q(enabled=True, next_due_at__lte=now)
        & ~Q(kind__in=push_kinds)
        & (Q(circuit_open_until__isnull=True) | Q(circuit_open_until__lte=now))
    )
