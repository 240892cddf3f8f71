"""Amsterdam parking (ParkingLocation.json) connector: the exact readings of the city's recorded feed,
garages in error or with garbled counts skipped with a warning, and clear errors for unreadable feeds."""

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from sources.connectors import get_connector
from sources.connectors.amsterdam_parking import FEED_URL, AmsterdamParkingConnector
from sources.connectors.base import ConnectorContext, ParseError, Payload, Reading
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_source

FIXTURE = Path(__file__).parent.parent / "fixtures" / "amsterdam_parking" / "parkinglocation_2018-12-18.json"
PUBLISHED = datetime(2018, 12, 18, 10, 12, 41, 925000, tzinfo=UTC)
PTA, OOSTPOORT, OLYMPISCH = "CE-P28 PTA Touringcars", "CE-P20 Oostpoort", "CE-P02 P Olympisch stadion"
FEED_PATH = "/data/amsterdam/ParkingLocation.json"


def garage(name, location, short, long=None, time=PUBLISHED):
    """The readings of one garage: (vacant, capacity) for short-term and, when given, long-term spaces."""
    parts = [("short", "short-term", short)] + ([("long", "long-term", long)] if long else [])
    return [
        Reading(key=f"{name}:{part}:{suffix}", metric=metric, time=time, value=float(value), unit="spaces",
                name=f"{name} {label}", facility=name, location=location)
        for part, what, (vacant, capacity) in parts
        for suffix, metric, value, label in (
            ("vacant", "parking_vacant", vacant, f"vacant {what} spaces"),
            ("capacity", "parking_capacity", capacity, f"{what} capacity"),
        )
    ]  # fmt: skip


PTA_READINGS = garage(PTA, (4.915205, 52.377864), (345, 500), (446, 500))
OOSTPOORT_READINGS = garage(OOSTPOORT, (4.92911, 52.35694), (159, 373))  # LongCapacity "0": no long series
OLYMPISCH_READINGS = garage(OLYMPISCH, (4.8536, 52.343), (223, 327), (69, 190))
ALL_READINGS = PTA_READINGS + OOSTPOORT_READINGS + OLYMPISCH_READINGS


def make_connector(config=None) -> AmsterdamParkingConnector:
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    return AmsterdamParkingConnector(config=config or {}, context=context)


def feed(**changes) -> dict:
    """The recorded feed; ``changes`` maps a garage name to property changes (None removes the key)."""
    document = json.loads(FIXTURE.read_bytes())
    for feature in document["features"]:
        for field, value in changes.get(feature["properties"]["Name"], {}).items():
            if value is None:
                feature["properties"].pop(field, None)
            else:
                feature["properties"][field] = value
    return document


def payload(body: bytes, content_type="application/json") -> Payload:
    return Payload(body=body, url=FEED_URL, content_type=content_type)


def parse(document) -> tuple[list[Reading], list[str]]:
    result = make_connector().parse(payload(json.dumps(document).encode()))
    return result.readings, result.warnings


# --- parse ------------------------------------------------------------------------------------------


def test_parse_recorded_feed_gives_short_and_long_term_series_at_the_garage():
    result = make_connector().parse(payload(FIXTURE.read_bytes()))

    assert result.warnings == []
    assert result.readings == ALL_READINGS
    assert result.state is None


def test_garage_filter_keeps_only_the_named_garages_and_names_the_missing_ones():
    connector = make_connector({"garages": ["ce-p20 oostpoort", "CE-P99 Nergens"]})

    result = connector.parse(payload(FIXTURE.read_bytes()))

    assert result.readings == OOSTPOORT_READINGS
    assert result.warnings == [
        "Not in the Amsterdam parking feed: 'CE-P99 Nergens'; check the names in 'garages' against the "
        "feed's 'Name'."
    ]


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"State": "error"}, "the feed reports State 'error'"),
        ({"FreeSpaceShort": "veel"}, "'FreeSpaceShort' is not a count of spaces ('veel')"),
        ({"ShortCapacity": "-5"}, "'ShortCapacity' is not a count of spaces ('-5')"),
        ({"LongCapacity": "19O"}, "'LongCapacity' is not a count of spaces ('19O')"),
        ({"FreeSpaceShort": None}, "no 'FreeSpaceShort'"),
        ({"PubDate": "18-12-2018 10:12"}, "'PubDate' is not an ISO 8601 time ('18-12-2018 10:12')"),
        ({"PubDate": None}, "no 'PubDate'"),
        ({"ShortCapacity": "0", "LongCapacity": "0"}, "no spaces (ShortCapacity and LongCapacity are 0)"),
    ],
    ids=["state-error", "free-text", "negative", "letter-o", "no-free", "bad-date", "no-date", "no-spaces"],
)  # fmt: skip
def test_one_broken_garage_is_skipped_with_a_warning_and_the_others_kept(changes, warning):
    readings, warnings = parse(feed(**{OLYMPISCH: changes}))

    assert readings == PTA_READINGS + OOSTPOORT_READINGS
    assert warnings == [f"Parking garage {OLYMPISCH}: {warning}; skipped."]


