"""The shared picture: exactly the agreed areas and kinds, only while the agreement is accepted and valid,
read only through the recipient's own /shared/ routes, audited on both sides; nothing of the provider's
sources, thresholds or people."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_scopes import scopes_disabled

from areas.models import AreaForecast
from incidents.models import Alert
from sharing.services import agreement_end
from sources.services import Item, ingest
from tenants.models import AuditEntry
from tenants.scoping import tenant_scope
from tests.factories import make_action, make_agreement, make_area, make_source, member, token_for
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 7, 4, 14, 5, tzinfo=UTC)
SHARED = "/api/v1/tenants/tenant-b/shared/"
SECRET_URL = "https://cams.example.nl/feed?key=very-secret"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def picture(tenant_a):
    """Tenant A's boulevard: kurhaus (to be shared) and pier (never shared), each with a counter, an alert,
    an action-log entry and a forecast."""
    kurhaus = make_area(tenant_a, slug="kurhaus", capacity=1000, density_bands=[0, 0.5, 1, 2, 3])
    pier = make_area(tenant_a, slug="pier", capacity=500)
    cams = make_source(
        tenant_a,
        slug="cams",
        kind="generic_json",
        config={"url": SECRET_URL, "key": "id", "time": "t", "value": "n", "metric": "people_count"},
    )
    with tenant_scope(tenant_a):
        ingest(
            source=cams,
            items=[
                Item(
                    row=i,
                    key=key,
                    time=NOW - timedelta(minutes=1),
                    value=value,
                    metric="people_count",
                    area=area,
                )
                for i, (key, value, area) in enumerate([("cam-k", 600, "kurhaus"), ("cam-p", 300, "pier")])
            ],
            may_create_series=True,
            now=NOW,
        )
        for area, message in ((kurhaus, "Busy at the Kurhaus"), (pier, "Busy on the pier")):
            Alert.objects.create(tenant=tenant_a, kind="manual", message=message, area=area, opened_at=NOW)
            points = [
                {
                    "time": (NOW + timedelta(hours=1)).isoformat(),
                    "p10": 1,
                    "p50": 2,
                    "p90": 3,
                    "level": "busy",
                }
            ]
            AreaForecast.objects.create(
                tenant=tenant_a, area=area, issued_at=NOW, method="test", points=points
            )
    return {"kurhaus": kurhaus, "pier": pier}


@pytest.fixture
def viewer_b(tenant_b):
    return member(tenant_b, "analyst", username="b-analyst")


def _all(client) -> dict:
    return {
        name: client.get(f"{SHARED}{name}/") for name in ("areas", "alerts", "actions", "series", "forecasts")
    }


def _assert_nothing(client):
    for name, response in _all(client).items():
        assert response.status_code == 200, (name, response.content)
        body = response.json()
        assert (body["features"] if name == "areas" else body) == [], (name, body)


def test_without_an_accepted_valid_agreement_nothing_is_shared(api_as, tenant_a, tenant_b, picture, viewer_b):
    client = api_as(viewer_b)
    _assert_nothing(client)  # no agreement at all
    for state in ("offered", "declined", "ended"):
        make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]], state=state)
    make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]], valid_from=NOW + timedelta(hours=1))
    make_agreement(
        tenant_a, tenant_b, areas=[picture["kurhaus"]],
        valid_from=NOW - timedelta(days=2), valid_to=NOW - timedelta(days=1),
    )  # fmt: skip
    _assert_nothing(client)
    with scopes_disabled():
        assert not AuditEntry.objects.filter(action="sharing.read").exists()


def test_an_agreement_shares_exactly_its_areas_and_kinds(api_as, tenant_a, tenant_b, picture, viewer_b):
    with scopes_disabled():
        make_action(tenant_a)  # an entry in another area of A
    agreement = make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]], kinds=["status", "alerts"])
    client = api_as(viewer_b)
    responses = _all(client)

    collection = responses["areas"].json()
    assert responses["areas"]["Content-Type"] == "application/geo+json"
    (feature,) = collection["features"]
    props = feature["properties"]
    assert feature["id"] == "tenant-a/kurhaus"
    assert props["owner"] == "tenant-a" and props["owner_name"] == "Gemeente A" and props["shared"] is True
    assert props["status"]["people"] == 600 and props["level"]
    assert "forecast" not in props  # forecasts are not in this agreement
    (alert,) = responses["alerts"].json()
    assert alert["message"] == "Busy at the Kurhaus" and alert["owner_name"] == "Gemeente A"
    for name in ("actions", "series", "forecasts"):
        assert responses[name].json() == [], name

    text = json.dumps([r.json() for r in responses.values()])
    for never in ("pier", "very-secret", "cams.example.nl", "density_bands", "a-admin", "cam-p", "sources"):
        assert never not in text, never
    for tenant in (tenant_a, tenant_b):
        with scopes_disabled():
            reads = AuditEntry.objects.filter(tenant=tenant, action="sharing.read")
            assert sorted(e.details["kind"] for e in reads) == ["alerts", "areas"]
            assert {e.actor_label for e in reads} == {"b-analyst"}
            assert {e.object_id for e in reads} == {str(agreement.pk)}
            assert all(e.details["areas"] == ["kurhaus"] and e.details["reader"] == "tenant-b" for e in reads)


def test_all_kinds_share_series_forecasts_and_action_log_of_the_shared_areas(
    api_as, tenant_a, tenant_b, picture, viewer_b
):
    from incidents.actions import action_create, ensure_default_interventions
    from incidents.models import InterventionType

    with tenant_scope(tenant_a):
        ensure_default_interventions(tenant=tenant_a)
        other = InterventionType.objects.get(slug="other")
        for area, text in ((picture["kurhaus"], "Stewards at the Kurhaus"), (picture["pier"], "Pier closed")):
            action_create(
                tenant=tenant_a, actor=None,
                data={"intervention": other, "areas": [area], "description": text, "started_at": NOW},
            )  # fmt: skip
    make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]])
    responses = _all(api_as(viewer_b))
    (series,) = responses["series"].json()
    assert series["name"] == "cam-k" and series["latest_value"] == 600 and series["area"] == "kurhaus"
    assert set(series) == {
        "id", "owner", "owner_name", "agreement", "area", "name", "metric", "unit", "lon", "lat",
        "latest_time", "latest_value",
    }  # fmt: skip
    (forecast,) = responses["forecasts"].json()
    assert forecast["area"] == "kurhaus" and forecast["points"][0]["level"] == "busy"
    (action,) = responses["actions"].json()
    assert action["description"] == "Stewards at the Kurhaus" and action["areas"] == ["kurhaus"]
    assert action["owner_name"] == "Gemeente A" and "created_by" not in action
    (feature,) = responses["areas"].json()["features"]
    assert feature["properties"]["forecast_level"] == "busy"


def test_a_tagged_agreement_follows_the_tag(api_as, tenant_a, tenant_b, picture, viewer_b):
    make_agreement(tenant_a, tenant_b, areas=[], area_tag="boulevard", kinds=["status"])
    client = api_as(viewer_b)
    assert client.get(f"{SHARED}areas/").json()["features"] == []
    make_area(tenant_a, slug="beach", tags=["Boulevard"])
    (feature,) = client.get(f"{SHARED}areas/").json()["features"]
    assert feature["properties"]["slug"] == "beach"


def test_ending_or_expiry_stops_sharing_at_once(api, tenant_a, tenant_b, admin_a, picture, viewer_b):
    agreement = make_agreement(
        tenant_a, tenant_b, areas=[picture["kurhaus"]], valid_to=NOW + timedelta(hours=1), token_access=True
    )
    client = api  # a token: a browser session would time out over the hour travelled below
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(viewer_b)}")
    assert len(client.get(f"{SHARED}areas/").json()["features"]) == 1
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        _assert_nothing(client)
    assert len(client.get(f"{SHARED}alerts/").json()) == 1
    with tenant_scope(tenant_a):
        agreement_end(agreement=agreement, tenant=tenant_a, actor=admin_a)
    _assert_nothing(client)


def test_tokens_get_shared_data_only_where_the_agreement_allows_it(
    api, tenant_a, tenant_b, picture, viewer_b
):
    make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]], kinds=["status"])
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(viewer_b)}")
    assert api.get(f"{SHARED}areas/").json()["features"] == []
    make_agreement(tenant_a, tenant_b, areas=[picture["pier"]], kinds=["status"], token_access=True)
    (feature,) = api.get(f"{SHARED}areas/").json()["features"]
    assert feature["properties"]["slug"] == "pier"


def test_roles_of_the_recipient_decide_who_sees_shared_data(api_as, tenant_a, tenant_b, picture):
    make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]])
    for role in ("admin", "operator", "analyst"):
        features = (
            api_as(member(tenant_b, role, username=f"b-{role}")).get(f"{SHARED}areas/").json()["features"]
        )
        assert len(features) == 1, role
    for role in ("organiser", "integration"):
        assert_problem(api_as(member(tenant_b, role, username=f"b-{role}")).get(f"{SHARED}areas/"), 403)


def test_a_bad_agreement_filter_is_a_problem(api_as, tenant_b, viewer_b):
    assert "agreement" in assert_problem(api_as(viewer_b).get(f"{SHARED}areas/?agreement=x"), 400)["errors"]


def test_the_agreement_filter_narrows_to_one_agreement(api_as, tenant_a, tenant_b, picture, viewer_b):
    first = make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]], kinds=["status"])
    make_agreement(tenant_a, tenant_b, areas=[picture["pier"]], kinds=["status"])
    client = api_as(viewer_b)
    assert len(client.get(f"{SHARED}areas/").json()["features"]) == 2
    (feature,) = client.get(f"{SHARED}areas/?agreement={first.pk}").json()["features"]
    assert feature["properties"]["slug"] == "kurhaus"


def test_the_provider_sees_nothing_of_the_recipient(api_as, tenant_a, tenant_b, picture, admin_a):
    make_area(tenant_b, slug="b-square")
    make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]])
    response = api_as(admin_a).get("/api/v1/tenants/tenant-a/shared/areas/")
    assert response.json()["features"] == []  # sharing is one way: A gave, A received nothing


def test_sensorthings_and_pages_stay_sealed_with_an_agreement(
    client, api_as, tenant_a, tenant_b, picture, viewer_b
):
    from tests.factories import login

    make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"], picture["pier"]], token_access=True)
    sta = api_as(viewer_b).get("/sta/v1.1/tenants/tenant-b/Things")
    assert sta.status_code == 200 and sta.json()["value"] == []  # B has no things of its own; A's stay A's
    assert api_as(viewer_b).get("/sta/v1.1/tenants/tenant-a/Things").status_code == 404
    login(client, viewer_b)
    for path in ("/t/tenant-a/", "/t/tenant-a/sources/", "/t/tenant-a/settings/"):
        assert client.get(path).status_code == 404, path


def test_the_shared_picture_costs_the_same_queries_for_one_area_or_many(api_as, tenant_a, tenant_b, viewer_b):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_as(viewer_b)
    first = make_area(tenant_a, slug="first")
    agreement = make_agreement(tenant_a, tenant_b, areas=[first], kinds=["status", "forecasts", "alerts"])
    client.get(f"{SHARED}areas/")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(f"{SHARED}areas/").json()["features"]) == 1
    with scopes_disabled():
        agreement.areas.add(*[make_area(tenant_a, slug=f"more-{i}") for i in range(6)])
    with CaptureQueriesContext(connection) as seven:
        assert len(client.get(f"{SHARED}areas/").json()["features"]) == 7
    assert len(seven) == len(one), [q["sql"][:120] for q in seven.captured_queries]


def test_a_forecast_that_is_not_trustworthy_is_shared_without_its_points(
    api_as, tenant_a, tenant_b, picture, viewer_b
):
    from areas.models import AreaForecast

    with tenant_scope(tenant_a):
        forecast = AreaForecast.objects.filter(area=picture["kurhaus"]).order_by("-issued_at").first()
        forecast.trust = {"ok": False, "reason": "no_recent_counts", "since": "2026-07-04T09:00:00+00:00"}
        forecast.save(update_fields=["trust"])
    make_agreement(tenant_a, tenant_b, areas=[picture["kurhaus"]])
    responses = _all(api_as(viewer_b))
    (shared,) = responses["forecasts"].json()
    assert shared["points"] == [] and shared["trust"] == forecast.trust
    (feature,) = responses["areas"].json()["features"]
    assert feature["properties"]["forecast_level"] is None
    assert feature["properties"]["forecast"]["trust"]["reason"] == "no_recent_counts"
