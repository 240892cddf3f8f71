"""The fiware_ngsi connector: parsing broker responses derived from the Smart Data Models CrowdFlowObserved
examples (NGSI v2 and NGSI-LD, keyValues and normalized) and hand-written OffStreetParking / WeatherObserved
entities, and fetch-and-store end to end against simulated Orion and NGSI-LD brokers (no network)."""

import contextlib
import itertools
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug import Request, Response

from sources.choices import Metric
from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, Payload, Reading
from sources.connectors.fiware_ngsi import counting_line, is_crowd_flow
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "fiware_ngsi"
BROKER = "https://broker.example.org"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CONTEXT = "https://smart-data-models.github.io/dataModel.Transportation/context.jsonld"
V1, V2, V3 = (f"urn:ngsi-ld:CrowdFlowObserved:Valladolid_{n}" for n in (1, 2, 3))
V4, V5 = "urn:ngsi-ld:CrowdFlowObserved:Valladolid_4", "urn:ngsi-ld:CrowdFlowObserved:Valladolid_5"
CROWD_V2 = {"api": "v2", "entity_type": "CrowdFlowObserved"}
CROWD_LD = {"api": "ld", "entity_type": "CrowdFlowObserved"}
# The example's counting line (three positions, about 800 m) and the derived 12 m line across a street
LINE_1 = ((-4.7356234, 41.6571879), 802.13)
LINE_2 = ((-4.72864, 41.65233), 12.01)
PLAZA = (-4.72853, 41.65213)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def connector(config: dict):
    cls = get_connector("fiware_ngsi")
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    return cls(config={"base_url": BROKER, **config}, context=context, now=NOW)


def parse(config: dict, name: str, **meta):
    payload = Payload(body=fixture(name), url=f"{BROKER}/v2/entities", meta=meta)
    return connector(config).parse(payload)


def at(hour, minute, second=0, *, day=(2018, 8, 7)):
    return datetime(*day, hour, minute, second, tzinfo=UTC)


def passing(key, minute, value, *, name="", place=None, hour=11):
    location, width = place if place and isinstance(place[0], tuple) else (place, None)
    return Reading(
        key=key,
        metric="people_passing",
        time=at(hour, minute),
        value=value,
        unit="persons/min",
        name=name,
        location=location,
        line_width_m=width,
    )


# peopleCount 100 / 50 / 50 over 11:10-11:15; 45 / 30 / 15 over 11:10-11:13; 240 over 11:10-11:20
CROWD_READINGS = [
    passing(V1, 15, 20.0, place=LINE_1),
    passing(f"{V1}:towards", 15, 10.0, place=LINE_1),
    passing(f"{V1}:away", 15, 10.0, place=LINE_1),
    passing(V2, 13, 15.0, name="Calle Santiago", place=LINE_2),
    passing(f"{V2}:towards", 13, 10.0, name="Calle Santiago (towards)", place=LINE_2),
    passing(f"{V2}:away", 13, 5.0, name="Calle Santiago (away)", place=LINE_2),
    passing(V3, 20, 24.0, name="Plaza Mayor north", place=PLAZA),
]


# --- parse ------------------------------------------------------------------------------------------


def test_parse_crowd_flow_key_values_pages_as_people_per_minute():
    first = parse(CROWD_V2, "v2_keyvalues_page1.json", offset=0, limit=2)
    second = parse(CROWD_V2, "v2_keyvalues_page2.json", offset=2, limit=2)
    assert first.readings + second.readings == CROWD_READINGS
    assert (first.warnings, second.warnings, first.state) == ([], [], None)
    # occupancy (0.35 on Valladolid_2) is a fraction of time, not a count: not stored unless mapped
    assert all(reading.metric == Metric.PEOPLE_PASSING for reading in first.readings)


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ({**CROWD_V2, "representation": "normalized"}, ["v2_normalized.json"]),
        (
            {**CROWD_LD, "representation": "normalized"},
            ["ld_normalized_page1.json", "ld_normalized_page2.json"],
        ),
        (CROWD_LD, ["ld_keyvalues.json"]),
    ],
    ids=["v2-normalized", "ld-normalized", "ld-keyvalues"],
)
def test_every_representation_gives_the_same_readings(config, names):
    results = [parse(config, name) for name in names]
    assert [r for result in results for r in result.readings] == CROWD_READINGS
    assert [w for result in results for w in result.warnings] == []


