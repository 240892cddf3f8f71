"""Reads of the sources app: sources with health, series, and observation queries with resampling."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Avg, Count, DateTimeField, F, Func, Max, Min, QuerySet, Sum, Value
from django.db.models.functions import TruncDay
from django.utils import timezone

from tenants.models import Tenant

from .choices import DEFAULT_UNITS, Metric, SourceStatus
from .connectors import connector_kinds
from .models import Observation, Series, Source

RESAMPLE_SECONDS = {"5min": 300, "15min": 900, "hour": 3600}
AGGREGATES = {"mean": Avg, "sum": Sum, "min": Min, "max": Max}
MAX_POINTS = 50_000
SERIES_STALE_AFTER = timedelta(minutes=15)  # a map marker older than this is shown as stale


def source_list(*, tenant: Tenant) -> QuerySet[Source]:
    return Source.objects.filter(tenant=tenant).prefetch_related("areas").order_by("name", "pk")


def data_inventory(*, tenant: Tenant) -> list[dict]:
    """The data inventory of the public register, generated from the connector registry: per connector
    what it stores, at which aggregation, whether personal data (never), for how long, and how many of the
    tenant's sources use it. Every registered connector is listed, in use here or not."""
    in_use = dict(
        Source.objects.filter(tenant=tenant)
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    days = tenant.retention_days
    entries = []
    for kind, cls in connector_kinds().items():
        declared = cls.inventory
        entries.append(
            {
                "kind": kind,
                "label": str(cls.label),
                "stores": cls.stores,
                "metrics": [
                    {"metric": str(m), "label": str(Metric(m).label), "unit": DEFAULT_UNITS.get(m, "")}
                    for m in (declared.metrics if declared else ())
                ],
                "series": declared.series if declared else "",
                "aggregation": declared.aggregation if declared else "",
                "personal_data": declared.personal_data if declared else "",
                "retention_days": days,
                "retention": (
                    f"Each value is deleted {days} days after the time it describes, by the nightly "
                    "retention purge; a deleted source's values are deleted with it."
                ),
                "legal_basis": cls.legal_basis,
                "sources_in_use": in_use.get(kind, 0),
            }
        )
    return entries


def series_list(
    *, tenant: Tenant, source: Source | None = None, area=None, metric: str | None = None
) -> QuerySet[Series]:
    series = Series.objects.filter(tenant=tenant).select_related("source", "area")
    if source is not None:
        series = series.filter(source=source)
    if area is not None:
        series = series.filter(area=area)
    if metric:
        series = series.filter(metric=metric)
    return series.order_by("source__name", "key")


def series_located(*, tenant: Tenant, metrics: list[str] | None = None) -> QuerySet[Series]:
    """The tenant's series that have a position (for the map), with their source; one query."""
    series = Series.objects.filter(tenant=tenant, lon__isnull=False, lat__isnull=False)
    series = series.select_related("source")
    if metrics:
        series = series.filter(metric__in=metrics)
    return series.order_by("source__slug", "key")


def series_is_stale(series: Series, *, now: datetime) -> bool:
    """No value yet, or the latest one is older than SERIES_STALE_AFTER."""
    return series.latest_time is None or now - series.latest_time > SERIES_STALE_AFTER


def source_status(source: Source, *, now: datetime | None = None) -> str:
    """ok, failing, circuit_open, stale, never_run, disabled or push (see SourceStatus)."""
    now = now or timezone.now()
    if not source.enabled:
        return SourceStatus.DISABLED
    cls = connector_kinds().get(source.kind)
    if cls is not None and cls.push_only:
        if source.last_data_at and now - source.last_data_at > timedelta(
            seconds=3 * max(source.poll_interval, 60)
        ):
            return SourceStatus.STALE
        return SourceStatus.PUSH
    if source.circuit_open_until and source.circuit_open_until > now:
        return SourceStatus.CIRCUIT_OPEN
    if source.consecutive_failures:
        return SourceStatus.FAILING
    if source.last_success_at is None:
        return SourceStatus.NEVER_RUN
    if source.empty_fetches >= settings.SOURCE_NO_DATA_FETCHES:
        return SourceStatus.NO_DATA
    if source.last_data_at and now - source.last_data_at > timedelta(seconds=3 * source.poll_interval + 600):
        return SourceStatus.STALE
    return SourceStatus.OK


def source_health(source: Source, *, now: datetime | None = None) -> dict:
    """Health of one source for the API and the health page."""
    now = now or timezone.now()
    lag = (now - source.last_data_at).total_seconds() if source.last_data_at else None
    circuit = "open" if source.circuit_open_until and source.circuit_open_until > now else "closed"
    return {
        "status": source_status(source, now=now),
        "last_attempt_at": source.last_attempt_at,
        "last_success_at": source.last_success_at,
        "last_error_at": source.last_error_at,
        "last_error": source.last_error,
        "last_warnings": source.last_warnings,
        "empty_fetches": source.empty_fetches,
        "consecutive_failures": source.consecutive_failures,
        "circuit": circuit,
        "circuit_open_until": source.circuit_open_until if circuit == "open" else None,
        "last_data_at": source.last_data_at,
        "lag_seconds": round(lag, 1) if lag is not None else None,
        "next_due_at": source.next_due_at,
    }


class Bucket(Func):
    """Start of the fixed-width time bucket (seconds) an observation falls in, on PostgreSQL and SQLite."""

    output_field = DateTimeField()

    def __init__(self, expression, seconds: int):
        super().__init__(expression, Value(seconds))
        self.seconds = seconds

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"date_bin(make_interval(secs => %s), {sql}, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
            [self.seconds, *params],
        )

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            "strftime('%%Y-%%m-%%d %%H:%%M:%%S', "
            f"(CAST(strftime('%%s', {sql}) AS INTEGER) / %s) * %s, 'unixepoch')",
            [*params, self.seconds, self.seconds],
        )


@dataclass
class ObservationQuery:
    series: list[Series]
    start: datetime
    end: datetime
    resample: str = "raw"
    agg: str = "mean"
    time_zone: str = "Europe/Amsterdam"


class TooManyPointsError(ValueError):
    """The query would return more points than one response carries."""


def observation_points(query: ObservationQuery) -> dict[int, list[tuple[datetime, float]]]:
    """Points per series id in [start, end), raw or resampled with an aggregate; one query."""
    ids = [s.pk for s in query.series]
    result: dict[int, list[tuple[datetime, float]]] = {pk: [] for pk in ids}
    if not ids:
        return result
    base = Observation.objects.filter(series_id__in=ids, time__gte=query.start, time__lt=query.end)
    if query.resample == "raw":
        rows = base.order_by("series_id", "time").values_list("series_id", "time", "value")
    else:
        if query.resample == "day":
            bucket = TruncDay("time", tzinfo=ZoneInfo(query.time_zone))
        else:
            bucket = Bucket(F("time"), RESAMPLE_SECONDS[query.resample])
        rows = (
            base.annotate(bucket=bucket)
            .values("series_id", "bucket")
            .annotate(value=AGGREGATES[query.agg]("value"), n=Count("id"))
            .order_by("series_id", "bucket")
            .values_list("series_id", "bucket", "value")
        )
    rows = list(rows[: MAX_POINTS + 1])
    if len(rows) > MAX_POINTS:
        raise TooManyPointsError(
            f"More than {MAX_POINTS} points; narrow the time range or resample (5min, 15min, hour, day)."
        )
    for series_id, time, value in rows:
        if isinstance(time, str):  # SQLite returns the bucket as text
            time = datetime.fromisoformat(time).replace(tzinfo=UTC)
        result[series_id].append((time, value))
    return result
