"""Plausibility of an observation: value ranges per metric, whole numbers for counts, a time window.

Every stored observation passes ``value_problem`` and ``time_problem`` (ingest calls them per row, so one
odd row is rejected with its reason and its neighbours are stored). The ranges are deliberately wide:
they catch unit and scale errors and garbage (1e300 people, half a person, a rain chance of 150 %), not
unusual days. Pushed rows also have to lie inside a window in the past (``PUSH_MAX_AGE_DAYS``, never wider
than the tenant's ``retention_days``: a row the nightly purge would delete is not stored first) and a
pushed count must be a whole number (the sender counted it). Fetched feeds keep their own history (a
replayed recording may be years old) and may publish counts as averages over an interval (33.5 people
entering per minute), so they are held to the ranges and the future bound only.
"""

import math
from datetime import datetime, timedelta

from django.conf import settings

from .choices import FUTURE_METRICS, Metric

# metric -> (lowest, highest, whole numbers only)
RANGES: dict[str, tuple[float, float, bool]] = {
    Metric.PEOPLE_COUNT: (0, 1_000_000, True),
    Metric.PEOPLE_IN: (0, 1_000_000, True),
    Metric.PEOPLE_OUT: (0, 1_000_000, True),
    # A rate over the whole counting line (people per minute); a 3-minute count divided by 3 is fractional.
    Metric.PEOPLE_PASSING: (0, 100_000, False),
    Metric.VISITOR_ESTIMATE: (0, 1_000_000, False),  # an extrapolated estimate, not a count
    Metric.PARKING_VACANT: (0, 100_000, True),
    Metric.PARKING_CAPACITY: (0, 100_000, True),
    Metric.VEHICLE_FLOW: (0, 100_000, False),  # a rate (vehicles per hour), may be fractional
    Metric.VEHICLE_SPEED: (0, 400, False),
    Metric.TRANSIT_ARRIVALS: (0, 10_000, True),
    Metric.TRANSIT_OCCUPANCY: (0, 100_000, False),
    Metric.TRANSIT_DELAY: (-3_600, 86_400, False),  # seconds late; negative when early
    Metric.TEMPERATURE: (-60, 60, False),
    Metric.PRECIPITATION: (0, 1_000, False),
    Metric.WIND_SPEED: (0, 500, False),
    Metric.FORECAST_TEMPERATURE_MAX: (-60, 60, False),
    Metric.FORECAST_TEMPERATURE_MIN: (-60, 60, False),
    Metric.FORECAST_RAIN_CHANCE: (0, 100, False),
    Metric.FORECAST_PRECIPITATION: (0, 1_000, False),
    Metric.FORECAST_WIND_SPEED: (0, 500, False),
    Metric.OTHER: (-1e12, 1e12, False),
}


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else f"{x:g}"


def value_problem(value, metric: str, *, whole_counts: bool = True) -> str | None:
    """Why ``value`` cannot be a ``metric`` observation, or None. ``whole_counts=False`` accepts
    fractional counts (fetched feeds that publish averages over an interval)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"Value {value!r} is not a number."
    if not math.isfinite(value):
        return f"Value {value!r} is not a finite number."
    low, high, whole = RANGES.get(metric, RANGES[Metric.OTHER])
    if value < 0 <= low:
        return f"Value {value:g} is negative; a {metric} cannot be."
    if value < low:
        return f"Value {value:g} is below {_number(low)}, the lowest plausible {metric}: check the unit."
    if value > high:
        top = _number(high)
        return f"Value {value:g} is above {top}, the highest plausible {metric}: check the unit or scale."
    if whole and whole_counts and value != int(value):
        return f"Value {value:g} is not a whole number; a {metric} counts whole units."
    return None


def _duration(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)} days"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} seconds"


def time_problem(time: datetime, metric: str, now: datetime, *, oldest: tuple[datetime, str] | None = None):
    """Why an observation at ``time`` is implausible at ``now``, or None. ``oldest``: the earliest time
    accepted and the setting that says so (pushes only)."""
    if time.tzinfo is None:
        return f"Time {time.isoformat()} has no time zone."
    if metric in FUTURE_METRICS:
        ahead = timedelta(days=settings.FORECAST_MAX_AHEAD_DAYS)
        if time > now + ahead:
            return (
                f"Time {time.isoformat()} is more than {settings.FORECAST_MAX_AHEAD_DAYS} days ahead; "
                "no forecast reaches that far (FORECAST_MAX_AHEAD_DAYS)."
            )
    elif time > now + timedelta(seconds=settings.OBSERVATION_MAX_FUTURE_SECONDS):
        limit = _duration(settings.OBSERVATION_MAX_FUTURE_SECONDS)
        return f"Time {time.isoformat()} is more than {limit} in the future."
    if oldest is not None and time < oldest[0]:
        return f"Time {time.isoformat()} is older than {oldest[1]}."
    return None


def push_oldest(tenant, now: datetime) -> tuple[datetime, str]:
    """The earliest time a push may carry: PUSH_MAX_AGE_DAYS back, or the tenant's retention if shorter."""
    days, why = settings.PUSH_MAX_AGE_DAYS, "PUSH_MAX_AGE_DAYS"
    if tenant.retention_days < days:
        days, why = tenant.retention_days, "this tenant's retention_days: the purge would delete it"
    return now - timedelta(days=days), f"{days} days ({why})"
