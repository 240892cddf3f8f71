"""The generic_json connector: JMESPath mapping of recorded payloads (a visitor panel, FIWARE
CrowdFlowObserved, bad records) and fetch-and-store end to end against a local HTTP server (no network)."""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, Payload, Reading
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "generic_json"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
URL = "https://api.example.com/v2/counts"

RESONO = {
    "items": "data",
    "key": "location.id",
    "time": "timestamp",
    "value": "visitors",
    "metric": "visitor_estimate",
    "name": "location.name",
    "area": "'boulevard'",
}
FIWARE = {
    "key": "id",
    "time": "dateObserved",
    # dateObserved is an interval without offset; the example's dateObservedFrom/To show it is UTC
    "assume_timezone": "UTC",
    "value": "peopleCount",
    "metric": "people_count",
}
BAD = {"items": "data", "key": "sensor", "time": "measured_at", "value": "count", "metric_field": "kind"}
VALLADOLID_1 = "urn:ngsi-ld:CrowdFlowObserved:Valladolid_1"
VALLADOLID_2 = "urn:ngsi-ld:CrowdFlowObserved:Valladolid_2"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def connector(mapping: dict, **config):
    cls = get_connector("generic_json")
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    return cls(config={"url": URL, **mapping, **config}, context=context, now=NOW)


def parse(mapping: dict, body: bytes, **config):
    return connector(mapping, **config).parse(Payload(body=body, url=URL, content_type="application/json"))


def visitors(location, name, minute, value):
    return Reading(
        key=location,
        metric="visitor_estimate",
        time=datetime(2025, 6, 1, 12, minute, tzinfo=CEST),
        value=value,
        unit="persons",
        name=name,
        area="boulevard",
    )


def crowd_flow(key, minute, value):
    return Reading(
        key=key,
        metric="people_count",
        time=datetime(2018, 8, 7, 11, minute, tzinfo=UTC),
        value=value,
        unit="persons",
    )


# --- parse ------------------------------------------------------------------------------------------


def test_parse_visitor_panel_payload():
    result = parse(RESONO, fixture("resono_visitors.json"))
    assert result.readings == [
        visitors("boulevard-noord", "Boulevard Noord", 0, 1520.0),
        visitors("boulevard-noord", "Boulevard Noord", 15, 1684.0),
        visitors("pier", "De Pier", 0, 412.0),
        visitors("pier", "De Pier", 15, 398.5),
    ]
    assert result.readings[0].time == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    assert all(r.time.tzinfo is not None for r in result.readings)
    assert (result.warnings, result.state) == ([], None)


def test_parse_fiware_crowd_flow_entities_at_the_interval_end():
    result = parse(FIWARE, fixture("fiware_CrowdFlowObserved_entities.json"))
    assert result.readings == [
        crowd_flow(VALLADOLID_1, 15, 100.0),
        crowd_flow(VALLADOLID_1, 20, 120.0),
        crowd_flow(VALLADOLID_2, 15, 45.0),
    ]
    assert result.readings[0].time.utcoffset() == timedelta(0)
    assert result.warnings == []


def test_parse_a_single_object_as_one_record():
    entity = json.loads(fixture("fiware_CrowdFlowObserved_entities.json"))[0]
    assert parse(FIWARE, json.dumps(entity).encode()).readings == [crowd_flow(VALLADOLID_1, 15, 100.0)]


def test_parse_a_time_without_offset_in_the_assumed_zone():
    body = b'[{"id": "a", "t": "2025-06-01T12:00:00", "n": 3}]'
    mapping = {"key": "id", "time": "t", "value": "n", "metric": "people_count"}
    [reading] = parse(mapping, body, assume_timezone="Europe/Amsterdam").readings
    assert reading.time == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_format", "raw"),
    [("unix", 1748772000), ("unix", "1748772000"), ("unix", 1748772000.0), ("unix_ms", 1748772000000)],
)
def test_parse_unix_times(time_format, raw):
    body = json.dumps({"rows": [{"id": 17, "t": raw, "n": 5}]}).encode()
    mapping = {"items": "rows", "key": "id", "time": "t", "value": "n", "metric": "parking_vacant"}
    result = parse(mapping, body, time_format=time_format)
    assert result.readings == [
        Reading(
            key="17",
            metric="parking_vacant",
            time=datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
            value=5.0,
            unit="spaces",
        )
    ]


