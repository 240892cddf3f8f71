"""Celery tasks of the tenants app and :class:`TenantTask`, the base for every per-tenant task."""

import logging

from celery import Task, shared_task
from django.core.cache import cache
from django.utils import timezone
from django_scopes import scopes_disabled

from core.health import HEARTBEAT_KEY

from .audit import audit_purge, audit_purge_platform
from .models import Tenant
from .scoping import tenant_scope
from .services import api_tokens_purge_expired

logger = logging.getLogger(__name__)


class TenantTask(Task):
    """Runs a task inside one tenant's scope. The task takes ``tenant_id`` as its first argument.

    A task for a tenant that was deleted or deactivated meanwhile is skipped (logged, not retried).
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args, **kwargs):
        if "tenant_id" in kwargs:
            tenant_id = kwargs["tenant_id"]
        elif args:
            tenant_id = args[0]
        else:
            raise TypeError(f"{self.name} needs tenant_id")
        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        if tenant is None:
            logger.warning("Skipping %s: tenant %s is gone or inactive", self.name, tenant_id)
            return None
        with tenant_scope(tenant):
            return super().__call__(*args, **kwargs)


def for_each_tenant(task, **apply_options) -> int:
    """Periodic fan-out: enqueue ``task`` once per active tenant, with the tenant id as its argument.

    The one place outside a request or tenant task that lists every tenant.
    """
    with scopes_disabled():
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        task.apply_async(args=[tenant_id], **apply_options)
    return len(tenant_ids)


@shared_task(name="tenants.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat() -> None:
    """Scheduled by beat and run by a worker: proves both are alive (shown by /healthz)."""
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), 600)


@shared_task(name="tenants.tasks.purge_expired_api_tokens", ignore_result=True)
def purge_expired_api_tokens() -> int:
    """Delete API tokens that expired or were revoked more than 30 days ago."""
    return api_tokens_purge_expired()


@shared_task(name="tenants.tasks.purge_login_throttles", ignore_result=True)
def purge_login_throttles() -> int:
    """Delete failed-log-in counts that no longer lock anything (tenants.lockout)."""
    from . import lockout

    return lockout.purge()


@shared_task(name="tenants.tasks.purge_audit_trails", ignore_result=True)
def purge_audit_trails() -> int:
    """Daily fan-out: one audit retention purge per tenant, and the platform entries' purge."""
    audit_purge_platform()
    return for_each_tenant(purge_tenant_audit_trail)


@shared_task(base=TenantTask, name="tenants.tasks.purge_tenant_audit_trail", ignore_result=True)
def purge_tenant_audit_trail(tenant_id: int) -> int:
    """Delete one tenant's audit entries older than its ``audit_retention_days``."""
    tenant = Tenant.objects.get(pk=tenant_id)
    deleted = audit_purge(tenant=tenant)
    if deleted:
        logger.info("Purged %s audit entries of %s older than %s days", deleted, tenant.slug,
                    tenant.audit_retention_days)  # fmt: skip
    return deleted
