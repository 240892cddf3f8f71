"""The sensorthings connector: parsing recorded OGC SensorThings API v1.1 payloads, and fetch-and-store
end to end against a local HTTP server (no network)."""

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from werkzeug import Request, Response

from sources.choices import Metric
from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, Payload, Reading
from sources.connectors.sensorthings import odata_literal, odata_time
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sensorthings"
RECORDED_BASE = "https://example.org/FROST-Server/v1.1"  # the host in the recorded nextLink
BASE_PATH = "/FROST-Server/v1.1"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
CONFIG = {
    "datastreams": [
        {"id": 7, "metric": "people_in", "area": "kurhaus"},
        {"id": "kurhaus-temp", "metric": "temperature", "key": "kurhaus:temperature"},
    ],
    "page_size": 3,
}
DS7_NAME = "Kurhaus north entrance: people in"
TEMP_NAME = "Kurhaus square: air temperature"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def connector(config=None, state=None):
    cls = get_connector("sensorthings")
    config = {"base_url": RECORDED_BASE, **CONFIG} if config is None else config
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    return cls(config=config, context=context, state=state, now=NOW)


def page(name: str, datastream, *, unit="{person}", name_="", cursor=None) -> Payload:
    meta = {"datastream": datastream, "name": name_, "unit": unit, "cursor": cursor}
    return Payload(body=fixture(name), url=f"{RECORDED_BASE}/Datastreams(...)/Observations", meta=meta)


def at(hour, minute, tz=UTC):
    return datetime(2025, 6, 1, hour, minute, tzinfo=tz)


def people_in(hour, minute, value):
    return Reading(
        key="datastream:7",
        metric="people_in",
        time=at(hour, minute),
        value=value,
        unit="persons",
        name=DS7_NAME,
        area="kurhaus",
    )


def temperature(hour, minute, value, tz=UTC):
    return Reading(
        key="kurhaus:temperature",
        metric="temperature",
        time=at(hour, minute, tz),
        value=value,
        unit="°C",
        name=TEMP_NAME,
    )


# --- parse ------------------------------------------------------------------------------------------


def test_parse_interval_pages_use_the_interval_end_and_move_the_cursor_to_its_start():
    stream = connector()
    first = stream.parse(page("observations_7_page1.json", 7, name_=DS7_NAME))
    assert first.readings == [people_in(10, 5, 12.0), people_in(10, 10, 17.0), people_in(10, 15, 9.0)]
    assert all(r.time.tzinfo is not None for r in first.readings)
    assert first.warnings == []
    assert first.state == {"Datastreams(7)": "2025-06-01T10:10:00Z"}

    second = stream.parse(page("observations_7_page2.json", 7, name_=DS7_NAME, cursor="2025-05-31T12:00:00Z"))
    assert second.readings == [people_in(10, 20, 21.0)]
    assert second.warnings == [
        "Datastreams(7) observation at 2025-06-01T10:20:00.000Z/2025-06-01T10:25:00.000Z: result 'n/a' is not a "
        "number; skipped."
    ]
    # The unusable observation still moves the cursor: asking for it again would only repeat the warning.
    assert second.state == {"Datastreams(7)": "2025-06-01T10:20:00Z"}


def test_parse_string_id_offsets_numeric_text_and_ucum_unit():
    result = connector().parse(
        page("observations_kurhaus_temp.json", "kurhaus-temp", unit="Cel", name_=TEMP_NAME)
    )
    assert result.readings == [
        temperature(10, 0, 18.4),
        temperature(12, 5, 18.9, tz=CEST),
        temperature(10, 10, 19.3),
    ]
    assert result.readings[1].time == at(10, 5)
    assert result.warnings == [
        "Datastreams('kurhaus-temp') observation 3: phenomenonTime '2025-06-01T10:15:00' has no UTC offset; "
        "skipped."
    ]
    assert result.state == {"Datastreams('kurhaus-temp')": "2025-06-01T10:10:00Z"}


def test_parse_falls_back_to_the_metric_unit_and_the_key_as_name():
    result = connector().parse(page("observations_7_page2.json", 7, unit="n/a"))
    assert (result.readings[0].unit, result.readings[0].name) == ("persons", "datastream:7")


