"""ndov_kv6: recorded KV6posinfo documents (BSD-2-Clause samples and one derived from them, see
fixtures/ndov_kv6/PROVENANCE.md), parsed directly and fetched end to end from a local server."""

import gzip
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyproj import Geod

from areas.geometry import measure
from sources.connectors import get_connector
from sources.connectors.base import AreaInfo, ConnectorContext, ParseError, Payload
from sources.connectors.ndov_kv6 import NdovKv6Connector, rd_to_wgs84
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source, square

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ndov_kv6"
KV6_VTN = (FIXTURES / "kv6-1.xml").read_bytes()  # default namespace, BISON 8.1.0.0, indented
KV6_ARRIVA = (FIXTURES / "kv6-3.xml").read_bytes()  # default namespace, one line
KV6_GVB_ONROUTE = (FIXTURES / "kv6gvb.xml").read_bytes()  # tmi8: prefix, 8.1.1.0, rd -1, delimiters
KV6_GVB_OFFROUTE = (FIXTURES / "kv6gvb4.xml").read_bytes()  # tmi8: prefix, a real RD fix
ARENA = (FIXTURES / "gvb_arena.xml").read_bytes()  # derived: arrivals at two GVB stops
EMPTY = (FIXTURES / "empty.xml").read_bytes()  # derived: a dossier with only a delimiter

CET, CEST = timezone(timedelta(hours=1)), timezone(timedelta(hours=2))
ARENA_TIME = datetime(2014, 11, 6, 21, 36, 3, tzinfo=CET)  # the envelope's Timestamp
# Mean of the three fixes at 00559 (125023/480208 twice, 125031/480216), RD -> WGS84.
ARENA_STOP = (4.947684, 52.309042)
ARENA_AREA = square(4.9472, 52.3086, 0.001)  # around stop 00559, Amsterdam Bijlmer ArenA
NOW = datetime(2025, 8, 16, 13, 0, tzinfo=UTC)
URL = "https://kv6.example/relay/kv6posinfo.xml"
ARENA_STOPS = [
    {"userstopcode": "00559", "name": "Bijlmer ArenA"},
    {"userstopcode": "00560", "dataownercode": "GVB"},
]
# (key, metric, unit, time, value, name, facility, location)
ARENA_READINGS = [
    ("GVB:00559:transit_arrivals", "transit_arrivals", "vehicles", ARENA_TIME, 2.0, "Bijlmer ArenA arrivals",
     "GVB:00559", ARENA_STOP),
    # journey 340: ARRIVAL +120 then ONSTOP +132 of one passage -> +132; line 47 journey 2117: -30
    ("GVB:00559:transit_delay", "transit_delay", "s", ARENA_TIME, 51.0, "Bijlmer ArenA delay", "GVB:00559",
     ARENA_STOP),
    ("GVB:00560:transit_arrivals", "transit_arrivals", "vehicles", ARENA_TIME, 1.0, "GVB 00560 arrivals",
     "GVB:00560", None),
    ("GVB:00560:transit_delay", "transit_delay", "s", ARENA_TIME, 45.0, "GVB 00560 delay", "GVB:00560", None),
]  # fmt: skip


def _connector(*, areas=(), state=None, **config) -> NdovKv6Connector:
    config = {"url": URL, "stops": ARENA_STOPS, **config}
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam", areas=tuple(areas))
    return NdovKv6Connector(config=config, context=context, state=state)


def _rows(readings):
    return [(r.key, r.metric, r.unit, r.time, r.value, r.name, r.facility, r.location) for r in readings]


def _area(slug: str, geometry: dict) -> AreaInfo:
    measured = measure(geometry)
    return AreaInfo(
        slug=slug, name=slug, centroid=measured.centroid, bbox=measured.bbox, geometry=measured.geojson
    )


def _replace(body: bytes, old: str, new: str) -> bytes:
    assert body.count(old.encode()) == 1, old
    return body.replace(old.encode(), new.encode())


def test_registered():
    assert get_connector("ndov_kv6") is NdovKv6Connector


