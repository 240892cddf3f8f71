"""Public transport near the tenant's areas from GTFS-realtime feeds (e.g. OVapi for the Netherlands).

Two feeds, each optional: TripUpdates (expected arrival and departure times per stop) and VehiclePositions
(where each vehicle is and, when the operator publishes it, how full it is). The stops come from the
config or from a GTFS static ``stops.txt``; the connector keeps the stops inside or within ``radius_m`` of
the areas the source feeds, or every listed stop when the tenant has no areas.

Readings per kept stop, at the feed header's timestamp:
- ``transit_arrivals``: vehicles expected in the next ``window_minutes`` (a stop time update's arrival
  time, or its departure time when it gives no arrival). Cancelled trips, skipped stops and updates
  that give only a delay (no time) are not counted. A stop with no arrivals reads 0.
- ``transit_occupancy``: mean of the occupancy of the vehicles at or near the stop (their ``stop_id`` is
  the stop, or they are within 100 m of it), from ``occupancy_status`` mapped as in OCCUPANCY_PERCENT.
  A stop without such a vehicle gets no reading, not 0.
"""

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import jsonschema
import shapely
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as gtfs_rt
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point, shape

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import AreaInfo, Connector, DataInventory, ParseError, ParseResult, Payload, Reading

Occupancy = gtfs_rt.VehiclePosition.OccupancyStatus
# occupancy_status to a percentage of the vehicle's capacity: the middle of the band the GTFS-realtime
# reference describes. NOT_ACCEPTING_PASSENGERS (full, or out of service), NO_DATA_AVAILABLE and
# NOT_BOARDABLE say nothing about crowding and are left out.
OCCUPANCY_PERCENT = {
    Occupancy.EMPTY: 0.0,
    Occupancy.MANY_SEATS_AVAILABLE: 25.0,
    Occupancy.FEW_SEATS_AVAILABLE: 60.0,
    Occupancy.STANDING_ROOM_ONLY: 85.0,
    Occupancy.CRUSHED_STANDING_ROOM_ONLY: 95.0,
    Occupancy.FULL: 100.0,
}
VEHICLE_NEAR_STOP_M = 100.0
MAX_STOPS = 500  # series per source; a national stops.txt without areas would otherwise make 100,000
NOT_RUNNING = {gtfs_rt.TripDescriptor.CANCELED, gtfs_rt.TripDescriptor.DELETED}
NOT_STOPPING = {gtfs_rt.TripUpdate.StopTimeUpdate.SKIPPED, gtfs_rt.TripUpdate.StopTimeUpdate.NO_DATA}
STOPS_COLUMNS = ("stop_id", "stop_name", "stop_lat", "stop_lon")
GEOD = Geod(ellps="WGS84")
URL = {"type": "string", "pattern": r"^(https?://\S+)?$", "maxLength": 2000, "default": ""}


@dataclass(frozen=True)
class Stop:
    """A public transport stop: GTFS stop_id, name and WGS84 position."""

    stop_id: str
    name: str
    lat: float
    lon: float


