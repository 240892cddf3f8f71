"""ndw_traffic: recorded NDW trafficspeed files (DATEX II v2, and the same rewritten in v3) and measurement
site tables, parsed directly and fetched end to end from a local server."""

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sources.choices import Metric
from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, ParseError, Payload
from sources.connectors.ndw_traffic import (
    FLOW,
    SPEED,
    Lane,
    NdwTrafficConnector,
    Value,
    lanes_from_table,
    lanes_of,
    read_site_table,
    site_totals,
)
from sources.connectors.ndw_traffic import (
    SITE_TABLE as TABLE_ROLE,
)
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ndw_traffic"
SUBSET_GZ = (FIXTURES / "trafficspeed_2025-08-15_subset.xml.gz").read_bytes()
SUBSET_V3_GZ = (FIXTURES / "trafficspeed_2025-08-15_subset_v3.xml.gz").read_bytes()
SINGLE_SITE_XML = (FIXTURES / "trafficspeed_2019-01-10_single_site.xml").read_bytes()
TABLE_V2 = (FIXTURES / "measurement_site_table_subset.xml").read_bytes()
TABLE_V3 = (FIXTURES / "measurement_site_table_subset_v3.xml").read_bytes()
NOW = datetime(2025, 8, 15, 22, 0, tzinfo=UTC)

SITES = [
    "PZH01_MST_0635_01_01",
    "GAD02_Amstd_34_0",
    "RWS01_MONIBAS_0151hrr0589ra",
    "RWS01_MONIBAS_0271hrl0028ra",
    "PFR07_101600_N351_ZW",
    "GEO0K_K_RWSTI359886",
    "PLB05_291150_RI",
    "PZH01_MST_9999_99",
]
SUBSET_URL = "https://opendata.ndw.nu/trafficspeed.xml.gz"
AT_2147 = datetime(2025, 8, 15, 21, 47, tzinfo=UTC)
AT_2148 = datetime(2025, 8, 15, 21, 48, tzinfo=UTC)
# (key, metric, unit, time, value), worked out by hand from the fixture:
EXPECTED = [
    # One lane with length classes: flows 120, 0, 60 and anyVehicle 180; speeds 66, -1, 59 and anyVehicle 64.
    # Summing every flow would give 360.
    ("PZH01_MST_0635_01_01:vehicle_flow", "vehicle_flow", "vehicles/h", AT_2148, 180.0),
    ("PZH01_MST_0635_01_01:vehicle_speed", "vehicle_speed", "km/h", AT_2148, 64.0),
    # Two classified lanes, anyVehicle 240 at 96 km/h and 600 at 73 km/h (the second lane's classes add up
    # to 540 only). Flow-weighted speed: (240 * 96 + 600 * 73) / 840 = 79.57.
    ("GAD02_Amstd_34_0:vehicle_flow", "vehicle_flow", "vehicles/h", AT_2148, 840.0),
    ("GAD02_Amstd_34_0:vehicle_speed", "vehicle_speed", "km/h", AT_2148, 79.6),
    # Four motorway lanes without classes: (0, -1), (0, -1), (300, 113), (420, 106).
    # (300 * 113 + 420 * 106) / 720 = 108.92.
    ("RWS01_MONIBAS_0151hrr0589ra:vehicle_flow", "vehicle_flow", "vehicles/h", AT_2147, 720.0),
    ("RWS01_MONIBAS_0151hrr0589ra:vehicle_speed", "vehicle_speed", "km/h", AT_2147, 108.9),
    # _SiteMeasurementsIndexMeasuredValue blocks. No traffic: flow 0 and no speed (the file says speed 0,
    # computed from 0 inputs: a 0 km/h reading would look like a traffic jam).
    ("PFR07_101600_N351_ZW:vehicle_flow", "vehicle_flow", "vehicles/h", AT_2148, 0.0),
    ("GEO0K_K_RWSTI359886:vehicle_flow", "vehicle_flow", "vehicles/h", AT_2148, 480.0),
    ("GEO0K_K_RWSTI359886:vehicle_speed", "vehicle_speed", "km/h", AT_2148, 55.0),
]
WARNINGS = [
    "Site RWS01_MONIBAS_0271hrl0028ra: every value is invalid (-1 or dataError); nothing stored.",
    "Site PLB05_291150_RI: every value is invalid (-1 or dataError); nothing stored.",
    "Site PZH01_MST_9999_99 is not in the NDW file: check the id (NDW gives a site a new id when its lanes "
    "change).",
]


