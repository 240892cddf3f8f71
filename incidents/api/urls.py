"""API routes of the incidents app."""

from rest_framework.routers import SimpleRouter

from .views import AlertRuleViewSet, AlertViewSet, WebhookViewSet

router = SimpleRouter()
router.register(r"tenants/(?P<tenant>[^/.]+)/alerts", AlertViewSet, basename="alert")
router.register(r"tenants/(?P<tenant>[^/.]+)/alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register(r"tenants/(?P<tenant>[^/.]+)/webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
