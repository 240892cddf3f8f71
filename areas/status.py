"""The crowd picture now: people present, density, level, trend and freshness per area.

Fusion rule, for the series attached to an area (and, for a parent, its sub-areas):

1. **Direct counts first.** Fresh people-count series (counting cameras) of the area add up: several
   cameras on one area count disjoint parts of it.
2. **Sub-area counts.** An area without its own counts, whose sub-areas all have fresh counts, is the
   sum of its sub-areas (a boulevard and its sections).
3. **Calibrated GPS panel.** Otherwise a visitor-panel estimate times the ratio fitted where panel and
   counts overlapped (``PanelCalibration``, refit daily over 14 days of hourly means, least squares
   through the origin). Without a fit the raw panel value is used and marked uncalibrated.
4. **Flows.** Otherwise people in minus people out per interval, integrated since the daily reset at
   04:00 local time (when areas are nearly empty), never below zero: the reset is the drift correction.
5. **Passer-by flow.** Otherwise, counting lines (``people_passing``: people crossing a line per minute,
   as counting cameras and wifi/Bluetooth sensors such as Amsterdam's CMSA report them) are not read as
   people present. The series of one line (its walking directions share the ``facility``) add up, are
   divided by the line's width (``line_width_m``), and the busiest line gives the area's specific flow in
   persons per minute per metre. Its level follows the area's ``flow_method`` (``areas.levels``: Fruin's
   walkway levels of service, or a Weidmann density estimate). ``people`` stays empty: a flow does not say
   how many are present. A line without a width is listed but cannot give a level.

Stale series (no value for ``stale_after``) do not count; when every contributing series is stale the
last estimate is still shown, flagged stale. Everything is read from each series' latest value and a
bounded look-back, in a fixed number of queries whatever the size of the history.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone

from sources.models import Observation, Series

from .levels import public_label
from .models import Area, PanelCalibration
from .selectors import crowd_level_settings_get

COUNT = "people_count"
PANEL = "visitor_estimate"
FLOW_IN, FLOW_OUT = "people_in", "people_out"
PASSING = "people_passing"
STATUS_METRICS = (COUNT, PANEL, FLOW_IN, FLOW_OUT, PASSING)
STALE_AFTER = timedelta(minutes=15)
TREND_WINDOWS = {"15m": timedelta(minutes=15), "60m": timedelta(minutes=60)}
LOOKBACK = timedelta(minutes=20)  # a value this old still stands for "then" (sources report every 1-15 min)
RESET_HOUR = 4


@dataclass
class SourceContribution:
    source: str
    series: str
    metric: str
    value: float | None
    time: datetime | None
    stale: bool
    used: bool


@dataclass
class AreaStatus:
    """What operators see for one area now."""

    area_id: int
    slug: str
    name: str
    people: float | None = None
    density: float | None = None
    occupancy_pct: float | None = None
    level: str | None = None
    basis: str | None = None
    flow: float | None = None  # passer-by areas: persons per minute per metre of the busiest line
    flow_method: str | None = None  # "fruin" or "weidmann" when the level comes from a flow
    flow_line: str | None = None  # the busiest counting line (its facility, or its series key)
    saturated: bool | None = None  # weidmann: the flow is at the diagram's capacity (may be jammed)
    method: str = "none"
    calibrated: bool | None = None
    trend: dict = field(default_factory=dict)
    as_of: datetime | None = None
    age_seconds: float | None = None
    stale: bool = True
    sources: list[SourceContribution] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["public_label"] = public_label(self.level) if self.level else None
        for key in ("people", "density", "occupancy_pct", "age_seconds", "flow"):
            if data[key] is not None:
                data[key] = round(data[key], 3 if key == "density" else 1)
        return data


# The status keys a map feature carries (no sources: a feature is also what other tenants may be shown).
MAP_STATUS_KEYS = (
    "people",
    "density",
    "occupancy_pct",
    "flow",
    "flow_method",
    "basis",
    "level",
    "public_label",
    "method",
    "trend",
    "as_of",
    "stale",
)


def _trend(
    now_value: float | None, then_value: float | None, *, small: float = 5.0
) -> tuple[str | None, float | None]:
    if now_value is None or then_value is None:
        return None, None
    change = now_value - then_value
    # Small areas wobble: a change counts when it is over 10 % and over 5 people (1 person/min/m of flow).
    if abs(change) <= max(small, 0.10 * max(then_value, 1.0)):
        return "steady", round(change, 1)
    return ("rising" if change > 0 else "falling"), round(change, 1)


def counting_lines(series: list[Series]) -> dict[str, list[Series]]:
    """Passer-by series by counting line: the series' ``facility`` (the walking directions of one sensor),
    else its own key."""
    lines: dict[str, list[Series]] = {}
    for s in series:
        lines.setdefault(s.facility or s.key, []).append(s)
    return lines


def line_flows(series: list[Series], value=lambda s: s.latest_value) -> dict[str, tuple[float | None, list]]:
    """Specific flow per counting line: {line: (persons/min/m or None without a width, its series)}.

    A line is the series' ``facility`` (the walking directions of one sensor), else its own key; its rate
    is the sum of its series' values (``value`` picks which: the latest, or one at a trend offset), over the
    line's width. A line with a series of unknown value has no flow.
    """
    result = {}
    for line, members in counting_lines(series).items():
        widths = [s.line_width_m for s in members if s.line_width_m]
        values = [value(s) for s in members]
        flow = None if not widths or None in values else sum(values) / max(widths)
        result[line] = (flow, members)
    return result


def busiest_line(flows: dict[str, tuple[float | None, list]]) -> tuple[str | None, float | None]:
    """The line with the highest specific flow, and that flow (None, None when no line has one)."""
    known = [(flow, line) for line, (flow, _) in flows.items() if flow is not None]
    if not known:
        return None, None
    flow, line = max(known)
    return line, flow


def _reset_time(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    reset = datetime.combine(local.date(), time(RESET_HOUR), tzinfo=tz)
    return reset if reset <= local else reset - timedelta(days=1)


@dataclass
class FusionInput:
    """Everything the fusion rule reads for one area: no database behind it."""

    area: Area
    series: list[Series]  # the area's series, each with latest_value/latest_time and then_<window> values
    now: datetime
    settings: object = None  # the tenant's CrowdLevelSettings (or None: the defaults)
    children: list["AreaStatus"] = field(default_factory=list)  # the statuses of its sub-areas
    calibrations: dict[int, float] = field(default_factory=dict)  # series id -> fitted panel ratio
    flow_totals: dict[int, float] = field(default_factory=dict)  # series id -> people since the reset


def fuse(inputs: FusionInput) -> AreaStatus:
    """The fusion rule (module docstring) for one area: its estimate, level, trend and freshness from the
    values in ``inputs``. Pure: no queries, no clock."""
    area, own, now, settings = inputs.area, inputs.series, inputs.now, inputs.settings
    status = AreaStatus(area_id=area.pk, slug=area.slug, name=area.name)
    fresh = {s.pk: s.latest_time is not None and now - s.latest_time <= STALE_AFTER for s in own}
    contributions = {
        s.pk: SourceContribution(
            s.source.slug, s.key, s.metric, s.latest_value, s.latest_time, not fresh[s.pk], False
        )
        for s in own
    }
    chosen, then = None, {}
    counts = [s for s in own if s.metric == COUNT and s.latest_value is not None]
    fresh_counts = [s for s in counts if fresh[s.pk]]
    kids = inputs.children
    panels = [s for s in own if s.metric == PANEL and s.latest_value is not None]
    flows_in = [s for s in own if s.metric == FLOW_IN]
    passing = [s for s in own if s.metric == PASSING and s.latest_value is not None]
    if fresh_counts or (counts and not panels and not kids):
        use = fresh_counts or counts
        chosen = ("counts", use, sum(s.latest_value for s in use), True)
        for name in TREND_WINDOWS:
            values = [getattr(s, f"then_{name}") for s in use]
            then[name] = None if None in values else sum(values)
    elif kids and all(k.method != "none" and not k.stale and k.people is not None for k in kids):
        people = sum(k.people for k in kids)
        status.method, status.people, status.calibrated = "sub_area_counts", people, None
        status.as_of = min(k.as_of for k in kids)
        for name in TREND_WINDOWS:
            changes = [k.trend.get(f"change_{name}") for k in kids]
            then[name] = None if None in changes else people - sum(changes)
        status.stale = False
    elif panels:
        panel = max(panels, key=lambda s: (fresh[s.pk], s.latest_time))
        ratio = inputs.calibrations.get(panel.pk)
        factor = ratio if ratio is not None else 1.0
        chosen = ("calibrated_panel" if ratio is not None else "uncalibrated_panel", [panel],
                  panel.latest_value * factor, ratio is not None)  # fmt: skip
        for name in TREND_WINDOWS:
            value = getattr(panel, f"then_{name}")
            then[name] = None if value is None else value * factor
    elif flows_in:
        outs = [s for s in own if s.metric == FLOW_OUT]
        use = flows_in + outs
        total = sum(inputs.flow_totals.get(s.pk, 0.0) for s in flows_in) - sum(
            inputs.flow_totals.get(s.pk, 0.0) for s in outs
        )
        chosen = ("flows", use, max(total, 0.0), True)
    elif passing:
        fresh_passing = [s for s in passing if fresh[s.pk]] or passing
        flows = line_flows(fresh_passing)
        line, flow = busiest_line(flows)
        if line is not None:
            members = flows[line][1]
            status.method, status.calibrated, status.flow_line = "passer_by_flow", None, line
            for s in members:
                contributions[s.pk].used = True
            status.as_of = max(s.latest_time for s in members)
            status.stale = not any(fresh[s.pk] for s in members)
            assessment = area.assess_flow(flow, settings)
            status.flow, status.flow_method, status.level, status.basis = (
                flow, assessment.method, assessment.level, assessment.basis,
            )  # fmt: skip
            status.density = assessment.density
            status.saturated = assessment.saturated if assessment.method == "weidmann" else None
            for name in TREND_WINDOWS:
                then_flows = line_flows(members, value=lambda s, n=name: getattr(s, f"then_{n}"))
                then_flow = then_flows[line][0]
                direction, change = _trend(flow, then_flow, small=1.0)
                status.trend[name], status.trend[f"change_{name}"] = direction, change
    if chosen:
        status.method, used, status.people, status.calibrated = chosen
        if status.method == "counts":
            status.calibrated = None
        for s in used:
            contributions[s.pk].used = True
        times = [s.latest_time for s in used if s.latest_time]
        status.as_of = max(times) if times else None
        status.stale = not any(fresh[s.pk] for s in used)
    status.sources = list(contributions.values())
    if status.as_of is not None:
        status.age_seconds = (now - status.as_of).total_seconds()
    if status.people is not None:
        result = area.assess_people(status.people, settings)
        status.density, status.occupancy_pct, status.level, status.basis = (
            result.density, result.occupancy_pct, result.level, result.basis,
        )  # fmt: skip
        for name in TREND_WINDOWS:
            direction, change = _trend(status.people, then.get(name))
            status.trend[name], status.trend[f"change_{name}"] = direction, change
    return status


def area_statuses(
    *, tenant, areas: list[Area] | None = None, now: datetime | None = None, historical: bool = False
) -> dict[int, AreaStatus]:
    """Status of the given areas (default: all active areas of the tenant), in a fixed number of queries:
    this selector reads the series, trend values, calibrations and flow totals, then applies :func:`fuse`.

    ``historical``: the status as it was at ``now`` in the past (reads the value at that time instead of
    each series' latest value; used to replay alert rules over history).
    """
    now = now or timezone.now()
    if areas is None:
        areas = list(Area.objects.filter(tenant=tenant, archived_at__isnull=True))
    by_id = {a.pk: a for a in areas}
    settings = crowd_level_settings_get(tenant=tenant)
    tz = ZoneInfo(tenant.time_zone)
    # Values at the trend offsets: the newest observation at or before each offset, per series (index seeks).
    annotations = {}
    for name, delta in TREND_WINDOWS.items():
        moment = now - delta
        annotations[f"then_{name}"] = Subquery(
            Observation.objects.filter(series=OuterRef("pk"), time__lte=moment, time__gt=moment - LOOKBACK)
            .order_by("-time")
            .values("value")[:1]
        )
    if historical:
        then_now = Observation.objects.filter(
            series=OuterRef("pk"), time__lte=now, time__gt=now - timedelta(days=1)
        )
        annotations["value_now"] = Subquery(then_now.order_by("-time").values("value")[:1])
        annotations["time_now"] = Subquery(then_now.order_by("-time").values("time")[:1])
    series = list(
        Series.objects.filter(tenant=tenant, area_id__in=by_id, metric__in=STATUS_METRICS)
        .select_related("source")
        .annotate(**annotations)
        .order_by("pk")
    )
    flow_ids = [s.pk for s in series if s.metric in (FLOW_IN, FLOW_OUT)]
    flow_totals = {}
    if flow_ids:
        reset = _reset_time(now, tz)
        flow_totals = dict(
            Observation.objects.filter(series_id__in=flow_ids, time__gt=reset, time__lte=now)
            .values("series_id")
            .annotate(total=Sum("value"))
            .values_list("series_id", "total")
        )
    calibrations: dict[int, dict[int, float]] = {}
    for c in PanelCalibration.objects.filter(tenant=tenant, area_id__in=by_id).only(
        "area_id", "series_id", "ratio"
    ):
        calibrations.setdefault(c.area_id, {})[c.series_id] = c.ratio
    if historical:
        for s in series:
            s.latest_value, s.latest_time = s.value_now, s.time_now
    series_by_area: dict[int, list[Series]] = {}
    for s in series:
        series_by_area.setdefault(s.area_id, []).append(s)
    children: dict[int, list[int]] = {}
    for area in areas:
        if area.parent_id in by_id:
            children.setdefault(area.parent_id, []).append(area.pk)

    statuses: dict[int, AreaStatus] = {}

    def compute(area: Area) -> AreaStatus:
        if area.pk not in statuses:
            statuses[area.pk] = fuse(
                FusionInput(
                    area=area,
                    series=series_by_area.get(area.pk, []),
                    now=now,
                    settings=settings,
                    children=[compute(by_id[k]) for k in children.get(area.pk, [])],
                    calibrations=calibrations.get(area.pk, {}),
                    flow_totals=flow_totals,
                )
            )
        return statuses[area.pk]

    for area in areas:
        compute(area)
    return statuses


def calibrate_panels(*, tenant, now: datetime | None = None, days: int = 14) -> list[PanelCalibration]:
    """Fit, per area with a GPS panel, the ratio of counted people to panel visitors over hourly means."""
    now = now or timezone.now()
    start = now - timedelta(days=days)
    areas = list(Area.objects.filter(tenant=tenant, archived_at__isnull=True))
    children: dict[int, list[int]] = {}
    for area in areas:
        if area.parent_id:
            children.setdefault(area.parent_id, []).append(area.pk)
    panels = list(Series.objects.filter(tenant=tenant, metric=PANEL, area__isnull=False))
    fitted = []
    for panel in panels:
        count_areas = [panel.area_id, *children.get(panel.area_id, [])]
        counts = Series.objects.filter(tenant=tenant, metric=COUNT, area_id__in=count_areas)
        own_counts = counts.filter(area_id=panel.area_id)
        counts = own_counts if own_counts.exists() else counts.exclude(area_id=panel.area_id)
        count_ids = list(counts.values_list("pk", flat=True))
        if not count_ids:
            continue
        hourly_panel = _hourly_means(panel.pk, start, now)
        hourly_counts: dict[datetime, float] = {}
        per_series = [_hourly_means(pk, start, now) for pk in count_ids]
        for hour in set.intersection(*(set(h) for h in per_series)) if per_series else set():
            hourly_counts[hour] = sum(h[hour] for h in per_series)
        pairs = [
            (hourly_panel[h], hourly_counts[h])
            for h in hourly_panel
            if h in hourly_counts and hourly_panel[h] > 0
        ]
        if len(pairs) < 24:
            continue  # under a day of overlap: no trustworthy ratio yet
        sxx = sum(p * p for p, _ in pairs)
        ratio = sum(p * c for p, c in pairs) / sxx
        mean_c = sum(c for _, c in pairs) / len(pairs)
        ss_tot = sum((c - mean_c) ** 2 for _, c in pairs)
        ss_res = sum((c - ratio * p) ** 2 for p, c in pairs)
        calibration, _ = PanelCalibration.objects.update_or_create(
            tenant=tenant,
            area_id=panel.area_id,
            series=panel,
            defaults={"ratio": ratio, "points": len(pairs), "r2": 1 - ss_res / ss_tot if ss_tot else None,
                      "fitted_at": now},
        )  # fmt: skip
        fitted.append(calibration)
    return fitted


def _hourly_means(series_id: int, start: datetime, end: datetime) -> dict[datetime, float]:
    from django.db.models import Avg
    from django.db.models.functions import TruncHour

    rows = (
        Observation.objects.filter(series_id=series_id, time__gte=start, time__lt=end)
        .annotate(hour=TruncHour("time"))
        .values("hour")
        .annotate(mean=Avg("value"))
        .values_list("hour", "mean")
    )
    return dict(rows)


__all__ = ["AreaStatus", "area_statuses", "calibrate_panels"]
