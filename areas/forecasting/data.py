"""Input normalisation and the flat hourly panel every engine computation works on.

Callers hand the engine hourly series as ``{series_id: (timestamps, values)}``. Timestamps are
``datetime`` objects (aware, or naive meaning UTC) or a numpy ``datetime64`` array (naive, UTC), each
on a whole hour: the value of hour T is the count for [T, T+1h). Values are non-negative floats;
NaN (or a missing hour) is a gap.

Internally all series are laid out one after another in one flat array on a regular hourly grid,
each preceded by ``PAD`` empty (NaN) slots. Every look-back taken at a point (at most nine weeks)
therefore lands either inside the same series or in its padding, so lags, rolling windows and
seasonal means are plain vectorised index arithmetic over all series at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from .calendar_nl import day_flags, utc_offsets

# Longest look-back of anything read at a point: the profile fallback's eight weekly lags of a target
# up to a week ahead, plus a DST hour, rounded up to whole weeks.
PAD = 24 * 7 * 10
HOUR_NS = 3_600_000_000_000

Timestamps = Sequence[datetime] | np.ndarray
SeriesInput = Mapping[str, tuple[Timestamps, Sequence[float] | np.ndarray]]
CovariateInput = Mapping[str, tuple[Timestamps, Sequence[float] | np.ndarray]]


def to_epoch_hours(timestamps: Timestamps, *, what: str = "timestamps") -> np.ndarray:
    """Whole hours since 1970-01-01T00:00Z for datetimes (naive = UTC) or a datetime64 array.

    Raises ValueError when a timestamp is not on a whole hour (the engine works on hourly data).
    """
    if not isinstance(timestamps, np.ndarray):
        timestamps = np.asarray(timestamps, dtype=object) if len(timestamps) else np.zeros(0, "datetime64[h]")
        if timestamps.size and all(isinstance(t, np.datetime64) for t in timestamps):
            timestamps = timestamps.astype("datetime64[ns]")
    if np.issubdtype(timestamps.dtype, np.datetime64):
        ns = timestamps.astype("datetime64[ns]").astype(np.int64)
    else:
        ns = np.array([_datetime_ns(t) for t in timestamps], dtype=np.int64)
    if ns.size and np.any(ns % HOUR_NS):
        bad = int(np.flatnonzero(ns % HOUR_NS)[0])
        raise ValueError(f"{what}: item {bad} is not on a whole hour; the engine needs hourly data.")
    return ns // HOUR_NS


def _datetime_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def hour_to_datetime(hour: int) -> datetime:
    """The aware UTC datetime of an epoch hour."""
    return datetime.fromtimestamp(int(hour) * 3600, tz=UTC)


def clean_series(
    name: str, timestamps: Timestamps, values, *, what: str = "series"
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (epoch hours, float values) of one series; ValueError on duplicates or negative values."""
    hours = to_epoch_hours(timestamps, what=f"{what} {name!r}")
    vals = np.asarray(values, dtype=float)
    if vals.shape != hours.shape:
        raise ValueError(f"{what} {name!r}: {hours.size} timestamps but {vals.size} values.")
    order = np.argsort(hours, kind="stable")
    hours, vals = hours[order], vals[order]
    if hours.size > 1 and np.any(hours[1:] == hours[:-1]):
        dup = int(hours[1:][hours[1:] == hours[:-1]][0])
        raise ValueError(f"{what} {name!r}: duplicate timestamp {hour_to_datetime(dup).isoformat()}.")
    if np.any(np.isinf(vals)):
        raise ValueError(f"{what} {name!r}: infinite value.")
    if np.any(vals < 0):
        bad = int(hours[np.flatnonzero(vals < 0)[0]])
        raise ValueError(f"{what} {name!r}: negative value at {hour_to_datetime(bad).isoformat()}.")
    return hours, vals


def value_runs(hours, values) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, lengths)`` of the runs of one same value over consecutive hours, in order: a change of
    value, a missing hour or a NaN ends a run (a NaN is a run of its own). The rule behind outage masking
    and the forecast's stuck-counter check (``areas.forecasts.forecast_trust``)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    hours = np.asarray(hours)
    breaks = np.flatnonzero((np.diff(values) != 0) | (np.diff(hours) != 1) | np.isnan(values[1:])) + 1
    starts = np.r_[0, breaks]
    return starts, np.diff(np.r_[starts, values.size])


