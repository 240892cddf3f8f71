"""Passer-by counts (people crossing a counting line per minute) are a flow, not people present: flow
levels (Fruin) or a Weidmann density estimate, the busiest line per area, forecasts, alerts, the API."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django_scopes import scopes_disabled

from areas.forecasts import area_history, refresh_forecasts
from areas.levels import (
    DEFAULT_FLOW_BANDS,
    WEIDMANN_CAPACITY_DENSITY,
    WEIDMANN_CAPACITY_FLOW,
    assess_flow,
    weidmann_density,
    weidmann_flow,
)
from areas.models import Area
from areas.status import area_statuses
from configpkg.selectors import config_package_build
from incidents.models import Alert
from incidents.services import alert_rule_save, evaluate_alerts
from sources.models import Series
from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source, square
from tests.helpers import assert_problem

NOW = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)
AREAS = "/api/v1/tenants/tenant-a/areas/"


def passing(tenant, source, key, area, points, *, width=None, facility="", now=NOW):
    """Store (minutes before ``now``, persons per minute) for a people_passing series."""
    items = [
        Item(
            row=i,
            key=key,
            time=now - timedelta(minutes=m),
            value=v,
            metric="people_passing",
            area=area,
            facility=facility,
            line_width_m=width,
        )
        for i, (m, v) in enumerate(points)
    ]
    with tenant_scope(tenant):
        report = ingest(source=source, items=items, may_create_series=True, now=now)
    assert report.rejected == 0, report.errors
    return report


def statuses(tenant):
    with tenant_scope(tenant):
        return {s.slug: s for s in area_statuses(tenant=tenant, now=NOW).values()}


@pytest.fixture
def lines(tenant_a):
    return make_source(tenant_a, slug="cmsa")


# --- levels -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flow, level",
    [(0, "quiet"), (32.9, "quiet"), (33, "busy"), (48.9, "busy"), (49, "very_busy"), (66, "crowded"),
     (81.9, "crowded"), (82, "critical"), (200, "critical")],
)  # fmt: skip
def test_fruin_walkway_levels_of_service_are_the_default_flow_bands(flow, level):
    assessment = assess_flow(flow)
    assert (assessment.level, assessment.basis, assessment.density) == (level, "flow", None)
    assert DEFAULT_FLOW_BANDS == {"busy": 33, "very_busy": 49, "crowded": 66, "critical": 82}


def test_weidmann_density_inverts_the_fundamental_diagram_on_its_free_branch():
    # Weidmann (1993): capacity about 1.22 persons/m/s (73 persons/min/m) at about 1.75 persons/m².
    assert pytest.approx(73.5, abs=0.1) == WEIDMANN_CAPACITY_FLOW
    assert pytest.approx(1.75, abs=0.01) == WEIDMANN_CAPACITY_DENSITY
    for flow in (1, 10, 30, 50, 70):
        density, saturated = weidmann_density(flow)
        assert not saturated and density < WEIDMANN_CAPACITY_DENSITY
        assert weidmann_flow(density) == pytest.approx(flow, rel=1e-6)
    # At 1 p/m² the speed is 1.34 (1 - exp(-1.913 (1 - 1/5.4))) = 1.06 m/s: 63.7 persons/min/m.
    assert weidmann_flow(1.0) == pytest.approx(60 * 1.34 * (1 - math.exp(-1.913 * (1 - 1 / 5.4))))
    assert weidmann_density(0) == (0.0, False)


def test_weidmann_levels_come_from_the_density_bands_and_saturation_is_at_least_crowded():
    assert assess_flow(20, method="weidmann").level == "quiet"  # 0.25 p/m²
    middle = assess_flow(60, method="weidmann")  # 0.90 p/m²
    assert (middle.level, middle.basis) == ("busy", "flow_density")
    assert middle.density == pytest.approx(0.899, abs=0.001)
    jammed = assess_flow(90, method="weidmann")
    assert jammed.saturated and jammed.level == "crowded"
    assert jammed.density == pytest.approx(WEIDMANN_CAPACITY_DENSITY)
    with pytest.raises(ValueError, match="Unknown flow method 'magic'"):
        assess_flow(10, method="magic")


# --- status -------------------------------------------------------------------------------------------


def test_passers_by_are_not_people_present_the_busiest_line_gives_the_level(tenant_a, lines):
    make_area(tenant_a, slug="damrak", geometry=square(size=0.001))  # about 7,600 m²
    # Line GAWW-11 (8 m wide): two walking directions, 180 + 100 persons/min: 35 persons/min/m.
    passing(tenant_a, lines, "GAWW-11_120", "damrak", [(15, 100), (1, 180)], width=8, facility="GAWW-11")
    passing(tenant_a, lines, "GAWW-11_300", "damrak", [(15, 60), (1, 100)], width=8, facility="GAWW-11")
    # Line GAWW-12 (20 m wide): 300 persons/min, 15 persons/min/m: more people, less flow per metre.
    passing(tenant_a, lines, "GAWW-12_0", "damrak", [(15, 300), (1, 300)], width=20, facility="GAWW-12")
    status = statuses(tenant_a)["damrak"]
    assert status.method == "passer_by_flow" and status.people is None
    assert (status.flow, status.flow_line, status.flow_method) == (35.0, "GAWW-11", "fruin")
    assert (status.level, status.basis, status.density) == ("busy", "flow", None)
    assert status.trend["15m"] == "rising" and status.trend["change_15m"] == 15.0  # from 20 p/min/m
    used = {c.series for c in status.sources if c.used}
    assert used == {"GAWW-11_120", "GAWW-11_300"} and len(status.sources) == 3
    assert status.stale is False and status.as_dict()["flow"] == 35.0
    # Read as people present the 580 passers-by would have been 0.08 p/m² of the whole square: the
    # flow says the walkway is busy while the density of the square says nothing of it.


def test_a_weidmann_area_shows_a_density_estimate(tenant_a, lines):
    make_area(tenant_a, slug="kalverstraat", flow_method="weidmann")
    passing(tenant_a, lines, "KS-1", "kalverstraat", [(1, 300)], width=5)  # 60 persons/min/m
    status = statuses(tenant_a)["kalverstraat"]
    assert (status.flow, status.flow_method, status.basis) == (60.0, "weidmann", "flow_density")
    assert status.density == pytest.approx(0.899, abs=0.001) and status.level == "busy"
    assert status.saturated is False and status.people is None


def test_a_line_without_a_width_cannot_give_a_level(tenant_a, lines):
    make_area(tenant_a, slug="nieuwendijk")
    passing(tenant_a, lines, "ND-1", "nieuwendijk", [(1, 120)])
    status = statuses(tenant_a)["nieuwendijk"]
    assert status.method == "none" and status.level is None and status.flow is None
    assert [(c.series, c.value, c.used) for c in status.sources] == [("ND-1", 120.0, False)]


def test_counts_of_people_present_win_over_passer_by_flow(tenant_a, lines):
    make_area(tenant_a, slug="plein", capacity=1000)
    passing(tenant_a, lines, "PL-line", "plein", [(1, 500)], width=5)
    with tenant_scope(tenant_a):
        ingest(
            source=lines,
            items=[Item(row=0, key="PL-cam", time=NOW - timedelta(minutes=1), value=400,
                        metric="people_count", area="plein")],
            may_create_series=True,
            now=NOW,
        )  # fmt: skip
    status = statuses(tenant_a)["plein"]
    assert (status.method, status.people, status.flow) == ("counts", 400, None)


def test_a_stale_line_still_shows_its_last_flow_marked_stale(tenant_a, lines):
    make_area(tenant_a, slug="rokin")
    passing(tenant_a, lines, "RK-1", "rokin", [(45, 250)], width=5)
    status = statuses(tenant_a)["rokin"]
    assert status.flow == 50.0 and status.stale is True and status.level == "very_busy"


def test_the_width_comes_with_the_reading_and_an_admin_width_is_kept(tenant_a, lines):
    make_area(tenant_a, slug="damrak")
    report = passing(tenant_a, lines, "W-1", "damrak", [(2, 10)])
    assert report.created_series == ["W-1"]
    with scopes_disabled():
        assert Series.objects.get(key="W-1").line_width_m is None
    passing(tenant_a, lines, "W-1", "damrak", [(1, 10)], width=6.5)
    with scopes_disabled():
        series = Series.objects.get(key="W-1")
        assert series.line_width_m == 6.5
        series.line_width_m = 7.0
        series.save()
    passing(tenant_a, lines, "W-1", "damrak", [(0, 10)], width=3)
    with scopes_disabled():
        assert Series.objects.get(key="W-1").line_width_m == 7.0
    report = passing(tenant_a, lines, "W-2", "damrak", [(1, 10)], width=-4)
    assert "line width -4 is not a number of metres" in report.warnings[0]
    with scopes_disabled():
        assert Series.objects.get(key="W-2").line_width_m is None


# --- forecasts and alerts -----------------------------------------------------------------------------


def hourly_flows(days: int, *, peak: float):
    """Minute rates on the hour for ``days`` days before NOW: a day-time bump in persons/min."""
    points = []
    for k in range(days * 24):
        t = NOW - timedelta(hours=k + 1)
        local_hour = (t.hour + 2) % 24
        value = round(peak * math.exp(-(((local_hour - 15) / 3) ** 2)), 1)
        points.append((int((NOW - t).total_seconds() // 60), value))
    return points


def test_flow_areas_get_a_forecast_in_flow_with_flow_levels(tenant_a, lines):
    make_area(tenant_a, slug="damrak")
    passing(tenant_a, lines, "D-1", "damrak", hourly_flows(10, peak=400), width=8, facility="D")
    passing(tenant_a, lines, "D-2", "damrak", hourly_flows(10, peak=200), width=8, facility="D")
    with tenant_scope(tenant_a):
        quantities = {}
        history = area_history(
            tenant=tenant_a, areas=list(Area.objects.all()), start=NOW - timedelta(days=2), end=NOW,
            quantities=quantities,
        )  # fmt: skip
        assert quantities == {"damrak": "flow"}
        assert max(history["damrak"][1]) == pytest.approx(600 / 8, rel=0.01)  # 75 persons/min/m at 15:00
        (forecast,) = refresh_forecasts(tenant=tenant_a, now=NOW)
    assert forecast.quantity == "flow" and forecast.method == "hour_of_week_profile"
    assert len(forecast.points) == 48
    for point in forecast.points:
        assert point["level"] == assess_flow(point["p50"]).level
    peak = max(forecast.points, key=lambda p: p["p50"])
    assert peak["p50"] == pytest.approx(75, rel=0.05) and peak["level"] == "crowded"


def test_a_level_rule_fires_on_a_flow_area_and_names_the_line(tenant_a, lines):
    make_area(tenant_a, slug="damrak", name="Damrak")
    with tenant_scope(tenant_a):
        alert_rule_save(
            tenant=tenant_a,
            actor=None,
            data={"name": "Busy walkway", "kind": "level_now", "level": "very_busy"},
        )
    passing(tenant_a, lines, "D-1", "damrak", [(1, 440)], width=8, facility="GAWW-04")  # 55 p/min/m
    with tenant_scope(tenant_a):
        evaluate_alerts(tenant=tenant_a, now=NOW)
    with scopes_disabled():
        (alert,) = Alert.objects.filter(tenant=tenant_a)
    assert alert.level == "very_busy"
    assert "55.0 people per minute per metre at GAWW-04 (Fruin level of service)" in alert.message
    assert alert.details["flow"] == 55.0 and alert.details["flow_line"] == "GAWW-04"


# --- API and configuration packages -------------------------------------------------------------------


def test_flow_method_and_bands_through_the_api(api_as, admin_a, tenant_a, lines):
    damrak = make_area(tenant_a, slug="damrak")
    client = api_as(admin_a)
    response = client.patch(f"{AREAS}{damrak.pk}/", {"flow_method": "weidmann"}, format="json")
    assert response.status_code == 200 and response.json()["flow_method"] == "weidmann"
    body = assert_problem(client.patch(f"{AREAS}{damrak.pk}/", {"flow_method": "guess"}, format="json"), 400)
    assert "flow_method" in body["errors"]
    body = assert_problem(
        client.patch(f"{AREAS}{damrak.pk}/", {"flow_bands": {"busy": 50, "very_busy": 40}}, format="json"),
        400,
    )
    assert "flow_bands" in body["errors"]
    bands = {"busy": 20, "very_busy": 30, "crowded": 40, "critical": 50}
    response = client.put("/api/v1/tenants/tenant-a/crowd-levels/", {"flow_bands": bands}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["effective_flow_bands"] == bands and body["default_flow_bands"] == DEFAULT_FLOW_BANDS
    client.patch(f"{AREAS}{damrak.pk}/", {"flow_method": "fruin"}, format="json")
    passing(tenant_a, lines, "D-1", "damrak", [(1, 200)], width=8)  # 25 p/min/m: busy on these bands
    status = client.get(f"{AREAS}status/").json()["areas"][0]
    assert (status["flow"], status["level"], status["method"]) == (25.0, "busy", "passer_by_flow")
    feature = client.get(f"{AREAS}geojson/").json()["features"][0]
    assert feature["properties"]["status"]["flow"] == 25.0
    assert feature["properties"]["status"]["basis"] == "flow"


def test_flow_settings_travel_in_configuration_packages(tenant_a):
    bands = {"busy": 20, "very_busy": 30, "crowded": 40, "critical": 50}
    make_area(tenant_a, slug="damrak", flow_method="weidmann", flow_bands=bands)
    with tenant_scope(tenant_a):
        package = config_package_build(tenant=tenant_a)
    (area,) = package["areas"]
    assert (area["flow_method"], area["flow_bands"]) == ("weidmann", bands)
    assert package["crowd_levels"]["flow_bands"] is None
