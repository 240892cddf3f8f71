"""Buienradar connector: parse recorded feeds, fetch end to end from a local server, fail clearly."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from sources.connectors import get_connector
from sources.connectors.base import AreaInfo, ConnectorContext, ConnectorError, ParseError, Payload, Reading
from sources.connectors.buienradar import NO_LOCATION, BuienradarConnector
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "buienradar"
FEED_DEC = (FIXTURES / "feed_2019-12-15_trimmed.json").read_bytes()
FEED_FEB = (FIXTURES / "feed_2019-02-04_trimmed.json").read_bytes()
FEED_URL = "https://data.buienradar.nl/2.0/feed/json"
HINT = "check that the source's 'url' is the Buienradar JSON feed (https://data.buienradar.nl/2.0/feed/json)."
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# The default area of tests.factories.square(): a small square at the Kurhaus, Scheveningen.
KURHAUS = AreaInfo(
    slug="kurhaus",
    name="Kurhaus",
    centroid=(4.2732, 52.1122),
    bbox=(4.2727, 52.1117, 4.2737, 52.1127),
    geometry={},
)


def make_connector(config=None, areas=(KURHAUS,)) -> BuienradarConnector:
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam", areas=areas)
    return BuienradarConnector(config=config or {}, context=context)


def feed(body: bytes, content_type: str = "application/json") -> Payload:
    return Payload(body=body, url=FEED_URL, content_type=content_type)


def station_readings(
    station: str, name: str, time: datetime, temperature, precipitation, wind, *, location=None
) -> list[Reading]:
    """The station's readings; ``location`` is its (lon, lat) from the feed, given to each series."""
    rows = [
        ("temperature", "temperature", "°C", "temperature", temperature),
        ("precipitation", "precipitation", "mm/h", "precipitation", precipitation),
        ("wind_speed", "wind_speed", "m/s", "wind speed", wind),
    ]
    return [
        Reading(key=f"{station}:{suffix}", metric=metric, time=time, value=value, unit=unit,
                name=f"{name} {label}", facility=station, location=location)
        for suffix, metric, unit, label, value in rows
        if value is not None
    ]  # fmt: skip


def forecast_readings(days: list[tuple]) -> list[Reading]:
    """Per day (local date, max temp, min temp, rain %, rain mm, wind m/s) the five forecast readings."""
    rows = [
        ("temperature_max", "forecast_temperature_max", "°C", "forecast maximum temperature"),
        ("temperature_min", "forecast_temperature_min", "°C", "forecast minimum temperature"),
        ("rain_chance", "forecast_rain_chance", "%", "forecast chance of rain"),
        ("precipitation", "forecast_precipitation", "mm", "forecast precipitation"),
        ("wind_speed", "forecast_wind_speed", "m/s", "forecast wind speed"),
    ]
    return [
        Reading(key=f"forecast:{suffix}", metric=metric, time=datetime(*day, tzinfo=AMSTERDAM), value=value,
                unit=unit, name=f"Buienradar {label}")
        for day, *values in days
        for (suffix, metric, unit, label), value in zip(rows, values, strict=True)
    ]  # fmt: skip


# Beaufort 3 is 4.4 m/s and 4 is 6.7 m/s (middle of the WMO band); temperatures take the outer ends.
FORECAST_DEC = forecast_readings(
    [
        ((2019, 12, 16), 9.0, 4.0, 50.0, 2.0, 4.4),
        ((2019, 12, 17), 14.0, 5.0, 60.0, 2.0, 6.7),
        ((2019, 12, 18), 7.0, 2.0, 20.0, 0.0, 4.4),
        ((2019, 12, 19), 11.0, 2.0, 40.0, 2.0, 4.4),
        ((2019, 12, 20), 11.0, 5.0, 60.0, 4.0, 4.4),
    ]
)
VOORSCHOTEN_DEC = station_readings(
    "6215", "Voorschoten", datetime(2019, 12, 15, 13, tzinfo=UTC), 8.5, 0.0, 8.2, location=(4.43, 52.12)
)


# --- parse ------------------------------------------------------------------------------------------


