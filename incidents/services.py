"""Writes of the incidents app: alert rules, evaluation with hysteresis, the alert lifecycle, delivery."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from areas.forecasts import trusted
from areas.levels import LEVELS
from areas.models import Area, AreaForecast
from areas.selectors import crowd_level_settings_get, latest_forecasts
from areas.status import AreaStatus, area_statuses
from sources.models import Source
from sources.selectors import source_status
from tenants.models import Tenant

from . import events
from .choices import AlertKind, AlertState
from .models import Alert, AlertRule
from .webhooks import alert_event
from .webhooks import webhook_create as webhook_create  # the webhook writes live in .webhooks

logger = logging.getLogger(__name__)

# An alert clears only when the count is this much below what triggers it: no flapping at a band edge.
HYSTERESIS = 0.10
TROUBLED_SOURCE = {"failing", "circuit_open", "stale"}


def _level_index(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


# --- rules -------------------------------------------------------------------------------------------


def _check_rule(rule: AlertRule) -> None:
    errors: dict[str, list[str]] = {}
    if rule.kind in (AlertKind.LEVEL_NOW, AlertKind.FORECAST_LEVEL) and rule.level not in LEVELS[1:]:
        errors["level"] = [f"Give the level that raises the alert: one of {', '.join(LEVELS[1:])}."]
    if rule.kind == AlertKind.FORECAST_LEVEL and not rule.within_hours:
        errors["within_hours"] = ["Give how many hours ahead to look (1-48)."]
    if rule.kind == AlertKind.STALE_DATA and not rule.minutes:
        errors["minutes"] = ["Give after how many minutes without data to raise the alert (1-1440)."]
    if rule.kind != AlertKind.SOURCE_DOWN and rule.source_id:
        errors["source"] = ["Only source_down rules name a source."]
    if rule.kind == AlertKind.SOURCE_DOWN and rule.area_id:
        errors["area"] = ["A source_down rule names a source, not an area."]
    unknown = [
        r for r in rule.notify_roles if r not in ("admin", "operator", "analyst", "organiser", "integration")
    ]
    if unknown:
        errors["notify_roles"] = [f"Unknown role(s): {', '.join(unknown)}."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def alert_rule_save(*, tenant: Tenant, actor, data: dict, rule: AlertRule | None = None) -> AlertRule:
    """Create or change an alert rule."""
    rule = rule or AlertRule(tenant=tenant)
    for name, value in data.items():
        setattr(rule, name, value)
    _check_rule(rule)
    rule.full_clean()
    rule.save()
    return rule


# --- evaluation --------------------------------------------------------------------------------------


@dataclass
class Finding:
    """What a rule found for one subject (an area or a source) in this evaluation."""

    area: Area | None
    source: Source | None
    on: bool | None  # True: raise or keep; False: clear; None: cannot judge now, keep as is
    level: str
    message: str
    details: dict


def _status_value(status: AreaStatus) -> tuple[float | None, str]:
    """What an area's level was judged on: (people present, "people") or (passer-by flow, "flow")."""
    if status.method == "passer_by_flow":
        return status.flow, "flow"
    return status.people, "people"


def _level_findings(rule, areas, statuses: dict[int, AreaStatus], settings) -> list[Finding]:
    findings = []
    target = _level_index(rule.level)
    for area in areas:
        status = statuses.get(area.pk)
        value, quantity = _status_value(status) if status is not None else (None, "people")
        if status is None or value is None or status.stale:
            findings.append(Finding(area, None, None, rule.level, "", {}))
            continue
        at_or_above = _level_index(status.level) >= target
        with_margin = _level_index(area.level_of(value / (1 - HYSTERESIS), settings, quantity)) >= target
        on = True if at_or_above else (None if with_margin else False)
        if quantity == "flow":
            how = (
                "Fruin level of service"
                if status.flow_method == "fruin"
                else f"about {status.density:.2f} p/m² by Weidmann's diagram"
            )
            message = (
                f"{area.name} is {status.level.replace('_', ' ')}: {value:,.1f} people per minute per metre "
                f"at {status.flow_line} ({how})"
            )
            details = {
                "flow": round(value, 1),
                "flow_method": status.flow_method,
                "flow_line": status.flow_line,
                "density": None if status.density is None else round(status.density, 3),
                "level": status.level,
                "trend": status.trend,
            }
        else:
            message = (
                f"{area.name} is {status.level.replace('_', ' ')}: {value:,.0f} people, "
                f"{status.density:.2f} p/m²"
                + (f", {status.occupancy_pct:.0f} % of capacity" if status.occupancy_pct else "")
            )
            details = {
                "people": value,
                "density": round(status.density, 3),
                "level": status.level,
                "occupancy_pct": status.occupancy_pct,
                "trend": status.trend,
            }
        findings.append(Finding(area, None, on, status.level, message, details))
    return findings


