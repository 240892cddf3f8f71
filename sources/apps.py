from django.apps import AppConfig


class SourcesConfig(AppConfig):
    """Sources, connectors, series and observations: the data backbone."""

    name = "sources"
