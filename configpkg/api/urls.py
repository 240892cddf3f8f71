"""Configuration package and coalition library routes under /api/v1/."""

urlpatterns: list = []
