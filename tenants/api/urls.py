"""API routes of the tenants app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .audit_views import AuditEntryViewSet
from .views import MembershipViewSet, TenantDetailView, TenantListView, TokenView

router = SimpleRouter()
router.register(r"tenants/(?P<tenant>[^/.]+)/members", MembershipViewSet, basename="member")
router.register(r"tenants/(?P<tenant>[^/.]+)/audit", AuditEntryViewSet, basename="audit")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("tenants/", TenantListView.as_view(), name="tenant-list"),
    path("tenants/<str:tenant>/", TenantDetailView.as_view(), name="tenant-detail"),
    *router.urls,
]
