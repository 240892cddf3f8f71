"""Simulated counting-camera data for the Scheveningen demo: four weeks of 5-minute counts.

The demo runs on its own **scenario clock**, shifted to "now" and to nothing else of the wall clock:
four weeks (Monday 00:00 of week 1 to Monday 00:00 of week 5, scenario wall time, no DST), of which
"now" is always Sunday 16:30 of the last, sunny weekend. Started at 03:00 on New Year's night or on a
summer afternoon, the demo shows the same picture: every crowd level somewhere on the seafront, the
alerts and measures of the busy Saturday afternoon behind it, and the evening ahead in its forecast.
The times on screen are real times; only the shape of the days is shifted so that the busy afternoon
is always happening when you look (docs/architecture.md, "The demo's scenario clock").

Deterministic (seeded by the step of the scenario, not by the date): hour-of-day profiles per kind of
place, weekends and Wednesday afternoons, day-to-day weather, noise, and the sunny final weekend. A
GPS-panel series estimates the whole boulevard at a fraction of the camera counts, as a real panel
would, for calibration against them.
"""

import csv
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
STEP = timedelta(minutes=5)
WEEKS = 4
WEEK = timedelta(weeks=1)
DAY = timedelta(days=1)
SCENARIO_NOW = timedelta(weeks=WEEKS - 1, days=6, hours=16, minutes=30)  # Sunday 16:30 of the last week
BUSY_SATURDAY = (WEEKS - 1) * 7 + 5  # the scenario day (0 = Monday of week 1) of the busy Saturday
BUSY_HOURS = (12.0, 19.0)  # the busy afternoon of a scenario day, in scenario hours

# Peak people present on the sunny weekend, and the shape of the day. Tuned so that at the scenario's
# "now" (Sunday 16:30) the areas span every level: quiet (harbour section, beach), busy (Zeekant,
# square, the boulevard as a whole), very busy (Kurhaus section), crowded (pier), critical (tram stops).
PLACES = {
    "boulevard-haven": (4125, "promenade"),
    "boulevard-zeekant": (11350, "promenade"),
    "boulevard-kurhaus": (12620, "promenade"),
    "strand-scheveningen": (32000, "beach"),
    "de-pier": (1400, "attraction"),
    "kurhausplein": (605, "square"),
    "tramhaltes-kurhaus": (170, "transit"),
}
SECTIONS = ("boulevard-haven", "boulevard-zeekant", "boulevard-kurhaus")
GPS_PANEL_SHARE = 0.32  # a visitor panel sees about a third of the people the cameras count
NOISE = 0.04  # relative standard deviation of a count


def _hour_shape(kind: str, hour: float) -> tuple[float, float]:
    """(night floor, daytime presence) as shares of the peak; weather and weekends scale only the second."""

    def bump(centre, width):
        return math.exp(-(((hour - centre) / width) ** 2))

    if kind == "beach":
        return 0.01, bump(14.5, 2.8)
    if kind == "promenade":
        return 0.02, 0.8 * bump(14.5, 3.0) + 0.55 * bump(20.0, 1.8)
    if kind == "attraction":
        return 0.01, 0.9 * bump(15.5, 3.2) + 0.4 * bump(20.5, 1.5)
    if kind == "square":
        return 0.03, 0.7 * bump(15.0, 3.0) + 0.35 * bump(20.5, 2.0)
    # transit: arrivals late morning, departures from the middle of the afternoon
    return 0.02, 0.8 * bump(11.0, 1.5) + 1.0 * bump(16.5, 2.0)


# Measures taken on the busy Saturday afternoon, and what they did to the counts (the action log's demo).
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


