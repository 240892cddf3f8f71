"""The dispatcher: due sources are claimed once per due time and queued fairly between tenants."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.dispatch import Claim, claim_due_sources, interleave_by_tenant
from sources.models import Source
from tests.factories import TenantFactory, make_source

pytestmark = pytest.mark.clock  # reads the clock: run again under CSM_TEST_CLOCK in CI


def _due(tenant, count, *, minutes_ago=1, kind="replay", **extra):
    now = timezone.now()
    sources = []
    for i in range(count):
        with scopes_disabled():
            n = Source.objects.filter(tenant=tenant).count()
        config = {"file": "x.csv"} if kind == "replay" else {}
        source = make_source(tenant, kind=kind, slug=f"{tenant.slug}-{kind}-{n}", config=config)
        with scopes_disabled():
            Source.objects.filter(pk=source.pk).update(
                next_due_at=now - timedelta(minutes=minutes_ago, seconds=i), **extra
            )
        sources.append(source)
    return sources


def test_interleave_alternates_tenants_oldest_first():
    now = timezone.now()
    claims = [Claim(1, i, now + timedelta(seconds=i), 60) for i in range(5)] + [
        Claim(2, 100, now + timedelta(seconds=3), 60),
        Claim(3, 200, now + timedelta(seconds=4), 60),
    ]
    order = [(c.tenant_id, c.source_id) for c in interleave_by_tenant(claims)]
    assert order == [(1, 0), (2, 100), (3, 200), (1, 1), (1, 2), (1, 3), (1, 4)]


def test_a_big_tenant_does_not_delay_a_small_one(db):
    big, small = TenantFactory(slug="big-city"), TenantFactory(slug="small-town")
    _due(big, 30, minutes_ago=5)  # due earlier than the small tenant's
    _due(small, 2, minutes_ago=1)
    claims = claim_due_sources()
    positions = [i for i, c in enumerate(claims) if c.tenant_id == small.pk]
    assert len(claims) == 32
    assert positions == [1, 3]  # second and fourth in the queue, not after the big tenant's 30


def test_each_due_time_is_claimed_once_and_rescheduled(db):
    tenant = TenantFactory(slug="den-haag")
    sources = _due(tenant, 3)
    now = timezone.now()
    first = claim_due_sources(now=now)
    assert {c.source_id for c in first} == {s.pk for s in sources}
    assert claim_due_sources(now=now) == []  # a second dispatcher (two beats by mistake) finds nothing
    with scopes_disabled():
        for source in Source.objects.filter(pk__in=[s.pk for s in sources]):
            assert source.next_due_at > now
            assert source.last_dispatched_at == now


def test_schedule_keeps_its_phase_and_skips_missed_slots(db):
    tenant = TenantFactory(slug="den-haag")
    (on_time,) = _due(tenant, 1, minutes_ago=0)
    now = timezone.now()
    with scopes_disabled():
        Source.objects.filter(pk=on_time.pk).update(next_due_at=now - timedelta(seconds=10), poll_interval=60)
        late = _due(tenant, 1, minutes_ago=60)[0]
        Source.objects.filter(pk=late.pk).update(poll_interval=60)
    claims = {c.source_id: c for c in claim_due_sources(now=now)}
    with scopes_disabled():
        assert Source.objects.get(pk=on_time.pk).next_due_at == claims[on_time.pk].due_at + timedelta(
            seconds=60
        )
        assert Source.objects.get(pk=late.pk).next_due_at == now + timedelta(
            seconds=60
        )  # no burst of catch-ups


def test_disabled_push_only_and_open_circuit_sources_are_not_dispatched(db):
    tenant = TenantFactory(slug="den-haag")
    _due(tenant, 1, enabled=False)
    _due(tenant, 1, kind="counting_camera")
    paused = _due(tenant, 1)[0]
    with scopes_disabled():
        Source.objects.filter(pk=paused.pk).update(circuit_open_until=timezone.now() + timedelta(minutes=5))
    assert claim_due_sources() == []
    with scopes_disabled():
        Source.objects.filter(pk=paused.pk).update(circuit_open_until=timezone.now() - timedelta(seconds=1))
    assert [c.source_id for c in claim_due_sources()] == [paused.pk]  # half-open: one try after the pause