@register
class GtfsRealtimeConnector(Connector):
    kind = "gtfs_realtime"
    label = "Public transport (GTFS-realtime)"
    description = (
        "Arrivals and occupancy at public transport stops in or near the areas, from GTFS-realtime feeds "
        "(in the Netherlands: OVapi, https://gtfs.ovapi.nl/nl/tripUpdates.pb and vehiclePositions.pb). "
        "Per stop: the number of vehicles expected in the next window_minutes (from TripUpdates) and the "
        "mean occupancy of the vehicles at the stop (from VehiclePositions; empty 0 %, many seats 25 %, few "
        "seats 60 %, standing room 85 %, crushed standing 95 %, full 100 %)."
    )
    default_poll_interval = 60
    stores = (
        "Per public transport stop in or near the areas, per feed update: the number of vehicles expected "
        "in the configured time window and the average occupancy level (%) of the vehicles at the stop. "
        "No vehicle, trip or passenger data is kept."
    )
    inventory = DataInventory(
        metrics=(Metric.TRANSIT_ARRIVALS, Metric.TRANSIT_OCCUPANCY),
        series="one per public transport stop and quantity",
        aggregation="vehicles expected per stop in the configured window, and their average occupancy level",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "trip_updates_url": {
                **URL,
                "title": "TripUpdates feed URL",
                "description": "GTFS-realtime TripUpdates feed; empty to count no arrivals.",
                "examples": ["https://gtfs.ovapi.nl/nl/tripUpdates.pb"],
            },
            "vehicle_positions_url": {
                **URL,
                "title": "VehiclePositions feed URL",
                "description": "GTFS-realtime VehiclePositions feed; empty to report no occupancy.",
                "examples": ["https://gtfs.ovapi.nl/nl/vehiclePositions.pb"],
            },
            "stops": {
                "type": "array",
                "title": "Stops",
                "description": "Stops to watch, with the stop_id the feeds use; empty when stops_url is set.",
                "default": [],
                "maxItems": 2000,
                "items": {
                    "type": "object",
                    "properties": {
                        "stop_id": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 100,
                            "description": "GTFS stop_id, as in the feeds.",
                        },
                        "name": {
                            "type": "string",
                            "maxLength": 200,
                            "default": "",
                            "description": "Name shown for the stop's series.",
                        },
                        "lat": {
                            "type": "number",
                            "minimum": -90,
                            "maximum": 90,
                            "description": "Latitude, WGS84.",
                        },
                        "lon": {
                            "type": "number",
                            "minimum": -180,
                            "maximum": 180,
                            "description": "Longitude, WGS84.",
                        },
                    },
                    "required": ["stop_id", "lat", "lon"],
                    "additionalProperties": False,
                },
            },
            "stops_url": {
                **URL,
                "title": "stops.txt URL",
                "description": (
                    "A GTFS static stops.txt (CSV with stop_id, stop_name, stop_lat, stop_lon), fetched with "
                    "every poll. Empty when stops are listed."
                ),
            },
            "radius_m": {
                "type": "integer",
                "title": "Radius (m)",
                "description": "Keep the stops inside an area or at most this many metres from it.",
                "default": 300,
                "minimum": 0,
                "maximum": 5000,
            },
            "window_minutes": {
                "type": "integer",
                "title": "Arrival window (minutes)",
                "description": "Count vehicles expected at a stop this many minutes after the feed time.",
                "default": 15,
                "minimum": 1,
                "maximum": 180,
            },
        },
        "allOf": [
            {
                "description": "Give trip_updates_url, vehicle_positions_url or both.",
                "anyOf": [
                    {"required": ["trip_updates_url"], "properties": {"trip_updates_url": {"minLength": 1}}},
                    {
                        "required": ["vehicle_positions_url"],
                        "properties": {"vehicle_positions_url": {"minLength": 1}},
                    },
                ],
            },
            {
                "description": "Give either stops (a list) or stops_url (a GTFS stops.txt), not both.",
                "oneOf": [
                    {"required": ["stops"], "properties": {"stops": {"minItems": 1}}},
                    {"required": ["stops_url"], "properties": {"stops_url": {"minLength": 1}}},
                ],
            },
        ],
        "additionalProperties": False,
    }

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        """Schema messages, with the rule's own sentence where jsonschema would print the whole config."""
        messages = []
        validator = jsonschema.Draft202012Validator(cls.config_schema)
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            rule = error.schema.get("description") if error.validator in ("anyOf", "oneOf") else None
            messages.append(f"{where}: {rule or error.message}")
        if isinstance(config, dict) and isinstance(config.get("stops"), list):
            ids = [s.get("stop_id") for s in config["stops"] if isinstance(s, dict)]
            for stop_id in sorted({i for i in ids if ids.count(i) > 1 and isinstance(i, str)}):
                messages.append(f"stops: stop_id {stop_id} is listed more than once.")
        return messages

    def fetch(self) -> list[Payload]:
        meta: dict = {}
        if stops_url := self.config.get("stops_url"):
            # Both feeds need the stops: read stops.txt once here and hand the stops to each parse.
            stops, warnings = read_stops_txt(self.http.get(stops_url).content, where=stops_url)
            meta = {"stops": stops, "stop_warnings": warnings}
        payloads = []
        for feed in ("trip_updates", "vehicle_positions"):
            if url := self.config.get(f"{feed}_url"):
                response = self.http.get(url, headers={"Accept": "application/x-protobuf, */*"})
                payloads.append(
                    Payload(
                        body=response.content,
                        url=url,
                        content_type=response.headers.get("content-type", ""),
                        status=response.status_code,
                        meta={"feed": feed, **meta},
                    )
                )
                meta.pop("stop_warnings", None)  # reported once, with the first feed
        return payloads

    def parse(self, payload: Payload) -> ParseResult:
        feed = read_feed(payload.body, where=payload.url or "The GTFS-realtime feed")
        time = datetime.fromtimestamp(feed.header.timestamp, tz=UTC)
        warnings = list(payload.meta.get("stop_warnings", []))
        if self.config.get("stops"):
            stops = [Stop(s["stop_id"], s.get("name", ""), s["lat"], s["lon"]) for s in self.config["stops"]]
        elif "stops" in payload.meta:
            stops = payload.meta["stops"]
        else:
            raise ParseError("No stops to watch: give stops or stops_url in the source's config.")
        placed, place_warnings = place_stops(
            stops, self.context.areas, radius_m=self.config.get("radius_m", 300)
        )
        warnings += place_warnings
        readings = []
        has_trips = any(e.HasField("trip_update") for e in feed.entity)
        if payload.meta.get("feed") == "trip_updates" and not has_trips:
            # An empty feed says nothing about arrivals: storing 0 per stop would claim nobody comes.
            warnings.append(
                "The trip-updates feed holds no trip updates at all: no information about arrivals (not "
                "zero arrivals), so none were stored."
            )
        if has_trips:
            window = self.config.get("window_minutes", 15)
            counts, timeless = count_arrivals(feed, placed, start=feed.header.timestamp, minutes=window)
            if timeless:
                warnings.append(
                    f"{timeless} stop time update(s) at the watched stops give only a delay and no time; "
                    "they cannot be counted without the static timetable."
                )
            for stop_id in placed:
                readings.append(
                    _reading(Metric.TRANSIT_ARRIVALS, placed[stop_id], time, float(counts[stop_id]))
                )
        for stop_id, value in mean_occupancy(feed, placed).items():
            readings.append(_reading(Metric.TRANSIT_OCCUPANCY, placed[stop_id], time, value))
        return ParseResult(readings=readings, warnings=warnings)


