"""Reads of the configpkg app: a tenant's configuration as a package, and the coalition library.

The export runs inside the tenant's scope and reads every section with a fixed number of queries.
Secrets never leave: a source lists only the *names* of its secrets under ``secrets_required``.
Members are exported as counts per role, never as names or e-mail addresses.
"""

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from areas.models import Area, CrowdLevelSettings, Event
from incidents.models import AlertRule, InterventionType
from sources.connectors import get_connector
from sources.models import Source
from sources.secrets import decrypt_secrets
from tenants.choices import ROLE_CAPABILITIES, Role
from tenants.models import Membership, Tenant

from .models import SharedTemplate
from .package import FORMAT_NAME, FORMAT_VERSION


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _secret_names(source: Source) -> list[str]:
    try:
        return sorted(decrypt_secrets(source.secrets_encrypted))
    except ValueError:  # undecryptable with today's keys: the names are unknown, the connector's are not
        try:
            connector = get_connector(source.kind)
        except KeyError:
            return []
        return sorted(connector.secret_schema.get("properties", {}))


def _area_entry(area: Area, *, include_geometry: bool) -> dict:
    return {
        "slug": area.slug,
        "name": area.name,
        "description": area.description,
        "kind": area.kind,
        "geometry": area.geometry if include_geometry else None,
        "surface_m2": round(area.surface_m2, 2) if include_geometry else None,
        "usable_surface_m2": area.usable_surface_m2 if include_geometry else None,
        "capacity": area.capacity,
        "valid_from": _iso(area.valid_from),
        "valid_to": _iso(area.valid_to),
        "tags": list(area.tags or []),
        "parent": area.parent.slug if area.parent_id else None,
        "event": area.event.slug if area.event_id else None,
        "density_bands": area.density_bands,
        "capacity_bands": area.capacity_bands,
        "flow_bands": area.flow_bands,
        "flow_method": area.flow_method,
    }


def _parents_first(areas: list[Area]) -> list[Area]:
    """Order areas so that a parent comes before its sub-areas (an importer can apply them in order)."""
    by_pk = {a.pk: a for a in areas}
    ordered, seen = [], set()

    def visit(area: Area, depth: int = 0) -> None:
        if area.pk in seen:
            return
        seen.add(area.pk)
        if area.parent_id in by_pk and depth < len(areas):
            visit(by_pk[area.parent_id], depth + 1)
        ordered.append(area)

    for area in areas:
        visit(area)
    return ordered


def config_package_build(*, tenant: Tenant, include_geometry: bool = True) -> dict:
    """The tenant's configuration as one versioned package (requires the tenant's scope)."""
    settings = CrowdLevelSettings.objects.filter(tenant=tenant).first()
    events = Event.objects.filter(tenant=tenant).order_by("slug")
    areas = _parents_first(
        list(
            Area.objects.filter(tenant=tenant, archived_at__isnull=True)
            .select_related("parent", "event")
            .order_by("slug")
        )
    )
    sources = Source.objects.filter(tenant=tenant).prefetch_related("areas").order_by("slug")
    rules = AlertRule.objects.filter(tenant=tenant).select_related("area", "source").order_by("name", "pk")
    interventions = InterventionType.objects.filter(tenant=tenant).order_by("slug")
    members = dict(
        Membership.objects.filter(tenant=tenant, is_active=True)
        .values("role")
        .annotate(n=Count("pk"))
        .values_list("role", "n")
    )
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "source_tenant": {"slug": tenant.slug, "name": tenant.name, "kind": tenant.kind},
        "includes_geometry": include_geometry,
        "tenant_settings": {
            "time_zone": tenant.time_zone,
            "retention_days": tenant.retention_days,
            "map_tile_url": tenant.map_tile_url,
        },
        "public_settings": {
            "public_page_enabled": tenant.public_page_enabled,
            "small_count_threshold": tenant.small_count_threshold,
        },
        "crowd_levels": {
            "density_bands": settings.density_bands if settings else None,
            "capacity_bands": settings.capacity_bands if settings else None,
            "flow_bands": settings.flow_bands if settings else None,
        },
        "events": [
            {
                "slug": e.slug,
                "name": e.name,
                "description": e.description,
                "start": _iso(e.start),
                "end": _iso(e.end),
                "expected_attendance": e.expected_attendance,
                "organiser": e.organiser,
            }
            for e in events
        ],
        "areas": [_area_entry(a, include_geometry=include_geometry) for a in areas],
        "sources": [
            {
                "slug": s.slug,
                "name": s.name,
                "kind": s.kind,
                "config": s.config,
                "secrets_required": _secret_names(s),
                "poll_interval": s.poll_interval,
                "enabled": s.enabled,
                "areas": sorted(a.slug for a in s.areas.all() if a.archived_at is None),
                "owner": s.owner,
                "purpose": s.purpose,
            }
            for s in sources
        ],
        "alert_rules": [
            {
                "name": r.name,
                "kind": r.kind,
                "area": r.area.slug if r.area_id else None,
                "source": r.source.slug if r.source_id else None,
                "level": r.level,
                "within_hours": r.within_hours,
                "minutes": r.minutes,
                "notify_roles": list(r.notify_roles or []),
                "enabled": r.enabled,
            }
            for r in rules
        ],
        "interventions": [
            {
                "slug": i.slug,
                "name": i.name,
                "description": i.description,
                "archived": i.archived_at is not None,
            }
            for i in interventions
        ],
        "roles": [
            {
                "role": role.value,
                "label": str(role.label),
                "capabilities": sorted(str(c) for c in ROLE_CAPABILITIES[role]),
                "members": members.get(role.value, 0),
            }
            for role in Role
        ],
    }


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
