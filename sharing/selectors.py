"""Reads of the sharing app: agreements of a tenant, and the areas an active agreement shares.

The one place where a tenant's request reads another tenant's data: :func:`shared_areas` switches to the
provider's scope for exactly the areas of agreements that are accepted and valid now, and to nothing else.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from areas.forecasts import forecast_properties, trusted
from areas.models import Area
from areas.selectors import latest_forecasts
from areas.status import MAP_STATUS_KEYS, area_statuses
from incidents.models import ActionLogEntry, Alert
from sources.models import Series
from tenants.models import ApiToken, Tenant
from tenants.scoping import tenant_scope

from .choices import AgreementState, ShareKind
from .models import JointOperation, OperationDuty, OperationLogLink, OperationParticipant, SharingAgreement


def agreement_list(*, tenant: Tenant, side: str | None = None, status: str | None = None) -> QuerySet:
    """Agreements ``tenant`` offered or received (``side``: 'provider' or 'recipient'), newest first."""
    agreements = SharingAgreement.objects.filter(parties=tenant).select_related(
        "provider", "recipient", "operation", "offered_by", "responded_by", "ended_by", "ended_by_tenant"
    )
    if side == "provider":
        agreements = agreements.filter(provider=tenant)
    elif side == "recipient":
        agreements = agreements.filter(recipient=tenant)
    if status:
        agreements = _with_status(agreements, status, timezone.now())
    return agreements.order_by("-offered_at", "-id")


def _valid_now(agreements: QuerySet, now: datetime) -> QuerySet:
    """Of ``agreements``, those accepted and within their window at ``now``: the only ones that share."""
    return agreements.filter(state=AgreementState.ACCEPTED, valid_from__lte=now).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=now)
    )


def _with_status(agreements: QuerySet, status: str, now: datetime) -> QuerySet:
    expired = Q(valid_to__isnull=False, valid_to__lte=now)
    if status in (AgreementState.DECLINED, AgreementState.ENDED):
        return agreements.filter(state=status)
    open_states = Q(state__in=[AgreementState.OFFERED, AgreementState.ACCEPTED])
    if status == "expired":
        return agreements.filter(open_states & expired)
    if status == "offered":
        return agreements.filter(Q(state=AgreementState.OFFERED) & ~expired)
    if status == "active":
        return _valid_now(agreements, now)
    if status == "scheduled":
        return agreements.filter(Q(state=AgreementState.ACCEPTED, valid_from__gt=now) & ~expired)
    return agreements.none()


def agreements_active(
    *,
    recipient: Tenant,
    kind: str | None,
    token=None,
    agreement_id: int | None = None,
    operation=None,
    now: datetime | None = None,
) -> list[SharingAgreement]:
    """Agreements that share ``kind`` (None: anything) with ``recipient`` now. A request made with an API
    token only gets agreements that allow token access. ``operation``: only that operation's agreements,
    the reader's own contributions included (the operation's picture shows every participant's areas)."""
    now = now or timezone.now()
    # Directly to this tenant, or through an operation it joined (parties holds the joined participants).
    agreements = _valid_now(SharingAgreement.objects.filter(parties=recipient, provider__is_active=True), now)
    if operation is not None:
        agreements = agreements.filter(operation=operation)
    else:
        agreements = agreements.filter(
            Q(recipient=recipient) | (Q(operation__isnull=False) & ~Q(provider=recipient))
        )
    if isinstance(token, ApiToken):
        agreements = agreements.filter(token_access=True)
    if agreement_id is not None:
        agreements = agreements.filter(pk=agreement_id)
    return [
        a
        for a in agreements.select_related("provider").order_by("provider__name", "pk")
        if kind is None or kind in a.kinds
    ]


@dataclass
class SharedAreas:
    """The areas one active agreement shares, read in the provider's scope."""

    agreement: SharingAgreement
    areas: list[Area]


def agreement_areas(agreement: SharingAgreement) -> QuerySet[Area]:
    """The provider's areas an agreement names: its selection and every area with its tag, not archived.

    Call inside the provider's scope (``provider_scope``); in any other scope the result is empty.
    """
    chosen = Q(
        pk__in=agreement.areas.through.objects.filter(sharingagreement_id=agreement.pk).values("area_id")
    )
    if agreement.area_tag:
        chosen |= Q(tag_index__contains=f"|{agreement.area_tag.lower()}|")
    return (
        Area.objects.filter(tenant_id=agreement.provider_id, archived_at__isnull=True)
        .filter(chosen)
        .order_by("name", "pk")
    )


