"""Gemeente Amsterdam parking garages, from the city's own feed ``ParkingLocation.json`` (not SPDP).

The feed (published at ``http://opd.it-t.nl/data/amsterdam/ParkingLocation.json``) is a GeoJSON
FeatureCollection with one Point feature per garage or P+R site. Its ``properties`` hold ``Name``,
``PubDate`` (ISO 8601, in the recorded feed UTC with ``Z``), ``Type`` (``parkinglocation``), ``State``
(``ok`` or ``error``) and the counts as *strings*: ``FreeSpaceShort`` / ``ShortCapacity`` for the
short-term (visitor) spaces and ``FreeSpaceLong`` / ``LongCapacity`` for the long-term (season ticket,
P+R) spaces.

Series are keyed by the garage's ``Name``: the feature ``Id`` is a running number of the document (the
guidance-sign feed numbers signs and their displays 1, 2, 3, ... in one sequence), so it is not a stable
identifier. The short-term spaces are ``<name>:short:vacant`` / ``<name>:short:capacity``; the long-term
spaces are separate series ``<name>:long:vacant`` / ``<name>:long:capacity``, stored only when the garage
has long-term spaces (``LongCapacity`` present and above zero). A part with capacity 0 is not stored: it
has no spaces, so "0 vacant" would read as "full".

A garage whose ``State`` is not ``ok`` or whose numbers cannot be read is skipped with a warning; the
other garages are still stored. A ``PubDate`` without a time zone is read as Europe/Amsterdam, with one
warning per fetch.
"""

import json
import math
from datetime import datetime
from zoneinfo import ZoneInfo

from core import jsonlimits
from core.instants import parse_instant

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import (
    Connector,
    DataInventory,
    FetchError,
    ParseError,
    ParseResult,
    Payload,
    Reading,
    json_cut_off,
)

FEED_URL = "http://opd.it-t.nl/data/amsterdam/ParkingLocation.json"
FEED_ZONE = "Europe/Amsterdam"  # the city's zone, for a PubDate that carries none
ACCEPT_JSON = {"Accept": "application/json, application/geo+json"}

# (part, free-space field, capacity field, label)
PARTS = (
    ("short", "FreeSpaceShort", "ShortCapacity", "short-term"),
    ("long", "FreeSpaceLong", "LongCapacity", "long-term"),
)


@register
class AmsterdamParkingConnector(Connector):
    """Vacant spaces and capacity of Amsterdam's parking garages from the city's ParkingLocation.json."""

    kind = "amsterdam_parking"
    label = "Parking occupancy (Gemeente Amsterdam ParkingLocation.json)"
    description = (
        "Live vacant spaces and capacity of Amsterdam's parking garages and P+R sites from the city's "
        "parking feed ParkingLocation.json (GeoJSON, opd.it-t.nl). Short-term (visitor) spaces and, where a "
        "garage has them, long-term spaces as separate series, at the garage's position. A garage the feed "
        "marks as in error is skipped with a warning."
    )
    default_poll_interval = 300
    stores = (
        "Per parking garage: the number of vacant spaces and the capacity, for short-term and long-term "
        "spaces separately, with the time the feed published them, and the garage's name and position. "
        "No vehicles, licence plates or people."
    )
    inventory = DataInventory(
        metrics=(Metric.PARKING_VACANT, Metric.PARKING_CAPACITY),
        series="one per garage, kind of space (short-term / long-term) and quantity",
        aggregation="garage totals as the feed last published them",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 500,
                "default": FEED_URL,
                "description": "Address of ParkingLocation.json (the city publishes it at the default).",
            },
            "garages": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                "maxItems": 200,
                "uniqueItems": True,
                "default": [],
                "description": (
                    "Names of the garages to follow, as in the feed's 'Name' (e.g. 'CE-P20 Oostpoort'); "
                    "case is ignored. Empty: every garage in the feed."
                ),
            },
        },
        "additionalProperties": False,
    }

    def fetch(self) -> list[Payload]:
        url = self.config.get("url") or FEED_URL
        try:
            response = self.http.get(url, headers=ACCEPT_JSON)
        except FetchError as exc:
            raise FetchError(
                f"Amsterdam parking feed: {exc.message} If this persists, check the source's 'url'.",
                retryable=exc.retryable,
            ) from exc
        return [
            Payload(
                body=response.content,
                url=url,
                content_type=response.headers.get("content-type", ""),
                status=response.status_code,
            )
        ]

    def parse(self, payload: Payload) -> ParseResult:
        """Readings of every readable garage; a garage in error or with garbled numbers is a warning."""
        features = _features(payload)
        result = ParseResult()
        if not features:
            result.warnings.append(
                f"The Amsterdam parking feed at {payload.url} lists no garages; nothing stored."
            )
            return result
        wanted = {g.casefold(): g for g in self.config.get("garages") or []}
        seen: set[str] = set()
        zoneless = False
        for position, feature in enumerate(features, start=1):
            properties = feature.get("properties") if isinstance(feature, dict) else None
            if not isinstance(properties, dict):
                result.warnings.append(f"Feature {position} of the feed has no 'properties'; skipped.")
                continue
            name = properties.get("Name")
            if not isinstance(name, str) or not name.strip():
                result.warnings.append(f"Feature {position} of the feed has no 'Name'; skipped.")
                continue
            name = name.strip()
            if wanted and name.casefold() not in wanted:
                continue
            if name.casefold() in seen:
                result.warnings.append(
                    f"Parking garage {name}: listed twice in the feed; the second skipped."
                )
                continue
            seen.add(name.casefold())
            readings, problem, naive = _garage(name, properties, feature.get("geometry"))
            if problem:
                result.warnings.append(f"Parking garage {name}: {problem}; skipped.")
                continue
            zoneless = zoneless or naive
            result.readings.extend(readings)
        if zoneless:
            result.warnings.append(
                f"The Amsterdam parking feed gives 'PubDate' without a time zone; read as {FEED_ZONE}."
            )
        missing = [original for folded, original in wanted.items() if folded not in seen]
        if missing:
            result.warnings.append(
                "Not in the Amsterdam parking feed: "
                + ", ".join(f"'{m}'" for m in missing)
                + "; check the names in 'garages' against the feed's 'Name'."
            )
        return result


