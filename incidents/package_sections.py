"""The incidents app's sections of a configuration package: the catalogue of measures and the alert rules.

configpkg registers ``SECTIONS`` (configpkg/apps.py); this module imports nothing from configpkg. Each
hook gets the importer's context, of the shape ``configpkg.sections.ImportContext`` describes.

Alert rules are matched by name (the first rule of that name when a tenant has several); measures by slug.
"""

from django.utils import timezone

from tenants.choices import Role

from .actions import ensure_default_interventions
from .choices import DEFAULT_INTERVENTIONS
from .models import AlertRule, InterventionType
from .services import alert_rule_save


class InterventionsSection:
    """``interventions``: the measures of the action log, archived or not."""

    name = "interventions"
    keys = ("interventions",)
    depends_on = ()
    order = 50

    def export(self, *, tenant, include_geometry: bool) -> dict:
        return {
            "interventions": [
                {
                    "slug": i.slug,
                    "name": i.name,
                    "description": i.description,
                    "archived": i.archived_at is not None,
                }
                for i in InterventionType.objects.filter(tenant=tenant).order_by("slug")
            ]
        }

    def check_options(self, ctx) -> None:
        pass

    def validate(self, ctx) -> None:
        pass  # the schema and the key check say all there is to say

    def apply(self, ctx) -> None:
        items = ctx.items("interventions")
        if not items:
            return
        ensure_default_interventions(tenant=ctx.tenant)
        existing = {i.slug: i for i in InterventionType.objects.filter(tenant=ctx.tenant)}
        ctx.results["interventions"] = existing
        defaults = {slug for slug, _ in DEFAULT_INTERVENTIONS}
        for index, item in items:
            slug, path = item["slug"], f"interventions[{index}]"
            if ("interventions", slug) in ctx.failed:
                continue

            def write(slug=slug, path=path, item=item):
                measure_type = existing.get(slug)
                archived = bool(item.get("archived", False))
                wanted = {"name": item["name"], "description": item.get("description", "")}
                if measure_type is None:
                    measure_type = InterventionType(tenant=ctx.tenant, slug=slug, is_default=slug in defaults)
                    changes = None
                else:
                    changes = [k for k, v in wanted.items() if getattr(measure_type, k) != v]
                    if (measure_type.archived_at is not None) != archived:
                        changes.append("archived")
                    if not changes:
                        ctx.report.add("interventions", slug, path, "unchanged")
                        return
                for name, value in wanted.items():
                    setattr(measure_type, name, value)
                if archived != (measure_type.archived_at is not None):
                    measure_type.archived_at = timezone.now() if archived else None
                measure_type.full_clean()
                measure_type.save()
                action = "created" if changes is None else "changed"
                ctx.report.add("interventions", slug, path, action, changes=changes or ())

            ctx.guarded("interventions", slug, path, write)

    def tenant_keys(self, tenant) -> set[str]:
        return set(InterventionType.objects.filter(tenant=tenant).values_list("slug", flat=True))


class AlertRulesSection:
    """``alert_rules``: what raises an alert (level now or forecast, stale data, a failing source)."""

    name = "alert_rules"
    keys = ("alert_rules",)
    depends_on = ("areas", "sources")
    order = 70

    def export(self, *, tenant, include_geometry: bool) -> dict:
        rules = (
            AlertRule.objects.filter(tenant=tenant).select_related("area", "source").order_by("name", "pk")
        )
        return {
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
            ]
        }

    def check_options(self, ctx) -> None:
        pass

    def validate(self, ctx) -> None:
        known_areas = ctx.known_keys("areas")
        known_sources = ctx.known_keys("sources")
        for index, item in ctx.each("alert_rules"):
            path = f"alert_rules[{index}]"
            area, source = item.get("area"), item.get("source")
            if area and area not in known_areas:
                ctx.report.error(f"{path}.area", f"No area '{area}' in the package or the tenant.")
            if source and source not in known_sources:
                ctx.report.error(f"{path}.source", f"No source '{source}' in the package or the tenant.")
            unknown = [r for r in item.get("notify_roles") or [] if r not in Role.values]
            if unknown:
                ctx.report.error(
                    f"{path}.notify_roles",
                    f"Unknown role(s) {', '.join(unknown)}; roles are {', '.join(Role.values)}.",
                )

    def apply(self, ctx) -> None:
        areas, sources = ctx.results["areas"], ctx.results["sources"]
        rules: dict[str, AlertRule] = {}
        for rule in AlertRule.objects.filter(tenant=ctx.tenant).order_by("pk"):
            rules.setdefault(rule.name, rule)
        ctx.results["alert_rules"] = rules
        for index, item in ctx.items("alert_rules"):
            name, path = item["name"], f"alert_rules[{index}]"
            if ("alert_rules", name) in ctx.failed:
                continue

            def write(name=name, path=path, item=item):
                area, source = item.get("area"), item.get("source")
                if area in ctx.skipped["areas"]:
                    ctx.skip(f"its area '{area}' is skipped")
                if (area and area not in areas) or (source and source not in sources):
                    ctx.skip("an area or source it names was not imported")
                data = {
                    "name": name,
                    "kind": item["kind"],
                    "area": areas[area] if area else None,
                    "source": sources[source] if source else None,
                    "level": item.get("level", ""),
                    "within_hours": item.get("within_hours"),
                    "minutes": item.get("minutes"),
                    "notify_roles": list(item.get("notify_roles", ["admin", "operator"])),
                    "enabled": bool(item.get("enabled", True)),
                }
                existing = rules.get(name)
                if existing is None:
                    rules[name] = alert_rule_save(tenant=ctx.tenant, actor=ctx.actor, data=data)
                    ctx.report.add("alert_rules", name, path, "created")
                    return
                changes = [
                    k
                    for k, v in data.items()
                    if (
                        getattr(existing, f"{k}_id") != (v.pk if v else None)
                        if k in ("area", "source")
                        else getattr(existing, k) != v
                    )
                ]
                if changes:
                    alert_rule_save(tenant=ctx.tenant, actor=ctx.actor, data=data, rule=existing)
                action = "changed" if changes else "unchanged"
                ctx.report.add("alert_rules", name, path, action, changes=changes)

            ctx.guarded("alert_rules", name, path, write)

    def tenant_keys(self, tenant) -> set[str]:
        return set(AlertRule.objects.filter(tenant=tenant).values_list("name", flat=True))


SECTIONS = (InterventionsSection(), AlertRulesSection())
