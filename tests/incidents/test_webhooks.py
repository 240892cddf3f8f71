"""Outbound webhooks: CloudEvents 1.0 per subscribed event, HMAC signature, retries, the delivery log."""

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.actions import action_create, ensure_default_interventions, measure_outcomes
from incidents.models import InterventionType, Webhook, WebhookDelivery, WebhookEvent
from incidents.services import alert_raise
from incidents.tasks import MAX_WEBHOOK_ATTEMPTS, deliver_webhook_event_task
from sources.secrets import decrypt_secrets
from tenants.scoping import tenant_scope
from tests.factories import make_area
from tests.helpers import assert_problem

HOOKS = "/api/v1/tenants/tenant-a/webhooks/"
ALERTS = "/api/v1/tenants/tenant-a/alerts/"
ACTIONS = "/api/v1/tenants/tenant-a/actions/"


@pytest.fixture
def pier(tenant_a):
    return make_area(tenant_a, slug="pier", name="De Pier", capacity=1000)


def subscribe(client, httpserver, path="/hook", **body):
    response = client.post(
        HOOKS, {"name": "Control room", "url": httpserver.url_for(path), **body}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def received(httpserver, path="/hook") -> list[tuple[dict, dict, bytes]]:
    """(CloudEvent, headers, raw body) of every request the receiver got on ``path``, in order."""
    return [
        (json.loads(request.get_data()), dict(request.headers), request.get_data())
        for request, _ in httpserver.log
        if request.path == path
    ]


def test_alert_events_are_signed_cloudevents(
    api_as, users, admin_a, pier, httpserver, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://csm.example.nl"
    hook = subscribe(api_as(admin_a), httpserver)
    assert hook["events"] == ["alert.opened", "alert.acknowledged", "alert.resolved"]  # the default
    httpserver.expect_request("/hook").respond_with_data("ok")
    operator = api_as(users["operator"])
    with django_capture_on_commit_callbacks(execute=True):
        alert = operator.post(
            ALERTS, {"message": "Pier entrance packed", "area": "pier"}, format="json"
        ).json()
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(f"{ALERTS}{alert['id']}/acknowledge/")
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(f"{ALERTS}{alert['id']}/resolve/", {"note": "Stewards on site"}, format="json")
    events = received(httpserver)
    assert [e["type"] for e, _, _ in events] == [
        "nl.crowdsafety.alert.opened",
        "nl.crowdsafety.alert.acknowledged",
        "nl.crowdsafety.alert.resolved",
    ]
    event, headers, body = events[0]
    assert event["specversion"] == "1.0" and event["datacontenttype"] == "application/json"
    assert event["source"] == f"https://csm.example.nl/api/v1/tenants/tenant-a/alerts/{alert['id']}/"
    assert event["subject"] == f"alerts/{alert['id']}"
    assert uuid.UUID(event["id"]) and len({e["id"] for e, _, _ in events}) == 3
    assert event["time"].endswith("Z") and datetime.fromisoformat(event["time"]).tzinfo is not None
    assert event["data"]["tenant"] == "tenant-a"
    assert event["data"]["alert"]["area"] == {"slug": "pier", "name": "De Pier"}
    assert events[1][0]["data"]["alert"]["acknowledged_by"] == users["operator"].username
    assert events[2][0]["data"]["alert"]["resolution"] == "Stewards on site"
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert headers["X-Csm-Event"] == "alert.opened" and headers["X-Csm-Event-Id"] == event["id"]
    expected = hmac.new(
        hook["secret"].encode(), headers["X-Csm-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Csm-Signature"] == f"sha256={expected}"


def test_each_webhook_gets_only_the_events_it_subscribes_to(
    api_as, users, admin_a, pier, httpserver, django_capture_on_commit_callbacks
):
    admin = api_as(admin_a)
    subscribe(admin, httpserver, "/actions", events=["action.created", "action.revised", "action.closed"])
    subscribe(admin, httpserver, "/opened", events=["alert.opened"])
    subscribe(admin, httpserver, "/off", events=["action.created"], enabled=False)
    httpserver.expect_request("/actions").respond_with_data("ok")
    httpserver.expect_request("/opened").respond_with_data("ok")
    operator = api_as(users["operator"])
    with django_capture_on_commit_callbacks(execute=True):
        alert = operator.post(ALERTS, {"message": "Busy", "area": "pier"}, format="json").json()
        operator.post(f"{ALERTS}{alert['id']}/acknowledge/")
    body = {"intervention": "stop-inflow", "areas": ["pier"], "started_at": "2026-07-04T15:00:00+02:00"}
    with django_capture_on_commit_callbacks(execute=True):
        entry = operator.post(ACTIONS, body, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        operator.patch(f"{ACTIONS}{entry['id']}/", {"description": "Gates closed"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        operator.patch(
            f"{ACTIONS}{entry['id']}/",
            {"status": "ended", "ended_at": "2026-07-04T16:00:00+02:00"},
            format="json",
        )
    assert [e["type"] for e, _, _ in received(httpserver, "/opened")] == ["nl.crowdsafety.alert.opened"]
    actions = [e for e, _, _ in received(httpserver, "/actions")]
    assert [e["type"].removeprefix("nl.crowdsafety.") for e in actions] == [
        "action.created",
        "action.revised",
        "action.closed",
    ]
    assert actions[0]["data"]["action"]["areas"] == ["pier"]
    assert actions[0]["data"]["action"]["intervention"]["slug"] == "stop-inflow"
    assert actions[1]["data"]["changes"] == {"description": ["", "Gates closed"]}
    assert actions[2]["data"]["action"]["status"] == "ended" and actions[2]["data"]["action"]["revision"] == 3
    assert received(httpserver, "/off") == []


@pytest.mark.clock
def test_outcome_and_incident_events(
    tenant_a, pier, users, api_as, admin_a, httpserver, django_capture_on_commit_callbacks
):
    subscribe(api_as(admin_a), httpserver, events=["outcome.measured", "incident.reported"])
    httpserver.expect_request("/hook").respond_with_data("ok")
    now = timezone.now()
    with tenant_scope(tenant_a):
        ensure_default_interventions(tenant=tenant_a)
        entry = action_create(
            tenant=tenant_a,
            actor=None,
            data={
                "intervention": InterventionType.objects.get(slug="other"),
                "areas": [pier],
                "status": "ended",
                "started_at": now - timedelta(hours=5),
                "ended_at": now - timedelta(hours=4),
            },
        )
        with django_capture_on_commit_callbacks(execute=True):
            (outcome,) = measure_outcomes(entry=entry, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        api_as(users["operator"]).post(
            "/api/v1/tenants/tenant-a/incidents/",
            {"kind": "medical", "area": "pier", "occurred_at": "2026-07-04T15:00:00+02:00"},
            format="json",
        )
    measured, reported = (e for e, _, _ in received(httpserver))
    assert measured["type"] == "nl.crowdsafety.outcome.measured"
    assert measured["data"]["outcome"]["id"] == outcome.pk and measured["data"]["outcome"]["area"] == "pier"
    assert measured["data"]["outcome"]["action"] == entry.pk
    assert reported["type"] == "nl.crowdsafety.incident.reported"
    assert reported["data"]["incident"]["kind"] == "medical"


@pytest.mark.clock
def test_retries_with_backoff_then_gives_up_and_logs_every_attempt(
    api_as, admin_a, users, pier, httpserver, django_capture_on_commit_callbacks
):
    hook = subscribe(api_as(admin_a), httpserver)
    httpserver.expect_request("/hook").respond_with_data("maintenance", status=503)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        api_as(users["operator"]).post(ALERTS, {"message": "Busy"}, format="json")
    events = received(httpserver)
    assert len(events) == MAX_WEBHOOK_ATTEMPTS
    assert len({e["id"] for e, _, _ in events}) == 1  # every retry repeats the same CloudEvent
    log = api_as(admin_a).get(f"{HOOKS}{hook['id']}/deliveries/").json()
    assert log["count"] == MAX_WEBHOOK_ATTEMPTS
    rows = sorted(log["results"], key=lambda r: r["attempt"])
    assert [r["attempt"] for r in rows] == list(range(1, MAX_WEBHOOK_ATTEMPTS + 1))
    assert all(r["status_code"] == 503 and not r["delivered"] for r in rows)
    assert all("HTTP 503: maintenance" in r["error"] for r in rows)
    assert all(r["event_id"] == events[0][0]["id"] and r["event_type"] == "alert.opened" for r in rows)
    assert all(r["duration_ms"] is not None for r in rows)
    # each failed attempt says when the next one is due: growing delays with jitter; the last gives up
    delays = [datetime.fromisoformat(r["next_retry_at"]) - before for r in rows[:-1]]
    assert rows[-1]["next_retry_at"] is None
    for attempt, delay in enumerate(delays):
        assert timedelta(seconds=10 * 3**attempt * 0.8) <= delay
        assert delay <= timedelta(seconds=10 * 3**attempt * 1.2 + 60)
    # paged and filtered
    page = api_as(admin_a).get(f"{HOOKS}{hook['id']}/deliveries/", {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    assert api_as(admin_a).get(f"{HOOKS}{hook['id']}/deliveries/", {"delivered": "true"}).json()["count"] == 0
    assert_problem(api_as(users["operator"]).get(f"{HOOKS}{hook['id']}/deliveries/"), 403)


def test_a_redelivered_task_does_not_post_twice(
    tenant_a, api_as, admin_a, httpserver, django_capture_on_commit_callbacks
):
    subscribe(api_as(admin_a), httpserver)
    httpserver.expect_request("/hook").respond_with_data("ok")
    with tenant_scope(tenant_a), django_capture_on_commit_callbacks(execute=True):
        alert_raise(tenant=tenant_a, actor=None, area=None, message="Busy")
    with scopes_disabled():
        event = WebhookEvent.objects.get()
        webhook = Webhook.objects.get()
    deliver_webhook_event_task.apply(args=[tenant_a.pk, event.pk, webhook.pk])  # e.g. after a worker crash
    assert len(received(httpserver)) == 1
    with scopes_disabled():
        assert WebhookDelivery.objects.filter(delivered=True).count() == 1


def test_a_rolled_back_change_sends_nothing(
    tenant_a, api_as, admin_a, httpserver, django_capture_on_commit_callbacks
):
    subscribe(api_as(admin_a), httpserver)
    with (
        tenant_scope(tenant_a),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        alert_raise(tenant=tenant_a, actor=None, area=None, message="Busy")
        raise RuntimeError("something later in the same transaction failed")
    assert callbacks == [] and httpserver.log == []
    with scopes_disabled():
        assert not WebhookEvent.objects.exists()


def test_no_subscriber_stores_no_event(tenant_a, api_as, admin_a, httpserver):
    subscribe(api_as(admin_a), httpserver, events=["incident.reported"])
    with tenant_scope(tenant_a):
        alert_raise(tenant=tenant_a, actor=None, area=None, message="Busy")
    with scopes_disabled():
        assert not WebhookEvent.objects.exists()


def test_secret_is_write_only_encrypted_and_rotatable(
    api_as, admin_a, users, httpserver, django_capture_on_commit_callbacks
):
    admin = api_as(admin_a)
    hook = subscribe(admin, httpserver, secret="first-secret-0123456789")
    assert hook["secret"] == "first-secret-0123456789"
    shown = admin.get(f"{HOOKS}{hook['id']}/").json()
    assert "secret" not in shown and "secret_encrypted" not in shown
    with scopes_disabled():
        stored = Webhook.objects.get().secret_encrypted
    assert "first-secret" not in stored and decrypt_secrets(stored) == {"secret": "first-secret-0123456789"}
    changed = admin.patch(f"{HOOKS}{hook['id']}/", {"secret": "second-secret-0123456789"}, format="json")
    assert changed.status_code == 200 and "secret" not in changed.json()
    httpserver.expect_request("/hook").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        api_as(users["operator"]).post(ALERTS, {"message": "Busy"}, format="json")
    (_, headers, body) = received(httpserver)[0]
    expected = hmac.new(
        b"second-secret-0123456789", headers["X-Csm-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Csm-Signature"] == f"sha256={expected}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"events": ["alert.exploded"]}, "not a valid choice"),
        ({"events": []}, "may not be empty"),
        ({"events": "alert.opened"}, "Expected a list"),
        ({"url": "ftp://hooks.example.org/x"}, "starts with https://"),
        ({"url": "not a url"}, "Enter a valid URL"),
    ],
)
def test_bad_subscriptions_are_400(api_as, admin_a, body, message):
    payload = {"name": "x", "url": "https://hooks.example.org/x", **body}
    problem = assert_problem(api_as(admin_a).post(HOOKS, payload, format="json"), 400)
    assert message in json.dumps(problem["errors"][next(iter(set(body) - {"name"}))])
    with scopes_disabled():
        assert not Webhook.objects.exists()


def test_events_can_be_changed(api_as, admin_a):
    hook = (
        api_as(admin_a).post(HOOKS, {"name": "x", "url": "https://hooks.example.org/x"}, format="json").json()
    )
    changed = api_as(admin_a).patch(
        f"{HOOKS}{hook['id']}/", {"events": ["action.closed", "alert.opened", "action.closed"]}, format="json"
    )
    assert changed.json()["events"] == ["alert.opened", "action.closed"]  # deduplicated, in catalogue order


def test_send_a_test_event(api_as, admin_a, httpserver, django_capture_on_commit_callbacks):
    hook = subscribe(api_as(admin_a), httpserver, events=["incident.reported"])
    httpserver.expect_request("/hook").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(admin_a).post(f"{HOOKS}{hook['id']}/test/")
    assert response.status_code == 202
    ((event, _, _),) = received(httpserver)
    assert event["type"] == "nl.crowdsafety.webhook.test" and event["id"] == response.json()["event_id"]
    (delivery,) = api_as(admin_a).get(f"{HOOKS}{hook['id']}/deliveries/").json()["results"]
    assert (
        delivery["delivered"] and delivery["status_code"] == 200 and delivery["event_type"] == "webhook.test"
    )


def test_event_time_is_when_it_happened(
    tenant_a, api_as, admin_a, httpserver, django_capture_on_commit_callbacks
):
    subscribe(api_as(admin_a), httpserver)
    httpserver.expect_request("/hook").respond_with_data("ok")
    with tenant_scope(tenant_a), django_capture_on_commit_callbacks(execute=True):
        alert = alert_raise(tenant=tenant_a, actor=None, area=None, message="Busy")
    ((event, _, _),) = received(httpserver)
    assert datetime.fromisoformat(event["time"]) == alert.opened_at.astimezone(UTC)