def test_garage_without_long_term_fields_has_short_term_series_only():
    readings, warnings = parse(feed(**{PTA: {"FreeSpaceLong": None, "LongCapacity": None}}))

    assert readings == PTA_READINGS[:2] + OOSTPOORT_READINGS + OLYMPISCH_READINGS
    assert warnings == []


def test_pubdate_without_zone_is_read_as_amsterdam_time_with_one_warning():
    naive = {"PubDate": "2018-12-18T11:12:41.925"}

    readings, warnings = parse(feed(**{PTA: naive, OOSTPOORT: naive, OLYMPISCH: naive}))

    local = datetime(2018, 12, 18, 11, 12, 41, 925000, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert [r.time for r in readings] == [local] * len(ALL_READINGS)
    assert all(r.time == PUBLISHED for r in readings)  # 11:12 CET is 10:12 UTC
    assert warnings == [
        "The Amsterdam parking feed gives 'PubDate' without a time zone; read as Europe/Amsterdam."
    ]


def test_feature_without_usable_geometry_is_stored_without_location():
    document = feed()
    document["features"][0]["geometry"] = {"type": "Point", "coordinates": ["x", 52.3]}
    del document["features"][1]["geometry"]

    readings, warnings = parse(document)

    assert [r.location for r in readings[:6]] == [None] * 6
    assert readings[6:] == OLYMPISCH_READINGS
    assert warnings == []


def test_feature_without_name_or_listed_twice_is_skipped():
    document = feed()
    del document["features"][0]["properties"]["Name"]
    document["features"].append(document["features"][1])

    readings, warnings = parse(document)

    assert readings == OOSTPOORT_READINGS + OLYMPISCH_READINGS
    assert warnings == [
        "Feature 1 of the feed has no 'Name'; skipped.",
        f"Parking garage {OOSTPOORT}: listed twice in the feed; the second skipped.",
    ]


def test_empty_feed_gives_no_readings_and_a_warning():
    readings, warnings = parse({"type": "FeatureCollection", "features": []})

    assert readings == []
    assert warnings == [f"The Amsterdam parking feed at {FEED_URL} lists no garages; nothing stored."]


HINT = f"; check the source's 'url' (the city publishes the feed at {FEED_URL})."


@pytest.mark.parametrize(
    ("body", "message", "retryable"),
    [
        (b"<!DOCTYPE html><html><body>Storing</body></html>",
         "sent HTML or XML instead of JSON (content type 'application/json', starting "
         "'<!DOCTYPE html><html><body>Storing</body></html>')" + HINT, False),
        (FIXTURE.read_bytes()[:300],
         "sent broken JSON (Unterminated string starting at: line 16, column 9; cut off or damaged)" + HINT, True),
        (b"", "sent an empty body" + HINT, True),
        (b'{"type": "Feature"}',
         "is JSON but not a GeoJSON FeatureCollection (no 'features' list)" + HINT, False),
        (json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"Name": "FJ462B13", "Type": "guidancesign", "State": "ok",
                                               "ParkingguidanceDisplay": []}}]}).encode(),
         "is the parking guidance-sign feed (GuidanceSign.json), which has no counts; use "
         f"ParkingLocation.json ({FEED_URL}).", False),
    ],
    ids=["html", "truncated", "empty", "not-a-collection", "guidance-signs"],
)  # fmt: skip
def test_unreadable_feed_is_a_parse_error(body, message, retryable):
    with pytest.raises(ParseError) as caught:
        make_connector().parse(payload(body))

    assert caught.value.message == f"The Amsterdam parking feed at {FEED_URL} {message}"
    assert caught.value.retryable is retryable


# --- configuration ----------------------------------------------------------------------------------