def test_parse_skips_records_of_the_wrong_type_with_a_warning_each():
    result = connector().parse(page("observations_wrong_types.json", 7, name_=DS7_NAME))
    assert [(r.time, r.value) for r in result.readings] == [(at(10, 0), 30.0), (at(10, 30), 33.5)]
    assert result.warnings == [
        "Datastreams(7) observation 1: phenomenonTime: time 1748772300 is not an ISO 8601 text; skipped.",
        'Datastreams(7) observation at 2025-06-01T10:10:00Z: result {"count": 32} is not a number; skipped.',
        "Datastreams(7) observation at 2025-06-01T10:15:00Z: result true is not a number; skipped.",
        "Datastreams(7) observation at 2025-06-01T10:20:00Z: result null is not a number; skipped.",
        "Datastreams(7) observation 5 is not an object; skipped.",
    ]
    assert result.state == {"Datastreams(7)": "2025-06-01T10:30:00Z"}


def test_parse_of_an_empty_page_keeps_the_cursor():
    payload = Payload(
        body=b'{"value": []}', url="x", meta={"datastream": 7, "cursor": "2025-06-01T10:20:00Z"}
    )
    result = connector().parse(payload)
    assert (result.readings, result.warnings, result.state) == ([], [], None)


def test_odata_literals_and_times():
    assert odata_literal(7) == "7"
    assert odata_literal("o'brien") == "'o''brien'"
    assert odata_time(datetime(2025, 6, 1, 12, 5, tzinfo=CEST)) == "2025-06-01T10:05:00Z"
    # cut, never rounded up: rounding up could skip an observation
    assert odata_time(datetime(2025, 6, 1, 10, 5, 0, 999_999, tzinfo=UTC)) == "2025-06-01T10:05:00.999Z"


# --- end to end -------------------------------------------------------------------------------------


def json_response(body: bytes, base_url: str) -> Response:
    return Response(body.replace(RECORDED_BASE.encode(), base_url.encode()), content_type="application/json")


def serve(httpserver, *, page2: bytes | None = None):
    """Serve both datastreams; Datastream 7's Observations come in two pages."""
    base_url = httpserver.url_for(BASE_PATH)

    def observations_7(request: Request) -> Response:
        if request.args.get("$skip") == "3":
            return json_response(
                page2 if page2 is not None else fixture("observations_7_page2.json"), base_url
            )
        return json_response(fixture("observations_7_page1.json"), base_url)

    json_type = "application/json"
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)").respond_with_data(
        fixture("datastream_7.json"), content_type=json_type
    )
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)/Observations").respond_with_handler(observations_7)
    httpserver.expect_request(f"{BASE_PATH}/Datastreams('kurhaus-temp')").respond_with_data(
        fixture("datastream_kurhaus_temp.json"), content_type=json_type
    )
    httpserver.expect_request(f"{BASE_PATH}/Datastreams('kurhaus-temp')/Observations").respond_with_data(
        fixture("observations_kurhaus_temp.json"), content_type=json_type
    )
    return base_url


def observation_filters(httpserver, path_end: str) -> list[str]:
    """The $filter of each first-page Observations request to a datastream, in order."""
    return [
        request.args["$filter"]
        for request, _ in httpserver.log
        if request.path.endswith(path_end) and "$skip" not in request.args
    ]


def fetch(tenant, source, **kwargs):
    with tenant_scope(tenant):
        return source_fetch(source=source, now=NOW, **kwargs)


def stored(tenant, source):
    with tenant_scope(tenant):
        return sorted(
            (o.series.key, o.time, o.value) for o in Observation.objects.filter(series__source=source)
        )


