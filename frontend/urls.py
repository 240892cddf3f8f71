"""Page routes: the operator pages under /t/<tenant>/ and the public pages under /p/<tenant>/."""

from django.urls import path

from . import audit_views, auth_views, operation_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/otp/verify/", auth_views.otp_verify, name="otp-verify"),
    path("accounts/otp/setup/", auth_views.otp_setup, name="otp-setup"),
    path("accounts/security/", auth_views.account_security, name="account-security"),
    path("t/<slug:tenant>/", views.tenant_home, name="tenant-home"),
    path("t/<slug:tenant>/sources/", views.tenant_sources, name="tenant-sources"),
    path("t/<slug:tenant>/operations/", operation_views.tenant_operations, name="tenant-operations"),
    path(
        "t/<slug:tenant>/operations/<int:operation_id>/",
        operation_views.tenant_operation,
        name="tenant-operation",
    ),
    path("t/<slug:tenant>/settings/", views.tenant_settings, name="tenant-settings"),
    path("t/<slug:tenant>/settings/audit/", audit_views.tenant_audit, name="tenant-audit"),
    path("t/<slug:tenant>/settings/<slug:section>/", views.tenant_settings, name="tenant-settings-section"),
    path("p/<slug:tenant>/", views.public_page, name="public-page"),
    path("p/<slug:tenant>/register/", views.public_register, name="public-register"),
    path("p/<slug:lead>/operations/<slug:slug>/", operation_views.public_operation, name="public-operation"),
    path("p/<slug:tenant>/register.json", views.public_register_data, name="public-register-data"),
]
