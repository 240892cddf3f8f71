"""Choices of the areas app."""

from django.db import models


class AreaKind(models.TextChoices):
    PERMANENT = "permanent", "permanent"
    TEMPORARY = "temporary", "temporary (event zone)"


class CrowdLevel(models.TextChoices):
    """Crowd levels from calm to dangerous, in order."""

    QUIET = "quiet", "quiet"
    BUSY = "busy", "busy"
    VERY_BUSY = "very_busy", "very busy"
    CROWDED = "crowded", "crowded"
    CRITICAL = "critical", "critical"
