"""Shared national feeds: one download per feed and interval for the sources of every tenant that read it,
each tenant storing only its own sites, failures recorded per source (sources/shared_feeds.py)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django_scopes import scopes_disabled

from config.celery import app
from sources.dispatch import claim_due_sources
from sources.models import Observation, Series, Source
from sources.shared_feeds import Member, fetch_shared_feed
from sources.tasks import dispatch_due_sources, enqueue_fetches
from tenants.scoping import tenant_scope
from tests.factories import TenantFactory, make_source

FIXTURES = Path(__file__).parent / "fixtures" / "ndw_traffic"
SUBSET_GZ = (FIXTURES / "trafficspeed_2025-08-15_subset.xml.gz").read_bytes()
TABLE = (FIXTURES / "measurement_site_table_subset.xml").read_bytes()
NOW = datetime(2025, 8, 15, 22, 0, tzinfo=UTC)
FEED, SITE_TABLE = "/trafficspeed.xml.gz", "/measurement_current.xml"

SITES_A = ["PZH01_MST_0635_01_01", "GAD02_Amstd_34_0"]
SITES_B = ["RWS01_MONIBAS_0151hrr0589ra", "GEO0K_K_RWSTI359886"]
SITES_C = ["PZH01_MST_0635_01_01"]  # the same site as tenant A: each tenant gets its own series
SITES_D = ["PFR07_101600_N351_ZW"]
READINGS = {  # site -> series keys stored from the fixture (PFR07 has no traffic: a flow, no speed)
    "PZH01_MST_0635_01_01": 2, "GAD02_Amstd_34_0": 2, "RWS01_MONIBAS_0151hrr0589ra": 2,
    "GEO0K_K_RWSTI359886": 2, "PFR07_101600_N351_ZW": 1,
}  # fmt: skip


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def feed(httpserver):
    """Serve the national file and the site table; returns a maker of NDW sources due at a given time."""
    httpserver.expect_request(FEED).respond_with_data(SUBSET_GZ, content_type="application/x-gzip")
    httpserver.expect_request(SITE_TABLE).respond_with_data(TABLE, content_type="text/xml")

    def make(tenant, sites, *, due, interval=60):
        config = {
            "url": httpserver.url_for(FEED),
            "site_table_url": httpserver.url_for(SITE_TABLE),
            "sites": sites,
        }
        source = make_source(tenant, kind="ndw_traffic", config=config, poll_interval=interval)
        with scopes_disabled():
            Source.objects.filter(pk=source.pk).update(next_due_at=due)
            return Source.objects.get(pk=source.pk)

    return make


def requests(httpserver, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


def reload(source) -> Source:
    with scopes_disabled():
        return Source.objects.get(pk=source.pk)


def stored_sites(tenant, source=None) -> dict[str, int]:
    """Per site (facility): how many series the tenant has, read inside the tenant's own scope."""
    with tenant_scope(tenant):
        series = Series.objects.all() if source is None else Series.objects.filter(source=source)
        counts: dict[str, int] = {}
        for facility in series.values_list("facility", flat=True):
            counts[facility] = counts.get(facility, 0) + 1
        return counts


