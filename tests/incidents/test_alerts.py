"""Alerts: rules, evaluation with hysteresis, lifecycle, e-mail and signed webhooks, the API."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django_scopes import scopes_disabled

from areas.models import AreaForecast
from incidents.choices import AlertState
from incidents.models import Alert, AlertRule, WebhookDelivery
from incidents.services import alert_rule_save, evaluate_alerts
from sources.models import Source
from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_event, make_source, square
from tests.helpers import assert_problem

NOW = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)
ALERTS = "/api/v1/tenants/tenant-a/alerts/"
RULES = "/api/v1/tenants/tenant-a/alert-rules/"


@pytest.fixture
def pier(tenant_a):
    return make_area(tenant_a, slug="pier", name="De Pier", capacity=1000)


@pytest.fixture
def cams(tenant_a):
    return make_source(tenant_a, slug="cams")


def count(tenant, source, people, *, minutes_ago=1, area="pier", at=NOW):
    with tenant_scope(tenant):
        ingest(
            source=source,
            items=[
                Item(
                    row=0,
                    key=f"cam-{area}",
                    time=at - timedelta(minutes=minutes_ago),
                    value=people,
                    metric="people_count",
                    area=area,
                )
            ],
            may_create_series=True,
            now=at,
        )


def rule(tenant, **data):
    with tenant_scope(tenant):
        return alert_rule_save(tenant=tenant, actor=None, data={"name": "Crowded", **data})


def evaluate(tenant, at=NOW):
    with tenant_scope(tenant):
        return evaluate_alerts(tenant=tenant, now=at)


def alerts(tenant):
    with scopes_disabled():
        return list(Alert.objects.filter(tenant=tenant).order_by("pk"))


def test_level_rule_opens_once_and_clears_with_hysteresis(
    tenant_a, pier, cams, users, django_capture_on_commit_callbacks
):
    rule(tenant_a, kind="level_now", level="crowded", area=pier)  # crowded from 90 % of capacity
    count(tenant_a, cams, 850)
    assert evaluate(tenant_a)["opened"] == 0
    count(tenant_a, cams, 920, at=NOW + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate(tenant_a, NOW + timedelta(minutes=1))["opened"] == 1
    (alert,) = alerts(tenant_a)
    assert alert.state == "open" and alert.level == "crowded"
    assert "De Pier is crowded: 920 people" in alert.message and "92 % of capacity" in alert.message
    # e-mail to admins and operators (the default roles), one message each
    assert sorted(m.to[0] for m in mail.outbox) == sorted([users["admin"].email, users["operator"].email])
    # around the band edge it neither flaps nor opens a second alert
    for minute, people in ((2, 880), (3, 905), (4, 830)):
        count(tenant_a, cams, people, at=NOW + timedelta(minutes=minute))
        result = evaluate(tenant_a, NOW + timedelta(minutes=minute))
        assert result["opened"] == 0 and result["resolved"] == 0
    assert [a.state for a in alerts(tenant_a)] == ["open"]
    count(tenant_a, cams, 800, at=NOW + timedelta(minutes=5))  # 800 / 0.9 = 889: below 900, clears
    assert evaluate(tenant_a, NOW + timedelta(minutes=5))["resolved"] == 1
    (alert,) = alerts(tenant_a)
    assert (
        alert.state == "resolved"
        and alert.resolution == "The condition cleared."
        and alert.resolved_by is None
    )


def test_level_rule_escalates_within_the_same_alert(tenant_a, pier, cams):
    rule(tenant_a, kind="level_now", level="very_busy")
    count(tenant_a, cams, 800)
    evaluate(tenant_a)
    count(tenant_a, cams, 1100, at=NOW + timedelta(minutes=1))
    evaluate(tenant_a, NOW + timedelta(minutes=1))
    (alert,) = alerts(tenant_a)
    assert alert.level == "critical" and "critical" in alert.message


def test_stale_and_source_down_rules(tenant_a, pier, cams):
    rule(tenant_a, name="No data", kind="stale_data", minutes=10)
    count(tenant_a, cams, 100, minutes_ago=30)
    evaluate(tenant_a)
    (stale,) = alerts(tenant_a)
    assert stale.kind == "stale_data" and "30 minutes ago" in stale.message
    broken = make_source(tenant_a, kind="replay", slug="broken", config={"file": "x.csv"})
    with scopes_disabled():
        Source.objects.filter(pk=broken.pk).update(consecutive_failures=2, last_error="answered HTTP 503.")
    rule(tenant_a, name="Feeds", kind="source_down")
    evaluate(tenant_a)
    down = {a.source_id: a.message for a in alerts(tenant_a) if a.kind == "source_down"}
    assert "is failing: answered HTTP 503" in down[broken.pk]
    assert "Source Cams is stale" in down[cams.pk]  # a push source that went quiet is down too
    count(tenant_a, cams, 100, minutes_ago=1)
    assert evaluate(tenant_a)["resolved"] == 2  # fresh data again: the stale and the quiet-source alert clear


def test_forecast_rule_warns_before_it_gets_busy(tenant_a, pier):
    rule(tenant_a, name="Expected crowding", kind="forecast_level", level="crowded", within_hours=3)
    points = [
        {
            "time": (NOW + timedelta(hours=h)).isoformat(),
            "p10": p * 0.8,
            "p50": p,
            "p90": p * 1.2,
            "level": lvl,
            "level_p90": lvl,
        }
        for h, p, lvl in ((1, 600, "busy"), (2, 950, "crowded"), (5, 1200, "critical"))
    ]
    with tenant_scope(tenant_a):
        AreaForecast.objects.create(tenant=tenant_a, area=pier, issued_at=NOW, method="test", points=points)
    evaluate(tenant_a)
    (alert,) = alerts(tenant_a)
    assert alert.kind == "forecast_level" and alert.details["p50"] == 950
    assert "expected to be crowded at 18:00" in alert.message  # 16:00 UTC in Amsterdam summer time


def test_signed_webhook_delivery_with_retries(
    tenant_a, pier, cams, httpserver, api_as, admin_a, django_capture_on_commit_callbacks
):
    response = api_as(admin_a).post(
        "/api/v1/tenants/tenant-a/webhooks/",
        {"name": "Control room", "url": httpserver.url_for("/hook")},
        format="json",
    )
    assert response.status_code == 201
    secret = response.json()["secret"]
    httpserver.expect_oneshot_request("/hook").respond_with_data("down", status=502)
    httpserver.expect_request("/hook").respond_with_data("ok")
    rule(tenant_a, kind="level_now", level="crowded")
    count(tenant_a, cams, 990)
    with django_capture_on_commit_callbacks(execute=True):
        evaluate(tenant_a)  # the delivery task and its retry run in-process (eager), in order
    request, _ = httpserver.log[-1]
    body = request.get_data()
    timestamp = request.headers["X-CSM-Timestamp"]
    expected = (
        "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    assert request.headers["X-CSM-Signature"] == expected
    assert request.headers["X-CSM-Event"] == "alert.opened"
    payload = json.loads(body)
    assert payload["type"] == "nl.crowdsafety.alert.opened" and payload["specversion"] == "1.0"
    assert payload["data"]["alert"]["area"]["slug"] == "pier" and payload["data"]["tenant"] == "tenant-a"
    first, _ = httpserver.log[0]
    assert json.loads(first.get_data())["id"] == payload["id"]  # the retry repeats the same event id
    with scopes_disabled():
        attempts = list(
            WebhookDelivery.objects.order_by("pk").values_list("attempt", "status_code", "delivered")
        )
    assert attempts == [(1, 502, False), (2, 200, True)]


def test_alert_lifecycle_through_the_api(api_as, users, tenant_a, pier):
    operator = api_as(users["operator"])
    created = operator.post(
        ALERTS, {"message": "Fight near the pier entrance", "area": "pier"}, format="json"
    )
    assert created.status_code == 201, created.content
    alert_id = created.json()["id"]
    assert created.json()["kind"] == "manual" and created.json()["opened_by"] == users["operator"].username
    acked = operator.post(f"{ALERTS}{alert_id}/acknowledge/")
    assert (
        acked.json()["state"] == "acknowledged"
        and acked.json()["acknowledged_by"] == users["operator"].username
    )
    assert_problem(operator.post(f"{ALERTS}{alert_id}/acknowledge/"), 400)
    resolved = operator.post(f"{ALERTS}{alert_id}/resolve/", {"note": "Police on site"}, format="json")
    assert resolved.json()["state"] == "resolved" and resolved.json()["resolution"] == "Police on site"
    assert_problem(operator.post(f"{ALERTS}{alert_id}/resolve/"), 400)
    assert api_as(users["analyst"]).get(ALERTS, {"state": "resolved"}).json()["count"] == 1
    assert api_as(users["analyst"]).get(ALERTS, {"state": "active"}).json()["count"] == 0
    assert_problem(api_as(users["analyst"]).post(f"{ALERTS}{alert_id}/acknowledge/"), 403)
    assert_problem(api_as(users["analyst"]).post(ALERTS, {"message": "x"}, format="json"), 403)


def test_organiser_sees_alerts_of_own_zones_only(api_as, users, tenant_a, pier):
    event = make_event(tenant_a, slug="koningsdag", organisers=[users["organiser"].username])
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=event, geometry=square(4.479, 51.921))
    operator = api_as(users["operator"])
    operator.post(ALERTS, {"message": "Pier", "area": "pier"}, format="json")
    operator.post(ALERTS, {"message": "Coolsingel", "area": "coolsingel"}, format="json")
    visible = [a["message"] for a in api_as(users["organiser"]).get(ALERTS).json()["results"]]
    assert visible == ["Coolsingel"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "x", "kind": "level_now", "level": "panic"}, "level", "not a valid choice"),
        ({"name": "x", "kind": "level_now"}, "level", "Give the level"),
        (
            {"name": "x", "kind": "forecast_level", "level": "crowded", "within_hours": -2},
            "within_hours",
            "greater than or equal to 1",
        ),
        ({"name": "x", "kind": "forecast_level", "level": "crowded"}, "within_hours", "hours ahead"),
        ({"name": "x", "kind": "stale_data", "minutes": -5}, "minutes", "greater than or equal to 1"),
        ({"name": "x", "kind": "stale_data"}, "minutes", "minutes without data"),
        ({"name": "x", "kind": "weather"}, "kind", "not a valid choice"),
        ({"name": "x", "kind": "level_now", "level": "busy", "area": "atlantis"}, "area", "does not exist"),
        (
            {"name": "x", "kind": "level_now", "level": "busy", "notify_roles": ["mayor"]},
            "notify_roles",
            "not a valid choice",
        ),
    ],
)
def test_bad_rules_are_400(api_as, admin_a, body, field, message):
    problem = assert_problem(api_as(admin_a).post(RULES, body, format="json"), 400)
    assert message in json.dumps(problem["errors"][field])


def test_rules_through_the_api(api_as, admin_a, users, pier):
    response = api_as(admin_a).post(
        RULES,
        {"name": "Pier crowded", "kind": "level_now", "level": "crowded", "area": "pier"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["notify_roles"] == ["admin", "operator"]
    assert api_as(users["operator"]).get(RULES).json()["count"] == 1
    assert_problem(
        api_as(users["operator"]).post(RULES, {"name": "x", "kind": "source_down"}, format="json"), 403
    )
    with scopes_disabled():
        assert AlertRule.objects.count() == 1
    assert AlertState.OPEN == "open"