def test_fetch_stores_observations_and_asks_only_for_newer_ones_next_time(httpserver, tenant_a):
    area = make_area(tenant_a, slug="kurhaus")
    base_url = serve(httpserver)
    source = make_source(
        tenant_a,
        kind="sensorthings",
        config={"base_url": base_url, **CONFIG},
        secrets={"username": "csm", "password": "s3cret"},
    )

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert (outcome.stored, outcome.duplicates, outcome.rejected) == (7, 0, 0)
    assert outcome.warnings == [
        "Datastreams(7) observation at 2025-06-01T10:20:00.000Z/2025-06-01T10:25:00.000Z: result 'n/a' is not a "
        "number; skipped.",
        "Datastreams('kurhaus-temp') observation 3: phenomenonTime '2025-06-01T10:15:00' has no UTC offset; "
        "skipped.",
    ]
    with tenant_scope(tenant_a):
        series = {s.key: s for s in Series.objects.filter(source=source)}
        assert {k: (s.metric, s.unit, s.name, s.area_id) for k, s in series.items()} == {
            "datastream:7": ("people_in", "persons", DS7_NAME, area.pk),
            "kurhaus:temperature": ("temperature", "°C", TEMP_NAME, None),
        }
        assert (series["datastream:7"].latest_time, series["datastream:7"].latest_value) == (at(10, 20), 21.0)
    assert stored(tenant_a, source) == [
        ("datastream:7", at(10, 5), 12.0),
        ("datastream:7", at(10, 10), 17.0),
        ("datastream:7", at(10, 15), 9.0),
        ("datastream:7", at(10, 20), 21.0),
        ("kurhaus:temperature", at(10, 0), 18.4),
        ("kurhaus:temperature", at(10, 5), 18.9),
        ("kurhaus:temperature", at(10, 10), 19.3),
    ]
    cursors = {
        "Datastreams(7)": "2025-06-01T10:20:00Z",
        "Datastreams('kurhaus-temp')": "2025-06-01T10:10:00Z",
    }
    with tenant_scope(tenant_a):
        assert Source.objects.get(pk=source.pk).state == cursors
    basic = "Basic " + base64.b64encode(b"csm:s3cret").decode()
    assert {request.headers.get("Authorization") for request, _ in httpserver.log} == {basic}
    first_pages = [r for r, _ in httpserver.log if r.path.endswith("/Observations") and "$skip" not in r.args]
    assert first_pages[0].args.to_dict() == {
        "$filter": "phenomenonTime gt 2025-05-31T12:00:00Z",  # initial_lookback_hours (24) before now
        "$orderby": "phenomenonTime asc",
        "$top": "3",
        "$select": "phenomenonTime,result",
    }

    # The test server ignores $filter and sends the same observations: nothing new is stored, and the
    # second fetch asks for observations after each datastream's cursor.
    again = fetch(tenant_a, source)

    assert again.ok, again.error
    assert (again.stored, again.duplicates) == (0, 7)
    assert observation_filters(httpserver, "Datastreams(7)/Observations") == [
        "phenomenonTime gt 2025-05-31T12:00:00Z",
        "phenomenonTime gt 2025-06-01T10:20:00Z",
    ]
    assert observation_filters(httpserver, "Datastreams('kurhaus-temp')/Observations") == [
        "phenomenonTime gt 2025-05-31T12:00:00Z",
        "phenomenonTime gt 2025-06-01T10:10:00Z",
    ]
    assert len(stored(tenant_a, source)) == 7


def test_bearer_token_and_stop_after_max_pages(httpserver, tenant_a):
    base_url = serve(httpserver)
    config = {"base_url": base_url, "datastreams": [{"id": 7, "metric": "people_in"}], "max_pages": 1}
    source = make_source(tenant_a, kind="sensorthings", config=config, secrets={"token": "t0ken"})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert outcome.stored == 3
    assert outcome.warnings == [
        "Datastreams(7): stopped after 1 pages (max_pages); the next fetch continues from the newest "
        "observation read."
    ]
    assert {request.headers.get("Authorization") for request, _ in httpserver.log} == {"Bearer t0ken"}
    assert not any("$skip" in request.args for request, _ in httpserver.log)


