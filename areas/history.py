"""The crowd picture of the past hours: hourly people or passer-by flow per area, with its level.

The values are the hourly series the forecasts are trained on (``areas.forecasts.area_history``: the
status fusion rule over hourly means: own counts, else the sum of the sub-areas' counts, else the
calibrated GPS panel, else the busiest counting line's specific flow in persons per minute per metre),
and each hour's level comes from the area's own rule (``Area.assess_people`` / ``Area.assess_flow``), as
for the live status. The dashboard's time slider shows them for the past hours.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from .forecasts import area_history
from .models import Area
from .selectors import crowd_level_settings_get

MAX_HOURS = 24 * 7


@dataclass
class HistoryPoint:
    time: datetime  # the start of the hour (UTC)
    people: float | None = None
    flow: float | None = None  # persons per minute per metre of the busiest counting line
    density: float | None = None  # people per m² (people areas), or Weidmann's estimate (flow areas)
    level: str | None = None


@dataclass
class AreaHistory:
    slug: str
    quantity: str  # "people" or "flow"
    flow_method: str | None = None
    points: list[HistoryPoint] = field(default_factory=list)


def area_level_history(
    *, tenant, areas: list[Area], hours: int = 25, now: datetime | None = None
) -> tuple[datetime, datetime, list[AreaHistory]]:
    """(start, end, per area) for the ``hours`` whole hours before the current one: the hourly people or
    flow of each area and the level it implies. Hours without data are left out."""
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be between 1 and {MAX_HOURS}")
    end = (now or timezone.now()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours)
    quantities: dict[str, str] = {}
    hourly = area_history(tenant=tenant, areas=areas, start=start, end=end, quantities=quantities)
    settings = crowd_level_settings_get(tenant=tenant)
    result = []
    for area in areas:
        times, values = hourly.get(area.slug, ([], []))
        quantity = quantities.get(area.slug, "people")
        history = AreaHistory(slug=area.slug, quantity=quantity)
        if quantity == "flow":
            history.flow_method = area.flow_method
        for time, value in zip(times, values, strict=True):
            if quantity == "flow":
                assessed = area.assess_flow(value, settings)
                point = HistoryPoint(time=time, flow=round(value, 1))
            else:
                assessed = area.assess_people(value, settings)
                point = HistoryPoint(time=time, people=round(value, 1))
            point.level = assessed.level
            point.density = None if assessed.density is None else round(assessed.density, 3)
            history.points.append(point)
        result.append(history)
    return start, end, result
