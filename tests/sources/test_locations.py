"""Series locations: stored from a reading when the series is created, set by admins, and the map layer
GET .../series.geojson (located series with their latest value, stale after 15 minutes)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.connectors.base import ConnectorContext, Payload
from sources.connectors.replay import ReplayConnector
from sources.models import Series
from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_series, make_source
from tests.helpers import assert_problem

pytestmark = pytest.mark.clock  # reads the clock: run again under CSM_TEST_CLOCK in CI

GEOJSON = "/api/v1/tenants/tenant-a/series.geojson"
KURHAUS = (4.2765, 52.1108)


def _item(row, key, location, metric="parking_vacant", value=120.0, **extra):
    return Item(row=row, key=key, time=timezone.now(), value=value, metric=metric, location=location, **extra)


def test_location_is_stored_when_the_series_is_created(tenant_a):
    source = make_source(tenant_a)
    with tenant_scope(tenant_a):
        report = ingest(
            source=source,
            items=[
                _item(0, "garage:vacant", KURHAUS),
                _item(1, "nowhere", None, metric="people_count"),
                _item(2, "swapped", (4.3, 95.0)),  # latitude out of range: created without it, with a warning
            ],
            may_create_series=True,
        )
        series = {s.key: s for s in Series.objects.filter(source=source)}
    assert report.accepted == 3
    assert series["garage:vacant"].location == KURHAUS
    assert series["nowhere"].location is None
    assert series["swapped"].location is None
    assert report.warnings == [
        "Series 'swapped': location (4.3, 95.0) is not a WGS84 (longitude, latitude); created without a "
        "location."
    ]


def test_an_existing_series_gets_a_location_only_when_it_has_none(tenant_a):
    source = make_source(tenant_a)
    unplaced = make_series(tenant_a, key="stop-1", metric="transit_arrivals", source=source)
    placed = make_series(tenant_a, key="stop-2", metric="transit_arrivals", source=source, lon=4.3, lat=52.1)
    with tenant_scope(tenant_a):
        ingest(
            source=source,
            items=[
                _item(0, "stop-1", KURHAUS, "transit_arrivals"),
                _item(1, "stop-2", KURHAUS, "transit_arrivals"),
            ],
            may_create_series=False,
        )
        unplaced.refresh_from_db()
        placed.refresh_from_db()
    assert unplaced.location == KURHAUS
    assert placed.location == (4.3, 52.1)  # what an admin set is kept


def test_admin_sets_and_clears_a_location(api_as, users, tenant_a):
    series = make_series(tenant_a, key="garage:vacant", metric="parking_vacant")
    url = f"/api/v1/tenants/tenant-a/series/{series.pk}/"
    client = api_as(users["admin"])

    response = client.patch(url, {"lon": 4.2765, "lat": 52.1108}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["lon"], response.json()["lat"]) == KURHAUS

    problem = assert_problem(client.patch(url, {"lon": 200, "lat": 52.1}, format="json"), 400)
    assert "180" in problem["errors"]["lon"][0]
    problem = assert_problem(client.patch(url, {"lat": -91}, format="json"), 400)
    assert "-90" in problem["errors"]["lat"][0]
    problem = assert_problem(client.patch(url, {"lon": None}, format="json"), 400)
    assert problem["errors"]["lon"] == ["Give lon and lat together (or clear both)."]
    problem = assert_problem(client.patch(url, {"lon": 52.1108, "lat": 4.2765}, format="json"), 400)
    assert "look swapped" in problem["errors"]["lon"][0]

    response = client.patch(url, {"lon": None, "lat": None}, format="json")
    assert response.status_code == 200 and response.json()["lon"] is None
    assert_problem(api_as(users["operator"]).patch(url, {"lon": 4.3, "lat": 52.1}, format="json"), 403)


@pytest.fixture
def located(tenant_a, tenant_b):
    now = timezone.now()
    source = make_source(tenant_a, slug="parking")
    fresh = make_series(
        tenant_a, key="kurhaus:vacant", metric="parking_vacant", source=source, name="Kurhaus vacant",
        facility="kurhaus", unit="spaces", lon=KURHAUS[0], lat=KURHAUS[1], latest_value=123.0,
        latest_time=now - timedelta(minutes=5),
    )  # fmt: skip
    old = make_series(
        tenant_a, key="kurhaus:capacity", metric="parking_capacity", source=source, facility="kurhaus",
        lon=KURHAUS[0], lat=KURHAUS[1], latest_value=400.0, latest_time=now - timedelta(minutes=16),
    )  # fmt: skip
    stop = make_series(
        tenant_a, key="stop:transit_arrivals", metric="transit_arrivals", source=source, lon=4.279, lat=52.11
    )  # no value yet
    make_series(tenant_a, key="weather:temperature", metric="temperature", source=source)  # no location
    make_series(tenant_b, key="theirs", metric="parking_vacant", lon=4.3, lat=52.1)
    return {"fresh": fresh, "old": old, "stop": stop}


def test_series_geojson_lists_located_series_with_their_latest_value(api_as, users, located):
    response = api_as(users["analyst"]).get(GEOJSON)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    features = {f["properties"]["key"]: f for f in body["features"]}
    assert set(features) == {"kurhaus:vacant", "kurhaus:capacity", "stop:transit_arrivals"}
    fresh = features["kurhaus:vacant"]
    assert fresh["id"] == located["fresh"].pk
    assert fresh["geometry"] == {"type": "Point", "coordinates": list(KURHAUS)}
    props = fresh["properties"]
    assert {
        k: props[k] for k in ("name", "metric", "unit", "source", "facility", "latest_value", "stale")
    } == {
        "name": "Kurhaus vacant",
        "metric": "parking_vacant",
        "unit": "spaces",
        "source": "parking",
        "facility": "kurhaus",
        "latest_value": 123.0,
        "stale": False,
    }
    assert props["latest_time"]
    assert features["kurhaus:capacity"]["properties"]["stale"] is True  # 16 minutes old
    assert features["stop:transit_arrivals"]["properties"]["stale"] is True  # no value at all
    assert features["stop:transit_arrivals"]["properties"]["latest_time"] is None
    assert body["bbox"] == [KURHAUS[0], 52.11, 4.279, KURHAUS[1]]


def test_series_geojson_filters_by_metric(api_as, users, located):
    client = api_as(users["operator"])
    body = client.get(GEOJSON, {"metric": "parking_vacant,parking_capacity"}).json()
    assert sorted(f["properties"]["metric"] for f in body["features"]) == [
        "parking_capacity",
        "parking_vacant",
    ]
    body = client.get(GEOJSON, {"metric": "temperature"}).json()
    assert body == {"type": "FeatureCollection", "features": []}
    problem = assert_problem(client.get(GEOJSON, {"metric": "parking_vacant,people_tracks"}), 400)
    assert "people_tracks" in problem["errors"]["metric"][0]


def test_series_geojson_uses_one_query_for_any_number_of_series(api_as, users, located, tenant_a):
    client = api_as(users["analyst"])
    client.get(GEOJSON)  # warm the session and membership look-ups
    with CaptureQueriesContext(connection) as few:
        client.get(GEOJSON)
    for n in range(10):
        make_series(tenant_a, key=f"extra-{n}", metric="transit_arrivals", lon=4.28, lat=52.11)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(GEOJSON).json()["features"]) == 13
    assert len(many) == len(few)


@pytest.mark.parametrize(("role", "status"), [("organiser", 403), ("integration", 403)])
def test_series_geojson_needs_the_view_right(api_as, users, located, role, status):
    assert_problem(api_as(users[role]).get(GEOJSON), status)


def test_series_geojson_of_another_tenant_is_404(api_as, users, located, tenant_b):
    assert_problem(api_as(users["admin"]).get("/api/v1/tenants/tenant-b/series.geojson"), 404)
    with scopes_disabled():
        assert Series.objects.filter(tenant=tenant_b).count() == 1


def test_replay_csv_names_and_places_its_series():
    csv = (
        b"series,time,value,metric,unit,name,facility,lon,lat\n"
        b"garage:vacant,2026-11-16T12:00:00+00:00,120,parking_vacant,spaces,Garage vacant spaces,garage,4.2772,52.1104\n"
        b"cam-1,2026-11-16T12:00:00+00:00,40,people_count,,,,,\n"
    )
    connector = ReplayConnector(
        config={"file": "x.csv", "backfill_hours": 24},
        context=ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam"),
        now=datetime(2026, 11, 16, 12, 30, tzinfo=UTC),
    )
    readings = {r.key: r for r in connector.parse(Payload(body=csv)).readings}
    garage, camera = readings["garage:vacant"], readings["cam-1"]
    assert (garage.name, garage.facility, garage.location) == (
        "Garage vacant spaces",
        "garage",
        (4.2772, 52.1104),
    )
    assert (camera.name, camera.facility, camera.location) == ("cam-1", "", None)
