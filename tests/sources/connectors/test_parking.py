"""Parking (SPDP 2.0) connector: parse hand-written documents in the RDW format, fetch end to end from a
local server, skip facilities that refuse (401/404), and fail clearly when nothing can be read."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, ParseError, Payload, Reading
from sources.connectors.parking import ParkingConnector
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "parking"
RDW = "https://npropendata.rdw.nl/parkingdata/v2/"
BOULEVARD = "5c1f7d0e-2b64-4a8e-9f3a-6d2e1b7c4a01"  # 112 of 450 vacant
DUINRAND = "8e2a4b19-73c5-4f06-b1d8-0a9c5e3f7b02"  # full: 0 of 300 vacant
HAVEN = "b7d3e5a2-1f48-4c9b-8e6a-3c2d9f0a1b03"  # limited access: answers 401
STATION = "d4c8a1f6-9e27-4b3d-a5c0-7f1e2d8b6c04"  # answers 404
ALL = [BOULEVARD, DUINRAND, HAVEN, STATION]
INDEX_PATH = "/parkingdata/v2/"
TOO_MANY = [f"facility-{i}" for i in range(201)]


def dynamic(facility: str) -> bytes:
    return (FIXTURES / f"dynamic_{facility}.json").read_bytes()


def readings(facility: str, name: str, time: datetime, vacant: float | None, capacity: float | None):
    rows = [
        ("vacant", "parking_vacant", "vacant spaces", vacant),
        ("capacity", "parking_capacity", "capacity", capacity),
    ]
    return [
        Reading(key=f"{facility}:{suffix}", metric=metric, time=time, value=value, unit="spaces",
                name=f"{name} {label}", facility=facility)
        for suffix, metric, label, value in rows
        if value is not None
    ]  # fmt: skip


BOULEVARD_READINGS = readings(
    BOULEVARD, "Parkeergarage Boulevard", datetime(2025, 4, 26, 12, tzinfo=UTC), 112, 450
)
DUINRAND_READINGS = readings(DUINRAND, "P+R Duinrand", datetime(2025, 4, 26, 11, 59, tzinfo=UTC), 0, 300)


def make_connector(config=None, **kwargs) -> ParkingConnector:
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    return ParkingConnector(config=config or {"facilities": ALL}, context=context, **kwargs)


def facility_payload(facility: str, body: bytes, name: str = "") -> Payload:
    url = f"{RDW}dynamic/{facility}"
    return Payload(
        body=body, url=url, content_type="application/json", meta={"facility": facility, "name": name}
    )


def serve(httpserver, index: bytes | None = None) -> str:
    """Serve the recorded index and documents; HAVEN answers 401 and STATION 404. Returns the index URL."""
    base = httpserver.url_for(INDEX_PATH)
    body = (index if index is not None else (FIXTURES / "index.json").read_bytes()).replace(
        RDW.encode(), base.encode()
    )
    httpserver.expect_request(INDEX_PATH).respond_with_data(body, content_type="application/json")
    for facility in (BOULEVARD, DUINRAND):
        httpserver.expect_request(f"{INDEX_PATH}dynamic/{facility}").respond_with_data(
            dynamic(facility), content_type="application/json"
        )
    httpserver.expect_request(f"{INDEX_PATH}dynamic/{HAVEN}").respond_with_data("Unauthorized", status=401)
    httpserver.expect_request(f"{INDEX_PATH}dynamic/{STATION}").respond_with_data("Not Found", status=404)
    return base


def index_reads(httpserver) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == INDEX_PATH)


def skip_warnings(httpserver) -> list[str]:
    url = httpserver.url_for(f"{INDEX_PATH}dynamic/")
    return [
        f"Parking facility Garage Havenkwartier (voorbeeld) ({HAVEN}): {url}{HAVEN} answered HTTP 401 "
        "UNAUTHORIZED (the operator restricts access to this facility's live data); skipped.",
        f"Parking facility Parkeerterrein Stationsplein (voorbeeld) ({STATION}): {url}{STATION} answered "
        "HTTP 404 NOT FOUND (no live data at this address; the facility may have moved or stopped "
        "publishing); skipped.",
    ]


# --- parse ------------------------------------------------------------------------------------------


def test_parse_dynamic_document_gives_vacant_and_capacity():
    result = make_connector().parse(
        facility_payload(BOULEVARD, dynamic(BOULEVARD), "Parkeergarage Boulevard (voorbeeld)")
    )

    assert result.warnings == []
    assert result.readings == BOULEVARD_READINGS
    assert all(r.time.tzinfo is not None for r in result.readings)


def test_parse_full_facility_stores_zero_vacant():
    result = make_connector().parse(facility_payload(DUINRAND, dynamic(DUINRAND)))

    assert result.readings == DUINRAND_READINGS
    assert result.readings[0].value == 0.0


def test_parse_index_keeps_the_resolved_addresses_as_state():
    index = (FIXTURES / "index.json").read_bytes()
    payload = Payload(
        body=index,
        url=RDW,
        meta={"role": "index", "facilities": [*ALL, "unknown"], "read_at": "2025-04-26T12:00:00+00:00"},
    )

    result = make_connector().parse(payload)

    assert result.readings == [] and result.warnings == []
    assert result.state == {
        "index": {
            "url": RDW,
            "read_at": "2025-04-26T12:00:00+00:00",
            "dynamic_urls": {f: f"{RDW}dynamic/{f}" for f in ALL},
            "names": {
                BOULEVARD: "Parkeergarage Boulevard (voorbeeld)",
                DUINRAND: "P+R Duinrand (voorbeeld)",
                HAVEN: "Garage Havenkwartier (voorbeeld)",
                STATION: "Parkeerterrein Stationsplein (voorbeeld)",
            },
            "problems": {"unknown": f"not in the parking index at {RDW}; check the identifier"},
        }
    }


def status_document(**changes) -> bytes:
    document = json.loads(dynamic(BOULEVARD))
    document["parkingFacilityDynamicInformation"]["facilityActualStatus"].update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("changes", "expected", "warnings"),
    [
        ({"vacantSpaces": None}, BOULEVARD_READINGS[1:],
         [f"Parking facility {BOULEVARD}: 'vacantSpaces' is null; not stored."]),
        ({"parkingCapacity": "450"}, BOULEVARD_READINGS[:1],
         [f"Parking facility {BOULEVARD}: 'parkingCapacity' is not a number ('450'); not stored."]),
        ({"vacantSpaces": -3}, BOULEVARD_READINGS[1:],
         [f"Parking facility {BOULEVARD}: 'vacantSpaces' is -3, below zero; not stored."]),
        ({"lastUpdated": None}, [], [f"Parking facility {BOULEVARD}: no 'lastUpdated' time; skipped."]),
        ({"lastUpdated": "gisteren"}, [],
         [f"Parking facility {BOULEVARD}: 'lastUpdated' is not a unix time ('gisteren'); skipped."]),
        ({"lastUpdated": 1745668800000}, BOULEVARD_READINGS, []),  # milliseconds, as some publishers send
    ],
    ids=["vacant-null", "capacity-text", "vacant-negative", "no-time", "bad-time", "milliseconds"],
)  # fmt: skip
def test_parse_field_problems_become_warnings(changes, expected, warnings):
    result = make_connector().parse(facility_payload(BOULEVARD, status_document(**changes)))

    assert result.readings == expected
    assert result.warnings == warnings


def test_parse_keeps_the_configured_identifier_when_the_document_differs():
    document = json.loads(dynamic(BOULEVARD))
    document["parkingFacilityDynamicInformation"]["identifier"] = "something-else"

    result = make_connector().parse(facility_payload(BOULEVARD, json.dumps(document).encode()))

    assert result.readings == BOULEVARD_READINGS
    assert result.warnings == [f"Parking facility {BOULEVARD}: the document calls itself 'something-else'."]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html><body>Service unavailable</body></html>",
         "sent HTML or XML instead of JSON (content type 'application/json', starting "
         "'<html><body>Service unavailable</body></html>')"),
        (b"", "sent an empty body"),
        (dynamic(BOULEVARD)[:120],
         "sent broken JSON (Unterminated string starting at: line 4, column 13; cut off or damaged)"),
        (b'{"parkingFacilityInformation": {}}',
         "sent JSON without 'parkingFacilityDynamicInformation.facilityActualStatus'"),
    ],
    ids=["html", "empty", "truncated", "static-document"],
)  # fmt: skip
def test_parse_unreadable_facility_document_is_a_warning_not_a_failure(body, problem):
    result = make_connector().parse(facility_payload(BOULEVARD, body))

    assert result.readings == []
    assert result.warnings == [f"Parking facility {BOULEVARD}: {RDW}dynamic/{BOULEVARD} {problem}; skipped."]


def test_parse_broken_index_is_an_error():
    payload = Payload(
        body=b'{"facilities": []}', url=RDW, meta={"role": "index", "facilities": ALL, "read_at": ""}
    )

    with pytest.raises(ParseError) as caught:
        make_connector().parse(payload)

    assert caught.value.message == (
        f"The parking index at {RDW} is JSON but has no 'ParkingFacilities' list; check the source's "
        f"'index_url' (RDW's index is {RDW})."
    )


# --- configuration ----------------------------------------------------------------------------------


def test_registered_with_a_form_ready_schema():
    assert get_connector("parking") is ParkingConnector
    schema = ParkingConnector.config_schema
    assert schema["additionalProperties"] is False
    assert all("default" in field and field["description"] for field in schema["properties"].values())
    assert ParkingConnector.validate_config({"facilities": [BOULEVARD]}) == []
    assert (
        ParkingConnector.validate_config({"facilities": [BOULEVARD], "dynamic_urls": {BOULEVARD: RDW}}) == []
    )


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        ({}, ["(root): 'facilities' is a required property"]),
        ({"facilities": []}, ["facilities: [] should be non-empty"]),
        ({"facilities": TOO_MANY}, [f"facilities: {TOO_MANY!r} is too long"]),
        (
            {"facilities": [BOULEVARD, BOULEVARD], "dynamic_urls": {"other": "ftp://x"}, "city": "Den Haag"},
            [
                "(root): Additional properties are not allowed ('city' was unexpected)",
                "dynamic_urls/other: 'ftp://x' does not match '^https?://'",
                f"facilities: ['{BOULEVARD}', '{BOULEVARD}'] has non-unique elements",
                "dynamic_urls/other: not one of 'facilities'; add it there or remove it.",
            ],
        ),
    ],
    ids=["missing", "empty", "too-many", "several"],
)  # fmt: skip
def test_validate_config_reports_every_problem(config, messages):
    assert ParkingConnector.validate_config(config) == messages


def test_source_with_bad_config_is_refused(tenant_a):
    with pytest.raises(ValidationError) as caught:
        make_source(tenant_a, kind="parking", config={"facilities": []})

    assert caught.value.message_dict["config"] == ["facilities: [] should be non-empty"]


# --- end to end -------------------------------------------------------------------------------------


def test_fetch_stores_readable_facilities_and_skips_refusals(tenant_a, httpserver):
    index_url = serve(httpserver)
    source = make_source(tenant_a, kind="parking", config={"index_url": index_url, "facilities": ALL})

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert outcome.ok
        assert (outcome.stored, outcome.duplicates, outcome.rejected) == (4, 0, 0)
        assert outcome.warnings == skip_warnings(httpserver)
        series = {s.key: (s.metric, s.unit, s.name, s.facility) for s in Series.objects.filter(source=source)}
        assert series == {
            f"{BOULEVARD}:vacant": (
                "parking_vacant",
                "spaces",
                "Parkeergarage Boulevard vacant spaces",
                BOULEVARD,
            ),
            f"{BOULEVARD}:capacity": (
                "parking_capacity",
                "spaces",
                "Parkeergarage Boulevard capacity",
                BOULEVARD,
            ),
            f"{DUINRAND}:vacant": ("parking_vacant", "spaces", "P+R Duinrand vacant spaces", DUINRAND),
            f"{DUINRAND}:capacity": ("parking_capacity", "spaces", "P+R Duinrand capacity", DUINRAND),
        }
        # SPDP 2.0 dynamic documents carry no coordinates, so the series have no location (an admin sets it).
        assert {s.location for s in Series.objects.filter(source=source)} == {None}
        stored = {(o.series.key, o.time, o.value) for o in Observation.objects.select_related("series")}
        assert stored == {(r.key, r.time, r.value) for r in BOULEVARD_READINGS + DUINRAND_READINGS}

        again = source_fetch(source=source)

        assert again.ok
        assert (again.stored, again.duplicates) == (0, 4)
        assert again.warnings == skip_warnings(httpserver)
        assert Observation.objects.count() == 4
        assert index_reads(httpserver) == 1  # the second fetch used the addresses kept in the state


@pytest.mark.clock
def test_fetch_reads_the_index_again_when_it_is_an_hour_old(tenant_a, httpserver):
    index_url = serve(httpserver)
    source = make_source(tenant_a, kind="parking", config={"index_url": index_url, "facilities": [BOULEVARD]})
    start = timezone.now()

    with tenant_scope(tenant_a):
        assert source_fetch(source=source, now=start).ok
        assert source_fetch(source=source, now=start + timedelta(minutes=59)).ok
        assert index_reads(httpserver) == 1
        assert source_fetch(source=source, now=start + timedelta(minutes=61)).ok
        assert index_reads(httpserver) == 2


def test_fetch_with_dynamic_urls_never_reads_the_index(tenant_a, httpserver):
    serve(httpserver)
    url = httpserver.url_for(f"{INDEX_PATH}dynamic/{BOULEVARD}")
    config = {
        "index_url": httpserver.url_for("/no-index"),
        "facilities": [BOULEVARD],
        "dynamic_urls": {BOULEVARD: url},
    }
    source = make_source(tenant_a, kind="parking", config=config)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored, outcome.warnings) == (True, 2, [])
        assert [request.path for request, _ in httpserver.log] == [f"{INDEX_PATH}dynamic/{BOULEVARD}"]


def test_fetch_skips_a_facility_without_live_data_or_with_a_broken_document(tenant_a, httpserver):
    index = json.loads((FIXTURES / "index.json").read_bytes())
    del index["ParkingFacilities"][0]["dynamicDataUrl"]
    index_url = serve(httpserver, json.dumps(index).encode())
    source = make_source(
        tenant_a,
        kind="parking",
        config={"index_url": index_url, "facilities": [BOULEVARD, DUINRAND, "unknown"]},
    )

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored) == (True, 2)
        assert outcome.warnings == [
            f"Parking facility Parkeergarage Boulevard (voorbeeld) ({BOULEVARD}): publishes no live data "
            "(the index gives no dynamicDataUrl for it); skipped.",
            f"Parking facility unknown: not in the parking index at {index_url}; check the identifier; "
            "skipped.",
        ]
        assert {s.facility for s in Series.objects.all()} == {DUINRAND}


def test_fetch_skips_a_facility_sending_html(tenant_a, httpserver):
    # Registered before serve(): the first handler that matches answers.
    httpserver.expect_request(f"{INDEX_PATH}dynamic/{DUINRAND}").respond_with_data(
        "<html>Onderhoud</html>", content_type="text/html"
    )
    index_url = serve(httpserver)
    source = make_source(
        tenant_a, kind="parking", config={"index_url": index_url, "facilities": [BOULEVARD, DUINRAND]}
    )

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored) == (True, 2)
        assert outcome.warnings == [
            f"Parking facility P+R Duinrand (voorbeeld) ({DUINRAND}): {index_url}dynamic/{DUINRAND} sent "
            "HTML or XML instead of JSON (content type 'text/html', starting '<html>Onderhoud</html>'); "
            "skipped."
        ]


@pytest.mark.parametrize(
    ("body", "status", "content_type", "message"),
    [
        ("<!DOCTYPE html><html><body>Er ging iets mis</body></html>", 200, "text/html",
         "The parking index at {url} sent HTML or XML instead of JSON (content type 'text/html', starting "
         "'<!DOCTYPE html><html><body>Er ging iets mis</body></html>'); check the source's 'index_url' "
         f"(RDW's index is {RDW})."),
        ('{"ParkingFacilities": [{"name": "Parkeergarage Boulevard (voorbeeld)", "identi', 200,
         "application/json",
         "The parking index at {url} sent broken JSON (Unterminated string starting at: line 1, column 72; "
         f"cut off or damaged); check the source's 'index_url' (RDW's index is {RDW})."),
        ("", 200, "application/json",
         f"The parking index at {{url}} sent an empty body; check the source's 'index_url' (RDW's index is "
         f"{RDW})."),
        ("Internal Server Error", 500, "text/plain",
         "Parking index: {url} answered HTTP 500 INTERNAL SERVER ERROR. If this persists, check the "
         "source's 'index_url'."),
    ],
    ids=["html", "truncated", "empty", "http-500"],
)  # fmt: skip
def test_broken_index_fails_the_fetch_and_stores_nothing(
    tenant_a, httpserver, body, status, content_type, message
):
    httpserver.expect_request(INDEX_PATH).respond_with_data(body, status=status, content_type=content_type)
    index_url = serve(httpserver)  # the facilities would answer, but the index comes first
    source = make_source(tenant_a, kind="parking", config={"index_url": index_url, "facilities": ALL})
    expected = message.format(url=index_url)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert outcome.error == expected
        assert (Series.objects.count(), Observation.objects.count()) == (0, 0)
        assert Source.objects.get(pk=source.pk).last_error == expected


def test_fetch_fails_when_no_facility_at_all_can_be_read(tenant_a, httpserver):
    index_url = serve(httpserver)
    source = make_source(
        tenant_a, kind="parking", config={"index_url": index_url, "facilities": [HAVEN, STATION, "unknown"]}
    )

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert outcome.retryable
        assert outcome.error == (
            f"None of the 3 parking facilities could be read: Garage Havenkwartier (voorbeeld) ({HAVEN}): "
            f"{index_url}dynamic/{HAVEN} answered HTTP 401 UNAUTHORIZED (the operator restricts access to "
            f"this facility's live data); Parkeerterrein Stationsplein (voorbeeld) ({STATION}): "
            f"{index_url}dynamic/{STATION} answered HTTP 404 NOT FOUND (no live data at this address; the "
            f"facility may have moved or stopped publishing); unknown: not in the parking index at "
            f"{index_url}; check the identifier. Check the identifiers in 'facilities' against the index at "
            f"{index_url}."
        )
        assert (Series.objects.count(), Observation.objects.count()) == (0, 0)


def test_fetch_fails_when_every_facility_sends_something_unreadable(tenant_a, httpserver):
    url = httpserver.url_for("/broken")
    httpserver.expect_request("/broken").respond_with_data("", content_type="application/json")
    source = make_source(
        tenant_a, kind="parking", config={"facilities": [BOULEVARD], "dynamic_urls": {BOULEVARD: url}}
    )

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert not outcome.retryable  # a ParseError: retrying soon will not help
        assert outcome.error == (
            f"The parking facility could not be read: {BOULEVARD}: {url} sent an empty body. Check the "
            "addresses in 'dynamic_urls'."
        )
