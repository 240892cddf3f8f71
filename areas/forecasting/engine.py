"""Crowd forecasting engine: one gradient-boosted model per tenant, 48-hour quantile forecasts per area.

Pure computation on hourly series (numpy and scikit-learn; no database, no Django), so it runs the
same in a Celery task, in the ``backtest`` management command and in tests.

Input
    ``series``: ``{series_id: (timestamps, values)}``. Timestamps are ``datetime`` objects (aware, or
    naive meaning UTC) or a ``datetime64`` array (UTC), each on a whole hour: the value at T counts
    the hour [T, T+1h). Gaps are simply missing hours (or NaN values). Values must be >= 0.
    ``covariates``: ``{name: (timestamps, values)}``, tenant-wide hourly inputs known for the past
    and the future, e.g. ``temperature`` and ``precipitation``: observed values for the history (at
    least the four weeks before the origin), the weather forecast for the hours ahead. A covariate
    must mean the same in both: if the forecast only gives a daily maximum, pass the daily maximum
    for the history too. Hours without a value are unknown (NaN); the boosters cope.
    ``events``: ``{series_id: (timestamps, expected_attendance)}``, planned events per area per hour.
    Hours not listed mean "no event" (0). Pass events for the history too, or the model cannot learn
    what they do. Malformed input (duplicate or non-hourly timestamps, negative values) raises
    ValueError; too little history never raises.

API
    ``train(series, *, covariates=None, events=None, config=None, now=None) -> ForecastModel``
        Scores the recipe on a holdout at the end of the data, then trains on all of it. With too
        little history the model holds no booster and every forecast uses a fallback.
    ``ForecastModel.predict(series, origin, *, covariates=None, events=None, horizon=None)
    -> dict[str, Forecast]``
        For every series given, the ``horizon`` (default 48) hours after ``origin``, the last hour
        whose value is known (UTC; naive = UTC). Pass each series' recent history (eight weeks
        suffice; more is ignored); observations after the origin are ignored too. Series unseen in
        training are fine: the model works on normalised counts.
    ``Forecast``: ``series_id, origin, times, p10, p50, p90, method, note``; ``0 <= p10 <= p50 <= p90``
        (NaN only for method ``none``: no observation in the eight weeks before the origin).
    ``ForecastModel``: ``version``, ``trained_at``, ``data_until``, ``backtest`` (``{h: HorizonScore}``
        from the holdout), ``records`` (``{series_id: SeriesRecord}``: how each series' forecasts 3 h
        ahead did on the holdout, for the operator's plain-words line), ``note``, ``method``;
        ``to_bytes()``, and ``load_model(bytes)`` to restore.
    ``backtest(series, *, train_until, horizons=(1, 3, 24), ...) -> dict[int, HorizonScore]``
        Trains on the data before ``train_until``, forecasts every later hour from what was known h
        hours earlier and compares with the weekly seasonal-naive baseline (the value 168 hours
        earlier) on the points where the actual and the baseline both exist.

Methods, per series and origin (``Forecast.method``; ``Forecast.note`` says why):
    ``gbm``: the boosted model, when the series has two weeks of observed hours in the eight weeks
    before the origin and a day of them in the last week, and the tenant had enough data to train.
    ``hour_of_week_profile``: at least one week of observed hours; mean by local weekday x hour.
    ``seasonal_naive``: at least a day; the value a week earlier, else the same hour on the latest day.
    ``recent_mean``: any observation; the mean of the last week. ``none``: no observation at all.

Model
    Direct multi-horizon regression with HistGradientBoostingRegressor, one booster per horizon
    bucket (1, 2, 3, 4-6, 7-12, 13-24, 25-48 hours), each global across all series, with the horizon
    as a feature inside the bucket. (One booster for all 48 horizons was tried: the long horizons'
    large errors drown the one-hour signal, ratio 0.68 instead of 0.45 at 1 h on generated data.)
    A training row is (target hour t, horizon h), a few random horizons of the bucket per target
    hour; its features use only observations at or before the origin t - h (later lags are NaN,
    which the booster handles natively), so training, backtest and production share one
    leakage-free code path (``features.py``). Counts are divided by the series' mean over the four
    weeks before the origin: the booster learns shapes, not sizes, and serves new sensors without
    retraining.
    Features: horizon; local hour and weekday of the target; Dutch public holiday on the target
    day, on the day a week before it and on the origin day; the share of the three school-holiday
    regions on holiday at the target (and the tenant's own region when configured); the last value,
    its change over the last hour and the means of the last 3 h, 24 h and 7 days; the same local
    hour on the latest day known and one and two weeks before; hour-of-week mean (4 and 8 weeks)
    and median (4 weeks), hour-of-day mean (7 days); how much busier than that profile the last
    3 h, 24 h and 7 days were, the profile scaled by each, and the additive anomaly at the origin;
    event attendance at the target hour and a week before it; each covariate at the target hour as
    its departure from its mean of the four weeks before the origin and from its value a week
    before (not raw: raw temperatures trend with the season and were extrapolated badly). There
    is deliberately no series identifier or size: with one, the booster memorised one sensor's
    quirks and applied them to another of similar size (24 h ratio 0.87 instead of 0.71 on one
    generated set).
    Loss: absolute error (the backtest scores MAE; it also shrugs off event spikes). Early stopping
    uses whole held-out (series, local day)s: with a random row split the sibling rows of one target
    at other horizons would leak it. The 80 % interval is from residual quantiles: the 10th and
    90th percentile of (actual - p50) on those held-out days, per bucket and per fifth of predicted
    level (quiet nights spread less than busy afternoons), added to p50 and clipped at zero.
    ``coverage_80`` in the holdout scores shows how well that calibrates on later data, and
    ``mean_interval_width`` (mean p90 - p10, in counts) how wide the band is for it.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from . import features as feats
from .data import (
    CovariateInput,
    Panel,
    SeriesInput,
    build_panel,
    clean_series,
    hour_to_datetime,
    mask_outages,
    to_epoch_hours,
)

ENGINE_VERSION = "1.0"
MAX_HORIZON = 168  # lags and fallbacks assume the origin lies at most a week before the target
HORIZON_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 6), (7, 12), (13, 24), (25, 48), (49, 96), (97, 168))
LEVEL_BINS = 5


@dataclass(frozen=True)
class EngineConfig:
    """Tunables of training and prediction; the defaults are what production uses."""

    horizon: int = 48  # hours predict() returns at most; the boosters cover horizons 1..horizon
    holdout_hours: int = 672  # end of the training data held out for the model's own backtest: 4 weeks
    record_horizon: int = 3  # hours ahead of the per-series record (``ForecastModel.records``)
    eval_horizons: tuple[int, ...] = (1, 3, 6, 12, 24, 48)
    min_history_model: int = 336  # observed hours in the last 8 weeks for the boosted model
    min_history_profile: int = 168  # ... for the hour-of-week profile
    min_history_naive: int = 24  # ... for seasonal naive (fewer: recent mean)
    min_train_targets: int = 336  # target hours a bucket needs to train a booster at all
    max_train_rows: int = 200_000  # (target, horizon) rows sampled per horizon bucket
    rows_per_target: int = 4  # horizons sampled per target hour in a bucket, on average
    max_iter: int = 500
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    n_iter_no_change: int = 20
    # e.g. 24: a run of zeros this long is an outage (a gap, not 0 people); 0 = off
    outage_zero_hours: int = 0
    outage_stuck_hours: int = 0  # e.g. 12: a run of one same non-zero value this long is stuck; 0 = off
    school_region: str | None = None  # "Noord", "Midden" or "Zuid": adds the tenant's own school holidays
    time_zone: str = "Europe/Amsterdam"  # IANA zone of the local hour, weekday and holiday features
    country: str = "NL"  # ISO 3166 code of the public (and school) holidays, from the holidays package
    subdivision: str | None = None  # the country's region for regional holidays, e.g. "AUK" (Auckland)
    threads: int | None = 1  # OpenMP threads per fit; 1 suits parallel Celery workers, None = all cores
    random_state: int = 0


@dataclass(frozen=True)
class HorizonScore:
    """Backtest accuracy at one horizon, against the weekly seasonal-naive baseline on the same points."""

    mae_model: float | None
    mae_seasonal_naive: float | None
    ratio: float | None  # mae_model / mae_seasonal_naive: below 1 beats the baseline
    n: int
    coverage_80: float | None = None  # share of actuals inside [p10, p90]; None when not measured
    model_share: float | None = None  # share of the points the booster forecast (the rest: fallbacks)
    mean_interval_width: float | None = None  # mean of p90 - p10 over the same points; None when not measured

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SeriesRecord:
    """How the recipe did for one series on the holdout, ``horizon`` hours ahead: for the operator's sentence
    "last 4 weeks: usually within ±N at 3 h ahead". ``within`` is the 80th percentile of |actual - p50| (8
    hours in 10 were at most that far off), in the series' own unit; ``hours`` the scored hours and ``days``
    the span they cover."""

    horizon: int
    hours: int
    days: float
    within: float | None
    mae: float | None
    coverage_80: float | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Forecast:
    """Hourly forecast of one series after ``origin``: central value and 80 % interval."""

    series_id: str
    origin: datetime
    times: tuple[datetime, ...]
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    method: str
    note: str

    def rows(self) -> list[dict]:
        """One dict per hour (time in ISO 8601 UTC), e.g. for JSON; NaN becomes None."""
        return [
            {"time": t.isoformat(), "p10": _float(a), "p50": _float(b), "p90": _float(c)}
            for t, a, b, c in zip(self.times, self.p10, self.p50, self.p90, strict=True)
        ]


@dataclass
class _Booster:
    """One horizon bucket's booster and the residual quantiles of its held-out days."""

    horizons: tuple[int, int]
    model: HistGradientBoostingRegressor
    edges: np.ndarray  # inner edges of the predicted-level bins (p50 / level)
    low: np.ndarray  # per bin, 10th percentile of (actual - p50) / level
    high: np.ndarray  # per bin, 90th percentile
    rows: int