def test_parse_takes_the_station_nearest_to_the_areas_and_the_forecast():
    result = make_connector().parse(feed(FEED_DEC))

    assert result.warnings == []
    assert result.readings == VOORSCHOTEN_DEC + FORECAST_DEC
    assert all(r.time.tzinfo is not None for r in result.readings)
    # 14:00 Dutch winter time in the feed is 13:00 UTC; forecast days start at local midnight.
    assert result.readings[0].time.utcoffset() == timedelta(hours=1)
    assert result.readings[3].time == datetime(2019, 12, 15, 23, tzinfo=UTC)
    assert len({r.key for r in result.readings}) == 8


def test_parse_keys_are_unique_per_time():
    result = make_connector().parse(feed(FEED_DEC))

    pairs = [(r.key, r.time) for r in result.readings]
    assert len(pairs) == len(set(pairs)) == 28


def test_parse_configured_station_with_a_missing_field_warns():
    result = make_connector({"station_id": 6257}).parse(feed(FEED_DEC))

    assert result.readings[:2] == station_readings(
        "6257", "Wijk aan Zee", datetime(2019, 12, 15, 13, tzinfo=UTC), 9.3, 0.0, None, location=(4.6, 52.5)
    )
    assert result.warnings == ["Station 6257 (Wijk aan Zee): no 'windspeed' in the feed; not stored."]


def test_parse_older_capture_with_null_fields_warns():
    result = make_connector({"station_id": 6242}).parse(feed(FEED_FEB))

    # 21:00 Dutch winter time is 20:00 UTC.
    assert result.readings[:2] == station_readings(
        "6242", "Vlieland", datetime(2019, 2, 4, 20, tzinfo=UTC), 5.1, None, 12.74, location=(4.92, 53.25)
    )
    assert result.warnings == ["Station 6242 (Vlieland): 'precipitation' is null; not stored."]
    assert result.readings[2:] == forecast_readings(
        [
            ((2019, 2, 5), 6.0, 2.0, 20.0, 0.0, 4.4),
            ((2019, 2, 6), 10.0, 3.0, 90.0, 11.0, 6.7),
            ((2019, 2, 7), 10.0, 6.0, 90.0, 8.0, 6.7),
            ((2019, 2, 8), 9.0, 3.0, 70.0, 5.0, 6.7),
            ((2019, 2, 9), 10.0, 3.0, 80.0, 7.0, 9.35),
        ]
    )


def test_parse_configured_coordinates_override_the_areas():
    maastricht = {"latitude": 50.85, "longitude": 5.69}

    result = make_connector(maastricht).parse(feed(FEED_DEC))

    assert {r.facility for r in result.readings if r.facility} == {"6380"}


def test_parse_nearest_passes_over_stations_without_temperature():
    # IJmuiden (6225) is nearest to its own coordinates but measures only wind; Wijk aan Zee is 4 km away.
    result = make_connector({"latitude": 52.47, "longitude": 4.57}).parse(feed(FEED_DEC))

    assert {r.facility for r in result.readings if r.facility} == {"6257"}


def test_parse_forecast_problems_become_warnings():
    document = json.loads(FEED_DEC)
    days = document["forecast"]["fivedayforecast"]
    del days[0]["rainChance"]
    days[1]["maxtemperatureMax"] = None
    days[2]["wind"] = 14
    days[3]["day"] = "donderdag"
    days[4]["mmRainMax"] = "veel"

    result = make_connector().parse(feed(json.dumps(document).encode()))

    assert result.warnings == [
        "Forecast for 2019-12-16: no 'rainChance' in the feed; not stored.",
        "Forecast for 2019-12-17: 'maxtemperatureMax' is null; not stored.",
        "Forecast for 2019-12-18: 'wind' is 14, not a Beaufort force 0-12; not stored.",
        "Forecast day 4: no valid 'day' ('donderdag'); not stored.",
        "Forecast for 2019-12-20: 'mmRainMax' is not a number ('veel'); not stored.",
    ]
    assert len(result.readings) == 3 + 25 - 4 - 5  # four single values and all of day 4


