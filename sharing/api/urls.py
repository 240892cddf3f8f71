"""API routes of the sharing app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .operation_views import OperationViewSet
from .views import (
    AgreementViewSet,
    SharedActionsView,
    SharedAlertsView,
    SharedAreasView,
    SharedForecastsView,
    SharedSeriesView,
)

router = SimpleRouter()
router.register(r"tenants/(?P<tenant>[^/.]+)/agreements", AgreementViewSet, basename="agreement")
router.register(r"tenants/(?P<tenant>[^/.]+)/operations", OperationViewSet, basename="operation")

urlpatterns = [
    path("tenants/<str:tenant>/shared/areas/", SharedAreasView.as_view(), name="shared-areas"),
    path("tenants/<str:tenant>/shared/alerts/", SharedAlertsView.as_view(), name="shared-alerts"),
    path("tenants/<str:tenant>/shared/actions/", SharedActionsView.as_view(), name="shared-actions"),
    path("tenants/<str:tenant>/shared/series/", SharedSeriesView.as_view(), name="shared-series"),
    path("tenants/<str:tenant>/shared/forecasts/", SharedForecastsView.as_view(), name="shared-forecasts"),
    *router.urls,
]
