"""Root URL conf: API under /api/v1/, pages, accounts, admin and the health probe."""

from django.contrib import admin
from django.urls import include, path, re_path
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from config.security import docs_csp
from core import problems
from core.health import healthz
from core.schema_view import SchemaView

# The Django admin asks every user for a code from their authenticator (django-otp), not just a password.
admin.site.__class__ = OTPAdminSite

api_v1 = [
    path("", include("tenants.api.urls")),
    path("", include("areas.api.urls")),
    path("", include("sources.api.urls")),
    path("", include("incidents.api.urls")),
    path("", include("sharing.api.urls")),
    path("", include("configpkg.api.urls")),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
    path("redoc/", docs_csp(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    re_path(r"^.*$", problems.api_not_found),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("sta/v1.1/", include("sta.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switch
    path("", include("frontend.urls")),
]

handler400 = problems.handler400
handler403 = problems.handler403
handler404 = problems.handler404
handler500 = problems.handler500
