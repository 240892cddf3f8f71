"""ndw_traffic: recorded NDW trafficspeed files, parsed directly and fetched end to end from a local server."""

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, Payload
from sources.connectors.ndw_traffic import FLOW, SPEED, NdwTrafficConnector, Value, lanes_of, site_totals
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ndw_traffic"
SUBSET_GZ = (FIXTURES / "trafficspeed_2025-08-15_subset.xml.gz").read_bytes()
SINGLE_SITE_XML = (FIXTURES / "trafficspeed_2019-01-10_single_site.xml").read_bytes()

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


def _connector(sites=SITES) -> NdwTrafficConnector:
    return NdwTrafficConnector(
        config={"sites": sites},
        context=ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam"),
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
            config={"url": httpserver.url_for("/trafficspeed.xml.gz"), "sites": SITES},
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
         "with a d2LogicalModel was expected."),
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
    assert all(field.get("description") for field in schema["properties"].values())