def test_parse_without_station_measurements_keeps_the_forecast():
    document = json.loads(FEED_DEC)
    del document["actual"]["stationmeasurements"]

    result = make_connector().parse(feed(json.dumps(document).encode()))

    assert result.readings == FORECAST_DEC
    assert result.warnings == [
        "The feed has no station measurements this time (Buienradar leaves them out for a while around "
        "midnight); only the forecast was read."
    ]


def test_parse_without_forecast_when_switched_off():
    result = make_connector({"include_forecast": False}).parse(feed(FEED_DEC))

    assert result.readings == VOORSCHOTEN_DEC
    assert result.warnings == []


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b"<!DOCTYPE html>\n<html><head><title>Onderhoud</title></head><body>Even geduld</body></html>",
            "text/html",
            f"The Buienradar feed at {FEED_URL} sent HTML or XML instead of JSON (content type 'text/html', "
            f"starting '<!DOCTYPE html> <html><head><title>Onderhoud</title></head><'); {HINT}",
        ),
        (b"", "application/json", f"The Buienradar feed at {FEED_URL} sent an empty body; {HINT}"),
        (
            FEED_DEC[:300],
            "application/json",
            f"The Buienradar feed at {FEED_URL} sent broken JSON (Unterminated string starting at: line 6, "
            f"column 14): the response was cut off or damaged. If this keeps happening, {HINT}",
        ),
        (
            b'{"weather": []}',
            "application/json",
            f"The Buienradar feed at {FEED_URL} is JSON but has no 'actual' or 'forecast' section; {HINT}",
        ),
    ],
    ids=["html", "empty", "truncated", "other-json"],
)
def test_parse_rejects_what_is_not_the_feed(body, content_type, message):
    with pytest.raises(ParseError) as caught:
        make_connector().parse(feed(body, content_type))

    assert caught.value.message == message


def test_parse_unknown_station_lists_the_stations_in_the_feed():
    with pytest.raises(ParseError) as caught:
        make_connector({"station_id": 9999}).parse(feed(FEED_DEC))

    assert caught.value.message == (
        "Station 9999 is not in the Buienradar feed; set 'station_id' to one of: 6215 Voorschoten, "
        "6225 IJmuiden, 6242 Vlieland, 6257 Wijk aan Zee, 6260 De Bilt, 6380 Maastricht (or leave it empty "
        "to use the station nearest to the areas)."
    )


def test_fetch_without_any_location_fails_before_downloading():
    with pytest.raises(ConnectorError) as caught:
        make_connector(areas=()).fetch()

    assert caught.value.message == NO_LOCATION


# --- configuration ----------------------------------------------------------------------------------


def test_registered_with_a_form_ready_schema():
    assert get_connector("buienradar") is BuienradarConnector
    schema = BuienradarConnector.config_schema
    assert schema["additionalProperties"] is False
    assert all("default" in field and field["description"] for field in schema["properties"].values())
    assert "buienradar.nl" in BuienradarConnector.description
    assert BuienradarConnector.validate_config({}) == []
    assert BuienradarConnector.validate_config({"station_id": 6260, "url": FEED_URL}) == []


def test_validate_config_reports_every_problem():
    messages = BuienradarConnector.validate_config(
        {"url": "ftp://example.org/feed", "station_id": "6260", "latitude": 52.1, "colour": "blue"}
    )

    assert messages == [
        "(root): Additional properties are not allowed ('colour' was unexpected)",
        "station_id: '6260' is not of type 'integer', 'null'",
        "url: 'ftp://example.org/feed' does not match '^https?://'",
        "latitude/longitude: give both or neither.",
    ]


def test_source_with_bad_config_is_refused(tenant_a):
    with pytest.raises(ValidationError) as caught:
        make_source(tenant_a, kind="buienradar", config={"latitude": 95, "longitude": 4.3})

    assert caught.value.message_dict["config"] == ["latitude: 95 is greater than the maximum of 90"]


# --- end to end -------------------------------------------------------------------------------------


def weather_source(tenant, httpserver):
    make_area(tenant)  # the Kurhaus: Voorschoten is the nearest station
    return make_source(tenant, kind="buienradar", config={"url": httpserver.url_for("/2.0/feed/json")})


