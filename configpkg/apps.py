from django.apps import AppConfig


class ConfigpkgConfig(AppConfig):
    name = "configpkg"
    verbose_name = "Configuration packages"
