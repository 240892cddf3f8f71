"""Forecasting engine: no leakage, ordered intervals, fallbacks with notes, storage, calendar, accuracy."""

import json
import pickle
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from areas.forecasting import EngineConfig, backtest, load_model, train
from areas.forecasting import features as feats
from areas.forecasting.calendar_nl import day_flags, utc_offsets
from areas.forecasting.data import build_panel, clean_series, to_epoch_hours
from areas.forecasting.synthetic import generate

START = datetime(2025, 1, 6, tzinfo=UTC)  # the generator's default start
TRAIN_END = START + timedelta(weeks=7)
ORIGIN = TRAIN_END - timedelta(hours=1)  # the last hour the model saw
NOW = datetime(2025, 2, 24, 3, 15, tzinfo=UTC)


def to_datetimes(stamps: np.ndarray) -> list[datetime]:
    return [
        datetime.fromtimestamp(int(h) * 3600, tz=UTC) for h in stamps.astype("datetime64[h]").astype(np.int64)
    ]


def cut(series: dict, start: datetime | None = None, end: datetime = TRAIN_END) -> dict:
    """The part of each generated series in [start, end)."""
    low = np.datetime64(start.replace(tzinfo=None), "h") if start else None
    high = np.datetime64(end.replace(tzinfo=None), "h")
    result = {}
    for name, (stamps, values) in series.items():
        keep = stamps < high
        if low is not None:
            keep &= stamps >= low
        result[name] = (stamps[keep], values[keep])
    return result


@pytest.fixture(scope="module")
def data():
    """Eight weeks of four sensors: seven to train on, the eighth holds the weather 'forecast'."""
    return generate(weeks=8, sensors=4, seed=3)


@pytest.fixture(scope="module")
def model(data):
    return train(
        cut(data.series),
        covariates=data.covariates,
        events=data.events,
        config=EngineConfig(holdout_hours=168),
        now=NOW,
    )


def assert_interval(forecast):
    assert np.isfinite(forecast.p10).all() and np.isfinite(forecast.p90).all()
    assert (forecast.p10 >= 0).all()
    assert (forecast.p10 <= forecast.p50).all()
    assert (forecast.p50 <= forecast.p90).all()
    assert (forecast.p90 > forecast.p10).any()  # a real interval, not a point


@pytest.mark.parametrize("h", [1, 2, 3, 5, 23, 24, 25, 47, 48, 100, 168])
def test_no_feature_or_fallback_reads_anything_after_the_origin(data, h):
    cleaned = {name: clean_series(name, *pair) for name, pair in data.series.items()}
    events = {name: clean_series(name, *pair) for name, pair in data.events.items()}
    covariates = {name: (to_epoch_hours(s), v) for name, (s, v) in data.covariates.items()}
    origin = int(to_epoch_hours([START + timedelta(weeks=6, hours=13)])[0])
    rng = np.random.default_rng(h)
    scrambled = {}
    for name, (hours, values) in cleaned.items():
        values = values.copy()
        later = hours > origin  # the target itself too, and the gaps after the origin
        values[later] = rng.uniform(0, 5000, later.sum())
        scrambled[name] = (hours, values)

    def compute(series):
        panel = build_panel(series, covariates=covariates, attendance=events)
        t = np.array([panel.slot(s, origin) for s in range(len(panel.ids))]) + h
        steps = np.full(t.size, h)
        matrix, scale = feats.feature_matrix(
            panel, t, steps, uses_events=True, covariate_names=panel.covariate_names
        )
        codes = feats.method_codes(panel, t - steps, has_model=True, config=EngineConfig())
        fallbacks = [
            np.column_stack(feats.fallback(panel, t, steps, np.full(t.size, code, dtype=np.int8)))
            for code in (feats.PROFILE, feats.NAIVE, feats.MEAN)
        ]
        return matrix, scale, codes, *fallbacks

    for before, after in zip(compute(cleaned), compute(scrambled), strict=True):
        np.testing.assert_array_equal(before, after)


def test_predict_ignores_observations_after_the_origin(model, data):
    exact = model.predict(cut(data.series), ORIGIN, covariates=data.covariates)
    with_future = model.predict(data.series, ORIGIN, covariates=data.covariates)
    for name, forecast in exact.items():
        for band in ("p10", "p50", "p90"):
            np.testing.assert_array_equal(getattr(forecast, band), getattr(with_future[name], band))


