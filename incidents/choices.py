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
