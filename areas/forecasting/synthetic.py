"""Generated hourly pedestrian counts for tests, tuning and benchmarks (no long real dataset is available).

``generate(style="pedestrian")`` imitates Dutch city-centre counting sensors: shapes taken from the
Amsterdam CMSA counts of 20 August 2025 (shopping street peaking mid-afternoon, nightlife alley
peaking after 21:00) plus a station, a park and a market square; local time with DST; weekly
patterns (Saturday busiest, shops open late on Thursday, Sunday from noon); Dutch public holidays
(King's Day crowds the centre, Christmas empties it) and school holidays; day-to-day weather
(temperature with persistence, rain showers by the hour) that each kind of place feels differently;
a slow seasonal drift; occasional events with their announced attendance; noise with persistence
within the day; sensor outages, missing hours and a recalibration step.

``style="alternative"`` is deliberately shaped otherwise (random smooth daily shapes, random weekday
factors, a slowly wandering level, additive heavy-tailed noise, holidays that raise counts) so tests
can check the engine learns from data rather than from this module's formulas.

Both return :class:`Synthetic`: series, covariates (temperature, precipitation) and events, in the
engine's input format with ``datetime64[h]`` UTC timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from .calendar_nl import day_flags, utc_offsets


@dataclass
class Synthetic:
    """Generated data in the engine's input format."""

    series: dict[str, tuple[np.ndarray, np.ndarray]]
    covariates: dict[str, tuple[np.ndarray, np.ndarray]]
    events: dict[str, tuple[np.ndarray, np.ndarray]]


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    # Wrapped around midnight so a 23:00 peak spills into 01:00.
    distance = np.minimum(np.abs(hour - centre), 24 - np.abs(hour - centre))
    return np.exp(-((distance / width) ** 2))


# Daily shapes: share of the daily peak by local hour.
SHAPES = {
    "shopping": lambda hr: 0.02 + _bump(hr, 15.5, 3.2) + 0.2 * _bump(hr, 12.5, 1.5),
    "nightlife": lambda hr: 0.08 + 0.35 * _bump(hr, 15.0, 4.0) + _bump(hr, 22.0, 2.2),
    "station": lambda hr: (
        0.03 + _bump(hr, 8.0, 1.1) + 0.8 * _bump(hr, 17.3, 1.4) + 0.25 * _bump(hr, 12.5, 3.0)
    ),
    "park": lambda hr: 0.01 + _bump(hr, 14.5, 3.0),
    "market": lambda hr: 0.03 + 0.6 * _bump(hr, 14.0, 3.5),
}
KINDS = tuple(SHAPES)
# Weekday factors, Monday first.
WEEKLY = {
    "shopping": (0.8, 0.85, 0.9, 1.0, 1.15, 1.45, 0.8),
    "nightlife": (0.6, 0.65, 0.7, 0.8, 1.2, 1.5, 0.9),
    "station": (1.0, 1.05, 1.0, 1.0, 0.95, 0.55, 0.45),
    "park": (0.6, 0.6, 0.75, 0.6, 0.7, 1.5, 1.7),
    "market": (0.8, 0.8, 1.0, 0.8, 0.9, 1.2, 0.7),
}
# How strongly a kind of place follows warm weather and shuns rain.
WEATHER = {
    "shopping": (0.15, 0.25),
    "nightlife": (0.2, 0.2),
    "station": (0.03, 0.05),
    "park": (0.9, 0.8),
    "market": (0.3, 0.4),
}
HOLIDAY = {"station": 0.45, "shopping": 0.8, "nightlife": 1.25, "park": 1.5, "market": 0.9}
SCHOOL = {"station": 0.85, "park": 1.3, "shopping": 1.1, "nightlife": 1.0, "market": 1.05}
DISPERSION = 5.5


def _grid(start: str, weeks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch hours, local hour of day, local day number) of an hourly grid."""
    first = int(np.datetime64(start, "h").astype(np.int64))
    hours = np.arange(first, first + weeks * 168, dtype=np.int64)
    local = hours + utc_offsets(hours)
    return hours, local % 24, local // 24


def _dates(days: np.ndarray) -> tuple[list[date], np.ndarray]:
    """The distinct dates of local day numbers and, per element, the index into them."""
    unique, inverse = np.unique(days, return_inverse=True)
    return [date(1970, 1, 1) + timedelta(days=int(d)) for d in unique], inverse


def _kings_day(days: np.ndarray) -> np.ndarray:
    """True on King's Day: 27 April, or the 26th when the 27th is a Sunday."""
    dates, inverse = _dates(days)
    flags = []
    for day in dates:
        kings = date(day.year, 4, 27)
        flags.append(day == (kings - timedelta(days=1) if kings.weekday() == 6 else kings))
    return np.array(flags)[inverse]


