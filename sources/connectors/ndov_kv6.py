"""Dutch public transport at stops from NDOV KV6 (BISON TMI8 ``KV6posinfo``): arrivals and punctuality.

KV6 is the operators' real-time vehicle message stream. NDOV Loket distributes it over ZeroMQ as gzipped
``VV_TM_PUSH`` XML envelopes; this platform polls HTTP, so ``fetch`` reads one KV6posinfo document from a
configured URL (a city's or vendor's relay of the stream; plain or gzipped XML). ``parse`` is pure, so a
relay could later push the same XML to a push endpoint that hands it to ``parse``.

A ``KV6posinfo`` dossier holds messages named by their type: DELAY (journey not started), INIT (vehicle
logged on), ARRIVAL, ONSTOP, DEPARTURE (at a stop), ONROUTE, OFFROUTE (between stops, with a position)
and END. Each names the journey (``dataownercode``, ``lineplanningnumber``, ``operatingday``,
``journeynumber``, ``reinforcementnumber``), the stop (``userstopcode``, ``passagesequencenumber``: the
how-manieth visit of that stop on the journey), ``timestamp`` (ISO 8601 with offset), ``punctuality``
(seconds, positive when late) and, optionally, the vehicle position ``rd-x`` / ``rd-y`` in Rijksdriehoek
(EPSG:28992), where ``-1`` means no fix. Both the default namespace and the ``tmi8:`` prefix occur (the
namespace is the same); ``tmi8c:delimiter`` elements and other non-message elements are ignored.

Readings per followed stop (``dataownercode:userstopcode``) that had arrivals in the document, at the
document's ``Timestamp`` (so fetching the same document again stores nothing new):
- ``transit_arrivals``: the ARRIVAL and ONSTOP messages at the stop, counted once per journey and passage
  (an ARRIVAL followed by an ONSTOP of the same vehicle at the same stop is one arrival);
- ``transit_delay``: the mean punctuality of those passages in seconds, each passage with its latest message.
A stop without arrivals in the document gets no reading (a document is a slice of the stream, so a missing
stop says nothing), and an empty document gives no readings and a warning. The stop's position is the mean
of the vehicle fixes of the ARRIVAL, ONSTOP and DEPARTURE messages at it (the vehicle is at the stop),
converted to WGS84; positions found are remembered in the source's state. Vehicle numbers are never read.

Stops are followed by the list in the config, or (``select_by_area``) when a vehicle at the stop has a fix
inside the bounding box of one of the areas the source feeds; a stop remembered inside an area keeps being
followed when later messages have no fix.
"""

import math
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import jsonschema
from lxml import etree
from pyproj import CRS, Transformer

from core.instants import parse_instant

from ..choices import DEFAULT_UNITS, Metric
from ..http import safe_url
from ..plausibility import RANGES
from . import register
from .base import AreaInfo, Connector, DataInventory, ParseError, ParseResult, Payload, Reading