@contextmanager
def provider_scope(agreement: SharingAgreement) -> Iterator[None]:
    """The provider's tenant scope, for reading what an active agreement shares, and only that."""
    with tenant_scope(agreement.provider):
        yield


def shared_areas(agreements: list[SharingAgreement]) -> list[SharedAreas]:
    """For each active agreement, the areas it shares (deduplicated within one agreement)."""
    result = []
    for agreement in agreements:
        with provider_scope(agreement):
            result.append(SharedAreas(agreement=agreement, areas=list(agreement_areas(agreement))))
    return result


def agreement_area_names(agreement: SharingAgreement) -> list[dict]:
    """``[{slug, name}]`` of the areas an agreement names now (read in the provider's scope)."""
    with provider_scope(agreement):
        return [{"slug": a.slug, "name": a.name} for a in agreement_areas(agreement)]


def _owner(agreement: SharingAgreement) -> dict:
    return {
        "owner": agreement.provider.slug,
        "owner_name": agreement.provider.name,
        "agreement": agreement.pk,
    }


def _feature(agreement: SharingAgreement, area: Area) -> dict:
    """A shared area as a GeoJSON feature: outline, name and owner; no thresholds, sources or users."""
    return {
        "type": "Feature",
        "id": f"{agreement.provider.slug}/{area.slug}",
        "geometry": area.geometry,
        "properties": {
            **_owner(agreement),
            "slug": area.slug,
            "name": area.name,
            "kind": area.kind,
            "capacity": area.capacity,
            "shared": True,
            "kinds": list(agreement.kinds),
        },
    }


def shared_feature_collection(shared: list[SharedAreas], now: datetime | None = None) -> dict:
    """The shared areas as an RFC 7946 FeatureCollection, each with its status (when the agreement shares
    it: ``status``, ``level``) and latest forecast summary (when it shares forecasts)."""
    now = now or timezone.now()
    features, boxes = [], []
    for item in shared:
        agreement = item.agreement
        if not item.areas:
            continue
        with provider_scope(agreement):
            statuses = (
                area_statuses(tenant=agreement.provider, areas=item.areas, now=now)
                if ShareKind.STATUS in agreement.kinds
                else {}
            )
            forecasts = latest_forecasts(areas=item.areas) if ShareKind.FORECASTS in agreement.kinds else None
        for area in item.areas:
            feature = _feature(agreement, area)
            if area.pk in statuses:
                summary = statuses[area.pk].as_dict()
                feature["properties"]["status"] = {key: summary[key] for key in MAP_STATUS_KEYS}
                feature["properties"]["level"] = summary["level"]
            if forecasts is not None:
                feature["properties"].update(forecast_properties(forecasts.get(area.pk), now))
            features.append(feature)
            boxes.append(area)
    body = {"type": "FeatureCollection", "features": features}
    if boxes:
        body["bbox"] = [
            min(a.min_lon for a in boxes),
            min(a.min_lat for a in boxes),
            max(a.max_lon for a in boxes),
            max(a.max_lat for a in boxes),
        ]
    return body


def _read_each(shared: list[SharedAreas], read: Callable[[SharedAreas], Iterable[dict]]) -> list[dict]:
    """The rows ``read`` gives for each agreement that shares any area, each read in its provider's scope
    (and consumed there: nothing of a provider is read outside its own scope)."""
    rows: list[dict] = []
    for item in shared:
        if item.areas:
            with provider_scope(item.agreement):
                rows.extend(read(item))
    return rows


def shared_alerts(shared: list[SharedAreas], *, include_resolved_since: datetime | None = None) -> list[dict]:
    """Alerts in the shared areas: open and acknowledged ones, and resolved ones since the given time."""
    keep = Q(resolved_at__isnull=True)
    if include_resolved_since is not None:
        keep |= Q(resolved_at__gte=include_resolved_since)

    def read(item: SharedAreas) -> Iterator[dict]:
        areas = {a.pk: a for a in item.areas}
        alerts = Alert.objects.filter(tenant=item.agreement.provider, area_id__in=list(areas)).filter(keep)
        for alert in alerts.order_by("-opened_at", "-pk")[:500]:
            area = areas[alert.area_id]
            yield {
                "id": alert.pk, **_owner(item.agreement), "kind": alert.kind, "state": alert.state,
                "level": alert.level, "message": alert.message, "area": area.slug, "area_name": area.name,
                "opened_at": alert.opened_at, "acknowledged_at": alert.acknowledged_at,
                "resolved_at": alert.resolved_at,
            }  # fmt: skip

    rows = _read_each(shared, read)
    rows.sort(key=lambda r: r["opened_at"], reverse=True)
    return rows