def _reading(metric: Metric, placed: tuple[Stop, str | None], time: datetime, value: float) -> Reading:
    stop, area = placed
    what = "arrivals" if metric == Metric.TRANSIT_ARRIVALS else "occupancy"
    return Reading(
        key=f"{stop.stop_id}:{metric.value}",
        metric=metric.value,
        time=time,
        value=value,
        unit=DEFAULT_UNITS[metric],
        name=f"{stop.name or stop.stop_id} {what}",
        area=area,
        facility=stop.stop_id,
        location=(stop.lon, stop.lat),
    )


def read_feed(body: bytes, *, where: str) -> gtfs_rt.FeedMessage:
    """Decode a GTFS-realtime FeedMessage; ParseError with a message a tenant admin can act on."""
    head = body[:512].lstrip()
    if head[:1] in (b"<", b"{"):
        # Protobuf cannot start with these bytes; an error page or a JSON feed can.
        what = "an HTML page" if b"html" in head.lower() else ("JSON" if head[:1] == b"{" else "XML")
        raise ParseError(f"{where} sent {what}, not a GTFS-realtime protobuf feed: check the url.")
    feed = gtfs_rt.FeedMessage()
    try:
        feed.ParseFromString(body)
    except DecodeError as exc:
        raise ParseError(
            f"{where} is not a GTFS-realtime FeedMessage ({exc}): the download was cut off or the url serves "
            "something else.",
            retryable=True,  # a cut-off download is the usual cause (a wrong url is caught above)
        ) from exc
    if not feed.IsInitialized():
        missing = ", ".join(feed.FindInitializationErrors())
        raise ParseError(
            f"{where} is not a GTFS-realtime FeedMessage: required field(s) {missing} missing (an empty or "
            "cut-off response?)."
        )
    if not feed.header.timestamp:
        raise ParseError(f"{where}: the feed header has no timestamp, so its readings cannot be timed.")
    if feed.header.incrementality == gtfs_rt.FeedHeader.DIFFERENTIAL:
        raise ParseError(f"{where} is a DIFFERENTIAL feed; only FULL_DATASET feeds can be counted.")
    return feed