def _features(payload: Payload) -> list:
    """The feed's features, or a ParseError saying what came instead."""
    where = f"The Amsterdam parking feed at {payload.url}"
    hint = f"; check the source's 'url' (the city publishes the feed at {FEED_URL})."
    body = payload.body or b""
    if not body.strip():
        raise ParseError(f"{where} sent an empty body{hint}", retryable=True)
    if body.lstrip()[:1] == b"<":
        start = " ".join(body.lstrip()[:60].decode("utf-8", "replace").split())
        raise ParseError(
            f"{where} sent HTML or XML instead of JSON (content type '{payload.content_type}', starting "
            f"'{start}'){hint}"
        )
    try:
        document = jsonlimits.loads(body)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{where} sent broken JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}; cut off or "
            f"damaged){hint}",
            retryable=json_cut_off(exc),
        ) from exc
    except ValueError as exc:  # not UTF-8/16/32
        raise ParseError(f"{where} sent a body that is not JSON text ({exc}){hint}") from exc
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ParseError(f"{where} is JSON but not a GeoJSON FeatureCollection (no 'features' list){hint}")
    types = {
        str(f["properties"].get("Type", "")).lower()
        for f in features
        if isinstance(f, dict) and isinstance(f.get("properties"), dict)
    }
    if types and "guidancesign" in types and "parkinglocation" not in types:
        raise ParseError(
            f"{where} is the parking guidance-sign feed (GuidanceSign.json), which has no counts; use "
            f"ParkingLocation.json ({FEED_URL})."
        )
    return features


def _garage(name: str, properties: dict, geometry) -> tuple[list[Reading], str | None, bool]:
    """(readings, problem, PubDate had no zone) of one garage; a problem skips the whole garage."""
    state = properties.get("State")
    if state is not None and str(state).strip().lower() != "ok":
        return [], f"the feed reports State '{state}'", False
    time, problem, naive = _pub_date(properties.get("PubDate"))
    if problem:
        return [], problem, False
    location = _point(geometry)
    readings = []
    for part, free_field, capacity_field, what in PARTS:
        if part == "long" and free_field not in properties and capacity_field not in properties:
            continue  # a garage without long-term spaces may leave both fields out
        free, problem = _count(properties, free_field)
        if problem:
            return [], problem, False
        capacity, problem = _count(properties, capacity_field)
        if problem:
            return [], problem, False
        if capacity == 0:
            continue  # no spaces of this kind: 0 vacant would read as "full"
        for suffix, metric, value, label in (
            ("vacant", Metric.PARKING_VACANT, free, f"vacant {what} spaces"),
            ("capacity", Metric.PARKING_CAPACITY, capacity, f"{what} capacity"),
        ):
            readings.append(
                Reading(
                    key=f"{name}:{part}:{suffix}",
                    metric=metric.value,
                    time=time,
                    value=value,
                    unit=DEFAULT_UNITS[metric],
                    name=f"{name} {label}",
                    facility=name,
                    location=location,
                )
            )
    if not readings:
        return [], "no spaces (ShortCapacity and LongCapacity are 0)", False
    return readings, None, naive


def _pub_date(value) -> tuple[datetime | None, str | None, bool]:
    """(aware time, problem, had no zone) of a PubDate."""
    if value is None or value == "":
        return None, "no 'PubDate'", False
    try:
        time = parse_instant(str(value), allow_naive=True)
    except ValueError:
        return None, f"'PubDate' is not an ISO 8601 time ({value!r})", False
    if time.tzinfo is None:
        return time.replace(tzinfo=ZoneInfo(FEED_ZONE)), None, True
    return time, None, False


def _count(properties: dict, field: str) -> tuple[float | None, str | None]:
    """A count of spaces (the feed sends strings such as "345"), or None and why it is unusable."""
    if field not in properties:
        return None, f"no '{field}'"
    value = properties[field]
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return float(int(value.strip())), None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return float(value), None
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
        return value, None
    return None, f"'{field}' is not a count of spaces ({value!r})"


def _point(geometry) -> tuple[float, float] | None:
    """(lon, lat) of a GeoJSON Point, or None when there is none usable."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return None
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None
    lon, lat = coordinates[0], coordinates[1]
    if not all(
        isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in (lon, lat)
    ):
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return float(lon), float(lat)
