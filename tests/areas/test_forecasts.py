"""Forecasts on the platform: hourly history per area, stored forecasts, the API, training, fallbacks."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django_scopes import scopes_disabled

from areas.forecasts import (
    area_history,
    event_attendance,
    refresh_forecasts,
    train_tenant_model,
    weather_covariates,
)
from areas.models import Area, AreaForecast, ForecastModel, PanelCalibration
from sources.models import Series
from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_event, make_source, square

NOW = datetime(2026, 7, 4, 14, 20, tzinfo=UTC)


def store(tenant, source, key, metric, area, points, now=NOW):
    """points: (time, value)."""
    items = [
        Item(row=i, key=key, time=t, value=v, metric=metric, area=area) for i, (t, v) in enumerate(points)
    ]
    with tenant_scope(tenant):
        report = ingest(source=source, items=items, may_create_series=True, now=now)
    assert report.rejected == 0, report.errors[:3]


def daily_shape(hours: int, *, peak: float, end=NOW):
    """Hourly values for ``hours`` hours up to ``end``: a day-time bump, busier at weekends."""
    start = end.replace(minute=0) - timedelta(hours=hours)
    points = []
    for k in range(hours):
        t = start + timedelta(hours=k)
        local_hour = (t.hour + 2) % 24
        weekend = 1.5 if t.weekday() >= 5 else 1.0
        points.append((t, round(peak * weekend * (0.05 + math.exp(-(((local_hour - 15) / 3) ** 2))))))
    return points


@pytest.fixture
def cams(tenant_a):
    return make_source(tenant_a, slug="cams")


def test_hourly_history_follows_the_fusion_rule(tenant_a, cams):
    boulevard = make_area(tenant_a, slug="boulevard", geometry=square(size=0.004))
    make_area(tenant_a, slug="north", parent=boulevard, geometry=square(4.28))
    make_area(tenant_a, slug="south", parent=boulevard, geometry=square(4.29))
    make_area(tenant_a, slug="dunes", geometry=square(4.30))
    hour = NOW.replace(minute=0) - timedelta(hours=2)
    store(
        tenant_a, cams, "cam-n", "people_count", "north", [(hour, 100), (hour + timedelta(minutes=30), 200)]
    )
    store(tenant_a, cams, "cam-s", "people_count", "south", [(hour, 50), (hour + timedelta(hours=1), 70)])
    store(tenant_a, cams, "gps-dunes", "visitor_estimate", "dunes", [(hour, 10)])
    with tenant_scope(tenant_a):
        panel = Series.objects.get(key="gps-dunes")
        PanelCalibration.objects.create(
            tenant=tenant_a, area=panel.area, series=panel, ratio=3.0, points=48, fitted_at=NOW
        )
        history = area_history(tenant=tenant_a, areas=list(Area.objects.all()), start=hour, end=NOW)
    assert history["north"] == ([hour], [150.0])  # mean of the hour
    assert history["boulevard"] == ([hour], [200.0])  # sections summed where both have the hour
    assert history["dunes"] == ([hour], [30.0])  # calibrated panel
    assert history["south"] == ([hour, hour + timedelta(hours=1)], [50.0, 70.0])


def test_refresh_stores_48_hours_with_levels_and_the_method(tenant_a, cams):
    make_area(tenant_a, slug="pier", capacity=1500)
    store(tenant_a, cams, "cam-pier", "people_count", "pier", daily_shape(24 * 10, peak=1200))
    with tenant_scope(tenant_a):
        (forecast,) = refresh_forecasts(tenant=tenant_a, now=NOW)
    assert forecast.issued_at == datetime(2026, 7, 4, 13, tzinfo=UTC)  # the last complete hour
    assert len(forecast.points) == 48
    assert forecast.method == "hour_of_week_profile"  # no model trained yet: ten days give a profile
    assert "no model was trained" in forecast.note
    for point in forecast.points:
        assert 0 <= point["p10"] <= point["p50"] <= point["p90"]
        assert point["level"] in ("quiet", "busy", "very_busy", "crowded", "critical")
    assert forecast.points[0]["time"] == "2026-07-04T14:00:00+00:00"
    saturday_afternoon = forecast.points[0]  # 16:00 local
    assert saturday_afternoon["level"] in (
        "very_busy",
        "crowded",
        "critical",
    )  # 1,200 x 1.5 on 1,500 capacity


def test_an_area_without_data_gets_an_empty_forecast_that_says_so(tenant_a):
    make_area(tenant_a, slug="new-square")
    with tenant_scope(tenant_a):
        (forecast,) = refresh_forecasts(tenant=tenant_a, now=NOW)
    assert forecast.method == "none" and forecast.points == []
    assert "No forecast" in forecast.note


@pytest.mark.clock
def test_forecast_api(api_as, users, tenant_a, cams):
    from django.utils import timezone

    area = make_area(tenant_a, slug="pier", capacity=1500)
    now = timezone.now()
    store(tenant_a, cams, "cam-pier", "people_count", "pier", daily_shape(24 * 3, peak=900, end=now), now=now)
    body = api_as(users["analyst"]).get(f"/api/v1/tenants/tenant-a/areas/{area.pk}/forecast/").json()
    assert body["area"] == "pier" and body["method"] in (
        "seasonal_naive",
        "hour_of_week_profile",
        "recent_mean",
    )
    assert len(body["points"]) == 48 and body["note"]
    assert set(body) >= {"issued_at", "model_version", "trained_at", "accuracy"}
    with scopes_disabled():
        assert AreaForecast.objects.filter(area=area).count() == 1
    api_as(users["analyst"]).get(f"/api/v1/tenants/tenant-a/areas/{area.pk}/forecast/")
    with scopes_disabled():
        assert AreaForecast.objects.filter(area=area).count() == 1  # fresh: served from the store


@pytest.mark.slow
def test_training_stores_a_model_with_its_own_backtest(tenant_a, cams):
    make_area(tenant_a, slug="pier", capacity=1500)
    make_area(tenant_a, slug="square", geometry=square(4.28))
    store(tenant_a, cams, "cam-pier", "people_count", "pier", daily_shape(24 * 35, peak=1200))
    store(tenant_a, cams, "cam-square", "people_count", "square", daily_shape(24 * 35, peak=400))
    with tenant_scope(tenant_a):
        model = train_tenant_model(tenant=tenant_a, now=NOW)
        forecasts = {f.area.slug: f for f in refresh_forecasts(tenant=tenant_a, now=NOW)}
        assert ForecastModel.objects.count() == 1
    assert model.version.startswith("csm-forecast-") and model.series_count == 2
    score = model.accuracy["24"]
    assert set(score) >= {"mae_model", "mae_seasonal_naive", "ratio", "n"} and score["n"] > 0
    pier = forecasts["pier"]
    assert (
        pier.method == "gbm" and pier.model_version == model.version and pier.trained_at == model.trained_at
    )
    assert pier.accuracy["24"] == score


def test_weather_covariates_use_measurements_then_the_daily_forecast(tenant_a):
    weather = make_source(tenant_a, slug="weather", kind="replay", config={"file": "x.csv"})
    hour = NOW.replace(minute=0)
    store(tenant_a, weather, "6330:temperature", "temperature", None, [(hour - timedelta(hours=1), 21.0)])
    tomorrow = datetime(2026, 7, 5, 0, tzinfo=UTC) - timedelta(hours=2)  # local midnight of 5 July
    store(tenant_a, weather, "forecast:temperature_max", "forecast_temperature_max", None, [(tomorrow, 27.0)])
    store(tenant_a, weather, "forecast:precipitation", "forecast_precipitation", None, [(tomorrow, 12.0)])
    with tenant_scope(tenant_a):
        covariates = weather_covariates(
            tenant=tenant_a, start=hour - timedelta(hours=5), end=hour + timedelta(hours=48)
        )
    times, temperatures = covariates["temperature"]
    assert temperatures[times.index(hour - timedelta(hours=1))] == 21.0
    assert temperatures[times.index(datetime(2026, 7, 5, 10, tzinfo=UTC))] == 27.0
    rain_times, rain = covariates["precipitation"]
    assert rain[rain_times.index(datetime(2026, 7, 5, 10, tzinfo=UTC))] == 0.5  # 12 mm over 24 hours


def test_event_attendance_is_spread_over_zones_and_hours(tenant_a):
    event = make_event(tenant_a, slug="koningsdag", expected_attendance=250_000)
    for i, slug in enumerate(("coolsingel", "binnenrotte")):
        make_area(tenant_a, slug=slug, kind="temporary", event=event, geometry=square(4.47 + i / 100, 51.92))
    with tenant_scope(tenant_a):
        attendance = event_attendance(tenant=tenant_a, areas=list(Area.objects.select_related("event")))
    times, values = attendance["coolsingel"]
    assert len(times) == 13 and set(values) == {125_000}  # 08:00-21:00 local, half each
    assert times[0] == datetime(2027, 4, 27, 6, tzinfo=UTC)


def test_latest_forecasts_is_one_query_newest_issue_first_and_bounded_by_issued_by(
    tenant_a, django_assert_num_queries
):
    from areas.selectors import latest_forecasts

    issued = datetime(2027, 4, 27, 10, tzinfo=UTC)
    with tenant_scope(tenant_a):
        pier, beach, quiet = (make_area(tenant_a, slug=s) for s in ("pier", "beach", "quiet"))

        def stored(area, at):
            return AreaForecast.objects.create(
                tenant=tenant_a, area=area, issued_at=at, method="test", points=[]
            )

        old = stored(pier, issued - timedelta(hours=3))
        stored(pier, issued)
        same_moment_later_row = stored(pier, issued)
        beach_forecast = stored(beach, issued - timedelta(hours=1))
        with django_assert_num_queries(1):
            latest = latest_forecasts(areas=[pier, beach, quiet])
        assert latest == {pier.pk: same_moment_later_row, beach.pk: beach_forecast}  # quiet has none
        before = latest_forecasts(
            areas=Area.objects.filter(pk__in=[pier.pk, beach.pk]), issued_by=issued - timedelta(hours=2)
        )
        assert before == {pier.pk: old}
        assert latest_forecasts(areas=[]) == {}