KV6_ZONE = ZoneInfo("Europe/Amsterdam")  # KV6 times are Dutch local time; an offset-less one is read so
COUNTED = frozenset({"ARRIVAL", "ONSTOP"})  # a vehicle at the stop: one arrival per journey and passage
AT_STOP = COUNTED | {"DEPARTURE"}  # messages sent at the stop: their fix is the stop's position
MESSAGE_TYPES = AT_STOP | {"DELAY", "INIT", "ONROUTE", "OFFROUTE", "END"}
MESSAGE_FIELDS = (
    "dataownercode", "lineplanningnumber", "operatingday", "journeynumber", "reinforcementnumber",
    "userstopcode", "passagesequencenumber", "timestamp", "punctuality",
)  # fmt: skip
ENVELOPE_FIELDS = {"SubscriberID", "Version", "DossierName", "Timestamp", "KV6posinfo"}
MAX_STOPS = 500  # stops per document, each with two series
MAX_REMEMBERED = 2000  # stop positions kept in the source's state
MAX_XML_BYTES = 64 * 1024 * 1024  # a gzipped document may not unpack to more (a gzip bomb)
MAX_DETAILED_WARNINGS = 10  # broken messages named one by one; the rest are counted
DELAY_LOW, DELAY_HIGH, _ = RANGES[Metric.TRANSIT_DELAY]
# The Rijksdriehoek grid covers the Netherlands with x 0..300 km, y 300..625 km; the published validity
# area is a little wider. A fix outside it is a device error, not a place.
RD_X_RANGE, RD_Y_RANGE = (-7_000.0, 300_000.0), (289_000.0, 629_000.0)
# RD New (EPSG:28992) with the EPSG 7-parameter datum shift "Amersfoort to WGS 84 (3)" spelled out, so that
# PROJ never looks for a grid file or goes to the network: about a metre, ample to put a stop on a map.
RD_NEW = CRS.from_proj4(
    "+proj=sterea +lat_0=52.15616055555555 +lon_0=5.38763888888889 +k=0.9999079 +x_0=155000 +y_0=463000 "
    "+ellps=bessel +towgs84=565.417,50.3319,465.552,-0.398957,0.343988,-1.8774,4.0725 +units=m +no_defs"
)
RD_TO_WGS84 = Transformer.from_crs(RD_NEW, "EPSG:4326", always_xy=True)
CODE = {"type": "string", "minLength": 1, "maxLength": 20, "pattern": r"^\S+$"}


def rd_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """(lon, lat) WGS84 of a Rijksdriehoek (EPSG:28992) x, y in metres, rounded to 6 decimals (0.1 m)."""
    lon, lat = RD_TO_WGS84.transform(x, y)
    return round(lon, 6), round(lat, 6)


@dataclass(frozen=True)
class Message:
    """The fields of one KV6 message at a stop that the readings need (never the vehicle number)."""

    kind: str
    owner: str
    line: str
    stop: str
    journey: tuple  # operatingday, journeynumber, reinforcementnumber, passagesequencenumber: one passage
    time: datetime
    punctuality: int
    rd: tuple[float, float] | None  # a valid fix, or None


class Problems:
    """What was wrong with parts of the document, turned into a few warnings (never one per message)."""

    def __init__(self):
        self.broken: list[str] = []  # messages skipped, each named
        self.notes: list[str] = []
        self.naive_times = 0
        self.bad_fixes: list[str] = []
        self.unknown_types: set[str] = set()

    def warnings(self) -> list[str]:
        warnings = list(self.notes)
        warnings += [f"{text}; skipped." for text in self.broken[:MAX_DETAILED_WARNINGS]]
        if len(self.broken) > MAX_DETAILED_WARNINGS:
            warnings.append(f"{len(self.broken) - MAX_DETAILED_WARNINGS} more broken KV6 messages skipped.")
        if self.naive_times:
            warnings.append(
                f"{self.naive_times} KV6 timestamp(s) have no UTC offset; they were read as Europe/Amsterdam "
                "time (KV6 times are Dutch local time). Ask the relay to send the offset, e.g. +02:00."
            )
        if self.bad_fixes:
            warnings.append(
                f"{len(self.bad_fixes)} KV6 message(s) give an unusable position ({self.bad_fixes[0]}); the "
                "positions were ignored, the messages kept."
            )
        if self.unknown_types:
            warnings.append(
                f"Unknown KV6 message type(s) {', '.join(sorted(self.unknown_types))} ignored (a newer BISON "
                "version?)."
            )
        return warnings


