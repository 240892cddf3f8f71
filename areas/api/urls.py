"""API routes of the areas app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .history_views import AreaHistoryView
from .views import AreaViewSet, BuildingLayerView, CrowdLevelSettingsView, EventViewSet

router = SimpleRouter()
router.register(r"tenants/(?P<tenant>[^/.]+)/areas", AreaViewSet, basename="area")
router.register(r"tenants/(?P<tenant>[^/.]+)/events", EventViewSet, basename="event")

urlpatterns = [
    path(
        "tenants/<str:tenant>/areas.geojson",
        AreaViewSet.as_view(
            {"get": "geojson"}, renderer_classes=AreaViewSet.geojson.kwargs["renderer_classes"]
        ),
        name="area-geojson-file",
    ),
    # Before the router: "history" is not an area id.
    path("tenants/<str:tenant>/areas/history/", AreaHistoryView.as_view(), name="area-history"),
    path("tenants/<str:tenant>/buildings.geojson", BuildingLayerView.as_view(), name="buildings-geojson"),
    path("tenants/<str:tenant>/crowd-levels/", CrowdLevelSettingsView.as_view(), name="crowd-levels"),
    *router.urls,
]
