"""DATEX II parking connector: the exact readings of a recorded Friedrichshafen v2 status + table and of a
v3 status + table (Mobilithek), the ways the vacant count is derived, per-record problems as warnings, and
clear errors for unreadable XML."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from lxml import etree

from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, ParseError, Payload, Reading
from sources.connectors.datex_parking import DatexParkingConnector
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "datex_parking"
STATUS = (FIXTURES / "friedrichshafen_status_2025-07-18.xml").read_bytes()
TABLE = (FIXTURES / "friedrichshafen_table_2025-07-18.xml").read_bytes()
V3_STATUS = (FIXTURES / "bietigheim_bissingen_v3_status_2025-06-17.xml").read_bytes()
V3_TABLE = (FIXTURES / "bietigheim_bissingen_v3_table_2025-06-15.xml").read_bytes()
STATUS_URL, TABLE_URL = "https://datex.example/parking/status.xml", "https://datex.example/parking/table.xml"
NS = "{http://datex2.eu/schema/2/2_0}"
READ_AT = "2025-07-18T06:45:00+00:00"
SITES = {
    "PH19": {"name": "A1225b_Metzstraße_Hsnr.1", "location": [9.478454, 47.652096], "capacity": 1.0},
    "PH21": {"name": "A1227_Riedleparkstraße_Nord_Hsnr.45", "location": [9.474328, 47.65672], "capacity": 1.0},
    "PH20": {"name": "A1226_Riedleparkstraße_Nord_Hsnr.45", "location": [9.475008, 47.655594], "capacity": 1.0},
}  # fmt: skip


def at(millis: int) -> datetime:
    return datetime(2025, 7, 18, 6, 41, 1, millis * 1000, tzinfo=UTC)


def record(identifier, time, vacant, capacity, site=None):
    site = site or {}
    name, location = site.get("name", identifier), tuple(site["location"]) if site.get("location") else None
    return [
        Reading(key=f"{identifier}:{suffix}", metric=metric, time=time, value=float(value), unit="spaces",
                name=f"{name} {label}", facility=identifier, location=location)
        for suffix, metric, value, label in (
            ("vacant", "parking_vacant", vacant, "vacant spaces"),
            ("capacity", "parking_capacity", capacity, "capacity"),
        )
        if value is not None
    ]  # fmt: skip


ROWS = [("PH19", at(434), 0, 1), ("PH21", at(440), 1, 1), ("PH20", at(442), 1, 1), ("PH27", at(465), 1, 1)]
WITH_TABLE = [r for i, t, v, c in ROWS for r in record(i, t, v, c, SITES.get(i))]
WITHOUT_TABLE = [r for i, t, v, c in ROWS for r in record(i, t, v, c)]


def make_connector(config=None, state=None, now=None) -> DatexParkingConnector:
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    config = config or {"status_url": STATUS_URL, "table_url": TABLE_URL}
    return DatexParkingConnector(config=config, context=context, state=state, now=now)


def table_state(records=SITES, records_filter=()):
    return {
        "table": {"url": TABLE_URL, "read_at": READ_AT, "filter": list(records_filter), "records": records}
    }


def status_payload(body: bytes, content_type="application/xml") -> Payload:
    return Payload(body=body, url=STATUS_URL, content_type=content_type, meta={"role": "status"})


def changed(body: bytes, identifier: str, **fields) -> bytes:
    """``body`` with the parkingOccupancy fields of one record set (a value of None removes the field)."""
    root = etree.fromstring(body)
    for status in root.iter(f"{NS}parkingRecordStatus"):
        if status.find(f"{NS}parkingRecordReference").get("id") != identifier:
            continue
        for field, value in fields.items():
            parent = status if field == "parkingStatusOriginTime" else status.find(f"{NS}parkingOccupancy")
            element = parent.find(f"{NS}{field}")
            if value is None:
                parent.remove(element)
            else:
                element.text = value
    return etree.tostring(root)


def parse(body: bytes, **kwargs):
    result = make_connector(state=table_state(), **kwargs).parse(status_payload(body))
    return result.readings, result.warnings


# --- parse ------------------------------------------------------------------------------------------


def test_parse_recorded_table_keeps_names_positions_and_capacities_as_state():
    payload = Payload(body=TABLE, url=TABLE_URL, meta={"role": "table", "read_at": READ_AT})

    result = make_connector().parse(payload)

    assert (result.readings, result.warnings) == ([], [])
    assert result.state == table_state()


def test_parse_recorded_status_with_the_table_gives_exact_readings():
    readings, warnings = parse(STATUS)

    assert warnings == []
    assert readings == WITH_TABLE  # PH27 is not in the table: named by its id, no position


def test_parse_recorded_status_without_a_table_names_records_by_id():
    result = make_connector({"status_url": STATUS_URL}).parse(status_payload(STATUS))

    assert (result.readings, result.warnings) == (WITHOUT_TABLE, [])


V3_SITES = {
    "de:00001:00001:parkhaus": {"name": "Parkhaus Europabrücke", "location": [9.163877016837477, 47.67337657728699],
                                "capacity": 100.0},
    "de:00001:00002:parkhaus": {"name": "Parkhaus Altstadt", "location": [9.1724891712394, 47.662901479466235],
                                "capacity": 500.0},
}  # fmt: skip
V3_TIME = datetime(2025, 6, 17, 11, 18, 1, 739000, tzinfo=UTC)  # 13:18:01.739+02:00
V3_READINGS = [
    r
    for identifier, vacant in (("de:00001:00001:parkhaus", 50), ("de:00001:00002:parkhaus", 400))
    for r in record(identifier, V3_TIME, vacant, V3_SITES[identifier]["capacity"], V3_SITES[identifier])
]


def test_parse_recorded_v3_table_and_status_give_exact_readings():
    table = make_connector().parse(
        Payload(body=V3_TABLE, url=TABLE_URL, meta={"role": "table", "read_at": READ_AT})
    )

    assert (table.readings, table.warnings) == ([], [])
    assert table.state == table_state(V3_SITES)

    result = make_connector(state=table.state).parse(status_payload(V3_STATUS))

    assert result.warnings == []
    assert result.readings == V3_READINGS  # no override in the status: capacity from the table


def test_v3_status_without_a_table_stores_the_vacant_count_only():
    result = make_connector({"status_url": STATUS_URL}).parse(status_payload(V3_STATUS))

    # No capacity anywhere (the 50 % occupancy alone does not give it): vacant spaces only.
    assert result.readings == [
        record("de:00001:00001:parkhaus", V3_TIME, 50, None)[0],
        record("de:00001:00002:parkhaus", V3_TIME, 400, None)[0],
    ]
    assert result.warnings == []


def test_record_filter_keeps_the_listed_records_and_names_the_missing_ones():
    connector = make_connector({"status_url": STATUS_URL, "records": ["PH21", "PH99"]})

    result = connector.parse(status_payload(STATUS))

    assert result.readings == record("PH21", at(440), 1, 1)
    assert result.warnings == [
        "Not in the DATEX II parking status: PH99; check the identifiers in 'records'."
    ]


PH19 = SITES["PH19"]


@pytest.mark.parametrize(
    ("fields", "vacant", "capacity", "warnings"),
    [
        # no direct count: capacity (override) - occupied
        ({"parkingNumberOfVacantSpaces": None, "parkingNumberOfSpacesOverride": "450",
          "parkingNumberOfOccupiedSpaces": "338"}, 112, 450, []),
        # no direct or occupied count: capacity x (1 - occupancy %), to a whole space
        ({"parkingNumberOfVacantSpaces": None, "parkingNumberOfSpacesOverride": "450",
          "parkingNumberOfOccupiedSpaces": None, "parkingOccupancy": "75.1"}, 112, 450, []),
        # no override: the table's parkingNumberOfSpaces
        ({"parkingNumberOfSpacesOverride": None}, 0, 1, []),
        ({"parkingNumberOfVacantSpaces": None, "parkingNumberOfOccupiedSpaces": None,
          "parkingOccupancy": None}, None, 1,
         ["Parking record PH19: no vacant count (no parkingNumberOfVacantSpaces, and no capacity with "
          "occupied spaces or occupancy); vacant spaces not stored."]),
        ({"parkingOccupancy": "130.0"}, 0, 1,
         ["Parking record PH19: parkingOccupancy is 130.0, out of range; not used."]),
    ],
    ids=["capacity-minus-occupied", "from-percentage", "table-capacity", "no-vacant", "bad-percentage"],
)  # fmt: skip
def test_vacant_spaces_are_taken_directly_else_derived(fields, vacant, capacity, warnings):
    readings, found = parse(changed(STATUS, "PH19", **fields))

    expected = record("PH19", at(434), vacant, capacity, PH19)
    assert readings == expected + WITH_TABLE[2:]
    assert found == warnings


@pytest.mark.parametrize(
    ("fields", "warning"),
    [
        ({"parkingNumberOfVacantSpaces": "veel"}, "parkingNumberOfVacantSpaces is not a number ('veel'); skipped"),
        ({"parkingNumberOfVacantSpaces": "-2"}, "parkingNumberOfVacantSpaces is -2, out of range; skipped"),
        ({"parkingNumberOfVacantSpaces": "1.5"},
         "parkingNumberOfVacantSpaces is 1.5, not a whole number of spaces; skipped"),
        ({"parkingStatusOriginTime": None}, "no parkingStatusOriginTime; skipped"),
        ({"parkingStatusOriginTime": "gisteren"}, "parkingStatusOriginTime is not a time ('gisteren'); skipped"),
    ],
    ids=["text", "negative", "fraction", "no-time", "bad-time"],
)  # fmt: skip
def test_one_broken_record_is_skipped_with_a_warning_and_the_others_kept(fields, warning):
    readings, warnings = parse(changed(STATUS, "PH21", **fields))

    assert readings == WITH_TABLE[:2] + WITH_TABLE[4:]
    assert warnings == [f"Parking record PH21: {warning}."]


def test_origin_time_without_zone_is_read_in_the_tenant_zone_with_one_warning():
    body = changed(STATUS, "PH19", parkingStatusOriginTime="2025-07-18T08:41:01.434")
    body = changed(body, "PH21", parkingStatusOriginTime="2025-07-18T08:41:01.440")

    readings, warnings = parse(body)

    assert readings == WITH_TABLE  # 08:41 CEST is 06:41 UTC
    assert warnings == [
        f"The DATEX II parking status at {STATUS_URL} gives parkingStatusOriginTime without a time zone; "
        "read as Europe/Amsterdam."
    ]


def test_status_without_records_gives_no_readings_and_a_warning():
    root = etree.fromstring(STATUS)
    for status in list(root.iter(f"{NS}parkingRecordStatus")):
        status.getparent().remove(status)

    readings, warnings = parse(etree.tostring(root))

    assert readings == []
    assert warnings == [
        f"The DATEX II parking status at {STATUS_URL} lists no parking records; nothing stored."
    ]


def test_v3_status_without_records_gives_no_readings_and_a_warning():
    root = etree.fromstring(V3_STATUS)
    for status in list(root.iter("{http://datex2.eu/schema/3/parking}parkingRecordStatus")):
        status.getparent().remove(status)

    readings, warnings = parse(etree.tostring(root))

    assert readings == []
    assert warnings == [
        f"The DATEX II parking status at {STATUS_URL} lists no parking records; nothing stored."
    ]


WHERE = f"The DATEX II parking status at {STATUS_URL}"
# The DATEX II 2.0 parking-facility model (element names as in Frankfurt's feed), written for this test.
FACILITY_STATUS = (
    b'<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0"><payloadPublication><parkingFacilityTableStatus>'
    b'<parkingFacilityStatus><parkingFacilityReference id="1"/>'
    b"<totalNumberOfVacantParkingSpaces>12</totalNumberOfVacantParkingSpaces></parkingFacilityStatus>"
    b"</parkingFacilityTableStatus></payloadPublication></d2LogicalModel>"
)


@pytest.mark.parametrize(
    ("body", "message", "retryable"),
    [
        (b"<!DOCTYPE html><html><body>Wartung</body></html>",
         f"{WHERE} sent an HTML page instead of DATEX II XML (content type 'application/xml', starting "
         "'<!DOCTYPE html><html><body>Wartung</body></html>'): check the address.", False),
        (STATUS[:3000],
         f"{WHERE} is not valid XML (expected '>', line 1, column 3001): the download was cut off.", True),
        (b"<d2LogicalModel><payloadPublication></payload></d2LogicalModel>",
         f"{WHERE} is not valid XML (Opening and ending tag mismatch: payloadPublication line 1 and payload, "
         "line 1, column 47): expected a ParkingStatusPublication.", False),
        (b"", f"{WHERE} sent an empty body.", True),
        (b'{"parkings": []}', f"{WHERE} sent JSON instead of DATEX II XML: check the address.", False),
        (TABLE,
         f"{WHERE} is a ParkingTablePublication, not a ParkingStatusPublication: set this address as "
         "'table_url' and the status publication's as 'status_url'.", False),
        (V3_TABLE,
         f"{WHERE} is a ParkingTablePublication, not a ParkingStatusPublication: set this address as "
         "'table_url' and the status publication's as 'status_url'.", False),
        (V3_STATUS[:1500],
         f"{WHERE} is not valid XML (Specification mandates value for attribute versio, line 20, column 76): "
         "the download was cut off.", True),
        (FACILITY_STATUS,
         f"{WHERE} uses the older DATEX II 2.0 parking-facility model (parkingFacilityStatus), which this "
         "connector does not read; ask the publisher for its ParkingStatusPublication (DATEX II 2.3 or 3).",
         False),
        (b"<rss><channel/></rss>",
         f"{WHERE} is XML but not a DATEX II ParkingStatusPublication (found <rss>); check the source's "
         "'status_url'.", False),
    ],
    ids=["html", "truncated", "damaged", "empty", "json", "table-as-status", "v3-table-as-status",
         "v3-truncated", "facility-model", "not-datex"],
)  # fmt: skip
def test_unreadable_status_is_a_parse_error(body, message, retryable):
    with pytest.raises(ParseError) as caught:
        make_connector().parse(status_payload(body))

    assert caught.value.message == message
    assert caught.value.retryable is retryable


def test_unreadable_table_is_a_warning_and_the_last_table_stays():
    payload = Payload(body=b"<html>Fehler</html>", url=TABLE_URL, meta={"role": "table", "read_at": READ_AT})

    result = make_connector(state=table_state()).parse(payload)

    assert result.readings == []
    assert result.warnings == [
        f"The DATEX II parking table at {TABLE_URL} could not be read (sent an HTML page instead of DATEX II "
        "XML (content type '', starting '<html>Fehler</html>'): check the address.); the names, positions and "
        "capacities read before are used. It is read again in an hour."
    ]
    assert result.state == table_state()


# --- configuration ----------------------------------------------------------------------------------


def test_registered_with_a_valid_schema():
    assert get_connector("datex_parking") is DatexParkingConnector
    assert DatexParkingConnector.validate_config({"status_url": STATUS_URL}) == []
    assert (
        DatexParkingConnector.validate_config(
            {"status_url": STATUS_URL, "table_url": "", "records": ["PH19"]}
        )
        == []
    )


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        ({}, ["(root): 'status_url' is a required property"]),
        ({"status_url": "ftp://x", "table_url": "tabel"},
         ["status_url: 'ftp://x' does not match '^https?://'",
          "table_url: 'tabel' does not match '^(https?://.*)?$'"]),
        ({"status_url": STATUS_URL, "records": ["PH19", "PH19"], "city": "FN"},
         ["(root): Additional properties are not allowed ('city' was unexpected)",
          "records: ['PH19', 'PH19'] has non-unique elements"]),
    ],
    ids=["missing", "addresses", "several"],
)  # fmt: skip
def test_validate_config_reports_every_problem(config, messages):
    assert DatexParkingConnector.validate_config(config) == messages


def test_source_with_bad_config_is_refused(tenant_a):
    with pytest.raises(ValidationError) as caught:
        make_source(tenant_a, kind="datex_parking", config={"status_url": "ftp://x"})

    assert caught.value.message_dict["config"] == ["status_url: 'ftp://x' does not match '^https?://'"]


# --- end to end -------------------------------------------------------------------------------------


def serve(
    httpserver, status=STATUS, code=200, content_type="application/xml", table_code=200, table=TABLE
) -> dict:
    """Serve the recorded status and table; returns the source config pointing at them."""
    httpserver.expect_request("/status.xml").respond_with_data(status, status=code, content_type=content_type)
    table = table if table_code == 200 else b"Internal Server Error"
    httpserver.expect_request("/table.xml").respond_with_data(
        table, status=table_code, content_type="application/xml"
    )
    return {"status_url": httpserver.url_for("/status.xml"), "table_url": httpserver.url_for("/table.xml")}


def table_reads(httpserver) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == "/table.xml")


def test_fetch_stores_the_recorded_status_once_and_reads_the_table_hourly(tenant_a, httpserver):
    source = make_source(tenant_a, kind="datex_parking", config=serve(httpserver))
    start = timezone.now()

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=start)

        assert (outcome.ok, outcome.stored, outcome.duplicates, outcome.rejected) == (True, 8, 0, 0)
        assert outcome.warnings == []
        series = {
            s.key: (s.metric, s.name, s.facility, s.location) for s in Series.objects.filter(source=source)
        }
        assert series == {r.key: (r.metric, r.name, r.facility, r.location) for r in WITH_TABLE}
        stored = {(o.series.key, o.time, o.value) for o in Observation.objects.select_related("series")}
        assert stored == {(r.key, r.time, r.value) for r in WITH_TABLE}

        again = source_fetch(source=source, now=start + timedelta(minutes=59))

        assert (again.ok, again.stored, again.duplicates) == (True, 0, 8)
        assert Observation.objects.count() == 8
        assert table_reads(httpserver) == 1
        assert source_fetch(source=source, now=start + timedelta(minutes=61)).ok
        assert table_reads(httpserver) == 2


def test_fetch_stores_a_recorded_v3_status_once_with_the_table_positions(tenant_a, httpserver):
    source = make_source(
        tenant_a, kind="datex_parking", config=serve(httpserver, status=V3_STATUS, table=V3_TABLE)
    )

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored, outcome.warnings) == (True, 4, [])
        series = {s.key: (s.name, s.facility, s.location) for s in Series.objects.filter(source=source)}
        assert series == {r.key: (r.name, r.facility, r.location) for r in V3_READINGS}
        stored = {(o.series.key, o.time, o.value) for o in Observation.objects.select_related("series")}
        assert stored == {(r.key, r.time, r.value) for r in V3_READINGS}

        again = source_fetch(source=source)

        assert (again.ok, again.stored, again.duplicates) == (True, 0, 4)


def test_fetch_reads_the_table_again_when_the_record_filter_changes(tenant_a, httpserver):
    config = {**serve(httpserver), "records": ["PH19"]}
    source = make_source(tenant_a, kind="datex_parking", config=config)
    start = timezone.now()

    with tenant_scope(tenant_a):
        assert source_fetch(source=source, now=start).stored == 2
        Source.objects.filter(pk=source.pk).update(config={**config, "records": ["PH19", "PH21"]})

        outcome = source_fetch(source=Source.objects.get(pk=source.pk), now=start + timedelta(minutes=5))

        assert (outcome.ok, outcome.stored, outcome.warnings) == (True, 2, [])
        assert table_reads(httpserver) == 2  # within the hour, but the table held PH19 only
        assert Series.objects.get(key="PH21:vacant").name == f"{SITES['PH21']['name']} vacant spaces"
        assert Source.objects.get(pk=source.pk).state["table"]["filter"] == ["PH19", "PH21"]


def test_fetch_stores_the_valid_records_when_one_is_broken(tenant_a, httpserver):
    config = serve(httpserver, status=changed(STATUS, "PH20", parkingNumberOfVacantSpaces="?"))
    source = make_source(tenant_a, kind="datex_parking", config=config)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored) == (True, 6)
        assert outcome.warnings == [
            "Parking record PH20: parkingNumberOfVacantSpaces is not a number ('?'); skipped."
        ]
        assert {s.facility for s in Series.objects.all()} == {"PH19", "PH21", "PH27"}


def test_fetch_stores_the_status_when_the_table_fails(tenant_a, httpserver):
    config = serve(httpserver, table_code=500)
    source = make_source(tenant_a, kind="datex_parking", config=config)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored) == (True, 8)
        assert outcome.warnings == [
            f"The DATEX II parking table at {config['table_url']} could not be read ({config['table_url']} "
            "answered HTTP 500 INTERNAL SERVER ERROR.); it is skipped. It is read again in an hour."
        ]
        assert {s.name for s in Series.objects.all()} == {r.name for r in WITHOUT_TABLE}


@pytest.mark.parametrize(
    ("body", "code", "content_type", "message", "retryable"),
    [
        ("<html><body>Wartung</body></html>", 200, "text/html",
         "The DATEX II parking status at {url} sent an HTML page instead of DATEX II XML (content type "
         "'text/html', starting '<html><body>Wartung</body></html>'): check the address.", False),
        (STATUS[:5000], 200, "application/xml",
         "The DATEX II parking status at {url} is not valid XML (Couldn't find end of Start Tag "
         "parkingNumberOfVaca line 1, line 1, column 5001): the download was cut off.", True),
        ("Internal Server Error", 500, "text/plain",
         "DATEX II parking status: {url} answered HTTP 500 INTERNAL SERVER ERROR. If this persists, check "
         "the source's 'status_url'.", True),
    ],
    ids=["html", "truncated", "http-500"],
)  # fmt: skip
def test_unreadable_status_fails_the_fetch_and_stores_nothing(
    tenant_a, httpserver, body, code, content_type, message, retryable
):
    config = serve(httpserver, status=body, code=code, content_type=content_type)
    source = make_source(tenant_a, kind="datex_parking", config=config)
    expected = message.format(url=config["status_url"])

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert outcome.error == expected
        assert outcome.retryable is retryable
        assert (Series.objects.count(), Observation.objects.count()) == (0, 0)
        assert Source.objects.get(pk=source.pk).last_error == expected
