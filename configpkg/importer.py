"""The import of a configuration package: checks and the per-object apply (``services.config_import``).

An import runs in three passes and answers with one report:

1. structure: format name, format version (a newer major version is rejected) and the JSON Schema;
2. meaning: duplicate keys, unknown connector kinds, connector configuration, bands, timestamps and every
   reference (``alert_rules[3].area: no area 'pier' in the package or the tenant``);
3. apply: every object through the same services the API uses (so validation is the same), each in its
   own savepoint so that one failure does not hide the next, all inside one transaction that is rolled
   back on a dry run or when anything failed. Nothing is ever half-imported.

Objects are matched by natural key (slug; name for alert rules): absent -> ``created``, different ->
``changed`` (with the fields), equal -> ``unchanged``. Objects of the tenant that the package does not
mention are left alone: an import never deletes.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError as DRFValidationError

from areas.geometry import GeometryError, MeasuredGeometry, measure
from areas.levels import validate_bands
from areas.models import Area, CrowdLevelSettings, Event
from areas.services import (
    area_create,
    area_update,
    crowd_level_settings_update,
    error_dict,
    event_create,
    event_update,
)
from incidents.actions import ensure_default_interventions
from incidents.choices import DEFAULT_INTERVENTIONS
from incidents.models import AlertRule, InterventionType
from incidents.services import alert_rule_save
from sources.connectors import connector_kinds
from sources.models import Source
from sources.secrets import decrypt_secrets
from sources.services import source_create, source_update
from tenants.choices import ROLE_CAPABILITIES, Role
from tenants.models import Tenant, validate_time_zone
from tenants.services import tenant_update

from .package import Problem, check_structure

GEOMETRY_MODES = ("keep", "omit")
BAND_UNITS = (
    ("density_bands", "persons/m²"),
    ("capacity_bands", "% of capacity"),
    ("flow_bands", "persons/min/m"),
)
CREATED, CHANGED, UNCHANGED, SKIPPED = "created", "changed", "unchanged", "skipped"


@dataclass
class ImportReport:
    """What an import did, or would do on a dry run: per object an action, and every problem found."""

    dry_run: bool
    applied: bool = False
    objects: list[dict] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secrets_required: list[dict] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)

    def add(self, section: str, key: str, path: str, action: str, *, changes=(), reason: str = "") -> None:
        entry = {"section": section, "key": key, "path": path, "action": action}
        if changes:
            entry["changes"] = list(changes)
        if reason:
            entry["reason"] = reason
        self.objects.append(entry)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((CREATED, CHANGED, UNCHANGED, SKIPPED), 0)
        for entry in self.objects:
            counts[entry["action"]] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "applied": self.applied,
            "counts": self.counts(),
            "objects": self.objects,
            "secrets_required": self.secrets_required,
            "warnings": self.warnings,
            "errors": [e.as_dict() for e in self.errors],
            "provenance": self.provenance,
        }


class ImportRollbackError(Exception):
    """Raised inside the import transaction to undo a dry run or a failed import."""


class _SkipError(Exception):
    """An object is left out on purpose (no geometry, a dependency skipped); not an error."""


def _messages(exc: Exception) -> dict[str, list[str]]:
    errors = error_dict(exc)
    return {
        name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for name, msgs in errors.items()
    }


def _aware(value, path: str, report: ImportReport) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, such as month 13
        parsed = None
    if parsed is None:
        report.error(path, f"{value!r} is not an ISO 8601 timestamp.")
    elif parsed.tzinfo is None:
        report.error(path, f"Timestamp {value!r} has no time zone; add 'Z' or an offset such as '+02:00'.")
        return None
    return parsed


def _bands(value, unit: str) -> dict | None:
    """Bands as the areas app stores them (floats); checked already in pass 2."""
    return validate_bands(value, unit=unit) if isinstance(value, dict) else None


def clean_tags(values) -> list[str]:
    cleaned = []
    for tag in values or []:
        tag = tag.strip().lower()
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return cleaned


class PackageImporter:
    """One import: checks, then applies inside the caller's transaction. Not reused."""

    def __init__(self, *, tenant, actor, package, report, geometry, geometries, secrets, settings=True):
        self.tenant = tenant
        self.include_settings = settings
        self.actor = actor
        self.package = package
        self.report = report
        self.geometry_mode = geometry
        self.geometries_raw = geometries or {}
        self.secrets = secrets or {}
        self.bad_items: set[tuple[str, int]] = set()  # items with structural problems: not checked further
        self.bad_sections: set[str] = set()  # sections with structural problems: not applied
        self.measured: dict[str, MeasuredGeometry] = {}  # area slug -> geometry to use
        self.parsed: dict[tuple[str, int], dict] = {}  # parsed timestamps per item
        self.skipped_areas: set[str] = set()
        self.failed: set[tuple[str, str]] = set()  # (section, key) that had errors

    # --- pass 1 and 2 -------------------------------------------------------------------------------

    def items(self, section: str) -> list[tuple[int, dict]]:
        values = self.package.get(section) if isinstance(self.package, dict) else None
        if not isinstance(values, list):
            return []
        return [
            (i, item)
            for i, item in enumerate(values)
            if isinstance(item, dict) and (section, i) not in self.bad_items
        ]

    def check(self) -> bool:
        """Passes 1 and 2; False when the package cannot even be read as a package."""
        structure = check_structure(self.package)
        self.report.warnings.extend(structure.warnings)
        self.report.errors.extend(structure.problems)
        if not isinstance(self.package, dict):
            return False
        for problem in structure.problems:
            head = problem.path.split(".")[0]
            self.bad_sections.add(head.split("[")[0])
            if "[" in head:
                section, index = head.rstrip("]").split("[")
                self.bad_items.add((section, int(index)))
        self._check_options()
        self._check_duplicates()
        self._check_settings()
        self._check_events()
        self._check_areas()
        self._check_sources()
        self._check_rules()
        self._check_roles()
        return True

    def _check_options(self) -> None:
        package_areas = {item["slug"] for _, item in self.items("areas")}
        if not isinstance(self.geometries_raw, dict):
            self.report.error("geometries", "Give an object: area slug -> GeoJSON Polygon or MultiPolygon.")
            self.geometries_raw = {}
        for slug, geometry in self.geometries_raw.items():
            if slug not in package_areas:
                self.report.error(f"geometries.{slug}", f"No area '{slug}' in the package.")
                continue
            try:
                self.measured[slug] = measure(geometry)
            except GeometryError as exc:
                for message in exc.messages:
                    self.report.error(f"geometries.{slug}", message)
                self.failed.add(("areas", slug))
        if not isinstance(self.secrets, dict):
            self.report.error("secrets", "Give an object: source slug -> {secret name: value}.")
            self.secrets = {}
        package_sources = {item["slug"] for _, item in self.items("sources")}
        for slug, values in self.secrets.items():
            if slug not in package_sources:
                self.report.error(f"secrets.{slug}", f"No source '{slug}' in the package.")
            elif not isinstance(values, dict):
                self.report.error(f"secrets.{slug}", "Give the secrets as an object {name: value}.")

    def _check_duplicates(self) -> None:
        for section, key in (
            ("events", "slug"),
            ("areas", "slug"),
            ("sources", "slug"),
            ("interventions", "slug"),
            ("alert_rules", "name"),
            ("roles", "role"),
        ):
            seen: dict[str, int] = {}
            for index, item in self.items(section):
                value = item[key]
                if value in seen:
                    self.report.error(
                        f"{section}[{index}].{key}",
                        f"Duplicate {key} '{value}' (also {section}[{seen[value]}]); keys must be unique.",
                    )
                    self.failed.add((section, value))
                else:
                    seen[value] = index

    def _check_settings(self) -> None:
        settings = self.package.get("tenant_settings") or {}
        if isinstance(settings, dict) and isinstance(settings.get("time_zone"), str):
            try:
                validate_time_zone(settings["time_zone"])
            except ValidationError as exc:
                self.report.error("tenant_settings.time_zone", exc.messages[0])
        levels = self.package.get("crowd_levels") or {}
        if isinstance(levels, dict):
            for name, unit in BAND_UNITS:
                self._check_bands(levels.get(name), f"crowd_levels.{name}", unit)

    def _check_bands(self, bands, path: str, unit: str) -> None:
        if isinstance(bands, dict):
            try:
                validate_bands(bands, unit=unit)
            except ValueError as exc:
                self.report.error(path, str(exc))

    def _each(self, section: str, key: str):
        """The section's readable items; an item that gains an error while checked is marked failed."""
        for index, item in self.items(section):
            before = len(self.report.errors)
            yield index, item
            if len(self.report.errors) > before:
                self.failed.add((section, item[key]))

    def _check_events(self) -> None:
        for index, item in self._each("events", "slug"):
            path = f"events[{index}]"
            start = _aware(item["start"], f"{path}.start", self.report)
            end = _aware(item["end"], f"{path}.end", self.report)
            if start and end and end <= start:
                self.report.error(f"{path}.end", f"end ({end.isoformat()}) must be after start.")
            self.parsed[("events", index)] = {"start": start, "end": end}

    def _check_areas(self) -> None:
        package_events = {item["slug"] for _, item in self.items("events")}
        tenant_events = set(Event.objects.filter(tenant=self.tenant).values_list("slug", flat=True))
        package_areas = {item["slug"] for _, item in self.items("areas")}
        tenant_areas = set(Area.objects.filter(tenant=self.tenant).values_list("slug", flat=True))
        parents = {item["slug"]: item.get("parent") for _, item in self.items("areas")}
        for index, item in self._each("areas", "slug"):
            path, slug = f"areas[{index}]", item["slug"]
            parent, event = item.get("parent"), item.get("event")
            chain = [slug]
            while parents.get(chain[-1]) in parents and parents[chain[-1]] not in chain:
                chain.append(parents[chain[-1]])
            if parent != slug and parents.get(chain[-1]) == slug:
                cycle = " -> ".join([*chain, slug])
                self.report.error(f"{path}.parent", f"Parent areas form a cycle: {cycle}.")
            if parent and parent not in package_areas | tenant_areas:
                self.report.error(f"{path}.parent", f"No area '{parent}' in the package or the tenant.")
            if parent == slug:
                self.report.error(f"{path}.parent", "An area cannot be its own parent.")
            if event and event not in package_events | tenant_events:
                self.report.error(f"{path}.event", f"No event '{event}' in the package or the tenant.")
            for name, unit in BAND_UNITS:
                self._check_bands(item.get(name), f"{path}.{name}", unit)
            self.parsed[("areas", index)] = {
                "valid_from": _aware(item.get("valid_from"), f"{path}.valid_from", self.report),
                "valid_to": _aware(item.get("valid_to"), f"{path}.valid_to", self.report),
            }
            if slug in self.measured or ("areas", slug) in self.failed:
                continue  # the importer's replacement wins
            if self.geometry_mode == "keep" and item["geometry"] is not None:
                try:
                    self.measured[slug] = measure(item["geometry"])
                except GeometryError as exc:
                    for message in exc.messages:
                        self.report.error(f"{path}.geometry", message)
                    self.failed.add(("areas", slug))

    def _check_sources(self) -> None:
        kinds = connector_kinds()
        package_areas = {item["slug"] for _, item in self.items("areas")}
        tenant_areas = set(Area.objects.filter(tenant=self.tenant).values_list("slug", flat=True))
        for index, item in self._each("sources", "slug"):
            path = f"sources[{index}]"
            connector = kinds.get(item["kind"])
            if connector is None:
                self.report.error(
                    f"{path}.kind",
                    f"Unknown connector kind '{item['kind']}'; this platform has: {', '.join(kinds)}.",
                )
                self.failed.add(("sources", item["slug"]))
            else:
                for message in connector.validate_config(item["config"]):
                    self.report.error(f"{path}.config", message)
                unknown = set(item.get("secrets_required") or []) - set(
                    connector.secret_schema.get("properties", {})
                )
                if unknown:
                    self.report.error(
                        f"{path}.secrets_required",
                        f"Connector '{item['kind']}' has no secret(s) {', '.join(sorted(unknown))}.",
                    )
            for k, area in enumerate(item.get("areas") or []):
                if area not in package_areas | tenant_areas:
                    self.report.error(f"{path}.areas[{k}]", f"No area '{area}' in the package or the tenant.")

    def _check_rules(self) -> None:
        package_areas = {item["slug"] for _, item in self.items("areas")}
        tenant_areas = set(Area.objects.filter(tenant=self.tenant).values_list("slug", flat=True))
        package_sources = {item["slug"] for _, item in self.items("sources")}
        tenant_sources = set(Source.objects.filter(tenant=self.tenant).values_list("slug", flat=True))
        for index, item in self._each("alert_rules", "name"):
            path = f"alert_rules[{index}]"
            area, source = item.get("area"), item.get("source")
            if area and area not in package_areas | tenant_areas:
                self.report.error(f"{path}.area", f"No area '{area}' in the package or the tenant.")
            if source and source not in package_sources | tenant_sources:
                self.report.error(f"{path}.source", f"No source '{source}' in the package or the tenant.")
            unknown = [r for r in item.get("notify_roles") or [] if r not in Role.values]
            if unknown:
                self.report.error(
                    f"{path}.notify_roles",
                    f"Unknown role(s) {', '.join(unknown)}; roles are {', '.join(Role.values)}.",
                )

    def _check_roles(self) -> None:
        for index, item in self.items("roles"):
            role = item["role"]
            if role not in Role.values:
                self.report.error(
                    f"roles[{index}].role", f"Unknown role '{role}'; roles are {', '.join(Role.values)}."
                )
                continue
            ours = sorted(str(c) for c in ROLE_CAPABILITIES[role])
            if "capabilities" in item and sorted(item["capabilities"]) != ours:
                self.report.warnings.append(
                    f"roles[{index}]: role '{role}' has the rights {', '.join(ours)} on this platform, "
                    f"not {', '.join(sorted(item['capabilities']))}."
                )

    # --- pass 3 -------------------------------------------------------------------------------------

    def apply(self) -> None:
        self._apply_settings()
        self._apply_crowd_levels()
        events = self._apply_events()
        areas = self._apply_areas(events)
        self._apply_interventions()
        sources = self._apply_sources(areas)
        self._apply_rules(areas, sources)
        self._report_roles()

    def _guarded(self, section: str, key: str, path: str, fn) -> None:
        """Run one object's write in a savepoint; a validation error is recorded with its JSON path."""
        try:
            with transaction.atomic():
                fn()
        except _SkipError as skip:
            self.report.add(section, key, path, SKIPPED, reason=str(skip))
        except (ValidationError, DRFValidationError) as exc:
            self.failed.add((section, key))
            for name, messages in _messages(exc).items():
                where = path if name in ("__all__", "non_field_errors") else f"{path}.{name}"
                for message in messages:
                    self.report.error(where, message)
        except IntegrityError as exc:
            self.failed.add((section, key))
            self.report.error(path, f"The database refused it: {exc}")

    def _apply_settings(self) -> None:
        wanted = {}
        for section in ("tenant_settings", "public_settings"):
            values = self.package.get(section)
            if isinstance(values, dict) and section not in self.bad_sections:
                wanted.update(
                    {
                        k: v
                        for k, v in values.items()
                        if k
                        in (
                            "time_zone",
                            "retention_days",
                            "map_tile_url",
                            "public_page_enabled",
                            "small_count_threshold",
                        )
                    }
                )
        if not wanted:
            return
        if not self.include_settings:
            reason = "settings: false keeps the tenant's own time zone, retention, map and public page"
            self.report.add("settings", self.tenant.slug, "tenant_settings", SKIPPED, reason=reason)
            return
        tenant = Tenant.objects.get(pk=self.tenant.pk)  # a fresh copy: a dry run must not touch the caller's
        changes = [k for k, v in wanted.items() if getattr(tenant, k) != v]

        def write():
            if changes:
                tenant_update(tenant=tenant, actor=self.actor, **{k: wanted[k] for k in changes})
            self.report.add(
                "settings",
                self.tenant.slug,
                "tenant_settings",
                CHANGED if changes else UNCHANGED,
                changes=changes,
            )

        self._guarded("settings", self.tenant.slug, "tenant_settings", write)

    def _apply_crowd_levels(self) -> None:
        levels = self.package.get("crowd_levels")
        if not isinstance(levels, dict) or "crowd_levels" in self.bad_sections:
            return
        current = CrowdLevelSettings.objects.filter(tenant=self.tenant).first()
        wanted = {}
        for name, unit in BAND_UNITS:
            if name in levels:
                value = levels[name]
                try:
                    wanted[name] = validate_bands(value, unit=unit) if value is not None else None
                except ValueError:
                    return  # reported in pass 2
        changes = [k for k, v in wanted.items() if (getattr(current, k) if current else None) != v]

        def write():
            if changes:
                crowd_level_settings_update(tenant=self.tenant, actor=self.actor, **wanted)
            self.report.add(
                "crowd_levels",
                self.tenant.slug,
                "crowd_levels",
                CHANGED if changes else UNCHANGED,
                changes=changes,
            )

        self._guarded("crowd_levels", self.tenant.slug, "crowd_levels", write)

    def _apply_events(self) -> dict[str, Event]:
        events = {e.slug: e for e in Event.objects.filter(tenant=self.tenant)}
        for index, item in self.items("events"):
            slug, path = item["slug"], f"events[{index}]"
            times = self.parsed.get(("events", index), {})
            if ("events", slug) in self.failed or not (times.get("start") and times.get("end")):
                continue
            data = {
                "name": item["name"],
                "description": item.get("description", ""),
                "start": times["start"],
                "end": times["end"],
                "expected_attendance": item.get("expected_attendance"),
                "organiser": item.get("organiser", ""),
            }

            def write(slug=slug, path=path, data=data):
                existing = events.get(slug)
                if existing is None:
                    events[slug] = event_create(
                        tenant=self.tenant, actor=self.actor, data={"slug": slug, **data}
                    )
                    self.report.add("events", slug, path, CREATED)
                    return
                changes = [k for k, v in data.items() if getattr(existing, k) != v]
                if changes:
                    events[slug] = event_update(event=existing, actor=self.actor, data=data)
                self.report.add("events", slug, path, CHANGED if changes else UNCHANGED, changes=changes)

            self._guarded("events", slug, path, write)
        return events

    def _area_data(self, index: int, item: dict, existing: Area | None, events, areas) -> dict:
        slug = item["slug"]
        parent, event = item.get("parent"), item.get("event")
        if parent in self.skipped_areas:
            raise _SkipError(f"its parent area '{parent}' is skipped")
        if parent and parent not in areas:
            raise _SkipError(f"its parent area '{parent}' was not imported")
        if event and event not in events:
            raise _SkipError(f"its event '{event}' was not imported")
        times = self.parsed.get(("areas", index), {})
        data = {
            "name": item["name"],
            "description": item.get("description", ""),
            "kind": item.get("kind", "permanent"),
            "capacity": item.get("capacity"),
            "valid_from": times.get("valid_from"),
            "valid_to": times.get("valid_to"),
            "tags": clean_tags(item.get("tags")),
            "parent": areas[parent] if parent else None,
            "event": events[event] if event else None,
            "density_bands": _bands(item.get("density_bands"), "persons/m²"),
            "capacity_bands": _bands(item.get("capacity_bands"), "% of capacity"),
        }
        # Packages from before flow levels have neither key: an existing area keeps its own.
        if "flow_bands" in item or existing is None:
            data["flow_bands"] = _bands(item.get("flow_bands"), "persons/min/m")
        if "flow_method" in item or existing is None:
            data["flow_method"] = item.get("flow_method") or "fruin"
        measured = self.measured.get(slug)
        usable = item.get("usable_surface_m2")
        if measured is not None:
            data["geometry"] = measured
            surface = item.get("surface_m2")
            if usable is not None and surface and abs(measured.surface_m2 - surface) > 0.01 * surface:
                # A re-placed geometry keeps the usable share of the surface (a beach without the sea).
                usable = min(usable / surface, 1.0) * measured.surface_m2
            data["usable_surface_m2"] = usable
        elif existing is None:
            raise _SkipError(
                f"no geometry: the package leaves it out; give one under geometries['{slug}'] to create it"
            )
        # Without geometry an existing area keeps its own shape and usable surface.
        return data

    @staticmethod
    def _area_changes(area: Area, data: dict) -> list[str]:
        changes = []
        for name, value in data.items():
            if name == "geometry":
                if area.geometry != value.geojson:
                    changes.append("geometry")
            elif name in ("parent", "event"):
                if getattr(area, f"{name}_id") != (value.pk if value else None):
                    changes.append(name)
            elif name == "usable_surface_m2":
                old = area.usable_surface_m2
                if (old is None) != (value is None) or (old is not None and abs(old - value) > 0.01):
                    changes.append(name)
            elif getattr(area, name) != value:
                changes.append(name)
        if area.archived_at is not None:
            changes.append("archived")
        return changes

    def _apply_areas(self, events: dict[str, Event]) -> dict[str, Area]:
        areas = {a.slug: a for a in Area.objects.filter(tenant=self.tenant).select_related("parent")}
        package_items = self.items("areas")
        ordered = _parents_first(package_items)
        for index, item in ordered:
            slug, path = item["slug"], f"areas[{index}]"
            if ("areas", slug) in self.failed:
                continue

            def write(index=index, item=item, slug=slug, path=path):
                existing = areas.get(slug)
                try:
                    data = self._area_data(index, item, existing, events, areas)
                except _SkipError:
                    self.skipped_areas.add(slug)
                    raise
                if existing is None:
                    areas[slug] = area_create(
                        tenant=self.tenant, actor=self.actor, data={"slug": slug, **data}
                    )
                    self.report.add("areas", slug, path, CREATED)
                    return
                changes = self._area_changes(existing, data)
                if changes:
                    data["is_archived"] = False  # importing a slug brings an archived area back
                    areas[slug] = area_update(area=existing, actor=self.actor, data=data)
                self.report.add("areas", slug, path, CHANGED if changes else UNCHANGED, changes=changes)

            self._guarded("areas", slug, path, write)
        return areas

    def _apply_interventions(self) -> None:
        items = self.items("interventions")
        if not items:
            return
        ensure_default_interventions(tenant=self.tenant)
        existing = {i.slug: i for i in InterventionType.objects.filter(tenant=self.tenant)}
        defaults = {slug for slug, _ in DEFAULT_INTERVENTIONS}
        for index, item in items:
            slug, path = item["slug"], f"interventions[{index}]"
            if ("interventions", slug) in self.failed:
                continue

            def write(slug=slug, path=path, item=item):
                measure_type = existing.get(slug)
                archived = bool(item.get("archived", False))
                wanted = {"name": item["name"], "description": item.get("description", "")}
                if measure_type is None:
                    measure_type = InterventionType(
                        tenant=self.tenant, slug=slug, is_default=slug in defaults
                    )
                    changes = None
                else:
                    changes = [k for k, v in wanted.items() if getattr(measure_type, k) != v]
                    if (measure_type.archived_at is not None) != archived:
                        changes.append("archived")
                    if not changes:
                        self.report.add("interventions", slug, path, UNCHANGED)
                        return
                for name, value in wanted.items():
                    setattr(measure_type, name, value)
                if archived != (measure_type.archived_at is not None):
                    measure_type.archived_at = timezone.now() if archived else None
                measure_type.full_clean()
                measure_type.save()
                self.report.add(
                    "interventions",
                    slug,
                    path,
                    CREATED if changes is None else CHANGED,
                    changes=changes or (),
                )

            self._guarded("interventions", slug, path, write)

    def _apply_sources(self, areas: dict[str, Area]) -> dict[str, Source]:
        sources = {s.slug: s for s in Source.objects.filter(tenant=self.tenant).prefetch_related("areas")}
        for index, item in self.items("sources"):
            slug, path = item["slug"], f"sources[{index}]"
            if ("sources", slug) in self.failed:
                continue

            def write(slug=slug, path=path, item=item):
                linked = [a for a in item.get("areas") or [] if a in areas]
                left_out = [a for a in item.get("areas") or [] if a not in areas]
                required = sorted(set(item.get("secrets_required") or []))
                given = self.secrets.get(slug)
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
                    self.report.secrets_required.append({"source": slug, "path": path, "secrets": missing})
                if left_out:
                    reason = "; ".join(
                        filter(None, [reason, f"not linked to skipped area(s) {', '.join(left_out)}"])
                    )
                area_objects = [areas[a] for a in linked]
                if existing is None:
                    sources[slug] = source_create(
                        tenant=self.tenant,
                        actor=self.actor,
                        data={"slug": slug, **data, "areas": area_objects, "secrets": given or {}},
                    )
                    self.report.add("sources", slug, path, CREATED, reason=reason)
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
                    sources[slug] = source_update(source=existing, actor=self.actor, data=update)
                self.report.add(
                    "sources", slug, path, CHANGED if changes else UNCHANGED, changes=changes, reason=reason
                )

            self._guarded("sources", slug, path, write)
        return sources

    def _apply_rules(self, areas: dict[str, Area], sources: dict[str, Source]) -> None:
        rules: dict[str, AlertRule] = {}
        for rule in AlertRule.objects.filter(tenant=self.tenant).order_by("pk"):
            rules.setdefault(rule.name, rule)
        for index, item in self.items("alert_rules"):
            name, path = item["name"], f"alert_rules[{index}]"
            if ("alert_rules", name) in self.failed:
                continue

            def write(name=name, path=path, item=item):
                area, source = item.get("area"), item.get("source")
                if area in self.skipped_areas:
                    raise _SkipError(f"its area '{area}' is skipped")
                if (area and area not in areas) or (source and source not in sources):
                    raise _SkipError("an area or source it names was not imported")
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
                    rules[name] = alert_rule_save(tenant=self.tenant, actor=self.actor, data=data)
                    self.report.add("alert_rules", name, path, CREATED)
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
                    alert_rule_save(tenant=self.tenant, actor=self.actor, data=data, rule=existing)
                self.report.add("alert_rules", name, path, CHANGED if changes else UNCHANGED, changes=changes)

            self._guarded("alert_rules", name, path, write)

    def _report_roles(self) -> None:
        for index, item in self.items("roles"):
            if item["role"] not in Role.values:
                continue
            members = item.get("members")
            self.report.add(
                "roles",
                item["role"],
                f"roles[{index}]",
                SKIPPED,
                reason=(
                    "members are invited one by one, never imported"
                    + (f" ({members} in the source tenant)" if isinstance(members, int) else "")
                    + "; the role's rights are the platform's"
                ),
            )


def _parents_first(items: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    by_slug = {item["slug"]: (index, item) for index, item in items}
    ordered, state = [], {}

    def visit(entry, depth=0):
        _index, item = entry
        if state.get(item["slug"]):
            return
        state[item["slug"]] = True
        parent = item.get("parent")
        if parent in by_slug and parent != item["slug"] and depth < len(items):
            visit(by_slug[parent], depth + 1)
        ordered.append(entry)

    for entry in items:
        visit(entry)
    return ordered
