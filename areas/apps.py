from django.apps import AppConfig


class AreasConfig(AppConfig):
    """Areas and event zones, crowd levels, area status and forecasting."""

    name = "areas"

    def ready(self) -> None:
        from . import demo  # noqa: F401  (registers the demo seeder)
