"""Pages of joint operations: the tenant's list of operations (/t/<tenant>/operations/), an operation's own
dashboard (/t/<tenant>/operations/<id>/), both drawn over the operations API, and the public read-only page
of an operation whose lead publishes it (/p/<lead>/operations/<slug>/)."""

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from areas.levels import LEVELS
from sharing.choices import ParticipantState, ShareKind
from sharing.selectors import (
    operation_list,
    operation_on_duty,
    operation_participants,
    operation_public_get,
    operation_public_shared,
    provider_scope,
)
from tenants.choices import Capability, role_has

from .views import (
    ACTION_STATUS_LABELS,
    DASHBOARD_STRINGS,
    SHARE_KIND_LABELS,
    _allow_tile_host,
    _public_language,
    _public_language_from,
    _public_legend,
    _public_response,
    _tenant_context,
    public_area_cards,
)

OPERATION_STATUS_LABELS = {
    "planned": pgettext_lazy("operation status", "planned"),
    "running": pgettext_lazy("operation status", "running"),
    "over": pgettext_lazy("operation status", "over"),
}
PARTICIPANT_STATE_LABELS = {
    ParticipantState.INVITED: gettext_lazy("invited"),
    ParticipantState.JOINED: gettext_lazy("joined"),
    ParticipantState.DECLINED: pgettext_lazy("invitation", "declined"),
    ParticipantState.LEFT: gettext_lazy("left"),
}

# Words the operation scripts show (messages built in the browser).
OPERATION_STRINGS = {
    **{key: DASHBOARD_STRINGS[key] for key in LEVELS},
    "no_data": DASHBOARD_STRINGS["no_data"],
    "stale": DASHBOARD_STRINGS["stale"],
    "people": DASHBOARD_STRINGS["people"],
    "rising": DASHBOARD_STRINGS["rising"],
    "falling": DASHBOARD_STRINGS["falling"],
    "steady": DASHBOARD_STRINGS["steady"],
    "open": DASHBOARD_STRINGS["open"],
    "acknowledged": DASHBOARD_STRINGS["acknowledged"],
    "updated": DASHBOARD_STRINGS["updated"],
    "load_error": DASHBOARD_STRINGS["load_error"],
    "choose": DASHBOARD_STRINGS["choose"],
    "by": DASHBOARD_STRINGS["by"],
    "since": DASHBOARD_STRINGS["since"],
    "until": DASHBOARD_STRINGS["until"],
    "network_error": gettext_lazy("The server could not be reached."),
    "next_hour": gettext_lazy("next hour"),
    "within_3h": gettext_lazy("within 3 h"),
    "not_shared": gettext_lazy("status not shared"),
    "no_areas": gettext_lazy("No areas have been brought in yet."),
    "no_alerts": gettext_lazy("No open alerts in the operation's areas."),
    "no_log": gettext_lazy("Nothing in the common log yet."),
    "planned_for": gettext_lazy("planned for"),
    "effect": gettext_lazy("effect"),
    "own": gettext_lazy("own"),
    "saved_entry": gettext_lazy("Added to the common log."),
    "brought_in": gettext_lazy("Areas brought in."),
    "invited": gettext_lazy("Invited."),
    "on_duty_now": gettext_lazy("On duty:"),
    "nobody_on_duty": gettext_lazy("Nobody of your organisation is on duty."),
    "confirm_close": gettext_lazy("Click again to close"),
    "confirm_leave": gettext_lazy("Click again to leave"),
    "no_own_areas": gettext_lazy("This organisation has no areas yet."),
}


def _require_view(request) -> None:
    if not role_has(request.membership.role, Capability.VIEW):
        raise PermissionDenied(_("Your role may not see this organisation's joint operations."))


def _participant_rows(operation) -> list[dict]:
    return [
        {
            "tenant": p.tenant,
            "role": p.role,
            "state": p.state,
            "state_label": PARTICIPANT_STATE_LABELS.get(p.state, p.state),
        }
        for p in operation_participants(operation)
    ]


def _my_state(rows: list[dict], tenant) -> str | None:
    return next((row["state"] for row in rows if row["tenant"].pk == tenant.pk), None)


def _config(request, **extra) -> dict:
    tenant = request.tenant
    role = request.membership.role
    return {
        "tenant": tenant.slug,
        "tenantName": tenant.name,
        "api": f"/api/v1/tenants/{tenant.slug}/",
        "listUrl": f"/t/{tenant.slug}/operations/",
        "timeZone": tenant.time_zone,
        "language": translation.get_language() or "en",
        "username": request.user.get_username(),
        "mayOperate": role_has(role, Capability.OPERATE),
        "mayManage": role_has(role, Capability.MANAGE),
        "strings": {key: str(value) for key, value in OPERATION_STRINGS.items()},
        **extra,
    }