def test_counting_line_width_is_its_geodesic_length():
    entity = json.loads(fixture("v2_keyvalues_page1.json"))[0]
    coordinates = entity["location"]["coordinates"]

    def haversine(a, b):
        (lon1, lat1), (lon2, lat2) = (map(math.radians, p) for p in (a, b))
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        )
        return 2 * 6_371_008.8 * math.asin(math.sqrt(h))

    spherical = sum(haversine(a, b) for a, b in itertools.pairwise(coordinates))
    middle, width = counting_line(coordinates)
    assert (middle, width) == LINE_1
    assert abs(width - spherical) / spherical < 0.005
    # halfway along the line, on its first (longer) segment, not the mean of its three positions
    assert coordinates[0][0] < middle[0] < coordinates[1][0]


def test_counting_line_middle_lies_on_the_segment_that_holds_half_the_length():
    (lon, lat), width = counting_line([[0, 0], [0.001, 0], [0.003, 0]])
    assert (round(lon, 7), lat, width) == (0.0015, 0.0, 333.96)
    with pytest.raises(ValueError, match="length 0"):
        counting_line([[4.3, 52.1], [4.3, 52.1]])
    with pytest.raises(ValueError, match="fewer than two positions"):
        counting_line([[4.3, 52.1]])


def test_one_broken_entity_is_a_warning_naming_it_and_the_others_are_kept():
    result = parse(CROWD_V2, "v2_keyvalues_broken.json")
    assert result.readings == [
        passing(V4, 5, 12.0, hour=12, place=LINE_1),
        passing(f"{V5}:towards", 15, 4.0, place=LINE_1),  # its peopleCount is broken, its direction is not
    ]
    assert result.warnings == [
        f"Entity '{V5}': peopleCount 'n/a' is not a number; skipped.",
        "Entity 'urn:ngsi-ld:CrowdFlowObserved:Valladolid_6': dateObservedFrom '2018-08-07T12:00:00' has no UTC "
        "offset (NGSI times are UTC, ending in Z); its people counts skipped.",
        "Entity #4 has no id; skipped.",
        "Entity 'urn:ngsi-ld:CrowdFlowObserved:Valladolid_7': location has coordinates lon -4.73, lat 141.65 that "
        "are not WGS84 degrees; stored without a position.",
        "Entity 'urn:ngsi-ld:CrowdFlowObserved:Valladolid_7': no observation window (dateObservedFrom/"
        "dateObservedTo, or an interval in dateObserved), so the count cannot be turned into people per minute; "
        "set interval_minutes if the broker publishes one count per fixed period; its people counts skipped.",
        "Entity #6 is 'urn:ngsi-ld:CrowdFlowObserved:Valladolid_8', not an entity object; skipped.",
    ]


def test_interval_minutes_gives_a_count_without_window_its_period():
    result = parse({**CROWD_V2, "interval_minutes": 5}, "v2_keyvalues_broken.json")
    assert result.readings[-1] == passing("urn:ngsi-ld:CrowdFlowObserved:Valladolid_7", 5, 5.0, hour=12)
    assert not any("no observation window" in warning for warning in result.warnings)


def test_occupancy_is_stored_only_when_mapped_and_then_as_it_is():
    result = parse(
        {**CROWD_V2, "attributes": {"occupancy": "other"}, "area": "plaza"}, "v2_keyvalues_page1.json"
    )
    [occupancy] = [r for r in result.readings if r.metric == "other"]
    assert occupancy == Reading(
        key=f"{V2}:occupancy",
        metric="other",
        time=at(11, 13),
        value=0.35,
        unit="",
        name="Calle Santiago (occupancy)",
        area="plaza",
        location=LINE_2[0],
    )
    assert {r.area for r in result.readings} == {"plaza"}
    assert result.warnings == []  # Valladolid_1 has no occupancy: nothing to say


