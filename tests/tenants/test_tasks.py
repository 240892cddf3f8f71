"""TenantTask runs in its tenant's scope; tasks go through the real broker to a real worker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django_scopes import ScopeError

from config.celery import app
from core.health import HEARTBEAT_KEY
from tenants.models import Membership
from tenants.scoping import active_tenant
from tenants.tasks import TenantTask, record_heartbeat
from tests.factories import member


@app.task(base=TenantTask, name="tests.count_members")
def count_members(tenant_id: int) -> dict:
    """Counts what the scope lets it see; a query outside the scope would raise."""
    return {"tenant": active_tenant().slug, "members": Membership.objects.count()}


def test_tenant_task_runs_in_its_tenant_scope(tenant_a, tenant_b):
    member(tenant_a, "operator")
    member(tenant_b, "operator")
    member(tenant_b, "analyst")
    assert count_members.apply(args=[tenant_a.pk]).get() == {"tenant": "tenant-a", "members": 1}
    assert count_members.apply(kwargs={"tenant_id": tenant_b.pk}).get() == {
        "tenant": "tenant-b",
        "members": 2,
    }
    with pytest.raises(ScopeError):
        Membership.objects.count()  # the scope ended with the task


def test_tenant_task_skips_an_inactive_tenant(tenant_a):
    tenant_a.is_active = False
    tenant_a.save()
    assert count_members.apply(args=[tenant_a.pk]).get() is None


def test_tenant_task_needs_a_tenant():
    with pytest.raises(TypeError):
        count_members.apply(args=[], throw=True).get()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_tasks_from_the_broker(tenant_a):
    """Through the configured broker (Redis in CI, the file-system transport on a laptop) to a worker."""
    member(tenant_a, "operator")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert count_members.delay(tenant_a.pk).get(timeout=30) == {"tenant": "tenant-a", "members": 1}
        record_heartbeat.delay()
        for _ in range(300):  # up to 30 s: the file-system transport polls once a second
            if cache.get(HEARTBEAT_KEY):
                break
            time.sleep(0.1)
    assert cache.get(HEARTBEAT_KEY)