@dataclass
class _Ensemble:
    """The boosters of all buckets and what they were fitted on (pickled inside ForecastModel)."""

    boosters: dict[tuple[int, int], _Booster]
    covariate_names: tuple[str, ...]
    uses_events: bool
    feature_names: tuple[str, ...]


@dataclass
class ForecastModel:
    """A trained tenant model: boosters (or none), provenance and its own holdout accuracy."""

    version: str
    trained_at: datetime
    data_until: datetime | None  # last training hour (UTC)
    config: EngineConfig
    backtest: dict[int, HorizonScore]
    note: str
    covariate_names: tuple[str, ...]
    uses_events: bool
    ensemble: _Ensemble | None = field(repr=False, default=None)
    engine_version: str = ENGINE_VERSION
    records: dict[str, SeriesRecord] | None = None  # per series, from the holdout (None: models before it)

    @property
    def method(self) -> str:
        """ "gbm" when boosters were trained, else "fallback"."""
        return "gbm" if self.ensemble is not None else "fallback"

    def predict(
        self,
        series: SeriesInput,
        origin: datetime,
        *,
        covariates: CovariateInput | None = None,
        events: SeriesInput | None = None,
        horizon: int | None = None,
    ) -> dict[str, Forecast]:
        """Forecasts for the ``horizon`` hours after ``origin`` for every series given (see module doc)."""
        horizon = horizon or self.config.horizon
        if not 1 <= horizon <= self.config.horizon:
            raise ValueError(f"horizon must be between 1 and {self.config.horizon} hours, not {horizon}.")
        if not series:
            return {}
        origin_hour = _epoch_hour(origin)
        panel = build_panel(
            _without_outages(_clean_all(series), self.config),
            until=origin_hour,
            extend_to=origin_hour + horizon,
            keep_hours=feats.HISTORY_HOURS + 24 * 7,
            covariates=_clean_covariates(covariates),
            covariate_names=self.covariate_names,
            attendance=_clean_all(events, what="events") if events else None,
            region=self.config.school_region,
            **_calendar(self.config),
        )
        origins = np.array([panel.slot(s, origin_hour) for s in range(len(panel.ids))])
        steps = np.arange(1, horizon + 1)
        t = (origins[:, None] + steps[None, :]).ravel()
        h = np.tile(steps, len(panel.ids))
        p10, p50, p90, codes = _forecast_points(self.ensemble, panel, t, h, self.config, intervals=True)
        n_history, n_recent = feats.history_counts(panel, origins)
        times = tuple(hour_to_datetime(origin_hour + int(k)) for k in steps)
        result = {}
        for s, name in enumerate(panel.ids):
            part = slice(s * horizon, (s + 1) * horizon)
            code = int(codes[part][0])
            note = self._note(code, int(n_history[s]), int(n_recent[s]))
            if code == feats.GBM:
                note += _covariate_note(panel, t[part], self.covariate_names)
            result[name] = Forecast(
                series_id=name,
                origin=hour_to_datetime(origin_hour),
                times=times,
                p10=p10[part],
                p50=p50[part],
                p90=p90[part],
                method=feats.METHOD_NAMES[code],
                note=note,
            )
        return result

    def _note(self, code: int, n_history: int, n_recent: int) -> str:
        """Which method a series got and why, in a sentence."""
        cfg = self.config
        have = f"{n_history} observed hours in the 8 weeks before the origin"
        if code == feats.GBM:
            score = self.backtest.get(24) or next(iter(self.backtest.values()), None)
            accuracy = ""
            if score is not None and score.ratio is not None:
                accuracy = f"; on the holdout its 24 h MAE was {score.ratio:.2f} x the seasonal-naive one"
            return f"Gradient-boosted model {self.version} ({have}){accuracy}."
        if self.ensemble is None:
            why = f"no model was trained for this tenant ({self.note})"
        elif n_history >= cfg.min_history_model:
            why = f"the model needs a day of data in the last week and there are {n_recent} hours"
        else:
            why = f"the model needs {cfg.min_history_model}"
        if code == feats.PROFILE:
            return f"Hour-of-week profile (mean by local weekday and hour): {have}; {why}."
        if code == feats.NAIVE:
            return (
                f"Seasonal naive (the value a week earlier, else the same hour on the latest day): {have}; "
                f"the profile needs {cfg.min_history_profile}, and {why}."
            )
        if code == feats.MEAN:
            return f"Recent mean (of the last week): {have}; seasonal naive needs {cfg.min_history_naive}."
        return "No forecast: no observations in the 8 weeks before the origin."

    def to_bytes(self) -> bytes:
        """Pickled model, for storage (restore with :func:`load_model`; only load bytes you stored)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)


def load_model(data: bytes) -> ForecastModel:
    """The model stored by :meth:`ForecastModel.to_bytes`; ValueError if it is not one of ours."""
    model = pickle.loads(data)  # noqa: S301  (bytes the platform stored itself, never user input)
    if not isinstance(model, ForecastModel):
        raise ValueError("These bytes do not hold a ForecastModel.")
    if model.engine_version.split(".")[0] != ENGINE_VERSION.split(".")[0]:
        raise ValueError(
            f"Model of engine {model.engine_version} cannot run on engine {ENGINE_VERSION}; retrain."
        )
    return model


def train(
    series: SeriesInput,
    *,
    covariates: CovariateInput | None = None,
    events: SeriesInput | None = None,
    config: EngineConfig | None = None,
    now: datetime | None = None,
) -> ForecastModel:
    """Train the tenant model on all data given, after scoring the same recipe on a holdout at the end."""
    config = config or EngineConfig()
    if not 1 <= config.horizon <= MAX_HORIZON:
        raise ValueError(f"horizon must be between 1 and {MAX_HORIZON} hours, not {config.horizon}.")
    cleaned = _without_outages(_clean_all(series), config)
    cleaned_covariates = _clean_covariates(covariates)
    attendance = _clean_all(events, what="events") if events else None
    names = tuple(sorted(cleaned_covariates or {}))
    trained_at = (now or datetime.now(UTC)).astimezone(UTC)
    observed = [hours[~np.isnan(values)] for hours, values in cleaned.values()]
    observed = [hours for hours in observed if hours.size]
    if not observed:
        return ForecastModel(
            version=_version("fallback", b"", config),
            trained_at=trained_at,
            data_until=None,
            config=config,
            backtest={},
            note="no observations at all",
            covariate_names=names,
            uses_events=attendance is not None,
        )
    last_hour = max(int(hours[-1]) for hours in observed)
    panel = build_panel(
        cleaned,
        covariates=cleaned_covariates,
        covariate_names=names,
        attendance=attendance,
        region=config.school_region,
        **_calendar(config),
    )
    horizons = tuple(range(1, config.horizon + 1))
    uses_events = attendance is not None
    scores: dict[int, HorizonScore] = {}
    records: dict[str, SeriesRecord] = {}
    if config.holdout_hours:
        holdout_start = last_hour - config.holdout_hours + 1
        early, _ = _fit(panel, holdout_start, horizons, config, uses_events=uses_events)
        evaluate = tuple(h for h in config.eval_horizons if h <= config.horizon)
        scores = _score(early, panel, holdout_start, evaluate, config, intervals=True)
        if 1 <= config.record_horizon <= config.horizon:
            records = _series_records(early, panel, holdout_start, config.record_horizon, config)
    ensemble, note = _fit(panel, last_hour + 1, horizons, config, uses_events=uses_events)
    digest = hashlib.sha256("\n".join(panel.ids).encode())
    digest.update(np.nan_to_num(panel.y, nan=-1.0).tobytes())
    digest.update(np.nan_to_num(panel.covariates, nan=-1.0).tobytes() + panel.attendance.tobytes())
    return ForecastModel(
        version=_version("gbm" if ensemble else "fallback", digest.digest(), config),
        trained_at=trained_at,
        data_until=hour_to_datetime(last_hour),
        config=config,
        backtest=scores,
        note=note,
        covariate_names=names,
        uses_events=uses_events,
        ensemble=ensemble,
        records=records,
    )


def backtest(
    series: SeriesInput,
    *,
    train_until: datetime,
    horizons: Sequence[int] = (1, 3, 24),
    covariates: CovariateInput | None = None,
    events: SeriesInput | None = None,
    config: EngineConfig | None = None,
    intervals: bool = False,
    cleaned: bool = False,
) -> dict[int, HorizonScore]:
    """Train on the data before ``train_until``, then score every later hour at each horizon.

    The boosters of the buckets holding the requested horizons are trained exactly as in
    production (on every horizon of the bucket), on targets before the split only; then every hour
    from the split on is forecast from what was known h hours earlier. ``intervals`` also measures
    the coverage of [p10, p90]. ``cleaned=True``: the series are already sorted (epoch hours,
    values) arrays (as the CSV reader returns them), so validation is skipped.
    """
    config = config or EngineConfig()
    for h in horizons:
        if not 1 <= h <= MAX_HORIZON:
            raise ValueError(f"horizon must be between 1 and {MAX_HORIZON} hours, not {h}.")
    series = _without_outages(dict(series) if cleaned else _clean_all(series), config)
    cleaned_covariates = _clean_covariates(covariates)
    names = tuple(sorted(cleaned_covariates or {}))
    attendance = _clean_all(events, what="events") if events else None
    panel = build_panel(
        series,
        covariates=cleaned_covariates,
        covariate_names=names,
        attendance=attendance,
        region=config.school_region,
        **_calendar(config),
    )
    split = _epoch_hour(train_until)
    ensemble, _ = _fit(panel, split, tuple(horizons), config, uses_events=attendance is not None)
    return _score(ensemble, panel, split, tuple(horizons), config, intervals=intervals)


# Internals ------------------------------------------------------------------------------------------


def _float(value) -> float | None:
    return None if np.isnan(value) else float(value)


def _epoch_hour(moment: datetime) -> int:
    """Epoch hour of ``moment`` (naive = UTC), rounded down to the hour."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 3600)


