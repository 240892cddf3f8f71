"""SensorThings routes: /sta/v1.1/tenants/<slug>/ (service root) and every resource path below it."""

from django.urls import re_path

from . import views

app_name = "sta"

urlpatterns = [
    re_path(r"^tenants/(?P<tenant>[-a-zA-Z0-9_]+)/?$", views.ServiceRootView.as_view(), name="root"),
    re_path(
        r"^tenants/(?P<tenant>[-a-zA-Z0-9_]+)/(?P<path>.+)$", views.ResourceView.as_view(), name="resource"
    ),
    re_path(r"^.*$", views.not_found),
]