def test_next_link_to_another_host_is_not_followed(httpserver, tenant_a):
    base_url = httpserver.url_for(BASE_PATH)
    foreign = fixture("observations_7_page1.json")  # its nextLink keeps the recorded host, example.org
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)").respond_with_data(fixture("datastream_7.json"))
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)/Observations").respond_with_data(foreign)
    config = {"base_url": base_url, "datastreams": [{"id": 7, "metric": "people_in"}]}
    source = make_source(tenant_a, kind="sensorthings", config=config, secrets={"token": "t0ken"})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert outcome.stored == 3
    assert outcome.warnings == [
        "Datastreams(7): the server's next page link points to example.org, not to base_url's host; not followed."
    ]


# --- bad input --------------------------------------------------------------------------------------

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in | City portal</title></head><body>...</body></html>"


def test_html_instead_of_json_fails_with_an_actionable_message(httpserver, tenant_a):
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)").respond_with_data(
        LOGIN_PAGE, content_type="text/html"
    )
    base_url = httpserver.url_for(BASE_PATH)
    config = {"base_url": base_url, "datastreams": [{"id": 7, "metric": "people_in"}]}
    source = make_source(tenant_a, kind="sensorthings", config=config)

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.error == (
        f"{base_url}/Datastreams(7) sent an HTML page titled 'Sign in | City portal' instead of JSON: check that "
        "the URL is the API itself, not a web page or a login page."
    )
    assert stored(tenant_a, source) == []
    with tenant_scope(tenant_a):
        assert Source.objects.get(pk=source.pk).last_error == outcome.error


def test_truncated_second_page_stores_nothing(httpserver, tenant_a):
    truncated = fixture("observations_7_page2.json")[:90]
    base_url = serve(httpserver, page2=truncated)
    source = make_source(tenant_a, kind="sensorthings", config={"base_url": base_url, **CONFIG})

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.error.startswith(f"{base_url}/Datastreams(7)/Observations?$top=3&$skip=3")
    assert outcome.error.endswith(
        " sent JSON that stops before it is complete (after 90 bytes): the response was cut off. If this repeats, "
        "ask the provider or use smaller pages."
    )
    assert stored(tenant_a, source) == []  # the good first page is not stored either
    with tenant_scope(tenant_a):
        assert Source.objects.get(pk=source.pk).state == {}


def test_http_500_fails_retryably_and_stores_nothing(httpserver, tenant_a):
    base_url = httpserver.url_for(BASE_PATH)
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)").respond_with_data(fixture("datastream_7.json"))
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)/Observations").respond_with_data(
        "boom", status=500
    )
    config = {"base_url": base_url, "datastreams": [{"id": 7, "metric": "people_in"}]}
    source = make_source(tenant_a, kind="sensorthings", config=config)

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.retryable
    assert outcome.error.startswith(f"{base_url}/Datastreams(7)/Observations?$filter=phenomenonTime%20gt%20")
    assert outcome.error.endswith(" answered HTTP 500 INTERNAL SERVER ERROR.")
    assert stored(tenant_a, source) == []


def test_unknown_datastream_and_refused_credentials_say_what_to_check(httpserver, tenant_a):
    base_url = httpserver.url_for(BASE_PATH)
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(8)").respond_with_data("{}", status=404)
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(9)").respond_with_data("{}", status=401)
    missing = make_source(
        tenant_a,
        kind="sensorthings",
        config={"base_url": base_url, "datastreams": [{"id": 8, "metric": "people_in"}]},
    )
    refused = make_source(
        tenant_a,
        kind="sensorthings",
        config={"base_url": base_url, "datastreams": [{"id": 9, "metric": "people_in"}]},
    )

    assert fetch(tenant_a, missing).error == (
        f"{base_url}/Datastreams(8) answered HTTP 404 NOT FOUND: Datastreams(8) does not exist there; check "
        "base_url and the datastream id."
    )
    assert fetch(tenant_a, refused).error == (
        f"{base_url}/Datastreams(9) refused access (HTTP 401 UNAUTHORIZED): check the source's username and "
        "password, or token."
    )


def test_a_response_that_is_not_an_observations_list_fails(httpserver, tenant_a):
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)").respond_with_data(fixture("datastream_7.json"))
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)/Observations").respond_with_json(
        {"value": {"phenomenonTime": "2025-06-01T10:00:00Z", "result": 1}}
    )
    base_url = httpserver.url_for(BASE_PATH)
    config = {"base_url": base_url, "datastreams": [{"id": 7, "metric": "people_in"}]}
    source = make_source(tenant_a, kind="sensorthings", config=config)

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.error.endswith(
        " is not a SensorThings Observations list (no 'value' array): check that base_url is the API root, "
        "e.g. https://example.org/FROST-Server/v1.1."
    )
    assert stored(tenant_a, source) == []