def _weather(rng: np.random.Generator, days: np.ndarray, hour_of_day: np.ndarray, day_index: np.ndarray):
    """(daily temperature anomaly, hourly temperature, hourly precipitation mm)."""
    n_days = int(day_index.max()) + 1
    anomaly = np.zeros(n_days)
    for d in range(1, n_days):  # weather persists for a few days
        anomaly[d] = 0.7 * anomaly[d - 1] + rng.normal(0, 2.5)
    dates, _ = _dates(days)
    doy = np.array([d.timetuple().tm_yday for d in dates])
    seasonal = 10.5 - 7.5 * np.cos(2 * np.pi * (doy - 20) / 365.25)  # coldest around 20 January
    temperature = (seasonal + anomaly)[day_index] + 4.0 * np.sin(2 * np.pi * (hour_of_day - 9) / 24)
    wet_day = rng.random(n_days) < 0.45
    rain = np.zeros(day_index.size)
    for d in np.flatnonzero(wet_day):
        for _ in range(rng.integers(1, 3)):
            begin = d * 24 + int(rng.integers(0, 24))
            length = int(rng.integers(1, 7))
            rain[begin : begin + length] += rng.gamma(1.5, 0.8)
    return anomaly, temperature, rain[: day_index.size]


def generate(
    *, start: str = "2025-01-06", weeks: int = 20, sensors: int = 6, seed: int = 0, style: str = "pedestrian"
) -> Synthetic:
    """Hourly counts of ``sensors`` sensors over ``weeks`` weeks from ``start`` (a UTC date)."""
    if style not in ("pedestrian", "alternative"):
        raise ValueError(f"Unknown style {style!r}.")
    rng = np.random.default_rng(seed)
    hours, hour_of_day, days = _grid(start, weeks)
    day_index = days - days[0]
    weekday = (days + 3) % 7
    holiday, school, _ = day_flags(days)
    anomaly, temperature, rain = _weather(rng, days, hour_of_day, day_index)
    stamps = hours.astype("datetime64[h]")
    kings_day = _kings_day(days)
    series, events = {}, {}
    for number in range(sensors):
        name = f"sensor-{number + 1:02d}"
        if style == "pedestrian":
            kind = KINDS[number % len(KINDS)]
            value, attendance = _pedestrian(
                rng,
                kind,
                hour_of_day,
                weekday,
                day_index,
                holiday,
                school,
                kings_day,
                anomaly,
                temperature,
                rain,
            )
        else:
            value, attendance = _alternative(rng, hour_of_day, weekday, day_index, holiday, temperature)
        value = _with_gaps(rng, value, late_start=number == sensors - 1 and sensors > 2)
        series[name] = (stamps, value)
        if attendance.any():
            hit = attendance > 0
            # Organisers announce attendance roughly: +/-25 %.
            events[name] = (stamps[hit], np.round(attendance[hit] * rng.uniform(0.75, 1.25, hit.sum())))
    covariates = {
        "temperature": (stamps, np.round(temperature, 1)),
        "precipitation": (stamps, np.round(rain, 1)),
    }
    return Synthetic(series=series, covariates=covariates, events=events)


