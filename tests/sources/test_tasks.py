"""Fetch tasks: retries with backoff, the circuit breaker, idempotent redelivery, retention purge."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.models import Observation, Source
from sources.services import Item, ingest
from sources.tasks import dispatch_due_sources, fetch_source_task, purge_old_observations
from tenants.scoping import tenant_scope
from tests.factories import make_source

pytestmark = pytest.mark.clock  # reads the clock: run again under CSM_TEST_CLOCK in CI


@pytest.fixture
def replay_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    (tmp_path / "replay").mkdir()
    return tmp_path / "replay"


def write_replay(folder, minutes=(30, 20, 10)):
    now = timezone.now().replace(microsecond=0)
    lines = "".join(f"cam-1,{(now - timedelta(minutes=m)).isoformat()},{m}\n" for m in minutes)
    (folder / "demo.csv").write_text("series,time,value\n" + lines)


def reload(source):
    with scopes_disabled():
        return Source.objects.get(pk=source.pk)


def observations(source):
    with scopes_disabled():
        return Observation.objects.filter(series__source=source).count()


def test_fetch_task_stores_and_marks_the_due_time_done(tenant_a, replay_dir):
    write_replay(replay_dir)
    source = make_source(tenant_a, kind="replay", config={"file": "demo.csv", "backfill_hours": 1})
    due = timezone.now().replace(microsecond=0)
    assert fetch_source_task.apply(args=[tenant_a.pk, source.pk, due.isoformat()]).get() == "ok"
    assert observations(source) == 3
    source = reload(source)
    assert source.last_completed_due_at == due and source.last_success_at and source.consecutive_failures == 0
    # redelivered (acks_late after a worker died after committing): does nothing
    result = fetch_source_task.apply(args=[tenant_a.pk, source.pk, due.isoformat()]).get()
    assert result == "skipped: already fetched for this due time"
    assert observations(source) == 3


GENERIC = {"items": "data", "key": "id", "time": "t", "value": "v", "metric": "visitor_estimate"}


def test_a_server_error_is_retried_then_recorded(tenant_a, httpserver):
    httpserver.expect_request("/counts").respond_with_data("busy", status=503)
    source = make_source(
        tenant_a, kind="generic_json", config={"url": httpserver.url_for("/counts"), **GENERIC}
    )
    result = fetch_source_task.apply(args=[tenant_a.pk, source.pk, timezone.now().isoformat()])
    assert "503" in result.get()
    assert len(httpserver.log) == 3  # first try and two retries
    source = reload(source)
    assert source.consecutive_failures == 3
    assert "answered HTTP 503" in source.last_error
    assert source.circuit_open_until is None  # threshold is 5


def test_a_configuration_error_is_not_retried(tenant_a, replay_dir):
    source = make_source(tenant_a, kind="replay", config={"file": "missing.csv"})
    result = fetch_source_task.apply(args=[tenant_a.pk, source.pk, timezone.now().isoformat()])
    assert "not found" in result.get()
    source = reload(source)
    assert source.consecutive_failures == 1  # retrying cannot make a missing file appear
    assert "Replay file 'missing.csv' not found" in source.last_error


def test_circuit_opens_after_repeated_failures_and_closes_on_success(tenant_a, replay_dir, settings):
    settings.SOURCE_CIRCUIT_THRESHOLD = 3
    config = {"file": "demo.csv", "backfill_hours": 1}
    source = make_source(tenant_a, kind="replay", config=config, poll_interval=60)
    for _ in range(3):
        fetch_source_task.apply(args=[tenant_a.pk, source.pk, timezone.now().isoformat()])
    source = reload(source)
    assert source.consecutive_failures == 3
    # paused for the interval (60 s) times 2^0, plus up to 20 % jitter, from the last failure
    pause = source.circuit_open_until - source.last_error_at
    assert timedelta(seconds=60) <= pause <= timedelta(seconds=72)
    write_replay(replay_dir)
    assert fetch_source_task.apply(args=[tenant_a.pk, source.pk, timezone.now().isoformat()]).get() == "ok"
    source = reload(source)
    assert (source.consecutive_failures, source.circuit_open_until) == (0, None)
    assert "not found" in source.last_error  # the last error stays visible for the health page


def test_parse_error_stores_nothing(tenant_a, replay_dir):
    """A file without one usable line is a parse error (a broken line among good ones is only a warning:
    tests/sources/test_source_health.py)."""
    (replay_dir / "demo.csv").write_text("series,time,value\ncam-1,not-a-time,6\ncam-1,later,7\n")
    source = make_source(tenant_a, kind="replay", config={"file": "demo.csv", "backfill_hours": 24 * 90})
    fetch_source_task.apply(args=[tenant_a.pk, source.pk])
    assert observations(source) == 0
    assert "no usable data rows" in reload(source).last_error and "line 2" in reload(source).last_error


def test_dispatch_enqueues_due_sources(tenant_a, replay_dir, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        write_replay(replay_dir)
        source = make_source(tenant_a, kind="replay", config={"file": "demo.csv", "backfill_hours": 1})
        assert dispatch_due_sources.apply().get() == 1
    finally:
        app.conf.task_always_eager = False
    assert observations(source) == 3


def test_retention_purge_deletes_only_old_observations(tenant_a, tenant_b):
    tenant_a.retention_days = 30
    tenant_a.save()
    now = timezone.now()
    for tenant in (tenant_a, tenant_b):
        source = make_source(tenant, slug="cams")
        items = [
            Item(row=i, key="cam-1", time=now - timedelta(days=d), value=1)
            for i, d in enumerate((1, 29, 31, 400))
        ]
        with tenant_scope(tenant):
            ingest(source=source, items=items, may_create_series=True, default_metric="people_count")
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        purge_old_observations.apply()
    finally:
        app.conf.task_always_eager = False
    with scopes_disabled():
        assert Observation.objects.filter(tenant=tenant_a).count() == 2  # 31 and 400 days old are gone
        assert Observation.objects.filter(tenant=tenant_b).count() == 3  # default retention 365 days


def test_replay_plays_in_real_time_aligned_to_the_week(tenant_a, replay_dir):
    # one recorded week, Monday 2026-06-01 00:00 UTC, a value every hour = hours since the start
    start = datetime(2026, 6, 1, tzinfo=UTC)
    lines = "".join(f"cam-1,{(start + timedelta(hours=h)).isoformat()},{h}\n" for h in range(168))
    (replay_dir / "week.csv").write_text("series,time,value\n" + lines)
    source = make_source(tenant_a, kind="replay", config={"file": "week.csv", "backfill_hours": 3})
    from sources.services import source_fetch

    wednesday_noon = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with tenant_scope(tenant_a):
        first = source_fetch(source=source, now=wednesday_noon)
        assert first.stored == 3  # 10:00, 11:00 and 12:00 (the window start is exclusive)
        values = sorted(Observation.objects.filter(series__source=source).values_list("time", "value"))
        assert values[-1] == (wednesday_noon, 2 * 24 + 12)  # Wednesday noon of the recorded week
        second = source_fetch(source=reload(source), now=wednesday_noon + timedelta(minutes=90))
        assert second.stored == 1  # only 13:00 is new
