"""Reads of the incidents app."""

from django.db.models import Q, QuerySet

from areas.selectors import area_list
from tenants.choices import Capability, role_has
from tenants.models import Membership

from .choices import AlertState
from .models import Alert, AlertRule, Webhook, WebhookDelivery


def alert_list(
    *,
    membership: Membership,
    state: str | None = None,
    area: str | None = None,
    kind: str | None = None,
    since=None,
) -> QuerySet[Alert]:
    """Alerts the member may see (organisers: those on their own zones), newest first."""
    alerts = Alert.objects.filter(tenant=membership.tenant).select_related(
        "area", "source", "rule", "opened_by", "acknowledged_by", "resolved_by"
    )
    if not role_has(membership.role, Capability.VIEW):
        alerts = alerts.filter(area__in=area_list(membership=membership, archived="all"))
    if state == "active":
        alerts = alerts.filter(Q(state=AlertState.OPEN) | Q(state=AlertState.ACKNOWLEDGED))
    elif state:
        alerts = alerts.filter(state=state)
    if area:
        alerts = alerts.filter(area__slug=area)
    if kind:
        alerts = alerts.filter(kind=kind)
    if since:
        alerts = alerts.filter(opened_at__gte=since)
    return alerts.order_by("-opened_at", "-pk")


def alert_rule_list(*, tenant) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(tenant=tenant).select_related("area", "source").order_by("name", "pk")


def webhook_list(*, tenant) -> QuerySet[Webhook]:
    return Webhook.objects.filter(tenant=tenant).order_by("name", "pk")


def webhook_delivery_list(
    *, webhook: Webhook, event_type: str | None = None, delivered: bool | None = None
) -> QuerySet[WebhookDelivery]:
    """The delivery log of one webhook, newest first."""
    deliveries = webhook.deliveries.select_related("webhook_event")
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    if delivered is not None:
        deliveries = deliveries.filter(delivered=delivered)
    return deliveries.order_by("-created_at", "-pk")