def _forecast_findings(rule, areas, forecasts: dict[int, AreaForecast], settings, now) -> list[Finding]:
    findings = []
    target = _level_index(rule.level)
    horizon = now + timedelta(hours=rule.within_hours)
    for area in areas:
        forecast = forecasts.get(area.pk)
        if forecast is None or not trusted(forecast):  # an untrustworthy forecast raises nothing
            findings.append(Finding(area, None, None, rule.level, "", {}))
            continue
        ahead = [p for p in forecast.points if now <= datetime.fromisoformat(p["time"]) <= horizon]
        if not ahead:
            findings.append(Finding(area, None, None, rule.level, "", {}))
            continue
        peak = max(ahead, key=lambda p: p["p50"])
        reaches = [p for p in ahead if _level_index(p["level"]) >= target]
        quantity = forecast.quantity
        margin_level = area.level_of(peak["p50"] / (1 - HYSTERESIS), settings, quantity)
        on = True if reaches else (None if _level_index(margin_level) >= target else False)
        first = reaches[0] if reaches else peak
        unit = "people per minute per metre" if quantity == "flow" else "people"
        message = (
            f"{area.name} is expected to be {first['level'].replace('_', ' ')} at "
            f"{datetime.fromisoformat(first['time']).astimezone(timezone.get_current_timezone()):%H:%M} "
            f"(about {first['p50']:,.0f} {unit}; 80 % interval {first['p10']:,.0f}-{first['p90']:,.0f})"
        )
        details = {key: first[key] for key in ("p10", "p50", "p90", "level")}
        details.update(
            expected_at=first["time"], forecast_id=forecast.pk, method=forecast.method, quantity=quantity
        )
        findings.append(Finding(area, None, on, first["level"], message, details))
    return findings


def _stale_findings(rule, areas, statuses) -> list[Finding]:
    findings = []
    for area in areas:
        status = statuses.get(area.pk)
        if status is None or not status.sources:
            continue  # an area without any sensor is not "stale"
        age = status.age_seconds
        on = age is None or age > rule.minutes * 60
        minutes = "never" if age is None else f"{age / 60:.0f} minutes ago"
        findings.append(
            Finding(
                area,
                None,
                on,
                "",
                f"No fresh data for {area.name}: newest value {minutes}.",
                {"age_seconds": age},
            )
        )
    return findings


def _source_findings(rule, sources, now) -> list[Finding]:
    findings = []
    for source in sources:
        status = source_status(source, now=now)
        on = status in TROUBLED_SOURCE
        message = f"Source {source.name} is {status.replace('_', ' ')}" + (
            f": {source.last_error[:200]}" if source.last_error and status != "stale" else "."
        )
        findings.append(
            Finding(
                None,
                source,
                on,
                "",
                message,
                {"status": status, "consecutive_failures": source.consecutive_failures},
            )
        )
    return findings


