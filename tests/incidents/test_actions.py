"""Action log: catalogue, append-only entries with revisions, incidents, measured outcomes, learning."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django_scopes import scopes_disabled

from areas.forecasts import refresh_forecasts
from incidents.actions import action_create, ensure_default_interventions, measure_outcomes
from incidents.models import ActionLogEntry, ActionRevision, InterventionType, Outcome
from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_event, make_source, square
from tests.helpers import assert_problem

ACTIONS = "/api/v1/tenants/tenant-a/actions/"


@pytest.fixture
def pier(tenant_a):
    return make_area(tenant_a, slug="pier", name="De Pier", capacity=3000)


def test_catalogue_has_the_defaults_and_can_grow(api_as, users, admin_a):
    slugs = {
        t["slug"]
        for t in api_as(users["operator"]).get("/api/v1/tenants/tenant-a/interventions/").json()["results"]
    }
    assert {
        "extra-public-transport",
        "traffic-controllers",
        "boa-deployment",
        "police-deployment",
        "close-entrance",
        "open-extra-exit",
        "one-way-routing",
        "public-message",
        "stop-inflow",
        "change-programme",
        "other",
    } <= slugs
    created = api_as(admin_a).post(
        "/api/v1/tenants/tenant-a/interventions/",
        {"slug": "beach-flags", "name": "Red beach flags"},
        format="json",
    )
    assert created.status_code == 201
    assert_problem(
        api_as(users["operator"]).post(
            "/api/v1/tenants/tenant-a/interventions/", {"slug": "x", "name": "x"}, format="json"
        ),
        403,
    )


def test_operator_logs_an_action_for_an_alert_and_every_change_is_a_revision(api_as, users, pier):
    operator = api_as(users["operator"])
    alert = operator.post(
        "/api/v1/tenants/tenant-a/alerts/", {"message": "Pier entrance packed", "area": "pier"}, format="json"
    ).json()
    body = {
        "intervention": "traffic-controllers",
        "description": "Two controllers at the pier entrance",
        "areas": ["pier"],
        "alerts": [alert["id"]],
        "started_at": "2026-07-04T15:00:00+02:00",
    }
    created = operator.post(ACTIONS, body, format="json")
    assert created.status_code == 201, created.content
    entry = created.json()
    assert (entry["status"], entry["revision"], entry["created_by"]) == (
        "active",
        1,
        users["operator"].username,
    )
    assert entry["organisation"] == "Gemeente A" and entry["alerts"] == [alert["id"]]
    url = f"{ACTIONS}{entry['id']}/"
    operator.patch(url, {"description": "Four controllers"}, format="json")
    ended = operator.patch(url, {"status": "ended", "ended_at": "2026-07-04T16:30:00+02:00"}, format="json")
    assert ended.status_code == 200 and ended.json()["revision"] == 3
    revisions = operator.get(f"{url}revisions/").json()
    assert [r["number"] for r in revisions] == [1, 2, 3]
    assert revisions[1]["changes"] == {
        "description": ["Two controllers at the pier entrance", "Four controllers"]
    }
    assert revisions[2]["changes"]["status"] == ["active", "ended"]
    assert all(r["actor"] == users["operator"].username and r["at"] for r in revisions)
    # closed: no more edits, and nothing is ever deleted
    problem = assert_problem(operator.patch(url, {"description": "later"}, format="json"), 400)
    assert "closed entry" in problem["errors"]["status"][0]
    assert_problem(operator.delete(url), 405)
    assert_problem(api_as(users["admin"]).delete(url), 405)


@pytest.mark.clock
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"started_at": "2026-07-04T16:00:00+02:00", "ended_at": "2026-07-04T15:00:00+02:00"},
            "ended_at",
            "before started_at",
        ),
        ({"areas": ["their-pier"]}, "areas", "does not exist"),
        ({"intervention": "old-measure"}, "intervention", "archived"),
        ({"intervention": "magic"}, "intervention", "does not exist"),
        ({"started_at": "2026-07-04T16:00:00"}, "started_at", "no time zone"),
        ({"areas": []}, "areas", "at least one area"),
    ],
)
def test_bad_actions_are_400(api_as, users, tenant_a, tenant_b, pier, body, field, message):
    make_area(tenant_b, slug="their-pier")
    with tenant_scope(tenant_a):
        InterventionType.objects.create(
            tenant=tenant_a, slug="old-measure", name="Old", archived_at=datetime.now(UTC)
        )
    payload = {
        "intervention": "traffic-controllers",
        "areas": ["pier"],
        "started_at": "2026-07-04T15:00:00+02:00",
        **body,
    }
    problem = assert_problem(api_as(users["operator"]).post(ACTIONS, payload, format="json"), 400)
    assert message in str(problem["errors"][field])
    with scopes_disabled():
        assert not ActionLogEntry.objects.exists()


def test_roles_on_the_action_log(api_as, users, pier):
    body = {"intervention": "boa-deployment", "areas": ["pier"], "started_at": "2026-07-04T15:00:00+02:00"}
    assert_problem(api_as(users["analyst"]).post(ACTIONS, body, format="json"), 403)
    assert api_as(users["operator"]).post(ACTIONS, body, format="json").status_code == 201
    assert api_as(users["analyst"]).get(ACTIONS).json()["count"] == 1


def test_organiser_works_only_on_own_event(api_as, users, tenant_a, pier):
    event = make_event(tenant_a, slug="koningsdag", organisers=[users["organiser"].username])
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=event, geometry=square(4.479, 51.921))
    organiser = api_as(users["organiser"])
    own = {"intervention": "stop-inflow", "areas": ["coolsingel"], "started_at": "2027-04-27T14:00:00+02:00"}
    assert organiser.post(ACTIONS, own, format="json").status_code == 201
    problem = assert_problem(organiser.post(ACTIONS, {**own, "areas": ["pier"]}, format="json"), 400)
    assert "does not exist" in str(problem["errors"]["areas"])
    api_as(users["operator"]).post(ACTIONS, {**own, "areas": ["pier"]}, format="json")
    assert [a["areas"] for a in organiser.get(ACTIONS).json()["results"]] == [["coolsingel"]]
    incident = organiser.post(
        "/api/v1/tenants/tenant-a/incidents/",
        {
            "kind": "lost_child",
            "severity": "high",
            "area": "coolsingel",
            "occurred_at": "2027-04-27T14:10:00+02:00",
        },
        format="json",
    )
    assert incident.status_code == 201 and incident.json()["reported_by"] == users["organiser"].username


def weekly_pattern(t: datetime) -> float:
    """A repeating week: a busy afternoon every day, busier at the weekend."""
    local_hour = (t.hour + 2) % 24
    return 1000 * (1.4 if t.weekday() >= 5 else 1.0) * (0.1 + math.exp(-(((local_hour - 15) / 3) ** 2)))


def test_a_known_30_percent_drop_is_recovered(tenant_a, pier):
    """Three weeks of a repeating pattern; at the action's start the counts drop by 30 % for two hours."""
    source = make_source(tenant_a, slug="cams")
    start = datetime(2026, 7, 4, 13, tzinfo=UTC)  # Saturday 15:00 local, the busy peak
    history_start = start - timedelta(weeks=3)
    items, k = [], 0
    t = history_start
    while t < start + timedelta(hours=4):
        drop = 0.7 if start <= t < start + timedelta(hours=2) else 1.0
        for minute in (0, 15, 30, 45):
            items.append(
                Item(
                    row=k,
                    key="cam",
                    time=t + timedelta(minutes=minute),
                    value=weekly_pattern(t) * drop,
                    metric="people_count",
                    area="pier",
                )
            )
            k += 1
        t += timedelta(hours=1)
    with tenant_scope(tenant_a):
        ingest(source=source, items=items, may_create_series=True, now=start + timedelta(hours=5))
        # the forecast as it stood before the action (issued at the last complete hour before it)
        (forecast,) = refresh_forecasts(tenant=tenant_a, now=start - timedelta(minutes=30))
        ensure_default_interventions(tenant=tenant_a)
        entry = action_create(
            tenant=tenant_a,
            actor=None,
            data={
                "intervention": InterventionType.objects.get(slug="stop-inflow"),
                "areas": [pier],
                "started_at": start,
                "ended_at": start + timedelta(hours=2),
                "status": "ended",
            },
        )
        (outcome,) = measure_outcomes(entry=entry, now=start + timedelta(hours=5))
    assert forecast.method == "hour_of_week_profile"
    assert outcome.method == "counterfactual_forecast" and outcome.confidence == "ok", outcome.confidence_note
    assert abs(outcome.effect_pct - (-30.0)) <= 3.0, outcome.effect_pct  # within 10 % of the injected effect
    assert outcome.window_end - outcome.window_start == timedelta(hours=2)
    assert outcome.level_at_start in ("quiet", "busy")