@register
class NdovKv6Connector(Connector):
    kind = "ndov_kv6"
    label = "Public transport punctuality (NDOV KV6)"
    description = (
        "Arrivals and punctuality of buses, trams and metros at stops, from the Dutch KV6 real-time vehicle "
        "messages (BISON TMI8 KV6posinfo XML, as distributed by NDOV Loket). Reads a KV6posinfo document "
        "(plain or gzipped XML) from a relay's URL at every poll. Per stop: how many vehicles arrived "
        "(ARRIVAL or ONSTOP, once per journey) and their mean delay in seconds (negative: early). Follow the "
        "listed stops (KV1 userstopcode, optionally with the operator's dataownercode) and/or every stop "
        "where a vehicle reports a position inside one of the source's areas."
    )
    default_poll_interval = 60
    stores = (
        "Per public transport stop and document: the number of vehicles that arrived and their average delay "
        "in seconds, with the stop's code and position. No vehicle numbers, journeys or passengers are kept."
    )
    inventory = DataInventory(
        metrics=(Metric.TRANSIT_ARRIVALS, Metric.TRANSIT_DELAY),
        series="one per public transport stop (operator and stop code) and quantity",
        aggregation="per stop and fetched KV6 document: vehicles arrived and their mean delay",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "url": {
                "type": "string",
                "title": "KV6 document URL",
                "description": (
                    "Where to read a KV6posinfo XML document (VV_TM_PUSH envelope or bare KV6posinfo; plain "
                    "or gzip), e.g. a city's relay of the NDOV KV6 stream."
                ),
                "pattern": r"^https?://\S+$",
                "maxLength": 2000,
            },
            "stops": {
                "type": "array",
                "title": "Stops",
                "description": "Stops to follow, by the userstopcode the operator uses in KV6 (KV1).",
                "default": [],
                "maxItems": MAX_STOPS,
                "items": {
                    "type": "object",
                    "properties": {
                        "userstopcode": {
                            **CODE,
                            "description": "The stop's userstopcode as in KV6, with leading zeros (00559).",
                        },
                        "dataownercode": {
                            **CODE,
                            "description": "Operator (GVB, RET, HTM, ARR, QBUZZ...); empty: any operator.",
                        },
                        "name": {
                            "type": "string",
                            "maxLength": 150,
                            "default": "",
                            "description": "Name shown for the stop's series.",
                        },
                    },
                    "required": ["userstopcode"],
                    "additionalProperties": False,
                },
            },
            "lines": {
                "type": "array",
                "title": "Lines",
                "description": "Count only these lines (lineplanningnumber as in KV6); empty: every line.",
                "default": [],
                "maxItems": 200,
                "items": {
                    "type": "object",
                    "properties": {
                        "lineplanningnumber": {**CODE, "description": "The line's lineplanningnumber."},
                        "dataownercode": {
                            **CODE,
                            "description": "Operator of the line; empty: any operator.",
                        },
                    },
                    "required": ["lineplanningnumber"],
                    "additionalProperties": False,
                },
            },
            "select_by_area": {
                "type": "boolean",
                "title": "Follow stops in the areas",
                "description": (
                    "Also follow every stop where a vehicle reports an RD position inside the bounding box "
                    "of one of the areas the source feeds."
                ),
                "default": False,
            },
        },
        "required": ["url"],
        "anyOf": [
            {"required": ["stops"], "properties": {"stops": {"minItems": 1}}},
            {"required": ["select_by_area"], "properties": {"select_by_area": {"const": True}}},
        ],
        "additionalProperties": False,
    }
    FOLLOW_RULE = "Give stops to follow, or set select_by_area, or both."

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        """Schema messages (the stop rule in plain words), and stops listed twice."""
        messages = []
        validator = jsonschema.Draft202012Validator(cls.config_schema)
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            messages.append(f"{where}: {cls.FOLLOW_RULE if error.validator == 'anyOf' else error.message}")
        if isinstance(config, dict) and isinstance(config.get("stops"), list):
            seen = set()
            for index, stop in enumerate(config["stops"]):
                if isinstance(stop, dict) and isinstance(stop.get("userstopcode"), str):
                    key = (stop.get("dataownercode") or "*", stop["userstopcode"])
                    if key in seen:
                        messages.append(f"stops/{index}: stop {':'.join(key)} is listed more than once.")
                    seen.add(key)
        return messages

    def fetch(self) -> list[Payload]:
        url = self.config["url"]
        # A relay with nothing new may answer 204 No Content: no information, handled as an empty document.
        response = self.http.get(
            url,
            headers={"Accept": "application/xml, text/xml, application/gzip, */*;q=0.5"},
            accept_status=(200, 204),
        )
        return [
            Payload(
                body=response.content,
                url=url,
                content_type=response.headers.get("content-type", ""),
                status=response.status_code,
            )
        ]

    def parse(self, payload: Payload) -> ParseResult:
        where = safe_url(payload.url) if payload.url else "The KV6 document"
        body = _unpack(payload.body or b"", where=where)
        if not body.strip():
            return ParseResult(warnings=[_empty(where, "sent an empty body")])
        problems = Problems()
        document_time, elements = read_document(body, where=where, problems=problems)
        if not elements:
            return ParseResult(warnings=[_empty(where, "holds no KV6 messages"), *problems.warnings()])
        followed = self._followed_stops()
        use_areas = bool(self.config.get("select_by_area"))
        remembered = self.state.get("stop_positions")
        remembered = dict(remembered) if isinstance(remembered, dict) else {}
        warnings = []
        areas: tuple[AreaInfo, ...] = ()
        if use_areas:
            areas = self.context.areas
            if not areas:
                warnings.append(
                    "select_by_area is set, but the source feeds no areas and the tenant has none: only the "
                    "listed stops are followed."
                )
        at_stop = [(n, e) for n, e in enumerate(elements, start=1) if etree.QName(e).localname in AT_STOP]
        in_areas = _stops_in_areas(at_stop, areas, remembered) if areas else set()
        followed_codes = {stop for _, stop in followed}
        messages = []
        for number, element in at_stop:
            owner, stop = _text(element, "dataownercode"), _text(element, "userstopcode")
            if stop and stop not in followed_codes and (owner, stop) not in in_areas:
                continue  # another stop: not even checked, so a national stream gives no flood of warnings
            message = read_message(element, etree.QName(element).localname, number, problems)
            if message is not None:
                messages.append(message)
        if not use_areas and any(m.rd for m in messages):
            areas = self.context.areas  # to put a located followed stop in its area
        positions = stop_positions(messages)
        passages = count_passages(messages, self._lines())
        chosen, seen_positions = [], {}
        for owner, stop in sorted(set(passages) | set(positions)):
            location = positions.get((owner, stop)) or _location(remembered.get(f"{owner}:{stop}"))
            area = area_of(location, areas) if location else None
            if (owner, stop) not in followed and ("*", stop) not in followed and area is None:
                continue
            if (owner, stop) in positions:
                seen_positions[f"{owner}:{stop}"] = list(positions[(owner, stop)])
            if (owner, stop) in passages:
                chosen.append((owner, stop, location, area))
        warnings = problems.warnings() + warnings
        if len(chosen) > MAX_STOPS:
            warnings.append(f"{len(chosen)} stops had arrivals; only the first {MAX_STOPS} by code are kept.")
            chosen = chosen[:MAX_STOPS]
        time = document_time or max((m.time for m in messages), default=None)
        readings = []
        for owner, stop, location, area in chosen:
            counted = list(passages[(owner, stop)].values())
            name = followed.get((owner, stop)) or followed.get(("*", stop)) or f"{owner} {stop}"
            delay = round(sum(m.punctuality for m in counted) / len(counted), 1)
            for metric, value, what in (
                (Metric.TRANSIT_ARRIVALS, float(len(counted)), "arrivals"),
                (Metric.TRANSIT_DELAY, delay, "delay"),
            ):
                readings.append(
                    Reading(
                        key=f"{owner}:{stop}:{metric.value}",
                        metric=metric.value,
                        time=time,
                        value=value,
                        unit=DEFAULT_UNITS[metric],
                        name=f"{name} {what}",
                        area=area,
                        facility=f"{owner}:{stop}",
                        location=location,
                    )
                )
        if not readings:
            lines = " of the followed lines" if self.config.get("lines") else ""
            warnings.append(
                f"The KV6 document holds {len(elements)} message(s), none of them an arrival at a followed "
                f"stop{lines}; nothing stored."
            )
        return ParseResult(readings=readings, warnings=warnings, state=_remember(remembered, seen_positions))

    def _followed_stops(self) -> dict[tuple[str, str], str]:
        """(dataownercode or '*', userstopcode) -> series name, of every listed stop."""
        return {
            (s.get("dataownercode") or "*", s["userstopcode"]): s.get("name", "")
            for s in self.config.get("stops") or []
        }

    def _lines(self) -> set[tuple[str, str]]:
        """(dataownercode or '*', lineplanningnumber) of every listed line; empty: every line counts."""
        return {
            (ln.get("dataownercode") or "*", ln["lineplanningnumber"])
            for ln in self.config.get("lines") or []
        }