@dataclass(frozen=True)
class Scenario:
    """The demo's timeline: ``origin`` is the real instant of scenario Monday 00:00 of week 1.

    Scenario time is counted in days and hours from the origin, without time zones or DST, so the picture
    relative to "now" is the same on every date of the year and at every hour.
    """

    origin: datetime

    @classmethod
    def starting(cls, now: datetime) -> "Scenario":
        """A scenario whose "now" (Sunday 16:30 of the last week) is ``now``, to the whole minute."""
        now = now.astimezone(UTC).replace(second=0, microsecond=0)
        return cls(origin=now - SCENARIO_NOW)

    @property
    def now(self) -> datetime:
        return self.origin + SCENARIO_NOW

    @property
    def end(self) -> datetime:
        return self.origin + WEEKS * WEEK

    def at(self, day: int, hour: float) -> datetime:
        """The real instant of scenario ``day`` (0 = Monday of week 1) at ``hour``."""
        return self.origin + day * DAY + timedelta(hours=hour)

    def clock(self, moment: datetime) -> tuple[int, float]:
        """(scenario day, scenario hour) of a real instant."""
        offset = moment - self.origin
        day = offset // DAY
        return day, (offset - day * DAY) / timedelta(hours=1)

    def in_busy_afternoon(self, moment: datetime) -> bool:
        """Whether ``moment`` lies in the busy afternoon (12:00-19:00) of a scenario day."""
        _day, hour = self.clock(moment)
        return BUSY_HOURS[0] <= hour < BUSY_HOURS[1]

    def intervention_window(self, spec: dict) -> tuple[datetime, datetime]:
        start = self.at(BUSY_SATURDAY, spec["hour"])
        return start, start + timedelta(hours=spec["hours"])

    def intervention_factor(self, slug: str, moment: datetime) -> float:
        for spec in DEMO_INTERVENTIONS:
            start, end = self.intervention_window(spec)
            if spec["area"] == slug and start <= moment < end:
                return spec["factor"]
        return 1.0

    def weather(self) -> list[float]:
        """Weather factor per scenario day: 0.55 grey to 1.35 fine; 1.5 on the sunny last weekend."""
        rng = random.Random(2026)
        weather = [rng.uniform(0.55, 1.35) for _ in range(WEEKS * 7)]
        weather[BUSY_SATURDAY] = weather[BUSY_SATURDAY + 1] = 1.5
        return weather

    # The scenario is kept beside the replay file, so a demo seeded again continues its own history.
    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"origin": self.origin.isoformat()}))

    @classmethod
    def load(cls, path: Path) -> "Scenario":
        """The scenario saved at ``path``. Raises ValueError when it is missing or unreadable."""
        try:
            origin = datetime.fromisoformat(json.loads(path.read_text())["origin"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"no readable demo scenario at {path}: {exc}") from exc
        if origin.tzinfo is None:
            raise ValueError(f"the demo scenario at {path} has a time without time zone")
        return cls(origin=origin)


def scenario_path(replay_csv: Path) -> Path:
    return replay_csv.with_suffix(".scenario.json")


def simulate(scenario: Scenario, *, seed: int = 2026) -> list[tuple[datetime, str, float, str, str]]:
    """Rows (time, series, value, metric, area) for the four weeks of the scenario."""
    weather = scenario.weather()
    rows = []
    for step in range(WEEKS * WEEK // STEP):
        t = scenario.origin + step * STEP
        rng = random.Random(seed * 1_000_003 + step)  # the noise of a step depends on the step alone
        day, hour = scenario.clock(t)
        weekday = day % 7
        week_factor = 1.7 if weekday >= 5 else (1.15 if weekday == 2 and hour >= 12 else 1.0)
        section_total = 0.0
        for slug, (peak, kind) in PLACES.items():
            floor, daytime = _hour_shape(kind, hour)
            level = peak * (floor + week_factor * weather[day] * daytime)
            factor = scenario.intervention_factor(slug, t)
            value = max(0, round(level * rng.gauss(1.0, NOISE) * factor))
            rows.append((t, f"cam-{slug}", value, "people_count", slug))
            if slug in SECTIONS:
                section_total += value
        if step % 3 == 0:  # the panel reports every 15 minutes
            estimate = round(section_total * GPS_PANEL_SHARE * rng.gauss(1.0, 0.1))
            rows.append((t, "gps-boulevard", max(0, estimate), "visitor_estimate", "boulevard"))
    return rows


# The beach stairs at the Kurhaus: a counting camera across the 5 m wide stairs from the boulevard down to
# the beach, counting the two walking directions (CMSA-style columns "<sensor>_<direction in degrees>":
# 315 down to the beach, north-west; 135 up to the boulevard). Passer-by counts, not people present: the
# area's level comes from the specific flow (persons per minute per metre, Fruin's levels of service).
# Peak rate per direction on the sunny weekend: at the scenario's "now" (Sunday 16:30) people stream back
# up at about 41 p/min/m over both directions together (Fruin C: busy).
STAIRS = "strandtrap-kurhaus"
STAIRS_SENSOR = "CSM-STRANDTRAP-KURHAUS"
STAIRS_WIDTH_M = 5.0
STAIRS_PEAK = {"315": 95.0, "135": 125.0}  # persons per minute at the weekend peak, down and up


def _stairs_shape(direction: str, hour: float) -> float:
    """Share of a direction's peak rate at ``hour``: down to the beach late morning, up from mid-afternoon."""
    if direction == "315":
        return 0.02 + math.exp(-(((hour - 12.5) / 2.5) ** 2))
    return 0.02 + math.exp(-(((hour - 16.5) / 2.2) ** 2)) + 0.3 * math.exp(-(((hour - 21.0) / 1.2) ** 2))


def simulate_stairs(scenario: Scenario, *, seed: int = 2028) -> list[tuple[datetime, dict[str, int]]]:
    """Rows (time, {direction: people who crossed in the 5 minutes}) of the stairs' counting line."""
    weather = scenario.weather()
    minutes = STEP / timedelta(minutes=1)
    rows = []
    for step in range(WEEKS * WEEK // STEP):
        t = scenario.origin + step * STEP
        rng = random.Random(seed * 1_000_003 + step)
        day, hour = scenario.clock(t)
        weekend = 1.0 if day % 7 >= 5 else 0.45  # a beach: weekends draw the crowd
        counts = {}
        for direction, peak in STAIRS_PEAK.items():
            rate = peak * weekend * weather[day] * _stairs_shape(direction, hour)
            counts[direction] = max(0, round(rate * minutes * rng.gauss(1.0, 0.08)))
        rows.append((t, counts))
    return rows


def write_stairs_csv(path: Path, scenario: Scenario) -> int:
    """Write the stairs' counts as a CMSA wide file (timestamp, a column per direction); returns the rows."""
    rows = simulate_stairs(scenario)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", *(f"{STAIRS_SENSOR}_{d}" for d in STAIRS_PEAK)])
        for time, counts in rows:
            writer.writerow([time.isoformat(), *(counts[d] for d in STAIRS_PEAK)])
    return len(rows)


# Located series for the map layers: the garage under the Kurhaus square and the Kurhaus tram stop (lon, lat).
PARKING_KURHAUS = (4.2772, 52.1104)  # the entrance on the south-east side of the square
PARKING_CAPACITY = 400
TRAM_KURHAUS = (4.28, 52.1102)  # the north-east end of the platforms


def _trams_due(hour: float, extra: bool) -> int:
    """Trams (lines 1 and 9) due at the Kurhaus stop in the next 15 minutes, by the (scenario) hour."""
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


def simulate_located(rows: list[tuple], scenario: Scenario, *, seed: int = 2027) -> list[tuple]:
    """Rows (time, value, series spec) for the garage, the tram stop and the weather.

    The garage fills with the people on the boulevard at the Kurhaus (full on the sunny weekend), the
    extra trams of the demo's intervention show at the stop, and the weather (hourly, no location: the
    dashboard shows it as a summary) follows the day's weather that drew people out.
    """
    weather = scenario.weather()  # the days simulate() had
    rng = random.Random(seed)
    extra = next(s for s in DEMO_INTERVENTIONS if s["intervention"] == "extra-public-transport")
    extra_start, extra_end = scenario.intervention_window(extra)
    located = []
    step = 0
    for time, series, value, _metric, _area in rows:
        if series != "cam-boulevard-kurhaus":
            continue
        day, hour = scenario.clock(time)
        occupied = min(PARKING_CAPACITY, round(30 + (PARKING_CAPACITY - 30) * min(1.0, value / 15000)))
        located.append((time, PARKING_CAPACITY - occupied, GARAGE_VACANT))
        located.append((time, _trams_due(hour, extra_start <= time < extra_end), TRAM_ARRIVALS))
        if step % 12 == 0:  # hourly
            located.append((time, PARKING_CAPACITY, GARAGE_CAPACITY))
            # Warmer and dry on fine days, showers on grey ones.
            fine = weather[day]
            jittered = hour + rng.uniform(-0.3, 0.3)
            temperature = (
                6.0 + 5.0 * fine + 3.5 * math.sin((jittered - 9) / 24 * 2 * math.pi) + rng.gauss(0, 0.6)
            )
            showers = max(0.0, 1.0 - fine) * 0.5  # chance of rain this hour
            rain = rng.uniform(0.2, 3.0) if rng.random() < showers else 0.0
            located.append((time, round(temperature, 1), WEATHER["temperature"]))
            located.append((time, round(rain, 1), WEATHER["precipitation"]))
            located.append((time, round(rng.uniform(3.0, 9.0), 1), WEATHER["wind_speed"]))
        step += 1
    return located


def write_replay_csv(path: Path, scenario: Scenario) -> int:
    """Write the simulation (counts, garage, tram stop, weather) as a replay CSV, and the scenario beside
    it; returns the row count."""
    rows = simulate(scenario)
    located = simulate_located(rows, scenario)
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
    scenario.save(scenario_path(path))
    return len(rows) + len(located)
