"""The areas app's sections of a configuration package: crowd levels, events and areas.

configpkg registers ``SECTIONS`` (configpkg/apps.py); this module imports nothing from configpkg. Each
hook gets the importer's context, of the shape ``configpkg.sections.ImportContext`` describes.

Areas are matched by slug. Geometry comes from the package (import option ``geometry: keep``) unless
the importer gives a replacement (``geometries``); an area without any geometry that the tenant does not
have yet is skipped, and so are its sub-areas.
"""

from datetime import datetime

from django.utils.dateparse import parse_datetime

from .geometry import GeometryError, MeasuredGeometry, measure
from .levels import validate_bands
from .models import Area, CrowdLevelSettings, Event
from .services import area_create, area_update, crowd_level_settings_update, event_create, event_update

BAND_UNITS = (
    ("density_bands", "persons/m²"),
    ("capacity_bands", "% of capacity"),
    ("flow_bands", "persons/min/m"),
)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _aware(ctx, value, path: str) -> datetime | None:
    """A package timestamp as an aware datetime; a problem is reported under ``path``."""
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, such as month 13
        parsed = None
    if parsed is None:
        ctx.report.error(path, f"{value!r} is not an ISO 8601 timestamp.")
    elif parsed.tzinfo is None:
        ctx.report.error(
            path, f"Timestamp {value!r} has no time zone; add 'Z' or an offset such as '+02:00'."
        )
        return None
    return parsed


def _check_bands(ctx, bands, path: str, unit: str) -> None:
    if isinstance(bands, dict):
        try:
            validate_bands(bands, unit=unit)
        except ValueError as exc:
            ctx.report.error(path, str(exc))


def _bands(value, unit: str) -> dict | None:
    """Bands as the areas app stores them (floats); checked already in ``validate``."""
    return validate_bands(value, unit=unit) if isinstance(value, dict) else None


def clean_tags(values) -> list[str]:
    """Tags lower-cased and stripped, each once, in their first order (areas, and the library's templates)."""
    cleaned = []
    for tag in values or []:
        tag = tag.strip().lower()
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return cleaned


class CrowdLevelsSection:
    """``crowd_levels``: the tenant's density, capacity and flow bands."""

    name = "crowd_levels"
    keys = ("crowd_levels",)
    depends_on = ()
    order = 20

    def export(self, *, tenant, include_geometry: bool) -> dict:
        settings = CrowdLevelSettings.objects.filter(tenant=tenant).first()
        return {
            "crowd_levels": {
                "density_bands": settings.density_bands if settings else None,
                "capacity_bands": settings.capacity_bands if settings else None,
                "flow_bands": settings.flow_bands if settings else None,
            }
        }

    def check_options(self, ctx) -> None:
        pass

    def validate(self, ctx) -> None:
        levels = ctx.package.get("crowd_levels") or {}
        if isinstance(levels, dict):
            for name, unit in BAND_UNITS:
                _check_bands(ctx, levels.get(name), f"crowd_levels.{name}", unit)

    def apply(self, ctx) -> None:
        levels = ctx.package.get("crowd_levels")
        if not isinstance(levels, dict) or "crowd_levels" in ctx.bad_sections:
            return
        current = CrowdLevelSettings.objects.filter(tenant=ctx.tenant).first()
        wanted = {}
        for name, unit in BAND_UNITS:
            if name in levels:
                value = levels[name]
                try:
                    wanted[name] = validate_bands(value, unit=unit) if value is not None else None
                except ValueError:
                    return  # reported by validate
        changes = [k for k, v in wanted.items() if (getattr(current, k) if current else None) != v]
        slug = ctx.tenant.slug

        def write():
            if changes:
                crowd_level_settings_update(tenant=ctx.tenant, actor=ctx.actor, **wanted)
            action = "changed" if changes else "unchanged"
            ctx.report.add(self.name, slug, "crowd_levels", action, changes=changes)

        ctx.guarded(self.name, slug, "crowd_levels", write)

    def tenant_keys(self, tenant) -> set[str]:
        return set()


