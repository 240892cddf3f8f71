"""Celery tasks of the incidents app: alert evaluation, e-mail and webhook delivery, outcomes, retention."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from core.retry import backoff_seconds
from tenants.models import Tenant
from tenants.tasks import TenantTask, for_each_tenant

from . import events
from .actions import actions_due_for_measurement, measure_outcomes
from .attachments import attachments_purge
from .delivery import email_members, post_event
from .models import ActionLogEntry, Alert, Webhook, WebhookDelivery, WebhookEvent
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


@shared_task(base=TenantTask, name="incidents.tasks.email_alert", acks_late=True, ignore_result=True)
def email_alert_task(tenant_id: int, alert_id: int, roles: list[str]) -> int:
    """E-mail a new alert to the tenant's members with these roles."""
    alert = Alert.objects.select_related("tenant").get(pk=alert_id)
    return email_members(alert, roles)


def retry_countdown(retries: int) -> float:
    """Seconds before the next attempt: 10 s, 30 s, 90 s, 270 s ... with 20 % jitter (no thundering herd)."""
    return backoff_seconds(retries, first=10, factor=3)


@shared_task(
    base=TenantTask,
    bind=True,
    name="incidents.tasks.deliver_webhook_event",
    acks_late=True,
    ignore_result=True,
    max_retries=MAX_WEBHOOK_ATTEMPTS - 1,
)
def deliver_webhook_event_task(self, tenant_id: int, event_id: int, webhook_id: int) -> bool:
    """POST one stored event to one webhook; retried with exponential backoff and jitter until a 2xx."""
    event = WebhookEvent.objects.filter(pk=event_id).first()
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if event is None or webhook is None or not webhook.enabled:
        return False  # purged, deleted or switched off meanwhile
    if WebhookDelivery.objects.filter(webhook=webhook, webhook_event=event, delivered=True).exists():
        return True  # a redelivered task message: the receiver has it already
    delivery = post_event(webhook, event, attempt=self.request.retries + 1)
    if delivery.delivered:
        return True
    if self.request.retries >= MAX_WEBHOOK_ATTEMPTS - 1:
        logger.warning("Webhook %s gave up on event %s: %s", webhook_id, event.event_id, delivery.error)
        return False
    countdown = retry_countdown(self.request.retries)
    delivery.next_retry_at = timezone.now() + timedelta(seconds=countdown)
    delivery.save(update_fields=["next_retry_at"])
    raise self.retry(countdown=countdown)


@shared_task(name="incidents.tasks.purge_old_attachments", ignore_result=True)
def purge_old_attachments() -> int:
    """Daily fan-out: one retention purge of attachments and webhook logs per tenant."""
    return for_each_tenant(purge_tenant_attachments)


@shared_task(
    base=TenantTask, name="incidents.tasks.purge_tenant_attachments", acks_late=True, ignore_result=True
)
def purge_tenant_attachments(tenant_id: int) -> dict:
    """Delete one tenant's attachments (with their files) and webhook events older than its retention."""
    tenant = Tenant.objects.get(pk=tenant_id)
    counts = attachments_purge(tenant=tenant)
    if any(counts.values()):
        logger.info("Purged %s of %s older than %s days", counts, tenant.slug, tenant.retention_days)
    return counts


@shared_task(name="incidents.tasks.measure_all_outcomes", ignore_result=True)
def measure_all_outcomes() -> int:
    """Every 15 minutes: measure the actions whose window has passed, per tenant."""
    return for_each_tenant(measure_tenant_outcomes, expires=800)


@shared_task(
    base=TenantTask, name="incidents.tasks.measure_tenant_outcomes", acks_late=True, ignore_result=True
)
def measure_tenant_outcomes(tenant_id: int) -> int:
    """Measure the outcomes due in one tenant."""
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
    return len(measure_outcomes(entry=ActionLogEntry.objects.select_related("tenant").get(pk=action_id)))


# --- what the services publish (incidents.events), enqueued here -------------------------------------


@events.subscribe("alert.announced")
def _email_announced_alert(*, tenant_id: int, alert_id: int, roles: list[str]) -> None:
    email_alert_task.delay(tenant_id, alert_id, roles)


@events.subscribe("action.ended")
def _measure_ended_action(*, tenant_id: int, action_id: int) -> None:
    measure_action_outcomes_task.delay(tenant_id, action_id)


@events.subscribe("webhook_event.stored")
def _deliver_stored_event(*, tenant_id: int, event_id: int, webhook_ids: list[int]) -> None:
    for webhook_id in webhook_ids:
        deliver_webhook_event_task.delay(tenant_id, event_id, webhook_id)
