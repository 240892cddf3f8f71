"""Events, organiser rights (django-guardian) and the tenant's crowd-level bands."""

import pytest
from django_scopes import scopes_disabled

from areas.models import Area, Event
from tests.areas.conftest import AREAS, EVENTS
from tests.factories import make_area, make_event, member, square
from tests.helpers import assert_problem


@pytest.fixture
def two_organisers(tenant_a):
    """Two organisers, each with their own event and one zone in it."""
    alice = member(tenant_a, "organiser", username="alice-events")
    bob = member(tenant_a, "organiser", username="bob-festivals")
    kings = make_event(tenant_a, slug="koningsdag", organisers=["alice-events"])
    jazz = make_event(tenant_a, slug="jazz", organisers=["bob-festivals"])
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=kings, geometry=square(4.479, 51.921))
    make_area(tenant_a, slug="jazz-stage", kind="temporary", event=jazz, geometry=square(4.48, 51.92))
    make_area(tenant_a, slug="boulevard")
    return alice, bob


def test_admin_creates_an_event_with_an_organiser(admin_api, users):
    response = admin_api.post(
        EVENTS,
        {
            "name": "Koningsdag 2027",
            "start": "2027-04-27T08:00:00+02:00",
            "end": "2027-04-27T21:00:00+02:00",
            "expected_attendance": 250000,
            "organiser": "Stichting Koningsdag",
            "organisers": [users["organiser"].username],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "koningsdag-2027"
    assert body["organisers"] == [users["organiser"].username]
    assert body["zones"] == []
    assert admin_api.get(f"{EVENTS}{body['id']}/").json()["organisers"] == [users["organiser"].username]


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"end": "2027-04-27T07:00:00+02:00"}, "end", "must be after start"),
        ({"start": "2027-04-27T08:00:00"}, "start", "no time zone"),
        ({"organisers": ["nobody"]}, "organisers", "not an active member"),
        ({"organisers": ["tenant-a-operator"]}, "organisers", "only event organisers"),
        ({"expected_attendance": -5}, "expected_attendance", "greater than or equal to 0"),
    ],
)
def test_bad_events_are_rejected(admin_api, users, extra, field, message):
    body = {"name": "Fest", "start": "2027-04-27T08:00:00+02:00", "end": "2027-04-27T21:00:00+02:00", **extra}
    problem = assert_problem(admin_api.post(EVENTS, body, format="json"), 400)
    assert message in " ".join(problem["errors"][field])
    assert not Event.objects.with_scopes_disabled().exists()


def test_organiser_sees_only_own_event_and_zones(api_as, two_organisers):
    alice, _bob = two_organisers
    client = api_as(alice)
    assert [e["slug"] for e in client.get(EVENTS).json()["results"]] == ["koningsdag"]
    assert [a["slug"] for a in client.get(AREAS).json()["results"]] == ["coolsingel"]
    geojson = client.get("/api/v1/tenants/tenant-a/areas.geojson").json()
    assert [f["id"] for f in geojson["features"]] == ["coolsingel"]
    with scopes_disabled():
        jazz = Event.objects.get(slug="jazz")
        jazz_stage = Area.objects.get(slug="jazz-stage")
        boulevard = Area.objects.get(slug="boulevard")
    assert_problem(client.get(f"{EVENTS}{jazz.pk}/"), 404)
    assert_problem(client.get(f"{AREAS}{jazz_stage.pk}/"), 404)
    assert_problem(client.get(f"{AREAS}{boulevard.pk}/"), 404)
    assert_problem(client.patch(f"{AREAS}{jazz_stage.pk}/", {"name": "mine now"}, format="json"), 404)
    assert_problem(client.delete(f"{AREAS}{jazz_stage.pk}/"), 404)
    assert_problem(client.patch(f"{EVENTS}{jazz.pk}/", {"name": "mine now"}, format="json"), 404)
    with scopes_disabled():
        assert Area.objects.get(pk=jazz_stage.pk).name != "mine now"


def test_organiser_edits_own_event_and_zones(api_as, two_organisers):
    alice, _bob = two_organisers
    client = api_as(alice)
    with scopes_disabled():
        kings = Event.objects.get(slug="koningsdag")
        coolsingel = Area.objects.get(slug="coolsingel")
    assert (
        client.patch(f"{EVENTS}{kings.pk}/", {"expected_attendance": 300000}, format="json").status_code
        == 200
    )
    assert (
        client.patch(f"{AREAS}{coolsingel.pk}/", {"capacity": 20000}, format="json").json()["capacity"]
        == 20000
    )
    new_zone = client.post(
        AREAS,
        {
            "name": "Stage Binnenrotte",
            "kind": "temporary",
            "event": "koningsdag",
            "geometry": square(4.487, 51.92),
        },
        format="json",
    )
    assert new_zone.status_code == 201, new_zone.content
    assert new_zone.json()["valid_from"] == "2027-04-27T08:00:00+02:00"