def test_records_of_the_wrong_type_are_warnings_while_good_ones_are_stored(httpserver, tenant_a):
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)").respond_with_data(fixture("datastream_7.json"))
    httpserver.expect_request(f"{BASE_PATH}/Datastreams(7)/Observations").respond_with_data(
        fixture("observations_wrong_types.json")
    )
    base_url = httpserver.url_for(BASE_PATH)
    config = {"base_url": base_url, "datastreams": [{"id": 7, "metric": "people_in"}]}
    source = make_source(tenant_a, kind="sensorthings", config=config)

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert outcome.stored == 2
    assert len(outcome.warnings) == 5
    assert outcome.warnings[0] == (
        "Datastreams(7) observation 1: phenomenonTime: time 1748772300 is not an ISO 8601 text; skipped."
    )
    assert stored(tenant_a, source) == [("datastream:7", at(10, 0), 30.0), ("datastream:7", at(10, 30), 33.5)]


# --- configuration ----------------------------------------------------------------------------------


def test_validate_config_reports_every_problem():
    cls = get_connector("sensorthings")
    assert cls.validate_config({"base_url": RECORDED_BASE, **CONFIG}) == []
    messages = cls.validate_config(
        {
            "base_url": "ftp://example.org/sta",
            "datastreams": [
                {"id": 7, "metric": "people_in"},
                {"id": 7, "metric": "crowd"},
                {"id": 8, "metric": "people_out", "key": "datastream:7", "colour": "red"},
                {"id": -1, "metric": "people_in", "area": "Kurhaus plein"},
            ],
            "page_size": 0,
            "poll": 5,
        }
    )
    assert messages == [
        "(root): Additional properties are not allowed ('poll' was unexpected)",
        "base_url: 'ftp://example.org/sta' does not match '^https?://'",
        f"datastreams/1/metric: 'crowd' is not one of {list(Metric.values)!r}",
        "datastreams/2: Additional properties are not allowed ('colour' was unexpected)",
        "datastreams/3/area: 'Kurhaus plein' does not match '^[-a-zA-Z0-9_]+$'",
        "datastreams/3/id: -1 is less than the minimum of 0",
        "page_size: 0 is less than the minimum of 1",
        "datastreams/1: series key 'datastream:7' is already used by datastreams/0; give each datastream its own "
        "id or key",
        "datastreams/2: series key 'datastream:7' is already used by datastreams/0; give each datastream its own "
        "id or key",
    ]
    assert cls.validate_config({}) == [
        "(root): 'base_url' is a required property",
        "(root): 'datastreams' is a required property",
    ]


def test_validate_secrets():
    cls = get_connector("sensorthings")
    assert cls.validate_secrets({}) == []
    assert cls.validate_secrets({"token": "t"}) == []
    assert cls.validate_secrets({"username": "u", "password": "p"}) == []
    assert cls.validate_secrets({"username": "u"}) == ["(root): 'password' is a dependency of 'username'"]
    assert cls.validate_secrets({"username": "u", "password": "p", "token": "t"}) == [
        "token: give a bearer token or a username and password, not both"
    ]


def test_schema_fields_have_descriptions_and_no_unknown_keys():
    cls = get_connector("sensorthings")
    for schema in (cls.config_schema, cls.secret_schema):
        assert schema["additionalProperties"] is False
        for name, field in schema["properties"].items():
            assert field.get("description"), name
    item = cls.config_schema["properties"]["datastreams"]["items"]
    assert item["additionalProperties"] is False
    assert all(field.get("description") for field in item["properties"].values())


@pytest.mark.parametrize("kind", ["sensorthings"])
def test_registered(kind):
    cls = get_connector(kind)
    assert (cls.kind, cls.default_poll_interval, bool(cls.stores)) == (kind, 300, True)