def _connector(sites=SITES, state=None, **config) -> NdwTrafficConnector:
    return NdwTrafficConnector(
        config={"sites": sites, **config},
        context=ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam"),
        state=state,
        now=NOW,
    )


def _rows(readings):
    return [(r.key, r.metric, r.unit, r.time, r.value) for r in readings]


def test_registered():
    assert get_connector("ndw_traffic") is NdwTrafficConnector


def test_parse_recorded_file():
    result = _connector().parse(Payload(body=SUBSET_GZ, url="https://opendata.ndw.nu/trafficspeed.xml.gz"))

    assert _rows(result.readings) == EXPECTED
    assert all(r.time.utcoffset() == timedelta(0) for r in result.readings)  # aware, and UTC
    assert all(r.facility == r.key.split(":")[0] and r.area is None for r in result.readings)
    assert result.readings[0].name == "PZH01_MST_0635_01_01 vehicle flow"
    assert result.warnings == WARNINGS
    assert result.state is None


def test_parse_skips_sites_not_configured():
    result = _connector(sites=["GEO0K_K_RWSTI359886"]).parse(Payload(body=SUBSET_GZ))

    assert [r.key for r in result.readings] == [
        "GEO0K_K_RWSTI359886:vehicle_flow",
        "GEO0K_K_RWSTI359886:vehicle_speed",
    ]
    assert result.warnings == []


def test_parse_plain_pretty_printed_xml():
    """Plain XML (a proxy may have decompressed it) in the older, indented layout; one flow and no speed."""
    result = _connector(sites=["PZH01_MST_0690_00"]).parse(Payload(body=SINGLE_SITE_XML))

    assert _rows(result.readings) == [
        (
            "PZH01_MST_0690_00:vehicle_flow",
            "vehicle_flow",
            "vehicles/h",
            datetime(2019, 1, 10, 13, 59, tzinfo=UTC),
            540.0,
        )
    ]
    assert result.warnings == []


def test_flows_of_several_lanes_without_speeds_are_summed():
    """A run of flows whose last value is below the others cannot be classes plus their total: lanes."""
    assert site_totals(lanes_of([Value(1, FLOW, 120.0), Value(2, FLOW, 60.0)])) == (180.0, None)
    # Classes plus their anyVehicle total: the total only.
    assert site_totals(
        lanes_of([Value(1, FLOW, 60.0), Value(2, FLOW, 60.0), Value(3, SPEED, 50.0), Value(4, SPEED, 50.0)])
    ) == (60.0, 50.0)


def test_speed_without_valid_flows_is_the_plain_mean():
    lanes = lanes_of(
        [Value(1, FLOW, None), Value(2, SPEED, 80.0), Value(3, FLOW, None), Value(4, SPEED, 100.0)]
    )

    assert site_totals(lanes) == (None, 90.0)


@pytest.fixture
def ndw_source(tenant_a, httpserver):
    def make(body: bytes, *, status: int = 200, content_type: str = "application/x-gzip"):
        httpserver.expect_request("/trafficspeed.xml.gz").respond_with_data(
            body, status=status, content_type=content_type
        )
        area = make_area(tenant_a, slug="scheveningen")
        return make_source(
            tenant_a,
            kind="ndw_traffic",
            config={"url": httpserver.url_for("/trafficspeed.xml.gz"), "sites": SITES, "site_table_url": ""},
            areas=[area],
        )

    return make