def read_stops_txt(body: bytes, *, where: str) -> tuple[list[Stop], list[str]]:
    """The stops of a GTFS stops.txt (stops and platforms; stations and entrances are left out)."""
    if body[:4] == b"PK\x03\x04":
        raise ParseError(f"{where} is a zip file: stops_url must point at the stops.txt file itself.")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{where} is not a UTF-8 text file ({exc}); expected a GTFS stops.txt.") from exc
    if text.lstrip()[:1] == "<":
        raise ParseError(f"{where} sent HTML or XML, not a GTFS stops.txt: check stops_url.")
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    if missing := [c for c in STOPS_COLUMNS if c not in columns]:
        raise ParseError(
            f"{where} is not a GTFS stops.txt: no {', '.join(missing)} column. The first line must name the "
            f"columns, including {', '.join(STOPS_COLUMNS)}."
        )
    reader.fieldnames = columns
    stops, bad = [], []
    try:
        for row in reader:
            if (row.get("location_type") or "").strip() not in ("", "0"):
                continue  # stations, entrances and nodes: trip updates name the platforms (type 0)
            try:
                lat, lon = float(row["stop_lat"]), float(row["stop_lon"])
            except (TypeError, ValueError):
                bad.append(reader.line_num)
                continue
            if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not (row["stop_id"] or "").strip():
                bad.append(reader.line_num)
                continue
            stops.append(Stop(row["stop_id"].strip(), (row["stop_name"] or "").strip(), lat, lon))
    except csv.Error as exc:
        raise ParseError(f"{where} is not valid CSV (line {reader.line_num}: {exc}).") from exc
    if not stops:
        raise ParseError(f"{where} lists no stops with a valid stop_id and position.")
    warnings = []
    if bad:
        warnings.append(
            f"{where}: {len(bad)} stop(s) without a valid stop_id, stop_lat or stop_lon skipped "
            f"(line {bad[0]}{' and more' if len(bad) > 1 else ''})."
        )
    return stops, warnings


def place_stops(
    stops: list[Stop], areas: tuple[AreaInfo, ...], *, radius_m: float
) -> tuple[dict[str, tuple[Stop, str | None]], list[str]]:
    """The stops to watch by stop_id, each with the slug of the nearest area it lies in or near.

    Without areas every stop is kept, with no area. Distances are in metres, measured in an azimuthal
    equidistant projection centred on each area (exact enough at the scale of a neighbourhood).
    """
    first: dict[str, Stop] = {}
    for stop in stops:
        first.setdefault(stop.stop_id, stop)  # keys must be unique: the first of a repeated stop_id wins
    unique = list(first.values())
    if not areas:
        placed = [(s, None, 0.0) for s in sorted(unique, key=lambda s: s.stop_id)]
    else:
        projected = [_project_area(area) for area in areas]
        placed = []
        for stop in unique:
            best = None
            for slug, bbox, transformer, geometry in projected:
                if not _in_box(stop, bbox, radius_m):
                    continue
                x, y = transformer.transform(stop.lon, stop.lat)
                distance = geometry.distance(Point(x, y))
                if distance <= radius_m and (best is None or distance < best[1]):
                    best = (slug, distance)
            if best is not None:
                placed.append((stop, best[0], best[1]))
        placed.sort(key=lambda p: (p[2], p[0].stop_id))  # nearest first, should the cap cut
    warnings = []
    if len(placed) > MAX_STOPS:
        warnings.append(
            f"{len(placed)} stops match; only the {MAX_STOPS} {'nearest' if areas else 'first'} are kept. "
            "Link the source to fewer or smaller areas, or list the stops."
        )
        placed = placed[:MAX_STOPS]
    return {stop.stop_id: (stop, slug) for stop, slug, _ in placed}, warnings


