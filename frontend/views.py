"""Page views. Tenant pages run inside the tenant scope set by tenants.middleware.TenantPageMiddleware;
the public pages (/p/<slug>/) resolve their tenant themselves and switch its scope on here."""

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from areas.forecasts import trusted
from areas.levels import LEVELS, public_label
from areas.models import Area, AreaForecast, ForecastModel
from areas.selectors import latest_forecasts
from areas.status import STALE_AFTER, area_statuses
from incidents.choices import ActionStatus, AlertKind, IncidentKind, Severity
from incidents.models import AlertRule
from sharing.choices import ShareKind
from sources.connectors import connector_kinds
from sources.selectors import data_inventory, source_health, source_list
from tenants.choices import ROLE_CAPABILITIES, Capability, Role, role_has
from tenants.scoping import tenant_scope
from tenants.selectors import memberships_of_user, tenant_get_active

PUBLIC_MAX_AGE = 60  # seconds a public page may be cached (browsers, proxies)
PUBLIC_FORECAST_HOURS = (1, 2, 3, 6)

# Words the dashboard script shows, translated here so the script needs no catalogue of its own.
DASHBOARD_STRINGS = {
    "quiet": gettext_lazy("quiet"),
    "busy": gettext_lazy("busy"),
    "very_busy": gettext_lazy("very busy"),
    "crowded": gettext_lazy("crowded"),
    "critical": gettext_lazy("critical"),
    "no_data": gettext_lazy("no data"),
    "stale": gettext_lazy("stale"),
    "fresh": gettext_lazy("fresh"),
    "now": gettext_lazy("now"),
    "people": gettext_lazy("people"),
    "density": gettext_lazy("p/m²"),
    "flow": gettext_lazy("people/min per metre"),
    "flow_fruin": gettext_lazy("passer-by flow, Fruin level of service"),
    "flow_weidmann": gettext_lazy("density estimated from the flow (Weidmann)"),
    "rising": gettext_lazy("rising"),
    "falling": gettext_lazy("falling"),
    "steady": gettext_lazy("steady"),
    "observed": gettext_lazy("observed"),
    "forecast": gettext_lazy("forecast (median)"),
    "band": gettext_lazy("forecast p10-p90"),
    "acknowledge": gettext_lazy("Acknowledge"),
    "acknowledged": gettext_lazy("acknowledged"),
    "open": gettext_lazy("open"),
    "no_alerts": gettext_lazy("No open alerts."),
    "no_sources": gettext_lazy("No sources feed this area."),
    "updated": gettext_lazy("Updated"),
    "load_error": gettext_lazy("Could not load the latest data; retrying."),
    "hours_ago": gettext_lazy("h ago"),
    "hours_ahead": gettext_lazy("h ahead"),
    "minutes_old": gettext_lazy("min old"),
    "capacity": gettext_lazy("capacity"),
    "surface": gettext_lazy("usable surface"),
    "sources": gettext_lazy("Sources"),
    "chart_title": gettext_lazy("People: observed, forecast and level thresholds"),
    "record_people": gettext_lazy(
        "Last %(days)s days: usually within ±%(within)s people at %(horizon)s h ahead (8 hours in 10)."
    ),
    "record_flow": gettext_lazy(
        "Last %(days)s days: usually within ±%(within)s people/min per metre at %(horizon)s h ahead "
        "(8 hours in 10)."
    ),
    "trust_too_little_data": gettext_lazy(
        "No forecast shown: too little data yet (less than a week of counts for this area)."
    ),
    "trust_no_recent_counts": gettext_lazy("No forecast shown: no counts since %(since)s (sensor outage?)."),
    "trust_no_counts": gettext_lazy("No forecast shown: no counts in the last weeks (sensor outage?)."),
    "trust_stuck_counts": gettext_lazy(
        "No forecast shown: the count has not changed for %(hours)s hours since %(since)s (stuck sensor?)."
    ),
    "past_view": gettext_lazy("Showing observed levels of"),
    "future_view": gettext_lazy("Showing forecast levels for"),
    "live_view": gettext_lazy("Showing the live picture"),
    "close": gettext_lazy("Close"),
    "method": gettext_lazy("method"),
    "model": gettext_lazy("model"),
    "log_action": gettext_lazy("Log action"),
    "report_incident": gettext_lazy("Report incident"),
    "end_action": gettext_lazy("End"),
    "no_actions": gettext_lazy("No actions in the last 24 hours."),
    "by": gettext_lazy("by"),
    "since": gettext_lazy("since"),
    "until": gettext_lazy("until"),
    "answers_alert": gettext_lazy("In answer to the alert:"),
    "similar_title": gettext_lazy("What was done before in similar situations"),
    "no_similar": gettext_lazy("No measured actions in similar situations yet."),
    "median_effect": gettext_lazy("median effect"),
    "judged_effective": gettext_lazy("judged effective"),
    "low_confidence": gettext_lazy("low confidence"),
    "use_measure": gettext_lazy("Use this measure"),
    "saved_action": gettext_lazy("Action logged."),
    "saved_incident": gettext_lazy("Incident reported."),
    "choose": gettext_lazy("Choose…"),
    "temperature": gettext_lazy("Temperature"),
    "precipitation": gettext_lazy("Precipitation"),
    "wind": gettext_lazy("Wind"),
    "free": gettext_lazy("free"),
    "full": gettext_lazy("full"),
    "arrivals": gettext_lazy("arrivals soon"),
    "occupancy": gettext_lazy("occupancy"),
    "parking_garage": gettext_lazy("Parking"),
    "stop": gettext_lazy("Stop"),
    "as_of": gettext_lazy("as of"),
    "no_buildings": gettext_lazy("no buildings uploaded"),
    # Areas and alerts other organisations share with this one: shown, never edited or answered here.
    "shared_by": gettext_lazy("Shared by %(owner)s"),
    "shared_read_only": gettext_lazy("shared, read-only"),
    "shared": gettext_lazy("shared"),
}