def test_fetch_stores_readings_once(tenant_a, ndw_source):
    source = ndw_source(SUBSET_GZ)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert outcome.ok, outcome.error
        assert (outcome.stored, outcome.duplicates, outcome.rejected) == (len(EXPECTED), 0, 0)
        assert outcome.warnings == WARNINGS
        series = {s.key: s for s in Series.objects.filter(source=source).select_related("area")}
        assert {key: (s.metric, s.unit, s.facility, s.area.slug) for key, s in series.items()} == {
            key: (metric, unit, key.split(":")[0], "scheveningen") for key, metric, unit, _, _ in EXPECTED
        }
        stored = Observation.objects.filter(series__source=source).select_related("series")
        assert sorted((o.series.key, o.time, o.value) for o in stored) == sorted(
            (key, time, value) for key, _, _, time, value in EXPECTED
        )
        assert series["GAD02_Amstd_34_0:vehicle_flow"].latest_value == 840.0
        # trafficspeed.xml has no coordinates (they are in the separate measurement site table): no location.
        assert all(s.location is None for s in series.values())

        again = source_fetch(source=source)

        assert again.ok, again.error
        assert (again.stored, again.duplicates) == (0, len(EXPECTED))
        assert Observation.objects.filter(series__source=source).count() == len(EXPECTED)


HTML = b"<!DOCTYPE html><html><head><title>Onderhoud</title></head><body><p>Even geduld<br></body></html>"
SITE_TABLE = (
    b'<?xml version="1.0"?><d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><payloadPublication '
    b'xsi:type="MeasurementSiteTablePublication"/></d2LogicalModel>'
)


@pytest.mark.parametrize(
    ("body", "status", "content_type", "error"),
    [
        (HTML, 200, "text/html", "{url} sent an HTML page, not the NDW DATEX II XML file: check the url."),
        (
            SUBSET_GZ[: len(SUBSET_GZ) // 2],
            200,
            "application/x-gzip",
            "{url} is a damaged gzip file (Compressed file ended before the end-of-stream marker was reached): "
            "the download was cut off or the file is corrupt.",
        ),
        (
            gzip.compress(b"Service unavailable", mtime=0),
            200,
            "application/x-gzip",
            "{url} is not valid XML (Start tag expected, '<' not found, line 1, column 1): expected the NDW "
            "DATEX II file.",
        ),
        (
            SITE_TABLE,
            200,
            "text/xml",
            "{url} holds a DATEX II MeasurementSiteTablePublication, not a MeasuredDataPublication: the url "
            "should point at trafficspeed.xml.gz.",
        ),
        (b"<rss><channel/></rss>", 200, "text/xml", "{url} is not DATEX II: found <rss> where a SOAP envelope "
         "with a d2LogicalModel (v2) or a messageContainer (v3) was expected."),
        (b"Internal error", 500, "text/plain", "{url} answered HTTP 500 INTERNAL SERVER ERROR."),
    ],
    ids=["html", "truncated-gzip", "gzip-of-text", "site-table", "other-xml", "http-500"],
)  # fmt: skip
def test_bad_input_stores_nothing(tenant_a, ndw_source, body, status, content_type, error):
    source = ndw_source(body, status=status, content_type=content_type)
    expected = error.format(url=source.config["url"])

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert outcome.error == expected
        assert outcome.stored == 0
        assert not Series.objects.filter(source=source).exists()
        assert not Observation.objects.filter(series__source=source).exists()
        assert Source.objects.get(pk=source.pk).last_error == expected


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        ({}, ["(root): 'sites' is a required property"]),
        ({"sites": []}, ["sites: [] should be non-empty"]),
        ({"sites": ["A B"]}, ["sites/0: 'A B' does not match '^\\\\S+$'"]),
        (
            {"sites": ["A"], "site_table_url": "file:///etc/passwd", "site_table_hours": 0},
            [
                "site_table_hours: 0 is less than the minimum of 1",
                "site_table_url: 'file:///etc/passwd' does not match '^(https?://\\\\S+)?$'",
            ],
        ),
        (
            {"sites": ["A", "A"], "url": "ftp://example.org/x", "interval": 5},
            [
                "(root): Additional properties are not allowed ('interval' was unexpected)",
                "sites: ['A', 'A'] has non-unique elements",
                "url: 'ftp://example.org/x' does not match '^https?://\\\\S+$'",
            ],
        ),
    ],
)
def test_validate_config_messages(config, messages):
    assert NdwTrafficConnector.validate_config(config) == messages


