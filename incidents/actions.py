"""Writes and reads of the action log: interventions, actions with revisions, incidents, outcomes, learning.

Outcome method ("counterfactual_forecast"): for each area of an action, the observed hourly people
count over the window after the action began is compared with the forecast issued at least two hours
before it began (what would have happened without it), scaled to how the two hours before the action
actually compared with that forecast; and, more simply, with the same length of time just before it.
The window runs from the start to the end of the action, at least one hour and at most three.
Confidence is "low" with under two hours of data in the window, without a forecast from before the
action, or when another action on the same area overlaps the window; the note says which.
"""

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from areas.forecasts import area_history
from areas.selectors import crowd_level_settings_get, latest_forecasts
from tenants.models import Tenant

from . import events
from .choices import DEFAULT_INTERVENTIONS, ActionStatus
from .models import ActionLogEntry, ActionRevision, Alert, Incident, InterventionType, Outcome
from .webhooks import action_event, incident_event, outcome_event

MIN_WINDOW, MAX_WINDOW = timedelta(hours=1), timedelta(hours=3)
PRE_PERIOD = timedelta(hours=2)
CLOSED = (ActionStatus.ENDED, ActionStatus.CANCELLED)
TRACKED_FIELDS = ("intervention", "description", "status", "planned_at", "started_at", "ended_at", "incident")


def ensure_default_interventions(*, tenant: Tenant) -> None:
    """Seed the tenant's catalogue with the default measures (idempotent)."""
    existing = set(InterventionType.objects.filter(tenant=tenant).values_list("slug", flat=True))
    InterventionType.objects.bulk_create(
        [
            InterventionType(tenant=tenant, slug=slug, name=name, is_default=True)
            for slug, name in DEFAULT_INTERVENTIONS
            if slug not in existing
        ]
    )


def _snapshot(entry: ActionLogEntry) -> dict:
    return {
        "intervention": entry.intervention.slug,
        "description": entry.description,
        "status": entry.status,
        "planned_at": entry.planned_at.isoformat() if entry.planned_at else None,
        "started_at": entry.started_at.isoformat() if entry.started_at else None,
        "ended_at": entry.ended_at.isoformat() if entry.ended_at else None,
        "incident": entry.incident_id,
        "areas": sorted(entry.areas.values_list("slug", flat=True)),
        "alerts": sorted(entry.alerts.values_list("pk", flat=True)),
    }


