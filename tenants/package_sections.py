"""The tenant's sections of a configuration package: its settings and its roles.

configpkg registers ``SECTIONS`` (configpkg/apps.py); this module imports nothing from configpkg. Each
hook gets the importer's context, of the shape ``configpkg.sections.ImportContext`` describes.
"""

from django.core.exceptions import ValidationError
from django.db.models import Count

from .choices import ROLE_CAPABILITIES, Role
from .models import Membership, Tenant, validate_time_zone
from .services import tenant_update

SETTINGS_FIELDS = (
    "time_zone",
    "retention_days",
    "map_tile_url",
    "public_page_enabled",
    "small_count_threshold",
)


class TenantSettingsSection:
    """``tenant_settings`` (time zone, retention, map) and ``public_settings`` (the public page)."""

    name = "settings"
    keys = ("tenant_settings", "public_settings")
    depends_on = ()
    order = 10

    def export(self, *, tenant, include_geometry: bool) -> dict:
        return {
            "tenant_settings": {
                "time_zone": tenant.time_zone,
                "retention_days": tenant.retention_days,
                "map_tile_url": tenant.map_tile_url,
            },
            "public_settings": {
                "public_page_enabled": tenant.public_page_enabled,
                "small_count_threshold": tenant.small_count_threshold,
            },
        }

    def check_options(self, ctx) -> None:
        pass

    def validate(self, ctx) -> None:
        settings = ctx.package.get("tenant_settings") or {}
        if isinstance(settings, dict) and isinstance(settings.get("time_zone"), str):
            try:
                validate_time_zone(settings["time_zone"])
            except ValidationError as exc:
                ctx.report.error("tenant_settings.time_zone", exc.messages[0])

    def apply(self, ctx) -> None:
        wanted = {}
        for key in self.keys:
            values = ctx.package.get(key)
            if isinstance(values, dict) and key not in ctx.bad_sections:
                wanted.update({k: v for k, v in values.items() if k in SETTINGS_FIELDS})
        if not wanted:
            return
        slug = ctx.tenant.slug
        if not ctx.include_settings:
            reason = "settings: false keeps the tenant's own time zone, retention, map and public page"
            ctx.report.add(self.name, slug, "tenant_settings", "skipped", reason=reason)
            return
        tenant = Tenant.objects.get(pk=ctx.tenant.pk)  # a fresh copy: a dry run must not touch the caller's
        changes = [k for k, v in wanted.items() if getattr(tenant, k) != v]

        def write():
            if changes:
                tenant_update(tenant=tenant, actor=ctx.actor, **{k: wanted[k] for k in changes})
            action = "changed" if changes else "unchanged"
            ctx.report.add(self.name, slug, "tenant_settings", action, changes=changes)

        ctx.guarded(self.name, slug, "tenant_settings", write)

    def tenant_keys(self, tenant) -> set[str]:
        return set()


class RolesSection:
    """``roles``: the platform's roles with their rights and how many members each has (no names).

    Members are never imported (they are invited one by one); a role's rights are the platform's.
    """

    name = "roles"
    keys = ("roles",)
    depends_on = ()
    order = 80

    def export(self, *, tenant, include_geometry: bool) -> dict:
        members = dict(
            Membership.objects.filter(tenant=tenant, is_active=True)
            .values("role")
            .annotate(n=Count("pk"))
            .values_list("role", "n")
        )
        return {
            "roles": [
                {
                    "role": role.value,
                    "label": str(role.label),
                    "capabilities": sorted(str(c) for c in ROLE_CAPABILITIES[role]),
                    "members": members.get(role.value, 0),
                }
                for role in Role
            ]
        }

    def check_options(self, ctx) -> None:
        pass

    def validate(self, ctx) -> None:
        for index, item in ctx.items("roles"):
            role = item["role"]
            if role not in Role.values:
                ctx.report.error(
                    f"roles[{index}].role", f"Unknown role '{role}'; roles are {', '.join(Role.values)}."
                )
                continue
            ours = sorted(str(c) for c in ROLE_CAPABILITIES[role])
            if "capabilities" in item and sorted(item["capabilities"]) != ours:
                ctx.report.warnings.append(
                    f"roles[{index}]: role '{role}' has the rights {', '.join(ours)} on this platform, "
                    f"not {', '.join(sorted(item['capabilities']))}."
                )

    def apply(self, ctx) -> None:
        for index, item in ctx.items("roles"):
            if item["role"] not in Role.values:
                continue
            members = item.get("members")
            ctx.report.add(
                "roles",
                item["role"],
                f"roles[{index}]",
                "skipped",
                reason=(
                    "members are invited one by one, never imported"
                    + (f" ({members} in the source tenant)" if isinstance(members, int) else "")
                    + "; the role's rights are the platform's"
                ),
            )

    def tenant_keys(self, tenant) -> set[str]:
        return set()  # roles are the platform's, not the tenant's


SECTIONS = (TenantSettingsSection(), RolesSection())