def test_outcome_judgement_learning_and_similar_situations(api_as, users, tenant_a, pier):
    with tenant_scope(tenant_a):
        ensure_default_interventions(tenant=tenant_a)
        tc = InterventionType.objects.get(slug="traffic-controllers")
        for i, effect in enumerate((-20.0, -30.0, -10.0)):
            start = datetime(2026, 7, 4 + i, 13, tzinfo=UTC)
            entry = action_create(
                tenant=tenant_a,
                actor=None,
                data={
                    "intervention": tc,
                    "areas": [pier],
                    "started_at": start,
                    "ended_at": start + timedelta(hours=1),
                    "status": "ended",
                },
            )
            Outcome.objects.create(
                tenant=tenant_a,
                action=entry,
                area=pier,
                method="counterfactual_forecast",
                window_start=start,
                window_end=start + timedelta(hours=1),
                effect_pct=effect,
                level_at_start="very_busy",
                measured_at=start,
            )
    operator = api_as(users["operator"])
    outcome_id = operator.get("/api/v1/tenants/tenant-a/outcomes/").json()["results"][0]["id"]
    judged = operator.patch(
        f"/api/v1/tenants/tenant-a/outcomes/{outcome_id}/",
        {"judgement": "effective", "judgement_note": "Queue gone in 20 min"},
        format="json",
    )
    assert judged.json()["judged_by"] == users["operator"].username
    report = operator.get(
        "/api/v1/tenants/tenant-a/learning/", {"group_by": "intervention,level_at_start"}
    ).json()
    (row,) = report["rows"]
    assert row == {
        "intervention": "traffic-controllers",
        "level_at_start": "very_busy",
        "count": 3,
        "measured": 3,
        "median_effect_pct": -20.0,
        "p25_effect_pct": -25.0,
        "p75_effect_pct": -15.0,
        "judged": 1,
        "judged_effective": 1,
        "low_confidence": 0,
    }
    csv_body = operator.get(
        "/api/v1/tenants/tenant-a/learning/", {"format": "csv", "group_by": "intervention"}
    )
    assert csv_body.content.decode().splitlines()[1].startswith("traffic-controllers,3,3,-20.0")
    assert_problem(operator.get("/api/v1/tenants/tenant-a/learning/", {"group_by": "weather"}), 400)
    alert = operator.post(
        "/api/v1/tenants/tenant-a/alerts/", {"message": "Busy", "area": "pier"}, format="json"
    ).json()
    assert alert["similar"][0]["intervention"] == "traffic-controllers"
    assert alert["similar"][0]["median_effect_pct"] == -20.0
    assert operator.get(f"/api/v1/tenants/tenant-a/alerts/{alert['id']}/").json()["similar"][0]["count"] == 3
    with scopes_disabled():
        assert ActionRevision.objects.count() == 3