# Labels of the action statuses, incident kinds and severities the dashboard's forms and log show.
ACTION_STATUS_LABELS = {
    ActionStatus.PLANNED: gettext_lazy("planned"),
    ActionStatus.ACTIVE: gettext_lazy("active"),
    ActionStatus.ENDED: gettext_lazy("ended"),
    ActionStatus.CANCELLED: gettext_lazy("cancelled"),
}
INCIDENT_KIND_LABELS = {
    IncidentKind.OVERCROWDING: gettext_lazy("overcrowding"),
    IncidentKind.BLOCKED_EXIT: gettext_lazy("blocked exit"),
    IncidentKind.FIGHT: gettext_lazy("fight"),
    IncidentKind.MEDICAL: gettext_lazy("medical"),
    IncidentKind.LOST_CHILD: gettext_lazy("lost child"),
    IncidentKind.OTHER: gettext_lazy("other"),
}
SEVERITY_LABELS = {
    Severity.LOW: gettext_lazy("low"),
    Severity.MEDIUM: gettext_lazy("medium"),
    Severity.HIGH: gettext_lazy("high"),
    Severity.CRITICAL: gettext_lazy("critical"),
}

# The onboarding pages under /t/<tenant>/settings/: slug -> (title, capability needed).
# Only admins hold these capabilities; the template is frontend/settings/<slug with underscores>.html.
SETTINGS_SECTIONS = {
    "areas": (gettext_lazy("Areas"), Capability.MANAGE),
    "crowd-levels": (gettext_lazy("Crowd levels"), Capability.MANAGE),
    "events": (gettext_lazy("Events"), Capability.MANAGE),
    "sources": (gettext_lazy("Sources"), Capability.MANAGE),
    "members": (gettext_lazy("Members"), Capability.MEMBERS),
    "alert-rules": (gettext_lazy("Alert rules"), Capability.MANAGE),
    "public": (gettext_lazy("Public page"), Capability.MANAGE),
    "sharing": (gettext_lazy("Sharing"), Capability.MANAGE),
}

