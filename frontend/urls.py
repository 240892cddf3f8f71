"""Page routes."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("t/<slug:tenant>/", views.tenant_home, name="tenant-home"),
]