def test_parse_off_street_parking_with_v2_metadata_times():
    config = {
        "api": "v2",
        "entity_type": "OffStreetParking",
        "representation": "normalized",
        "attributes": {"availableSpotNumber": "parking_vacant", "totalSpotNumber": "parking_capacity"},
    }
    result = parse(config, "v2_offstreetparking_normalized.json")
    garage, promenade = (
        "urn:ngsi-ld:OffStreetParking:kurhaus-garage",
        "urn:ngsi-ld:OffStreetParking:palace-promenade",
    )

    def parking(key, metric, time, value, name, location):
        return Reading(
            key=key, metric=metric, time=time, value=value, unit="spaces", name=name, location=location
        )

    day = (2025, 6, 1)
    assert result.readings == [
        # each value at its own TimeInstant metadata
        parking(f"{garage}:availableSpotNumber", "parking_vacant", at(10, 4, 12, day=day), 212.0,
                "Kurhaus garage (availableSpotNumber)", (4.2966, 52.1117)),
        parking(f"{garage}:totalSpotNumber", "parking_capacity", at(0, 0, day=day), 650.0,
                "Kurhaus garage (totalSpotNumber)", (4.2966, 52.1117)),
        # no metadata: the entity's TimeInstant; a geo:point "lat, lon"; a null totalSpotNumber is no value
        parking(f"{promenade}:availableSpotNumber", "parking_vacant", at(10, 5, day=day), 35.0,
                "Palace Promenade (availableSpotNumber)", (4.2781, 52.1084)),
    ]  # fmt: skip
    assert result.warnings == [
        "Entity 'urn:ngsi-ld:OffStreetParking:scheveningen-haven': availableSpotNumber TimeInstant metadata "
        "'2025-06-01T10:05:00' has no UTC offset (NGSI times are UTC, ending in Z); availableSpotNumber skipped."
    ]


def test_parse_weather_observed_ld_with_observed_at_and_dataset_instances():
    config = {
        "api": "ld",
        "entity_type": "WeatherObserved",
        "representation": "normalized",
        "attributes": {"temperature": "temperature"},
    }
    result = parse(config, "ld_weatherobserved_normalized.json")
    day = (2025, 6, 1)
    assert result.readings == [
        Reading(
            key="urn:ngsi-ld:WeatherObserved:kurhaus-square:temperature",
            metric="temperature",
            time=at(10, 5, day=day),  # observedAt, not the entity's dateObserved
            value=18.4,
            unit="°C",
            name="Kurhaus square (temperature)",
            location=(4.2967, 52.1121),
        ),
        Reading(
            key="urn:ngsi-ld:WeatherObserved:pier:temperature",
            metric="temperature",
            time=at(10, 0, day=day),  # dateObserved; the default instance, not the datasetId one
            value=16.9,
            unit="°C",
            location=(4.2628, 52.1186),
        ),
    ]
    assert result.warnings == [
        "Entity 'urn:ngsi-ld:WeatherObserved:boulevard': temperature is a Relationship, not a value; skipped.",
        "Entity 'urn:ngsi-ld:WeatherObserved:harbour': temperature has no time (no observedAt, TimeInstant or "
        "dateObserved); temperature skipped.",
    ]


def test_an_entity_without_any_read_attribute_is_named():
    body = b'[{"id": "urn:ngsi-ld:CrowdFlowObserved:x", "type": "CrowdFlowObserved", "congested": true}]'
    result = connector(CROWD_V2).parse(Payload(body=body, url="u"))
    assert result.readings == []
    assert result.warnings == [
        "Entity 'urn:ngsi-ld:CrowdFlowObserved:x' has none of the attributes peopleCount, peopleCountTowards, "
        "peopleCountAway; skipped."
    ]


def test_crowd_flow_type_is_recognised_also_as_an_expanded_ld_type():
    assert is_crowd_flow("CrowdFlowObserved")
    assert is_crowd_flow("https://smartdatamodels.org/dataModel.Transportation/CrowdFlowObserved")
    assert not is_crowd_flow("CrowdFlowObservedExtra")


# --- end to end -------------------------------------------------------------------------------------


