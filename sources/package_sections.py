"""The sources app's section of a configuration package: the sources, never their secrets.

configpkg registers ``SECTIONS`` (configpkg/apps.py); this module imports nothing from configpkg. Each
hook gets the importer's context, of the shape ``configpkg.sections.ImportContext`` describes. The areas a
source feeds are named by slug and found through the context (``known_keys``, ``results``), so this app
still knows nothing of the areas app.

A source lists only the *names* of its secrets (``secrets_required``); an imported source whose secrets
are neither given (import option ``secrets``) nor already stored is imported disabled.
"""

from .connectors import connector_kinds, get_connector
from .models import Source
from .secrets import decrypt_secrets
from .services import source_create, source_update


def _secret_names(source: Source) -> list[str]:
    try:
        return sorted(decrypt_secrets(source.secrets_encrypted))
    except ValueError:  # undecryptable with today's keys: the names are unknown, the connector's are not
        try:
            connector = get_connector(source.kind)
        except KeyError:
            return []
        return sorted(connector.secret_schema.get("properties", {}))


class SourcesSection:
    """``sources``: connector kind and configuration, poll interval, the areas fed, owner and purpose."""

    name = "sources"
    keys = ("sources",)
    depends_on = ("areas",)
    order = 60

    def export(self, *, tenant, include_geometry: bool) -> dict:
        sources = Source.objects.filter(tenant=tenant).prefetch_related("areas").order_by("slug")
        return {
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
            ]
        }

    def check_options(self, ctx) -> None:
        if not isinstance(ctx.secrets, dict):
            ctx.report.error("secrets", "Give an object: source slug -> {secret name: value}.")
            ctx.secrets = {}
        package_sources = ctx.package_keys("sources")
        for slug, values in ctx.secrets.items():
            if slug not in package_sources:
                ctx.report.error(f"secrets.{slug}", f"No source '{slug}' in the package.")
            elif not isinstance(values, dict):
                ctx.report.error(f"secrets.{slug}", "Give the secrets as an object {name: value}.")

    def validate(self, ctx) -> None:
        kinds = connector_kinds()
        known_areas = ctx.known_keys("areas")
        for index, item in ctx.each("sources"):
            path = f"sources[{index}]"
            connector = kinds.get(item["kind"])
            if connector is None:
                ctx.report.error(
                    f"{path}.kind",
                    f"Unknown connector kind '{item['kind']}'; this platform has: {', '.join(kinds)}.",
                )
                ctx.failed.add(("sources", item["slug"]))
            else:
                for message in connector.validate_config(item["config"]):
                    ctx.report.error(f"{path}.config", message)
                unknown = set(item.get("secrets_required") or []) - set(
                    connector.secret_schema.get("properties", {})
                )
                if unknown:
                    ctx.report.error(
                        f"{path}.secrets_required",
                        f"Connector '{item['kind']}' has no secret(s) {', '.join(sorted(unknown))}.",
                    )
            for k, area in enumerate(item.get("areas") or []):
                if area not in known_areas:
                    ctx.report.error(f"{path}.areas[{k}]", f"No area '{area}' in the package or the tenant.")

    def apply(self, ctx) -> None:
        areas = ctx.results["areas"]
        sources = {s.slug: s for s in Source.objects.filter(tenant=ctx.tenant).prefetch_related("areas")}
        ctx.results["sources"] = sources
        for index, item in ctx.items("sources"):
            slug, path = item["slug"], f"sources[{index}]"
            if ("sources", slug) in ctx.failed:
                continue

            def write(slug=slug, path=path, item=item):
                linked = [a for a in item.get("areas") or [] if a in areas]
                left_out = [a for a in item.get("areas") or [] if a not in areas]
                required = sorted(set(item.get("secrets_required") or []))
                given = ctx.secrets.get(slug)
                existing = sources.get(slug)
                have = set()
                if existing is not None:
                    try:
                        have = set(decrypt_secrets(existing.secrets_encrypted))
                    except ValueError:
                        have = set()
                # Given secrets replace the stored ones; without them the stored ones stay.
                available = set(given) if given is not None else have
                missing = [name for name in required if name not in available]
                data = {
                    "name": item["name"],
                    "kind": item["kind"],
                    "config": item["config"],
                    "enabled": bool(item.get("enabled", True)) and not missing,
                    "owner": item.get("owner", ""),
                    "purpose": item.get("purpose", ""),
                }
                if "poll_interval" in item:
                    data["poll_interval"] = item["poll_interval"]
                reason = ""
                if missing:
                    reason = (
                        f"secrets {', '.join(missing)} must be entered again; "
                        "the source stays disabled until then"
                    )
                    ctx.report.secrets_required.append({"source": slug, "path": path, "secrets": missing})
                if left_out:
                    reason = "; ".join(
                        filter(None, [reason, f"not linked to skipped area(s) {', '.join(left_out)}"])
                    )
                area_objects = [areas[a] for a in linked]
                if existing is None:
                    sources[slug] = source_create(
                        tenant=ctx.tenant,
                        actor=ctx.actor,
                        data={"slug": slug, **data, "areas": area_objects, "secrets": given or {}},
                    )
                    ctx.report.add("sources", slug, path, "created", reason=reason)
                    return
                changes = [k for k, v in data.items() if getattr(existing, k) != v]
                if sorted(a.slug for a in existing.areas.all()) != sorted(linked):
                    changes.append("areas")
                if given is not None:
                    changes.append("secrets")
                if changes:
                    update = {**data, "areas": area_objects}
                    if given is not None:
                        update["secrets"] = given
                    sources[slug] = source_update(source=existing, actor=ctx.actor, data=update)
                action = "changed" if changes else "unchanged"
                ctx.report.add("sources", slug, path, action, changes=changes, reason=reason)

            ctx.guarded("sources", slug, path, write)

    def tenant_keys(self, tenant) -> set[str]:
        return set(Source.objects.filter(tenant=tenant).values_list("slug", flat=True))


SECTIONS = (SourcesSection(),)
