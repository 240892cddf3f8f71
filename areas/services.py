"""Writes of the areas app: areas and event zones, GeoJSON import, events and their organisers, bands."""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm
from rest_framework.exceptions import ValidationError as DRFValidationError

from tenants.choices import Role
from tenants.models import Membership, Tenant

from .buildings import BuildingsRead
from .choices import AreaKind
from .geometry import MeasuredGeometry
from .models import Area, BuildingLayer, CrowdLevelSettings, Event
from .selectors import area_has_history, event_organisers

User = get_user_model()
ORGANISER_PERMISSIONS = ("view_event", "change_event")


def _tag_index(tags: list[str]) -> str:
    """``|tag|tag|``, lower-cased: tags compare case-insensitively on every database (PostgreSQL's LIKE does
    not ignore case), whoever wrote them (the API lower-cases them, a service caller may not)."""
    return "|" + "|".join(tag.strip().lower() for tag in tags) + "|" if tags else ""


def _check_area_invariants(area: Area) -> None:
    """Rules across fields: windows, events, parents and usable surface. Raises ValidationError."""
    errors: dict[str, list[str]] = {}
    if area.kind == AreaKind.PERMANENT:
        if area.valid_from or area.valid_to:
            errors.setdefault("valid_from", []).append(
                "Only temporary zones have an active window; use kind 'temporary' or leave it empty."
            )
        if area.event_id:
            errors.setdefault("event", []).append("Only temporary zones belong to an event.")
    else:
        if not (area.valid_from and area.valid_to):
            errors.setdefault("valid_to", []).append(
                "A temporary zone needs valid_from and valid_to (or an event whose times it takes)."
            )
    if area.valid_from and area.valid_to and area.valid_to <= area.valid_from:
        errors.setdefault("valid_to", []).append(
            f"valid_to ({area.valid_to.isoformat()}) must be after "
            f"valid_from ({area.valid_from.isoformat()})."
        )
    if area.parent_id:
        if area.pk and area.parent_id == area.pk:
            errors.setdefault("parent", []).append("An area cannot be its own parent.")
        else:
            seen, ancestor = {area.pk}, area.parent
            while ancestor is not None:
                if ancestor.pk in seen:
                    errors.setdefault("parent", []).append(
                        f"Parent '{area.parent.slug}' would make a cycle of parent areas."
                    )
                    break
                seen.add(ancestor.pk)
                ancestor = ancestor.parent
            if area.parent.archived_at and not area.archived_at:
                errors.setdefault("parent", []).append(f"Parent '{area.parent.slug}' is archived.")
    if area.usable_surface_m2 is not None:
        if area.usable_surface_m2 <= 0:
            errors.setdefault("usable_surface_m2", []).append("The usable surface must be positive.")
        elif area.usable_surface_m2 > area.surface_m2 * 1.0001:
            errors.setdefault("usable_surface_m2", []).append(
                f"The usable surface ({area.usable_surface_m2:.0f} m²) cannot exceed the area's surface "
                f"({area.surface_m2:.0f} m²)."
            )
    if errors:
        raise ValidationError(errors)


def _apply(area: Area, data: dict) -> Area:
    measured: MeasuredGeometry | None = data.pop("geometry", None)
    archived = data.pop("is_archived", None)
    for name, value in data.items():
        setattr(area, name, value)
    if measured is not None:
        area.geometry = measured.geojson
        area.surface_m2 = measured.surface_m2
        area.min_lon, area.min_lat, area.max_lon, area.max_lat = measured.bbox
        area.centroid_lon, area.centroid_lat = measured.centroid
    if "tags" in data:
        area.tag_index = _tag_index(area.tags)
    if archived is not None:
        area.archived_at = (area.archived_at or timezone.now()) if archived else None
    if area.kind == AreaKind.TEMPORARY and area.event_id:
        # A zone without its own window lives as long as its event.
        area.valid_from = area.valid_from or area.event.start
        area.valid_to = area.valid_to or area.event.end
    _check_area_invariants(area)
    area.full_clean(exclude=["geometry"])
    area.save()
    return area


@transaction.atomic
def area_create(*, tenant: Tenant, actor, data: dict) -> Area:
    """Create an area or event zone from validated data (geometry already measured)."""
    return _apply(Area(tenant=tenant), dict(data))


@transaction.atomic
def area_update(*, area: Area, actor, data: dict) -> Area:
    """Change an area; unspecified fields keep their value."""
    return _apply(area, dict(data))


@transaction.atomic
def area_delete(*, area: Area, actor) -> str:
    """Delete an area, or archive it when anything refers to it (its history stays readable).

    Returns ``"deleted"`` or ``"archived"``.
    """
    if area_has_history(area):
        if area.archived_at is None:
            area.archived_at = timezone.now()
            area.save(update_fields=["archived_at", "updated_at"])
        return "archived"
    area.delete()
    return "deleted"