def _empty(where: str, what: str) -> str:
    return (
        f"{where} {what}: no information about arrivals (not zero arrivals), so nothing was stored. If this "
        "lasts, check that the relay still receives the KV6 stream."
    )


def _unpack(body: bytes, *, where: str) -> bytes:
    """The XML of a plain or gzipped body; a cut-off gzip is a retryable ParseError."""
    if body[:2] != b"\x1f\x8b":
        return body
    parts, size = [], 0
    data = body
    try:
        while data[:2] == b"\x1f\x8b":  # a gzip may have several members
            unzip = zlib.decompressobj(wbits=31)
            part = unzip.decompress(data, MAX_XML_BYTES - size + 1)
            size += len(part)
            if size > MAX_XML_BYTES or unzip.unconsumed_tail:
                raise ParseError(
                    f"{where} unpacks to more than {MAX_XML_BYTES // (1024 * 1024)} MiB of XML; stopped."
                )
            parts.append(part)
            if not unzip.eof:
                raise ParseError(
                    f"{where} is a cut-off gzip file (it ends before the end-of-stream marker): the download "
                    "stopped early.",
                    retryable=True,
                )
            data = unzip.unused_data
    except zlib.error as exc:
        raise ParseError(
            f"{where} is a damaged gzip file ({exc}): the download was cut off or the file is corrupt.",
            retryable=True,
        ) from exc
    return b"".join(parts)