def _events(rng: np.random.Generator, n_hours: int, peak: float) -> np.ndarray:
    """Attendance per hour: an event every three weeks or so, 3-6 hours, afternoon or evening."""
    attendance = np.zeros(n_hours)
    for _ in range(rng.poisson(n_hours / (24 * 21))):
        day = int(rng.integers(0, n_hours // 24))
        begin = day * 24 + int(rng.choice([13, 14, 19, 20]))
        length = int(rng.integers(3, 7))
        size = peak * rng.uniform(0.4, 2.5)
        ramp = np.minimum(1.0, np.minimum(np.arange(1, length + 1), np.arange(length, 0, -1)) / 2)
        attendance[begin : begin + length] = size * ramp[: max(0, min(length, n_hours - begin))]
    return attendance


def _pedestrian(
    rng, kind, hour_of_day, weekday, day_index, holiday, school, kings_day, anomaly, temperature, rain
):
    shape, week_factors = SHAPES[kind], WEEKLY[kind]
    peak = float(rng.choice([300, 800, 1500, 3000]) * rng.uniform(0.7, 1.3))
    hour = hour_of_day.astype(float)
    base = shape(hour)
    week = np.asarray(week_factors)[weekday]
    if kind == "shopping":
        base = np.where((weekday == 3) & (hour >= 18) & (hour <= 21), base * 1.6, base)  # koopavond
        base = np.where((weekday == 6) & (hour < 12), base * 0.3, base)  # shops open at noon on Sunday
    if kind == "market":
        base = base + np.where(np.isin(weekday, (2, 5)), 0.7 * _bump(hour, 11.0, 2.0), 0.0)
    # Holidays: Sunday-like for shops and commuters, and the centre fills on King's Day.
    week = np.where(holiday > 0, HOLIDAY[kind], week)
    week = np.where(kings_day & (kind in ("shopping", "nightlife", "market")), 2.6, week)
    week = week * (1 + (SCHOOL[kind] - 1) * school)
    warm, wet = WEATHER[kind]
    comfort = np.clip((temperature - 12) / 10, -1.2, 1.5)
    weather = np.exp(warm * comfort - wet * np.minimum(rain, 3) / 2)
    daily = np.exp(0.3 * warm * anomaly[day_index] / 3)  # a warm spell lifts the whole day
    season = 1 + 0.15 * np.sin(2 * np.pi * day_index / 120 + rng.uniform(0, 6.3))
    # Unexplained variation: per day (tourists, whatever) and per hour with persistence.
    day_noise = np.exp(rng.normal(0, 0.07, int(day_index.max()) + 1))[day_index]
    hour_noise = np.zeros(hour.size)
    shocks = rng.normal(0, 0.08, hour.size)
    for i in range(1, hour.size):
        hour_noise[i] = 0.75 * hour_noise[i - 1] + shocks[i]
    level = peak * base * week * weather * daily * season * day_noise * np.exp(hour_noise)
    attendance = _events(rng, hour.size, peak)
    level = level + 0.6 * attendance
    if rng.random() < 0.5:  # recalibrated sensor: counts drop by a fifth from some day on
        step = int(rng.integers(hour.size // 3, hour.size))
        level[step:] *= 0.8
    # Counts are overdispersed: the 3-minute CMSA counts of 20 August 2025 vary about 5.5 times as
    # much as Poisson within an hour (median over sensor-hours with 200+ passers-by), so draw from a
    # negative binomial (Poisson-gamma) with variance 5.5 x mean.
    gamma_shape = np.maximum(level, 1e-6) / (DISPERSION - 1)
    value = rng.poisson(level * rng.gamma(gamma_shape, 1 / gamma_shape)).astype(float)
    return value, attendance


def _alternative(rng, hour_of_day, weekday, day_index, holiday, temperature):
    hour = hour_of_day.astype(float)
    harmonics = sum(
        rng.normal(0, 0.9 / k) * np.cos(2 * np.pi * k * hour / 24 + rng.uniform(0, 6.3)) for k in range(1, 5)
    )
    week = rng.uniform(0.4, 1.6, 7)[weekday]
    peak = float(rng.uniform(50, 2000))
    wander = np.cumsum(rng.normal(0, 0.03, int(day_index.max()) + 1))[day_index]
    trend = np.linspace(0, rng.normal(0, 0.3), hour.size)
    warmth = rng.uniform(-0.3, 0.3) * (temperature - temperature.mean()) / 5
    level = peak * np.exp(harmonics + wander + trend + warmth) * week * (1 + 0.4 * holiday)
    attendance = _events(rng, hour.size, peak)
    persistent = np.zeros(hour.size)
    shocks = rng.standard_t(3, hour.size) * 0.05
    for i in range(1, hour.size):
        persistent[i] = 0.9 * persistent[i - 1] + shocks[i]
    value = level * (1 + persistent) + 0.4 * attendance + rng.normal(0, 0.05 * peak, hour.size)
    return np.round(np.maximum(value, 0.0)), attendance


def _with_gaps(rng: np.random.Generator, value: np.ndarray, *, late_start: bool) -> np.ndarray:
    """Outages of hours to days, isolated missing hours, and a sensor installed late."""
    value = value.copy()
    for _ in range(rng.poisson(value.size / 1500)):
        begin = int(rng.integers(0, value.size))
        value[begin : begin + int(rng.choice([2, 6, 30, 80]))] = np.nan
    value[rng.random(value.size) < 0.005] = np.nan
    if late_start:
        value[: value.size // 4] = np.nan
    return value
