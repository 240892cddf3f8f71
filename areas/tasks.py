"""Celery tasks of the areas app: panel calibration (forecasting tasks live beside it)."""

from celery import shared_task
from django_scopes import scopes_disabled

from tenants.models import Tenant
from tenants.tasks import TenantTask

from .status import calibrate_panels


@shared_task(name="areas.tasks.calibrate_all_panels", ignore_result=True)
def calibrate_all_panels() -> int:
    """Daily fan-out: refit each tenant's GPS-panel calibration."""
    with scopes_disabled():
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        calibrate_tenant_panels.delay(tenant_id)
    return len(tenant_ids)


@shared_task(base=TenantTask, name="areas.tasks.calibrate_tenant_panels", acks_late=True, ignore_result=True)
def calibrate_tenant_panels(tenant_id: int) -> int:
    """Refit the panel calibrations of one tenant."""
    return len(calibrate_panels(tenant=Tenant.objects.get(pk=tenant_id)))