# Words the settings script shows (messages built in the browser).
SETTINGS_STRINGS = {
    "saved": gettext_lazy("Saved."),
    "save": gettext_lazy("Save"),
    "remove": gettext_lazy("Remove"),
    "confirm_remove": gettext_lazy("Click again to remove"),
    "removed": gettext_lazy("Removed."),
    "load_error": gettext_lazy("Could not load the data."),
    "network_error": gettext_lazy("The server could not be reached."),
    "not_json": gettext_lazy("The file is not valid JSON."),
    "choose_file": gettext_lazy("Choose a GeoJSON file first."),
    "feature": gettext_lazy("Feature"),
    "will_create": gettext_lazy("will be created"),
    "will_update": gettext_lazy("will be updated"),
    "created": gettext_lazy("created"),
    "updated": gettext_lazy("updated"),
    "ignored": gettext_lazy("ignored properties"),
    "rejected": gettext_lazy("rejected"),
    "preview_ok": gettext_lazy("The file is valid. Nothing is stored yet: import it to save."),
    "imported": gettext_lazy("Imported."),
    "none": gettext_lazy("none"),
    "all_areas": gettext_lazy("All areas"),
    "any_source": gettext_lazy("Any source"),
    "default": gettext_lazy("default"),
    "test_ok": gettext_lazy("Connection works. This is what would be stored:"),
    "test_failed": gettext_lazy("The connection failed:"),
    "readings": gettext_lazy("readings"),
    "warnings": gettext_lazy("Warnings"),
    "one_per_line": gettext_lazy("One per line."),
    "json_value": gettext_lazy("JSON value."),
    "invalid_json_field": gettext_lazy("is not valid JSON."),
    "required": gettext_lazy("required"),
    "no_fields": gettext_lazy("This connector needs no settings."),
    "invited": gettext_lazy("Invited."),
    "set_password_link": gettext_lazy("Set-password link for the new account:"),
    "active": gettext_lazy("active"),
    "suspended": gettext_lazy("suspended"),
    "enabled": gettext_lazy("enabled"),
    "disabled": gettext_lazy("disabled"),
    "points": gettext_lazy("points"),
    "draw_hint": gettext_lazy("Click on the map to add corners; at least three."),
    "no_rows": gettext_lazy("Nothing yet."),
    "buildings_none": gettext_lazy("No buildings uploaded yet."),
    "buildings_count": gettext_lazy("Buildings on the 3D map:"),
    "uploaded": gettext_lazy("uploaded"),
    "buildings_saved": gettext_lazy("Buildings stored:"),
    "heights_from": gettext_lazy("heights from"),
    "secret_set": gettext_lazy("secrets set"),
    "accept": gettext_lazy("Accept"),
    "decline": gettext_lazy("Decline"),
    "end": pgettext_lazy("end an agreement", "End"),
    "confirm_end": gettext_lazy("Click again to end"),
    "accepted": gettext_lazy("Accepted."),
    "declined": gettext_lazy("Declined."),
    "ended": gettext_lazy("Ended."),
    "offer_sent": gettext_lazy("Offer sent to"),
    "open_ended": gettext_lazy("until ended"),
    "area_tag": gettext_lazy("tag"),
    "token_access": gettext_lazy("API tokens allowed"),
    "reason": gettext_lazy("Reason (optional)"),
    "ended_by": gettext_lazy("ended by"),
    "no_own_areas": gettext_lazy("This organisation has no areas yet."),
}

# Labels of what a sharing agreement shares and of the states it goes through (settings page "Sharing").
SHARE_KIND_LABELS = {
    ShareKind.STATUS: gettext_lazy("area status (the crowd picture now)"),
    ShareKind.FORECASTS: gettext_lazy("forecasts"),
    ShareKind.ALERTS: gettext_lazy("alerts"),
    ShareKind.SERIES: gettext_lazy("raw series (latest values of the counters)"),
    ShareKind.ACTION_LOG: gettext_lazy("action-log entries for the shared areas"),
}
AGREEMENT_STATUS_LABELS = {
    "offered": gettext_lazy("offered"),
    "scheduled": gettext_lazy("scheduled"),
    "active": gettext_lazy("active"),
    "expired": gettext_lazy("expired"),
    "declined": gettext_lazy("declined"),
    "ended": gettext_lazy("ended"),
}


@login_required
def home(request):
    """The tenants the user belongs to; straight to the tenant when there is only one."""
    memberships = memberships_of_user(user=request.user)
    if len(memberships) == 1 and not request.user.is_staff:
        return redirect("tenant-home", tenant=memberships[0].tenant.slug)
    return render(request, "frontend/home.html", {"memberships": memberships})


def _tenant_context(request) -> dict:
    membership = request.membership
    return {
        "tenant": request.tenant,
        "membership": membership,
        "memberships": memberships_of_user(user=request.user),
        "may_view": role_has(membership.role, Capability.VIEW),
        "may_manage": role_has(membership.role, Capability.MANAGE),
        "may_audit": role_has(membership.role, Capability.AUDIT),
    }


