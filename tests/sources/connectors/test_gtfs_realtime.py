"""gtfs_realtime: recorded FeedMessages (built by fixtures/gtfs_realtime/build_fixture.py), parsed directly
and fetched end to end from a local server."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.transit import gtfs_realtime_pb2 as gtfs_rt

from areas.geometry import measure
from sources.connectors import get_connector
from sources.connectors.base import AreaInfo, ConnectorContext, ParseError, Payload
from sources.connectors.gtfs_realtime import GtfsRealtimeConnector, Stop, read_stops_txt
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source, square

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gtfs_realtime"
TRIP_UPDATES = (FIXTURES / "trip_updates.pb").read_bytes()
VEHICLE_POSITIONS = (FIXTURES / "vehicle_positions.pb").read_bytes()
STOPS_TXT = (FIXTURES / "stops.txt").read_bytes()

KURHAUS_AREA = square()  # around the Kurhaus, Scheveningen
ZWARTE_PAD_AREA = square(4.2785, 52.1155, 0.001)
STOPS = [
    {"stop_id": "2431001", "name": "Den Haag, Kurhaus", "lat": 52.1121, "lon": 4.2732},  # in the kurhaus area
    {
        "stop_id": "2431002",
        "name": "Den Haag, Gevers Deynootplein",
        "lat": 52.1105,
        "lon": 4.2760,
    },  # 206 m off
    {"stop_id": "2431003", "name": "Den Haag, Zwarte Pad", "lat": 52.1160, "lon": 4.2790},  # in zwarte-pad
    {"stop_id": "2431005", "name": "Den Haag, Duinstraat", "lat": 52.1000, "lon": 4.2900},  # over 1 km away
]
FEED_TIME = datetime(2025, 8, 16, 13, 0, tzinfo=UTC)
POSITIONS_TIME = datetime(2025, 8, 16, 13, 0, 5, tzinfo=UTC)
DELAY_ONLY = (
    "1 stop time update(s) at the watched stops give only a delay and no time; they cannot be counted without "
    "the static timetable."
)
# (key, metric, unit, time, value, area): see build_fixture.py for why each count is what it is.
ARRIVALS = [
    ("2431001:transit_arrivals", "transit_arrivals", "vehicles", FEED_TIME, 2.0, "kurhaus"),
    ("2431003:transit_arrivals", "transit_arrivals", "vehicles", FEED_TIME, 1.0, "zwarte-pad"),
    ("2431002:transit_arrivals", "transit_arrivals", "vehicles", FEED_TIME, 2.0, "kurhaus"),
]
OCCUPANCY = [
    ("2431001:transit_occupancy", "transit_occupancy", "%", POSITIONS_TIME, 55.0, "kurhaus"),
    ("2431002:transit_occupancy", "transit_occupancy", "%", POSITIONS_TIME, 100.0, "kurhaus"),
]


def _area(slug: str, geometry: dict) -> AreaInfo:
    measured = measure(geometry)
    return AreaInfo(
        slug=slug, name=slug, centroid=measured.centroid, bbox=measured.bbox, geometry=measured.geojson
    )


def _connector(*, areas=(), **config) -> GtfsRealtimeConnector:
    config = {"trip_updates_url": "https://gtfs.example/tu.pb", "stops": STOPS, **config}
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam", areas=tuple(areas))
    return GtfsRealtimeConnector(config=config, context=context)


def _rows(readings):
    return [(r.key, r.metric, r.unit, r.time, r.value, r.area) for r in readings]


AREAS = (_area("kurhaus", KURHAUS_AREA), _area("zwarte-pad", ZWARTE_PAD_AREA))


def test_registered():
    assert get_connector("gtfs_realtime") is GtfsRealtimeConnector


def test_parse_trip_updates():
    result = _connector(areas=AREAS).parse(Payload(body=TRIP_UPDATES, meta={"feed": "trip_updates"}))

    assert _rows(result.readings) == ARRIVALS
    assert all(r.time.tzinfo is not None for r in result.readings)
    assert [(r.name, r.facility) for r in result.readings] == [
        ("Den Haag, Kurhaus arrivals", "2431001"),
        ("Den Haag, Zwarte Pad arrivals", "2431003"),
        ("Den Haag, Gevers Deynootplein arrivals", "2431002"),
    ]
    # Each stop's series is placed at the stop: (lon, lat) from the config.
    assert [r.location for r in result.readings] == [(4.2732, 52.1121), (4.2790, 52.1160), (4.2760, 52.1105)]
    assert result.warnings == [DELAY_ONLY]


def test_parse_vehicle_positions():
    result = _connector(areas=AREAS).parse(
        Payload(body=VEHICLE_POSITIONS, meta={"feed": "vehicle_positions"})
    )

    # Zwarte Pad's vehicle sends no occupancy: no reading rather than 0 %.
    assert _rows(result.readings) == OCCUPANCY
    assert [r.location for r in result.readings] == [(4.2732, 52.1121), (4.2760, 52.1105)]
    assert result.warnings == []


def test_window_and_radius_come_from_config():
    connector = _connector(areas=AREAS, window_minutes=17, radius_m=100)

    result = connector.parse(Payload(body=TRIP_UPDATES, meta={"feed": "trip_updates"}))

    # Gevers Deynootplein (206 m away) is dropped; Zwarte Pad also counts its trams at 15 and 16 min
    # (the window is [feed time, feed time + window), so 16 minutes would still leave out the one at 16).
    assert [(r.key, r.value) for r in result.readings] == [
        ("2431001:transit_arrivals", 2.0),
        ("2431003:transit_arrivals", 3.0),
    ]


def test_without_areas_every_listed_stop_is_kept():
    connector = _connector()

    arrivals = connector.parse(Payload(body=TRIP_UPDATES, meta={"feed": "trip_updates"}))
    occupancy = connector.parse(Payload(body=VEHICLE_POSITIONS, meta={"feed": "vehicle_positions"}))

    assert [(r.key, r.value, r.area) for r in arrivals.readings] == [
        ("2431001:transit_arrivals", 2.0, None),
        ("2431002:transit_arrivals", 2.0, None),
        ("2431003:transit_arrivals", 1.0, None),
        ("2431005:transit_arrivals", 1.0, None),
    ]
    assert [(r.key, r.value, r.area) for r in occupancy.readings] == [
        ("2431001:transit_occupancy", 55.0, None),
        ("2431002:transit_occupancy", 100.0, None),
        ("2431005:transit_occupancy", 60.0, None),
    ]


def _feed(*, timestamp: int | None = 1755349200, incrementality=gtfs_rt.FeedHeader.FULL_DATASET) -> bytes:
    feed = gtfs_rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = incrementality
    if timestamp is not None:
        feed.header.timestamp = timestamp
    return feed.SerializeToString()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            _feed(incrementality=gtfs_rt.FeedHeader.DIFFERENTIAL),
            "https://gtfs.example/tu.pb is a DIFFERENTIAL feed; only FULL_DATASET feeds can be counted.",
        ),
        (
            _feed(timestamp=None),
            "https://gtfs.example/tu.pb: the feed header has no timestamp, so its readings cannot be timed.",
        ),
        (
            b'{"header": {"timestamp": 1755349200}}',
            "https://gtfs.example/tu.pb sent JSON, not a GTFS-realtime protobuf feed: check the url.",
        ),
    ],
    ids=["differential", "no-timestamp", "json"],
)
def test_parse_rejects_feeds_it_cannot_count(body, message):
    with pytest.raises(ParseError) as caught:
        _connector().parse(
            Payload(body=body, url="https://gtfs.example/tu.pb", meta={"feed": "trip_updates"})
        )

    assert caught.value.message == message


def test_empty_trip_updates_feed_is_no_information_not_zero_arrivals():
    """An empty feed (a provider's hiccup at night, a restart) once gave a zero per stop: 78 false zeros."""
    result = _connector(areas=AREAS).parse(Payload(body=_feed(), meta={"feed": "trip_updates"}))

    assert result.readings == []
    assert result.warnings == [
        "The trip-updates feed holds no trip updates at all: no information about arrivals (not zero "
        "arrivals), so none were stored."
    ]


def test_read_stops_txt():
    stops, warnings = read_stops_txt(STOPS_TXT, where="https://gtfs.example/stops.txt")

    # The station (location_type 1) is left out; the stop without a latitude is skipped with a warning.
    assert stops == [Stop(s["stop_id"], s["name"], s["lat"], s["lon"]) for s in STOPS]
    assert warnings == [
        "https://gtfs.example/stops.txt: 1 stop(s) without a valid stop_id, stop_lat or stop_lon skipped (line 7)."
    ]


def test_read_stops_txt_without_coordinates():
    with pytest.raises(ParseError) as caught:
        read_stops_txt(b"stop_id,stop_name\n2431001,Kurhaus\n", where="stops.txt")

    assert caught.value.message == (
        "stops.txt is not a GTFS stops.txt: no stop_lat, stop_lon column. The first line must name the columns, "
        "including stop_id, stop_name, stop_lat, stop_lon."
    )


@pytest.fixture
def feeds(httpserver):
    """Serve the recorded feeds and stops.txt; returns the config that points at them."""
    httpserver.expect_request("/tripUpdates.pb").respond_with_data(
        TRIP_UPDATES, content_type="application/x-protobuf"
    )
    httpserver.expect_request("/vehiclePositions.pb").respond_with_data(
        VEHICLE_POSITIONS, content_type="application/x-protobuf"
    )
    httpserver.expect_request("/stops.txt").respond_with_data(STOPS_TXT, content_type="text/csv")
    return {
        "trip_updates_url": httpserver.url_for("/tripUpdates.pb"),
        "vehicle_positions_url": httpserver.url_for("/vehiclePositions.pb"),
        "stops_url": httpserver.url_for("/stops.txt"),
    }


def test_fetch_stores_readings_once(tenant_a, feeds):
    kurhaus = make_area(tenant_a, slug="kurhaus", geometry=KURHAUS_AREA)
    zwarte_pad = make_area(tenant_a, slug="zwarte-pad", geometry=ZWARTE_PAD_AREA)
    areas = [kurhaus, zwarte_pad]
    source = make_source(tenant_a, kind="gtfs_realtime", config=feeds, areas=areas)
    expected = ARRIVALS + OCCUPANCY

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert outcome.ok, outcome.error
        assert (outcome.stored, outcome.duplicates, outcome.rejected) == (len(expected), 0, 0)
        assert outcome.warnings == [
            f"{feeds['stops_url']}: 1 stop(s) without a valid stop_id, stop_lat or stop_lon skipped (line 7).",
            DELAY_ONLY,
        ]
        series = Series.objects.filter(source=source).select_related("area")
        assert sorted((s.key, s.metric, s.unit, s.area.slug, s.facility) for s in series) == sorted(
            (key, metric, unit, area, key.split(":")[0]) for key, metric, unit, _, _, area in expected
        )
        stops_txt = {"2431001": (4.2732, 52.1121), "2431002": (4.276, 52.1105), "2431003": (4.279, 52.116)}
        assert {s.key: s.location for s in series} == {
            key: stops_txt[key.split(":")[0]] for key, *_ in expected
        }  # from stops.txt's stop_lon and stop_lat
        stored = Observation.objects.filter(series__source=source).select_related("series")
        assert sorted((o.series.key, o.time, o.value) for o in stored) == sorted(
            (key, time, value) for key, _, _, time, value, _ in expected
        )

        again = source_fetch(source=source)

        assert again.ok, again.error
        assert (again.stored, again.duplicates) == (0, len(expected))
        assert Observation.objects.filter(series__source=source).count() == len(expected)


def test_fetch_with_one_feed(tenant_a, feeds):
    config = {"vehicle_positions_url": feeds["vehicle_positions_url"], "stops": STOPS}
    source = make_source(tenant_a, kind="gtfs_realtime", config=config)  # the tenant has no areas

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert outcome.ok, outcome.error
        assert outcome.stored == 3
        assert set(Series.objects.filter(source=source).values_list("metric", flat=True)) == {
            "transit_occupancy"
        }


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (
            "/vehiclePositions.pb",
            b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
            200,
            "{url} sent an HTML page, not a GTFS-realtime protobuf feed: check the url.",
        ),
        (
            "/tripUpdates.pb",
            b"",
            200,
            "{url} is not a GTFS-realtime FeedMessage: required field(s) header missing (an empty or cut-off "
            "response?).",
        ),
        (
            "/vehiclePositions.pb",
            b"Service Unavailable",
            500,
            "{url} answered HTTP 500 INTERNAL SERVER ERROR.",
        ),
        (
            "/stops.txt",
            b"<html><body>Not found</body></html>",
            200,
            "{url} sent HTML or XML, not a GTFS stops.txt: check stops_url.",
        ),
    ],
    ids=["html", "empty", "http-500", "stops-html"],
)
def test_bad_input_stores_nothing(tenant_a, feeds, httpserver, path, body, status, error):
    served = {
        "/tripUpdates.pb": TRIP_UPDATES,
        "/vehiclePositions.pb": VEHICLE_POSITIONS,
        "/stops.txt": STOPS_TXT,
    }
    httpserver.clear_all_handlers()
    for route, data in served.items():
        if route == path:  # the one bad response; the others are fine
            httpserver.expect_request(route).respond_with_data(body, status=status)
        else:
            httpserver.expect_request(route).respond_with_data(data)
    source = make_source(tenant_a, kind="gtfs_realtime", config=feeds)
    expected = error.format(url=httpserver.url_for(path))

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert outcome.error == expected
        assert not Series.objects.filter(source=source).exists()  # not even the readings of the good feed
        assert not Observation.objects.filter(series__source=source).exists()
        assert Source.objects.get(pk=source.pk).last_error == expected


