from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Alerts, interventions, the action log, incidents, outcomes and learning."""

    name = "incidents"
