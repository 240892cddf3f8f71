"""Forecasts on the platform: hourly people per area from the store, the tenant model, stored forecasts.

The engine (``areas.forecasting``) is pure computation; this module feeds it the tenant's data and keeps
its results. Per area the hourly series follows the status fusion rule (own counts, else the sum of the
sub-areas' counts, else the calibrated GPS panel, else, for an area counted only by counting lines, the
hourly specific flow of its busiest line in persons per minute per metre: its forecast has
``quantity="flow"`` and its levels come from the area's flow levels). The engine normalises every series
by its own recent mean, so flows and people train in one model. Exogenous inputs, where the tenant has
them: hourly temperature and precipitation from its weather source (observed for the past, the
five-day forecast for the future), and planned events (expected attendance spread over the event's
zones and hours).
"""

import logging
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Avg
from django.db.models.functions import TruncHour
from django.utils import timezone

from sources.models import Observation, Series
from tenants.models import Tenant

from .choices import AreaKind
from .forecasting.data import value_runs
from .forecasting.engine import ForecastModel as EngineModel
from .forecasting.engine import load_model, train
from .levels import LEVELS
from .models import Area, AreaForecast, ForecastModel, PanelCalibration
from .selectors import crowd_level_settings_get, latest_forecasts
from .status import counting_lines

logger = logging.getLogger(__name__)
TRAIN_WEEKS = 26
PREDICT_WEEKS = 8
FRESH_FOR = timedelta(minutes=90)  # a stored forecast older than this is recomputed on request
KEEP_FORECASTS = 72  # per area: three days of hourly issues, for looking back at what was expected
# A forecast is not trustworthy (the dashboard says why instead of drawing it, and no forecast alert
# comes from it) with less than a week of data, or when the counts behind it stopped or stuck.
FEW_DATA_METHODS = ("none", "recent_mean", "seasonal_naive")  # under a week of observed hours
OUTAGE_GAP = timedelta(hours=3)  # no count in the last 3 hours before the origin: the sensor is out
STUCK_HOURS = 6  # the same non-zero hourly value 6 hours running up to the origin: a stuck counter
MIN_RECORD_HOURS = 48  # scored holdout hours before an area's record is shown


def _hourly_means(series_ids: list[int], start: datetime, end: datetime) -> dict[int, dict[datetime, float]]:
    rows = (
        Observation.objects.filter(series_id__in=series_ids, time__gte=start, time__lt=end)
        .annotate(hour=TruncHour("time", tzinfo=UTC))
        .values("series_id", "hour")
        .annotate(mean=Avg("value"))
        .values_list("series_id", "hour", "mean")
    )
    result: dict[int, dict[datetime, float]] = defaultdict(dict)
    for series_id, hour, mean in rows:
        result[series_id][hour] = mean
    return result


def _sum_where_all(parts: list[dict[datetime, float]]) -> dict[datetime, float]:
    """Hourly sum of several series over the hours where every one of them has a value."""
    if not parts:
        return {}
    hours = set(parts[0]).intersection(*parts[1:])
    return {hour: sum(part[hour] for part in parts) for hour in hours}


def area_history(
    *,
    tenant: Tenant,
    areas: list[Area],
    start: datetime,
    end: datetime,
    quantities: dict[str, str] | None = None,
) -> dict[str, tuple]:
    """Hourly people (or passer-by flow) per area slug as (times, values), by the status fusion rule.

    ``quantities``, when given, receives per slug what the values are: "people" or "flow"."""
    metrics = ("people_count", "visitor_estimate", "people_passing")
    series = list(Series.objects.filter(tenant=tenant, metric__in=metrics))
    means = _hourly_means([s.pk for s in series], start, end)
    counts_by_area: dict[int, list[int]] = defaultdict(list)
    panels_by_area: dict[int, list[int]] = defaultdict(list)
    passing_by_area: dict[int, list[Series]] = defaultdict(list)
    for s in series:
        if s.metric == "people_passing":
            passing_by_area[s.area_id].append(s)
        else:
            (counts_by_area if s.metric == "people_count" else panels_by_area)[s.area_id].append(s.pk)
    ratios = {(c.area_id, c.series_id): c.ratio for c in PanelCalibration.objects.filter(tenant=tenant)}
    children: dict[int, list[int]] = defaultdict(list)
    for area in Area.objects.filter(tenant=tenant, archived_at__isnull=True):
        if area.parent_id:
            children[area.parent_id].append(area.pk)
    result = {}
    for area in areas:
        quantity = "people"
        if counts_by_area.get(area.pk):
            hourly = _sum_where_all([means.get(pk, {}) for pk in counts_by_area[area.pk]])
        elif children.get(area.pk) and all(counts_by_area.get(k) for k in children[area.pk]):
            hourly = _sum_where_all(
                [means.get(pk, {}) for k in children[area.pk] for pk in counts_by_area[k]]
            )
        elif panels_by_area.get(area.pk):
            panel = panels_by_area[area.pk][0]
            ratio = ratios.get((area.pk, panel), 1.0)
            hourly = {hour: value * ratio for hour, value in means.get(panel, {}).items()}
        elif passing_by_area.get(area.pk):
            hourly, quantity = _busiest_line_hourly(passing_by_area[area.pk], means), "flow"
        else:
            hourly = {}
        times = sorted(hourly)
        result[area.slug] = (times, [hourly[t] for t in times])
        if quantities is not None:
            quantities[area.slug] = quantity
    return result