def test_registered_with_a_form_ready_schema():
    assert get_connector("amsterdam_parking") is AmsterdamParkingConnector
    schema = AmsterdamParkingConnector.config_schema
    assert all("default" in field and field["description"] for field in schema["properties"].values())
    assert schema["properties"]["url"]["default"] == "http://opd.it-t.nl/data/amsterdam/ParkingLocation.json"
    assert AmsterdamParkingConnector.validate_config({}) == []
    assert AmsterdamParkingConnector.validate_config({"garages": [OOSTPOORT]}) == []


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        ({"url": "ftp://x"}, ["url: 'ftp://x' does not match '^https?://'"]),
        ({"garages": [OOSTPOORT, OOSTPOORT]},
         [f"garages: ['{OOSTPOORT}', '{OOSTPOORT}'] has non-unique elements"]),
        ({"garages": [""], "city": "Amsterdam"},
         ["(root): Additional properties are not allowed ('city' was unexpected)",
          "garages/0: '' should be non-empty"]),
    ],
    ids=["url", "duplicate", "several"],
)  # fmt: skip
def test_validate_config_reports_every_problem(config, messages):
    assert AmsterdamParkingConnector.validate_config(config) == messages


def test_source_with_bad_config_is_refused(tenant_a):
    with pytest.raises(ValidationError) as caught:
        make_source(tenant_a, kind="amsterdam_parking", config={"url": "ftp://x"})

    assert caught.value.message_dict["config"] == ["url: 'ftp://x' does not match '^https?://'"]


# --- end to end -------------------------------------------------------------------------------------


def serve(httpserver, body: bytes, status=200, content_type="application/json") -> dict:
    """Serve ``body`` as the feed; returns the source config pointing at it."""
    httpserver.expect_request(FEED_PATH).respond_with_data(body, status=status, content_type=content_type)
    return {"url": httpserver.url_for(FEED_PATH)}


def test_fetch_stores_the_recorded_feed_once(tenant_a, httpserver):
    source = make_source(tenant_a, kind="amsterdam_parking", config=serve(httpserver, FIXTURE.read_bytes()))

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored, outcome.duplicates, outcome.rejected) == (True, 10, 0, 0)
        assert outcome.warnings == []
        series = {s.key: (s.metric, s.name, s.facility) for s in Series.objects.filter(source=source)}
        assert series == {r.key: (r.metric, r.name, r.facility) for r in ALL_READINGS}
        located = {s.key: tuple(s.location) for s in Series.objects.filter(source=source)}
        assert located == {r.key: r.location for r in ALL_READINGS}
        stored = {(o.series.key, o.time, o.value) for o in Observation.objects.select_related("series")}
        assert stored == {(r.key, r.time, r.value) for r in ALL_READINGS}

        again = source_fetch(source=source)

        assert (again.ok, again.stored, again.duplicates) == (True, 0, 10)
        assert Observation.objects.count() == 10


def test_fetch_stores_the_valid_garages_when_one_is_in_error(tenant_a, httpserver):
    body = json.dumps(feed(**{PTA: {"State": "error"}})).encode()
    source = make_source(tenant_a, kind="amsterdam_parking", config=serve(httpserver, body))

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert (outcome.ok, outcome.stored) == (True, 6)
        assert outcome.warnings == [f"Parking garage {PTA}: the feed reports State 'error'; skipped."]
        assert {s.facility for s in Series.objects.all()} == {OOSTPOORT, OLYMPISCH}


@pytest.mark.parametrize(
    ("body", "status", "content_type", "message", "retryable"),
    [
        ("<html><body>Onderhoud</body></html>", 200, "text/html",
         "The Amsterdam parking feed at {url} sent HTML or XML instead of JSON (content type 'text/html', "
         "starting '<html><body>Onderhoud</body></html>')" + HINT, False),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "Id": "1", "geom', 200,
         "application/json",
         "The Amsterdam parking feed at {url} sent broken JSON (Unterminated string starting at: line 1, "
         "column 75; cut off or damaged)" + HINT, True),
        ("Internal Server Error", 500, "text/plain",
         "Amsterdam parking feed: {url} answered HTTP 500 INTERNAL SERVER ERROR. If this persists, check "
         "the source's 'url'.", True),
        ("Not Found", 404, "text/plain",
         "Amsterdam parking feed: {url} answered HTTP 404 NOT FOUND. If this persists, check the source's "
         "'url'.", False),
    ],
    ids=["html", "truncated", "http-500", "http-404"],
)  # fmt: skip
def test_unreadable_feed_fails_the_fetch_and_stores_nothing(
    tenant_a, httpserver, body, status, content_type, message, retryable
):
    config = serve(httpserver, body, status=status, content_type=content_type)
    source = make_source(tenant_a, kind="amsterdam_parking", config=config)
    expected = message.format(url=config["url"])

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source)

        assert not outcome.ok
        assert outcome.error == expected
        assert outcome.retryable is retryable
        assert (Series.objects.count(), Observation.objects.count()) == (0, 0)
        assert Source.objects.get(pk=source.pk).last_error == expected
