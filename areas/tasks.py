"""Celery tasks of the areas app: panel calibration, model training and hourly forecasts."""

from celery import shared_task

from tenants.models import Tenant
from tenants.tasks import TenantTask, for_each_tenant

from .forecasts import refresh_forecasts, train_tenant_model
from .status import calibrate_panels


@shared_task(name="areas.tasks.calibrate_all_panels", ignore_result=True)
def calibrate_all_panels() -> int:
    """Daily fan-out: refit each tenant's GPS-panel calibration."""
    return for_each_tenant(calibrate_tenant_panels)


@shared_task(base=TenantTask, name="areas.tasks.calibrate_tenant_panels", acks_late=True, ignore_result=True)
def calibrate_tenant_panels(tenant_id: int) -> int:
    """Refit the panel calibrations of one tenant."""
    return len(calibrate_panels(tenant=Tenant.objects.get(pk=tenant_id)))


@shared_task(name="areas.tasks.train_all_forecast_models", ignore_result=True)
def train_all_forecast_models() -> int:
    """Nightly fan-out: retrain each tenant's forecasting model."""
    return for_each_tenant(train_tenant_forecast_model)


@shared_task(
    base=TenantTask, name="areas.tasks.train_tenant_forecast_model", acks_late=True, ignore_result=True
)
def train_tenant_forecast_model(tenant_id: int) -> str:
    """Retrain one tenant's model, then issue fresh forecasts with it."""
    tenant = Tenant.objects.get(pk=tenant_id)
    model = train_tenant_model(tenant=tenant)
    refresh_forecasts(tenant=tenant)
    return model.version


@shared_task(name="areas.tasks.refresh_all_forecasts", ignore_result=True)
def refresh_all_forecasts() -> int:
    """Hourly fan-out: forecast the next 48 hours for every tenant with the model it has."""
    return for_each_tenant(refresh_tenant_forecasts, expires=3000)


@shared_task(base=TenantTask, name="areas.tasks.refresh_tenant_forecasts", acks_late=True, ignore_result=True)
def refresh_tenant_forecasts(tenant_id: int) -> int:
    """Issue the hourly forecasts of one tenant."""
    return len(refresh_forecasts(tenant=Tenant.objects.get(pk=tenant_id)))