def _busiest_line_hourly(series: list[Series], means: dict[int, dict[datetime, float]]) -> dict:
    """Per hour, the highest specific flow (persons/min/m) over the area's counting lines: the hourly
    mean of each line's directions summed, over the line's width (lines without a width are left out)."""
    hourly: dict[datetime, float] = {}
    for members in counting_lines(series).values():
        widths = [s.line_width_m for s in members if s.line_width_m]
        if not widths:
            continue
        for hour, rate in _sum_where_all([means.get(s.pk, {}) for s in members]).items():
            hourly[hour] = max(hourly.get(hour, 0.0), rate / max(widths))
    return hourly


def weather_covariates(*, tenant: Tenant, start: datetime, end: datetime) -> dict[str, tuple] | None:
    """Hourly temperature and precipitation as one value per local day, the same kind for past and future.

    The future is only known as a daily forecast (maximum temperature, total rain), so the past is given
    the same way: each day's maximum of the measured hourly temperature and its mean rain rate, spread
    over the day's hours. A day with a forecast uses the forecast (what was expected that day).
    """
    wanted = {
        "temperature": "temperature",
        "precipitation": "precipitation",
        "forecast_temperature_max": "temperature",
        "forecast_precipitation": "precipitation",
    }
    series = {}
    for s in Series.objects.filter(tenant=tenant, metric__in=wanted).order_by("pk"):
        series.setdefault(s.metric, s)
    if not series:
        return None
    tz = ZoneInfo(tenant.time_zone)

    def local_day(moment: datetime) -> datetime:
        return moment.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)

    measured = _hourly_means([s.pk for m, s in series.items() if not m.startswith("forecast_")], start, end)
    daily: dict[str, dict[datetime, float]] = {"temperature": {}, "precipitation": {}}
    for metric, s in series.items():
        if metric.startswith("forecast_"):
            continue
        per_day: dict[datetime, list[float]] = defaultdict(list)
        for moment, value in measured.get(s.pk, {}).items():
            per_day[local_day(moment)].append(value)
        summary = max if wanted[metric] == "temperature" else statistics.fmean
        daily[wanted[metric]].update({day: summary(values) for day, values in per_day.items()})
    for metric, s in series.items():
        if metric.startswith("forecast_"):
            for o in Observation.objects.filter(series=s, time__gte=start, time__lt=end + timedelta(days=6)):
                value = o.value / 24 if wanted[metric] == "precipitation" else o.value  # mm a day -> mm/h
                daily[wanted[metric]][local_day(o.time)] = value
    covariates = {}
    for name, days in daily.items():
        hourly = {}
        for day, value in days.items():
            for hour in range(25):  # 25: a day with the autumn clock change
                moment = (day + timedelta(hours=hour)).astimezone(UTC)
                if local_day(moment) == day:
                    hourly[moment] = value
        if hourly:
            times = sorted(hourly)
            covariates[name] = (times, [hourly[t] for t in times])
    return covariates or None


