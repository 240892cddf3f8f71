"""Leakage-free features and the fallback forecasts for points (target slot t, horizon h).

A point asks: "what will slot ``t`` hold, knowing only slots up to the origin ``o = t - h``?" Every
value read here is either at or before ``o`` or masked to NaN, so the same code serves training,
backtesting and production without a separate "what was known then" bookkeeping. Counts are divided
by the series' level at the origin (mean of its last four weeks), so one model serves small and
large sensors alike.
"""

from __future__ import annotations

import numpy as np

from .data import Panel

# Method codes, in fallback order.
GBM, PROFILE, NAIVE, MEAN, NONE = range(5)
METHOD_NAMES = ("gbm", "hour_of_week_profile", "seasonal_naive", "recent_mean", "none")

LEVEL_HOURS = 24 * 28  # the normaliser: mean of the last four weeks
HISTORY_HOURS = 24 * 56  # method choice counts observations in the last eight weeks
RECENT_HOURS = 24 * 7
Z80 = 1.2815515655446004  # standard normal quantile of 0.9: p10/p90 of a normal spread

BASE_FEATURES = (
    "horizon",
    "hour",
    "weekday",
    "holiday",
    "school_holiday",
    "school_holiday_own_region",
    "holiday_week_before",
    "holiday_at_origin",
    "last",
    "mean_3h",
    "mean_24h",
    "mean_7d",
    "same_hour_last_day",
    "same_hour_week_before",
    "same_hour_two_weeks_before",
    "hour_of_week_mean_4w",
    "hour_of_week_median_4w",
    "hour_of_week_mean_8w",
    "hour_of_day_mean_7d",
    "deviation_3h",
    "deviation_24h",
    "deviation_7d",
    "profile_x_deviation_3h",
    "profile_x_deviation_24h",
    "profile_x_deviation_7d",
    "anomaly_at_origin",
    "profile_plus_anomaly",
    "change_last_hour",
)
EVENT_FEATURES = ("event_attendance", "event_attendance_week_before")


def feature_names(covariate_names: tuple[str, ...], uses_events: bool) -> tuple[str, ...]:
    """Column names of :func:`feature_matrix`, in order."""
    events = EVENT_FEATURES if uses_events else ()
    covariates = tuple(
        f"{name}_{kind}" for name in covariate_names for kind in ("vs_last_4_weeks", "vs_week_before")
    )
    return BASE_FEATURES + events + covariates


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is not positive (no warnings)."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def window_mean(panel: Panel, o: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, count) of the observations in the slots (o - width, o]; mean NaN without any."""
    count = panel.window(panel.cum_n, o, width)
    return _ratio(panel.window(panel.cum_y, o, width), count), count


def level(panel: Panel, o: np.ndarray) -> np.ndarray:
    """Scale of each series at the origin: its mean over four weeks, at least 1 (NaN without data)."""
    mean, _ = window_mean(panel, o, LEVEL_HOURS)
    return np.where(np.isnan(mean), np.nan, np.maximum(mean, 1.0))


