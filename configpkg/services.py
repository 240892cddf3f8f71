"""Writes of the configpkg app: import a configuration package, publish and withdraw library templates.

The import itself (its three passes: structure, meaning, apply) lives in :mod:`configpkg.importer`.
"""

from django.db import transaction
from django.utils import timezone

from areas.package_sections import clean_tags
from tenants.models import Tenant

from .importer import GEOMETRY_MODES, ImportReport, ImportRollbackError, PackageImporter
from .models import SharedTemplate
from .package import FORMAT_VERSION
from .selectors import config_package_build, package_summary

__all__ = [
    "GEOMETRY_MODES",
    "ImportReport",
    "config_import",
    "shared_template_publish",
    "shared_template_unpublish",
    "template_package",
]


def config_import(
    *,
    tenant: Tenant,
    actor,
    package,
    dry_run: bool = True,
    geometry: str = "keep",
    geometries: dict | None = None,
    secrets: dict | None = None,
    settings: bool = True,
) -> ImportReport:
    """Check a package against the tenant and apply it all or nothing (nothing at all on a dry run).

    ``geometry``: ``keep`` uses the package's geometry, ``omit`` ignores it; ``geometries`` maps area
    slugs to replacement GeoJSON (wins in both modes). An area without any geometry that the tenant does
    not have yet is skipped, with what depends on it. ``secrets`` maps source slugs to their secrets;
    a source whose secrets are neither given nor already stored is imported disabled. ``settings``
    false leaves the tenant's own settings (time zone, retention, map, public page) alone.
    """
    if geometry not in GEOMETRY_MODES:
        raise ValueError(f"geometry must be one of {GEOMETRY_MODES}")
    report = ImportReport(dry_run=dry_run)
    if isinstance(package, dict):
        report.provenance = {
            "source_tenant": package.get("source_tenant"),
            "exported_at": package.get("exported_at"),
            "format_version": package.get("version"),
            **({"template": package["template"]} if isinstance(package.get("template"), dict) else {}),
        }
    importer = PackageImporter(
        tenant=tenant,
        actor=actor,
        package=package,
        report=report,
        geometry=geometry,
        geometries=geometries,
        secrets=secrets,
        settings=settings,
    )
    if not importer.check():
        return report
    try:
        with transaction.atomic():
            importer.apply()
            if report.errors or dry_run:
                raise ImportRollbackError
    except ImportRollbackError:
        pass
    report.applied = not dry_run and not report.errors
    return report


# --- the coalition library ---------------------------------------------------------------------------


def _display_name(actor) -> str:
    if actor is None:
        return "platform"
    return (actor.get_full_name() or actor.get_username()).strip()


@transaction.atomic
def shared_template_publish(
    *,
    tenant: Tenant,
    actor,
    slug: str,
    name: str,
    description: str = "",
    tags: list[str] | None = None,
    include_geometry: bool = True,
) -> SharedTemplate:
    """Publish the tenant's configuration to the library; publishing a slug again raises its version."""
    package = config_package_build(tenant=tenant, include_geometry=include_geometry)
    now = timezone.now()
    template = (
        SharedTemplate.objects.select_for_update().filter(publisher_slug=tenant.slug, slug=slug).first()
    )
    if template is None:
        template = SharedTemplate(slug=slug, publisher_slug=tenant.slug, version=1, first_published_at=now)
    else:
        template.version += 1
    template.name = name
    template.description = description
    template.tags = clean_tags(tags)
    template.package = package
    template.format_version = FORMAT_VERSION
    template.includes_geometry = include_geometry
    template.summary = package_summary(package)
    template.publisher_tenant = tenant
    template.publisher_name = tenant.name
    template.published_by = _display_name(actor)
    template.published_at = now
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def shared_template_unpublish(*, template: SharedTemplate, tenant: Tenant, actor) -> None:
    """Withdraw a template from the library; only its publisher may (others never see it as theirs)."""
    if template.publisher_tenant_id != tenant.pk:
        raise PermissionError("Only the publishing tenant withdraws a template.")
    template.delete()


def template_package(template: SharedTemplate) -> dict:
    """The template's package with its provenance stamped in, as an import reads it."""
    package = dict(template.package)
    package["template"] = {
        "id": template.pk,
        "slug": template.slug,
        "name": template.name,
        "version": template.version,
        "published_by": template.published_by,
        "publisher_tenant": template.publisher_name,
        "published_at": template.published_at.isoformat(),
    }
    return package
