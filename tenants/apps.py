from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Tenants, memberships, API tokens and fail-closed tenant scoping."""

    name = "tenants"

    def ready(self) -> None:
        from django.contrib.auth import signals

        from . import audit, audit_demo, checks  # noqa: F401  (checks: the scoping check; audit_demo: a seeder)

        signals.user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="csm_audit_login")
        signals.user_logged_out.connect(audit.on_user_logged_out, dispatch_uid="csm_audit_logout")
        signals.user_login_failed.connect(audit.on_user_login_failed, dispatch_uid="csm_audit_login_failed")