def test_parse_recorded_vtn_document():
    """Default namespace, BISON 8.1.0.0: one ARRIVAL counts; DEPARTURE and DELAY are no arrivals."""
    stops = [{"userstopcode": "7308017"}, {"userstopcode": "7308071", "dataownercode": "VTN"}]
    result = _connector(stops=stops).parse(Payload(body=KV6_VTN, url=URL))

    time = datetime(2013, 7, 24, 18, 37, 43, 554713, tzinfo=CEST)  # 7 decimals in the feed, kept to the µs
    assert _rows(result.readings) == [
        ("VTN:7308017:transit_arrivals", "transit_arrivals", "vehicles", time, 1.0, "VTN 7308017 arrivals",
         "VTN:7308017", None),
        ("VTN:7308017:transit_delay", "transit_delay", "s", time, 277.0, "VTN 7308017 delay", "VTN:7308017",
         None),
    ]  # fmt: skip
    assert result.warnings == []
    assert result.state is None  # no fixes: nothing to remember


def test_parse_recorded_single_line_arriva_document():
    stops = [{"userstopcode": "54440030"}, {"userstopcode": "53320010"}, {"userstopcode": "54550100"}]
    result = _connector(stops=stops).parse(Payload(body=KV6_ARRIVA, url=URL))

    time = datetime(2013, 8, 6, 17, 27, 27, 636294, tzinfo=CEST)
    assert [(r.key, r.time, r.value) for r in result.readings] == [
        ("ARR:53320010:transit_arrivals", time, 1.0),
        ("ARR:53320010:transit_delay", time, 204.0),
        ("ARR:54440030:transit_arrivals", time, 1.0),
        ("ARR:54440030:transit_delay", time, 145.0),
    ]  # 54550100 only saw a DEPARTURE: no reading, not 0
    assert result.warnings == []


def test_parse_gvb_document_with_tmi8_prefix():
    result = _connector().parse(Payload(body=ARENA, url=URL))

    assert _rows(result.readings) == ARENA_READINGS
    assert all(r.area is None for r in result.readings)
    assert result.warnings == []
    assert result.state == {"stop_positions": {"GVB:00559": list(ARENA_STOP)}}


def test_gzipped_document_gives_the_same_readings():
    result = _connector().parse(Payload(body=gzip.compress(ARENA, mtime=0), url=URL))

    assert _rows(result.readings) == ARENA_READINGS


def test_document_without_arrivals_at_followed_stops():
    """ONROUTE with rd -1 (no fix) and OFFROUTE are no arrivals; rd -1 raises no warning."""
    for body in (KV6_GVB_ONROUTE, KV6_GVB_OFFROUTE):
        result = _connector(stops=[{"userstopcode": "03058"}, {"userstopcode": "00559"}]).parse(
            Payload(body=body)
        )

        assert result.readings == []
        assert result.warnings == [
            "The KV6 document holds 1 message(s), none of them an arrival at a followed stop; nothing stored."
        ]
        assert result.state is None  # an OFFROUTE fix is off the route, not at the stop


def test_line_filter():
    result = _connector(lines=[{"lineplanningnumber": "66", "dataownercode": "GVB"}]).parse(
        Payload(body=ARENA)
    )

    assert [(r.key, r.value) for r in result.readings] == [
        ("GVB:00559:transit_arrivals", 1.0),
        ("GVB:00559:transit_delay", 132.0),
        ("GVB:00560:transit_arrivals", 1.0),
        ("GVB:00560:transit_delay", 45.0),
    ]
    other = _connector(lines=[{"lineplanningnumber": "66", "dataownercode": "RET"}]).parse(
        Payload(body=ARENA)
    )
    assert other.readings == []
    assert other.warnings == [
        "The KV6 document holds 8 message(s), none of them an arrival at a followed stop of the followed lines; "
        "nothing stored."
    ]


def test_dataownercode_of_a_stop_must_match():
    result = _connector(stops=[{"userstopcode": "00559", "dataownercode": "RET"}]).parse(Payload(body=ARENA))

    assert result.readings == []


def test_located_followed_stop_gets_its_area():
    areas = (_area("arena", ARENA_AREA), _area("kurhaus", square()))
    result = _connector(areas=areas).parse(Payload(body=ARENA))

    assert [(r.key, r.area) for r in result.readings] == [
        ("GVB:00559:transit_arrivals", "arena"),
        ("GVB:00559:transit_delay", "arena"),
        ("GVB:00560:transit_arrivals", None),  # no position, so no area known (the core may set one)
        ("GVB:00560:transit_delay", None),
    ]