def broker(httpserver, *, api="v2", pages=None, total=3, content_type="application/json"):
    """A simulated broker: one page per offset, the total count in the API's header when given."""
    path = "/v2/entities" if api == "v2" else "/ngsi-ld/v1/entities"
    if pages is None:
        pages = ["v2_keyvalues_page1.json", "v2_keyvalues_page2.json"]
    bodies = [fixture(p) if isinstance(p, str) else p for p in pages]

    def handler(request: Request) -> Response:
        offset, limit = int(request.args["offset"]), int(request.args["limit"])
        index = offset // 2 if offset % 2 == 0 else len(bodies)
        body = bodies[index] if index < len(bodies) else b"[]"
        headers = {}
        if total is not None:
            headers["Fiware-Total-Count" if api == "v2" else "NGSILD-Results-Count"] = str(total)
        if api == "ld":
            headers["Link"] = (
                f'<{CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
            )
        with contextlib.suppress(ValueError):  # a broken body is served as is
            body = json.dumps(json.loads(body)[:limit]).encode()  # honour limit, as brokers do
        return Response(body, content_type=content_type, headers=headers)

    httpserver.expect_request(path).respond_with_handler(handler)
    return httpserver.url_for("/").rstrip("/")


def requests(httpserver):
    return [request for request, _ in httpserver.log]


def fetch(tenant, source):
    with tenant_scope(tenant):
        return source_fetch(source=source, now=NOW)


def stored(tenant, source):
    with tenant_scope(tenant):
        return sorted(
            (o.series.key, o.time, o.value) for o in Observation.objects.filter(series__source=source)
        )


STORED_CROWD = sorted((r.key, r.time, r.value) for r in CROWD_READINGS)


def test_fetch_orion_v2_pages_to_the_end_and_stores_once(httpserver, tenant_a):
    area = make_area(tenant_a, slug="plaza-mayor")
    base_url = broker(httpserver)
    config = {
        "base_url": base_url,
        **CROWD_V2,
        "tenant": "valladolid",
        "service_path": "/crowd",
        "page_size": 2,
        "area": "plaza-mayor",
    }
    source = make_source(tenant_a, kind="fiware_ngsi", config=config, secrets={"token": "t0ken"})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert (outcome.stored, outcome.duplicates, outcome.rejected, outcome.warnings) == (7, 0, 0, [])
    assert stored(tenant_a, source) == STORED_CROWD
    first, second = requests(httpserver)
    assert first.args.to_dict() == {
        "type": "CrowdFlowObserved",
        "options": "count,keyValues",
        "limit": "2",
        "offset": "0",
    }
    assert second.args["offset"] == "2"
    for request in (first, second):
        assert request.headers["Fiware-Service"] == "valladolid"
        assert request.headers["Fiware-ServicePath"] == "/crowd"
        assert request.headers["Authorization"] == "Bearer t0ken"
        assert request.headers["Accept"] == "application/json"
        assert "Link" not in request.headers and "NGSILD-Tenant" not in request.headers
    with tenant_scope(tenant_a):
        series = {s.key: s for s in Series.objects.filter(source=source)}
        line = series[V1]
        assert (line.metric, line.unit, line.area_id, line.line_width_m) == (
            "people_passing",
            "persons/min",
            area.pk,
            802.13,
        )
        assert (line.lon, line.lat) == LINE_1[0]
        assert (series[V3].lon, series[V3].lat, series[V3].line_width_m) == (*PLAZA, None)
        assert series[f"{V2}:away"].name == "Calle Santiago (away)"
        assert series[V1].name == V1  # no name attribute: the entity id

    again = fetch(tenant_a, source)

    assert again.ok, again.error
    assert (again.stored, again.duplicates) == (0, 7)
    assert len(stored(tenant_a, source)) == 7


