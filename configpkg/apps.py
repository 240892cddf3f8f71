from django.apps import AppConfig


class ConfigpkgConfig(AppConfig):
    name = "configpkg"
    verbose_name = "Configuration packages"

    def ready(self) -> None:
        # configpkg depends on the domain apps and not the reverse: it collects their package sections
        # here, so that no domain app imports configpkg (configpkg/sections.py).
        from areas import package_sections as areas_sections
        from incidents import package_sections as incidents_sections
        from sources import package_sections as sources_sections
        from tenants import package_sections as tenants_sections

        from .sections import register_section

        for module in (tenants_sections, areas_sections, sources_sections, incidents_sections):
            for section in module.SECTIONS:
                register_section(section)