def test_one_download_per_interval_for_every_tenant(db, tenant_a, tenant_b, feed, httpserver, eager):
    tenant_c, tenant_d = TenantFactory(slug="tenant-c"), TenantFactory(slug="tenant-d")
    a = feed(tenant_a, SITES_A, due=NOW - timedelta(seconds=1))
    b = feed(tenant_b, SITES_B, due=NOW + timedelta(seconds=20))  # due before the next download: joins now
    c = feed(tenant_c, SITES_C, due=NOW + timedelta(seconds=50), interval=300)
    d = feed(tenant_d, SITES_D, due=NOW + timedelta(seconds=65))  # after the next download: waits for it

    with time_machine.travel(NOW, tick=False):
        dispatch_due_sources.apply()

    assert requests(httpserver, FEED) == 1 and requests(httpserver, SITE_TABLE) == 1
    for tenant, source, sites in ((tenant_a, a, SITES_A), (tenant_b, b, SITES_B), (tenant_c, c, SITES_C)):
        assert stored_sites(tenant) == {site: READINGS[site] for site in sites}
        source = reload(source)
        assert source.last_success_at == NOW and source.last_error == "" and source.consecutive_failures == 0
        assert sorted(source.state["site_table"]["sites"]) == sorted(
            s for s in sites if s != "GEO0K_K_RWSTI359886"
        )
    assert stored_sites(tenant_d) == {}
    # The feed's sources now share their next due time (the earliest due time plus their own interval).
    base = NOW - timedelta(seconds=1)
    assert [reload(s).next_due_at for s in (a, b, c)] == [base + timedelta(seconds=60)] * 2 + [
        base + timedelta(seconds=300)
    ]
    with scopes_disabled():
        before = Observation.objects.count()

    # The next interval: one more download, for A and B and, pulled forward, D (C's interval is 300 s).
    with time_machine.travel(NOW + timedelta(seconds=60), tick=False):
        dispatch_due_sources.apply()

    assert requests(httpserver, FEED) == 2
    assert stored_sites(tenant_d) == {"PFR07_101600_N351_ZW": 1}
    with scopes_disabled():
        assert Observation.objects.count() == before + 1  # the same file again: only D's value is new
    assert reload(c).last_completed_due_at == NOW + timedelta(seconds=50)  # C was not fetched again
    assert {reload(s).next_due_at for s in (a, b, d)} == {base + timedelta(seconds=120)}


def test_tenants_stay_sealed(tenant_a, tenant_b, feed, eager):
    a = feed(tenant_a, SITES_A, due=NOW - timedelta(seconds=1))
    b = feed(tenant_b, SITES_B + SITES_C, due=NOW - timedelta(seconds=1))

    with time_machine.travel(NOW, tick=False):
        dispatch_due_sources.apply()

    with tenant_scope(tenant_a):
        series = list(Series.objects.all())
        assert {s.source_id for s in series} == {a.pk} and {s.tenant_id for s in series} == {tenant_a.pk}
        assert {s.facility for s in series} == set(SITES_A)
        assert Observation.objects.count() == sum(READINGS[site] for site in SITES_A)
        assert not Series.objects.filter(facility__in=SITES_B).exists()
    # B reads the same site as A: its own series, in its own tenant.
    with tenant_scope(tenant_b):
        assert {s.facility for s in Series.objects.all()} == set(SITES_B + SITES_C)
        assert not Series.objects.filter(source=a).exists()
    a, b = reload(a), reload(b)
    # Nothing of B's selection reaches A: not in its state, not in its warnings, and the other way round.
    assert set(a.state["site_table"]["sites"]) | set(a.state["site_table"]["missing"]) == set(SITES_A)
    assert not any(site in warning for warning in a.last_warnings for site in SITES_B)
    assert set(b.state["site_table"]["sites"]) | set(b.state["site_table"]["missing"]) == set(
        SITES_B + SITES_C
    )
    assert not any("GAD02_Amstd_34_0" in warning for warning in b.last_warnings)
    assert "GEO0K_K_RWSTI359886 is not in the measurement site table" in " ".join(b.last_warnings)


@pytest.mark.parametrize(("status", "tries"), [(404, 1), (503, 3)], ids=["not-found", "unavailable-retried"])
def test_a_failing_download_marks_every_source_failing(tenant_a, tenant_b, httpserver, eager, status, tries):
    httpserver.expect_request(FEED).respond_with_data("no", status=status)
    sources = [
        make_source(tenant, kind="ndw_traffic", config={"url": httpserver.url_for(FEED), "sites": sites,
                                                         "site_table_url": ""})
        for tenant, sites in ((tenant_a, SITES_A), (tenant_b, SITES_B))
    ]  # fmt: skip
    reason = {404: "NOT FOUND", 503: "SERVICE UNAVAILABLE"}[status]

    with time_machine.travel(NOW, tick=False):
        for source in sources:
            with scopes_disabled():
                Source.objects.filter(pk=source.pk).update(next_due_at=NOW - timedelta(seconds=1))
        dispatch_due_sources.apply()

    assert requests(httpserver, FEED) == tries  # one download per try for both sources, 404 is not retried
    for source in sources:
        source = reload(source)
        assert source.last_error == f"{httpserver.url_for(FEED)} answered HTTP {status} {reason}."
        assert source.consecutive_failures == tries and source.last_success_at is None
    with scopes_disabled():
        assert not Series.objects.filter(source__in=sources).exists()


