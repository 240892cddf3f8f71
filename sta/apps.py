from django.apps import AppConfig


class StaConfig(AppConfig):
    name = "sta"
    verbose_name = "SensorThings API"
