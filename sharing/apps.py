from django.apps import AppConfig


class SharingConfig(AppConfig):
    """Sharing agreements between tenants and the shared crowd picture."""

    name = "sharing"

    def ready(self) -> None:
        from . import (
            demo,  # noqa: F401  (registers the joint operation of seed_demo)
            tasks,  # noqa: F401  (subscribes to incidents.events)
        )
