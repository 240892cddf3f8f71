"""Choices of the incidents app."""

from django.db import models


class AlertKind(models.TextChoices):
    LEVEL_NOW = "level_now", "crowd level at or above a level now"
    FORECAST_LEVEL = "forecast_level", "forecast level at or above a level within some hours"
    STALE_DATA = "stale_data", "no fresh data for some minutes"
    SOURCE_DOWN = "source_down", "source failing"
    MANUAL = "manual", "raised by a person"


class AlertState(models.TextChoices):
    OPEN = "open", "open"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    RESOLVED = "resolved", "resolved"


class IncidentKind(models.TextChoices):
    OVERCROWDING = "overcrowding", "overcrowding"
    BLOCKED_EXIT = "blocked_exit", "blocked exit"
    FIGHT = "fight", "fight"
    MEDICAL = "medical", "medical"
    LOST_CHILD = "lost_child", "lost child"
    OTHER = "other", "other"


class Severity(models.TextChoices):
    LOW = "low", "low"
    MEDIUM = "medium", "medium"
    HIGH = "high", "high"
    CRITICAL = "critical", "critical"


class ActionStatus(models.TextChoices):
    PLANNED = "planned", "planned"
    ACTIVE = "active", "active"
    ENDED = "ended", "ended"
    CANCELLED = "cancelled", "cancelled"


class Judgement(models.TextChoices):
    EFFECTIVE = "effective", "effective"
    PARTLY = "partly", "partly effective"
    NOT = "not", "not effective"


DEFAULT_INTERVENTIONS = [
    ("extra-public-transport", "Extra public transport"),
    ("traffic-controllers", "Traffic controllers"),
    ("boa-deployment", "BOA deployment"),
    ("police-deployment", "Police deployment"),
    ("close-entrance", "Close an entrance"),
    ("open-extra-exit", "Open an extra exit"),
    ("one-way-routing", "One-way pedestrian routing"),
    ("public-message", "Public message / push notification"),
    ("stop-inflow", "Stop inflow"),
    ("change-programme", "Change the event programme"),
    ("other", "Other"),
]


# Webhook event types (CloudEvents ``type`` is EVENT_TYPE_PREFIX + one of these).
EVENT_TYPE_PREFIX = "nl.crowdsafety."
ALERT_EVENTS = ("alert.opened", "alert.acknowledged", "alert.resolved")
WEBHOOK_EVENTS = {
    "alert.opened": "an alert opened (by a rule or by a person)",
    "alert.acknowledged": "an operator acknowledged an alert",
    "alert.resolved": "an alert was resolved (by hand or because its condition cleared)",
    "action.created": "an action was logged",
    "action.revised": "an action log entry was changed (a new revision)",
    "action.closed": "an action ended or was cancelled",
    "outcome.measured": "the effect of an action on an area was measured",
    "incident.reported": "an incident was reported",
}
