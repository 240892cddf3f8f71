"""API routes of the incidents app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    ActionViewSet,
    AlertRuleViewSet,
    AlertViewSet,
    AttachmentViewSet,
    IncidentViewSet,
    InterventionTypeViewSet,
    LearningView,
    OutcomeViewSet,
    WebhookViewSet,
)

router = SimpleRouter()
router.register(r"tenants/(?P<tenant>[^/.]+)/alerts", AlertViewSet, basename="alert")
router.register(r"tenants/(?P<tenant>[^/.]+)/alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register(r"tenants/(?P<tenant>[^/.]+)/webhooks", WebhookViewSet, basename="webhook")
router.register(r"tenants/(?P<tenant>[^/.]+)/interventions", InterventionTypeViewSet, basename="intervention")
router.register(r"tenants/(?P<tenant>[^/.]+)/actions", ActionViewSet, basename="action")
router.register(r"tenants/(?P<tenant>[^/.]+)/attachments", AttachmentViewSet, basename="attachment")
router.register(r"tenants/(?P<tenant>[^/.]+)/incidents", IncidentViewSet, basename="incident")
router.register(r"tenants/(?P<tenant>[^/.]+)/outcomes", OutcomeViewSet, basename="outcome")

urlpatterns = [
    path("tenants/<str:tenant>/learning/", LearningView.as_view(), name="learning"),
    *router.urls,
]