def event_attendance(*, tenant: Tenant, areas: list[Area]) -> dict[str, tuple] | None:
    """Expected attendance per event zone and hour: the event's expected attendance over its zones."""
    zones = [a for a in areas if a.kind == AreaKind.TEMPORARY and a.event_id and a.event.expected_attendance]
    if not zones:
        return None
    per_event = defaultdict(int)
    for zone in zones:
        per_event[zone.event_id] += 1
    result = {}
    for zone in zones:
        share = zone.event.expected_attendance / per_event[zone.event_id]
        start = max(zone.valid_from or zone.event.start, zone.event.start).astimezone(UTC)
        end = min(zone.valid_to or zone.event.end, zone.event.end).astimezone(UTC)
        hour = start.replace(minute=0, second=0, microsecond=0)
        times = []
        while hour < end:
            times.append(hour)
            hour += timedelta(hours=1)
        result[zone.slug] = (times, [share] * len(times))
    return result


def _origin(now: datetime) -> datetime:
    """The last complete hour: its mean is known."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def train_tenant_model(*, tenant: Tenant, now: datetime | None = None) -> ForecastModel:
    """Train and store the tenant's model on up to 26 weeks of hourly history."""
    now = now or timezone.now()
    areas = list(Area.objects.filter(tenant=tenant, archived_at__isnull=True).select_related("event"))
    start, end = now - timedelta(weeks=TRAIN_WEEKS), _origin(now) + timedelta(hours=1)
    history = area_history(tenant=tenant, areas=areas, start=start, end=end)
    model = train(
        history,
        covariates=weather_covariates(tenant=tenant, start=start, end=end + timedelta(hours=48)),
        events=event_attendance(tenant=tenant, areas=areas),
        now=now,
    )
    stored = ForecastModel.objects.create(
        tenant=tenant,
        version=model.version,
        trained_at=model.trained_at,
        accuracy={str(h): score.as_dict() for h, score in model.backtest.items()},
        note=model.note,
        blob=model.to_bytes(),
        series_count=sum(1 for times, _ in history.values() if times),
    )
    # Keep the current model and the one before it (to compare); older ones only take space.
    for old in ForecastModel.objects.filter(tenant=tenant).order_by("-trained_at")[2:]:
        old.delete()
    return stored


def latest_model(*, tenant: Tenant) -> tuple[ForecastModel | None, EngineModel]:
    """The stored model, loaded; without one (or an unreadable one) a model that forecasts with fallbacks."""
    stored = ForecastModel.objects.filter(tenant=tenant).order_by("-trained_at").first()
    if stored is not None:
        try:
            return stored, load_model(bytes(stored.blob))
        except ValueError:
            logger.warning(
                "Forecast model %s of %s cannot be loaded; using fallbacks", stored.pk, tenant.slug
            )
    return None, train({}, now=timezone.now())


def refresh_forecasts(
    *, tenant: Tenant, areas: list[Area] | None = None, now: datetime | None = None
) -> list[AreaForecast]:
    """Forecast the next 48 hours for the areas (default: all active ones) and store the result."""
    now = now or timezone.now()
    if areas is None:
        areas = list(Area.objects.filter(tenant=tenant, archived_at__isnull=True).select_related("event"))
    stored, model = latest_model(tenant=tenant)
    origin = _origin(now)
    start = origin - timedelta(weeks=PREDICT_WEEKS)
    quantities: dict[str, str] = {}
    history = area_history(
        tenant=tenant, areas=areas, start=start, end=origin + timedelta(hours=1), quantities=quantities
    )
    forecasts = model.predict(
        history,
        origin,
        covariates=weather_covariates(tenant=tenant, start=start, end=origin + timedelta(hours=49)),
        events=event_attendance(tenant=tenant, areas=areas) if model.uses_events else None,
    )
    settings = crowd_level_settings_get(tenant=tenant)
    accuracy = {str(h): score.as_dict() for h, score in model.backtest.items()}
    records = model.records or {}
    created = []
    for area in areas:
        forecast = forecasts.get(area.slug)
        if forecast is None:
            continue
        quantity = quantities.get(area.slug, "people")
        record = records.get(area.slug)

        def level(value, area=area, quantity=quantity):
            return area.level_of(value, settings, quantity)

        points = []
        for moment, p10, p50, p90 in zip(
            forecast.times, forecast.p10, forecast.p50, forecast.p90, strict=True
        ):
            if p50 != p50:  # NaN: method "none", nothing known
                continue
            points.append(
                {
                    "time": moment.isoformat(),
                    "p10": round(float(p10), 1),
                    "p50": round(float(p50), 1),
                    "p90": round(float(p90), 1),
                    "level": level(float(p50)),
                    "level_p90": level(float(p90)),
                }
            )
        created.append(
            AreaForecast.objects.create(
                tenant=tenant,
                area=area,
                issued_at=forecast.origin,
                method=forecast.method,
                model_version=model.version,
                trained_at=stored.trained_at if stored else None,
                accuracy=accuracy if forecast.method == "gbm" else {},
                note=forecast.note,
                points=points,
                quantity=quantity,
                record=record.as_dict() if record is not None and record.hours >= MIN_RECORD_HOURS else {},
                trust=forecast_trust(forecast.method, history.get(area.slug), origin),
            )
        )
    for area in areas:  # keep the recent issues only
        stale = (
            AreaForecast.objects.filter(area=area).order_by("-issued_at", "-pk").values_list("pk", flat=True)
        )
        AreaForecast.objects.filter(pk__in=list(stale[KEEP_FORECASTS:])).delete()
    return created