def read_document(body: bytes, *, where: str, problems: Problems) -> tuple[datetime | None, list]:
    """The newest envelope Timestamp and the message elements of every KV6posinfo dossier in ``body``.

    Takes a ``VV_TM_PUSH`` envelope (as NDOV sends it), a bare ``KV6posinfo`` dossier, or a root that
    wraps several envelopes (a relay's bundle). Raises ParseError for anything else.
    """
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise ParseError(f"{where} sent an HTML page, not a KV6posinfo XML document: check the url.")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
    try:
        parser.feed(body)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{where} is not valid XML ({exc.msg}): expected a KV6posinfo document.") from exc
    try:
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        # Everything read was well-formed but the document never closed: the body stopped early.
        raise ParseError(
            f"{where} is not complete XML ({exc.msg}): the download was cut off.", retryable=True
        ) from exc
    name = etree.QName(root).localname
    if name == "KV6posinfo":
        envelopes, dossiers = [], [root]
    else:
        envelopes = [root] if name == "VV_TM_PUSH" else root.findall("{*}VV_TM_PUSH")
        if not envelopes:
            raise ParseError(
                f"{where} is not a KV6 document: found <{name}> where a VV_TM_PUSH envelope or a KV6posinfo "
                "dossier was expected."
            )
        dossiers = []
        for envelope in envelopes:
            dossier = (envelope.findtext("{*}DossierName") or "").strip()
            found = envelope.findall("{*}KV6posinfo")
            others = sorted(
                {etree.QName(c).localname for c in envelope if isinstance(c.tag, str)} - ENVELOPE_FIELDS
            )
            if (dossier and dossier != "KV6posinfo") or (not found and others):
                raise ParseError(
                    f"{where} holds {dossier or ', '.join(others)}, not a KV6posinfo dossier: the url should "
                    "serve the KV6 stream."
                )
            dossiers.extend(found)
    times = []
    for envelope in envelopes:
        text = envelope.findtext("{*}Timestamp")
        if text is None:
            continue
        time = _time(text, problems)
        if time is None:
            problems.notes.append(
                f"The envelope's Timestamp {text.strip()!r} is not an ISO 8601 time; the newest message time "
                "was used instead."
            )
        else:
            times.append(time)
    elements = []
    for dossier in dossiers:
        for element in dossier:
            if not isinstance(element.tag, str):
                continue
            kind = etree.QName(element).localname
            if kind in MESSAGE_TYPES:
                elements.append(element)
            elif kind != "delimiter":
                problems.unknown_types.add(kind)
    return (max(times) if times else None), elements