@login_required
def tenant_operations(request, tenant):
    """The joint operations the tenant leads, joined or is invited to; admins create one or answer an
    invitation here."""
    _require_view(request)
    status = request.GET.get("status")
    status = status if status in OPERATION_STATUS_LABELS else None
    rows = []
    for operation in operation_list(tenant=request.tenant, status=status):
        participants = _participant_rows(operation)
        state = operation.status()
        rows.append(
            {
                "operation": operation,
                "status": state,
                "status_label": OPERATION_STATUS_LABELS[state],
                "window_end": operation.window_end(),
                "participants": participants,
                "my_state": _my_state(participants, request.tenant),
                "is_lead": operation.lead_id == request.tenant.pk,
            }
        )
    context = _tenant_context(request)
    context.update(
        {
            "rows": rows,
            "status": status,
            "statuses": list(OPERATION_STATUS_LABELS.items()),
            "may_manage": role_has(request.membership.role, Capability.MANAGE),
            "config": _config(request, page="list"),
        }
    )
    return render(request, "frontend/operations.html", context)


@login_required
def tenant_operation(request, tenant, operation_id: int):
    """An operation's own dashboard: the picture of every area brought in, the status per organisation, the
    alerts and the common action log; duty, bringing areas in, inviting, closing and leaving. An invited
    tenant sees the operation and the invitation only. Any other tenant gets 404, as in the API."""
    _require_view(request)
    operation = operation_list(tenant=request.tenant).filter(pk=operation_id).first()
    if operation is None:
        raise Http404("No such operation.")
    participants = _participant_rows(operation)
    my_state = _my_state(participants, request.tenant)
    if my_state not in (ParticipantState.INVITED, ParticipantState.JOINED):
        raise Http404("No such operation.")
    status = operation.status()
    is_lead = operation.lead_id == request.tenant.pk
    joined = my_state == ParticipantState.JOINED
    on_duty = operation_on_duty(operation, tenant=request.tenant) if joined else []
    config = _config(
        request,
        page="detail",
        operation=operation.pk,
        operationApi=f"/api/v1/tenants/{request.tenant.slug}/operations/{operation.pk}/",
        myState=my_state,
        isLead=is_lead,
        status=status,
        onDuty=on_duty,
        tileUrl=request.tenant.map_tile_url,
        refreshSeconds=15,
        levels=list(LEVELS),
        shareKinds=[[value, str(label)] for value, label in SHARE_KIND_LABELS.items()],
        actionStatuses={key: str(label) for key, label in ACTION_STATUS_LABELS.items()},
        participantStates={key: str(label) for key, label in PARTICIPANT_STATE_LABELS.items()},
    )
    context = _tenant_context(request)
    context.update(
        {
            "operation": operation,
            "status": status,
            "status_label": OPERATION_STATUS_LABELS[status],
            "window_end": operation.window_end(),
            "participants": participants,
            "my_state": my_state,
            "joined": joined,
            "is_lead": is_lead,
            "is_open": status != "over",
            "may_operate": config["mayOperate"],
            "may_manage": config["mayManage"],
            "levels": [(level, DASHBOARD_STRINGS[level]) for level in LEVELS],
            "shared_kinds": config["shareKinds"],
            "config": config,
        }
    )
    return _allow_tile_host(render(request, "frontend/operation.html", context), request.tenant.map_tile_url)


def public_operation(request, lead, slug):
    """Visitors' page of a joint operation whose lead publishes it: the name and window, a map and per area
    brought in (with its status shared) the level now and expected, in public labels, with the organisation
    that owns it. No counts, no log, no alerts. 404 unless the lead switched the page on."""
    operation = operation_public_get(lead_slug=lead, slug=slug)
    if operation is None:
        raise Http404("No such public page.")
    _public_language_from(request)
    language = _public_language()
    lead_tenant = operation.lead
    tz = ZoneInfo(lead_tenant.time_zone)
    now = timezone.now()
    groups: dict[int, dict] = {}
    for item in operation_public_shared(operation, now=now):
        provider = item.agreement.provider
        group = groups.setdefault(provider.pk, {"owner": provider.name, "cards": [], "seen": set()})
        areas = [a for a in item.areas if a.pk not in group["seen"]]
        group["seen"].update(a.pk for a in areas)
        # Each provider's areas are read in its own scope, with its own small-count threshold.
        forecasts = ShareKind.FORECASTS in item.agreement.kinds
        with provider_scope(item.agreement):
            cards = public_area_cards(
                tenant=provider, areas=areas, now=now, language=language, tz=tz, forecasts=forecasts
            )
        group["cards"].extend(cards)
    organisations = [g for g in groups.values() if g["cards"]]
    for group in organisations:
        group["cards"].sort(key=lambda card: (card["area"].name, card["area"].pk))
    features = [
        {
            "type": "Feature",
            "geometry": card["area"].geometry,
            "properties": {
                "name": card["area"].name,
                "owner_name": group["owner"],
                "lvl": card["level"] or "none",
                "label": card["label"] or str(_("No current information")),
            },
        }
        for group in organisations
        for card in group["cards"]
    ]
    context = {
        "tenant": lead_tenant,
        "operation": operation,
        "status": operation.status(now),
        "starts_at": operation.starts_at.astimezone(tz),
        "ends_at": operation.window_end().astimezone(tz),
        "organisations": organisations,
        "now": now.astimezone(tz),
        "legend": _public_legend(language),
        "language": language,
        "map": {"type": "FeatureCollection", "features": features, "tileUrl": lead_tenant.map_tile_url},
    }
    response = _public_response(request, "frontend/public_operation.html", context)
    return _allow_tile_host(response, lead_tenant.map_tile_url)
