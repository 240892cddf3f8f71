"""Simulated counting-camera data for the Scheveningen demo: four weeks of 5-minute counts.

Deterministic (seeded): hour-of-day profiles per kind of place, weekends and Wednesday afternoons,
a low-season level for late autumn, day-to-day weather, noise, and a sunny final weekend so the live
demo shows levels rising into 'very busy'. A GPS-panel series estimates the whole boulevard at a
fraction of the camera counts, as a real panel would, for calibration against them.
"""

import csv
import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
STEP = timedelta(minutes=5)
WEEKS = 4

# Peak people present on a busy summer weekend afternoon, and the shape of the day.
PLACES = {
    "boulevard-haven": (2500, "promenade"),
    "boulevard-zeekant": (3500, "promenade"),
    "boulevard-kurhaus": (5000, "promenade"),
    "strand-scheveningen": (12000, "beach"),
    "de-pier": (2000, "attraction"),
    "kurhausplein": (1200, "square"),
    "tramhaltes-kurhaus": (350, "transit"),
}
SECTIONS = ("boulevard-haven", "boulevard-zeekant", "boulevard-kurhaus")
GPS_PANEL_SHARE = 0.32  # a visitor panel sees about a third of the people the cameras count


def _hour_shape(kind: str, hour: float) -> tuple[float, float]:
    """(night floor, daytime presence) as shares of the peak; weather and weekends scale only the second."""

    def bump(centre, width):
        return math.exp(-(((hour - centre) / width) ** 2))

    if kind == "beach":
        return 0.01, bump(14.5, 2.8)
    if kind == "promenade":
        return 0.02, 0.8 * bump(14.5, 3.0) + 0.55 * bump(20.0, 1.8)
    if kind == "attraction":
        return 0.01, 0.9 * bump(15.0, 3.2) + 0.4 * bump(20.5, 1.5)
    if kind == "square":
        return 0.03, 0.6 * bump(13.0, 2.5) + 0.8 * bump(20.5, 2.0)
    # transit: arrivals late morning, departures late afternoon
    return 0.02, 0.8 * bump(11.0, 1.5) + 1.0 * bump(17.5, 1.6)


# Measures taken on the sunny Saturday afternoon, and what they did to the counts (the action log's demo).
DEMO_INTERVENTIONS = [
    {
        "area": "de-pier",
        "intervention": "traffic-controllers",
        "hour": 14.5,
        "hours": 2.0,
        "factor": 0.78,
        "description": "Traffic controllers hold the inflow at the pier entrance.",
    },
    {
        "area": "tramhaltes-kurhaus",
        "intervention": "extra-public-transport",
        "hour": 17.0,
        "hours": 1.5,
        "factor": 0.7,
        "description": "HTM runs extra trams on line 1 from the Kurhaus stop.",
    },
]


def busy_saturday(now: datetime) -> datetime:
    """Local midnight starting the most recent Saturday whose afternoon is over (the demo's busy day)."""
    local = now.astimezone(AMSTERDAM)
    saturday = (local - timedelta(days=(local.weekday() - 5) % 7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if saturday + timedelta(hours=19) > local:
        saturday -= timedelta(weeks=1)
    return saturday


def intervention_window(spec: dict, saturday: datetime) -> tuple[datetime, datetime]:
    start = saturday + timedelta(hours=spec["hour"])
    return start, start + timedelta(hours=spec["hours"])


def _intervention_factor(slug: str, moment: datetime, saturday: datetime) -> float:
    for spec in DEMO_INTERVENTIONS:
        start, end = intervention_window(spec, saturday)
        if spec["area"] == slug and start <= moment < end:
            return spec["factor"]
    return 1.0


def simulate(*, now: datetime, seed: int = 2026) -> list[tuple[datetime, str, float, str, str]]:
    """Rows (time, series, value, metric, area) for the four weeks up to the end of the current week."""
    rng = random.Random(seed)
    local_now = now.astimezone(AMSTERDAM)
    this_monday = (local_now - timedelta(days=local_now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    start = this_monday - timedelta(weeks=WEEKS - 1)
    end = this_monday + timedelta(weeks=1)
    days = (end - start).days
    weather = [rng.uniform(0.55, 1.35) for _ in range(days)]
    saturday = busy_saturday(now)
    for day in (saturday, saturday + timedelta(days=1)):  # the latest weekend is sunny
        offset = (day.date() - start.date()).days
        if 0 <= offset < days:
            weather[offset] = 1.5
    rows = []
    t = start
    while t < end:
        local = t.astimezone(AMSTERDAM)
        day = (local.date() - start.date()).days
        hour = local.hour + local.minute / 60
        weekday = local.weekday()
        week_factor = 1.7 if weekday >= 5 else (1.15 if weekday == 2 and hour >= 12 else 1.0)
        season = 0.55  # late autumn on the coast
        section_total = 0.0
        for slug, (peak, kind) in PLACES.items():
            floor, daytime = _hour_shape(kind, hour)
            level = peak * season * (floor + week_factor * weather[day] * daytime)
            value = max(0, round(level * rng.gauss(1.0, 0.06) * _intervention_factor(slug, t, saturday)))
            rows.append((t, f"cam-{slug}", value, "people_count", slug))
            if slug in SECTIONS:
                section_total += value
        if local.minute % 15 == 0:  # the panel reports every 15 minutes
            estimate = round(section_total * GPS_PANEL_SHARE * rng.gauss(1.0, 0.1))
            rows.append((t, "gps-boulevard", max(0, estimate), "visitor_estimate", "boulevard"))
        t += STEP
    return rows


def write_replay_csv(path: Path, *, now: datetime) -> int:
    """Write the simulation as a replay CSV; returns the number of rows."""
    rows = simulate(now=now)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["series", "time", "value", "metric", "area"])
        for time, series, value, metric, area in rows:
            writer.writerow([series, time.isoformat(), value, metric, area])
    return len(rows)