def forecast_trust(method: str, history: tuple | None, origin: datetime) -> dict:
    """Whether a forecast from ``origin`` can be shown: ``{"ok": True}``, or ``{"ok": False, "reason":
    ..., "since": ISO time, "hours": n}`` with reason ``too_little_data`` (under a week of counts),
    ``no_recent_counts`` (nothing since ``since``) or ``stuck_counts`` (the same value for ``hours``
    hours since ``since``). ``history``: the area's hourly (times, values) up to the origin."""
    times, values = history if history else ([], [])
    if method in FEW_DATA_METHODS:
        return {"ok": False, "reason": "too_little_data", "hours": len(times)}
    if not times or origin - times[-1] >= OUTAGE_GAP:
        return {"ok": False, "reason": "no_recent_counts", "since": times[-1].isoformat() if times else None}
    starts, lengths = value_runs([int(t.timestamp()) // 3600 for t in times], values)
    run = int(lengths[-1])
    if values[-1] > 0 and run >= STUCK_HOURS:
        return {"ok": False, "reason": "stuck_counts", "since": times[starts[-1]].isoformat(), "hours": run}
    return {"ok": True}


def trusted(forecast: AreaForecast) -> bool:
    """A stored forecast that may be shown and alerted on (one stored without an assessment counts as one)."""
    return bool((forecast.trust or {}).get("ok", True))


def area_forecast(*, tenant: Tenant, area: Area, now: datetime | None = None) -> AreaForecast:
    """The latest forecast of an area, recomputed when missing or older than an hour and a half."""
    now = now or timezone.now()
    latest = latest_forecasts(areas=[area]).get(area.pk)
    if latest is not None and now - latest.created_at < FRESH_FOR:
        return latest
    created = refresh_forecasts(tenant=tenant, areas=[area], now=now)
    return created[0] if created else latest


FORECAST_WINDOW = timedelta(hours=3)


def forecast_properties(forecast: AreaForecast | None, now: datetime) -> dict:
    """``forecast_level`` (the next hour), ``forecast_level_3h`` (highest within 3 h) and ``forecast``."""
    ahead = []
    if forecast is not None and trusted(forecast):
        ahead = [
            (moment, p)
            for p in forecast.points
            if now < (moment := datetime.fromisoformat(p["time"])) <= now + FORECAST_WINDOW
        ]
    if not ahead:
        untrusted = forecast is not None and not trusted(forecast)
        return {
            "forecast_level": None,
            "forecast_level_3h": None,
            "forecast": {"issued_at": forecast.issued_at.isoformat(), "trust": forecast.trust}
            if untrusted
            else None,
        }
    ahead.sort(key=lambda pair: pair[0])
    next_hour = ahead[0][1]
    highest = max(
        (p for _, p in ahead), key=lambda p: LEVELS.index(p["level"]) if p["level"] in LEVELS else -1
    )
    return {
        "forecast_level": next_hour["level"],
        "forecast_level_3h": highest["level"],
        "forecast": {
            "issued_at": forecast.issued_at.isoformat(),
            "method": forecast.method,
            "quantity": forecast.quantity,
            "next_hour": {
                key: next_hour.get(key) for key in ("time", "p10", "p50", "p90", "level", "level_p90")
            },
            "peak_3h": {key: highest.get(key) for key in ("time", "p50", "level")},
            "trust": {"ok": True},
        },
    }