def history_counts(panel: Panel, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed hours at the origin in the last eight weeks and in the last week."""
    return panel.window(panel.cum_n, o, HISTORY_HOURS), panel.window(panel.cum_n, o, RECENT_HOURS)


def method_codes(panel: Panel, o: np.ndarray, *, has_model: bool, config) -> np.ndarray:
    """The method each point gets: the model when there is enough recent history, else a fallback."""
    n_history, n_recent = history_counts(panel, o)
    codes = np.full(o.shape, NONE, dtype=np.int8)
    codes[n_history >= 1] = MEAN
    codes[n_history >= config.min_history_naive] = NAIVE
    codes[n_history >= config.min_history_profile] = PROFILE
    if has_model:
        codes[(n_history >= config.min_history_model) & (n_recent >= 24)] = GBM
    return codes


def gather(panel: Panel, t: np.ndarray, h: np.ndarray, lag) -> np.ndarray:
    """Value at the same local time ``lag`` hours before ``t``, NaN if that is after the origin."""
    j = panel.seasonal_index(t, lag)
    return np.where(t - j >= h, panel.y[j], np.nan)


def lag_stats(panel: Panel, t: np.ndarray, h: np.ndarray, lags, use=None):
    """(sum, sum of squares, count) over the known values at the given lags; ``use(lag)`` masks points."""
    total = np.zeros(t.shape)
    squares = np.zeros(t.shape)
    count = np.zeros(t.shape)
    for lag in lags:
        value = gather(panel, t, h, lag)
        ok = ~np.isnan(value)
        if use is not None:
            ok &= use(lag)
        value = np.where(ok, value, 0.0)
        total += value
        squares += value * value
        count += ok
    return total, squares, count


def _daily_lags(h: np.ndarray, days: int):
    """Lags 24k for k from ceil(h/24) on, ``days`` of them per point: the last ``days`` days known."""
    k0 = (h + 23) // 24
    lags = range(24, 24 * (int(k0.max()) + days), 24)

    def use(lag):
        k = lag // 24
        return (k >= k0) & (k < k0 + days)

    return lags, use, k0


def _last_known_day(panel: Panel, t: np.ndarray, h: np.ndarray, k0: np.ndarray) -> np.ndarray:
    """The same local hour on the latest day known at the origin (the day before that across DST)."""
    value = gather(panel, t, h, 24 * k0)
    return np.where(np.isnan(value), gather(panel, t, h, 24 * (k0 + 1)), value)


def _how4_at_slots(panel: Panel) -> np.ndarray:
    """Mean of the same local hour in the four preceding weeks, for every slot (profile at the origin)."""
    cached = getattr(panel, "_how4", None)
    if cached is None:
        slots = np.arange(panel.size)
        total = np.zeros(panel.size)
        count = np.zeros(panel.size)
        for k in range(1, 5):
            back = np.maximum(slots - 168 * k, 0)
            j = np.clip(back + (panel.offset - panel.offset[back]), 0, panel.size - 1)
            value = np.where(slots - 168 * k >= 0, panel.y[j], np.nan)
            ok = ~np.isnan(value)
            total += np.where(ok, value, 0.0)
            count += ok
        cached = _ratio(total, count)
        panel._how4 = cached
        # Cumulative sums of actual and profile over the slots where both exist: their windowed
        # ratio says how much busier than usual the last hours were (the weather of today, say).
        both = ~np.isnan(cached) & ~np.isnan(panel.y)
        panel._cum_dev_y = panel.cumulative(np.where(both, panel.y, 0.0))
        panel._cum_dev_p = panel.cumulative(np.where(both, cached, 0.0))
    return cached


def deviation(panel: Panel, o: np.ndarray, width: int) -> np.ndarray:
    """Observed / usual (four-week hour-of-week mean) over the slots (o - width, o]."""
    _how4_at_slots(panel)
    return _ratio(panel.window(panel._cum_dev_y, o, width), panel.window(panel._cum_dev_p, o, width))


def feature_matrix(
    panel: Panel, t: np.ndarray, h: np.ndarray, *, uses_events: bool, covariate_names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(features, level) for points whose origin has history; the target to learn is y[t] / level."""
    o = t - h
    scale = level(panel, o)
    week = panel.seasonal_index(t, 168)
    daily_lags, use_day, k0 = _daily_lags(h, 7)
    day_sum, _, day_count = lag_stats(panel, t, h, daily_lags, use_day)
    week_sum, _, week_count = lag_stats(panel, t, h, (168, 336, 504, 672))
    weeks = np.column_stack([gather(panel, t, h, 168 * k) for k in range(1, 9)])
    known = (~np.isnan(weeks)).sum(axis=1)
    # Not np.nanmedian: it warns on rows without any value (a gap four weeks running), so mask those.
    median_4w = np.where((~np.isnan(weeks[:, :4])).any(axis=1), _nanmedian(weeks[:, :4]), np.nan)
    mean_8w = _ratio(np.nansum(weeks, axis=1), known.astype(float))
    mean_3h, _ = window_mean(panel, o, 3)
    mean_24h, _ = window_mean(panel, o, 24)
    mean_7d, _ = window_mean(panel, o, 168)
    profile = _ratio(week_sum, week_count) / scale
    deviations = [deviation(panel, o, width) for width in (3, 24, 168)]
    anomaly = (panel.y[o] - _how4_at_slots(panel)[o]) / scale  # additive: busier than usual right now
    columns = [
        h,
        panel.local_hour[t],
        panel.weekday[t],
        panel.holiday[t],
        panel.school[t],
        panel.school_own[t],
        panel.holiday[week],
        panel.holiday[o],
        panel.y[o] / scale,
        mean_3h / scale,
        mean_24h / scale,
        mean_7d / scale,
        _last_known_day(panel, t, h, k0) / scale,
        gather(panel, t, h, 168) / scale,
        gather(panel, t, h, 336) / scale,
        profile,
        median_4w / scale,
        mean_8w / scale,
        _ratio(day_sum, day_count) / scale,
        *deviations,
        # Trees approximate products poorly, so hand them "the usual for this hour, scaled by how
        # busy it has been lately": the classic ratio-to-profile persistence forecast.
        *(profile * d for d in deviations),
        anomaly,
        profile + anomaly,
        (panel.y[o] - panel.y[o - 1]) / scale,
    ]
    if uses_events:
        columns += [panel.attendance[t] / scale, panel.attendance[week] / scale]
    for column in range(len(covariate_names)):
        columns += _covariate_columns(panel, column, t, o, week)
    return np.column_stack([np.asarray(c, dtype=float) for c in columns]), scale


def _covariate_columns(panel: Panel, column: int, t: np.ndarray, o: np.ndarray, week: np.ndarray) -> list:
    """A covariate at the target as departures: from its mean over the four weeks before the origin,
    and from its value at the same local hour a week before the target.

    Not the raw value: temperature climbs from winter to summer, so a booster trained on January to
    May meets June temperatures it never saw and extrapolates its warmest days (24 h ratio 1.4
    instead of 0.73 on one generated set). The target is scaled by the level of the last four weeks
    and the weekly lag is a feature, so "warmer than lately" and "warmer than a week ago" are what
    explain it; both stay in range whatever the season.
    """
    values = panel.covariates[:, column]
    cache = getattr(panel, "_covariate_cumulative", {})
    if column not in cache:
        known = ~np.isnan(values)
        cache[column] = (
            panel.cumulative(np.where(known, values, 0.0)),
            panel.cumulative(known.astype(float)),
        )
        panel._covariate_cumulative = cache
    total, count = cache[column]
    recent = _ratio(panel.window(total, o, LEVEL_HOURS), panel.window(count, o, LEVEL_HOURS))
    return [values[t] - recent, values[t] - values[week]]


def _nanmedian(values: np.ndarray) -> np.ndarray:
    """Row-wise median ignoring NaN (rows without any value give an arbitrary number; mask them)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(values.shape[0])
    low = ordered[rows, np.maximum((count - 1) // 2, 0)]
    high = ordered[rows, np.maximum(count // 2, 0)]
    return (low + high) / 2


def _pooled_spread(sid: np.ndarray, relative_sd: np.ndarray, n_series: int) -> np.ndarray:
    """Per point, the root-mean-square relative spread of its series (NaN where none is known)."""
    ok = ~np.isnan(relative_sd)
    sums = np.bincount(sid[ok], weights=relative_sd[ok] ** 2, minlength=n_series)
    counts = np.bincount(sid[ok], minlength=n_series)
    pooled = np.sqrt(_ratio(sums, counts.astype(float)))
    return pooled[sid]


def _relative_sd(total, squares, count, eps) -> np.ndarray:
    """Sample standard deviation / (mean + eps) of lag values, NaN with fewer than two values."""
    mean = _ratio(total, count)
    variance = _ratio(squares - count * mean * mean, count - 1)
    variance = np.where(count >= 2, np.maximum(variance, 0.0), np.nan)
    return np.sqrt(variance) / (mean + eps)


def fallback(panel: Panel, t: np.ndarray, h: np.ndarray, codes: np.ndarray):
    """(p10, p50, p90) for points forecast without the model, by their method code.

    hour_of_week_profile: mean of the same local weekday-and-hour over the last eight weeks (the
    same hour over the last fortnight where a cell is empty); seasonal_naive: the value a week
    earlier, else the same hour on the latest day known; recent_mean: the mean of the last week
    (else of the last eight weeks). Intervals are p50 -/+ 1.28 sigma, sigma from the spread of the
    values each method averages over, pooled per series; +/-50 % when there is no spread to go by.
    """
    o = t - h
    p50 = np.full(t.shape, np.nan)
    relative = np.full(t.shape, np.nan)
    recent, _ = window_mean(panel, o, RECENT_HOURS)
    longer, _ = window_mean(panel, o, HISTORY_HOURS)
    recent_mean = np.where(np.isnan(recent), longer, recent)
    eps = 0.05 * np.nan_to_num(longer, nan=0.0) + 1e-9
    n_series = len(panel.ids)

    fortnight_lags, use_fortnight, k0 = _daily_lags(h, 14)
    day_total, day_squares, day_count = lag_stats(panel, t, h, fortnight_lags, use_fortnight)
    day_mean = _ratio(day_total, day_count)
    day_spread = _relative_sd(day_total, day_squares, day_count, eps)

    profile = codes == PROFILE
    if profile.any():
        total, squares, count = lag_stats(panel, t, h, range(168, 168 * 9, 168))
        week_mean = _ratio(total, count)
        p50[profile] = np.where(count > 0, week_mean, np.where(day_count > 0, day_mean, recent_mean))[profile]
        spread = _relative_sd(total, squares, count, eps)
        pooled = _pooled_spread(panel.sid[t][profile], spread[profile], n_series)
        pooled_days = _pooled_spread(panel.sid[t][profile], day_spread[profile], n_series)
        relative[profile] = np.where(np.isnan(pooled), pooled_days, pooled)

    naive = codes == NAIVE
    if naive.any():
        week_before = gather(panel, t, h, 168)
        last_day = _last_known_day(panel, t, h, k0)
        for k in range(2, 8):  # no value on the latest day: the one before, up to a week back
            last_day = np.where(np.isnan(last_day), gather(panel, t, h, 24 * (k0 + k)), last_day)
        value = np.where(np.isnan(week_before), last_day, week_before)
        p50[naive] = np.where(np.isnan(value), recent_mean, value)[naive]
        relative[naive] = _pooled_spread(panel.sid[t][naive], day_spread[naive], n_series)

    mean = codes == MEAN
    if mean.any():
        p50[mean] = recent_mean[mean]
        count = panel.window(panel.cum_n, o, HISTORY_HOURS)
        spread = _relative_sd(
            panel.window(panel.cum_y, o, HISTORY_HOURS),
            panel.window(panel.cum_y2, o, HISTORY_HOURS),
            count,
            eps,
        )
        relative[mean] = np.where(count >= 3, spread, np.nan)[mean]

    sigma = np.where(np.isnan(relative), 0.5 / Z80, relative) * (p50 + eps)
    p10 = np.maximum(p50 - Z80 * sigma, 0.0)
    p90 = p50 + Z80 * sigma
    return p10, p50, p90
