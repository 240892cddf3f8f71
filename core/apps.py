from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The domain-free platform core (see the package docstring); it has no models."""

    name = "core"
