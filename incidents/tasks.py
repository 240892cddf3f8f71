"""Celery tasks of the incidents app: alert evaluation per tenant and delivery of alert events."""

import logging
import random

from celery import shared_task

from tenants.models import Tenant
from tenants.tasks import TenantTask, for_each_tenant

from .delivery import email_members, post_webhook
from .models import Alert, Webhook
from .services import evaluate_alerts

logger = logging.getLogger(__name__)
MAX_WEBHOOK_ATTEMPTS = 4


@shared_task(name="incidents.tasks.evaluate_all_alerts", ignore_result=True)
def evaluate_all_alerts() -> int:
    """Every minute: one evaluation per tenant."""
    return for_each_tenant(evaluate_tenant_alerts, expires=55)


@shared_task(
    base=TenantTask, name="incidents.tasks.evaluate_tenant_alerts", acks_late=True, ignore_result=True
)
def evaluate_tenant_alerts(tenant_id: int) -> dict:
    """Evaluate one tenant's alert rules."""
    return evaluate_alerts(tenant=Tenant.objects.get(pk=tenant_id))


@shared_task(
    base=TenantTask,
    bind=True,
    name="incidents.tasks.deliver_alert",
    acks_late=True,
    ignore_result=True,
    max_retries=MAX_WEBHOOK_ATTEMPTS - 1,
)
def deliver_alert_task(
    self, tenant_id: int, alert_id: int, event: str, roles: list[str], webhook_ids=None
) -> None:
    """E-mail the members (first attempt only) and POST the event to every enabled webhook, with retries."""
    alert = Alert.objects.select_related(
        "tenant", "area", "source", "rule", "acknowledged_by", "resolved_by"
    ).get(pk=alert_id)
    if roles and self.request.retries == 0 and event == "alert.opened":
        try:
            email_members(alert, roles)
        except Exception:  # a mail server outage must not stop the webhooks
            logger.exception("Alert %s: e-mail delivery failed", alert_id)
    webhooks = Webhook.objects.filter(tenant_id=tenant_id, enabled=True)
    if webhook_ids is not None:
        webhooks = webhooks.filter(pk__in=webhook_ids)
    failed = [
        w.pk
        for w in webhooks
        if not post_webhook(w, alert, event, attempt=self.request.retries + 1).delivered
    ]
    if failed and self.request.retries < MAX_WEBHOOK_ATTEMPTS - 1:
        countdown = 10 * 3**self.request.retries * random.uniform(0.8, 1.2)
        raise self.retry(args=[tenant_id, alert_id, event, [], failed], countdown=countdown)


@shared_task(name="incidents.tasks.measure_all_outcomes", ignore_result=True)
def measure_all_outcomes() -> int:
    """Every 15 minutes: measure the actions whose window has passed, per tenant."""
    return for_each_tenant(measure_tenant_outcomes, expires=800)


@shared_task(
    base=TenantTask, name="incidents.tasks.measure_tenant_outcomes", acks_late=True, ignore_result=True
)
def measure_tenant_outcomes(tenant_id: int) -> int:
    """Measure the outcomes due in one tenant."""
    from django.utils import timezone

    from .actions import actions_due_for_measurement, measure_outcomes

    now = timezone.now()
    tenant = Tenant.objects.get(pk=tenant_id)
    return sum(
        len(measure_outcomes(entry=e, now=now)) for e in actions_due_for_measurement(tenant=tenant, now=now)
    )


@shared_task(
    base=TenantTask, name="incidents.tasks.measure_action_outcomes", acks_late=True, ignore_result=True
)
def measure_action_outcomes_task(tenant_id: int, action_id: int) -> int:
    """Measure one action right after it ended (when its window has passed; otherwise the sweep does)."""
    from .actions import measure_outcomes
    from .models import ActionLogEntry

    return len(measure_outcomes(entry=ActionLogEntry.objects.select_related("tenant").get(pk=action_id)))