def evaluate_alerts(
    *, tenant: Tenant, now: datetime | None = None, historical: bool = False
) -> dict[str, int]:
    """Evaluate every enabled rule of the tenant; open, keep or resolve alerts. Returns counts.

    ``historical`` replays the rules at a past ``now`` (the demo uses it to give its history alerts).
    """
    now = now or timezone.now()
    rules = list(AlertRule.objects.filter(tenant=tenant, enabled=True).select_related("area", "source"))
    counts = {"opened": 0, "resolved": 0, "kept": 0}
    if not rules:
        return counts
    areas = list(Area.objects.filter(tenant=tenant, archived_at__isnull=True))
    statuses = area_statuses(tenant=tenant, areas=areas, now=now, historical=historical)
    settings = crowd_level_settings_get(tenant=tenant)
    forecasts = {}
    if any(r.kind == AlertKind.FORECAST_LEVEL for r in rules):
        forecasts = latest_forecasts(areas=areas)
    sources = None
    open_alerts = {
        (a.rule_id, a.area_id, a.source_id): a
        for a in Alert.objects.filter(tenant=tenant, rule__isnull=False).exclude(state=AlertState.RESOLVED)
    }
    for rule in rules:
        scope = [rule.area] if rule.area_id else areas
        if rule.kind == AlertKind.LEVEL_NOW:
            findings = _level_findings(rule, scope, statuses, settings)
        elif rule.kind == AlertKind.FORECAST_LEVEL:
            findings = _forecast_findings(rule, scope, forecasts, settings, now)
        elif rule.kind == AlertKind.STALE_DATA:
            findings = _stale_findings(rule, scope, statuses)
        else:
            if sources is None:
                sources = list(Source.objects.filter(tenant=tenant, enabled=True))
            findings = _source_findings(rule, [rule.source] if rule.source_id else sources, now)
        for finding in findings:
            key = (
                rule.pk,
                finding.area.pk if finding.area else None,
                finding.source.pk if finding.source else None,
            )
            alert = open_alerts.get(key)
            if finding.on and alert is None:
                _open(tenant=tenant, rule=rule, finding=finding, now=now)
                counts["opened"] += 1
            elif finding.on and alert is not None:
                alert.last_seen_at, alert.details = now, finding.details
                if _level_index(finding.level) > _level_index(alert.level):
                    alert.level, alert.message = finding.level, finding.message  # escalated within the alert
                alert.save(update_fields=["last_seen_at", "details", "level", "message"])
                counts["kept"] += 1
            elif finding.on is False and alert is not None:
                _resolve(alert, actor=None, note="The condition cleared.", now=now)
                counts["resolved"] += 1
    return counts


def _open(*, tenant, rule, finding: Finding, now) -> Alert:
    alert = Alert.objects.create(
        tenant=tenant,
        rule=rule,
        kind=rule.kind,
        area=finding.area,
        source=finding.source,
        subject=f"area:{finding.area.pk}" if finding.area else f"source:{finding.source.pk}",
        level=finding.level,
        message=f"{finding.message} (rule '{rule.name}')",
        details=finding.details,
        opened_at=now,
        last_seen_at=now,
    )
    _announce(alert, "alert.opened", roles=rule.notify_roles)
    return alert


def _announce(alert: Alert, event: str, roles: list[str] | None = None) -> None:
    """E-mail the members with ``roles`` (on commit), and emit the webhook event."""
    if roles:
        events.publish("alert.announced", tenant_id=alert.tenant_id, alert_id=alert.pk, roles=roles)
    if event == "alert.opened":
        events.publish("alert.opened", tenant_id=alert.tenant_id, alert_id=alert.pk)
    alert_event(alert, event)


# --- lifecycle ---------------------------------------------------------------------------------------


@transaction.atomic
def alert_raise(*, tenant: Tenant, actor, message: str, area: Area | None = None, level: str = "") -> Alert:
    """A person raises an alert (something seen on camera, a call from the field)."""
    if level and level not in LEVELS:
        raise ValidationError({"level": [f"Unknown level '{level}'; one of {', '.join(LEVELS)}."]})
    alert = Alert.objects.create(
        tenant=tenant,
        kind=AlertKind.MANUAL,
        area=area,
        level=level,
        message=message,
        opened_at=timezone.now(),
        opened_by=actor,
    )
    _announce(alert, "alert.opened", roles=["admin", "operator"])
    return alert


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor) -> Alert:
    """An operator has seen the alert and takes it on."""
    if alert.state != AlertState.OPEN:
        raise ValidationError(
            {"state": [f"Only an open alert can be acknowledged; this one is {alert.state}."]}
        )
    alert.state, alert.acknowledged_at, alert.acknowledged_by = AlertState.ACKNOWLEDGED, timezone.now(), actor
    alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
    _announce(alert, "alert.acknowledged")
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, actor, note: str = "") -> Alert:
    """Close an alert by hand, with a note."""
    if alert.state == AlertState.RESOLVED:
        raise ValidationError({"state": ["This alert is resolved already."]})
    return _resolve(alert, actor=actor, note=note or "Resolved by hand.", now=timezone.now())


def _resolve(alert: Alert, *, actor, note: str, now) -> Alert:
    alert.state, alert.resolved_at, alert.resolved_by, alert.resolution = (
        AlertState.RESOLVED,
        now,
        actor,
        note,
    )
    alert.save(update_fields=["state", "resolved_at", "resolved_by", "resolution"])
    _announce(alert, "alert.resolved")
    return alert