def _clean_all(series, *, what: str = "series") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        str(name): clean_series(str(name), ts, values, what=what) for name, (ts, values) in series.items()
    }


def _clean_covariates(covariates) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    if not covariates:
        return None
    out = {}
    for name, (ts, values) in covariates.items():
        hours = to_epoch_hours(ts, what=f"covariate {name!r}")
        vals = np.asarray(values, dtype=float)
        order = np.argsort(hours, kind="stable")
        out[str(name)] = (hours[order], vals[order])
    return out


def _version(kind: str, digest: bytes, config: EngineConfig) -> str:
    """Version string: engine, method and a hash of training data and settings (same data, same version)."""
    tag = hashlib.sha256(digest + repr(config).encode()).hexdigest()[:12]
    return f"csm-forecast-{ENGINE_VERSION}-{kind}-{tag}"


def _without_outages(series: dict, config: EngineConfig) -> dict:
    """The series with outage runs (long runs of zeros, stuck values) as gaps; see data.mask_outages."""
    zero = getattr(config, "outage_zero_hours", 0)
    stuck = getattr(config, "outage_stuck_hours", 0)
    if not zero and not stuck:
        return series
    out = {}
    for name, (hours, values) in series.items():
        masked, _ = mask_outages(hours, values, zero_hours=zero, stuck_hours=stuck)
        out[name] = (hours, masked)
    return out


