"""The crowd picture (status and GeoJSON) is computed once per few seconds and shared by every screen that
sees the same areas, never across tenants or organisers' subsets."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_event, make_source, member, square

pytestmark = pytest.mark.clock  # reads the clock: run again under CSM_TEST_CLOCK in CI

STATUS = "/api/v1/tenants/tenant-a/areas/status/"
GEOJSON = "/api/v1/tenants/tenant-a/areas.geojson"


@pytest.fixture
def shared(settings):
    settings.CROWD_PICTURE_CACHE_SECONDS = 30


def count(tenant, source, value, minutes_ago=1):
    with tenant_scope(tenant):
        ingest(
            source=source,
            items=[
                Item(
                    row=0,
                    key=f"cam-{value}",
                    time=timezone.now() - timedelta(minutes=minutes_ago),
                    value=value,
                    metric="people_count",
                    area="pier",
                )
            ],
            may_create_series=True,
        )


def test_second_screen_gets_the_shared_picture_without_recomputing(
    shared, settings, api_as, admin_a, users, tenant_a
):
    make_area(tenant_a, slug="pier", capacity=1000)
    cams = make_source(tenant_a, slug="cams")
    count(tenant_a, cams, 600)
    first = api_as(admin_a).get(STATUS)
    assert first.status_code == 200
    operator = api_as(users["operator"])
    with CaptureQueriesContext(connection) as second_queries:
        second = operator.get(STATUS)
    assert second.json() == first.json()
    # The second screen pays only for authentication, membership and its list of visible areas.
    settings.CROWD_PICTURE_CACHE_SECONDS = 0
    with CaptureQueriesContext(connection) as fresh_queries:
        fresh = operator.get(STATUS).json()
    # A fresh computation agrees (its data age has moved on by the time it took).
    assert [(a["slug"], a["people"], a["level"]) for a in fresh["areas"]] == [("pier", 600.0, "busy")]

    def reads_observations(queries):
        return any("sources_series" in q["sql"] for q in queries.captured_queries)

    assert reads_observations(fresh_queries) and not reads_observations(second_queries)


def test_edited_area_is_not_served_from_the_old_picture(shared, api_as, admin_a, tenant_a):
    pier = make_area(tenant_a, slug="pier", capacity=1000)
    client = api_as(admin_a)
    before = client.get(GEOJSON).json()
    assert before["features"][0]["properties"]["capacity"] == 1000
    assert client.patch(f"/api/v1/tenants/tenant-a/areas/{pier.pk}/", {"capacity": 2000}).status_code == 200
    after = client.get(GEOJSON).json()
    assert after["features"][0]["properties"]["capacity"] == 2000


def test_organiser_never_sees_the_admins_picture(shared, api_as, admin_a, tenant_a):
    alice = member(tenant_a, "organiser", username="alice-events")
    kings = make_event(tenant_a, slug="koningsdag", organisers=["alice-events"])
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=kings, geometry=square(4.479, 51.921))
    make_area(tenant_a, slug="boulevard")
    admin_slugs = {f["id"] for f in api_as(admin_a).get(GEOJSON).json()["features"]}
    organiser_slugs = {f["id"] for f in api_as(alice).get(GEOJSON).json()["features"]}
    assert admin_slugs == {"coolsingel", "boulevard"}
    assert organiser_slugs == {"coolsingel"}


def test_other_tenant_with_same_areas_gets_its_own_picture(shared, api_as, admin_a, tenant_a, tenant_b):
    make_area(tenant_a, slug="pier", capacity=1000)
    make_area(tenant_b, slug="pier", capacity=1000)
    count(tenant_a, make_source(tenant_a, slug="cams"), 600)
    admin_b = member(tenant_b, "admin", username="admin-b")
    a = api_as(admin_a).get(STATUS).json()
    b = api_as(admin_b).get("/api/v1/tenants/tenant-b/areas/status/").json()
    assert a["areas"][0]["people"] == 600
    assert b["areas"][0]["people"] is None


def test_cache_outage_computes_per_request(shared, api_as, admin_a, tenant_a, monkeypatch):
    make_area(tenant_a, slug="pier", capacity=1000)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr("areas.api.views.cache.get", down)
    response = api_as(admin_a).get(STATUS)
    assert response.status_code == 200
    assert [a["slug"] for a in response.json()["areas"]] == ["pier"]


def test_due_picture_is_recomputed_once_while_others_get_the_previous(
    shared, api_as, admin_a, users, tenant_a, monkeypatch
):
    make_area(tenant_a, slug="pier", capacity=1000)
    count(tenant_a, make_source(tenant_a, slug="cams"), 600)
    client = api_as(admin_a)
    first = client.get(STATUS).json()
    later = time.time() + 31  # past the 30 s sharing period
    monkeypatch.setattr("areas.api.views.time.time", lambda: later)

    def reads_observations(queries):
        return any("sources_series" in q["sql"] for q in queries.captured_queries)

    # Another screen holds the recompute lock: this one gets the previous picture at once.
    with monkeypatch.context() as locked:
        locked.setattr("areas.api.views.cache.add", lambda *args, **kwargs: False)
        with CaptureQueriesContext(connection) as waiting:
            assert client.get(STATUS).json() == first
    assert not reads_observations(waiting)
    # The screen that takes the lock recomputes, and the new picture is shared from then on.
    with CaptureQueriesContext(connection) as recomputing:
        renewed = client.get(STATUS).json()
    assert reads_observations(recomputing) and renewed["time"] != first["time"]
    with CaptureQueriesContext(connection) as shared_again:
        assert api_as(users["operator"]).get(STATUS).json() == renewed
    assert not reads_observations(shared_again)