def test_select_by_area_follows_stops_with_a_fix_in_an_area_and_remembers_them():
    areas = (_area("arena", ARENA_AREA),)
    first = _connector(stops=[], select_by_area=True, areas=areas).parse(Payload(body=ARENA))

    # 00560 has no fix and is not listed: it cannot be placed, so it is not followed.
    assert [(r.key, r.value, r.area, r.location) for r in first.readings] == [
        ("GVB:00559:transit_arrivals", 2.0, "arena", ARENA_STOP),
        ("GVB:00559:transit_delay", 51.0, "arena", ARENA_STOP),
    ]
    assert first.warnings == []
    assert first.state == {"stop_positions": {"GVB:00559": list(ARENA_STOP)}}

    # A later document in which no vehicle at 00559 has a fix: the remembered position keeps it followed.
    later = ARENA
    for old in (
        '<tmi8:rd-x>125023.0</tmi8:rd-x><tmi8:rd-y>480208.0</tmi8:rd-y><tmi8c:delimiter since=""/>'
        "</tmi8:ARRIVAL>",
        "<tmi8:rd-x>125023.0</tmi8:rd-x><tmi8:rd-y>480208.0</tmi8:rd-y><tmi8c:delimiter"
        ' since=""/></tmi8:ONSTOP>',
        "<tmi8:rd-x>125031.0</tmi8:rd-x><tmi8:rd-y>480216.0</tmi8:rd-y>",
    ):
        later = _replace(later, old, old.replace("125023.0", "-1").replace("480208.0", "-1")
                         .replace("125031.0", "-1").replace("480216.0", "-1"))  # fmt: skip
    again = _connector(stops=[], select_by_area=True, areas=areas, state=first.state).parse(
        Payload(body=later)
    )

    assert [(r.key, r.value, r.area, r.location) for r in again.readings] == [
        ("GVB:00559:transit_arrivals", 2.0, "arena", ARENA_STOP),
        ("GVB:00559:transit_delay", 51.0, "arena", ARENA_STOP),
    ]
    assert again.state is None  # nothing new to remember
    # Without the memory the stop cannot be placed.
    assert _connector(stops=[], select_by_area=True, areas=areas).parse(Payload(body=later)).readings == []


def test_select_by_area_without_areas_warns():
    result = _connector(select_by_area=True).parse(Payload(body=ARENA))

    assert [r.key for r in result.readings] == [row[0] for row in ARENA_READINGS]  # the listed stops still
    assert result.warnings == [
        "select_by_area is set, but the source feeds no areas and the tenant has none: only the listed stops "
        "are followed."
    ]


def _polynomial_rd_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """Schreutelkamp & Strang van Hees (2001), "Benaderingsformules voor de transformatie tussen RD- en
    WGS84-kaartcoördinaten": an independent check of the PROJ conversion, good to about a metre."""
    dx, dy = (x - 155_000) * 1e-5, (y - 463_000) * 1e-5
    north = (3235.65389 * dy - 32.58297 * dx**2 - 0.2475 * dy**2 - 0.84978 * dx**2 * dy - 0.0655 * dy**3
             - 0.01709 * dx**2 * dy**2 - 0.00738 * dx + 0.0053 * dx**4 - 0.00039 * dx**2 * dy**3
             + 0.00033 * dx**4 * dy - 0.00012 * dx * dy)  # fmt: skip
    east = (5260.52916 * dx + 105.94684 * dx * dy + 2.45656 * dx * dy**2 - 0.81885 * dx**3
            + 0.05594 * dx * dy**3 - 0.05607 * dx**3 * dy + 0.01199 * dy - 0.00256 * dx**3 * dy**2
            + 0.00128 * dx * dy**4 + 0.00022 * dy**2 - 0.00022 * dx**2 + 0.00026 * dx**5)  # fmt: skip
    return 5.38720621 + east / 3600, 52.15517440 + north / 3600


@pytest.mark.parametrize(
    "rd",
    [(155_000, 463_000), (125_023, 480_208), (121_000, 487_000), (176_000, 317_000), (233_000, 582_000),
     (13_000, 380_000)],
    ids=["amersfoort", "bijlmer-arena", "amsterdam-dam", "maastricht", "groningen", "cadzand"],
)  # fmt: skip
def test_rd_to_wgs84_within_a_metre(rd):
    lon, lat = rd_to_wgs84(*rd)
    expected_lon, expected_lat = _polynomial_rd_to_wgs84(*rd)
    _, _, metres = Geod(ellps="WGS84").inv(lon, lat, expected_lon, expected_lat)

    assert metres < 1.0