def _project_area(area: AreaInfo):
    lon, lat = area.centroid
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    transformer = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    geometry = shapely.transform(shape(area.geometry), transformer.transform, interleaved=False)
    return area.slug, area.bbox, transformer, geometry


def _margins(lat: float, metres: float) -> tuple[float, float]:
    """Degrees of latitude and longitude that surely cover ``metres`` around ``lat`` (for cheap pre-tests)."""
    lat_margin = metres / 110_000 + 0.0005
    return lat_margin, lat_margin / max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)


def _in_box(stop: Stop, bbox: tuple[float, float, float, float], radius_m: float) -> bool:
    """A cheap test before the exact one: is the stop within the area's bounding box plus the radius?"""
    min_lon, min_lat, max_lon, max_lat = bbox
    lat_margin, lon_margin = _margins(stop.lat, radius_m)
    return min_lat - lat_margin <= stop.lat <= max_lat + lat_margin and (
        min_lon - lon_margin <= stop.lon <= max_lon + lon_margin
    )


def count_arrivals(
    feed: gtfs_rt.FeedMessage, placed: dict, *, start: int, minutes: int
) -> tuple[dict[str, int], int]:
    """Arrivals per watched stop in [start, start + minutes), and how many updates had no time to count."""
    end = start + minutes * 60
    counts = dict.fromkeys(placed, 0)
    timeless = 0
    for entity in feed.entity:
        if entity.is_deleted or not entity.HasField("trip_update"):
            continue
        update = entity.trip_update
        if update.trip.schedule_relationship in NOT_RUNNING:
            continue
        for stop_time in update.stop_time_update:
            if stop_time.stop_id not in counts or stop_time.schedule_relationship in NOT_STOPPING:
                continue
            if stop_time.HasField("arrival") and stop_time.arrival.HasField("time"):
                when = stop_time.arrival.time
            elif stop_time.HasField("departure") and stop_time.departure.HasField("time"):
                when = stop_time.departure.time
            else:
                timeless += 1
                continue
            if start <= when < end:
                counts[stop_time.stop_id] += 1
    return counts, timeless


def mean_occupancy(feed: gtfs_rt.FeedMessage, placed: dict) -> dict[str, float]:
    """Mean occupancy (%) per watched stop of the vehicles at it or within VEHICLE_NEAR_STOP_M of it."""
    levels: dict[str, list[float]] = defaultdict(list)
    for entity in feed.entity:
        if entity.is_deleted or not entity.HasField("vehicle"):
            continue
        vehicle = entity.vehicle
        # proto2 defaults an unset occupancy_status to EMPTY: only a status that was sent counts.
        if not vehicle.HasField("occupancy_status") or vehicle.occupancy_status not in OCCUPANCY_PERCENT:
            continue
        if vehicle.stop_id in placed:
            stop_id = vehicle.stop_id
        elif vehicle.HasField("position"):
            stop_id = _nearest_stop(vehicle.position.latitude, vehicle.position.longitude, placed)
        else:
            stop_id = None
        if stop_id is not None:
            levels[stop_id].append(OCCUPANCY_PERCENT[vehicle.occupancy_status])
    return {stop_id: round(sum(v) / len(v), 1) for stop_id, v in sorted(levels.items())}


def _nearest_stop(lat: float, lon: float, placed: dict) -> str | None:
    lat_margin, lon_margin = _margins(lat, VEHICLE_NEAR_STOP_M)
    near = [
        (stop_id, stop) for stop_id, (stop, _) in placed.items()
        if abs(stop.lat - lat) <= lat_margin and abs(stop.lon - lon) <= lon_margin
    ]  # fmt: skip
    if not near:
        return None
    count = len(near)
    _, _, distances = GEOD.inv(
        [lon] * count, [lat] * count, [s.lon for _, s in near], [s.lat for _, s in near]
    )
    distance, stop_id = min(zip(distances, (i for i, _ in near), strict=True))
    return stop_id if distance <= VEHICLE_NEAR_STOP_M else None
