"""/healthz reports database, broker and cache; 503 when one of them is unreachable."""

import pytest

from config.celery import app


@pytest.mark.django_db
def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {k: v["status"] for k, v in body["checks"].items() if k != "worker"} == {
        "database": "ok",
        "broker": "ok",
        "cache": "ok",
    }
    assert body["checks"]["worker"]["status"] == "unknown"  # no worker heartbeat in this test
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_503_when_broker_is_unreachable(client):
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["broker"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_shows_worker_heartbeat(client):
    from tenants.tasks import record_heartbeat

    record_heartbeat.apply()
    worker = client.get("/healthz").json()["checks"]["worker"]
    assert worker["status"] == "ok"  # "stale" after two minutes without one
    assert worker["last_heartbeat"]