def _text(element, name: str) -> str | None:
    """The stripped text of the child ``name`` in any (or no) namespace; None when absent or empty."""
    text = element.findtext("{*}" + name)
    return (text.strip() or None) if text is not None else None


def _stops_in_areas(at_stop: list, areas: tuple[AreaInfo, ...], remembered: dict) -> set[tuple[str, str]]:
    """(owner, stop) of the stops a vehicle fix in the document, or a remembered position, puts in an area.

    A quick first pass over the messages at stops: only the stops found here (and the listed ones) are
    read in full, so garbled messages elsewhere in a national stream raise no warnings.
    """
    found = set()
    for key, value in remembered.items():
        location = _location(value)
        owner, _, stop = str(key).partition(":")
        if location and area_of(location, areas):
            found.add((owner, stop))
    quiet = Problems()  # a bad fix at a stop that turns out to be ours is reported by read_message
    for _, element in at_stop:
        owner, stop = _text(element, "dataownercode"), _text(element, "userstopcode")
        if owner and stop and (owner, stop) not in found:
            fix = _fix(element, quiet)
            if fix is not None and area_of(rd_to_wgs84(*fix), areas):
                found.add((owner, stop))
    return found


def _time(text: str, problems: Problems) -> datetime | None:
    """An aware datetime from a KV6 ISO 8601 time; without an offset it is Dutch local time (counted)."""
    try:
        value = parse_instant(text, allow_naive=True)
    except ValueError:
        return None
    if value.tzinfo is None:
        problems.naive_times += 1
        value = value.replace(tzinfo=KV6_ZONE)
    return value


