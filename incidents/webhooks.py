"""Writes of webhook subscriptions and events: register and change webhooks, emit events on commit.

An event is stored once (:class:`WebhookEvent`) in the transaction that caused it, and one delivery task per
subscribed webhook is started when that transaction commits: a rolled-back change sends nothing, and every
retry of a delivery sends the same CloudEvent (same ``id``, same ``time``, same ``data``).
"""

import secrets as secrets_module

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import egress
from sources.secrets import encrypt_secrets
from tenants.models import Tenant

from . import events
from .choices import ALERT_EVENTS, WEBHOOK_EVENTS
from .delivery import alert_data, api_url
from .models import ActionLogEntry, Alert, Incident, Outcome, Webhook, WebhookEvent

TEST_EVENT = "webhook.test"


def _check_events(events) -> list[str]:
    if not isinstance(events, list) or not events:
        raise ValidationError({"events": [f"Give at least one event type: {', '.join(WEBHOOK_EVENTS)}."]})
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown:
        raise ValidationError(
            {
                "events": [
                    f"Unknown event type(s): {', '.join(map(str, unknown))}; "
                    f"one of {', '.join(WEBHOOK_EVENTS)}."
                ]
            }
        )
    return sorted(set(events), key=list(WEBHOOK_EVENTS).index)


def _check_url(url: str) -> None:
    if not str(url).lower().startswith(("https://", "http://")):
        raise ValidationError({"url": ["A webhook URL starts with https:// (or http://)."]})
    # Refused at once what can never be delivered (loopback/private literal addresses, localhost); a
    # host name is checked again at every delivery, where the address it resolves to is pinned.
    problem = egress.check_url(str(url))
    if problem:
        raise ValidationError({"url": [f"The webhook address {problem}."]})


@transaction.atomic
def webhook_create(
    *,
    tenant: Tenant,
    actor,
    name: str,
    url: str,
    secret: str | None = None,
    events: list[str] | None = None,
    enabled: bool = True,
) -> tuple[Webhook, str]:
    """Register a webhook; returns it with its signing secret (shown once, stored encrypted)."""
    _check_url(url)
    secret = secret or secrets_module.token_urlsafe(32)
    webhook = Webhook(
        tenant=tenant,
        name=name,
        url=url,
        enabled=enabled,
        events=_check_events(list(events) if events is not None else list(ALERT_EVENTS)),
        secret_encrypted=encrypt_secrets({"secret": secret}),
    )
    webhook.full_clean()
    webhook.save()
    return webhook, secret


@transaction.atomic
def webhook_update(*, webhook: Webhook, actor, data: dict) -> Webhook:
    """Change a webhook; a new ``secret`` replaces the old one (stored encrypted, never shown again)."""
    data = dict(data)
    secret = data.pop("secret", None)
    if "events" in data:
        data["events"] = _check_events(data["events"])
    if "url" in data:
        _check_url(data["url"])
    for name, value in data.items():
        setattr(webhook, name, value)
    if secret:
        webhook.secret_encrypted = encrypt_secrets({"secret": secret})
    webhook.full_clean()
    webhook.save()
    return webhook


def event_emit(*, tenant: Tenant, type: str, path: str, data: dict, time=None) -> WebhookEvent | None:
    """Store an event for the tenant's enabled webhooks that subscribe to ``type`` and deliver it on commit.

    ``path`` is the object's path under the tenant's API URL (``alerts/12/``); it gives the CloudEvent
    ``source`` and ``subject``. Nothing is stored when no webhook wants the event.
    """
    webhook_ids = [
        pk for pk, events in Webhook.objects.filter(tenant=tenant, enabled=True).values_list("pk", "events")
        if type in (events or [])
    ]  # fmt: skip
    if not webhook_ids:
        return None
    event = WebhookEvent.objects.create(
        tenant=tenant,
        type=type,
        source=api_url(tenant.slug, path),
        subject=path.strip("/"),
        time=time or timezone.now(),
        data={"tenant": tenant.slug, **data},
    )
    _deliver_on_commit(event, webhook_ids)
    return event


def _deliver_on_commit(event: WebhookEvent, webhook_ids: list[int]) -> None:
    events.publish(
        "webhook_event.stored", tenant_id=event.tenant_id, event_id=event.pk, webhook_ids=webhook_ids
    )


