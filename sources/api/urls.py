"""API routes of the sources app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ConnectorListView, ObservationsView, SeriesGeoJSONView, SeriesViewSet, SourceViewSet

router = SimpleRouter()
router.register(r"tenants/(?P<tenant>[^/.]+)/sources", SourceViewSet, basename="source")
router.register(r"tenants/(?P<tenant>[^/.]+)/series", SeriesViewSet, basename="series")

urlpatterns = [
    path("connectors/", ConnectorListView.as_view(), name="connector-list"),
    path("tenants/<str:tenant>/observations/", ObservationsView.as_view(), name="observations"),
    path("tenants/<str:tenant>/series.geojson", SeriesGeoJSONView.as_view(), name="series-geojson"),
    *router.urls,
]
