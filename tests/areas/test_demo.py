"""seed_demo's geography: Scheveningen for den-haag, King's Day in Rotterdam for the other two."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from areas.demo import AMSTERDAM, kings_day
from areas.models import Area, BuildingLayer, Event
from sources.models import Series


@pytest.mark.clock
@pytest.mark.slow
def test_seed_demo_geography(db, settings, client):
    """Seeding is expensive, so one test seeds (twice: idempotent) and checks each part."""
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    check_den_haag_has_scheveningen()
    check_kings_day_in_rotterdam_for_both_tenants()
    check_demo_organiser_sees_the_event(client)
    check_den_haag_has_buildings_and_located_series()


@pytest.mark.clock
@pytest.mark.parametrize(
    ("now", "slug", "day"),
    [
        (datetime(2027, 1, 1, 0, 30, tzinfo=UTC), "koningsdag-2027", 27),  # a Tuesday
        (datetime(2027, 4, 27, 18, 59, tzinfo=UTC), "koningsdag-2027", 27),  # its last minute (20:59 CEST)
        (datetime(2027, 4, 27, 19, 0, tzinfo=UTC), "koningsdag-2028", 27),  # over: next year's
        (datetime(2025, 1, 1, tzinfo=UTC), "koningsdag-2025", 26),  # 27 April 2025 was a Sunday
        (datetime(2099, 12, 31, 23, 30, tzinfo=UTC), "koningsdag-2100", 27),  # already 2100 in Amsterdam
    ],
)
def test_kings_day_is_the_next_one(now, slug, day):
    event = kings_day(now)
    assert event["slug"] == slug
    assert event["start"].day == day and event["start"].month == 4
    assert event["start"].astimezone(AMSTERDAM).hour == 8 and event["end"] > now


def check_den_haag_has_scheveningen():
    with scopes_disabled():
        areas = {a.slug: a for a in Area.objects.filter(tenant__slug="den-haag")}
    assert set(areas) == {
        "boulevard",
        "boulevard-haven",
        "boulevard-zeekant",
        "boulevard-kurhaus",
        "strand-scheveningen",
        "de-pier",
        "kurhausplein",
        "tramhaltes-kurhaus",
        "strandtrap-kurhaus",
    }
    sections = [areas[s] for s in ("boulevard-haven", "boulevard-zeekant", "boulevard-kurhaus")]
    assert all(s.parent_id == areas["boulevard"].pk for s in sections)
    # about 1.9 km of promenade, 30 m wide
    assert 45_000 < areas["boulevard"].surface_m2 < 65_000
    assert sum(s.surface_m2 for s in sections) == pytest.approx(areas["boulevard"].surface_m2, rel=0.03)
    beach = areas["strand-scheveningen"]
    assert beach.usable_surface_m2 == pytest.approx(0.8 * beach.surface_m2, abs=1)
    for area in areas.values():  # all on the Scheveningen seafront
        assert 4.25 < area.centroid_lon < 4.29 and 52.09 < area.centroid_lat < 52.12


def check_kings_day_in_rotterdam_for_both_tenants():
    expected = kings_day(timezone.now())
    for slug in ("rotterdam", "koningsdag-events"):
        with scopes_disabled():
            event = Event.objects.get(tenant__slug=slug, slug=expected["slug"])
            zones = list(event.zones.all())
        assert event.start == expected["start"]
        assert len(zones) == 4
        assert all(z.kind == "temporary" and z.valid_from == event.start for z in zones)
        assert all(51.90 < z.centroid_lat < 51.93 and 4.47 < z.centroid_lon < 4.49 for z in zones)


def check_demo_organiser_sees_the_event(client):
    # The demo log-in through the log-in page (the lock-out backend sees the attempt).
    assert (
        client.post(
            "/accounts/login/", {"username": "koningsdag-events-organiser", "password": "demo"}
        ).status_code
        == 302
    )
    events = client.get("/api/v1/tenants/koningsdag-events/events/").json()["results"]
    assert [e["slug"] for e in events] == [kings_day(timezone.now())["slug"]]
    assert events[0]["organisers"] == ["koningsdag-events-organiser"]


def check_den_haag_has_buildings_and_located_series():
    with scopes_disabled():
        layer = BuildingLayer.objects.get(tenant__slug="den-haag")
        series = {s.key: s for s in Series.objects.filter(tenant__slug="den-haag")}
        assert not BuildingLayer.objects.filter(tenant__slug="rotterdam").exists()
    assert layer.feature_count == len(layer.geojson["features"]) == 6  # seeded twice, still six
    heights = {f["properties"]["id"]: f["properties"]["height"] for f in layer.geojson["features"]}
    assert heights["kurhaus"] == 24.0 and heights["kurhaus-koepel"] == 38.0
    min_lon, min_lat, max_lon, max_lat = layer.bbox
    assert 4.27 < min_lon < max_lon < 4.28 and 52.10 < min_lat < max_lat < 52.12  # around the Kurhaus
    garage = series["garage-kurhaus:vacant"]
    assert garage.location == (4.2772, 52.1104) and garage.metric == "parking_vacant"
    assert 0 <= garage.latest_value <= 400 and series["garage-kurhaus:capacity"].latest_value == 400
    assert series["tram-kurhaus:arrivals"].location == (4.28, 52.1102)
    assert {series[f"weather:{m}"].location for m in ("temperature", "precipitation", "wind_speed")} == {None}
    assert series["weather:temperature"].unit == "°C"
    assert series["cam-de-pier"].location is None
    # The beach stairs' counting line: both walking directions, one line 5 m wide, placed on the top step.
    directions = [s for key, s in series.items() if key.startswith("CSM-STRANDTRAP-KURHAUS_")]
    assert sorted(s.key.rsplit("_", 1)[1] for s in directions) == ["135", "315"]
    for line in directions:
        assert line.metric == "people_passing" and line.line_width_m == 5.0
        assert line.facility == "CSM-STRANDTRAP-KURHAUS" and line.area.slug == "strandtrap-kurhaus"
        assert 4.27 < line.location[0] < 4.28 and 52.11 < line.location[1] < 52.12
        assert line.latest_value is not None