def test_organiser_cannot_step_outside_own_events(api_as, two_organisers):
    alice, _bob = two_organisers
    client = api_as(alice)
    with scopes_disabled():
        kings = Event.objects.get(slug="koningsdag")
    problem = assert_problem(
        client.post(
            AREAS,
            {"name": "Jazz 2", "kind": "temporary", "event": "jazz", "geometry": square()},
            format="json",
        ),
        400,
    )
    assert "does not exist" in problem["errors"]["event"][0]  # bob's event is invisible to alice
    assert_problem(
        client.post(AREAS, {"name": "Own permanent area", "geometry": square()}, format="json"), 403
    )
    assert_problem(
        client.post(
            EVENTS,
            {"name": "New", "start": "2027-05-01T10:00:00Z", "end": "2027-05-01T12:00:00Z"},
            format="json",
        ),
        403,
    )
    assert_problem(
        client.patch(
            f"{EVENTS}{kings.pk}/", {"organisers": ["alice-events", "bob-festivals"]}, format="json"
        ),
        403,
    )
    assert_problem(client.delete(f"{EVENTS}{kings.pk}/"), 403)
    assert_problem(
        client.post(AREAS + "import/", {"type": "FeatureCollection", "features": []}, format="json"), 403
    )


def test_admin_reassigns_organisers(admin_api, api_as, two_organisers):
    alice, bob = two_organisers
    with scopes_disabled():
        kings = Event.objects.get(slug="koningsdag")
    response = admin_api.patch(f"{EVENTS}{kings.pk}/", {"organisers": ["bob-festivals"]}, format="json")
    assert response.json()["organisers"] == ["bob-festivals"]
    assert api_as(alice).get(EVENTS).json()["results"] == []
    assert {e["slug"] for e in api_as(bob).get(EVENTS).json()["results"]} == {"koningsdag", "jazz"}


def test_event_with_zones_cannot_be_deleted(admin_api, two_organisers):
    with scopes_disabled():
        kings = Event.objects.get(slug="koningsdag")
    problem = assert_problem(admin_api.delete(f"{EVENTS}{kings.pk}/"), 409, "conflict")
    assert "coolsingel" in problem["detail"]
    empty = admin_api.post(
        EVENTS,
        {"name": "Empty", "start": "2027-05-01T10:00:00Z", "end": "2027-05-01T12:00:00Z"},
        format="json",
    ).json()
    assert admin_api.delete(f"{EVENTS}{empty['id']}/").status_code == 204


CROWD_LEVELS = "/api/v1/tenants/tenant-a/crowd-levels/"


def test_crowd_levels_default_then_overridden(admin_api, api_as, users, tenant_a):
    body = api_as(users["operator"]).get(CROWD_LEVELS).json()
    assert body["density_bands"] is None
    assert body["effective_density_bands"] == {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5}
    assert body["public_labels"]["en"]["crowded"] == "very busy, avoid"
    custom = {"busy": 0.3, "very_busy": 0.8, "crowded": 1.5, "critical": 2.5}
    response = admin_api.put(CROWD_LEVELS, {"density_bands": custom, "capacity_bands": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["effective_density_bands"] == custom
    area = make_area(tenant_a, slug="beach")
    with scopes_disabled():
        from areas.selectors import crowd_level_settings_get

        density, capacity = Area.objects.get(pk=area.pk).effective_bands(
            crowd_level_settings_get(tenant=tenant_a)
        )
    assert density == custom
    assert capacity["critical"] == 100


def test_crowd_levels_reject_bad_bands_and_non_admins(admin_api, api_as, users):
    problem = assert_problem(
        admin_api.patch(
            CROWD_LEVELS,
            {"capacity_bands": {"busy": 50, "very_busy": 40, "crowded": 90, "critical": 100}},
            format="json",
        ),
        400,
    )
    assert "increase strictly" in problem["errors"]["capacity_bands"][0]
    assert_problem(api_as(users["operator"]).put(CROWD_LEVELS, {"density_bands": None}, format="json"), 403)


def test_event_list_uses_a_fixed_number_of_queries(admin_api, tenant_a, users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(3):
        event = make_event(tenant_a, slug=f"event-{i}", organisers=[users["organiser"].username])
        make_area(tenant_a, slug=f"zone-{i}", kind="temporary", event=event)
    admin_api.get(EVENTS)
    with CaptureQueriesContext(connection) as few:
        admin_api.get(EVENTS)
    for i in range(3, 12):
        event = make_event(tenant_a, slug=f"event-{i}", organisers=[users["organiser"].username])
        make_area(tenant_a, slug=f"zone-{i}", kind="temporary", event=event)
    with CaptureQueriesContext(connection) as many:
        results = admin_api.get(EVENTS).json()["results"]
    assert len(results) == 12
    assert all(r["organisers"] == [users["organiser"].username] and len(r["zones"]) == 1 for r in results)
    assert len(many) == len(few)