def shared_actions(shared: list[SharedAreas], *, since: datetime | None = None) -> list[dict]:
    """The provider's action-log entries (current revision) that name a shared area."""

    def read(item: SharedAreas) -> Iterator[dict]:
        slugs = {a.pk: a.slug for a in item.areas}
        entries = (
            ActionLogEntry.objects.filter(tenant=item.agreement.provider, areas__in=list(slugs))
            .distinct()
            .select_related("intervention")
            .prefetch_related("areas")
        )
        if since is not None:
            entries = entries.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
        for entry in entries.order_by("-started_at", "-created_at", "-pk")[:500]:
            yield {
                "id": entry.pk, **_owner(item.agreement), "organisation": entry.organisation,
                "intervention": entry.intervention.name, "description": entry.description,
                "areas": sorted(slugs[a.pk] for a in entry.areas.all() if a.pk in slugs),
                "status": entry.status, "planned_at": entry.planned_at, "started_at": entry.started_at,
                "ended_at": entry.ended_at,
            }  # fmt: skip

    return _read_each(shared, read)


def shared_series(shared: list[SharedAreas]) -> list[dict]:
    """Series of the shared areas with their latest value."""

    def read(item: SharedAreas) -> Iterator[dict]:
        slugs = {a.pk: a.slug for a in item.areas}
        series = Series.objects.filter(tenant=item.agreement.provider, area_id__in=list(slugs))
        for s in series.order_by("area_id", "name", "pk"):
            yield {
                "id": s.pk, **_owner(item.agreement), "area": slugs[s.area_id], "name": s.name or s.key,
                "metric": s.metric, "unit": s.unit, "lon": s.lon, "lat": s.lat,
                "latest_time": s.latest_time, "latest_value": s.latest_value,
            }  # fmt: skip

    return _read_each(shared, read)


def shared_forecasts(shared: list[SharedAreas]) -> list[dict]:
    """The latest stored forecast of each shared area that has one."""

    def read(item: SharedAreas) -> Iterator[dict]:
        forecasts = latest_forecasts(areas=item.areas)
        for area in item.areas:
            forecast = forecasts.get(area.pk)
            if forecast is not None:
                usable = trusted(forecast)  # the owner's dashboard would not draw it either
                yield {
                    **_owner(item.agreement), "area": area.slug, "area_name": area.name,
                    "issued_at": forecast.issued_at, "method": forecast.method, "quantity": forecast.quantity,
                    "trust": forecast.trust if not usable else {"ok": True},
                    "points": forecast.points if usable else [],
                }  # fmt: skip

    return _read_each(shared, read)


# --- joint operations --------------------------------------------------------------------------------


def operation_list(*, tenant: Tenant, status: str | None = None) -> QuerySet:
    """Operations ``tenant`` leads, joined or is invited to."""
    operations = JointOperation.objects.filter(parties=tenant).select_related("lead")
    now = timezone.now()
    if status == "planned":
        operations = operations.filter(starts_at__gt=now, closed_at__isnull=True)
    elif status == "running":
        operations = operations.filter(starts_at__lte=now, ends_at__gt=now, closed_at__isnull=True)
    elif status == "over":
        operations = operations.filter(Q(ends_at__lte=now) | Q(closed_at__isnull=False))
    return operations.order_by("-starts_at", "-pk")


def operation_participants(operation: JointOperation) -> list[OperationParticipant]:
    return list(
        OperationParticipant.objects.filter(operation=operation).select_related("tenant").order_by("pk")
    )


def is_joined(operation: JointOperation, tenant: Tenant) -> bool:
    """Whether ``tenant`` has joined (an invitee sees the operation, not what is shared in it)."""
    return OperationParticipant.objects.filter(operation=operation, tenant=tenant, state="joined").exists()


def operation_on_duty(operation: JointOperation, *, tenant: Tenant) -> list[str]:
    """Usernames of ``tenant``'s members on duty for the operation (each participant sees only its own)."""
    return sorted(
        OperationDuty.objects.filter(operation=operation, tenant=tenant).values_list(
            "user__username", flat=True
        )
    )