def test_parse_hints_at_seconds_and_milliseconds_mixed_up():
    body = b'[{"id": "a", "t": 1748772000000, "n": 1}, {"id": "b", "t": 1748772000, "n": 1}]'
    mapping = {"key": "id", "time": "t", "value": "n", "metric": "people_count"}
    assert parse(mapping, body, time_format="unix").warnings[0] == (
        "record [0] (key 'a'): time 1748772000000 looks like milliseconds; set time_format to unix_ms; skipped."
    )
    assert parse(mapping, body, time_format="unix_ms").warnings == [
        "record [1] (key 'b'): time 1748772000 looks like seconds; set time_format to unix; skipped."
    ]
    assert parse(mapping, body).warnings[0] == (
        "record [0] (key 'a'): time 1748772000000 is not an ISO 8601 text; set time_format to unix or unix_ms; "
        "skipped."
    )


def test_parse_bad_records_warns_per_record_and_keeps_the_good_ones():
    result = parse(BAD, fixture("bad_records.json"))
    assert result.readings == [
        Reading(
            key="gate-1",
            metric="people_in",
            time=datetime(2025, 6, 1, 11, 0, tzinfo=UTC),
            value=40.0,
            unit="persons",
        ),
        Reading(
            key="gate-1",
            metric="people_in",
            time=datetime(2025, 6, 1, 11, 5, tzinfo=CEST),
            value=38.0,
            unit="persons",
        ),
        Reading(
            key="gate-10",
            metric="people_out",
            time=datetime(2025, 6, 1, 11, 0, tzinfo=UTC),
            value=5.0,
            unit="persons",
        ),
    ]
    assert result.warnings == [
        "record data[1]: key 'sensor' gave null, not an id; skipped.",
        "record data[2] (key 'gate-2'): value null is not a number; skipped.",
        "record data[3] (key 'gate-3'): value 'n/a' is not a number; skipped.",
        "record data[4] (key 'gate-4'): time '2025-06-01T13:00:00' has no UTC offset; set assume_timezone to the "
        "zone the API uses (e.g. Europe/Amsterdam); skipped.",
        "record data[5] (key 'gate-5'): value true is not a number; skipped.",
        "record data[6] (key 'gate-6'): time 'measured_at' found nothing; skipped.",
        "record data[7] (key 'gate-7'): metric 'footfall' is not one of people_count, people_in, people_out, "
        "people_passing, visitor_estimate, parking_vacant, parking_capacity, vehicle_flow, vehicle_speed, "
        "transit_arrivals, transit_occupancy, transit_delay, temperature, precipitation, wind_speed, "
        "forecast_temperature_max, "
        "forecast_temperature_min, forecast_rain_chance, forecast_precipitation, forecast_wind_speed, other; "
        "skipped.",
        "record data[8] (key 'gate-8'): time 'yesterday' is not an ISO 8601 instant or start/end interval; "
        "skipped.",
        "record data[9] is 'gate-9', not an object; skipped.",
    ]


def test_parse_caps_warnings():
    body = json.dumps([{"id": f"s{i}", "t": "2025-06-01T10:00:00Z", "n": "x"} for i in range(60)]).encode()
    result = parse({"key": "id", "time": "t", "value": "n", "metric": "people_count"}, body)
    assert len(result.warnings) == 51
    assert result.warnings[-1] == "10 more records skipped for such reasons."


# --- end to end -------------------------------------------------------------------------------------


def fetch(tenant, source):
    with tenant_scope(tenant):
        return source_fetch(source=source, now=NOW)


def stored(tenant, source):
    with tenant_scope(tenant):
        return sorted(
            (o.series.key, o.time, o.value) for o in Observation.objects.filter(series__source=source)
        )


def test_fetch_visitor_panel_with_an_api_key_header(httpserver, tenant_a):
    area = make_area(tenant_a, slug="boulevard")
    httpserver.expect_request("/v2/counts").respond_with_data(
        fixture("resono_visitors.json"), content_type="application/json"
    )
    config = {
        "url": httpserver.url_for("/v2/counts"),
        "api_key_header": "Authorization",
        **RESONO,
        "headers": {"X-Client": "csm"},
    }
    source = make_source(tenant_a, kind="generic_json", config=config, secrets={"api_key": "k-123"})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert (outcome.stored, outcome.duplicates, outcome.rejected, outcome.warnings) == (4, 0, 0, [])
    [(request, _)] = httpserver.log
    assert (request.headers["Authorization"], request.headers["X-Client"]) == ("Bearer k-123", "csm")
    assert request.headers["Accept"] == "application/json"
    with tenant_scope(tenant_a):
        series = {s.key: (s.metric, s.unit, s.name, s.area_id) for s in Series.objects.filter(source=source)}
    assert series == {
        "boulevard-noord": ("visitor_estimate", "persons", "Boulevard Noord", area.pk),
        "pier": ("visitor_estimate", "persons", "De Pier", area.pk),
    }
    assert stored(tenant_a, source) == [
        ("boulevard-noord", datetime(2025, 6, 1, 10, 0, tzinfo=UTC), 1520.0),
        ("boulevard-noord", datetime(2025, 6, 1, 10, 15, tzinfo=UTC), 1684.0),
        ("pier", datetime(2025, 6, 1, 10, 0, tzinfo=UTC), 412.0),
        ("pier", datetime(2025, 6, 1, 10, 15, tzinfo=UTC), 398.5),
    ]

    again = fetch(tenant_a, source)

    assert again.ok, again.error
    assert (again.stored, again.duplicates) == (0, 4)
    assert len(stored(tenant_a, source)) == 4