def test_validate_config_limits_and_defaults():
    assert NdwTrafficConnector.validate_config({"sites": ["PZH01_MST_0690_00"]}) == []
    too_many = NdwTrafficConnector.validate_config({"sites": [f"S{i}" for i in range(501)]})
    assert len(too_many) == 1
    assert too_many[0].startswith("sites: ") and too_many[0].endswith(" is too long")
    schema = NdwTrafficConnector.config_schema
    assert schema["additionalProperties"] is False
    assert schema["properties"]["url"]["default"] == "https://opendata.ndw.nu/trafficspeed.xml.gz"
    table_url = schema["properties"]["site_table_url"]["default"]
    assert table_url == "https://opendata.ndw.nu/measurement_current.xml.gz"
    assert all(field.get("description") for field in schema["properties"].values())


# --- DATEX II v3 --------------------------------------------------------------------------------------


def test_parse_datex_v3_gives_the_same_readings():
    """The v2 subset rewritten in DATEX II v3 element names and namespaces (see PROVENANCE.md)."""
    result = _connector().parse(Payload(body=SUBSET_V3_GZ, url="https://opendata.ndw.nu/trafficspeed.xml.gz"))

    assert _rows(result.readings) == EXPECTED
    assert result.warnings == WARNINGS


def test_v3_of_another_kind_is_refused():
    body = (
        b'<mc:messageContainer xmlns:mc="http://datex2.eu/schema/3/messageContainer" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><mc:payload xsi:type="sit:SituationPublication"/>'
        b"</mc:messageContainer>"
    )

    with pytest.raises(ParseError) as error:
        _connector().parse(Payload(body=body, url="https://opendata.ndw.nu/actueel_beeld.xml.gz"))

    assert error.value.message == (
        "https://opendata.ndw.nu/actueel_beeld.xml.gz holds a DATEX II SituationPublication, not a "
        "MeasuredDataPublication: the url should point at trafficspeed.xml.gz."
    )


# --- the measurement site table -----------------------------------------------------------------------

TABLE_URL = "https://opendata.ndw.nu/measurement_current.xml.gz"
LOCATED = {
    "PZH01_MST_0635_01_01": ("Example road A hmp 1.0 Re", (4.31234, 52.07812)),  # pointByCoordinates
    "GAD02_Amstd_34_0": ("Example street D", (4.8852, 52.3601)),  # first point of a linear location
    "RWS01_MONIBAS_0151hrr0589ra": ("Example motorway km 58.9 Re", (4.4, 52.1)),  # locationForDisplay
}
TABLE_SITES = {
    "PZH01_MST_0635_01_01": {
        "name": "Example road A hmp 1.0 Re",
        "location": [4.31234, 52.07812],
        "version": "2",
        "lanes": [["lane1", [4], 8]],  # three length classes and anyVehicle, for flows and for speeds
    },
    "GAD02_Amstd_34_0": {
        "name": "Example street D",
        "location": [4.8852, 52.3601],
        "version": "17",
        "lanes": [["lane1", [6], 12], ["lane2", [18], 24]],
    },
    "RWS01_MONIBAS_0151hrr0589ra": {
        "name": "Example motorway km 58.9 Re",
        "location": [4.4, 52.1],
        "version": "2",
        "lanes": [["lane1", [1], 2], ["lane2", [3], 4], ["lane3", [5], 6], ["lane4", [7], 8]],
    },
}
TABLE_WARNINGS = [
    "Site RWS01_MONIBAS_0271hrl0028ra is not in the measurement site table at {url}: stored without name "
    "or position, lanes inferred.",
    "Site PFR07_101600_N351_ZW is not in the measurement site table at {url}: stored without name or "
    "position, lanes inferred.",
    "Site GEO0K_K_RWSTI359886 is not in the measurement site table at {url}: stored without name or "
    "position, lanes inferred.",
    "Site PLB05_291150_RI: its record in the measurement site table cannot be read (position 'n/a', '5.9' is "
    "not a WGS84 latitude and longitude); stored without name or position, lanes inferred.",
    "Site PZH01_MST_9999_99 is not in the measurement site table at {url}: stored without name or "
    "position, lanes inferred.",
]
MISSING = [
    "RWS01_MONIBAS_0271hrl0028ra", "PFR07_101600_N351_ZW", "GEO0K_K_RWSTI359886", "PLB05_291150_RI",
    "PZH01_MST_9999_99",
]  # fmt: skip