def operation_shared(operation: JointOperation, *, reader: Tenant, kind: str | None, token=None):
    """What the operation's participants (the reader included) bring in and share now, as SharedAreas."""
    agreements = agreements_active(recipient=reader, kind=kind, token=token, operation=operation)
    return shared_areas(agreements)


def operation_log(operation: JointOperation) -> tuple[list[dict], list[Tenant]]:
    """The common action log: every linked entry, newest first, attributed to its organisation and the
    person who wrote it, with its measured outcomes; and the tenants whose entries it holds."""
    links = list(
        OperationLogLink.objects.filter(operation=operation)
        .select_related("tenant")
        .order_by("-created_at", "-pk")
    )
    by_tenant: dict[int, list[OperationLogLink]] = {}
    for link in links:
        by_tenant.setdefault(link.tenant_id, []).append(link)
    rows, authors = [], []
    for tenant_links in by_tenant.values():
        tenant = tenant_links[0].tenant
        authors.append(tenant)
        # The writer's own log, in its scope: an entry of the operation is shown to every participant.
        with tenant_scope(tenant):
            entries = (
                ActionLogEntry.objects.filter(pk__in=[link.action_id for link in tenant_links])
                .select_related("intervention", "created_by")
                .prefetch_related("areas", "outcomes__area")
            )
            for entry in entries:
                author = entry.created_by
                rows.append(
                    {
                        "id": entry.pk,
                        "organisation": tenant.name,
                        "tenant": tenant.slug,
                        "author": (author.get_full_name() or author.get_username()) if author else "",
                        "intervention": entry.intervention.name,
                        "description": entry.description,
                        "areas": sorted(a.slug for a in entry.areas.all()),
                        "status": entry.status,
                        "planned_at": entry.planned_at,
                        "started_at": entry.started_at,
                        "ended_at": entry.ended_at,
                        "created_at": entry.created_at,
                        "outcomes": [
                            {"area": o.area.slug, "method": o.method, "effect_pct": o.effect_pct}
                            for o in entry.outcomes.all()
                        ],
                    }
                )
    rows.sort(key=lambda r: r["started_at"] or r["planned_at"] or r["created_at"], reverse=True)
    return rows, authors


def operations_sharing_area(*, area: Area, owner: Tenant, now: datetime | None = None) -> list[tuple]:
    """``[(operation, [e-mail, ...])]``: the running operations ``owner`` brought ``area`` into with alerts
    shared, and the addresses of the other participants' members on duty for each. In ``owner``'s scope."""
    now = now or timezone.now()
    agreements = _valid_now(
        SharingAgreement.objects.filter(provider=owner, operation__isnull=False), now
    ).select_related("operation", "provider")
    found = []
    for agreement in agreements:
        if ShareKind.ALERTS not in agreement.kinds:
            continue
        if not agreement_areas(agreement).filter(pk=area.pk).exists():
            continue
        duties = (
            OperationDuty.objects.filter(
                operation=agreement.operation,
                tenant__in=agreement.parties.all(),
                user__is_active=True,
                tenant__is_active=True,
            )
            .exclude(tenant=owner)
            .exclude(user__email="")
        )
        addresses = sorted(set(duties.values_list("user__email", flat=True)))
        if addresses:
            found.append((agreement.operation, addresses))
    return found


def operation_public_get(*, lead_slug: str, slug: str) -> JointOperation | None:
    """The operation ``slug`` of ``lead_slug`` when its lead serves a public page for it, else None."""
    lead = Tenant.objects.filter(slug=lead_slug, is_active=True).first()
    if lead is None:
        return None
    with tenant_scope(lead):
        return (
            JointOperation.objects.filter(lead=lead, slug=slug, public_page=True)
            .select_related("lead")
            .first()
        )


def operation_public_shared(operation: JointOperation, now: datetime | None = None) -> list[SharedAreas]:
    """For the operation's public page: the areas brought in with their status shared, now. Read each in its
    provider's scope (``provider_scope``); show only public labels, never counts below the small-count
    threshold (as the tenant's own public page)."""
    now = now or timezone.now()
    with tenant_scope(operation.lead):  # the lead is a party of every open operation agreement
        agreements = list(
            _valid_now(SharingAgreement.objects.filter(operation=operation, provider__is_active=True), now)
            .select_related("provider", "operation")
            .order_by("provider__name", "pk")
        )
    return shared_areas([a for a in agreements if ShareKind.STATUS in a.kinds])
