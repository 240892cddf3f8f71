from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Alerts, interventions, the action log, incidents, outcomes and learning."""

    name = "incidents"

    def ready(self) -> None:
        from . import (
            demo,  # noqa: F401  (registers the demo seeder)
            tasks,  # noqa: F401  (subscribes the task handlers to incidents.events)
        )
