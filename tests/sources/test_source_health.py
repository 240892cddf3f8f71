"""Honest source health: warnings are kept and shown, a source that brings nothing says so, push sources
go stale by their own interval, and a cut-off download is retried."""

import gzip
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, ParseError, Payload
from sources.models import Source
from sources.selectors import source_status
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import login, make_source

pytestmark = pytest.mark.clock  # times its records from now: run again under CSM_TEST_CLOCK in CI

MAPPING = {"items": "data", "key": "id", "time": "t", "value": "v", "metric": "people_count"}


def records(*values, broken: int = 0) -> bytes:
    at = (timezone.now() - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    data = [{"id": f"gate-{n}", "t": at, "v": v} for n, v in enumerate(values)]
    data += [{"id": f"bad-{n}", "t": "yesterday", "v": 1} for n in range(broken)]
    return json.dumps({"data": data}).encode()


@pytest.fixture
def feed(httpserver, tenant_a):
    def make(body: bytes, **data):
        httpserver.clear()
        httpserver.expect_request("/counts").respond_with_data(body, content_type="application/json")
        return make_source(
            tenant_a,
            kind="generic_json",
            slug="gates",
            config={"url": httpserver.url_for("/counts"), **MAPPING},
            **data,
        )

    return make


def fetch(source):
    with tenant_scope(source.tenant):
        return source_fetch(source=refreshed(source))


def refreshed(source) -> Source:
    with scopes_disabled():
        return Source.objects.get(pk=source.pk)


def test_warnings_of_a_fetch_are_kept_and_shown(feed, httpserver, api_as, admin_a):
    source = feed(records(10, 20, broken=2))
    outcome = fetch(source)
    assert outcome.ok and outcome.stored == 2
    kept = refreshed(source).last_warnings
    assert len(kept) == 2 and all("bad-" in w and "skipped" in w for w in kept), kept
    health = api_as(admin_a).get(f"/api/v1/tenants/tenant-a/sources/{source.pk}/").json()["health"]
    assert health["last_warnings"] == kept and health["status"] == "ok"
    # The page shows them too.
    page = login(Client(), admin_a).get("/t/tenant-a/sources/")
    assert b"bad-0" in page.content
    # A clean fetch clears them.
    httpserver.clear()
    httpserver.expect_request("/counts").respond_with_data(records(11, 21), content_type="application/json")
    fetch(source)
    assert refreshed(source).last_warnings == []


def test_a_source_that_brings_nothing_is_not_ok(feed, httpserver, settings):
    source = feed(records())  # a valid, empty answer
    for n in range(settings.SOURCE_NO_DATA_FETCHES):
        assert source_status(refreshed(source)) == ("ok" if n else "never_run")
        assert fetch(source).ok
    stale = refreshed(source)
    assert stale.empty_fetches == settings.SOURCE_NO_DATA_FETCHES
    assert source_status(stale) == "no_data"
    # Rows that are all rejected bring nothing either; one stored row ends it.
    httpserver.clear()
    httpserver.expect_request("/counts").respond_with_data(records(-5), content_type="application/json")
    fetch(source)
    assert source_status(refreshed(source)) == "no_data"
    httpserver.clear()
    httpserver.expect_request("/counts").respond_with_data(records(7), content_type="application/json")
    fetch(source)
    assert refreshed(source).empty_fetches == 0 and source_status(refreshed(source)) == "ok"


def test_push_sources_go_stale_by_their_own_interval(tenant_a):
    now = timezone.now()
    every_minute = make_source(tenant_a, kind="counting_camera", slug="fast", poll_interval=60)
    every_quarter = make_source(tenant_a, kind="counting_camera", slug="slow", poll_interval=900)
    for source in (every_minute, every_quarter):
        source.last_data_at = now - timedelta(minutes=10)
    assert source_status(every_minute, now=now) == "stale"  # 10 pushes missed
    assert source_status(every_quarter, now=now) == "push"  # not even one missed
    every_quarter.last_data_at = now - timedelta(minutes=46)
    assert source_status(every_quarter, now=now) == "stale"  # three missed


def test_a_cut_off_download_is_retried(feed):
    whole = records(1, 2, 3)
    source = feed(whole[: len(whole) // 2])
    outcome = fetch(source)
    assert not outcome.ok and outcome.retryable, outcome
    assert "cut off" in outcome.error


@pytest.mark.parametrize(
    ("kind", "config", "body"),
    [
        ("buienradar", {}, b'{"actual": {"stationmeasurements": [{"stationid": 6'),
        (
            "ndw_traffic",
            {"sites": ["RWS01_MONIBAS_0021hrl0403ra"]},
            gzip.compress(b"<soap:Envelope>" * 50)[:40],
        ),
        (
            "gtfs_realtime",
            {"stops": [{"stop_id": "1", "lat": 52.1, "lon": 4.27}]},
            b"\x0a\x0d\x0a\x03\x32\x2e",
        ),
    ],
    ids=["buienradar-json", "ndw-gzip", "gtfs-protobuf"],
)
def test_cut_off_payloads_are_retryable_for_every_format(kind, config, body):
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    connector = get_connector(kind)(config={"url": "https://feed.example.nl/x", **config}, context=context)
    with pytest.raises(ParseError) as caught:
        connector.parse(Payload(body=body, url="https://feed.example.nl/x", meta={"feed": "trip_updates"}))
    assert caught.value.retryable, caught.value.message


def test_one_broken_line_of_a_replay_does_not_lose_the_others(tenant_a, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    (tmp_path / "replay").mkdir()
    now = timezone.now().replace(microsecond=0)
    good = [f"cam-1,{(now - timedelta(minutes=m)).isoformat()},{m}" for m in (30, 20, 10)]
    broken = [
        "cam-1,yesterday,5",
        f"cam-1,{(now - timedelta(minutes=15)).replace(tzinfo=None).isoformat()},5",
    ]
    (tmp_path / "replay" / "demo.csv").write_text("series,time,value\n" + "\n".join(good + broken) + "\n")
    source = make_source(tenant_a, kind="replay", config={"file": "demo.csv", "backfill_hours": 1})
    outcome = fetch(source)
    assert outcome.ok and outcome.stored == 3, outcome
    assert refreshed(source).last_warnings == [
        "Replay CSV line 5: Invalid isoformat string: 'yesterday'; skipped.",
        f"Replay CSV line 6: time '{(now - timedelta(minutes=15)).replace(tzinfo=None).isoformat()}' has no "
        "time zone; skipped.",
    ]
