"""The demo's crowd picture on every date and at every hour: levels, alerts, forecasts, actions, outcomes.

The demo runs on its own scenario clock shifted to "now" (areas/demo_counts.py), so the same picture
must hold whatever the wall clock says. The sweep freezes the clock (time-machine, ticking from the
chosen instant) over every weekday, New Year's night, both DST changes of Europe/Amsterdam, a leap day,
New Year's Eve and the year 2100.
"""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django_scopes import scopes_disabled

from areas.demo import scheveningen_scenario
from areas.demo_counts import scenario_path
from areas.levels import LEVELS
from areas.models import AreaForecast, Event
from incidents.models import ActionLogEntry, Alert, Incident, Outcome
from sharing.models import OperationLogLink
from sources.models import Observation

pytestmark = pytest.mark.slow  # each test seeds the whole demo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=AMSTERDAM)


# (label, instant): each weekday appears at least once, at hours spread over the day.
SWEEP = [
    ("new-year-night-fri", _local(2027, 1, 1, 0, 30)),
    ("dst-spring-before-sun", datetime(2027, 3, 28, 0, 45, tzinfo=UTC)),  # 01:45 CET
    ("dst-spring-after-sun", datetime(2027, 3, 28, 1, 15, tzinfo=UTC)),  # 03:15 CEST
    ("dst-autumn-first-0230-sun", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),  # 02:30 CEST
    ("dst-autumn-second-0230-sun", datetime(2027, 10, 31, 1, 30, tzinfo=UTC)),  # 02:30 CET
    ("leap-day-tue", _local(2028, 2, 29, 12, 0)),
    ("new-years-eve-fri", _local(2027, 12, 31, 23, 30)),
    ("year-2100-sat", _local(2100, 6, 12, 15, 45)),
    ("monday-morning", _local(2027, 7, 5, 8, 5)),
    ("wednesday-afternoon", _local(2027, 7, 7, 13, 40)),
    ("thursday-evening", _local(2027, 7, 8, 18, 20)),
    ("saturday-late", _local(2027, 7, 10, 21, 55)),
]


def test_the_sweep_covers_every_weekday_and_the_named_moments():
    assert {moment.astimezone(AMSTERDAM).weekday() for _label, moment in SWEEP} == set(range(7))
    assert _local(2100, 6, 12).weekday() == 5 and _local(2028, 2, 29).day == 29


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def assert_living_picture(client, now: datetime) -> None:
    """What an operator logging in to the demo must find, whatever the date."""
    scenario = scheveningen_scenario(now)
    with scopes_disabled():
        # This scenario's part of the picture (a demo database started again later keeps its history).
        alerts = list(Alert.objects.filter(tenant__slug="den-haag", opened_at__gte=scenario.origin))
        actions = list(
            ActionLogEntry.objects.filter(tenant__slug="den-haag", started_at__gte=scenario.origin)
            # Koningsdag's joint operation writes its own entries into den-haag's log.
            .exclude(pk__in=OperationLogLink.objects.values("action_id"))
            .prefetch_related("alerts")
        )
        outcomes = list(
            Outcome.objects.filter(
                tenant__slug="den-haag", action__started_at__gte=scenario.origin
            ).select_related("area")
        )
        forecasts = {
            f.area.slug: f for f in AreaForecast.objects.filter(tenant__slug="den-haag").order_by("issued_at")
        }
        overcrowding = Incident.objects.filter(tenant__slug="den-haag", kind="overcrowding").exists()
        kings_day = list(Event.objects.filter(tenant__slug="rotterdam", end__gt=now))
    # Levels: every one of them somewhere on the seafront, now.
    assert (
        client.post("/accounts/login/", {"username": "den-haag-operator", "password": "demo"}).status_code
        == 302
    )
    status = client.get("/api/v1/tenants/den-haag/areas/status/").json()
    levels = {a["slug"]: a["level"] for a in status["areas"] if a["people"] is not None}
    assert set(levels.values()) == set(LEVELS), levels
    assert not any(a["stale"] for a in status["areas"] if a["slug"] in levels), "the counts are live"
    # The beach stairs: a counting line, so a flow in persons/min/m (both directions over its 5 m) and its
    # Fruin level, no people present; on the sunny Sunday afternoon the stream back up makes it busy.
    stairs = next(a for a in status["areas"] if a["slug"] == "strandtrap-kurhaus")
    assert stairs["people"] is None and stairs["flow_method"] == "fruin" and not stairs["stale"]
    assert 33 <= stairs["flow"] < 49 and stairs["level"] == "busy", stairs
    # Alerts: one to act on, and ones that fired during the busy afternoon.
    assert any(a.state == "open" for a in alerts), "an operator logging in finds an alert to act on"
    afternoon = [a for a in alerts if a.kind != "manual" and scenario.in_busy_afternoon(a.opened_at)]
    assert afternoon, "an alert fires during the busy afternoon"
    assert all(a.opened_at <= now + timedelta(minutes=5) for a in alerts), "no alert from the future"
    # Forecasts with a band (the stairs' in persons/min/m).
    assert set(forecasts) >= {"de-pier", "kurhausplein", "strand-scheveningen", "strandtrap-kurhaus"}
    assert forecasts["strandtrap-kurhaus"].quantity == "flow" and forecasts["strandtrap-kurhaus"].points
    for slug in ("de-pier", "kurhausplein", "strand-scheveningen"):
        points = forecasts[slug].points
        assert points and all(p["p10"] <= p["p50"] <= p["p90"] for p in points)
        assert any(p["p90"] > p["p10"] for p in points), f"{slug}: the forecast has a band"
        assert datetime.fromisoformat(points[0]["time"]) > now - timedelta(hours=1)
    # Action log: the two measures of the busy Saturday, linked to their alerts, with measured effects.
    assert overcrowding
    assert len(actions) == 2 and all(a.alerts.exists() for a in actions)
    assert all(a.ended_at <= now for a in actions)
    assert {o.area.slug for o in outcomes} == {"de-pier", "tramhaltes-kurhaus"}
    for outcome in outcomes:  # the simulated measures cut the counts by 22 % and 30 %
        assert outcome.method == "counterfactual_forecast" and -40 < outcome.effect_pct < -5
    # King's Day is always ahead.
    assert len(kings_day) == 1 and kings_day[0].start > now


