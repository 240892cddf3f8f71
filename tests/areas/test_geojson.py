"""Areas as RFC 7946 GeoJSON with the crowd level now and the forecast level ahead, within a query budget."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from areas.models import AreaForecast
from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source, square

NOW = datetime(2026, 7, 4, 14, 5, tzinfo=UTC)
GEOJSON = "/api/v1/tenants/tenant-a/areas.geojson"


@pytest.fixture
def at_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def forecast(tenant, area, levels, *, issued=NOW - timedelta(minutes=5)):
    """A stored forecast with hourly points from 14:00 UTC: ``levels`` in order."""
    points = [
        {
            "time": (datetime(2026, 7, 4, 14, tzinfo=UTC) + timedelta(hours=h)).isoformat(),
            "p10": 100.0 * h,
            "p50": 150.0 * h,
            "p90": 200.0 * h,
            "level": level,
            "level_p90": level,
        }
        for h, level in enumerate(levels)
    ]
    with tenant_scope(tenant):
        return AreaForecast.objects.create(
            tenant=tenant, area=area, issued_at=issued, method="test", points=points
        )


def signed_area(ring) -> float:
    """Shoelace sum: positive for a counter-clockwise ring (RFC 7946's right-hand rule for exteriors)."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring)) / 2


def test_features_carry_level_now_and_forecast_levels(api_as, admin_a, tenant_a, at_now):
    pier = make_area(tenant_a, slug="pier", capacity=1000)
    make_area(tenant_a, slug="beach", geometry=square(4.26))
    cams = make_source(tenant_a, slug="cams")
    with tenant_scope(tenant_a):
        ingest(
            source=cams,
            items=[
                Item(
                    row=0,
                    key="cam",
                    time=NOW - timedelta(minutes=1),
                    value=600,
                    metric="people_count",
                    area="pier",
                )
            ],
            may_create_series=True,
            now=NOW,
        )
    # 14:00 is the current hour; 15:00 the next; within 3 h (until 17:05) it peaks at 16:00
    forecast(tenant_a, pier, ["busy", "very_busy", "critical", "busy", "crowded"])
    forecast(tenant_a, pier, ["quiet"] * 5, issued=NOW - timedelta(hours=5))  # older issue: ignored
    response = api_as(admin_a).get(GEOJSON)
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    collection = response.json()
    assert "crs" not in collection
    features = {f["id"]: f for f in collection["features"]}
    props = features["pier"]["properties"]
    assert props["level"] == props["status"]["level"] == "busy"
    assert props["forecast_level"] == "very_busy"
    assert props["forecast_level_3h"] == "critical"
    assert props["forecast"]["next_hour"]["time"] == "2026-07-04T15:00:00+00:00"
    assert props["forecast"]["peak_3h"]["time"] == "2026-07-04T16:00:00+00:00"
    assert props["forecast"]["method"] == "test"
    beach = features["beach"]["properties"]
    assert beach["forecast_level"] is None and beach["forecast"] is None  # no forecast stored
    for feature in collection["features"]:
        exterior = feature["geometry"]["coordinates"][0]
        assert exterior[0] == exterior[-1] and signed_area(exterior) > 0  # closed, counter-clockwise
        lon, lat = exterior[0]
        assert 3 < lon < 8 and 50 < lat < 54  # longitude first, WGS 84


def test_a_forecast_without_points_ahead_gives_no_level(api_as, admin_a, tenant_a, at_now):
    pier = make_area(tenant_a, slug="pier")
    forecast(tenant_a, pier, ["crowded"], issued=NOW - timedelta(days=3))  # only 14:00, not ahead
    props = api_as(admin_a).get(GEOJSON).json()["features"][0]["properties"]
    assert props["forecast_level"] is None and props["forecast_level_3h"] is None


def test_query_count_does_not_grow_with_the_areas(api_as, admin_a, tenant_a, at_now):
    client = api_as(admin_a)
    first = make_area(tenant_a, slug="area-0")
    forecast(tenant_a, first, ["busy", "busy"])
    client.get(GEOJSON)  # warm-up: session, membership caches
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(GEOJSON).json()["features"]) == 1
    for i in range(1, 6):
        area = make_area(tenant_a, slug=f"area-{i}", geometry=square(4.2727 + i * 0.002))
        forecast(tenant_a, area, ["busy", "crowded"])
    with CaptureQueriesContext(connection) as six:
        assert len(client.get(GEOJSON).json()["features"]) == 6
    assert len(six) == len(one)