def _table_state(url=TABLE_URL, at=NOW) -> dict:
    return {
        "site_table": {
            "url": url, "read_at": at.isoformat(), "tried_at": at.isoformat(), "error": "",
            "sites": TABLE_SITES, "missing": MISSING,
        }
    }  # fmt: skip


@pytest.mark.parametrize("table", [TABLE_V2, TABLE_V3], ids=["v2", "v3"])
def test_read_site_table(table):
    wanted = set(SITES) | {"PZH01_MST_0629_00"}

    found = read_site_table(table, wanted, where="The table")

    assert {site: info for site, info in found.items() if site in TABLE_SITES} == TABLE_SITES
    # The real record of the MIT sample: a name, no position (trimmed by the sample's author), one lane.
    assert found["PZH01_MST_0629_00"] == {
        "name": "N457 hmp 4.75 Re", "location": None, "version": "2", "lanes": [["lane1", [4], None]],
    }  # fmt: skip
    assert found["PLB05_291150_RI"] == {
        "error": "position 'n/a', '5.9' is not a WGS84 latitude and longitude"
    }
    assert "PZH01_MST_0065_00" not in found  # in the table, not wanted: not kept


def test_parse_site_table_keeps_only_the_configured_sites_in_the_state():
    result = _connector(site_table_url=TABLE_URL).parse(
        Payload(body=TABLE_V2, url=TABLE_URL, meta={"role": TABLE_ROLE})
    )

    assert result.readings == []
    assert result.state == _table_state()
    assert result.warnings == [w.format(url=TABLE_URL) for w in TABLE_WARNINGS]


def test_readings_carry_the_name_and_position_from_the_table():
    result = _connector(state=_table_state()).parse(Payload(body=SUBSET_GZ, url=SUBSET_URL))

    assert _rows(result.readings) == EXPECTED  # the table's lanes give the same totals as the inference
    for reading in result.readings:
        name, location = LOCATED.get(reading.facility, (reading.facility, None))
        assert reading.name == f"{name} {Metric(reading.metric).label}"
        assert reading.location == location
    assert result.warnings == WARNINGS


def test_the_table_decides_which_flows_count():
    """Lanes of only length classes are added up; the lanes come from the table, not from the index order."""
    state = _table_state()
    classes_only = {**TABLE_SITES["GAD02_Amstd_34_0"], "lanes": [["lane1", [1, 2, 3, 4, 5], 12],
                                                                 ["lane2", [13, 14, 15, 16, 17], 24]]}  # fmt: skip
    state["site_table"]["sites"] = {**TABLE_SITES, "GAD02_Amstd_34_0": classes_only}

    result = _connector(sites=["GAD02_Amstd_34_0"], state=state).parse(Payload(body=SUBSET_GZ))

    # The classes add up to 240 and 540 (the anyVehicle flows are 240 and 600): (240*96 + 540*73) / 780.
    assert [(r.metric, r.value) for r in result.readings] == [
        ("vehicle_flow", 780.0),
        ("vehicle_speed", 80.1),
    ]


def test_a_record_of_another_version_falls_back_to_inferred_lanes():
    state = _table_state()
    wrong = {**TABLE_SITES["GAD02_Amstd_34_0"], "version": "16", "lanes": [["lane1", [1], None]]}
    state["site_table"]["sites"] = {"GAD02_Amstd_34_0": wrong}

    result = _connector(sites=["GAD02_Amstd_34_0"], state=state).parse(Payload(body=SUBSET_GZ))

    assert [(r.metric, r.value, r.name) for r in result.readings] == [
        ("vehicle_flow", 840.0, "Example street D vehicle flow"),
        ("vehicle_speed", 79.6, "Example street D average vehicle speed"),
    ]