def test_rd_to_wgs84_amersfoort():
    """The origin of the RD grid, Onze Lieve Vrouwetoren in Amersfoort: 5.38721 E, 52.15517 N."""
    lon, lat = rd_to_wgs84(155_000, 463_000)

    assert (round(lon, 5), round(lat, 5)) == (5.38720, 52.15517)
    assert abs(lon - 5.38721) < 1e-5 and abs(lat - 52.15517) < 1e-5


BROKEN = [
    ("<tmi8:punctuality>45</tmi8:punctuality>", "<tmi8:punctuality>4S</tmi8:punctuality>",
     "KV6 ARRIVAL message 6 (GVB line 66 journey 341 at stop 00560): punctuality '4S' is not a whole number of "
     "seconds; skipped."),
    ("<tmi8:punctuality>45</tmi8:punctuality>", "<tmi8:punctuality>99999</tmi8:punctuality>",
     "KV6 ARRIVAL message 6 (GVB line 66 journey 341 at stop 00560): punctuality 99999 s is outside "
     "-3600..86400 s; skipped."),
    ("<tmi8:journeynumber>341</tmi8:journeynumber>", "",
     "KV6 ARRIVAL message 6 (GVB line 66 journey ? at stop 00560): no journeynumber; skipped."),
    ("2014-11-06T21:35:40+01:00", "21:35:40",
     "KV6 ARRIVAL message 6 (GVB line 66 journey 341 at stop 00560): timestamp '21:35:40' is not an ISO 8601 "
     "time; skipped."),
    ("<tmi8:passagesequencenumber>1</tmi8:passagesequencenumber>",
     "<tmi8:passagesequencenumber>first</tmi8:passagesequencenumber>",
     "KV6 ARRIVAL message 6 (GVB line 66 journey 341 at stop 00560): passagesequencenumber 'first' is not a "
     "whole number; skipped."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "warning"), BROKEN, ids=["text", "implausible", "missing", "time", "seq"]
)
def test_broken_message_is_skipped_and_the_rest_kept(old, new, warning):
    result = _connector().parse(Payload(body=_replace(ARENA, old, new)))

    assert _rows(result.readings) == ARENA_READINGS[:2]  # stop 00559 unchanged; 00560 had only that message
    assert result.warnings == [warning]


def test_broken_messages_elsewhere_are_not_checked():
    """A garbled message at a stop nobody follows raises no warning (a national stream would flood)."""
    body = _replace(
        ARENA, "<tmi8:punctuality>45</tmi8:punctuality>", "<tmi8:punctuality>?</tmi8:punctuality>"
    )
    result = _connector(stops=[{"userstopcode": "00559"}]).parse(Payload(body=body))

    assert [(r.key, r.value) for r in result.readings] == [(row[0], row[4]) for row in ARENA_READINGS[:2]]
    assert result.warnings == []


def test_timestamps_without_offset_are_amsterdam_time_with_one_warning():
    body = _replace(ARENA, "<tmi8:Timestamp>2014-11-06T21:36:03+01:00", "<tmi8:Timestamp>2014-11-06T21:36:03")
    body = _replace(body, "2014-11-06T21:35:40+01:00", "2014-11-06T21:35:40")
    result = _connector().parse(Payload(body=body))

    assert [(r.key, r.time, r.value) for r in result.readings] == [
        (k, t, v) for k, _, _, t, v, *_ in ARENA_READINGS
    ]
    assert result.readings[0].time.utcoffset() == timedelta(hours=1)  # CET in November
    assert result.warnings == [
        "2 KV6 timestamp(s) have no UTC offset; they were read as Europe/Amsterdam time (KV6 times are Dutch "
        "local time). Ask the relay to send the offset, e.g. +02:00."
    ]