def _whole(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def read_message(element, kind: str, number: int, problems: Problems) -> Message | None:
    """The fields of an ARRIVAL, ONSTOP or DEPARTURE; None (and a named problem) when one is missing or
    garbled. The vehicle number is never read."""
    fields = {name: _text(element, name) for name in MESSAGE_FIELDS}
    owner, line, stop = fields["dataownercode"], fields["lineplanningnumber"], fields["userstopcode"]
    label = f"KV6 {kind} message {number} ({owner or '?'} line {line or '?'} journey "
    label += f"{fields['journeynumber'] or '?'} at stop {stop or '?'})"
    missing = [name for name, value in fields.items() if value is None and name != "reinforcementnumber"]
    if missing:
        problems.broken.append(f"{label}: no {', '.join(missing)}")
        return None
    problem = None
    journey, passage = _whole(fields["journeynumber"]), _whole(fields["passagesequencenumber"])
    reinforcement = _whole(fields["reinforcementnumber"] or "0")
    punctuality = _whole(fields["punctuality"])
    time = _time(fields["timestamp"], problems)
    try:
        day = date.fromisoformat(fields["operatingday"])
    except ValueError:
        day = None
    if day is None:
        problem = f"operatingday {fields['operatingday']!r} is not a date"
    elif journey is None:
        problem = f"journeynumber {fields['journeynumber']!r} is not a whole number"
    elif reinforcement is None:
        problem = f"reinforcementnumber {fields['reinforcementnumber']!r} is not a whole number"
    elif passage is None or passage < 0:
        problem = f"passagesequencenumber {fields['passagesequencenumber']!r} is not a whole number"
    elif time is None:
        problem = f"timestamp {fields['timestamp']!r} is not an ISO 8601 time"
    elif punctuality is None:
        problem = f"punctuality {fields['punctuality']!r} is not a whole number of seconds"
    elif not DELAY_LOW <= punctuality <= DELAY_HIGH:
        problem = f"punctuality {punctuality} s is outside {DELAY_LOW:g}..{DELAY_HIGH:g} s"
    if problem:
        problems.broken.append(f"{label}: {problem}")
        return None
    return Message(
        kind=kind,
        owner=owner,
        line=line,
        stop=stop,
        journey=(day, journey, reinforcement, passage),
        time=time,
        punctuality=punctuality,
        rd=_fix(element, problems),
    )


def _fix(element, problems: Problems) -> tuple[float, float] | None:
    """The message's rd-x, rd-y when they are a position: absent or -1 is no fix (no warning)."""
    x_text, y_text = _text(element, "rd-x"), _text(element, "rd-y")
    if x_text is None and y_text is None:
        return None
    try:
        x, y = float(x_text), float(y_text)
    except (TypeError, ValueError):
        problems.bad_fixes.append(f"rd-x {x_text!r}, rd-y {y_text!r} are not numbers")
        return None
    if x == -1 or y == -1:
        return None  # KV6 for "no fix"
    if not (RD_X_RANGE[0] <= x <= RD_X_RANGE[1] and RD_Y_RANGE[0] <= y <= RD_Y_RANGE[1]):
        problems.bad_fixes.append(f"rd-x {x:g}, rd-y {y:g} lie outside the Netherlands")
        return None
    return x, y


def stop_positions(messages: list[Message]) -> dict[tuple[str, str], tuple[float, float]]:
    """(owner, stop) -> (lon, lat): the mean of the fixes of the vehicles at the stop, in WGS84."""
    fixes = defaultdict(list)
    for message in messages:
        if message.rd is not None:
            fixes[(message.owner, message.stop)].append(message.rd)
    return {
        stop: rd_to_wgs84(sum(x for x, _ in rd) / len(rd), sum(y for _, y in rd) / len(rd))
        for stop, rd in fixes.items()
    }


def count_passages(messages: list[Message], lines: set[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """(owner, stop) -> {passage: its latest ARRIVAL or ONSTOP}, for the followed lines (all when empty).

    A passage is one journey's visit of the stop (line, operating day, journey, reinforcement, passage
    sequence number): an ARRIVAL and a later ONSTOP of it are one arrival, timed and rated by the later one.
    """
    passages: dict[tuple[str, str], dict] = defaultdict(dict)
    for message in messages:
        if message.kind not in COUNTED:
            continue
        if lines and (message.owner, message.line) not in lines and ("*", message.line) not in lines:
            continue
        passage = (message.line, *message.journey)
        earlier = passages[(message.owner, message.stop)].get(passage)
        if earlier is None or message.time >= earlier.time:
            passages[(message.owner, message.stop)][passage] = message
    return dict(passages)


def area_of(location: tuple[float, float], areas: tuple[AreaInfo, ...]) -> str | None:
    """Slug of the area whose bounding box holds ``location`` (the smallest box when several do)."""
    lon, lat = location
    holding = [
        ((a.bbox[2] - a.bbox[0]) * (a.bbox[3] - a.bbox[1]), a.slug)
        for a in areas
        if a.bbox[0] <= lon <= a.bbox[2] and a.bbox[1] <= lat <= a.bbox[3]
    ]
    return min(holding)[1] if holding else None


def _location(value) -> tuple[float, float] | None:
    """A remembered [lon, lat] from the state, when it is one."""
    if isinstance(value, list | tuple) and len(value) == 2:
        lon, lat = value
        if all(isinstance(v, int | float) and math.isfinite(v) for v in (lon, lat)):
            return float(lon), float(lat)
    return None


def _remember(remembered: dict, seen: dict) -> dict | None:
    """The new ``stop_positions`` state when a stop's position is new or moved; None when nothing changed."""
    if all(remembered.get(key) == value for key, value in seen.items()):
        return None
    for key in seen:
        remembered.pop(key, None)  # re-inserted last, so that the cap drops the stops seen longest ago
    remembered.update(seen)
    return {"stop_positions": dict(list(remembered.items())[-MAX_REMEMBERED:])}
