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


def _days_and_weather(now: datetime, rng: random.Random) -> tuple[datetime, datetime, list[float]]:
    """(first Monday, end of this week, weather factor per day: 0.55 grey to 1.35 fine, 1.5 sunny weekend)."""
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
    return start, end, weather


def simulate(*, now: datetime, seed: int = 2026) -> list[tuple[datetime, str, float, str, str]]:
    """Rows (time, series, value, metric, area) for the four weeks up to the end of the current week."""
    rng = random.Random(seed)
    start, end, weather = _days_and_weather(now, rng)
    saturday = busy_saturday(now)
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


# Located series for the map layers: the garage under the Kurhaus square and the Kurhaus tram stop (lon, lat).
PARKING_KURHAUS = (4.2772, 52.1104)  # the entrance on the south-east side of the square
PARKING_CAPACITY = 400
TRAM_KURHAUS = (4.28, 52.1102)  # the north-east end of the platforms


def _trams_due(local: datetime, extra: bool) -> int:
    """Trams (lines 1 and 9) due at the Kurhaus stop in the next 15 minutes, by the time of day."""
    hour = local.hour
    due = 4 if 7 <= hour < 23 else (2 if hour >= 23 or 5 <= hour < 7 or hour < 1 else 0)
    return due + (2 if extra else 0)


# (series, metric, unit, name, facility, (lon, lat) or None) of the extra demo series
GARAGE_VACANT = ("garage-kurhaus:vacant", "parking_vacant", "spaces", "Parkeergarage Kurhaus vacant spaces",
                 "garage-kurhaus", PARKING_KURHAUS)  # fmt: skip
GARAGE_CAPACITY = ("garage-kurhaus:capacity", "parking_capacity", "spaces", "Parkeergarage Kurhaus capacity",
                   "garage-kurhaus", PARKING_KURHAUS)  # fmt: skip
TRAM_ARRIVALS = ("tram-kurhaus:arrivals", "transit_arrivals", "vehicles", "Tram stop Kurhaus arrivals",
                 "tram-kurhaus", TRAM_KURHAUS)  # fmt: skip
WEATHER = {
    "temperature": ("weather:temperature", "temperature", "°C", "Scheveningen temperature", "", None),
    "precipitation": (
        "weather:precipitation",
        "precipitation",
        "mm/h",
        "Scheveningen precipitation",
        "",
        None,
    ),
    "wind_speed": ("weather:wind_speed", "wind_speed", "m/s", "Scheveningen wind speed", "", None),
}


def simulate_located(rows: list[tuple], *, now: datetime, seed: int = 2027) -> list[tuple]:
    """Rows (time, value, series spec) for the garage, the tram stop and the weather.

    The garage fills with the people on the boulevard at the Kurhaus (full on the sunny weekend), the
    extra trams of the demo's intervention show at the stop, and the weather (hourly, no location: the
    dashboard shows it as a summary) follows the day's weather that drew people out.
    """
    start, _end, weather = _days_and_weather(now, random.Random(2026))  # the days simulate() had
    rng = random.Random(seed)
    saturday = busy_saturday(now)
    extra = next(s for s in DEMO_INTERVENTIONS if s["intervention"] == "extra-public-transport")
    extra_start, extra_end = intervention_window(extra, saturday)
    located = []
    for time, series, value, _metric, _area in rows:
        if series != "cam-boulevard-kurhaus":
            continue
        local = time.astimezone(AMSTERDAM)
        occupied = min(PARKING_CAPACITY, round(30 + (PARKING_CAPACITY - 30) * min(1.0, value / 4500)))
        located.append((time, PARKING_CAPACITY - occupied, GARAGE_VACANT))
        located.append((time, _trams_due(local, extra_start <= time < extra_end), TRAM_ARRIVALS))
        if local.minute == 0:
            located.append((time, PARKING_CAPACITY, GARAGE_CAPACITY))
            # Warmer and dry on fine days, showers on grey ones.
            fine = weather[(local.date() - start.date()).days]
            hour = local.hour + rng.uniform(-0.3, 0.3)
            temperature = 6.0 + 5.0 * fine + 3.5 * math.sin((hour - 9) / 24 * 2 * math.pi) + rng.gauss(0, 0.6)
            showers = max(0.0, 1.0 - fine) * 0.5  # chance of rain this hour
            rain = rng.uniform(0.2, 3.0) if rng.random() < showers else 0.0
            located.append((time, round(temperature, 1), WEATHER["temperature"]))
            located.append((time, round(rain, 1), WEATHER["precipitation"]))
            located.append((time, round(rng.uniform(3.0, 9.0), 1), WEATHER["wind_speed"]))
    return located


def write_replay_csv(path: Path, *, now: datetime) -> int:
    """Write the simulation (counts, garage, tram stop, weather) as a replay CSV; returns the row count."""
    rows = simulate(now=now)
    located = simulate_located(rows, now=now)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["series", "time", "value", "metric", "area", "unit", "name", "facility", "lon", "lat"]
        )
        for time, series, value, metric, area in rows:
            writer.writerow([series, time.isoformat(), value, metric, area, "", "", "", "", ""])
        for time, value, (series, metric, unit, name, facility, location) in located:
            lon, lat = location or ("", "")
            writer.writerow([series, time.isoformat(), value, metric, "", unit, name, facility, lon, lat])
    return len(rows) + len(located)