def test_a_failing_site_table_keeps_every_source_storing(tenant_a, tenant_b, httpserver, eager):
    httpserver.expect_request(FEED).respond_with_data(SUBSET_GZ)
    httpserver.expect_request(SITE_TABLE).respond_with_data("busy", status=500)
    config = {"url": httpserver.url_for(FEED), "site_table_url": httpserver.url_for(SITE_TABLE)}
    a = make_source(tenant_a, kind="ndw_traffic", config={**config, "sites": SITES_A})
    b = make_source(tenant_b, kind="ndw_traffic", config={**config, "sites": SITES_B})
    with scopes_disabled():
        Source.objects.filter(pk__in=[a.pk, b.pk]).update(next_due_at=NOW - timedelta(seconds=1))

    with time_machine.travel(NOW, tick=False):
        dispatch_due_sources.apply()

    assert requests(httpserver, SITE_TABLE) == 1  # optional: not retried with the task
    for tenant, source, sites in ((tenant_a, a, SITES_A), (tenant_b, b, SITES_B)):
        assert stored_sites(tenant) == {site: READINGS[site] for site in sites}
        warning = reload(source).last_warnings[0]
        assert warning.startswith(
            f"The measurement site table was not read: {config['site_table_url']} answered"
        )


def test_a_second_batch_of_the_same_slot_is_dropped(tenant_a, tenant_b, feed, httpserver):
    """Two dispatchers that each claimed part of a feed: the second batch downloads nothing; the same task
    again (a retry or a redelivery) does go on."""
    due = NOW - timedelta(seconds=1)
    a = feed(tenant_a, SITES_A, due=due)
    b = feed(tenant_b, SITES_B, due=due)
    key = a.config["url"]

    first = fetch_shared_feed(kind="ndw_traffic", key=key, members=[Member(tenant_a.pk, a.pk, due)], token="t1",
                              now=NOW)  # fmt: skip
    second = fetch_shared_feed(kind="ndw_traffic", key=key, members=[Member(tenant_b.pk, b.pk, due)], token="t2",
                               now=NOW)  # fmt: skip

    assert (first.fetched, first.downloads, second.locked, second.downloads) == (1, 2, True, 0)
    assert requests(httpserver, FEED) == 1
    assert stored_sites(tenant_b) == {}

    again = fetch_shared_feed(kind="ndw_traffic", key=key, members=[Member(tenant_b.pk, b.pk, due)], token="t1",
                              now=NOW)  # fmt: skip

    assert (again.locked, again.fetched) == (False, 1)
    assert requests(httpserver, FEED) == 2
    # The first source is done for this due time: a redelivered batch skips it.
    redelivered = fetch_shared_feed(kind="ndw_traffic", key=key, members=[Member(tenant_a.pk, a.pk, due)],
                                    token="t1", now=NOW)  # fmt: skip
    assert (redelivered.skipped, redelivered.downloads) == (1, 0)


def test_sharing_can_be_switched_off(tenant_a, tenant_b, feed, httpserver, settings, eager):
    settings.SOURCE_SHARED_FEEDS = False
    feed(tenant_a, SITES_A, due=NOW - timedelta(seconds=1))
    feed(tenant_b, SITES_B, due=NOW - timedelta(seconds=1))

    with time_machine.travel(NOW, tick=False):
        claims = claim_due_sources()
        assert [c.feed for c in claims] == [None, None]
        enqueue_fetches(claims)

    assert requests(httpserver, FEED) == 2  # each source downloads the file itself
    assert stored_sites(tenant_a) == {site: READINGS[site] for site in SITES_A}
