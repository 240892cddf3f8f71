"""Configuration package and coalition library routes under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    ConfigExportView,
    ConfigImportView,
    ConfigPackageSchemaView,
    LibraryViewSet,
    TenantLibraryViewSet,
)

router = SimpleRouter()
router.register(r"library", LibraryViewSet, basename="library")
router.register(r"tenants/(?P<tenant>[^/.]+)/library", TenantLibraryViewSet, basename="tenant-library")

urlpatterns = [
    path("schemas/config-package.json", ConfigPackageSchemaView.as_view(), name="config-package-schema"),
    path("tenants/<str:tenant>/config/export/", ConfigExportView.as_view(), name="config-export"),
    path("tenants/<str:tenant>/config/import/", ConfigImportView.as_view(), name="config-import"),
    *router.urls,
]
