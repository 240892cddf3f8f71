from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Tenants, memberships, API tokens and fail-closed tenant scoping."""

    name = "tenants"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the tenant-scoping system check)