def test_forecasts_are_48_hours_with_ordered_non_negative_intervals(model, data):
    forecasts = model.predict(cut(data.series), ORIGIN, covariates=data.covariates, events=data.events)
    assert set(forecasts) == set(data.series)
    for name, forecast in forecasts.items():
        assert forecast.series_id == name
        assert forecast.origin == ORIGIN
        assert forecast.times == tuple(ORIGIN + timedelta(hours=k) for k in range(1, 49))
        assert forecast.method == "gbm"
        assert model.version in forecast.note
        assert_interval(forecast)
        rows = json.loads(json.dumps(forecast.rows()))
        assert rows[0] == {
            "time": (ORIGIN + timedelta(hours=1)).isoformat(),
            "p10": forecast.p10[0],
            "p50": forecast.p50[0],
            "p90": forecast.p90[0],
        }


@pytest.mark.parametrize(
    ("days", "method", "words"),
    [
        (0, "none", "No forecast: no observations in the 8 weeks before the origin."),
        (0.4, "recent_mean", "Recent mean (of the last week)"),
        (3, "seasonal_naive", "the profile needs 168, and the model needs 336"),
        (10, "hour_of_week_profile", "Hour-of-week profile (mean by local weekday and hour)"),
        (20, "gbm", "Gradient-boosted model csm-forecast-"),
    ],
)
def test_short_history_falls_back_and_the_note_says_why(model, data, days, method, words):
    stamps, values = cut(data.series, ORIGIN - timedelta(days=days) + timedelta(hours=1))["sensor-01"]
    forecast = model.predict({"new-sensor": (to_datetimes(stamps), values)}, ORIGIN)["new-sensor"]
    assert forecast.method == method
    assert words in forecast.note
    assert len(forecast.times) == 48
    if method == "none":
        assert np.isnan(forecast.p50).all()
        assert forecast.rows()[0]["p50"] is None
    else:
        assert_interval(forecast)


def test_a_sensor_silent_for_the_last_week_gets_the_profile(model, data):
    history = cut(data.series, ORIGIN - timedelta(weeks=5), ORIGIN - timedelta(days=8))
    forecast = model.predict(history, ORIGIN)["sensor-02"]
    assert forecast.method == "hour_of_week_profile"
    assert "the model needs a day of data in the last week and there are 0 hours" in forecast.note
    assert_interval(forecast)


def test_training_on_days_of_data_gives_a_fallback_model_that_never_raises(data):
    history = cut(data.series, START, START + timedelta(days=10))
    model = train(history, now=NOW)
    assert model.method == "fallback"
    assert model.ensemble is None
    assert "too little history" in model.note
    assert re.fullmatch(r"csm-forecast-1\.0-fallback-[0-9a-f]{12}", model.version)
    origin = START + timedelta(days=10, hours=-1)
    forecast = model.predict(history, origin)["sensor-01"]
    assert forecast.method == "hour_of_week_profile"
    assert "no model was trained for this tenant (too little history" in forecast.note
    assert_interval(forecast)

    empty = train({}, now=NOW)
    assert (empty.method, empty.note, empty.data_until) == ("fallback", "no observations at all", None)
    assert empty.predict({}, origin) == {}
    assert empty.predict({"a": ([], [])}, origin)["a"].method == "none"


def test_model_carries_version_training_time_and_holdout_accuracy(model):
    assert re.fullmatch(r"csm-forecast-1\.0-gbm-[0-9a-f]{12}", model.version)
    assert model.method == "gbm"
    assert model.trained_at == NOW
    assert model.data_until == ORIGIN
    assert model.uses_events
    assert model.covariate_names == ("precipitation", "temperature")
    assert set(model.backtest) == {1, 3, 6, 12, 24, 48}
    for score in model.backtest.values():
        assert score.n > 100
        assert score.ratio == pytest.approx(score.mae_model / score.mae_seasonal_naive)
        assert 0.4 < score.coverage_80 < 1
        assert score.model_share == 1.0
        assert set(score.as_dict()) == {
            "mae_model",
            "mae_seasonal_naive",
            "ratio",
            "n",
            "coverage_80",
            "model_share",
            "mean_interval_width",
        }
        assert score.mean_interval_width > 0
    assert model.backtest[1].ratio < 0.7  # even on five weeks of training data


def test_model_survives_storage_as_bytes(model, data):
    blob = model.to_bytes()
    assert isinstance(blob, bytes)
    restored = load_model(blob)
    assert (restored.version, restored.trained_at, restored.data_until, restored.backtest) == (
        model.version,
        model.trained_at,
        model.data_until,
        model.backtest,
    )
    before = model.predict(cut(data.series), ORIGIN, covariates=data.covariates)
    after = restored.predict(cut(data.series), ORIGIN, covariates=data.covariates)
    for name, forecast in before.items():
        np.testing.assert_array_equal(forecast.p50, after[name].p50)
        np.testing.assert_array_equal(forecast.p90, after[name].p90)
    with pytest.raises(ValueError, match="do not hold a ForecastModel"):
        load_model(pickle.dumps({"not": "a model"}))