def mask_outages(
    hours: np.ndarray, values: np.ndarray, *, zero_hours: int = 24, stuck_hours: int = 12
) -> tuple[np.ndarray, int]:
    """Values with sensor outages turned into gaps (NaN), and how many hours were masked.

    An outage is a run over consecutive hours of the same value: zero for ``zero_hours`` or more (a
    dead counter reports 0 people, and a busy place is never empty for a whole day), or any other
    value for ``stuck_hours`` or more (a stuck counter). Real quiet hours (a few zeros a night) stay.
    0 disables either rule.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values, 0
    starts, lengths = value_runs(hours, values)
    first = values[starts]
    limit = np.where(first == 0, zero_hours or np.iinfo(np.int64).max, stuck_hours or np.iinfo(np.int64).max)
    bad = (lengths >= limit) & ~np.isnan(first)
    if not bad.any():
        return values, 0
    masked = np.repeat(bad, lengths)
    out = values.copy()
    out[masked] = np.nan
    return out, int(masked.sum())


@dataclass
class Panel:
    """All series on one flat hourly grid, with the calendar of every slot.

    ``y`` holds the observations (NaN = gap or padding), ``hours`` the epoch hour of each slot,
    ``sid`` the series index, ``seg_lo[s]`` the first slot of series ``s`` (its padding included).
    """

    ids: list[str]
    y: np.ndarray
    hours: np.ndarray
    sid: np.ndarray
    seg_lo: np.ndarray
    first: np.ndarray  # first slot holding the series' own grid (after the padding)
    end: np.ndarray  # one past its last slot
    covariates: np.ndarray  # (slots, covariates) values at the slot's hour, NaN where unknown
    covariate_names: tuple[str, ...]
    attendance: np.ndarray  # expected event attendance at the slot's hour (0 = no event)
    offset: np.ndarray = field(init=False)
    local_hour: np.ndarray = field(init=False)
    weekday: np.ndarray = field(init=False)
    holiday: np.ndarray = field(init=False)
    school: np.ndarray = field(init=False)
    school_own: np.ndarray = field(init=False)
    region: str | None = None
    time_zone: str | None = None  # IANA zone of the local calendar; None = Europe/Amsterdam
    country: str = "NL"  # ISO 3166 code whose holidays are features
    subdivision: str | None = None  # e.g. "AUK" for Auckland's regional holidays

    def __post_init__(self):
        self.offset = utc_offsets(self.hours, self.time_zone)
        local = self.hours + self.offset
        self.local_hour = local % 24
        days = local // 24
        self.weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        self.holiday, self.school, self.school_own = day_flags(
            days, self.region, self.country, self.subdivision
        )
        observed = ~np.isnan(self.y)
        filled = np.where(observed, self.y, 0.0)
        self.cum_n = self.cumulative(observed.astype(float))
        self.cum_y = self.cumulative(filled)
        self.cum_y2 = self.cumulative(filled * filled)

    @property
    def size(self) -> int:
        return self.y.size

    def slot(self, series: int, hour: int) -> int:
        """Flat index of ``hour`` in series ``series`` (it must lie on the series' grid)."""
        return int(self.first[series] + (hour - self.hours[self.first[series]]))

    def cumulative(self, values: np.ndarray) -> np.ndarray:
        """Running sums for :meth:`window`: entry i + 1 sums ``values`` from the series' first slot to i.

        Restarting per series (rather than one running sum over all) keeps every window sum exactly
        independent of other series and of anything after its last slot, to the last bit.
        """
        out = np.zeros(values.size + 1)
        for lo, hi in zip(self.seg_lo, self.end, strict=True):
            out[lo + 1 : hi + 1] = np.cumsum(values[lo:hi])
        return out

    def window(self, cum: np.ndarray, o: np.ndarray, width: int) -> np.ndarray:
        """Sum over the slots (o - width, o] from :meth:`cumulative` sums, never crossing series.

        The window is clipped at the series' first slot, which is padding and holds nothing.
        """
        lower = np.maximum(o - width, self.seg_lo[self.sid[o]])
        return cum[o + 1] - cum[lower + 1]

    def seasonal_index(self, t: np.ndarray, lag: int) -> np.ndarray:
        """Slot of the same local wall-clock time ``lag`` hours (a multiple of 24) before slot ``t``.

        Across a DST switch the same local hour is 23 or 25 hours away, so the index moves by the
        change of offset: a weekly lag then still compares Saturday 15:00 with Saturday 15:00.
        """
        back = t - lag
        return back + (self.offset[t] - self.offset[back])


def build_panel(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    until: int | None = None,
    extend_to: int | None = None,
    covariates: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    covariate_names: Sequence[str] | None = None,
    attendance: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    keep_hours: int | None = None,
    region: str | None = None,
    time_zone: str | None = None,
    country: str = "NL",
    subdivision: str | None = None,
) -> Panel:
    """Lay cleaned series (epoch hours, values) out on the flat grid.

    ``until``: drop observations after this hour (what is not known at the origin cannot leak in).
    ``extend_to``: let every grid run at least to this hour (the slots to forecast).
    ``keep_hours``: keep only this many hours of history before ``until`` (prediction needs weeks,
    not years). Series without a single observation are still laid out (the caller reports them).
    ``time_zone``, ``country``, ``subdivision``: the local calendar (default Amsterdam, Netherlands).
    """
    ids = list(series)
    names = tuple(covariate_names if covariate_names is not None else sorted(covariates or {}))
    chunks, hour_chunks, sid_chunks = [], [], []
    seg_lo, first, end = [], [], []
    position = 0
    for index, name in enumerate(ids):
        hours, values = series[name]
        keep = ~np.isnan(values)
        if until is not None:
            keep &= hours <= until
        if keep_hours is not None and until is not None:
            keep &= hours > until - keep_hours
        hours, values = hours[keep], values[keep]
        if hours.size:
            start, stop = int(hours[0]), int(hours[-1])
        else:
            start = stop = int(until if until is not None else (extend_to or 0))
        if extend_to is not None:
            stop = max(stop, extend_to)
        length = stop - start + 1
        grid = np.full(PAD + length, np.nan)
        grid[PAD + hours - start] = values
        chunks.append(grid)
        hour_chunks.append(np.arange(start - PAD, stop + 1, dtype=np.int64))
        sid_chunks.append(np.full(PAD + length, index, dtype=np.int32))
        seg_lo.append(position)
        first.append(position + PAD)
        position += PAD + length
        end.append(position)
    if not ids:
        raise ValueError("No series given.")
    y = np.concatenate(chunks)
    all_hours = np.concatenate(hour_chunks)
    cov = np.full((y.size, len(names)), np.nan)
    for column, name in enumerate(names):
        if covariates and name in covariates:
            cov[:, column] = _lookup(covariates[name], all_hours, default=np.nan)
    att = np.zeros(y.size)
    if attendance:
        sid = np.concatenate(sid_chunks)
        for index, name in enumerate(ids):
            if name in attendance:
                mask = sid == index
                att[mask] = _lookup(attendance[name], all_hours[mask], default=0.0)
        att = np.nan_to_num(att, nan=0.0)
    return Panel(
        ids=ids,
        y=y,
        hours=all_hours,
        sid=np.concatenate(sid_chunks),
        seg_lo=np.array(seg_lo, dtype=np.int64),
        first=np.array(first, dtype=np.int64),
        end=np.array(end, dtype=np.int64),
        covariates=cov,
        covariate_names=names,
        attendance=att,
        region=region,
        time_zone=time_zone,
        country=country,
        subdivision=subdivision,
    )


def _lookup(pair: tuple[np.ndarray, np.ndarray], hours: np.ndarray, *, default: float) -> np.ndarray:
    """Values of an hourly (hours, values) pair at ``hours``; ``default`` where it has none."""
    known_hours, values = pair
    out = np.full(hours.size, default)
    if known_hours.size == 0 or hours.size == 0:
        return out
    position = np.searchsorted(known_hours, hours)
    position = np.minimum(position, known_hours.size - 1)
    hit = known_hours[position] == hours
    out[hit] = values[position[hit]]
    return out
