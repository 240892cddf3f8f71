from django.apps import AppConfig


class SharingConfig(AppConfig):
    """Sharing agreements between tenants and the shared crowd picture."""

    name = "sharing"