@pytest.mark.parametrize("moment", [m for _label, m in SWEEP], ids=[label for label, _m in SWEEP])
def test_demo_has_a_living_crowd_picture_on_any_date(db, settings, client, moment):
    settings.DEBUG = True
    with time_machine.travel(moment, tick=True):
        output = seed()
        assert "synthetic scenario" in output and "warning" not in output
        assert_living_picture(client, datetime.now(UTC))


@pytest.mark.clock
def test_demo_has_a_living_crowd_picture_at_the_session_clock(db, settings, client):
    """Unfrozen: on today's date, or on CSM_TEST_CLOCK's in the CI clock pass."""
    settings.DEBUG = True
    output = seed()
    assert "synthetic scenario" in output and "warning" not in output
    assert_living_picture(client, datetime.now(UTC))


def test_demo_seeded_again_continues_its_scenario(db, settings, client):
    settings.DEBUG = True
    start = _local(2027, 8, 14, 10, 0)
    with time_machine.travel(start, tick=True):
        seed()
        first = scheveningen_scenario(datetime.now(UTC))
    with time_machine.travel(start + timedelta(hours=3), tick=True):
        output = seed()
        assert scheveningen_scenario(datetime.now(UTC)) == first, "one story, not a new one per start"
        assert "new synthetic scenario" not in output
        with scopes_disabled():
            assert Observation.objects.filter(
                series__tenant__slug="den-haag", time__gt=datetime.now(UTC) - timedelta(minutes=10)
            ).exists(), "the replay plays on"


def test_unreadable_saved_scenario_starts_a_new_synthetic_one(db, settings, client):
    settings.DEBUG = True
    with time_machine.travel(_local(2027, 8, 14, 10, 0), tick=True):
        seed()
        path = scenario_path(settings.VAR_DIR / "replay" / "scheveningen.csv")
        path.write_text("{not json")
        output = seed()
        assert "no readable demo scenario" in output and "starting a new synthetic scenario" in output
        assert json.loads(path.read_text())["origin"], "the new scenario is saved"


def test_demo_started_again_weeks_later_shows_a_living_picture_again(db, settings, client):
    settings.DEBUG = True
    with time_machine.travel(_local(2027, 3, 20, 14, 0), tick=True):
        seed()
    with time_machine.travel(_local(2027, 5, 2, 9, 0), tick=True):  # after King's Day, too
        output = seed()
        assert (
            "the saved demo scenario is from 2027-03-20 13:00 UTC; starting a new synthetic scenario"
            in output
        )
        assert_living_picture(client, datetime.now(UTC))


def test_clock_moved_back_starts_a_new_synthetic_scenario(db, settings, client):
    """A demo database seeded 'later' (the machine's clock was wrong then) is not continued."""
    settings.DEBUG = True
    with time_machine.travel(_local(2027, 8, 20, 10, 0), tick=True):
        seed()
    with time_machine.travel(_local(2027, 8, 14, 10, 0), tick=True):
        output = seed()
        assert "starts in the future (2027-08-20 08:00 UTC); starting a new synthetic scenario" in output
        now = datetime.now(UTC)
        assert scheveningen_scenario(now).now <= now
