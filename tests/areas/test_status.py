"""Area status: the fusion rule, trend, freshness, calibration, query budget and the API."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from areas.models import PanelCalibration
from areas.status import area_statuses, calibrate_panels
from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_event, make_source, square

NOW = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)  # a Saturday afternoon


def feed(tenant, source, key, metric, area, points):
    """Store (minutes before NOW, value) points for a series on an area."""
    items = [
        Item(row=i, key=key, time=NOW - timedelta(minutes=m), value=v, metric=metric, area=area)
        for i, (m, v) in enumerate(points)
    ]
    with tenant_scope(tenant):
        report = ingest(source=source, items=items, may_create_series=True, now=NOW)
    assert report.rejected == 0, report.errors


def statuses(tenant, **kwargs):
    with tenant_scope(tenant):
        return {s.slug: s for s in area_statuses(tenant=tenant, now=NOW, **kwargs).values()}


@pytest.fixture
def cams(tenant_a):
    return make_source(tenant_a, slug="cams")


def test_direct_counts_add_up_with_density_level_and_trend(tenant_a, cams):
    make_area(tenant_a, slug="square", geometry=square(size=0.001))  # about 7,623 m²
    feed(tenant_a, cams, "cam-north", "people_count", "square", [(60, 1000), (15, 2500), (1, 3000)])
    feed(tenant_a, cams, "cam-south", "people_count", "square", [(60, 800), (15, 2400), (2, 2500)])
    status = statuses(tenant_a)["square"]
    assert status.method == "counts" and status.people == 5500
    assert status.density == pytest.approx(5500 / 7622.9, rel=0.001)
    assert status.level == "busy"  # 0.72 p/m²
    assert status.trend == {"15m": "rising", "change_15m": 600.0, "60m": "rising", "change_60m": 3700.0}
    assert status.stale is False and status.age_seconds == 60
    assert {(c.series, c.used) for c in status.sources} == {("cam-north", True), ("cam-south", True)}
    assert status.as_dict()["public_label"] == "busy"


def test_capacity_based_level_and_steady_trend(tenant_a, cams):
    make_area(tenant_a, slug="pier", capacity=2000)
    feed(tenant_a, cams, "cam-pier", "people_count", "pier", [(60, 1850), (15, 1860), (1, 1850)])
    status = statuses(tenant_a)["pier"]
    assert (status.level, status.basis, status.occupancy_pct) == ("crowded", "capacity", 92.5)
    assert status.trend["15m"] == "steady" and status.trend["60m"] == "steady"


def test_stale_data_is_flagged_but_shown(tenant_a, cams):
    make_area(tenant_a, slug="beach")
    feed(tenant_a, cams, "cam-beach", "people_count", "beach", [(90, 300), (40, 320)])
    status = statuses(tenant_a)["beach"]
    assert status.people == 320 and status.stale is True and status.age_seconds == 2400
    assert status.sources[0].stale is True


def test_area_without_data_has_no_level(tenant_a):
    make_area(tenant_a, slug="empty")
    status = statuses(tenant_a)["empty"]
    assert (status.people, status.level, status.method, status.stale) == (None, None, "none", True)


def test_parent_is_the_sum_of_its_sections(tenant_a, cams):
    boulevard = make_area(tenant_a, slug="boulevard", geometry=square(size=0.004))
    make_area(tenant_a, slug="north", parent=boulevard, geometry=square(4.28))
    make_area(tenant_a, slug="south", parent=boulevard, geometry=square(4.29))
    feed(tenant_a, cams, "cam-n", "people_count", "north", [(15, 100), (1, 150)])
    feed(tenant_a, cams, "cam-s", "people_count", "south", [(15, 200), (1, 260)])
    status = statuses(tenant_a)["boulevard"]
    assert (status.method, status.people) == ("sub_area_counts", 410)
    assert status.trend["change_15m"] == 110.0 and status.trend["15m"] == "rising"


def test_gps_panel_is_calibrated_against_counts(tenant_a, cams):
    make_area(tenant_a, slug="boulevard")
    hours = range(1, 72)
    # two days where both exist: the cameras count three times what the panel estimates
    feed(
        tenant_a,
        cams,
        "cam",
        "people_count",
        "boulevard",
        [(60 * h + 30, 300 + 10 * (h % 24)) for h in hours],
    )
    feed(
        tenant_a,
        cams,
        "gps",
        "visitor_estimate",
        "boulevard",
        [(60 * h + 30, 100 + (10 * (h % 24)) / 3) for h in hours],
    )
    with tenant_scope(tenant_a):
        (calibration,) = calibrate_panels(tenant=tenant_a, now=NOW)
    assert calibration.ratio == pytest.approx(3.0, rel=0.001) and calibration.r2 == pytest.approx(1.0)
    # the cameras stop; the panel carries on
    feed(tenant_a, cams, "gps", "visitor_estimate", "boulevard", [(16, 120), (2, 150)])
    status = statuses(tenant_a)["boulevard"]
    assert status.method == "calibrated_panel" and status.calibrated is True
    assert status.people == pytest.approx(450)
    assert status.trend["change_15m"] == pytest.approx(90)


def test_uncalibrated_panel_is_marked(tenant_a, cams):
    make_area(tenant_a, slug="dunes")
    feed(tenant_a, cams, "gps-dunes", "visitor_estimate", "dunes", [(5, 80)])
    status = statuses(tenant_a)["dunes"]
    assert (status.method, status.people, status.calibrated) == ("uncalibrated_panel", 80, False)


def test_flows_integrate_since_the_daily_reset(tenant_a, cams):
    make_area(tenant_a, slug="festival")
    # NOW is 16:00 in Amsterdam; the reset was at 04:00 local (02:00 UTC), 12 hours before
    feed(
        tenant_a, cams, "gate-in", "people_in", "festival", [(13 * 60, 999), (300, 400), (120, 500), (5, 100)]
    )
    feed(tenant_a, cams, "gate-out", "people_out", "festival", [(13 * 60, 5), (300, 50), (5, 150)])
    status = statuses(tenant_a)["festival"]
    assert (status.method, status.people) == (
        "flows",
        800,
    )  # (400 + 500 + 100) - (50 + 150); before reset ignored


def test_query_count_does_not_grow_with_history(tenant_a, cams):
    for i in range(5):
        make_area(tenant_a, slug=f"area-{i}", geometry=square(4.27 + i / 100))
        feed(tenant_a, cams, f"cam-{i}", "people_count", f"area-{i}", [(15, 10), (1, 20)])
    with CaptureQueriesContext(connection) as before:
        statuses(tenant_a)
    for i in range(5):  # a month of 5-minute history per series
        feed(
            tenant_a,
            cams,
            f"cam-{i}",
            "people_count",
            f"area-{i}",
            [(m, m % 97) for m in range(20, 43200, 5)],
        )
    with CaptureQueriesContext(connection) as after:
        result = statuses(tenant_a)
    assert len(after) == len(before) <= 4
    assert result["area-0"].people == 20


STATUS = "/api/v1/tenants/tenant-a/areas/status/"


def test_status_api_and_geojson(api_as, admin_a, tenant_a, cams, monkeypatch):
    make_area(tenant_a, slug="square", capacity=1000)
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: NOW)
    feed(tenant_a, cams, "cam", "people_count", "square", [(1, 950)])
    body = api_as(admin_a).get(STATUS).json()
    (square_status,) = body["areas"]
    assert square_status["slug"] == "square" and square_status["level"] == "crowded"
    assert square_status["public_label"] == "very busy, avoid"
    assert square_status["sources"][0]["source"] == "cams"
    feature = api_as(admin_a).get("/api/v1/tenants/tenant-a/areas.geojson").json()["features"][0]
    assert feature["properties"]["status"]["level"] == "crowded"
    assert feature["properties"]["status"]["people"] == 950


def test_organiser_gets_status_of_own_zones_only(api_as, users, tenant_a):
    event = make_event(tenant_a, slug="koningsdag", organisers=[users["organiser"].username])
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=event)
    make_area(tenant_a, slug="boulevard", geometry=square(4.28))
    slugs = [a["slug"] for a in api_as(users["organiser"]).get(STATUS).json()["areas"]]
    assert slugs == ["coolsingel"]
    with scopes_disabled():
        assert not PanelCalibration.objects.exists()


def test_fusion_is_a_pure_function_of_its_inputs():
    """The fusion rule runs without a database: counts first, stale flagged, trend from the then-values."""
    from datetime import UTC, datetime, timedelta

    from areas.models import Area
    from areas.status import FusionInput, fuse
    from sources.models import Series, Source

    now = datetime(2026, 7, 4, 14, 5, tzinfo=UTC)
    area = Area(pk=1, slug="pier", name="Pier", surface_m2=1000.0, capacity=1000)
    cams = Source(slug="cams")

    def series(pk, metric, value, minutes_ago, then=None):
        made = Series(pk=pk, source=cams, key=f"s{pk}", metric=metric, latest_value=value)
        made.latest_time = now - timedelta(minutes=minutes_ago)
        for window in ("15m", "60m"):
            setattr(made, f"then_{window}", then)
        return made

    fresh = fuse(
        FusionInput(
            area=area,
            now=now,
            series=[series(1, "people_count", 300, 1, then=100), series(2, "people_count", 200, 2, then=100)],
        )
    )
    assert (fresh.method, fresh.people, fresh.stale) == ("counts", 500, False)
    assert fresh.trend["15m"] == "rising" and fresh.trend["change_15m"] == 300
    assert fresh.level and fresh.as_of == now - timedelta(minutes=1)
    stale = fuse(FusionInput(area=area, now=now, series=[series(1, "people_count", 300, 120)]))
    assert stale.people == 300 and stale.stale is True  # the last estimate, flagged
    panel = fuse(
        FusionInput(area=area, now=now, series=[series(3, "visitor_estimate", 100, 5)], calibrations={3: 2.5})
    )
    assert (panel.method, panel.people, panel.calibrated) == ("calibrated_panel", 250, True)
    assert fuse(FusionInput(area=area, now=now, series=[])).method == "none"