@login_required
def tenant_home(request, tenant):
    """The operator dashboard: live map of the tenant's areas, time slider, area panel and open alerts."""
    membership = request.membership
    role = membership.role
    tenant_obj = request.tenant
    config = {
        "tenant": tenant_obj.slug,
        "api": f"/api/v1/tenants/{tenant_obj.slug}/",
        "tileUrl": tenant_obj.map_tile_url,
        "timeZone": tenant_obj.time_zone,
        "language": translation.get_language() or "en",
        "mayViewHistory": role_has(role, Capability.VIEW),  # also the series behind the map layers
        "mayViewBuildings": role_has(role, Capability.VIEW) or role_has(role, Capability.EVENTS),
        "mayReadAlerts": role_has(role, Capability.VIEW) or role_has(role, Capability.EVENTS),
        "mayAcknowledge": role_has(role, Capability.OPERATE),
        # Operators and admins log actions and incidents anywhere; organisers on their own event zones (the
        # map shows an organiser only those, and the API checks every area named).
        "mayLogActions": role_has(role, Capability.OPERATE) or role_has(role, Capability.EVENTS),
        "mayReadActions": role_has(role, Capability.VIEW) or role_has(role, Capability.EVENTS),
        # What other organisations share with this one (shared/areas/, shared/alerts/) needs the view right.
        "mayViewShared": role_has(role, Capability.VIEW),
        "actionStatuses": {key: str(label) for key, label in ACTION_STATUS_LABELS.items()},
        "incidentKinds": [[key, str(label)] for key, label in INCIDENT_KIND_LABELS.items()],
        "severities": [[key, str(label)] for key, label in SEVERITY_LABELS.items()],
        "refreshSeconds": 15,
        "levels": list(LEVELS),
        "strings": {key: str(value) for key, value in DASHBOARD_STRINGS.items()},
    }
    context = _tenant_context(request)
    context.update(
        {
            "config": config,
            "capabilities": sorted(ROLE_CAPABILITIES.get(role, ())),
            "levels": [(level, DASHBOARD_STRINGS[level]) for level in LEVELS],
        }
    )
    return _allow_tile_host(render(request, "frontend/dashboard.html", context), tenant_obj.map_tile_url)


@login_required
def tenant_sources(request, tenant):
    """Health of every source of the tenant: status, last success and error, warnings, lag, circuit."""
    if not role_has(request.membership.role, Capability.VIEW):
        raise PermissionDenied(_("Your role may not see this organisation's sources."))
    now = timezone.now()
    rows = []
    for source in source_list(tenant=request.tenant):
        health = source_health(source, now=now)
        connector = connector_kinds().get(source.kind)
        rows.append(
            {
                "source": source,
                "connector": connector.label if connector else source.kind,
                "health": health,
                "lag_minutes": None if health["lag_seconds"] is None else round(health["lag_seconds"] / 60),
            }
        )
    context = _tenant_context(request)
    context.update({"rows": rows, "now": now})
    return render(request, "frontend/sources.html", context)


@login_required
def tenant_settings(request, tenant, section=None):
    """Onboarding pages for tenant admins: each a small form over the tenant API (fetch with CSRF)."""
    membership = request.membership
    if not role_has(membership.role, Capability.MANAGE):
        raise PermissionDenied(_("Only admins of this organisation may change its settings."))
    if section is not None and section not in SETTINGS_SECTIONS:
        raise Http404("No such settings page.")
    if section is not None and not role_has(membership.role, SETTINGS_SECTIONS[section][1]):
        raise PermissionDenied(_("Only admins of this organisation may change its settings."))
    tenant_obj = request.tenant
    config = {
        "tenant": tenant_obj.slug,
        "api": f"/api/v1/tenants/{tenant_obj.slug}/",
        "root": "/api/v1/",
        "page": section or "index",
        "tenantName": tenant_obj.name,
        "tileUrl": tenant_obj.map_tile_url,
        "timeZone": tenant_obj.time_zone,
        "language": translation.get_language() or "en",
        "username": request.user.get_username(),
        "roles": [[value, str(label)] for value, label in ROLE_LABELS.items()],
        "levels": [[level, str(DASHBOARD_STRINGS[level])] for level in LEVELS],
        "alertKinds": [[value, str(label)] for value, label in ALERT_KIND_LABELS.items()],
        "shareKinds": [[value, str(label)] for value, label in SHARE_KIND_LABELS.items()],
        "agreementStatuses": {key: str(label) for key, label in AGREEMENT_STATUS_LABELS.items()},
        "strings": {key: str(value) for key, value in SETTINGS_STRINGS.items()},
    }
    context = _tenant_context(request)
    context.update(
        {
            "config": config,
            "section": section,
            "sections": [(slug, title) for slug, (title, _capability) in SETTINGS_SECTIONS.items()],
            "section_title": SETTINGS_SECTIONS[section][0] if section else _("Settings"),
        }
    )
    template = f"frontend/settings/{(section or 'index').replace('-', '_')}.html"
    return _allow_tile_host(render(request, template, context), tenant_obj.map_tile_url)


