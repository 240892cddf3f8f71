"""Delivering events: e-mail to members by role, and signed webhooks in CloudEvents 1.0 structured JSON.

Webhook requests are ``POST`` with ``Content-Type: application/cloudevents+json`` and a CloudEvent body
(``specversion``, ``id``, ``source``, ``type``, ``subject``, ``time``, ``datacontenttype``, ``data``), with
the headers ``X-CSM-Event`` (the short type, e.g. ``alert.opened``), ``X-CSM-Event-Id`` (the CloudEvent
``id``), ``X-CSM-Timestamp`` (unix seconds) and ``X-CSM-Signature: sha256=<hex>``, the HMAC-SHA256 of
``"<timestamp>.<body>"`` with the webhook's secret. Receivers recompute it, reject timestamps older than a
few minutes (replays) and drop ids they have seen (a retry after a lost answer repeats the same id).
"""

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC

import httpx
from django.conf import settings
from django.core.mail import send_mass_mail

from core import egress
from sources.http import safe_url
from sources.secrets import decrypt_secrets
from tenants.models import Membership

from .choices import EVENT_TYPE_PREFIX
from .models import Alert, Webhook, WebhookDelivery, WebhookEvent

WEBHOOK_TIMEOUT = 10.0
log = logging.getLogger("csm.webhooks")
CONTENT_TYPE = "application/cloudevents+json"


def api_url(tenant_slug: str, path: str = "") -> str:
    """The absolute API URL of a tenant's object (the CloudEvent ``source``)."""
    return f"{settings.SITE_URL}/api/v1/tenants/{tenant_slug}/{path}"


def alert_data(alert: Alert) -> dict:
    """The JSON document describing an alert (webhooks; the same fields as the API)."""

    def who(user):
        return user.username if user else None

    return {
        "tenant": alert.tenant.slug,
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "state": alert.state,
            "level": alert.level,
            "message": alert.message,
            "area": {"slug": alert.area.slug, "name": alert.area.name} if alert.area else None,
            "source": alert.source.slug if alert.source else None,
            "rule": alert.rule.name if alert.rule else None,
            "details": alert.details,
            "opened_at": alert.opened_at.isoformat(),
            "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
            "acknowledged_by": who(alert.acknowledged_by),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "resolved_by": who(alert.resolved_by),
            "resolution": alert.resolution,
            "url": api_url(alert.tenant.slug, f"alerts/{alert.pk}/"),
        },
    }


def cloudevent(event: WebhookEvent) -> dict:
    """The CloudEvents 1.0 structured-mode document of a stored event."""
    return {
        "specversion": "1.0",
        "id": str(event.event_id),
        "source": event.source,
        "type": EVENT_TYPE_PREFIX + event.type,
        "subject": event.subject,
        "time": event.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": event.data,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post_event(webhook: Webhook, event: WebhookEvent, attempt: int, transport=None) -> WebhookDelivery:
    """POST one event; record the attempt. Never raises for network trouble (the delivery says it)."""
    body = json.dumps(cloudevent(event), sort_keys=True, default=str).encode()
    timestamp = str(int(time.time()))
    secret = decrypt_secrets(webhook.secret_encrypted)["secret"]
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": "CrowdSafetyManager-Webhook/1.0",
        "X-CSM-Event": event.type,
        "X-CSM-Event-Id": str(event.event_id),
        "X-CSM-Timestamp": timestamp,
        "X-CSM-Signature": sign(secret, timestamp, body),
    }
    delivery = WebhookDelivery(
        tenant_id=event.tenant_id,
        webhook=webhook,
        webhook_event=event,
        event_type=event.type,
        attempt=attempt,
    )
    started = time.monotonic()
    try:
        # The platform's one egress client: the policy is checked (and the address pinned) per
        # connection. A webhook answer is never followed elsewhere, and only its first KiB is read.
        with (
            egress.client_for(transport, timeout=WEBHOOK_TIMEOUT) as client,
            client.stream(
                "POST",
                webhook.url,
                content=body,
                headers=headers,
                timeout=WEBHOOK_TIMEOUT,
                follow_redirects=False,
            ) as response,
        ):
            head = b""
            for chunk in response.iter_bytes():
                head += chunk
                if len(head) >= 1024:
                    break
        delivery.status_code = response.status_code
        delivery.delivered = 200 <= response.status_code < 300
        if not delivery.delivered:
            text = head[:200].decode("utf-8", "replace")
            delivery.error = f"HTTP {response.status_code}: {text}"
    except httpx.HTTPError as exc:
        # Uniform: the webhook's owner learns that delivery failed, not what the network looks like.
        log.warning(
            "webhook %s delivery to %s failed: %s", webhook.pk, safe_url(webhook.url), egress.cause(exc)
        )
        delivery.error = (
            f"{egress.COULD_NOT_FETCH}: no answer within {WEBHOOK_TIMEOUT:g} s, "
            "or the address is not reachable from the platform"
        )
    delivery.duration_ms = round((time.monotonic() - started) * 1000)
    delivery.save()
    return delivery


def email_members(alert: Alert, roles: list[str]) -> int:
    """Mail the alert to the tenant's active members with these roles; returns how many were mailed."""
    recipients = sorted(
        set(
            Membership.objects.filter(
                tenant=alert.tenant, role__in=roles, is_active=True, user__is_active=True
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if not recipients:
        return 0
    level = f"{alert.level.replace('_', ' ')}: " if alert.level else ""
    subject = f"[{alert.tenant.name}] {level}{alert.message[:120]}"
    body = (
        f"{alert.message}\n\nOpened at {alert.opened_at:%Y-%m-%d %H:%M %Z}.\n"
        f"Acknowledge or resolve it at {settings.SITE_URL}/t/{alert.tenant.slug}/ "
        f"(API: {settings.SITE_URL}/api/v1/tenants/{alert.tenant.slug}/alerts/{alert.pk}/).\n"
    )
    # One message per person: members of one tenant do not see each other's addresses.
    send_mass_mail([(subject, body, None, [address]) for address in recipients], fail_silently=False)
    return len(recipients)
