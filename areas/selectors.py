"""Reads of the areas app: what a member may see, filtered lists, GeoJSON and effective crowd bands."""

from datetime import datetime

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import OuterRef, Q, QuerySet, Subquery
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_objects_for_user

from tenants.choices import Capability, role_has
from tenants.models import Membership, Tenant

from .choices import AreaKind
from .levels import DEFAULT_CAPACITY_BANDS, DEFAULT_DENSITY_BANDS
from .models import Area, AreaForecast, BuildingLayer, CrowdLevelSettings, Event

ORGANISER_VIEW = "areas.view_event"
ORGANISER_CHANGE = "areas.change_event"


def crowd_level_settings_get(*, tenant: Tenant) -> CrowdLevelSettings | None:
    """The tenant's own bands, or None when it uses the defaults."""
    return CrowdLevelSettings.objects.filter(tenant=tenant).first()


def tenant_bands(*, tenant: Tenant) -> tuple[dict, dict]:
    """(density bands, capacity bands) in force for the tenant's areas without their own."""
    settings = crowd_level_settings_get(tenant=tenant)
    density = (settings and settings.density_bands) or DEFAULT_DENSITY_BANDS
    capacity = (settings and settings.capacity_bands) or DEFAULT_CAPACITY_BANDS
    return density, capacity


def event_list(*, membership: Membership, permission: str = ORGANISER_VIEW) -> QuerySet[Event]:
    """Events the member may see: all of them with the 'view' right, else those granted (organisers)."""
    events = Event.objects.filter(tenant=membership.tenant)
    if role_has(membership.role, Capability.VIEW) and permission == ORGANISER_VIEW:
        return events
    if role_has(membership.role, Capability.MANAGE):
        return events
    if role_has(membership.role, Capability.EVENTS):
        return get_objects_for_user(
            membership.user, permission, klass=events, accept_global_perms=False, with_superuser=False
        )
    return events.none()


def area_list(
    *,
    membership: Membership,
    active_at: datetime | None = None,
    kind: str | None = None,
    tag: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    event: str | None = None,
    parent: str | None = None,
    q: str | None = None,
    archived: str = "false",
) -> QuerySet[Area]:
    """Areas the member may see, filtered. Organisers see only the zones of their own events."""
    areas = Area.objects.filter(tenant=membership.tenant).select_related("parent", "event")
    if not role_has(membership.role, Capability.VIEW):
        areas = areas.filter(event__in=event_list(membership=membership))
    if archived == "false":
        areas = areas.filter(archived_at__isnull=True)
    elif archived == "true":
        areas = areas.filter(archived_at__isnull=False)
    if active_at is not None:
        in_window = (Q(valid_from__isnull=True) | Q(valid_from__lte=active_at)) & (
            Q(valid_to__isnull=True) | Q(valid_to__gt=active_at)
        )
        areas = areas.filter(Q(kind=AreaKind.PERMANENT) | in_window)
    if kind:
        areas = areas.filter(kind=kind)
    if tag:
        areas = areas.filter(tag_index__contains=f"|{tag.strip().lower()}|")
    if bbox:
        min_lon, min_lat, max_lon, max_lat = bbox
        areas = areas.filter(
            max_lon__gte=min_lon, min_lon__lte=max_lon, max_lat__gte=min_lat, min_lat__lte=max_lat
        )
    if event:
        areas = areas.filter(event__slug=event)
    if parent:
        areas = areas.filter(parent__slug=parent)
    if q:
        areas = areas.filter(Q(name__icontains=q) | Q(slug__icontains=q))
    return areas.order_by("name", "pk")


def event_organisers(*, events: list[Event]) -> dict[int, list[str]]:
    """Usernames granted each event (one query for the whole page)."""
    if not events:
        return {}
    content_type = ContentType.objects.get_for_model(Event)
    grants = (
        UserObjectPermission.objects.filter(
            content_type=content_type,
            permission__codename="view_event",
            object_pk__in=[str(e.pk) for e in events],
        )
        .select_related("user")
        .order_by("user__username")
    )
    result: dict[int, list[str]] = {e.pk: [] for e in events}
    for grant in grants:
        result[int(grant.object_pk)].append(grant.user.username)
    return result


def event_permissions() -> list[Permission]:
    """The object rights an organiser gets on its events."""
    return list(
        Permission.objects.filter(
            content_type__app_label="areas", codename__in=["view_event", "change_event"]
        )
    )


def area_has_history(area: Area) -> bool:
    """True when anything refers to the area (sub-areas, series, alerts, action log...): it is archived,
    not deleted. Generic over reverse relations, so apps added later count without changes here."""
    for relation in Area._meta.related_objects:
        accessor = relation.get_accessor_name()
        if relation.one_to_one:
            if relation.related_model._default_manager.filter(**{relation.field.name: area}).exists():
                return True
        elif getattr(area, accessor).exists():
            return True
    return False


def building_layer_get(*, tenant: Tenant) -> BuildingLayer | None:
    """The tenant's building footprints, or None when none were uploaded."""
    return BuildingLayer.objects.filter(tenant=tenant).first()


def latest_forecasts(*, areas, issued_by: datetime | None = None) -> dict[int, AreaForecast]:
    """``{area id: its latest stored forecast}`` for ``areas`` (a list or queryset), in one query; areas
    without one are left out. ``issued_by``: the latest issued at or before that moment (an action's
    counterfactual). The one place that decides "the latest forecast": newest ``issued_at``, then newest row.
    Nothing is computed here (beat refreshes forecasts, ``areas.forecasts.area_forecast`` on demand)."""
    ids = [a.pk for a in areas]
    if not ids:
        return {}
    candidates = AreaForecast.objects.filter(area=OuterRef("pk"))
    if issued_by is not None:
        candidates = candidates.filter(issued_at__lte=issued_by)
    latest = candidates.order_by("-issued_at", "-pk").values("pk")[:1]
    chosen = Area.objects.filter(pk__in=ids).annotate(latest=Subquery(latest)).values("latest")
    return {f.area_id: f for f in AreaForecast.objects.filter(pk__in=chosen)}