def test_fetch_ngsi_ld_with_tenant_context_link_and_api_key(httpserver, tenant_a):
    base_url = broker(httpserver, api="ld", pages=["ld_normalized_page1.json", "ld_normalized_page2.json"])
    config = {
        "base_url": base_url,
        **CROWD_LD,
        "representation": "normalized",
        "tenant": "valladolid",
        "context": CONTEXT,
        "page_size": 2,
        "api_key_header": "X-Auth-Token",
    }
    source = make_source(tenant_a, kind="fiware_ngsi", config=config, secrets={"api_key": "k-123"})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert (outcome.stored, outcome.warnings) == (7, [])
    assert stored(tenant_a, source) == STORED_CROWD
    first, second = requests(httpserver)
    assert first.path == "/ngsi-ld/v1/entities"
    assert first.args.to_dict() == {"type": "CrowdFlowObserved", "count": "true", "limit": "2", "offset": "0"}
    assert second.args["offset"] == "2"
    for request in (first, second):
        assert request.headers["NGSILD-Tenant"] == "valladolid"
        assert request.headers["Link"] == (
            f'<{CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        )
        assert request.headers["X-Auth-Token"] == "k-123"
        assert "Authorization" not in request.headers and "Fiware-Service" not in request.headers
    assert fetch(tenant_a, source).stored == 0


def test_without_a_count_header_paging_stops_at_a_short_page_and_max_entities_caps(httpserver, tenant_a):
    entities = json.loads(fixture("ld_keyvalues.json"))
    pages = [json.dumps(entities[:2]).encode(), json.dumps(entities[2:]).encode()]
    base_url = broker(httpserver, api="ld", pages=pages, total=None)
    config = {"base_url": base_url, **CROWD_LD, "page_size": 2}  # keyValues, the default
    source = make_source(tenant_a, kind="fiware_ngsi", config=config)

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert (outcome.stored, outcome.warnings) == (7, [])  # page 2 held 1 of 2: the end
    assert [r.args["options"] for r in requests(httpserver)] == ["keyValues", "keyValues"]

    httpserver.clear_log()
    capped = make_source(tenant_a, kind="fiware_ngsi", config={**config, "max_entities": 3})
    outcome = fetch(tenant_a, capped)

    assert outcome.ok, outcome.error
    assert [(r.args["offset"], r.args["limit"]) for r in requests(httpserver)] == [("0", "2"), ("2", "1")]
    assert outcome.warnings == [
        "Read 3 CrowdFlowObserved entities and stopped at max_entities; the broker may have more. Raise "
        "max_entities or narrow the selection with q or id_pattern."
    ]


def test_max_entities_stops_paging_with_a_warning(httpserver, tenant_a):
    base_url = broker(httpserver)
    config = {"base_url": base_url, **CROWD_V2, "page_size": 2, "max_entities": 2}
    source = make_source(tenant_a, kind="fiware_ngsi", config=config)

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert outcome.stored == 6  # Valladolid_1 and _2 with their directions; _3 was not read
    assert len(requests(httpserver)) == 1
    assert outcome.warnings == [
        "Read 2 of 3 CrowdFlowObserved entities and stopped at max_entities; the other 1 were not read. Raise "
        "max_entities or narrow the selection with q or id_pattern."
    ]


def test_query_filters_are_passed_on(httpserver, tenant_a):
    base_url = broker(httpserver, pages=["v2_normalized.json"])
    config = {
        "base_url": base_url,
        **CROWD_V2,
        "representation": "normalized",
        "q": "peopleCount>10",
        "id_pattern": "^urn:ngsi-ld:CrowdFlowObserved:Valladolid_",
    }
    source = make_source(tenant_a, kind="fiware_ngsi", config=config)

    assert fetch(tenant_a, source).stored == 7
    [request] = requests(httpserver)
    assert request.args.to_dict() == {
        "type": "CrowdFlowObserved",
        "idPattern": "^urn:ngsi-ld:CrowdFlowObserved:Valladolid_",
        "q": "peopleCount>10",
        "options": "count",
        "limit": "100",
        "offset": "0",
    }


def test_empty_result_stores_nothing_and_says_where_it_looked(httpserver, tenant_a):
    base_url = broker(httpserver, pages=[b"[]"], total=0)
    config = {"base_url": base_url, **CROWD_V2, "tenant": "valladolid", "service_path": "/crowd"}
    source = make_source(tenant_a, kind="fiware_ngsi", config=config)

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert (outcome.stored, outcome.duplicates) == (0, 0)
    assert outcome.warnings == [
        "The broker sent no entities of type 'CrowdFlowObserved' (Fiware-Service 'valladolid', Fiware-ServicePath "
        "'/crowd'): nothing to store. Check entity_type, tenant, service_path, q and id_pattern (and context for "
        "NGSI-LD)."
    ]
    with tenant_scope(tenant_a):
        assert not Series.objects.filter(source=source).exists()
        assert Source.objects.get(pk=source.pk).empty_fetches == 1


def test_one_broken_entity_end_to_end_stores_the_valid_part(httpserver, tenant_a):
    base_url = broker(httpserver, pages=["v2_keyvalues_broken.json"], total=6)
    source = make_source(tenant_a, kind="fiware_ngsi", config={"base_url": base_url, **CROWD_V2})

    outcome = fetch(tenant_a, source)

    assert outcome.ok, outcome.error
    assert stored(tenant_a, source) == [(V4, at(12, 5), 12.0), (f"{V5}:towards", at(11, 15), 4.0)]
    assert len(outcome.warnings) == 6
    assert outcome.warnings[0] == f"Entity '{V5}': peopleCount 'n/a' is not a number; skipped."
    with tenant_scope(tenant_a):
        assert Source.objects.get(pk=source.pk).last_warnings == outcome.warnings


# --- bad input --------------------------------------------------------------------------------------

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Keyrock - Sign in</title></head><body>...</body></html>"


def test_html_instead_of_entities_fails_with_an_actionable_message(httpserver, tenant_a):
    base_url = broker(httpserver, pages=[LOGIN_PAGE], total=None, content_type="text/html")
    source = make_source(tenant_a, kind="fiware_ngsi", config={"base_url": base_url, **CROWD_V2})

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert not outcome.retryable
    assert outcome.error == (
        f"{base_url}/v2/entities?type=CrowdFlowObserved&options=count%2CkeyValues&limit=100&offset=0 sent an HTML "
        "page titled 'Keyrock - Sign in' instead of JSON: check that the URL is the API itself, not a web page or "
        "a login page."
    )
    assert stored(tenant_a, source) == []
    with tenant_scope(tenant_a):
        assert Source.objects.get(pk=source.pk).last_error == outcome.error


def test_truncated_second_page_is_retryable_and_stores_nothing(httpserver, tenant_a):
    truncated = fixture("v2_keyvalues_page2.json")[:200]
    base_url = broker(httpserver, pages=["v2_keyvalues_page1.json", truncated])
    config = {"base_url": base_url, **CROWD_V2, "page_size": 2}
    source = make_source(tenant_a, kind="fiware_ngsi", config=config)

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.retryable
    assert outcome.error == (
        f"{base_url}/v2/entities?type=CrowdFlowObserved&options=count%2CkeyValues&limit=2&offset=2 sent JSON that "
        "stops before it is complete (after 200 bytes): the response was cut off. If this repeats, ask the "
        "provider or use smaller pages."
    )
    assert stored(tenant_a, source) == []  # the good first page is not stored either


def test_http_500_is_retryable_and_stores_nothing(httpserver, tenant_a):
    httpserver.expect_request("/ngsi-ld/v1/entities").respond_with_data("boom", status=500)
    base_url = httpserver.url_for("/").rstrip("/")
    source = make_source(tenant_a, kind="fiware_ngsi", config={"base_url": base_url, **CROWD_LD})

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.retryable
    assert outcome.error == (
        f"{base_url}/ngsi-ld/v1/entities?type=CrowdFlowObserved&options=keyValues&count=true&limit=100&offset=0 "
        "answered HTTP 500 INTERNAL SERVER ERROR."
    )
    assert stored(tenant_a, source) == []


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, "", "refused access (HTTP 401 UNAUTHORIZED): check the source's token or api_key secret (and "
                  "api_key_header)."),
        (404, "", "answered HTTP 404 NOT FOUND: no NGSI v2 broker there; check base_url (the broker's root, "
                  "without /v2 or /ngsi-ld/v1) and api."),
        (400, '{"error": "BadRequest", "description": "invalid character in URI parameter"}',
         "rejected the query (HTTP 400 BAD REQUEST: invalid character in URI parameter): check entity_type, "
         "tenant, service_path, q and id_pattern."),
    ],
    ids=["401", "404", "400"],
)  # fmt: skip
def test_refused_and_rejected_requests_say_what_to_check(httpserver, tenant_a, status, body, message):
    httpserver.expect_request("/v2/entities").respond_with_data(body, status=status)
    base_url = httpserver.url_for("/").rstrip("/")
    source = make_source(tenant_a, kind="fiware_ngsi", config={"base_url": base_url, **CROWD_V2})

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert not outcome.retryable
    assert outcome.error == (
        f"{base_url}/v2/entities?type=CrowdFlowObserved&options=count%2CkeyValues&limit=100&offset=0 {message}"
    )