def test_fetch_fiware_entities_with_an_api_key_parameter(httpserver, tenant_a):
    httpserver.expect_request("/v2/entities").respond_with_data(
        fixture("fiware_CrowdFlowObserved_entities.json"), content_type="application/json"
    )
    config = {
        "url": httpserver.url_for("/v2/entities") + "?type=CrowdFlowObserved",
        "params": {"options": "keyValues"},
        "api_key_param": "apikey",
        **FIWARE,
    }
    source = make_source(tenant_a, kind="generic_json", config=config, secrets={"api_key": "k 123&x"})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert outcome.stored == 3
    [(request, _)] = httpserver.log
    assert request.args.to_dict() == {
        "type": "CrowdFlowObserved",
        "options": "keyValues",
        "apikey": "k 123&x",
    }
    assert "Authorization" not in request.headers
    with tenant_scope(tenant_a):
        assert sorted(Series.objects.filter(source=source).values_list("key", "metric", "unit")) == [
            (VALLADOLID_1, "people_count", "persons"),
            (VALLADOLID_2, "people_count", "persons"),
        ]
    assert stored(tenant_a, source) == [
        (VALLADOLID_1, datetime(2018, 8, 7, 11, 15, tzinfo=UTC), 100.0),
        (VALLADOLID_1, datetime(2018, 8, 7, 11, 20, tzinfo=UTC), 120.0),
        (VALLADOLID_2, datetime(2018, 8, 7, 11, 15, tzinfo=UTC), 45.0),
    ]
    assert fetch(tenant_a, source).stored == 0


def test_fetch_bad_records_stores_the_good_ones_and_names_the_bad(httpserver, tenant_a):
    httpserver.expect_request("/gates").respond_with_data(fixture("bad_records.json"))
    source = make_source(tenant_a, kind="generic_json", config={"url": httpserver.url_for("/gates"), **BAD})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert (outcome.stored, outcome.rejected) == (3, 0)
    assert len(outcome.warnings) == 9
    assert outcome.warnings[2] == "record data[3] (key 'gate-3'): value 'n/a' is not a number; skipped."
    assert stored(tenant_a, source) == [
        ("gate-1", datetime(2025, 6, 1, 9, 5, tzinfo=UTC), 38.0),
        ("gate-1", datetime(2025, 6, 1, 11, 0, tzinfo=UTC), 40.0),
        ("gate-10", datetime(2025, 6, 1, 11, 0, tzinfo=UTC), 5.0),
    ]
    with tenant_scope(tenant_a):
        assert sorted(Series.objects.filter(source=source).values_list("key", "metric")) == [
            ("gate-1", "people_in"),
            ("gate-10", "people_out"),
        ]


# --- bad input --------------------------------------------------------------------------------------

LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>\n  Log in - Vendor portal\n</title></head><body></body></html>"
)


