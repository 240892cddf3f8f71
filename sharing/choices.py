"""Choices of the sharing app: what an agreement may share and the states it goes through."""

from django.db import models


class ShareKind(models.TextChoices):
    """A kind of data an agreement shares. The areas' outline and name always go with any of them."""

    STATUS = "status", "area status (the crowd picture now)"
    FORECASTS = "forecasts", "forecasts"
    ALERTS = "alerts", "alerts"
    SERIES = "series", "raw series (latest values of the counters)"
    ACTION_LOG = "action_log", "action-log entries for the shared areas"


class AgreementState(models.TextChoices):
    OFFERED = "offered", "offered"
    ACCEPTED = "accepted", "accepted"
    DECLINED = "declined", "declined"
    ENDED = "ended", "ended"


class ParticipantState(models.TextChoices):
    INVITED = "invited", "invited"
    JOINED = "joined", "joined"
    DECLINED = "declined", "declined"
    LEFT = "left", "left"