def _check_action(entry: ActionLogEntry) -> None:
    errors: dict[str, list[str]] = {}
    if entry.intervention.archived_at:
        errors["intervention"] = [f"'{entry.intervention.slug}' is archived; choose a current measure."]
    if entry.started_at and entry.ended_at and entry.ended_at < entry.started_at:
        errors["ended_at"] = [
            f"ended_at ({entry.ended_at.isoformat()}) is before started_at ({entry.started_at.isoformat()})."
        ]
    if entry.status in (ActionStatus.ACTIVE, ActionStatus.ENDED) and not entry.started_at:
        errors["started_at"] = ["An active or ended action needs started_at."]
    if entry.status == ActionStatus.ENDED and not entry.ended_at:
        errors["ended_at"] = ["An ended action needs ended_at."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def action_create(*, tenant: Tenant, actor, data: dict) -> ActionLogEntry:
    """Log an action; its first revision records every value."""
    data = dict(data)
    areas, alerts = data.pop("areas"), data.pop("alerts", [])
    if not areas:
        raise ValidationError({"areas": ["Name at least one area."]})
    if data.get("status") is None:
        data["status"] = ActionStatus.ACTIVE if data.get("started_at") else ActionStatus.PLANNED
    entry = ActionLogEntry(tenant=tenant, created_by=actor, organisation=tenant.name, **data)
    _check_action(entry)
    entry.save()
    entry.areas.set(areas)
    entry.alerts.set(alerts)
    snapshot = _snapshot(entry)
    ActionRevision.objects.create(
        tenant=tenant,
        entry=entry,
        number=1,
        actor=actor,
        at=timezone.now(),
        changes={k: [None, v] for k, v in snapshot.items()},
        snapshot=snapshot,
    )
    action_event(entry, "action.created")
    return entry


@transaction.atomic
def action_update(*, entry: ActionLogEntry, actor, data: dict) -> ActionLogEntry:
    """Change an action: a new revision records who changed what; an ended or cancelled entry is closed."""
    entry = ActionLogEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status in CLOSED:
        raise ValidationError(
            {"status": [f"This action is {entry.status}: a closed entry cannot be edited."]}
        )
    before = _snapshot(entry)
    data = dict(data)
    areas, alerts = data.pop("areas", None), data.pop("alerts", None)
    for name, value in data.items():
        setattr(entry, name, value)
    if entry.status == ActionStatus.ENDED and not entry.ended_at:
        entry.ended_at = timezone.now()
    _check_action(entry)
    entry.revision += 1
    entry.save()
    if areas is not None:
        entry.areas.set(areas)
    if alerts is not None:
        entry.alerts.set(alerts)
    after = _snapshot(entry)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changes:
        raise ValidationError({"non_field_errors": ["Nothing changed."]})
    ActionRevision.objects.create(
        tenant=entry.tenant,
        entry=entry,
        number=entry.revision,
        actor=actor,
        at=timezone.now(),
        changes=changes,
        snapshot=after,
    )
    # One event per revision: "closed" when this revision ended or cancelled the entry.
    action_event(entry, "action.closed" if entry.status in CLOSED else "action.revised", changes)
    if entry.status == ActionStatus.ENDED:
        events.publish("action.ended", tenant_id=entry.tenant_id, action_id=entry.pk)
    return entry


@transaction.atomic
def incident_create(*, tenant: Tenant, actor, data: dict) -> Incident:
    incident = Incident(tenant=tenant, reported_by=actor, **data)
    incident.full_clean()
    incident.save()
    incident_event(incident)
    return incident


# --- outcomes ----------------------------------------------------------------------------------------


def _window(entry: ActionLogEntry) -> tuple[datetime, datetime]:
    start = entry.started_at
    length = (entry.ended_at - start) if entry.ended_at else MAX_WINDOW
    return start, start + min(max(length, MIN_WINDOW), MAX_WINDOW)


@transaction.atomic
def measure_outcomes(*, entry: ActionLogEntry, now: datetime | None = None) -> list[Outcome]:
    """Measure the effect of an action on each of its areas (replaces an earlier measurement)."""
    now = now or timezone.now()
    if entry.status == ActionStatus.CANCELLED or not entry.started_at:
        return []
    start, end = _window(entry)
    if end > now:
        return []  # the window has not passed yet
    settings = crowd_level_settings_get(tenant=entry.tenant)
    areas = list(entry.areas.all())
    hour = timedelta(hours=1)
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    quantities: dict[str, str] = {}
    history = area_history(
        tenant=entry.tenant,
        areas=areas,
        start=first_hour - (end - start) - hour,
        end=end,
        quantities=quantities,
    )
    outcomes = []
    for area in areas:
        times, values = history.get(area.slug, ([], []))
        observed = dict(zip(times, values, strict=True))
        in_window = {t: v for t, v in observed.items() if start - hour < t < end}
        before = [v for t, v in observed.items() if start - (end - start) - hour < t <= start - hour]
        # The counterfactual: a forecast issued well before the action, scaled to how the hours just before it
        # actually went (a sunny day is busier than any forecast without weather knew).
        early = latest_forecasts(areas=[area], issued_by=start - PRE_PERIOD)
        forecast = early.get(area.pk) or latest_forecasts(areas=[area], issued_by=start).get(area.pk)
        notes = []
        expected = []
        if forecast is not None:
            points = {datetime.fromisoformat(p["time"]): p["p50"] for p in forecast.points}
            expected = [points[t] for t in in_window if t in points]
            pre = [t for t in observed if start - PRE_PERIOD - hour < t <= start - hour and t in points]
            if pre and sum(points[t] for t in pre) > 0:
                scale = sum(observed[t] for t in pre) / sum(points[t] for t in pre)
                expected = [value * scale for value in expected]
                notes_scale = f"forecast scaled by {scale:.2f} to the hours before the action"
            else:
                notes_scale = "forecast not scaled (no hours before the action to compare)"
        else:
            notes.append("no forecast from before the action: only the before/after comparison")
        if len(in_window) < 2:
            notes.append(f"only {len(in_window)} hour(s) of data in the window")
        overlapping = (
            ActionLogEntry.objects.filter(areas=area, started_at__lt=end)
            .exclude(pk=entry.pk)
            .exclude(status=ActionStatus.CANCELLED)
            .exclude(ended_at__lte=start)
            .values_list("intervention__name", flat=True)
        )
        if overlapping:
            notes.append("overlapping action(s): " + ", ".join(sorted(set(overlapping))))
        observed_mean = statistics.fmean(in_window.values()) if in_window else None
        expected_mean = statistics.fmean(expected) if expected and len(expected) == len(in_window) else None
        before_mean = statistics.fmean(before) if before else None
        level = ""
        quantity = quantities.get(area.slug, "people")
        if quantity == "flow":
            notes.append("values are passer-by flow in persons per minute per metre, not people present")
        if before:
            level = area.level_of(before[-1], settings, quantity)
        outcome, _ = Outcome.objects.update_or_create(
            action=entry,
            area=area,
            defaults={
                "tenant": entry.tenant,
                "method": "counterfactual_forecast" if expected_mean is not None else "before_after",
                "window_start": start,
                "window_end": end,
                "observed_mean": observed_mean,
                "expected_mean": expected_mean,
                "effect_pct": _pct(observed_mean, expected_mean),
                "before_mean": before_mean,
                "after_mean": observed_mean,
                "before_after_pct": _pct(observed_mean, before_mean),
                "level_at_start": level,
                "confidence": "low" if notes else "ok",
                "confidence_note": "; ".join([*notes, notes_scale] if forecast is not None else notes),
                "measured_at": now,
            },
        )
        outcomes.append(outcome)
        outcome_event(outcome)
    return outcomes


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return round(100.0 * (value - reference) / reference, 1)


def actions_due_for_measurement(*, tenant: Tenant, now: datetime) -> list[ActionLogEntry]:
    """Started actions whose window has passed and that have no outcome yet."""
    candidates = ActionLogEntry.objects.filter(
        tenant=tenant, started_at__isnull=False, outcomes__isnull=True
    ).exclude(status=ActionStatus.CANCELLED)
    return [entry for entry in candidates.select_related("tenant") if _window(entry)[1] <= now]


@transaction.atomic
def outcome_judge(*, outcome: Outcome, actor, judgement: str, note: str = "") -> Outcome:
    """The operators' own view of how well it worked."""
    outcome.judgement, outcome.judgement_note, outcome.judged_by, outcome.judged_at = (
        judgement,
        note,
        actor,
        timezone.now(),
    )
    outcome.save(update_fields=["judgement", "judgement_note", "judged_by", "judged_at"])
    return outcome


# --- learning ----------------------------------------------------------------------------------------

GROUPS = ("intervention", "area", "level_at_start", "time_of_day", "event")


def _time_of_day(moment: datetime, tz: ZoneInfo) -> str:
    hour = moment.astimezone(tz).hour
    return "night" if hour < 6 else "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"


def learning_report(*, tenant: Tenant, group_by: tuple[str, ...] = GROUPS, outcomes=None) -> list[dict]:
    """Measured effects per intervention type and context: count, median effect, spread, judgements."""
    tz = ZoneInfo(tenant.time_zone)
    if outcomes is None:
        outcomes = Outcome.objects.filter(tenant=tenant)
    outcomes = outcomes.select_related("action__intervention", "area")
    groups: dict[tuple, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        context = {
            "intervention": outcome.action.intervention.slug,
            "area": outcome.area.slug,
            "level_at_start": outcome.level_at_start,
            "time_of_day": _time_of_day(outcome.window_start, tz),
            "event": bool(outcome.area.event_id),
        }
        groups[tuple(context[g] for g in group_by)].append(outcome)
    rows = []
    for key, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        effects = sorted(e for e in (_effect(o) for o in members) if e is not None)
        judged = [o.judgement for o in members if o.judgement]
        row = dict(zip(group_by, key, strict=True))
        row.update(
            count=len(members),
            measured=len(effects),
            median_effect_pct=round(statistics.median(effects), 1) if effects else None,
            p25_effect_pct=round(_quantile(effects, 0.25), 1) if effects else None,
            p75_effect_pct=round(_quantile(effects, 0.75), 1) if effects else None,
            judged_effective=sum(1 for j in judged if j == "effective"),
            judged=len(judged),
            low_confidence=sum(1 for o in members if o.confidence == "low"),
        )
        rows.append(row)
    return rows


def _effect(outcome: Outcome) -> float | None:
    """Against the forecast where there was one, else before/after."""
    return outcome.effect_pct if outcome.effect_pct is not None else outcome.before_after_pct


def _quantile(sorted_values: list[float], q: float) -> float:
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def similar_situations(*, alert: Alert, limit: int = 5) -> list[dict]:
    """What was done before in situations like this alert's (same area, else same level) and how it worked."""
    outcomes = Outcome.objects.filter(tenant=alert.tenant)
    if alert.area_id:
        same_area = outcomes.filter(area_id=alert.area_id)
        outcomes = same_area if same_area.exists() else outcomes.filter(level_at_start=alert.level)
    elif alert.level:
        outcomes = outcomes.filter(level_at_start=alert.level)
    rows = learning_report(tenant=alert.tenant, group_by=("intervention",), outcomes=outcomes)
    names = dict(InterventionType.objects.filter(tenant=alert.tenant).values_list("slug", "name"))
    return [{"intervention_name": names.get(r["intervention"], r["intervention"]), **r} for r in rows[:limit]]