class EventsSection:
    """``events``: planned events (matched by slug), which event zones and forecasts refer to."""

    name = "events"
    keys = ("events",)
    depends_on = ()
    order = 30

    def export(self, *, tenant, include_geometry: bool) -> dict:
        return {
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
                for e in Event.objects.filter(tenant=tenant).order_by("slug")
            ]
        }

    def check_options(self, ctx) -> None:
        pass

    def validate(self, ctx) -> None:
        times = ctx.state.setdefault(self.name, {})
        for index, item in ctx.each("events"):
            path = f"events[{index}]"
            start = _aware(ctx, item["start"], f"{path}.start")
            end = _aware(ctx, item["end"], f"{path}.end")
            if start and end and end <= start:
                ctx.report.error(f"{path}.end", f"end ({end.isoformat()}) must be after start.")
            times[index] = {"start": start, "end": end}

    def apply(self, ctx) -> None:
        events = {e.slug: e for e in Event.objects.filter(tenant=ctx.tenant)}
        ctx.results["events"] = events
        parsed = ctx.state.get(self.name, {})
        for index, item in ctx.items("events"):
            slug, path = item["slug"], f"events[{index}]"
            times = parsed.get(index, {})
            if ("events", slug) in ctx.failed or not (times.get("start") and times.get("end")):
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
                        tenant=ctx.tenant, actor=ctx.actor, data={"slug": slug, **data}
                    )
                    ctx.report.add("events", slug, path, "created")
                    return
                changes = [k for k, v in data.items() if getattr(existing, k) != v]
                if changes:
                    events[slug] = event_update(event=existing, actor=ctx.actor, data=data)
                ctx.report.add("events", slug, path, "changed" if changes else "unchanged", changes=changes)

            ctx.guarded("events", slug, path, write)

    def tenant_keys(self, tenant) -> set[str]:
        return set(Event.objects.filter(tenant=tenant).values_list("slug", flat=True))