def _allow_tile_host(response, tile_url: str):
    """Let the map load the tenant's own tile server: its origin joins img-src and connect-src of this page's
    Content Security Policy (django-csp reads ``_csp_update``). A {s}-style host label becomes a wildcard."""
    if tile_url:
        parts = urlsplit(tile_url)
        host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
        if parts.scheme in ("http", "https") and host:
            origin = f"{parts.scheme}://{host}"
            response._csp_update = {"img-src": [origin], "connect-src": [origin]}
    return response


ROLE_LABELS = {
    Role.ADMIN: gettext_lazy("admin"),
    Role.OPERATOR: gettext_lazy("operator"),
    Role.ANALYST: gettext_lazy("analyst (read-only)"),
    Role.ORGANISER: gettext_lazy("event organiser"),
    Role.INTEGRATION: gettext_lazy("integration (machine account)"),
}
ALERT_KIND_LABELS = {
    AlertKind.LEVEL_NOW: gettext_lazy("crowd level at or above a level now"),
    AlertKind.FORECAST_LEVEL: gettext_lazy("forecast level at or above a level within some hours"),
    AlertKind.STALE_DATA: gettext_lazy("no fresh data for some minutes"),
    AlertKind.SOURCE_DOWN: gettext_lazy("source failing"),
}


def _public_language_from(request) -> None:
    """A public page's ``?lang=en|nl`` (the language switch of public_base.html) decides its language."""
    language = request.GET.get("lang")
    if language in ("en", "nl"):
        translation.activate(language)
        request.LANGUAGE_CODE = language


def _public_tenant(request, slug: str):
    """The tenant of a public page, in the visitor's language; 404 unless its public page is switched on."""
    tenant = tenant_get_active(slug=slug)
    if tenant is None or not tenant.public_page_enabled:
        raise Http404("No such public page.")
    _public_language_from(request)
    return tenant


def _public_response(request, template: str, context: dict):
    response = render(request, template, context)
    patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    patch_vary_headers(response, ["Accept-Language"])
    return response


def _public_language() -> str:
    return "nl" if (translation.get_language() or "en").startswith("nl") else "en"


def public_area_cards(
    *, tenant, areas: list[Area], now: datetime, language: str, tz: ZoneInfo, forecasts: bool = True
) -> list[dict]:
    """The visitors' card of each area of ``tenant`` that is in use now or within six hours: the level now
    and the levels expected in the next hours, as public labels only. Small counts (below ``tenant``'s
    threshold) read as quiet, stale data as no information; no count is ever in a card. ``forecasts``:
    whether the expected levels may be shown. Call inside ``tenant``'s scope."""
    areas = [a for a in areas if a.valid_from is None or a.valid_from <= now + timedelta(hours=6)]
    areas = [a for a in areas if a.valid_to is None or a.valid_to > now]
    statuses = area_statuses(tenant=tenant, areas=areas, now=now)
    latest = latest_forecasts(areas=areas) if forecasts else {}
    cards = []
    for area in areas:
        status = statuses[area.pk]
        level = status.level
        # Small counts are suppressed in public outputs: below the threshold an area reads as quiet.
        if status.people is not None and status.people < tenant.small_count_threshold:
            level = LEVELS[0]
        if status.stale or status.age_seconds is None or status.age_seconds > STALE_AFTER.total_seconds():
            level = None
        upcoming = []
        forecast = latest.get(area.pk)
        if forecast is not None and not trusted(forecast):
            forecast = None  # not shown to operators either: visitors get no expected levels from it
        for hours in PUBLIC_FORECAST_HOURS:
            moment = now + timedelta(hours=hours)
            point = _forecast_point(forecast, moment)
            if point is None:
                continue
            expected = point["level"] if point["p50"] >= tenant.small_count_threshold else LEVELS[0]
            upcoming.append(
                {
                    "time": datetime.fromisoformat(point["time"]).astimezone(tz),
                    "level": expected,
                    "label": public_label(expected, language),
                }
            )
        cards.append(
            {
                "area": area,
                "level": level,
                "label": public_label(level, language) if level else None,
                "upcoming": upcoming,
            }
        )
    return cards


