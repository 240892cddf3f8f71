"""Demo alert rules for den-haag, and the alerts they would have raised over the demo's recent history."""

from datetime import timedelta

from django.utils import timezone

from areas.demo import scheveningen_scenario
from areas.demo_counts import BUSY_SATURDAY, DEMO_INTERVENTIONS
from areas.forecasts import refresh_forecasts
from areas.models import Area
from tenants.demo import register_demo_seeder

from .actions import action_create, ensure_default_interventions, incident_create, measure_outcomes
from .models import ActionLogEntry, Alert, AlertRule, InterventionType
from .services import alert_raise, alert_rule_save, evaluate_alerts

RULES = [
    {"name": "Crowded now", "kind": "level_now", "level": "crowded"},
    {"name": "Pier very busy", "kind": "level_now", "level": "very_busy", "area": "de-pier"},
    {
        "name": "Expected crowding within 3 hours",
        "kind": "forecast_level",
        "level": "crowded",
        "within_hours": 3,
    },
    {"name": "No data for 15 minutes", "kind": "stale_data", "minutes": 15},
    {"name": "Feed failing", "kind": "source_down"},
]


@register_demo_seeder(40, "alerts")
def seed_alerts(*, tenant, users, stdout) -> None:
    """Alert rules for den-haag; replay the scenario from the busy Saturday morning every 15 minutes, so
    the history has the alerts of that afternoon."""
    if tenant.slug != "den-haag":
        return
    for spec in RULES:
        spec = dict(spec)
        if spec.get("area"):
            spec["area"] = Area.objects.get(tenant=tenant, slug=spec["area"])
        if not AlertRule.objects.filter(tenant=tenant, name=spec["name"]).exists():
            alert_rule_save(tenant=tenant, actor=None, data=spec)
    now = timezone.now()
    scenario = scheveningen_scenario(now)
    if Alert.objects.filter(tenant=tenant, opened_at__gte=scenario.origin).exists():
        return  # this scenario's history is there already (a demo seeded again continues it)
    _seed_actions(tenant, users, scenario, now)
    moment = scenario.at(BUSY_SATURDAY, 10.0)
    opened = 0
    while moment < now - timedelta(minutes=15):
        opened += evaluate_alerts(tenant=tenant, now=moment, historical=True)["opened"]
        moment += timedelta(minutes=15)
    # An open alert to start from: a report from the field, as a BOA coordinator would phone it in.
    alert_raise(
        tenant=tenant,
        actor=users["operator"],
        area=Area.objects.get(tenant=tenant, slug="tramhaltes-kurhaus"),
        message="BOA team reports people queueing onto the tram track at the Kurhaus stop.",
        level="crowded",
    )
    for entry in ActionLogEntry.objects.filter(tenant=tenant, started_at__gte=scenario.origin):
        entry.alerts.set(
            Alert.objects.filter(
                tenant=tenant,
                area__in=entry.areas.all(),
                opened_at__lte=entry.started_at,
                opened_at__gte=entry.started_at - timedelta(hours=2),
            )
        )
    stdout.write(
        f"  {tenant.slug}: {len(RULES)} alert rules; {opened} alerts, "
        f"{ActionLogEntry.objects.filter(tenant=tenant, started_at__gte=scenario.origin).count()} actions "
        "since the busy Saturday"
    )
    busy = [
        a
        for a in Alert.objects.filter(tenant=tenant, opened_at__gte=scenario.origin).exclude(kind="manual")
        if scenario.in_busy_afternoon(a.opened_at)
    ]
    if not busy:  # the rules were changed, or the replay had no data then: say so rather than hide it
        stdout.write(f"  {tenant.slug}: warning: no alert fired in the replayed busy afternoons")


def _seed_actions(tenant, users, scenario, now) -> None:
    """The measures of the busy Saturday (their effect is in the simulated counts), an incident, outcomes."""
    ensure_default_interventions(tenant=tenant)
    for spec in DEMO_INTERVENTIONS:
        start, end = scenario.intervention_window(spec)
        if end > now:
            continue
        area = Area.objects.get(tenant=tenant, slug=spec["area"])
        refresh_forecasts(tenant=tenant, areas=[area], now=start - timedelta(hours=3))  # the forecast then
        incident = None
        if spec["area"] == "de-pier":
            incident = incident_create(
                tenant=tenant,
                actor=users["operator"],
                data={
                    "kind": "overcrowding",
                    "severity": "high",
                    "area": area,
                    "occurred_at": start - timedelta(minutes=10),
                    "description": "Queue at the pier entrance reaches the boulevard.",
                },
            )
        entry = action_create(
            tenant=tenant,
            actor=users["operator"],
            data={
                "intervention": InterventionType.objects.get(tenant=tenant, slug=spec["intervention"]),
                "description": spec["description"],
                "areas": [area],
                "incident": incident,
                "started_at": start,
                "ended_at": end,
                "status": "ended",
            },
        )
        measure_outcomes(entry=entry, now=now)