class AreasSection:
    """``areas``: areas and event zones with geometry, capacity, bands, parent area and event."""

    name = "areas"
    keys = ("areas",)
    depends_on = ("events",)
    order = 40

    # --- export -------------------------------------------------------------------------------------

    def export(self, *, tenant, include_geometry: bool) -> dict:
        areas = _models_parents_first(
            list(
                Area.objects.filter(tenant=tenant, archived_at__isnull=True)
                .select_related("parent", "event")
                .order_by("slug")
            )
        )
        return {"areas": [_area_entry(a, include_geometry=include_geometry) for a in areas]}

    # --- checks -------------------------------------------------------------------------------------

    def check_options(self, ctx) -> None:
        measured = _measured(ctx)
        package_areas = ctx.package_keys("areas")
        if not isinstance(ctx.geometries, dict):
            ctx.report.error("geometries", "Give an object: area slug -> GeoJSON Polygon or MultiPolygon.")
            ctx.geometries = {}
        for slug, geometry in ctx.geometries.items():
            if slug not in package_areas:
                ctx.report.error(f"geometries.{slug}", f"No area '{slug}' in the package.")
                continue
            try:
                measured[slug] = measure(geometry)
            except GeometryError as exc:
                for message in exc.messages:
                    ctx.report.error(f"geometries.{slug}", message)
                ctx.failed.add(("areas", slug))

    def validate(self, ctx) -> None:
        measured, times = _measured(ctx), _times(ctx)
        known_events = ctx.known_keys("events")
        known_areas = ctx.known_keys("areas")
        parents = {item["slug"]: item.get("parent") for _, item in ctx.items("areas")}
        for index, item in ctx.each("areas"):
            path, slug = f"areas[{index}]", item["slug"]
            parent, event = item.get("parent"), item.get("event")
            chain = [slug]
            while parents.get(chain[-1]) in parents and parents[chain[-1]] not in chain:
                chain.append(parents[chain[-1]])
            if parent != slug and parents.get(chain[-1]) == slug:
                cycle = " -> ".join([*chain, slug])
                ctx.report.error(f"{path}.parent", f"Parent areas form a cycle: {cycle}.")
            if parent and parent not in known_areas:
                ctx.report.error(f"{path}.parent", f"No area '{parent}' in the package or the tenant.")
            if parent == slug:
                ctx.report.error(f"{path}.parent", "An area cannot be its own parent.")
            if event and event not in known_events:
                ctx.report.error(f"{path}.event", f"No event '{event}' in the package or the tenant.")
            for name, unit in BAND_UNITS:
                _check_bands(ctx, item.get(name), f"{path}.{name}", unit)
            times[index] = {
                "valid_from": _aware(ctx, item.get("valid_from"), f"{path}.valid_from"),
                "valid_to": _aware(ctx, item.get("valid_to"), f"{path}.valid_to"),
            }
            if slug in measured or ("areas", slug) in ctx.failed:
                continue  # the importer's replacement wins
            if ctx.geometry_mode == "keep" and item["geometry"] is not None:
                try:
                    measured[slug] = measure(item["geometry"])
                except GeometryError as exc:
                    for message in exc.messages:
                        ctx.report.error(f"{path}.geometry", message)
                    ctx.failed.add(("areas", slug))

    # --- apply --------------------------------------------------------------------------------------

    def apply(self, ctx) -> None:
        areas = {a.slug: a for a in Area.objects.filter(tenant=ctx.tenant).select_related("parent")}
        ctx.results["areas"] = areas
        events = ctx.results["events"]
        for index, item in _items_parents_first(ctx.items("areas")):
            slug, path = item["slug"], f"areas[{index}]"
            if ("areas", slug) in ctx.failed:
                continue

            def write(index=index, item=item, slug=slug, path=path):
                existing = areas.get(slug)
                data = self._data(ctx, index, item, existing, events, areas)
                if existing is None:
                    areas[slug] = area_create(tenant=ctx.tenant, actor=ctx.actor, data={"slug": slug, **data})
                    ctx.report.add("areas", slug, path, "created")
                    return
                changes = _area_changes(existing, data)
                if changes:
                    data["is_archived"] = False  # importing a slug brings an archived area back
                    areas[slug] = area_update(area=existing, actor=ctx.actor, data=data)
                ctx.report.add("areas", slug, path, "changed" if changes else "unchanged", changes=changes)

            ctx.guarded("areas", slug, path, write)

    def _data(self, ctx, index: int, item: dict, existing: Area | None, events, areas) -> dict:
        slug = item["slug"]
        parent, event = item.get("parent"), item.get("event")
        if parent in ctx.skipped["areas"]:
            ctx.skip(f"its parent area '{parent}' is skipped")
        if parent and parent not in areas:
            ctx.skip(f"its parent area '{parent}' was not imported")
        if event and event not in events:
            ctx.skip(f"its event '{event}' was not imported")
        times = _times(ctx).get(index, {})
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
        measured = _measured(ctx).get(slug)
        usable = item.get("usable_surface_m2")
        if measured is not None:
            data["geometry"] = measured
            surface = item.get("surface_m2")
            if usable is not None and surface and abs(measured.surface_m2 - surface) > 0.01 * surface:
                # A re-placed geometry keeps the usable share of the surface (a beach without the sea).
                usable = min(usable / surface, 1.0) * measured.surface_m2
            data["usable_surface_m2"] = usable
        elif existing is None:
            ctx.skip(
                f"no geometry: the package leaves it out; give one under geometries['{slug}'] to create it"
            )
        # Without geometry an existing area keeps its own shape and usable surface.
        return data

    def tenant_keys(self, tenant) -> set[str]:
        return set(Area.objects.filter(tenant=tenant).values_list("slug", flat=True))


def _measured(ctx) -> dict[str, MeasuredGeometry]:
    """Area slug -> the geometry to use (a replacement from the options, else the package's)."""
    return ctx.state.setdefault("areas", {}).setdefault("measured", {})


def _times(ctx) -> dict[int, dict]:
    """Item index -> its parsed ``valid_from`` and ``valid_to``."""
    return ctx.state.setdefault("areas", {}).setdefault("times", {})


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


def _models_parents_first(areas: list[Area]) -> list[Area]:
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


def _items_parents_first(items: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """The package's area items with every parent before its sub-areas (cycles were reported already)."""
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


SECTIONS = (CrowdLevelsSection(), EventsSection(), AreasSection())