def public_page(request, tenant):
    """Visitors' page: per area the level now and the level expected in the next hours; no counts."""
    tenant = _public_tenant(request, tenant)
    language = _public_language()
    tz = ZoneInfo(tenant.time_zone)
    now = timezone.now()
    with tenant_scope(tenant):
        areas = list(Area.objects.filter(tenant=tenant, archived_at__isnull=True).order_by("name", "pk"))
        cards = public_area_cards(tenant=tenant, areas=areas, now=now, language=language, tz=tz)
    context = {
        "tenant": tenant,
        "cards": cards,
        "now": now.astimezone(tz),
        "legend": _public_legend(language),
        "language": language,
    }
    return _public_response(request, "frontend/public.html", context)


def _forecast_point(forecast: AreaForecast | None, moment) -> dict | None:
    """The forecast point of the hour containing ``moment``, if the forecast reaches it."""
    if forecast is None:
        return None
    for point in forecast.points:
        start = datetime.fromisoformat(point["time"])
        if start <= moment < start + timedelta(hours=1):
            return point
    return None


def _public_legend(language: str) -> list[tuple[str, str]]:
    seen, legend = set(), []
    for level in LEVELS:
        label = public_label(level, language)
        if label not in seen:
            seen.add(label)
            legend.append((level, label))
    return legend


def public_register(request, tenant):
    """Public register of every source and algorithm of the tenant, generated from its configuration."""
    tenant = _public_tenant(request, tenant)
    with tenant_scope(tenant):
        kinds = connector_kinds()
        sources = []
        for source in source_list(tenant=tenant):
            connector = kinds.get(source.kind)
            sources.append(
                {
                    "source": source,
                    "connector": connector.label if connector else source.kind,
                    "stores": connector.stores if connector else "",
                    "legal_basis": connector.legal_basis if connector else "",
                    "areas": [a.name for a in source.areas.all()],
                }
            )
        model = ForecastModel.objects.filter(tenant=tenant).order_by("-trained_at").first()
        rules = list(AlertRule.objects.filter(tenant=tenant, enabled=True).select_related("area", "source"))
        inventory = data_inventory(tenant=tenant)
    accuracy = []
    if model is not None:
        for horizon, score in sorted(model.accuracy.items(), key=lambda item: int(item[0])):
            accuracy.append({"horizon": horizon, **score})
    context = {
        "tenant": tenant,
        "sources": sources,
        "model": model,
        "accuracy": accuracy,
        "rules": rules,
        "retention_days": tenant.retention_days,
        "inventory": inventory,
        "retention": _retention_schedule(tenant),
        "language": _public_language(),
    }
    return _public_response(request, "frontend/register.html", context)


def _retention_schedule(tenant) -> list[dict]:
    """What the nightly purge jobs delete, after how many days (each purge reads these tenant fields)."""
    schedule = [
        {
            "what": _("Observations of every data source, forecast values included"),
            "days": tenant.retention_days,
        },
        {
            "what": _("Photos and documents of the action log, webhook delivery logs"),
            "days": tenant.retention_days,
        },
    ]
    audit_days = getattr(tenant, "audit_retention_days", None)
    if audit_days:
        schedule.append({"what": _("Audit trail: who did what, when"), "days": audit_days})
    return schedule


def public_register_data(request, tenant):
    """The register's data inventory and retention schedule as JSON, behind the same switch as the page."""
    tenant = _public_tenant(request, tenant)
    with tenant_scope(tenant):
        inventory = data_inventory(tenant=tenant)
    body = {
        "tenant": tenant.slug,
        "name": tenant.name,
        "inventory": inventory,
        "retention": _retention_schedule(tenant),
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    return response