@pytest.mark.parametrize(
    ("body", "status", "content_type", "mapping", "message"),
    [
        pytest.param(
            LOGIN_PAGE, 200, "text/html; charset=utf-8", RESONO,
            "{url} sent an HTML page titled 'Log in - Vendor portal' instead of JSON: check that the URL is the API "
            "itself, not a web page or a login page.",
            id="html",
        ),
        pytest.param(
            fixture("resono_visitors.json")[:200], 200, "application/json", RESONO,
            "{url} sent JSON that stops before it is complete (after 200 bytes): the response was cut off. If "
            "this repeats, ask the provider or use smaller pages.",
            id="truncated",
        ),
        pytest.param(
            b'{"data": [1, 2,, 3]}', 200, "application/json", RESONO,
            "{url} sent invalid JSON: Expecting value at line 1, column 16.",
            id="invalid",
        ),
        pytest.param(b"", 200, "application/json", RESONO, "{url} sent an empty response instead of JSON.",
                     id="empty"),
        pytest.param(
            b"boom", 500, "text/plain", RESONO, "{url} answered HTTP 500 INTERNAL SERVER ERROR.", id="http-500"
        ),
        pytest.param(
            b"{}", 404, "application/json", RESONO, "{url} answered HTTP 404 NOT FOUND: check the source's url.",
            id="http-404",
        ),
        pytest.param(
            b'{"results": []}', 200, "application/json", RESONO,
            "{url}: items expression 'data' found nothing; the response has the keys results. Fix the source's "
            "items mapping.",
            id="items-missing",
        ),
        pytest.param(
            b'[{"visitors": 3}]', 200, "application/json", RESONO,
            "{url}: items expression 'data' found nothing; the response is [{{\"visitors\": 3}}]. Fix the "
            "source's items mapping.",
            id="items-missing-in-a-list",
        ),
        pytest.param(
            b'{"data": "none today"}', 200, "application/json", RESONO,
            "{url}: items expression 'data' gave 'none today', not a list of records. Fix the source's items "
            "mapping.",
            id="items-not-a-list",
        ),
    ],
)  # fmt: skip
def test_bad_responses_fail_with_an_actionable_message_and_store_nothing(
    httpserver, tenant_a, body, status, content_type, mapping, message
):
    httpserver.expect_request("/v2/counts").respond_with_data(body, status=status, content_type=content_type)
    url = httpserver.url_for("/v2/counts")
    source = make_source(tenant_a, kind="generic_json", config={"url": url, **mapping})

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.error == message.format(url=url)
    assert stored(tenant_a, source) == []
    with tenant_scope(tenant_a):
        assert not Series.objects.filter(source=source).exists()
        assert Source.objects.get(pk=source.pk).last_error == outcome.error


def test_refused_key_and_an_api_key_in_the_url_never_reach_the_message(httpserver, tenant_a):
    httpserver.expect_request("/v2/counts").respond_with_data("nope", status=401)
    url = httpserver.url_for("/v2/counts")
    config = {"url": url, "api_key_param": "apikey", **RESONO}
    source = make_source(tenant_a, kind="generic_json", config=config, secrets={"api_key": "s3cr3t/key"})

    outcome = fetch(tenant_a, source)

    assert outcome.error == (
        f"{url}?apikey=*** refused access (HTTP 401 UNAUTHORIZED): check the api_key secret and where it is sent "
        "(api_key_header or api_key_param)."
    )


def test_api_key_placement_and_secret_must_go_together(httpserver, tenant_a):
    url = httpserver.url_for("/v2/counts")
    no_key = make_source(
        tenant_a, kind="generic_json", config={"url": url, "api_key_header": "X-Key", **RESONO}
    )
    no_place = make_source(
        tenant_a, kind="generic_json", config={"url": url, **RESONO}, secrets={"api_key": "k"}
    )

    assert fetch(tenant_a, no_key).error == (
        "The config sends an API key (header X-Key) but no api_key secret is stored: add the key to the source's "
        "secrets."
    )
    assert fetch(tenant_a, no_place).error == (
        "An api_key secret is stored but the config does not say where to send it: set api_key_header "
        "(e.g. Authorization) or api_key_param."
    )
    assert httpserver.log == []


# --- configuration ----------------------------------------------------------------------------------


def test_validate_config_reports_every_problem():
    cls = get_connector("generic_json")
    assert cls.validate_config({"url": URL, **RESONO}) == []
    assert cls.validate_config({"url": URL, **BAD, "time_format": "unix_ms"}) == []
    messages = cls.validate_config(
        {
            "url": "file:///etc/passwd",
            "key": "location.[id",
            "time": "t",
            "value": "count value",
            "area": "`boulevard`",
            "metric": "people_count",
            "metric_field": "kind",
            "time_format": "rfc2822",
            "assume_timezone": "Mars/Olympus",
            "headers": {"Authorization": "Bearer plain-text-key"},
            "api_key_header": "X-Key",
            "api_key_param": "apikey",
            "api_key_template": "Token",
            "colour": "red",
        }
    )
    assert messages[:5] == [
        "(root): Additional properties are not allowed ('colour' was unexpected)",
        "api_key_template: 'Token' does not match '\\\\{api_key\\\\}'",
        "time_format: 'rfc2822' is not one of ['iso', 'unix', 'unix_ms']",
        "url: 'file:///etc/passwd' does not match '^https?://'",
        "key: 'location.[id' is not a valid JMESPath expression: it is incomplete",
    ]
    assert messages[5:] == [
        "value: 'count value' is not a valid JMESPath expression: Unexpected token: value at character 7",
        "area: '`boulevard`' uses a deprecated literal; write a text in single quotes, e.g. 'kurhaus'",
        "metric: give either metric (one for all records) or metric_field, not both",
        "api_key_param: send the API key in a header or a query parameter, not both",
        "assume_timezone: 'Mars/Olympus' is not an IANA time zone such as Europe/Amsterdam",
        "headers/Authorization: credentials do not belong in the plain config; store the key as the api_key "
        "secret and set api_key_header",
    ]
    assert cls.validate_config({"url": URL, "key": "id", "time": "t", "value": "n"}) == [
        "metric: give metric (one for all records) or metric_field (a JMESPath per record)"
    ]
    assert cls.validate_secrets({"api_key": "k", "token": "t"}) == [
        "(root): Additional properties are not allowed ('token' was unexpected)"
    ]


