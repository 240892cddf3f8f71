"""The operator's words on a forecast: how good it has been lately for the area (the holdout record), and
when it is not trustworthy (too little data, no recent counts, a stuck counter) so it is not drawn and
raises no alert."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from areas.forecasting import EngineConfig, train
from areas.forecasting.synthetic import generate
from areas.forecasts import forecast_properties, forecast_trust, refresh_forecasts, train_tenant_model
from areas.models import AreaForecast
from tenants.scoping import tenant_scope
from tests.areas.test_forecasts import daily_shape, store
from tests.factories import make_area, make_source

ORIGIN = datetime(2026, 7, 4, 13, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hours_up_to(end: datetime, values: list[float]) -> tuple[list[datetime], list[float]]:
    return [end - (len(values) - 1 - k) * HOUR for k in range(len(values))], values


# --- forecast_trust ----------------------------------------------------------------------------------


def test_a_forecast_with_recent_changing_counts_is_trustworthy():
    history = hours_up_to(ORIGIN, [0, 0, 0, 0, 0, 0, 0, 5, 40, 90, 120, 118])  # zeros at night are real
    assert forecast_trust("gbm", history, ORIGIN) == {"ok": True}
    assert forecast_trust("hour_of_week_profile", history, ORIGIN) == {"ok": True}


@pytest.mark.parametrize("method", ["none", "recent_mean", "seasonal_naive"])
def test_under_a_week_of_data_is_too_little(method):
    history = hours_up_to(ORIGIN, [10.0] * 50)
    assert forecast_trust(method, history, ORIGIN) == {"ok": False, "reason": "too_little_data", "hours": 50}


def test_no_counts_in_the_last_three_hours_is_an_outage():
    last = ORIGIN - 3 * HOUR
    history = hours_up_to(last, [10.0, 20.0, 30.0])
    assert forecast_trust("gbm", history, ORIGIN) == {
        "ok": False,
        "reason": "no_recent_counts",
        "since": last.isoformat(),
    }
    # Two hours without a count is not yet an outage.
    assert forecast_trust("gbm", hours_up_to(ORIGIN - 2 * HOUR, [10.0, 20.0]), ORIGIN) == {"ok": True}
    assert forecast_trust("gbm", ([], []), ORIGIN) == {
        "ok": False,
        "reason": "no_recent_counts",
        "since": None,
    }


def test_the_same_count_six_hours_running_is_a_stuck_counter():
    history = hours_up_to(ORIGIN, [80.0, 95.0, *[112.0] * 6])
    assert forecast_trust("gbm", history, ORIGIN) == {
        "ok": False,
        "reason": "stuck_counts",
        "since": (ORIGIN - 5 * HOUR).isoformat(),
        "hours": 6,
    }
    assert forecast_trust("gbm", hours_up_to(ORIGIN, [80.0, *[112.0] * 5]), ORIGIN) == {"ok": True}
    # A gap breaks the run: hours that are not consecutive are not one stuck reading.
    times, values = hours_up_to(ORIGIN, [112.0] * 6)
    times[0] -= 2 * HOUR
    assert forecast_trust("gbm", (times, values), ORIGIN) == {"ok": True}


# --- the engine's per-series record ------------------------------------------------------------------


def test_the_engine_records_each_series_on_the_holdout():
    data = generate(weeks=6, sensors=3, seed=5)
    series = dict(data.series)
    name = sorted(series)[0]
    stamps, values = series[name]
    values = values.copy()
    values[-30:-20] = np.nan  # ten hours missing in the holdout of one sensor
    series[name] = (stamps, values)
    model = train(series, config=EngineConfig(holdout_hours=168), now=datetime(2025, 3, 1, tzinfo=UTC))
    assert set(model.records) == set(series)
    for sid, record in model.records.items():
        stamps, values = series[sid]
        expected_hours = int(np.sum(~np.isnan(values[-168:])))
        assert record.horizon == 3 and record.hours == expected_hours
        assert record.days == 7.0
        assert 0.0 <= record.coverage_80 <= 1.0
    assert all(record.within > 0 for record in model.records.values())


def test_the_record_is_the_80th_percentile_of_the_absolute_error():
    from areas.forecasting.data import build_panel, clean_series
    from areas.forecasting.engine import _forecast_points, _series_records

    data = generate(weeks=6, sensors=2, seed=9)
    cleaned = {name: clean_series(name, *pair) for name, pair in data.series.items()}
    panel = build_panel(cleaned)
    start = int(panel.hours.max()) - 167
    config = EngineConfig()
    records = _series_records(None, panel, start, 3, config)  # the fallbacks: no booster
    targets = np.flatnonzero(~np.isnan(panel.y) & (panel.hours >= start))
    _, p50, _, _ = _forecast_points(None, panel, targets, np.full(targets.size, 3), config, intervals=True)
    for s, name in enumerate(panel.ids):
        mine = panel.sid[targets] == s
        error = np.sort(np.abs(p50[mine] - panel.y[targets][mine]))
        assert records[name].within == pytest.approx(np.quantile(error, 0.8))
        assert error[int(0.5 * (error.size - 1))] <= records[name].within <= error[-1]


# --- stored forecasts, the picture, alerts -------------------------------------------------------------


NOW = datetime(2026, 7, 4, 14, 20, tzinfo=UTC)


@pytest.mark.slow
def test_a_trained_forecast_carries_the_areas_record_and_is_trusted(tenant_a):
    cams = make_source(tenant_a, slug="cams")
    make_area(tenant_a, slug="pier", capacity=1500)
    store(tenant_a, cams, "cam-pier", "people_count", "pier", daily_shape(24 * 42, peak=1200))
    with tenant_scope(tenant_a):
        train_tenant_model(tenant=tenant_a, now=NOW)
        (forecast,) = refresh_forecasts(tenant=tenant_a, now=NOW)
    assert forecast.method == "gbm" and forecast.trust == {"ok": True}
    record = forecast.record
    assert record["horizon"] == 3 and record["hours"] >= 48 and record["within"] >= 0
    assert 0 <= record["coverage_80"] <= 1


def test_a_forecast_of_a_stopped_sensor_is_stored_as_not_trustworthy(tenant_a):
    cams = make_source(tenant_a, slug="cams")
    make_area(tenant_a, slug="pier", capacity=1500)
    # Ten days of counts that stopped five hours before now.
    store(
        tenant_a,
        cams,
        "cam-pier",
        "people_count",
        "pier",
        daily_shape(24 * 10, peak=1200, end=NOW - 5 * HOUR),
    )
    with tenant_scope(tenant_a):
        (forecast,) = refresh_forecasts(tenant=tenant_a, now=NOW)
    assert forecast.trust["ok"] is False and forecast.trust["reason"] == "no_recent_counts"
    assert forecast.points  # kept for looking back, but not shown
    properties = forecast_properties(forecast, NOW)
    assert properties["forecast_level"] is None and properties["forecast_level_3h"] is None
    assert properties["forecast"]["trust"] == forecast.trust


def test_an_untrustworthy_forecast_raises_no_forecast_alert(tenant_a):
    from incidents.models import Alert, AlertRule
    from incidents.services import evaluate_alerts

    area = make_area(tenant_a, slug="pier", capacity=100)
    points = [
        {"time": (NOW + k * HOUR).replace(minute=0).isoformat(), "p10": 90, "p50": 150, "p90": 200,
         "level": "critical", "level_p90": "critical"}
        for k in range(1, 4)
    ]  # fmt: skip
    with tenant_scope(tenant_a):
        AlertRule.objects.create(
            tenant=tenant_a, name="soon", kind="forecast_level", level="crowded", within_hours=3
        )
        forecast = AreaForecast.objects.create(
            tenant=tenant_a, area=area, issued_at=NOW - HOUR, method="gbm", points=points,
            trust={"ok": False, "reason": "stuck_counts", "since": (NOW - 7 * HOUR).isoformat(), "hours": 6},
        )  # fmt: skip
        evaluate_alerts(tenant=tenant_a, now=NOW)
        assert not Alert.objects.filter(kind="forecast_level").exists()
        forecast.trust = {"ok": True}
        forecast.save()
        evaluate_alerts(tenant=tenant_a, now=NOW)
        assert Alert.objects.filter(kind="forecast_level", area=area).count() == 1