@dataclass
class ImportResult:
    """What a GeoJSON import did (or would do, on a dry run)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    ignored_properties: dict[str, list[str]] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    dry_run: bool = False


class _RollbackImportError(Exception):
    """Raised inside the import transaction to undo a dry run or a failed import."""


def areas_import(
    *, tenant: Tenant, actor, features: list[dict], validate, dry_run: bool = False
) -> ImportResult:
    """Create or update areas by slug from parsed features, all or nothing.

    ``features`` are dicts with ``index``, ``slug``, ``properties`` (raw) and ``ignored``; ``validate``
    is ``(properties, instance) -> validated data`` and raises a DRF/Django ValidationError. Features
    are applied parents first, so a feature may name another feature of the same import as parent.
    """
    result = ImportResult(dry_run=dry_run)
    try:
        with transaction.atomic():
            for feature in _parents_first(features, result):
                existing = Area.objects.filter(tenant=tenant, slug=feature["slug"]).first()
                try:
                    with transaction.atomic():
                        data = validate(feature["properties"], existing)
                        if existing is None:
                            area_create(tenant=tenant, actor=actor, data=data)
                            result.created.append(feature["slug"])
                        else:
                            data.setdefault(
                                "is_archived", False
                            )  # importing a slug brings an archived area back
                            area_update(area=existing, actor=actor, data=data)
                            result.updated.append(feature["slug"])
                except (ValidationError, DRFValidationError) as exc:
                    result.errors.append(_row_error(feature, error_dict(exc)))
                if feature["ignored"]:
                    result.ignored_properties[feature["slug"]] = feature["ignored"]
            if result.errors or dry_run:
                raise _RollbackImportError
    except _RollbackImportError:
        if result.errors:
            result.created, result.updated = [], []
    return result


def error_dict(exc: Exception) -> dict:
    """Field -> messages from a Django or DRF ValidationError."""
    if isinstance(exc, DRFValidationError):
        return exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}


def _row_error(feature: dict, errors: dict) -> dict:
    return {"feature": feature["index"], "slug": feature["slug"], "errors": errors}


def _parents_first(features: list[dict], result: ImportResult) -> list[dict]:
    by_slug = {f["slug"]: f for f in features}
    ordered, state = [], {}

    def visit(feature, chain):
        slug = feature["slug"]
        if state.get(slug) == "done":
            return
        if state.get(slug) == "visiting":
            cycle = " -> ".join([*chain, slug])
            result.errors.append(_row_error(feature, {"parent": [f"Parent areas form a cycle: {cycle}."]}))
            return
        state[slug] = "visiting"
        parent = feature["properties"].get("parent")
        if isinstance(parent, str) and parent in by_slug and parent != slug:
            visit(by_slug[parent], [*chain, slug])
        state[slug] = "done"
        ordered.append(feature)

    for feature in features:
        visit(feature, [])
    return ordered


@transaction.atomic
def crowd_level_settings_update(*, tenant: Tenant, actor, **bands) -> CrowdLevelSettings:
    """Set or clear (None) the tenant's own density, capacity and flow bands."""
    settings, _ = CrowdLevelSettings.objects.get_or_create(tenant=tenant)
    for name, value in bands.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def _check_event(event: Event) -> None:
    if event.end and event.start and event.end <= event.start:
        raise ValidationError(
            {"end": [f"end ({event.end.isoformat()}) must be after start ({event.start.isoformat()})."]}
        )


@transaction.atomic
def event_create(*, tenant: Tenant, actor, data: dict) -> Event:
    organisers = data.pop("organisers", None)
    event = Event(tenant=tenant, **data)
    _check_event(event)
    event.full_clean()
    event.save()
    if organisers is not None:
        event_set_organisers(event=event, actor=actor, usernames=organisers)
    return event


@transaction.atomic
def event_update(*, event: Event, actor, data: dict) -> Event:
    organisers = data.pop("organisers", None)
    for name, value in data.items():
        setattr(event, name, value)
    _check_event(event)
    event.full_clean()
    event.save()
    if organisers is not None:
        event_set_organisers(event=event, actor=actor, usernames=organisers)
    return event


class EventHasZonesError(Exception):
    """An event with zones cannot be deleted."""


@transaction.atomic
def event_delete(*, event: Event, actor) -> None:
    zones = list(event.zones.values_list("slug", flat=True))
    if zones:
        raise EventHasZonesError(
            f"Event '{event.slug}' still has {len(zones)} zone(s): {', '.join(zones[:10])}. "
            "Delete or archive them first."
        )
    event.delete()


@transaction.atomic
def event_set_organisers(*, event: Event, actor, usernames: list[str]) -> list[str]:
    """Grant exactly these organiser users the event (and so its zones); revoke everyone else."""
    wanted = list(dict.fromkeys(usernames))
    memberships = {
        m.user.username: m
        for m in Membership.objects.filter(tenant=event.tenant, user__username__in=wanted).select_related(
            "user"
        )
    }
    problems = []
    for username in wanted:
        membership = memberships.get(username)
        if membership is None or not membership.is_active:
            problems.append(f"'{username}' is not an active member of {event.tenant.name}.")
        elif membership.role != Role.ORGANISER:
            problems.append(
                f"'{username}' has role '{membership.role}'; only event organisers are assigned to events."
            )
    if problems:
        raise ValidationError({"organisers": problems})
    current = set(event_organisers(events=[event])[event.pk])
    for username in current - set(wanted):
        user = User.objects.get(username=username)
        for perm in ORGANISER_PERMISSIONS:
            remove_perm(perm, user, event)
    for username in set(wanted) - current:
        user = memberships[username].user
        for perm in ORGANISER_PERMISSIONS:
            assign_perm(perm, user, event)
    return sorted(wanted)


@transaction.atomic
def building_layer_replace(*, tenant: Tenant, actor, read: BuildingsRead) -> BuildingLayer:
    """Replace the tenant's building footprints with a validated upload (an empty one clears the layer)."""
    layer, _ = BuildingLayer.objects.update_or_create(
        tenant=tenant,
        defaults={
            "geojson": {"type": "FeatureCollection", "features": read.features},
            "feature_count": len(read.features),
            "bbox": read.bbox,
            "uploaded_at": timezone.now(),
        },
    )
    return layer