def test_unusable_position_is_ignored_with_one_warning():
    body = _replace(ARENA, "<tmi8:rd-x>125031.0</tmi8:rd-x>", "<tmi8:rd-x>12503l.0</tmi8:rd-x>")
    body = _replace(body, "<tmi8:rd-x>125023.0</tmi8:rd-x><tmi8:rd-y>480208.0</tmi8:rd-y><tmi8c:delimiter "
                    'since=""/></tmi8:ONSTOP>', "<tmi8:rd-x>0</tmi8:rd-x><tmi8:rd-y>0</tmi8:rd-y><tmi8c:delimiter "
                    'since=""/></tmi8:ONSTOP>')  # fmt: skip
    result = _connector().parse(Payload(body=body))

    assert [(r.key, r.value, r.location) for r in result.readings] == [
        ("GVB:00559:transit_arrivals", 2.0, rd_to_wgs84(125_023, 480_208)),  # the one fix left
        ("GVB:00559:transit_delay", 51.0, rd_to_wgs84(125_023, 480_208)),
        ("GVB:00560:transit_arrivals", 1.0, None),
        ("GVB:00560:transit_delay", 45.0, None),
    ]
    assert result.warnings == [
        "2 KV6 message(s) give an unusable position (rd-x 0, rd-y 0 lie outside the Netherlands); the positions "
        "were ignored, the messages kept."
    ]


def test_several_envelopes_in_one_document():
    """A relay may bundle envelopes: every dossier is read, the newest envelope Timestamp times the readings."""
    strip = b'<?xml version="1.0" encoding="utf-8"?>'
    body = b"<relay>" + KV6_VTN + KV6_ARRIVA.replace(strip, b"") + b"</relay>"
    stops = [{"userstopcode": "7308017"}, {"userstopcode": "54440030"}]
    result = _connector(stops=stops).parse(Payload(body=body))

    newest = datetime(2013, 8, 6, 17, 27, 27, 636294, tzinfo=CEST)
    assert [(r.key, r.time, r.value) for r in result.readings] == [
        ("ARR:54440030:transit_arrivals", newest, 1.0),
        ("ARR:54440030:transit_delay", newest, 145.0),
        ("VTN:7308017:transit_arrivals", newest, 1.0),
        ("VTN:7308017:transit_delay", newest, 277.0),
    ]


def test_bare_dossier_is_timed_by_its_newest_message():
    start, end = ARENA.index(b"<tmi8:KV6posinfo>"), ARENA.index(b"</VV_TM_PUSH>")
    dossier = b'<tmi8:KV6posinfo xmlns:tmi8="http://bison.connekt.nl/tmi8/kv6/msg" '
    dossier += (
        b'xmlns:tmi8c="http://bison.connekt.nl/tmi8/kv6/core"' + ARENA[start + len(b"<tmi8:KV6posinfo") : end]
    )
    result = _connector().parse(Payload(body=dossier))

    # The newest valid message at a followed stop: the ARRIVAL of line 47 at 21:36:02.
    assert {r.time for r in result.readings} == {datetime(2014, 11, 6, 21, 36, 2, tzinfo=CET)}
    assert [r.value for r in result.readings] == [v for *_, v, _, _, _ in ARENA_READINGS]


def test_unknown_message_types_are_ignored_with_one_warning():
    body = _replace(
        ARENA, "<tmi8:KV6posinfo>", "<tmi8:KV6posinfo><tmi8:CANCEL/><tmi8:CANCEL/><tmi8:REROUTE/>"
    )
    result = _connector().parse(Payload(body=body))

    assert _rows(result.readings) == ARENA_READINGS
    assert result.warnings == [
        "Unknown KV6 message type(s) CANCEL, REROUTE ignored (a newer BISON version?)."
    ]


def test_gzip_that_unpacks_too_far_is_refused(monkeypatch):
    monkeypatch.setattr("sources.connectors.ndov_kv6.MAX_XML_BYTES", 1024 * 1024)
    bomb = gzip.compress(b"<a>" + b" " * (2 * 1024 * 1024) + b"</a>", mtime=0)

    with pytest.raises(ParseError) as caught:
        _connector().parse(Payload(body=bomb, url=URL))

    assert caught.value.message == f"{URL} unpacks to more than 1 MiB of XML; stopped."
    assert caught.value.retryable is False


EMPTY_WARNING = (
    "{where} holds no KV6 messages: no information about arrivals (not zero arrivals), so nothing was stored. If "
    "this lasts, check that the relay still receives the KV6 stream."
)


def test_empty_document_gives_no_readings_and_a_warning():
    result = _connector().parse(Payload(body=EMPTY, url=URL))

    assert result.readings == []
    assert result.warnings == [EMPTY_WARNING.format(where=URL)]
    body = _connector().parse(Payload(body=b"", url=URL))
    assert body.readings == []
    assert body.warnings == [
        f"{URL} sent an empty body: no information about arrivals (not zero arrivals), so nothing was stored. "
        "If this lasts, check that the relay still receives the KV6 stream."
    ]


HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><p>nginx<br></body></html>"
KV17 = (
    b'<VV_TM_PUSH xmlns="http://bison.connekt.nl/tmi8/kv17/msg"><SubscriberID>x</SubscriberID>'
    b"<DossierName>KV17cvlinfo</DossierName><KV17cvlinfo/></VV_TM_PUSH>"
)
PARSE_ERRORS = [
    (HTML, "{url} sent an HTML page, not a KV6posinfo XML document: check the url.", False),
    (ARENA[: len(ARENA) // 2], "{url} is not complete XML (Premature end of data in tag timestamp line 1, line 1, "
     "column 2684): the download was cut off.", True),
    (gzip.compress(ARENA, mtime=0)[:300], "{url} is a cut-off gzip file (it ends before the end-of-stream marker): "
     "the download stopped early.", True),
    (b'{"error": "unauthorised"}', "{url} is not valid XML (Start tag expected, '<' not found, line 1, column 1): "
     "expected a KV6posinfo document.", False),
    (b"<rss><channel/></rss>", "{url} is not a KV6 document: found <rss> where a VV_TM_PUSH envelope or a "
     "KV6posinfo dossier was expected.", False),
    (KV17, "{url} holds KV17cvlinfo, not a KV6posinfo dossier: the url should serve the KV6 stream.", False),
]  # fmt: skip
PARSE_ERROR_IDS = ["html", "truncated-xml", "truncated-gzip", "json", "other-xml", "kv17"]


@pytest.mark.parametrize(("body", "message", "retryable"), PARSE_ERRORS, ids=PARSE_ERROR_IDS)
def test_unreadable_payload_raises_parse_error(body, message, retryable):
    with pytest.raises(ParseError) as caught:
        _connector().parse(Payload(body=body, url=URL))

    assert caught.value.message == message.format(url=URL)
    assert caught.value.retryable is retryable


def test_credentials_in_the_url_are_not_shown():
    with pytest.raises(ParseError) as caught:
        _connector().parse(Payload(body=HTML, url="https://kv6.example/feed?apikey=s3cret"))

    assert "s3cret" not in caught.value.message
    assert caught.value.message.startswith("https://kv6.example/feed?apikey=***")


@pytest.fixture
def kv6_source(tenant_a, httpserver):
    def make(body: bytes, *, status: int = 200, content_type: str = "application/xml", config=None):
        httpserver.expect_request("/kv6").respond_with_data(body, status=status, content_type=content_type)
        area = make_area(tenant_a, slug="arena", geometry=ARENA_AREA)
        return make_source(
            tenant_a,
            kind="ndov_kv6",
            config={"url": httpserver.url_for("/kv6"), "stops": ARENA_STOPS, **(config or {})},
            areas=[area],
        )

    return make


def test_fetch_stores_readings_once(tenant_a, kv6_source):
    source = kv6_source(gzip.compress(ARENA, mtime=0), content_type="application/gzip")

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert outcome.ok, outcome.error
        assert (outcome.stored, outcome.duplicates, outcome.rejected) == (4, 0, 0)
        assert outcome.warnings == []
        series = {s.key: s for s in Series.objects.filter(source=source).select_related("area")}
        assert {k: (s.metric, s.unit, s.name, s.facility, s.area.slug) for k, s in series.items()} == {
            key: (metric, unit, name, facility, "arena")
            for key, metric, unit, _, _, name, facility, _ in ARENA_READINGS
        }
        assert (
            series["GVB:00559:transit_arrivals"].lon,
            series["GVB:00559:transit_arrivals"].lat,
        ) == ARENA_STOP
        assert series["GVB:00560:transit_delay"].lon is None
        stored = Observation.objects.filter(series__source=source).select_related("series")
        assert sorted((o.series.key, o.time, o.value) for o in stored) == sorted(
            (key, time, value) for key, _, _, time, value, *_ in ARENA_READINGS
        )
        assert Source.objects.get(pk=source.pk).state == {"stop_positions": {"GVB:00559": list(ARENA_STOP)}}

        again = source_fetch(source=source, now=NOW + timedelta(minutes=1))

        assert again.ok, again.error
        assert (again.stored, again.duplicates) == (0, 4)
        assert Observation.objects.filter(series__source=source).count() == 4


def test_fetch_with_one_broken_message_stores_the_rest(tenant_a, kv6_source):
    old, new, warning = BROKEN[0]
    source = kv6_source(_replace(ARENA, old, new))

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert outcome.ok, outcome.error
        assert outcome.stored == 2
        assert outcome.warnings == [warning]
        assert sorted(Series.objects.filter(source=source).values_list("key", flat=True)) == [
            "GVB:00559:transit_arrivals",
            "GVB:00559:transit_delay",
        ]
        assert Source.objects.get(pk=source.pk).last_warnings == [warning]


def test_fetch_of_an_empty_document_stores_nothing_and_warns(tenant_a, kv6_source):
    source = kv6_source(EMPTY)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert outcome.ok, outcome.error
        assert outcome.stored == 0
        assert outcome.warnings == [EMPTY_WARNING.format(where=source.config["url"])]
        assert not Observation.objects.filter(series__source=source).exists()


def test_fetch_of_no_content_is_an_empty_document(tenant_a, kv6_source):
    source = kv6_source(b"", status=204)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert outcome.ok, outcome.error
        assert outcome.stored == 0
        assert outcome.warnings[0].startswith(f"{source.config['url']} sent an empty body: no information")


@pytest.mark.parametrize(
    ("body", "status", "content_type", "error", "retryable"),
    [
        (HTML, 200, "text/html", "{url} sent an HTML page, not a KV6posinfo XML document: check the url.", False),
        (ARENA[:2000], 200, "application/xml", "{url} is not complete XML (expected '>', line 1, column 2001): the "
         "download was cut off.", True),
        (b"Internal error", 500, "text/plain", "{url} answered HTTP 500 INTERNAL SERVER ERROR.", True),
        (b"Not found", 404, "text/plain", "{url} answered HTTP 404 NOT FOUND.", False),
    ],
    ids=["html", "truncated", "http-500", "http-404"],
)  # fmt: skip
def test_bad_input_stores_nothing(tenant_a, kv6_source, body, status, content_type, error, retryable):
    source = kv6_source(body, status=status, content_type=content_type)
    expected = error.format(url=source.config["url"])

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=NOW)

        assert not outcome.ok
        assert outcome.error == expected
        assert outcome.retryable is retryable
        assert outcome.stored == 0
        assert not Series.objects.filter(source=source).exists()
        assert Source.objects.get(pk=source.pk).last_error == expected


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        ({"stops": [{"userstopcode": "1"}]}, ["(root): 'url' is a required property"]),
        ({"url": URL}, ["(root): Give stops to follow, or set select_by_area, or both."]),
        ({"url": URL, "stops": []}, ["(root): Give stops to follow, or set select_by_area, or both."]),
        ({"url": URL, "select_by_area": False}, ["(root): Give stops to follow, or set select_by_area, or both."]),
        ({"url": "ftp://x/kv6", "stops": [{"userstopcode": "00 559"}, {"stop": "1"}], "interval": 5}, [
            "(root): Additional properties are not allowed ('interval' was unexpected)",
            "stops/0/userstopcode: '00 559' does not match '^\\\\S+$'",
            "stops/1: 'userstopcode' is a required property",
            "stops/1: Additional properties are not allowed ('stop' was unexpected)",
            "url: 'ftp://x/kv6' does not match '^https?://\\\\S+$'",
        ]),
        ({"url": URL, "stops": [{"userstopcode": "1", "dataownercode": "GVB"}, {"userstopcode": "1"},
                                {"userstopcode": "1", "dataownercode": "GVB"}]},
         ["stops/2: stop GVB:1 is listed more than once."]),
        ({"url": URL, "select_by_area": True, "lines": [{"dataownercode": "GVB"}]},
         ["lines/0: 'lineplanningnumber' is a required property"]),
    ],
    ids=["no-url", "no-stops", "empty-stops", "area-off", "bad-values", "duplicate-stop", "line-without-number"],
)  # fmt: skip
def test_validate_config_messages(config, messages):
    assert NdovKv6Connector.validate_config(config) == messages


def test_valid_configs():
    assert NdovKv6Connector.validate_config({"url": URL, "select_by_area": True}) == []
    assert (
        NdovKv6Connector.validate_config(
            {"url": URL, "stops": ARENA_STOPS, "lines": [{"lineplanningnumber": "66"}]}
        )
        == []
    )
    schema = NdovKv6Connector.config_schema
    assert schema["additionalProperties"] is False
    assert all(field.get("description") for field in schema["properties"].values())
