"""The demo's crowd picture: status, forecasts, alerts on a busy afternoon, actions with measured outcomes."""

from io import StringIO
from zoneinfo import ZoneInfo

from django.core.management import call_command
from django_scopes import scopes_disabled

from areas.models import AreaForecast
from incidents.models import ActionLogEntry, Alert, Incident, Outcome


def test_demo_has_a_living_crowd_picture(db, settings, client):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    amsterdam = ZoneInfo("Europe/Amsterdam")
    with scopes_disabled():
        alerts = list(Alert.objects.filter(tenant__slug="den-haag"))
        actions = list(ActionLogEntry.objects.filter(tenant__slug="den-haag").prefetch_related("alerts"))
        outcomes = list(Outcome.objects.filter(tenant__slug="den-haag").select_related("area"))
        forecasts = AreaForecast.objects.filter(tenant__slug="den-haag").values_list("area__slug", flat=True)
        assert set(forecasts) >= {"de-pier", "kurhausplein", "strand-scheveningen"}
        assert Incident.objects.filter(tenant__slug="den-haag", kind="overcrowding").exists()
    assert any(a.state == "open" for a in alerts), "an operator logging in finds an alert to act on"
    afternoon = [
        a for a in alerts if a.kind != "manual" and 12 <= a.opened_at.astimezone(amsterdam).hour < 19
    ]
    assert afternoon, "an alert fires during the busy afternoon"
    assert len(actions) == 2 and all(a.alerts.exists() for a in actions)
    assert {o.area.slug for o in outcomes} == {"de-pier", "tramhaltes-kurhaus"}
    for outcome in outcomes:  # the simulated measures cut the counts by 22 % and 30 %
        assert outcome.method == "counterfactual_forecast" and -40 < outcome.effect_pct < -5
    # The demo log-in through the log-in page (django-axes counts attempts per request).
    assert (
        client.post("/accounts/login/", {"username": "den-haag-operator", "password": "demo"}).status_code
        == 302
    )
    status = client.get("/api/v1/tenants/den-haag/areas/status/").json()
    assert {a["slug"] for a in status["areas"] if a["people"] is not None} >= {"de-pier", "boulevard-kurhaus"}
