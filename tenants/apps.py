from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Tenants, memberships, API tokens and fail-closed tenant scoping."""

    name = "tenants"

    def ready(self) -> None:
        from django.contrib.auth import signals
        from django.db.models.signals import post_migrate

        from . import audit, audit_demo, auth_backends, checks, dbroles  # noqa: F401  (checks: scoping check)

        post_migrate.connect(dbroles.on_post_migrate, sender=self, dispatch_uid="csm_grant_app_role")

        signals.user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="csm_audit_login")
        signals.user_logged_out.connect(audit.on_user_logged_out, dispatch_uid="csm_audit_logout")
        signals.user_login_failed.connect(audit.on_user_login_failed, dispatch_uid="csm_audit_login_failed")
        signals.user_login_failed.connect(auth_backends.on_login_failed, dispatch_uid="csm_lockout_failed")
        signals.user_logged_in.connect(auth_backends.on_logged_in, dispatch_uid="csm_lockout_login")