def _calendar(config: EngineConfig) -> dict:
    """The local calendar of a config for build_panel (models stored before these fields: the defaults)."""
    return {
        "time_zone": getattr(config, "time_zone", "Europe/Amsterdam"),
        "country": getattr(config, "country", "NL"),
        "subdivision": getattr(config, "subdivision", None),
    }


def _bucket(h: int) -> tuple[int, int]:
    return next(bucket for bucket in HORIZON_BUCKETS if bucket[0] <= h <= bucket[1])


def _observed_slots(panel: Panel, start_hour: int | None = None, end_hour: int | None = None) -> np.ndarray:
    """Slots holding an observation with start_hour <= hour < end_hour (never padding)."""
    keep = ~np.isnan(panel.y)
    if start_hour is not None:
        keep &= panel.hours >= start_hour
    if end_hour is not None:
        keep &= panel.hours < end_hour
    return np.flatnonzero(keep)


def _fit(
    panel: Panel, end_hour: int, horizons: Sequence[int], config: EngineConfig, *, uses_events: bool
) -> tuple[_Ensemble | None, str]:
    """Fit a booster per horizon bucket on targets before ``end_hour``; (None, why) with too little data.

    A bucket is trained on all of its horizons up to ``config.horizon`` (or the largest requested),
    so a backtest at 24 h measures the same booster production uses for 24 h.
    """
    targets = _observed_slots(panel, end_hour=end_hour)
    longest = max(max(horizons), config.horizon)
    boosters = {}
    why = ""
    for bucket in sorted({_bucket(h) for h in horizons}):
        bucket_horizons = range(bucket[0], min(bucket[1], longest) + 1)
        fitted = _fit_bucket(panel, targets, bucket_horizons, config, uses_events=uses_events)
        if isinstance(fitted, str):
            why = fitted
        else:
            boosters[bucket] = fitted
    if not boosters:
        return None, why
    rows = sum(b.rows for b in boosters.values())
    n_series = int(np.unique(panel.sid[targets]).size)
    note = f"{len(boosters)} boosters trained on {rows} rows from {n_series} series"
    names = feats.feature_names(panel.covariate_names, uses_events)
    return _Ensemble(boosters, panel.covariate_names, uses_events, names), note