@transaction.atomic
def webhook_test_event(*, webhook: Webhook, actor) -> WebhookEvent:
    """Send a ``webhook.test`` event to this webhook only (whatever it subscribes to), with retries."""
    tenant = webhook.tenant
    event = WebhookEvent.objects.create(
        tenant=tenant,
        type=TEST_EVENT,
        source=api_url(tenant.slug, f"webhooks/{webhook.pk}/"),
        subject=f"webhooks/{webhook.pk}",
        time=timezone.now(),
        data={
            "tenant": tenant.slug,
            "webhook": {"id": webhook.pk, "name": webhook.name},
            "requested_by": getattr(actor, "username", None),
            "message": "A test event from the Crowd Safety Manager.",
        },
    )
    _deliver_on_commit(event, [webhook.pk])
    return event


# --- what each event carries --------------------------------------------------------------------------


def alert_event(alert: Alert, type: str) -> None:
    """alert.opened / alert.acknowledged / alert.resolved."""
    emit_time = {
        "alert.opened": alert.opened_at,
        "alert.acknowledged": alert.acknowledged_at,
        "alert.resolved": alert.resolved_at,
    }.get(type)
    event_emit(
        tenant=alert.tenant,
        type=type,
        path=f"alerts/{alert.pk}/",
        data={key: value for key, value in alert_data(alert).items() if key != "tenant"},
        time=emit_time,
    )


def _iso(moment):
    return moment.isoformat() if moment else None


def action_data(entry: ActionLogEntry, changes: dict | None = None) -> dict:
    """An action log entry as webhooks see it (the same fields as the API, plus the revision's changes)."""
    body = {
        "id": entry.pk,
        "intervention": {"slug": entry.intervention.slug, "name": entry.intervention.name},
        "description": entry.description,
        "areas": sorted(entry.areas.values_list("slug", flat=True)),
        "alerts": sorted(entry.alerts.values_list("pk", flat=True)),
        "incident": entry.incident_id,
        "status": entry.status,
        "planned_at": _iso(entry.planned_at),
        "started_at": _iso(entry.started_at),
        "ended_at": _iso(entry.ended_at),
        "created_by": entry.created_by.username if entry.created_by else None,
        "organisation": entry.organisation,
        "revision": entry.revision,
        "url": api_url(entry.tenant.slug, f"actions/{entry.pk}/"),
    }
    return {"action": body, "changes": changes} if changes is not None else {"action": body}


def action_event(entry: ActionLogEntry, type: str, changes: dict | None = None) -> None:
    """action.created / action.revised / action.closed."""
    event_emit(
        tenant=entry.tenant,
        type=type,
        path=f"actions/{entry.pk}/",
        data=action_data(entry, changes),
    )


def outcome_event(outcome: Outcome) -> None:
    """outcome.measured."""
    tenant = outcome.tenant
    event_emit(
        tenant=tenant,
        type="outcome.measured",
        path=f"outcomes/{outcome.pk}/",
        time=outcome.measured_at,
        data={
            "outcome": {
                "id": outcome.pk,
                "action": outcome.action_id,
                "intervention": outcome.action.intervention.slug,
                "area": outcome.area.slug,
                "method": outcome.method,
                "window_start": _iso(outcome.window_start),
                "window_end": _iso(outcome.window_end),
                "observed_mean": outcome.observed_mean,
                "expected_mean": outcome.expected_mean,
                "effect_pct": outcome.effect_pct,
                "before_after_pct": outcome.before_after_pct,
                "level_at_start": outcome.level_at_start,
                "confidence": outcome.confidence,
                "confidence_note": outcome.confidence_note,
                "url": api_url(tenant.slug, f"outcomes/{outcome.pk}/"),
            }
        },
    )


def incident_event(incident: Incident) -> None:
    """incident.reported."""
    tenant = incident.tenant
    event_emit(
        tenant=tenant,
        type="incident.reported",
        path=f"incidents/{incident.pk}/",
        data={
            "incident": {
                "id": incident.pk,
                "kind": incident.kind,
                "severity": incident.severity,
                "area": incident.area.slug,
                "occurred_at": _iso(incident.occurred_at),
                "description": incident.description,
                "reported_by": incident.reported_by.username if incident.reported_by else None,
                "url": api_url(tenant.slug, f"incidents/{incident.pk}/"),
            }
        },
    )