def test_events_raise_the_forecast_and_missing_weather_is_noted(model, data):
    history = cut(data.series)
    plain = model.predict(history, ORIGIN, covariates=data.covariates)["sensor-01"]
    hours = [ORIGIN + timedelta(hours=k) for k in (14, 15, 16, 17)]  # 14:00-18:00 local
    attendance = np.array([1500, 3000, 3000, 1500])
    event = {"sensor-01": (hours, attendance)}
    busy = model.predict(history, ORIGIN, covariates=data.covariates, events=event)["sensor-01"]
    lift = busy.p50 - plain.p50
    # Seven weeks hold only a few events to learn from; the lift is there, its size is rough.
    assert (lift[13:17] > 0.02 * attendance).all()
    assert (lift[:12] == 0).all()
    assert "No values for the forecast hours" not in plain.note

    blind = model.predict(history, ORIGIN)["sensor-01"]
    assert (
        "No values for the forecast hours (treated as unknown) of: precipitation, temperature." in blind.note
    )
    assert_interval(blind)


def test_local_calendar_follows_amsterdam_time_and_dutch_holidays():
    spring = to_epoch_hours([datetime(2025, 3, 30, 0), datetime(2025, 3, 30, 1)])  # naive = UTC
    autumn = to_epoch_hours([datetime(2025, 10, 26, 0), datetime(2025, 10, 26, 1)])
    assert utc_offsets(spring).tolist() == [1, 2]
    assert utc_offsets(autumn).tolist() == [2, 1]
    days = [(datetime(2025, *md) - datetime(1970, 1, 1)).days for md in ((4, 26), (12, 25), (7, 21), (3, 4))]
    holiday, school, own = day_flags(np.array(days), "Noord")
    assert holiday.tolist() == [1, 1, 0, 0]  # King's Day, Christmas
    assert school.tolist() == [1, 1, 1, 0]  # May and Christmas breaks everywhere, summer in all regions
    assert own.tolist() == [1, 1, 1, 0]


def test_weekly_lag_compares_the_same_local_hour_across_dst():
    stamps = [datetime(2025, 3, 20, tzinfo=UTC) + timedelta(hours=k) for k in range(24 * 14)]
    panel = build_panel({"a": clean_series("a", stamps, np.arange(len(stamps), dtype=float))})
    t = panel.slot(0, int(to_epoch_hours([datetime(2025, 4, 1, 12)])[0]))  # 14:00 summer time
    back = panel.hours[panel.seasonal_index(np.array([t]), 168)][0]
    assert back == to_epoch_hours([datetime(2025, 3, 25, 13)])[0]  # 14:00 winter time


@pytest.mark.parametrize(
    ("stamps", "values", "message"),
    [
        ([datetime(2025, 1, 1), datetime(2025, 1, 1)], [1, 2], "duplicate timestamp 2025-01-01T00:00:00"),
        ([datetime(2025, 1, 1), datetime(2025, 1, 1, 1)], [1, -2], "negative value at 2025-01-01T01:00"),
        ([datetime(2025, 1, 1, 0, 30)], [1], "not on a whole hour"),
        ([datetime(2025, 1, 1)], [1, 2], "1 timestamps but 2 values"),
    ],
)
def test_malformed_input_is_refused(stamps, values, message):
    with pytest.raises(ValueError, match=message):
        train({"a": (stamps, values)})


def test_horizons_out_of_range_are_refused(model, data):
    with pytest.raises(ValueError, match="horizon must be between 1 and 48"):
        model.predict(cut(data.series), ORIGIN, horizon=49)
    with pytest.raises(ValueError, match="horizon must be between 1 and 168"):
        backtest(cut(data.series), train_until=ORIGIN, horizons=(0,))


def test_beats_the_baseline_on_a_differently_shaped_set():
    """Random daily shapes, wandering level, heavy-tailed noise: nothing like the pedestrian formulas."""
    data = generate(weeks=20, sensors=6, seed=0, style="alternative")
    split = START + timedelta(weeks=14)
    scores = backtest(data.series, train_until=split, horizons=(1, 3, 24))
    assert scores[1].ratio < 0.5
    assert scores[3].ratio < 0.65
    assert scores[24].ratio < 0.9
    # Scored are exactly the hours from the split on with an actual and a value 168 hours earlier.
    expected = 0
    for stamps, values in data.series.values():
        hours = stamps.astype(np.int64)
        known = dict(zip(hours[~np.isnan(values)].tolist(), values[~np.isnan(values)], strict=True))
        split_hour = int(to_epoch_hours([split])[0])
        expected += sum(1 for hour in known if hour >= split_hour and hour - 168 in known)
    assert {score.n for score in scores.values()} == {expected}