def test_schema_fields_have_descriptions_and_no_unknown_keys():
    cls = get_connector("generic_json")
    for schema in (cls.config_schema, cls.secret_schema):
        assert schema["additionalProperties"] is False
        for name, field in schema["properties"].items():
            assert field.get("description"), name
    assert cls.secret_schema["properties"]["api_key"]["writeOnly"] is True


# --- locations ----------------------------------------------------------------------------------------


def test_fiware_counting_line_gets_the_middle_of_its_line_as_location():
    result = parse({**FIWARE, "location": "location"}, fixture("fiware_CrowdFlowObserved_entities.json"))
    entity = json.loads(fixture("fiware_CrowdFlowObserved_entities.json"))[0]
    line = entity["location"]["coordinates"]
    lon, lat = result.readings[0].location
    assert lon == pytest.approx(sum(p[0] for p in line) / len(line))
    assert lat == pytest.approx(sum(p[1] for p in line) / len(line))
    assert all(r.location is not None for r in result.readings) and not result.warnings


def test_lat_lon_fields_and_their_problems():
    body = json.dumps(
        {
            "data": [
                {
                    "id": "pier",
                    "t": "2025-06-01T12:00:00+02:00",
                    "n": 5,
                    "pos": {"lat": "52.1179", "lng": 4.2844},
                },
                {"id": "kurhaus", "t": "2025-06-01T12:00:00+02:00", "n": 7},  # no position: kept without
                {"id": "bad", "t": "2025-06-01T12:00:00+02:00", "n": 1, "pos": {"lat": 152.0, "lng": 4.2}},
                {"id": "text", "t": "2025-06-01T12:00:00+02:00", "n": 1, "pos": {"lat": "north", "lng": 4.2}},
            ]
        }
    ).encode()
    mapping = {
        **BAD,
        "time": "t",
        "key": "id",
        "value": "n",
        "metric": "people_count",
        "lat": "pos.lat",
        "lon": "pos.lng",
    }
    mapping.pop("metric_field")
    result = parse(mapping, body)
    assert [(r.key, r.location) for r in result.readings] == [("pier", (4.2844, 52.1179)), ("kurhaus", None)]
    assert len(result.warnings) == 2
    assert "are not WGS84 degrees" in result.warnings[0] and "'north' is not a number" in result.warnings[1]


def test_location_mapping_is_validated():
    cls = get_connector("generic_json")
    base = {"url": URL, "key": "id", "time": "t", "value": "v", "metric": "people_count"}
    assert cls.validate_config({**base, "lat": "a"}) == ["lat: give both lat and lon, or neither"]
    assert cls.validate_config({**base, "lat": "a", "lon": "b", "location": "c"}) == [
        "location: give location or lat and lon, not both"
    ]
    assert cls.validate_config({**base, "location": "location.value"}) == []


def test_fetched_locations_reach_the_series(httpserver, tenant_a):
    httpserver.expect_request("/entities").respond_with_data(
        fixture("fiware_CrowdFlowObserved_entities.json"), content_type="application/json"
    )
    source = make_source(
        tenant_a,
        kind="generic_json",
        config={"url": httpserver.url_for("/entities"), **FIWARE, "location": "location"},
    )
    with tenant_scope(tenant_a):
        assert source_fetch(source=source).ok
        series = Series.objects.get(source=source, key=VALLADOLID_1)
    assert series.lon == pytest.approx(-4.7353261, abs=1e-6) and series.lat == pytest.approx(
        41.6578209, abs=1e-6
    )