def test_an_answer_that_is_not_a_list_of_entities_fails(httpserver, tenant_a):
    httpserver.expect_request("/v2/entities").respond_with_json({"orion": {"version": "3.10.1"}})
    base_url = httpserver.url_for("/").rstrip("/")
    source = make_source(tenant_a, kind="fiware_ngsi", config={"base_url": base_url, **CROWD_V2})

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.error.endswith(
        " sent an object with the keys orion, not a list of entities: check base_url and api ('v2' for Orion, "
        "'ld' for an NGSI-LD broker)."
    )


def test_an_api_key_without_its_header_is_not_sent(httpserver, tenant_a):
    base_url = broker(httpserver)
    source = make_source(
        tenant_a, kind="fiware_ngsi", config={"base_url": base_url, **CROWD_V2}, secrets={"api_key": "k"}
    )

    outcome = fetch(tenant_a, source)

    assert not outcome.ok
    assert outcome.error == (
        "An api_key secret is stored but the config does not say which header carries it: set api_key_header "
        "(e.g. X-Auth-Token or apikey), or store the key as the bearer token."
    )
    assert requests(httpserver) == []


# --- configuration ----------------------------------------------------------------------------------


def test_validate_config_reports_every_problem():
    cls = get_connector("fiware_ngsi")
    assert cls.validate_config({"base_url": BROKER, **CROWD_V2}) == []
    assert cls.validate_config({"base_url": BROKER, **CROWD_LD, "attributes": {"occupancy": "other"}}) == []
    messages = cls.validate_config(
        {
            "base_url": "ftp://broker.example.org",
            "api": "ld",
            "entity_type": "CrowdFlowObserved",
            "service_path": "/crowd",
            "attributes": {"peopleCount": "people_count", "averageCrowdSpeed": "speed"},
            "page_size": 5000,
            "max_entities": 0,
            "interval_minutes": 0,
            "api_key_header": "Link",
            "colour": "red",
        }
    )
    assert messages == [
        "(root): Additional properties are not allowed ('colour' was unexpected)",
        f"attributes/averageCrowdSpeed: 'speed' is not one of {list(Metric.values)!r}",
        "base_url: 'ftp://broker.example.org' does not match '^https?://'",
        "interval_minutes: 0 is less than or equal to the minimum of 0",
        "max_entities: 0 is less than the minimum of 1",
        "page_size: 5000 is greater than the maximum of 1000",
        "service_path: Fiware-ServicePath is an NGSI v2 header; NGSI-LD brokers have no service paths (leave it "
        "empty)",
        "api_key_header: Link is set by the connector itself; name another header",
        "attributes/peopleCount: built into the CrowdFlowObserved mapping (people_passing); leave it out",
    ]
    assert cls.validate_config(
        {"base_url": BROKER, "api": "v2", "entity_type": "OffStreetParking", "context": CONTEXT}
    ) == [
        "context: the @context Link header is for NGSI-LD only (leave it empty for v2)",
        "attributes: say which attributes of OffStreetParking to read, as {attribute: metric}; only "
        "CrowdFlowObserved is built in",
    ]
    assert cls.validate_config({"api": "v3"}) == [
        "(root): 'base_url' is a required property",
        "(root): 'entity_type' is a required property",
        "api: 'v3' is not one of ['v2', 'ld']",
    ]


def test_validate_secrets():
    cls = get_connector("fiware_ngsi")
    assert cls.validate_secrets({}) == []
    assert cls.validate_secrets({"token": "t"}) == []
    assert cls.validate_secrets({"api_key": "k"}) == []
    assert cls.validate_secrets({"token": "t", "api_key": "k"}) == [
        "api_key: give a bearer token or an API key, not both"
    ]
    assert cls.validate_secrets({"password": "p"}) == [
        "(root): Additional properties are not allowed ('password' was unexpected)"
    ]


def test_schema_fields_have_descriptions_and_the_connector_is_registered():
    cls = get_connector("fiware_ngsi")
    for schema in (cls.config_schema, cls.secret_schema):
        assert schema["additionalProperties"] is False
        for name, field in schema["properties"].items():
            assert field.get("description"), name
    assert (cls.kind, cls.default_poll_interval, bool(cls.stores)) == ("fiware_ngsi", 300, True)
    assert Metric.PEOPLE_PASSING in cls.inventory.metrics
