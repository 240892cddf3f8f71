from django.apps import AppConfig


class SharingConfig(AppConfig):
    """Sharing agreements between tenants and the shared crowd picture."""

    name = "sharing"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (subscribes to incidents.events)