def test_lanes_from_table():
    # Two lanes with flows only: the inference takes the last flow (300 looks like the total of 120)...
    values = [Value(1, FLOW, 120.0), Value(2, FLOW, 300.0)]
    assert site_totals(lanes_of(values)) == (300.0, None)
    # ...the table says they are two lanes.
    plan = [["lane1", [1], None], ["lane2", [2], None]]
    assert site_totals(lanes_from_table(values, plan)) == (420.0, None)
    # Values that do not fit the table (an index missing, a speed where a flow should be): no table lanes.
    assert lanes_from_table(values, [["lane1", [3], None]]) is None
    assert lanes_from_table(values, [["lane1", [1], 2]]) is None
    # An invalid class makes the lane's flow unknown, not smaller.
    assert lanes_from_table([Value(1, FLOW, 60.0), Value(2, FLOW, None)], [["lane1", [1, 2], None]]) == [
        Lane(flow=None, speed=None)
    ]


@pytest.mark.parametrize(
    ("body", "message", "retryable"),
    [
        (SUBSET_GZ, "The table holds a DATEX II MeasuredDataPublication, not a MeasurementSiteTablePublication: "
         "site_table_url should point at measurement_current.xml.gz.", False),
        (gzip.compress(TABLE_V2, mtime=0)[:800], "The table is a damaged gzip file (Compressed file ended before "
         "the end-of-stream marker was reached): the download was cut off or the file is corrupt.", True),
        (TABLE_V2[:3000], "The table is not valid XML (Premature end of data in tag lengthCharacteristic line 49, line 52, "
         "column 18): the download was cut off.", True),
    ],
    ids=["measured-data", "truncated-gzip", "truncated-xml"],
)  # fmt: skip
def test_read_site_table_bad_input(body, message, retryable):
    with pytest.raises(ParseError) as error:
        read_site_table(body, set(SITES), where="The table")

    assert (error.value.message, error.value.retryable) == (message, retryable)


def test_when_the_table_is_read():
    table = _table_state()
    assert _connector(site_table_url=TABLE_URL).site_table_due()  # never read
    assert not _connector(state=table, site_table_url=TABLE_URL).site_table_due()  # fresh
    assert not _connector(state=table, site_table_url="").site_table_due()  # switched off
    assert _connector(
        state=table, site_table_url="https://example.org/mst.xml"
    ).site_table_due()  # other file
    assert _connector(
        sites=[*SITES, "PZH01_MST_0629_00"], state=table, site_table_url=TABLE_URL
    ).site_table_due()
    old = _table_state(at=NOW - timedelta(hours=24))
    assert _connector(state=old, site_table_url=TABLE_URL).site_table_due()
    assert not _connector(state=old, site_table_url=TABLE_URL, site_table_hours=48).site_table_due()
    failed = _table_state(at=NOW - timedelta(hours=30))
    failed["site_table"].update(tried_at=(NOW - timedelta(minutes=59)).isoformat(), error="HTTP 500")
    assert not _connector(state=failed, site_table_url=TABLE_URL).site_table_due()  # retried after an hour
    failed["site_table"]["tried_at"] = (NOW - timedelta(minutes=61)).isoformat()
    assert _connector(state=failed, site_table_url=TABLE_URL).site_table_due()


@pytest.fixture
def ndw_with_table(tenant_a, httpserver):
    def make(table: bytes = TABLE_V2, *, status: int = 200, content_type: str = "text/xml"):
        httpserver.expect_request("/trafficspeed.xml.gz").respond_with_data(
            SUBSET_GZ, content_type="application/x-gzip"
        )
        httpserver.expect_request("/measurement_current.xml").respond_with_data(
            table, status=status, content_type=content_type
        )
        config = {
            "url": httpserver.url_for("/trafficspeed.xml.gz"),
            "site_table_url": httpserver.url_for("/measurement_current.xml"),
            "sites": SITES,
        }
        return make_source(tenant_a, kind="ndw_traffic", config=config)

    return make


