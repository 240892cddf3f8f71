"""Local calendar on arrays of epoch hours: UTC offsets, hour, weekday, holidays (Europe/Amsterdam and
the Netherlands by default; any IANA time zone and any country of the ``holidays`` package on request).

Time inside the engine is an ``int64`` count of whole hours since 1970-01-01T00:00Z ("epoch hours").
Calendar features are local (Europe/Amsterdam): a shopping street peaks at 15:00 local time in
summer and in winter alike, so hour of day and weekday must follow the wall clock, not UTC.

Public holidays come from ``holidays.Netherlands`` (public and optional categories: the optional one
adds Liberation Day in the years it is not a public holiday, when festivals still draw crowds).
School holidays come from the same package's ``school`` category (present in the pinned holidays 0.109,
regions Noord, Midden and Zuid, years 2014-2030, following the Regeling vaststelling
schoolvakanties of the Ministry of Education); outside those years the school feature is 0.

Another country (``country``, ISO 3166 code, with an optional ``subdivision`` such as ``AUK`` for
Auckland, whose anniversary day is a regional holiday): its public holidays (and optional ones where
the package has them) for that subdivision; its school holidays when the package has a ``school``
category for it (the share is then 0 or 1: the subdivision's own), else the school features are 0.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import numpy as np

TIME_ZONE = ZoneInfo("Europe/Amsterdam")
SCHOOL_REGIONS = ("Noord", "Midden", "Zuid")
_EPOCH_DATE = date(1970, 1, 1)


def _offset_hours(hour: int, zone: ZoneInfo = TIME_ZONE) -> int:
    """UTC offset of ``zone``, in whole hours, at the given epoch hour."""
    moment = datetime.fromtimestamp(int(hour) * 3600, tz=UTC).astimezone(zone)
    return int(moment.utcoffset().total_seconds() // 3600)


def utc_offsets(hours: np.ndarray, time_zone: str | None = None) -> np.ndarray:
    """Local UTC offset in whole hours (Amsterdam: 1 in winter, 2 in summer) for every epoch hour."""
    zone = TIME_ZONE if time_zone is None else ZoneInfo(time_zone)
    hours = np.asarray(hours, dtype=np.int64)
    if hours.size == 0:
        return np.zeros(0, dtype=np.int64)
    first_day, last_day = int(hours.min()) // 24, int(hours.max()) // 24
    # One zoneinfo look-up per day, then hour by hour only on the two switch days a year: a million
    # hours cost a few thousand look-ups instead of a million.
    day_offsets = np.array(
        [_offset_hours(d * 24, zone) for d in range(first_day, last_day + 2)], dtype=np.int64
    )
    table = np.repeat(day_offsets[:-1], 24)
    for day in np.flatnonzero(day_offsets[:-1] != day_offsets[1:]):
        base = (first_day + int(day)) * 24
        table[day * 24 : day * 24 + 24] = [_offset_hours(base + k, zone) for k in range(24)]
    return table[hours - first_day * 24]


def local_hours(hours: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """Epoch hours shifted to local wall-clock time (still counted from 1970-01-01T00:00)."""
    hours = np.asarray(hours, dtype=np.int64)
    return hours + (utc_offsets(hours) if offsets is None else offsets)


@lru_cache(maxsize=32)
def _holiday_tables(
    first_year: int, last_year: int, region: str | None, country: str = "NL", subdivision: str | None = None
) -> tuple[frozenset, dict, frozenset]:
    """(public holiday dates, {date: share of regions on school holiday}, dates of ``region``'s holidays)."""
    years = range(first_year, last_year + 1)
    if country != "NL":
        supported = holidays.country_holidays(country, subdiv=subdivision).supported_categories
        wanted = tuple(c for c in ("public", "optional") if c in supported)
        public = holidays.country_holidays(country, subdiv=subdivision, years=years, categories=wanted)
        school_days: dict[date, float] = {}
        if "school" in supported:
            school = holidays.country_holidays(
                country, subdiv=subdivision, years=years, categories=("school",)
            )
            school_days = dict.fromkeys(school, 1.0)
        return frozenset(public), school_days, frozenset(school_days)
    public = holidays.Netherlands(years=years, categories=("public", "optional"))
    counts: dict[date, int] = {}
    own: set[date] = set()
    for name in SCHOOL_REGIONS:
        school = holidays.Netherlands(subdiv=name, years=years, categories=("school",))
        for day in school:
            counts[day] = counts.get(day, 0) + 1
            if name == region:
                own.add(day)
    shares = {day: n / len(SCHOOL_REGIONS) for day, n in counts.items()}
    return frozenset(public), shares, frozenset(own)


def day_flags(
    local_days: np.ndarray, region: str | None = None, country: str = "NL", subdivision: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For local day numbers (days since 1970-01-01): public holiday (0/1), share of school regions on
    holiday (Netherlands: 0, 1/3, 2/3, 1) and whether ``region`` itself is on school holiday (0/1; 0
    without region). Another ``country``: see the module docstring."""
    local_days = np.asarray(local_days, dtype=np.int64)
    if local_days.size == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    unique, inverse = np.unique(local_days, return_inverse=True)
    dates = [_EPOCH_DATE + timedelta(days=int(d)) for d in unique]
    public, shares, own = _holiday_tables(dates[0].year, dates[-1].year, region, country, subdivision)
    holiday = np.array([d in public for d in dates], dtype=float)
    school = np.array([shares.get(d, 0.0) for d in dates])
    own_school = np.array([d in own for d in dates], dtype=float)
    return holiday[inverse], school[inverse], own_school[inverse]