def test_fetch_stores_series_and_observations_once(tenant_a, httpserver):
    httpserver.expect_request("/2.0/feed/json").respond_with_data(FEED_DEC, content_type="application/json")
    source = weather_source(tenant_a, httpserver)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert outcome.ok
        assert (outcome.stored, outcome.duplicates, outcome.rejected, outcome.warnings) == (28, 0, 0, [])
        series = {s.key: s for s in Series.objects.filter(source=source)}
        assert {k: (s.metric, s.unit, s.name, s.facility) for k, s in series.items()} == {
            "6215:temperature": ("temperature", "°C", "Voorschoten temperature", "6215"),
            "6215:precipitation": ("precipitation", "mm/h", "Voorschoten precipitation", "6215"),
            "6215:wind_speed": ("wind_speed", "m/s", "Voorschoten wind speed", "6215"),
            "forecast:temperature_max": (
                "forecast_temperature_max", "°C", "Buienradar forecast maximum temperature", ""
            ),
            "forecast:temperature_min": (
                "forecast_temperature_min", "°C", "Buienradar forecast minimum temperature", ""
            ),
            "forecast:rain_chance": ("forecast_rain_chance", "%", "Buienradar forecast chance of rain", ""),
            "forecast:precipitation": (
                "forecast_precipitation", "mm", "Buienradar forecast precipitation", ""
            ),
            "forecast:wind_speed": ("forecast_wind_speed", "m/s", "Buienradar forecast wind speed", ""),
        }  # fmt: skip
        stored = {(o.series.key, o.time, o.value) for o in Observation.objects.select_related("series")}
        assert stored == {(r.key, r.time, r.value) for r in VOORSCHOTEN_DEC + FORECAST_DEC}
        assert series["forecast:temperature_max"].latest_value == 11.0  # the last forecast day
        # The station's series sit at the station (lon, lat from the feed); the national forecast nowhere.
        assert {k: s.location for k, s in series.items() if s.location} == {
            "6215:temperature": (4.43, 52.12),
            "6215:precipitation": (4.43, 52.12),
            "6215:wind_speed": (4.43, 52.12),
        }
        source.refresh_from_db()
        assert source.last_data_at == datetime(2019, 12, 15, 13, tzinfo=UTC)  # measured, not forecast
        assert source.last_error == ""

        again = source_fetch(source=source)

        assert again.ok
        assert (again.stored, again.duplicates) == (0, 28)
        assert Observation.objects.count() == 28
        assert Series.objects.count() == 8


@pytest.mark.parametrize(
    ("body", "status", "content_type", "message"),
    [
        (
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            200,
            "text/html",
            "The Buienradar feed at {url} sent HTML or XML instead of JSON (content type 'text/html', "
            "starting '<html><body><h1>502 Bad Gateway</h1></body></html>'); " + HINT,
        ),
        (FEED_DEC[:2000], 200, "application/json",
         "The Buienradar feed at {url} sent broken JSON (Expecting property name enclosed in double quotes: "
         "line 54, column 9): the response was cut off or damaged. If this keeps happening, " + HINT),
        ("", 200, "application/json", "The Buienradar feed at {url} sent an empty body; " + HINT),
        ("oops", 500, "text/plain",
         "Buienradar feed: {url} answered HTTP 500 INTERNAL SERVER ERROR. If this persists, check the "
         "source's 'url'."),
    ],
    ids=["html", "truncated", "empty", "http-500"],
)  # fmt: skip
def test_failed_fetch_stores_nothing_and_says_why(tenant_a, httpserver, body, status, content_type, message):
    httpserver.expect_request("/2.0/feed/json").respond_with_data(
        body, status=status, content_type=content_type
    )
    source = weather_source(tenant_a, httpserver)
    expected = message.format(url=httpserver.url_for("/2.0/feed/json"))

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert outcome.error == expected
        assert outcome.stored == 0
        assert Series.objects.count() == 0
        assert Observation.objects.count() == 0
        stored = Source.objects.get(pk=source.pk)
        assert (stored.last_error, stored.consecutive_failures) == (expected, 1)
