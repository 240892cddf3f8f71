"""Joint operations: a lead, participants who join and bring areas in, one common action log, alerts to
the participants on duty; leaving or closing stops the sharing at once; every step audited for all."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django_scopes import scopes_disabled

from sharing.models import JointOperation
from tenants.models import AuditEntry
from tenants.scoping import tenant_scope
from tests.factories import TenantFactory, make_area, member
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 4, 26, 20, 0, tzinfo=UTC)
API = "/api/v1/tenants/{}/operations/"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(tenant_a, tenant_b, api_as):
    """Tenant A (the lead city), B (the neighbouring city), C (the organiser); an admin and an operator each."""
    tenant_c = TenantFactory(slug="tenant-c", name="Koningsdag Events", kind="event_organiser")
    people = {}
    for tenant in (tenant_a, tenant_b, tenant_c):
        key = tenant.slug[-1]
        people[f"admin_{key}"] = api_as(member(tenant, "admin", username=f"{key}-admin"))
        people[f"operator_{key}"] = api_as(member(tenant, "operator", username=f"{key}-operator"))
    make_area(tenant_a, slug="kurhaus")
    make_area(tenant_a, slug="station")
    make_area(tenant_b, slug="maasboulevard")
    make_area(tenant_c, slug="stage-1")
    return people


def _create(world, **body):
    body = {
        "slug": "koningsdag-2027", "name": "Koningsdag 2027", "starts_at": "2027-04-26T18:00:00+02:00",
        "ends_at": "2027-04-28T06:00:00+02:00", "invite": ["tenant-b", "tenant-c"], **body,
    }  # fmt: skip
    return world["admin_a"].post(API.format("tenant-a"), body, format="json")


def _running(world) -> int:
    operation = _create(world).json()["id"]
    for key in "bc":
        assert (
            world[f"admin_{key}"].post(f"{API.format(f'tenant-{key}')}{operation}/join/").status_code == 200
        )
    for key, area in (("a", "kurhaus"), ("b", "maasboulevard"), ("c", "stage-1")):
        response = world[f"admin_{key}"].post(
            f"{API.format(f'tenant-{key}')}{operation}/contribute/",
            {"areas": [area], "kinds": ["status", "alerts"]},
            format="json",
        )
        assert response.status_code == 201, response.content
    return operation


def _audit(slug, action):
    with scopes_disabled():
        return list(AuditEntry.objects.filter(tenant__slug=slug, action=action).order_by("pk"))


def test_participants_join_bring_areas_in_and_see_one_picture(world):
    created = _create(world)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["lead"]["slug"] == "tenant-a" and body["status"] == "running" and body["my_state"] == "joined"
    assert [(p["tenant"]["slug"], p["state"]) for p in body["participants"]] == [
        ("tenant-a", "joined"), ("tenant-b", "invited"), ("tenant-c", "invited"),
    ]  # fmt: skip
    operation = body["id"]
    invited = world["admin_b"].get(f"{API.format('tenant-b')}{operation}/").json()
    assert invited["my_state"] == "invited"
    # An invitee sees the operation, not what is shared in it, until it joins.
    world["admin_a"].post(
        f"{API.format('tenant-a')}{operation}/contribute/",
        {"areas": ["kurhaus"], "kinds": ["status"]},
        format="json",
    )
    assert world["admin_b"].get(f"{API.format('tenant-b')}{operation}/picture/").json()["features"] == []

    for key in "bc":
        world[f"admin_{key}"].post(f"{API.format(f'tenant-{key}')}{operation}/join/")
    world["admin_b"].post(
        f"{API.format('tenant-b')}{operation}/contribute/", {"areas": ["maasboulevard"], "kinds": ["status"]},
        format="json",
    )  # fmt: skip
    for key in "abc":
        picture = world[f"operator_{key}"].get(f"{API.format(f'tenant-{key}')}{operation}/picture/").json()
        owners = sorted((f["properties"]["owner_name"], f["properties"]["slug"]) for f in picture["features"])
        assert owners == [("Gemeente A", "kurhaus"), ("Gemeente B", "maasboulevard")], key
    # The operation's areas reach the dashboard's shared layer as well (another's, never one's own).
    shared = world["operator_c"].get("/api/v1/tenants/tenant-c/shared/areas/").json()["features"]
    assert sorted(f["id"] for f in shared) == ["tenant-a/kurhaus", "tenant-b/maasboulevard"]
    own = world["operator_a"].get("/api/v1/tenants/tenant-a/shared/areas/").json()["features"]
    assert [f["id"] for f in own] == ["tenant-b/maasboulevard"]

    for slug in ("tenant-a", "tenant-b", "tenant-c"):
        assert len(_audit(slug, "sharing.operation.created")) == 1
        assert len(_audit(slug, "sharing.operation.joined")) == 2
        # Each learns of every area it receives: offered while it took part, or shared with it on joining.
        received = _audit(slug, "sharing.agreement.offered") + _audit(slug, "sharing.agreement.shared_with")
        assert {e.details["provider"] for e in received} == {"tenant-a", "tenant-b"}, slug


def test_the_common_log_attributes_each_entry_and_everyone_sees_it(world, tenant_a, tenant_b):
    operation = _running(world)
    for tenant in (tenant_a, tenant_b):
        with tenant_scope(tenant):
            from incidents.actions import ensure_default_interventions

            ensure_default_interventions(tenant=tenant)
    written = world["operator_b"].post(
        f"{API.format('tenant-b')}{operation}/log/",
        {"intervention": "traffic-controllers", "areas": ["maasboulevard"], "description": "Stewards at the bridge",
         "started_at": "2027-04-26T22:00:00+02:00"},
        format="json",
    )  # fmt: skip
    assert written.status_code == 201, written.content
    entry = written.json()
    assert entry["organisation"] == "Gemeente B" and entry["author"] == "b-operator"
    world["operator_a"].post(
        f"{API.format('tenant-a')}{operation}/log/",
        {"intervention": "other", "areas": ["kurhaus"], "description": "Tram 1 every 5 minutes",
         "started_at": "2027-04-26T21:30:00+02:00"},
        format="json",
    )  # fmt: skip
    for key in "abc":
        rows = world[f"operator_{key}"].get(f"{API.format(f'tenant-{key}')}{operation}/log/").json()
        assert [(r["organisation"], r["author"], r["description"]) for r in rows] == [
            ("Gemeente B", "b-operator", "Stewards at the bridge"),
            ("Gemeente A", "a-operator", "Tram 1 every 5 minutes"),
        ], key
    # The entry lives in its writer's own action log, where its outcome is measured as for any action.
    own = world["operator_b"].get("/api/v1/tenants/tenant-b/actions/").json()["results"]
    assert [a["description"] for a in own] == ["Stewards at the bridge"]
    assert world["operator_a"].get("/api/v1/tenants/tenant-a/actions/").json()["count"] == 1
    # A participant cannot log on another's area: areas are its own.
    other = world["operator_c"].post(
        f"{API.format('tenant-c')}{operation}/log/",
        {"intervention": "other", "areas": ["kurhaus"], "started_at": "2027-04-26T22:00:00+02:00"}, format="json",
    )  # fmt: skip
    assert "areas" in assert_problem(other, 400)["errors"]
    assert_problem(world["admin_c"].get("/api/v1/tenants/tenant-c/operations/999999/log/"), 404)
    reads = _audit("tenant-b", "sharing.read")
    assert any(e.details.get("kind") == "operation_log" and e.details["reader"] == "tenant-c" for e in reads)


def test_alerts_in_operation_areas_reach_other_participants_on_duty(
    world, django_capture_on_commit_callbacks
):
    operation = _running(world)
    for key in "bc":
        response = world[f"operator_{key}"].post(
            f"{API.format(f'tenant-{key}')}{operation}/duty/", {"on_duty": True}, format="json"
        )
        assert response.status_code == 200 and response.json()["on_duty"] == [f"{key}-operator"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        raised = world["operator_a"].post(
            "/api/v1/tenants/tenant-a/alerts/",
            {"area": "kurhaus", "message": "Crowd at Kurhaus"},
            format="json",
        )
    assert raised.status_code == 201, raised.content
    on_duty = sorted(m.to[0] for m in mail.outbox if "Koningsdag 2027" in m.subject)
    assert on_duty == [
        "b-operator@example.org",
        "c-operator@example.org",
    ]  # not A's own: A's alert mail reaches them
    message = next(m for m in mail.outbox if m.to == ["b-operator@example.org"])
    assert "Gemeente A" in message.subject and "Kurhaus" in message.body
    alerts = world["operator_c"].get(f"{API.format('tenant-c')}{operation}/alerts/").json()
    assert [(a["owner_name"], a["message"]) for a in alerts] == [("Gemeente A", "Crowd at Kurhaus")]


def test_leaving_or_closing_stops_the_sharing_at_once(world):
    operation = _running(world)
    assert world["admin_b"].post(f"{API.format('tenant-b')}{operation}/leave/").status_code == 204
    assert_problem(world["admin_b"].get(f"{API.format('tenant-b')}{operation}/"), 404)  # B sees nothing more
    assert world["operator_b"].get("/api/v1/tenants/tenant-b/shared/areas/").json()["features"] == []
    picture = world["operator_c"].get(f"{API.format('tenant-c')}{operation}/picture/").json()
    assert sorted(f["properties"]["owner"] for f in picture["features"]) == ["tenant-a", "tenant-c"]
    for slug in ("tenant-a", "tenant-b", "tenant-c"):
        assert len(_audit(slug, "sharing.operation.left")) == 1, slug

    closed = world["admin_a"].post(f"{API.format('tenant-a')}{operation}/close/")
    assert closed.status_code == 200 and closed.json()["status"] == "over"
    assert world["operator_c"].get(f"{API.format('tenant-c')}{operation}/picture/").json()["features"] == []
    assert world["operator_c"].get("/api/v1/tenants/tenant-c/shared/areas/").json()["features"] == []
    for slug in ("tenant-a", "tenant-c"):
        assert len(_audit(slug, "sharing.operation.closed")) == 1, slug
    assert_problem(world["admin_a"].post(f"{API.format('tenant-a')}{operation}/close/"), 409)
    with scopes_disabled():
        assert JointOperation.objects.get(pk=operation).closed_at == NOW


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"invite": ["no-such-city"]}, "invite"),
        ({"invite": ["tenant-a"]}, "invite"),
        ({"ends_at": "2027-04-26T17:00:00+02:00"}, "ends_at"),
        ({"starts_at": "2027-04-26T18:00:00"}, "starts_at"),
        ({"ends_at": "2027-04-20T10:00:00+02:00", "starts_at": "2027-04-19T10:00:00+02:00"}, "ends_at"),
    ],
)
def test_a_bad_operation_is_a_problem_and_creates_nothing(world, body, field):
    assert field in assert_problem(_create(world, **body), 400)["errors"]
    with scopes_disabled():
        assert not JointOperation.objects.exists()


def test_steps_out_of_turn_are_refused(world):
    operation = _create(world).json()["id"]
    url_b, url_c = f"{API.format('tenant-b')}{operation}/", f"{API.format('tenant-c')}{operation}/"
    contribute = {"areas": ["maasboulevard"], "kinds": ["status"]}
    assert (
        "join"
        in assert_problem(world["admin_b"].post(f"{url_b}contribute/", contribute, format="json"), 409)[
            "detail"
        ]
    )
    assert_problem(world["admin_b"].post(f"{url_b}invite/", {"tenant": "tenant-c"}, format="json"), 403)
    assert_problem(world["admin_b"].patch(url_b, {"name": "Mine"}, format="json"), 403)
    assert_problem(world["operator_b"].post(f"{url_b}join/"), 403)  # admins join
    assert world["admin_b"].post(f"{url_b}join/").status_code == 200
    assert_problem(world["admin_b"].post(f"{url_b}join/"), 409)
    shared = {"areas": ["kurhaus"], "kinds": ["status"]}  # not B's area
    assert (
        "areas"
        in assert_problem(world["admin_b"].post(f"{url_b}contribute/", shared, format="json"), 400)["errors"]
    )
    assert world["admin_c"].post(f"{url_c}decline/").status_code == 204
    assert_problem(world["admin_c"].get(url_c), 404)
    assert_problem(
        world["admin_a"].post(f"{API.format('tenant-a')}{operation}/leave/"), 409
    )  # the lead closes
    re_invite = world["admin_a"].post(
        f"{API.format('tenant-a')}{operation}/invite/",
        {"tenant": "tenant-c", "role": "organiser"},
        format="json",
    )
    assert re_invite.status_code == 200
    assert world["admin_c"].get(url_c).json()["my_state"] == "invited"


def test_the_lead_moves_the_window_and_the_shared_areas_follow(world):
    operation = _running(world)
    moved = world["admin_a"].patch(
        f"{API.format('tenant-a')}{operation}/", {"ends_at": "2027-04-26T22:10:00+02:00"}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert (
        len(world["operator_b"].get(f"{API.format('tenant-b')}{operation}/picture/").json()["features"]) == 3
    )
    with time_machine.travel(NOW + timedelta(minutes=15), tick=False):
        features = world["operator_b"].get(f"{API.format('tenant-b')}{operation}/picture/").json()["features"]
        assert features == []  # over at 22:10 local (20:10 UTC): nothing shared, own areas included