def _fit_bucket(
    panel: Panel, targets: np.ndarray, horizons: range, config: EngineConfig, *, uses_events: bool
) -> _Booster | str:
    """One bucket's booster and residual quantiles, or the reason there is too little data."""
    rng = np.random.default_rng(config.random_state)
    # Rows are (target, horizon) pairs. Neighbouring horizons of one target are nearly the same row,
    # so a few random horizons per target teach as much as all of them, at a fraction of the cost.
    steps = np.arange(horizons.start, horizons.stop, dtype=np.int64)
    pairs = targets.size * steps.size
    wanted = min(pairs, config.rows_per_target * targets.size, int(1.25 * config.max_train_rows))
    index = np.arange(pairs) if wanted == pairs else rng.choice(pairs, wanted, replace=False)
    t, h = targets[index // steps.size], steps[index % steps.size]
    usable = feats.method_codes(panel, t - h, has_model=True, config=config) == feats.GBM
    t, h = t[usable], h[usable]
    eligible = int(np.unique(t).size)
    if eligible < config.min_train_targets:
        return (
            f"too little history: {eligible} target hours have {config.min_history_model} observed hours "
            f"before them, {config.min_train_targets} are needed"
        )
    if t.size > config.max_train_rows:
        keep = rng.choice(t.size, config.max_train_rows, replace=False)
        t, h = t[keep], h[keep]
    matrix, scale = feats.feature_matrix(
        panel, t, h, uses_events=uses_events, covariate_names=panel.covariate_names
    )
    target = panel.y[t] / scale
    # Early stopping and the residual quantiles need rows the booster has not seen. A random row
    # split would not do: one target hour appears once per horizon of the bucket, so the booster
    # could learn its noise from a sibling row. Hold out whole (series, local day)s instead.
    group = panel.sid[t].astype(np.int64) * 1_000_000 + (panel.hours[t] + panel.offset[t]) // 24
    groups = np.unique(group)
    held_out = np.isin(group, rng.choice(groups, max(1, groups.size // 10), replace=False))
    model = HistGradientBoostingRegressor(
        loss="absolute_error",
        learning_rate=config.learning_rate,
        max_iter=config.max_iter,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization,
        early_stopping=True,
        n_iter_no_change=config.n_iter_no_change,
        random_state=config.random_state,
    )
    with threadpool_limits(limits=config.threads, user_api="openmp"):
        model.fit(matrix[~held_out], target[~held_out], X_val=matrix[held_out], y_val=target[held_out])
        predicted = np.maximum(model.predict(matrix[held_out]), 0.0)
    residual = target[held_out] - predicted
    edges = np.quantile(predicted, np.linspace(0, 1, LEVEL_BINS + 1)[1:-1])
    bins = np.searchsorted(edges, predicted, side="right")
    low, high = np.zeros(LEVEL_BINS), np.zeros(LEVEL_BINS)
    for b in range(LEVEL_BINS):
        chosen = residual[bins == b] if np.count_nonzero(bins == b) >= 20 else residual
        low[b], high[b] = np.quantile(chosen, [0.1, 0.9])
    return _Booster(
        horizons=(horizons.start, horizons.stop - 1),
        model=model,
        edges=edges,
        low=np.minimum(low, 0.0),
        high=np.maximum(high, 0.0),
        rows=int(t.size),
    )


def _forecast_points(
    ensemble: _Ensemble | None,
    panel: Panel,
    t: np.ndarray,
    h: np.ndarray,
    config: EngineConfig,
    *,
    intervals: bool,
):
    """(p10, p50, p90, method codes) for points (t, h); intervals are NaN when ``intervals`` is off."""
    codes = feats.method_codes(panel, t - h, has_model=ensemble is not None, config=config)
    p10 = np.full(t.shape, np.nan)
    p50 = np.full(t.shape, np.nan)
    p90 = np.full(t.shape, np.nan)
    if ensemble is not None:
        buckets = np.array([_bucket(int(x)) for x in range(MAX_HORIZON + 1)[1:]])
        lo = buckets[h - 1, 0]
        for bucket, booster in ensemble.boosters.items():
            chosen = np.flatnonzero((codes == feats.GBM) & (lo == bucket[0]))
            if chosen.size == 0:
                continue
            matrix, scale = feats.feature_matrix(
                panel,
                t[chosen],
                h[chosen],
                uses_events=ensemble.uses_events,
                covariate_names=ensemble.covariate_names,
            )
            with threadpool_limits(limits=config.threads, user_api="openmp"):
                mid = np.maximum(booster.model.predict(matrix), 0.0)
            p50[chosen] = mid * scale
            if intervals:
                bins = np.searchsorted(booster.edges, mid, side="right")
                p10[chosen] = np.maximum(mid + booster.low[bins], 0.0) * scale
                p90[chosen] = (mid + booster.high[bins]) * scale
        # Points whose bucket has no booster (it could not be trained) fall back like the rest.
        missing = (codes == feats.GBM) & np.isnan(p50)
        if missing.any():
            codes[missing] = feats.method_codes(
                panel, t[missing] - h[missing], has_model=False, config=config
            )
    rest = codes != feats.GBM
    if rest.any():
        p10[rest], p50[rest], p90[rest] = feats.fallback(panel, t[rest], h[rest], codes[rest])
    return p10, p50, p90, codes


def _score(
    ensemble: _Ensemble | None,
    panel: Panel,
    start_hour: int,
    horizons: Sequence[int],
    config: EngineConfig,
    *,
    intervals: bool,
) -> dict[int, HorizonScore]:
    """MAE of the forecasts and of the value 168 hours earlier, over targets from ``start_hour`` on."""
    targets = _observed_slots(panel, start_hour=start_hour)
    baseline = panel.y[targets - 168]  # literally 168 hours earlier: the baseline as specified
    known = ~np.isnan(baseline)
    targets, baseline = targets[known], baseline[known]
    actual = panel.y[targets]
    scores = {}
    for horizon in horizons:
        if targets.size == 0:
            scores[horizon] = HorizonScore(None, None, None, 0, None)
            continue
        h = np.full(targets.size, horizon, dtype=np.int64)
        p10, p50, p90, codes = _forecast_points(ensemble, panel, targets, h, config, intervals=intervals)
        scores[horizon] = score_points(
            actual, baseline, p50, p10 if intervals else None, p90 if intervals else None, codes == feats.GBM
        )
    return scores


def _series_records(
    ensemble: _Ensemble | None, panel: Panel, start_hour: int, horizon: int, config: EngineConfig
) -> dict[str, SeriesRecord]:
    """Per series, how far the forecasts ``horizon`` hours ahead were from the actuals from ``start_hour`` on
    (every observed hour; no baseline is needed, unlike ``_score``)."""
    targets = _observed_slots(panel, start_hour=start_hour)
    if targets.size == 0:
        return {}
    h = np.full(targets.size, horizon, dtype=np.int64)
    p10, p50, p90, _ = _forecast_points(ensemble, panel, targets, h, config, intervals=True)
    actual, sid, hours = panel.y[targets], panel.sid[targets], panel.hours[targets]
    known = ~np.isnan(p50)
    records = {}
    for s in np.unique(sid[known]):
        mine = known & (sid == s)
        error = np.abs(p50[mine] - actual[mine])
        inside = (actual[mine] >= p10[mine]) & (actual[mine] <= p90[mine])
        span = hours[mine]
        records[panel.ids[int(s)]] = SeriesRecord(
            horizon=horizon,
            hours=int(mine.sum()),
            days=round(float(span[-1] - span[0] + 1) / 24, 1),
            within=float(np.quantile(error, 0.8)),
            mae=float(np.mean(error)),
            coverage_80=float(np.mean(inside)),
        )
    return records


def score_points(
    actual: np.ndarray,
    baseline: np.ndarray,
    p50: np.ndarray,
    p10: np.ndarray | None = None,
    p90: np.ndarray | None = None,
    by_model: np.ndarray | None = None,
) -> HorizonScore:
    """One horizon's score from the scored points: MAE of p50 and of the baseline, their ratio, and
    (with p10 and p90) the share of actuals inside [p10, p90] (bounds included) and the mean width
    p90 - p10, all over the same points. ``by_model``: which points the booster forecast."""
    actual, baseline, p50 = (np.asarray(a, dtype=float) for a in (actual, baseline, p50))
    if actual.size == 0:
        return HorizonScore(None, None, None, 0, None)
    mae_model = float(np.mean(np.abs(p50 - actual)))
    mae_base = float(np.mean(np.abs(baseline - actual)))
    coverage = width = None
    if p10 is not None and p90 is not None:
        p10, p90 = np.asarray(p10, dtype=float), np.asarray(p90, dtype=float)
        coverage = float(np.mean((actual >= p10) & (actual <= p90)))
        width = float(np.mean(p90 - p10))
    return HorizonScore(
        mae_model=mae_model,
        mae_seasonal_naive=mae_base,
        ratio=mae_model / mae_base if mae_base > 0 else None,
        n=int(actual.size),
        coverage_80=coverage,
        model_share=None if by_model is None else float(np.mean(by_model)),
        mean_interval_width=width,
    )


def _covariate_note(panel: Panel, t: np.ndarray, names: tuple[str, ...]) -> str:
    """A sentence naming covariates the model was trained with but that are unknown for these hours."""
    missing = [name for i, name in enumerate(names) if np.isnan(panel.covariates[t, i]).all()]
    if not missing:
        return ""
    return f" No values for the forecast hours (treated as unknown) of: {', '.join(missing)}."
