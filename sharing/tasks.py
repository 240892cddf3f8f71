"""Tasks of the sharing app: tell the participants of a joint operation who are on duty about an alert in
an area that was brought into the operation."""

from celery import shared_task
from django.core.mail import send_mass_mail

from incidents import events
from incidents.models import Alert
from tenants.tasks import TenantTask

from .selectors import operations_sharing_area


@shared_task(base=TenantTask, name="sharing.tasks.email_operation_alert", acks_late=True, ignore_result=True)
def email_operation_alert_task(tenant_id: int, alert_id: int) -> int:
    """E-mail a new alert of ``tenant_id`` to the on-duty members of the other participants of every running
    operation its area was brought into, naming the owning organisation. Returns how many were mailed."""
    alert = Alert.objects.select_related("tenant", "area").filter(pk=alert_id).first()
    if alert is None or alert.area is None:
        return 0
    messages = []
    for operation, addresses in operations_sharing_area(area=alert.area, owner=alert.tenant):
        level = f"{alert.level.replace('_', ' ')}: " if alert.level else ""
        subject = f"[{operation.name}] {alert.tenant.name}: {level}{alert.message[:100]}"
        body = (
            f"{alert.tenant.name} reports in {alert.area.name}: {alert.message}\n\n"
            f"Opened at {alert.opened_at:%Y-%m-%d %H:%M %Z}. You receive this because you are on duty for "
            f"the joint operation '{operation.name}'.\n"
        )
        # One message per person: participants do not see each other's addresses.
        messages += [(subject, body, None, [address]) for address in addresses]
    if messages:
        send_mass_mail(messages, fail_silently=False)
    return len(messages)


@events.subscribe("alert.opened")
def _tell_operation_participants(*, tenant_id: int, alert_id: int) -> None:
    email_operation_alert_task.delay(tenant_id, alert_id)