def test_truncated_protobuf_stores_nothing(tenant_a, httpserver):
    httpserver.expect_request("/tripUpdates.pb").respond_with_data(TRIP_UPDATES[: len(TRIP_UPDATES) // 2])
    url = httpserver.url_for("/tripUpdates.pb")
    source = make_source(tenant_a, kind="gtfs_realtime", config={"trip_updates_url": url, "stops": STOPS})

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        # The decoder's own words sit between the brackets; they differ between protobuf implementations.
        assert outcome.error.startswith(f"{url} is not a GTFS-realtime FeedMessage (Error parsing message")
        assert outcome.error.endswith("): the download was cut off or the url serves something else.")
        assert not Observation.objects.filter(series__source=source).exists()


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        (
            {},
            [
                "(root): Give trip_updates_url, vehicle_positions_url or both.",
                "(root): Give either stops (a list) or stops_url (a GTFS stops.txt), not both.",
            ],
        ),
        (
            {"trip_updates_url": "", "vehicle_positions_url": "", "stops_url": "https://gtfs.example/stops.txt"},
            ["(root): Give trip_updates_url, vehicle_positions_url or both."],
        ),
        (
            {"trip_updates_url": "https://gtfs.example/tu.pb", "stops_url": "https://gtfs.example/stops.txt",
             "stops": STOPS[:1]},
            ["(root): Give either stops (a list) or stops_url (a GTFS stops.txt), not both."],
        ),
        (
            {"trip_updates_url": "https://gtfs.example/tu.pb", "radius_m": -5, "window_minutes": 0, "colour": "red",
             "stops": [{"stop_id": "1", "lat": 95, "lon": 4.27}, {"stop_id": "1", "lat": 52.1, "lon": 4.27, "x": 1}]},
            [
                "(root): Additional properties are not allowed ('colour' was unexpected)",
                "radius_m: -5 is less than the minimum of 0",
                "stops/0/lat: 95 is greater than the maximum of 90",
                "stops/1: Additional properties are not allowed ('x' was unexpected)",
                "window_minutes: 0 is less than the minimum of 1",
                "stops: stop_id 1 is listed more than once.",
            ],
        ),
    ],
    ids=["empty", "no-feed", "both-stop-sources", "fields"],
)  # fmt: skip
def test_validate_config_messages(config, messages):
    assert GtfsRealtimeConnector.validate_config(config) == messages


def test_validate_config_accepts_and_documents():
    assert (
        GtfsRealtimeConnector.validate_config(
            {"trip_updates_url": "https://gtfs.example/tu.pb", "stops": STOPS}
        )
        == []
    )
    schema = GtfsRealtimeConnector.config_schema
    assert schema["additionalProperties"] is False
    assert {name: field.get("default") for name, field in schema["properties"].items()} == {
        "trip_updates_url": "",
        "vehicle_positions_url": "",
        "stops": [],
        "stops_url": "",
        "radius_m": 300,
        "window_minutes": 15,
    }
    assert all(field.get("description") for field in schema["properties"].values())
