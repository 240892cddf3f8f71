"""Reads of the configpkg app: a tenant's configuration as a package, and the coalition library.

The export runs inside the tenant's scope; each section (configpkg.sections) reads its part with a fixed
number of queries. Secrets never leave: a source lists only the *names* of its secrets under
``secrets_required``. Members are exported as counts per role, never as names or e-mail addresses.
"""

from django.db.models import Q, QuerySet
from django.utils import timezone

from tenants.models import Tenant

from .models import SharedTemplate
from .package import FORMAT_NAME, FORMAT_VERSION, in_package_order
from .sections import registered_sections


def config_package_build(*, tenant: Tenant, include_geometry: bool = True) -> dict:
    """The tenant's configuration as one versioned package (requires the tenant's scope).

    The header is this app's; every other key is a section's export (configpkg.sections), and the keys
    are laid out in the schema's order whatever the order of the sections.
    """
    package = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "source_tenant": {"slug": tenant.slug, "name": tenant.name, "kind": tenant.kind},
        "includes_geometry": include_geometry,
    }
    for section in registered_sections():
        package.update(section.export(tenant=tenant, include_geometry=include_geometry))
    return in_package_order(package)


def package_summary(package: dict) -> dict:
    """Counts per section and the area slugs: what a library visitor sees before instantiating."""
    summary = {
        section: len(package.get(section) or [])
        for section in ("events", "areas", "sources", "alert_rules", "interventions")
    }
    summary["area_slugs"] = [a.get("slug") for a in package.get("areas") or [] if isinstance(a, dict)]
    summary["secrets_required"] = {
        s.get("slug"): s.get("secrets_required")
        for s in package.get("sources") or []
        if isinstance(s, dict) and s.get("secrets_required")
    }
    return summary


def shared_template_list(*, q: str | None = None, tag: str | None = None) -> QuerySet[SharedTemplate]:
    """The coalition library: every published template, for every tenant to browse."""
    templates = SharedTemplate.objects.defer("package").order_by("name", "publisher_name", "pk")
    if q:
        templates = templates.filter(
            Q(name__icontains=q) | Q(description__icontains=q) | Q(slug__icontains=q)
        )
    if tag:
        # JSON containment is not on SQLite; tags are few, so filter in the database by text and confirm.
        ids = [t.pk for t in templates.filter(tags__icontains=tag) if tag.lower() in (t.tags or [])]
        templates = templates.filter(pk__in=ids)
    return templates


def shared_template_get(*, pk: int) -> SharedTemplate | None:
    return SharedTemplate.objects.filter(pk=pk).first()


def shared_templates_of(*, tenant: Tenant) -> QuerySet[SharedTemplate]:
    """The templates a tenant published (its own publications, which it alone may withdraw)."""
    return SharedTemplate.objects.filter(publisher_tenant=tenant).defer("package").order_by("name", "pk")