def _requests(httpserver, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


def test_fetch_with_the_site_table(tenant_a, ndw_with_table, httpserver):
    source = ndw_with_table()
    table_url = source.config["site_table_url"]

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert outcome.ok, outcome.error
        assert outcome.stored == len(EXPECTED)
        assert outcome.warnings == [w.format(url=table_url) for w in TABLE_WARNINGS] + WARNINGS
        for s in Series.objects.filter(source=source):
            name, location = LOCATED.get(s.facility, (s.facility, None))
            assert (s.name, s.location) == (f"{name} {Metric(s.metric).label}", location)
        state = Source.objects.get(pk=source.pk).state["site_table"]
        assert state == _table_state(url=table_url)["site_table"]

        # A minute later: the table is not read again.
        again = source_fetch(source=Source.objects.get(pk=source.pk), now=NOW + timedelta(minutes=1))
        assert again.ok and again.warnings == WARNINGS
        assert _requests(httpserver, "/measurement_current.xml") == 1
        # A day later it is.
        later = source_fetch(source=Source.objects.get(pk=source.pk), now=NOW + timedelta(hours=24))
        assert later.ok
        assert _requests(httpserver, "/measurement_current.xml") == 2
        assert _requests(httpserver, "/trafficspeed.xml.gz") == 3


@pytest.mark.parametrize(
    ("table", "status", "content_type", "reason"),
    [
        (b"busy", 500, "text/plain", "{url} answered HTTP 500 INTERNAL SERVER ERROR."),
        (HTML, 200, "text/html", "The measurement site table at {url} sent an HTML page, not the NDW DATEX II "
         "XML file: check the url."),
    ],
    ids=["http-500", "html"],
)  # fmt: skip
def test_a_failing_site_table_keeps_the_measurements(tenant_a, ndw_with_table, httpserver, table, status,
                                                     content_type, reason):  # fmt: skip
    source = ndw_with_table(table, status=status, content_type=content_type)
    table_url = source.config["site_table_url"]

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert outcome.ok, outcome.error
        assert outcome.stored == len(EXPECTED)
        warning = (
            f"The measurement site table was not read: {reason.format(url=table_url)} The measurements are "
            "stored; the sites have no names or positions and their lanes are inferred. Tried again in an hour."
        )
        assert outcome.warnings == [warning, *WARNINGS]
        assert all(s.location is None for s in Series.objects.filter(source=source))
        state = Source.objects.get(pk=source.pk).state["site_table"]
        assert (state["read_at"], state["tried_at"], state["sites"]) == (None, NOW.isoformat(), {})

        # Not tried again every minute...
        assert source_fetch(source=Source.objects.get(pk=source.pk), now=NOW + timedelta(minutes=30)).ok
        assert _requests(httpserver, "/measurement_current.xml") == 1
        # ...but after an hour.
        assert source_fetch(source=Source.objects.get(pk=source.pk), now=NOW + timedelta(minutes=61)).ok
        assert _requests(httpserver, "/measurement_current.xml") == 2


def test_fetch_v3_with_a_v3_site_table(tenant_a, httpserver):
    httpserver.expect_request("/v3/trafficspeed.xml.gz").respond_with_data(SUBSET_V3_GZ)
    httpserver.expect_request("/v3/measurement_current.xml").respond_with_data(TABLE_V3)
    config = {
        "url": httpserver.url_for("/v3/trafficspeed.xml.gz"),
        "site_table_url": httpserver.url_for("/v3/measurement_current.xml"),
        "sites": SITES,
    }
    source = make_source(tenant_a, kind="ndw_traffic", config=config)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert outcome.ok, outcome.error
        stored = Observation.objects.filter(series__source=source).select_related("series")
        assert sorted((o.series.key, o.time, o.value) for o in stored) == sorted(
            (key, time, value) for key, _, _, time, value in EXPECTED
        )
        located = Series.objects.get(source=source, key="GAD02_Amstd_34_0:vehicle_flow")
        assert (located.name, located.location) == ("Example street D vehicle flow", (4.8852, 52.3601))


# --- the fast reader of a wanted site reads what the tree reader reads -----------------------------------


def _site_elements(body: bytes):
    from lxml import etree

    root = etree.fromstring(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
    return root.iter("{*}siteMeasurements")


@pytest.mark.parametrize(
    "body, version",
    [(SUBSET_GZ, 2), (SUBSET_V3_GZ, 3), (SINGLE_SITE_XML, 2)],
    ids=["v2", "v3", "single-site-2019"],
)
def test_fast_site_reader_agrees_with_the_tree_reader_on_every_recorded_site(body, version):
    from sources.connectors.ndw_traffic import _scan_site, _SiteReader

    reader, read = _SiteReader(), 0
    for site in _site_elements(body):
        assert reader.read(site, version) == _scan_site(site, version)
        assert reader._plain(site, version) is not None  # NDW's own layout takes the fast path
        read += 1
    assert read > 0


V2_SITE = (
    '<d:siteMeasurements xmlns:d="http://datex2.eu/schema/2/2_0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<d:measurementSiteReference id="S1" version="3" targetClass="MeasurementSiteRecord"/>'
    "<d:measurementTimeDefault>2025-08-15T21:48:00Z</d:measurementTimeDefault>"
    '<d:measuredValue index="1"><d:measuredValue><d:basicData xsi:type="TrafficFlow">'
    '<d:vehicleFlow numberOfInputValuesUsed="4"><d:dataError>{error}</d:dataError>'
    "<d:vehicleFlowRate>{flow}</d:vehicleFlowRate></d:vehicleFlow></d:basicData></d:measuredValue>"
    "</d:measuredValue>"
    '<d:measuredValue index="2"><d:measuredValue><d:basicData xsi:type="TrafficSpeed">'
    "<d:averageVehicleSpeed><d:speed>{speed}</d:speed></d:averageVehicleSpeed></d:basicData>"
    "</d:measuredValue></d:measuredValue>{extra}"
    "</d:siteMeasurements>"
)


@pytest.mark.parametrize(
    "fields, plain",
    [
        ({"error": "false", "flow": "120", "speed": "64", "extra": ""}, True),  # prefixed names
        ({"error": "true", "flow": "120", "speed": "64", "extra": ""}, True),  # dataError: no value
        ({"error": "false", "flow": "-1", "speed": "0", "extra": ""}, True),  # -1, speed without traffic
        ({"error": "false", "flow": "12x", "speed": "64", "extra": ""}, True),  # no number
        ({"error": "false", "flow": "120", "speed": "64", "extra": "<!-- a note -->"}, False),
        ({"error": "false", "flow": "1<!-- c -->20", "speed": "64", "extra": ""}, False),
        ({"error": "false", "flow": "&#49;20", "speed": "64", "extra": ""}, True),  # lxml writes "120"
        (
            {"error": "false", "flow": "<![CDATA[120]]>", "speed": "64", "extra": ""},
            True,
        ),  # lxml writes "120"
        (
            {
                "error": "false",
                "flow": "120",
                "speed": "64",
                "extra": '<d:measuredValue index="3"><d:measuredValue><d:basicData xsi:type="TrafficSpeed">'
                "<d:averageVehicleSpeed><d:vehicleFlowRate>90</d:vehicleFlowRate></d:averageVehicleSpeed>"
                "</d:basicData></d:measuredValue></d:measuredValue>",  # a value where the schema has none
            },
            False,
        ),
    ],
)
def test_fast_site_reader_takes_only_the_plain_layout_and_agrees_with_the_tree_reader(fields, plain):
    from lxml import etree

    from sources.connectors.ndw_traffic import _scan_site, _SiteReader

    site = etree.fromstring(V2_SITE.format(**fields).encode())
    reader = _SiteReader()
    assert (reader._plain(site, 2) is not None) is plain
    assert reader.read(site, 2) == _scan_site(site, 2)
    # Read twice by one reader (the memo of value blocks): the same answer.
    assert reader.read(site, 2) == _scan_site(site, 2)
