from django.apps import AppConfig


class FrontendConfig(AppConfig):
    """Templates, static assets and page views."""

    name = "frontend"
