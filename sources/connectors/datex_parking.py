"""Parking occupancy from DATEX II parking publications, v2 and v3 (status, plus an optional table).

The status URL serves a ``ParkingStatusPublication`` in one of three wrappings:

- DATEX II v2 (``http://datex2.eu/schema/2/2_0``): a ``d2LogicalModel`` whose ``payloadPublication`` is
  ``xsi:type="ParkingStatusPublication"``;
- the same as a ``GenericPublication`` whose ``genericPublicationExtension`` holds a
  ``parkingStatusPublication``, as many German and Dutch publishers do with DATEX II 2.x;
- DATEX II v3 (``http://datex2.eu/schema/3/parking``): a ``messageContainer`` whose ``payload`` is
  ``xsi:type="par:ParkingStatusPublication"``.

The parking elements have the same names in v2 and v3 (only the namespaces differ), so elements are found
by their local name in any namespace. Each ``parkingRecordStatus`` names its site in
``parkingRecordReference/@id`` and has ``parkingStatusOriginTime`` and a ``parkingOccupancy`` block with
``parkingNumberOfVacantSpaces``, ``parkingNumberOfOccupiedSpaces``, ``parkingNumberOfSpacesOverride`` and
``parkingOccupancy`` (percent). A time without a zone is read in the tenant's zone, with one warning.

Per record the connector stores:

- ``<id>:capacity`` (``parking_capacity``): ``parkingNumberOfSpacesOverride`` of the status when given
  (the publisher's current capacity), else ``parkingNumberOfSpaces`` of the record in the table.
- ``<id>:vacant`` (``parking_vacant``): ``parkingNumberOfVacantSpaces`` when given; else capacity minus
  ``parkingNumberOfOccupiedSpaces``; else capacity x (1 - ``parkingOccupancy`` / 100), rounded to a whole
  space. Which one was used is not stored; a vacant count that cannot be had any of these ways is a warning.

Both are timed at ``parkingStatusOriginTime``. The optional table URL serves a ``ParkingTablePublication``
whose ``parkingRecord`` elements give the name (``parkingName``), the position (``parkingLocation`` ...
``pointCoordinates``) and ``parkingNumberOfSpaces``. Tables change rarely: the table is read at most once
an hour and what it says is kept in the source's state. A broken table is a warning (the last good one
stays in use); a broken status document fails the fetch. The table is read again at once when the
``records`` filter changes, since only the listed records are kept.

Not read: the older DATEX II 2.0 parking-facility model (``parkingFacilityStatus``,
``totalNumberOfVacantParkingSpaces``), which gets a clear error; ``parkingNumberOfVehicles`` (vehicles are
not spaces: a lorry may take two); the per-category ``parkingSiteStatusExtension`` counts.
"""

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from lxml import etree

from core.instants import parse_instant

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import Connector, DataInventory, FetchError, ParseError, ParseResult, Payload, Reading

TABLE_MAX_AGE = timedelta(hours=1)
MAX_TABLE_RECORDS = 2000  # kept in the state; a national table is cut here with a warning
STATUS, TABLE = "status", "table"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
ACCEPT_XML = {"Accept": "application/xml, text/xml"}


@register
class DatexParkingConnector(Connector):
    """Vacant spaces and capacity per parking site from a DATEX II v2 or v3 ParkingStatusPublication."""

    kind = "datex_parking"
    label = "Parking occupancy (DATEX II parking publications, v2 and v3)"
    description = (
        "Vacant spaces and capacity per parking site from a DATEX II (v2 or v3) ParkingStatusPublication, "
        "with names, positions and capacities from the matching ParkingTablePublication when its address "
        "is given (read at most hourly). Records that cannot be read are skipped with a warning."
    )
    default_poll_interval = 300
    stores = (
        "Per parking site: the number of vacant spaces and the capacity, with the time the publisher "
        "measured them, and the site's identifier, name and position. No vehicles, licence plates or people."
    )
    inventory = DataInventory(
        metrics=(Metric.PARKING_VACANT, Metric.PARKING_CAPACITY),
        series="one per parking record and quantity",
        aggregation="site totals as the publisher last published them",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "status_url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 500,
                "description": "Address of the DATEX II ParkingStatusPublication (the live occupancy).",
            },
            "table_url": {
                "type": "string",
                "pattern": "^(https?://.*)?$",
                "maxLength": 500,
                "default": "",
                "description": (
                    "Optional address of the matching ParkingTablePublication, for the sites' names, "
                    "positions and capacities (read at most once an hour). Empty: none."
                ),
            },
            "records": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                "maxItems": 500,
                "uniqueItems": True,
                "default": [],
                "description": "Record identifiers to follow (parkingRecordReference id); empty: all.",
            },
        },
        "required": ["status_url"],
        "additionalProperties": False,
    }

    # --- fetch ----------------------------------------------------------------------------------------

    def fetch(self) -> list[Payload]:
        url = self.config["status_url"]
        try:
            response = self.http.get(url, headers=ACCEPT_XML)
        except FetchError as exc:
            raise FetchError(
                f"DATEX II parking status: {exc.message} If this persists, check the source's 'status_url'.",
                retryable=exc.retryable,
            ) from exc
        status = Payload(
            body=response.content,
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta={"role": STATUS},
        )
        # The table comes first: its parse() keeps what it says in the state before the status is read.
        return ([self._fetch_table()] if self.table_due() else []) + [status]

    def table_due(self) -> bool:
        """Whether the table should be read now: never read, another address or record filter, or read an
        hour ago."""
        url = self.config.get("table_url") or ""
        if not url:
            return False
        cached = self.state.get("table")
        if not isinstance(cached, dict) or cached.get("url") != url:
            return True
        if cached.get("filter", []) != self._filter():
            return True  # only the listed records were kept: a record added since has no name yet
        try:
            read_at = datetime.fromisoformat(cached["read_at"])
        except (KeyError, TypeError, ValueError):
            return True
        return read_at.tzinfo is None or self._now() - read_at >= TABLE_MAX_AGE

    def _fetch_table(self) -> Payload:
        url = self.config["table_url"]
        meta = {"role": TABLE, "read_at": self._now().isoformat()}
        try:
            response = self.http.get(url, headers=ACCEPT_XML)
        except FetchError as exc:  # never fails the fetch: parse() turns it into a warning
            return Payload(body=b"", url=url, status=0, meta={**meta, "error": exc.message})
        return Payload(
            body=response.content,
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta=meta,
        )

    # --- parse ----------------------------------------------------------------------------------------

    def parse(self, payload: Payload) -> ParseResult:
        if payload.meta.get("role") == TABLE:
            return self._parse_table(payload)
        return self._parse_status(payload)

    def _parse_table(self, payload: Payload) -> ParseResult:
        """The table's records as state; a table that cannot be read is a warning, the last one stays."""
        previous = self.state.get("table") if isinstance(self.state.get("table"), dict) else {}
        kept = previous.get("records", {}) if previous.get("url") == payload.url else {}
        where = f"The DATEX II parking table at {payload.url}"
        result = ParseResult()
        try:
            if payload.meta.get("error"):
                raise ParseError(payload.meta["error"])
            root = _xml(payload, where, "a ParkingTablePublication")
            records = _table_records(root, where, set(self._filter()), result.warnings)
        except ParseError as exc:
            result.warnings.append(
                f"{where} could not be read ({exc.message.removeprefix(where + ' ')}); "
                + ("the names, positions and capacities read before are used." if kept else "it is skipped.")
                + " It is read again in an hour."
            )
            records = kept
        result.state = {
            "table": {
                "url": payload.url,
                "read_at": payload.meta["read_at"],
                "filter": self._filter(),
                "records": records,
            }
        }
        return result

    def _parse_status(self, payload: Payload) -> ParseResult:
        where = f"The DATEX II parking status at {payload.url}"
        root = _xml(payload, where, "a ParkingStatusPublication")
        statuses = [e for e in root.iter("{*}parkingRecordStatus")]
        result = ParseResult()
        if not statuses:
            if any(True for _ in root.iter("{*}parkingRecord")):
                raise ParseError(
                    f"{where} is a ParkingTablePublication, not a ParkingStatusPublication: set this address "
                    "as 'table_url' and the status publication's as 'status_url'."
                )
            if any(True for _ in root.iter("{*}parkingFacilityStatus", "{*}parkingFacility")):
                raise ParseError(
                    f"{where} uses the older DATEX II 2.0 parking-facility model (parkingFacilityStatus), "
                    "which this connector does not read; ask the publisher for its ParkingStatusPublication "
                    "(DATEX II 2.3 or 3)."
                )
            if not any(True for _ in root.iter("{*}parkingStatusPublication")) and not _is_status(root):
                raise ParseError(
                    f"{where} is XML but not a DATEX II ParkingStatusPublication (found "
                    f"<{etree.QName(root).localname}>); check the source's 'status_url'."
                )
            result.warnings.append(f"{where} lists no parking records; nothing stored.")
            return result
        table = self._table_records()
        wanted = set(self.config.get("records") or [])
        seen: set[str] = set()
        zoneless = False
        for position, status in enumerate(statuses, start=1):
            reference = _child(status, "parkingRecordReference")
            record = (reference.get("id") or "").strip() if reference is not None else ""
            if not record:
                result.warnings.append(
                    f"Parking record status {position} has no parkingRecordReference id; skipped."
                )
                continue
            if wanted and record not in wanted:
                continue
            if record in seen:
                result.warnings.append(f"Parking record {record}: listed twice; the second skipped.")
                continue
            seen.add(record)
            readings, problems, naive = self._record_readings(record, status, table.get(record) or {})
            zoneless = zoneless or naive
            result.readings.extend(readings)
            result.warnings.extend(f"Parking record {record}: {p}." for p in problems)
        if zoneless:
            result.warnings.append(
                f"{where} gives parkingStatusOriginTime without a time zone; read as "
                f"{self.context.time_zone}."
            )
        missing = sorted(wanted - seen)
        if missing:
            result.warnings.append(
                f"Not in the DATEX II parking status: {', '.join(missing)}; check the identifiers in "
                "'records'."
            )
        return result

    def _record_readings(self, record: str, status, site: dict) -> tuple[list[Reading], list[str], bool]:
        """(readings, problems, origin time had no zone) of one parkingRecordStatus."""
        text = _text(_child(status, "parkingStatusOriginTime"))
        if not text:
            return [], ["no parkingStatusOriginTime; skipped"], False
        try:
            time = parse_instant(text, allow_naive=True)
        except ValueError:
            return [], [f"parkingStatusOriginTime is not a time ({text!r}); skipped"], False
        naive = time.tzinfo is None
        if naive:
            time = time.replace(tzinfo=ZoneInfo(self.context.time_zone))
        occupancy = _child(status, "parkingOccupancy")
        if occupancy is None:
            return [], ["no parkingOccupancy; skipped"], naive
        vacant, problem = _number(
            _child(occupancy, "parkingNumberOfVacantSpaces"), "parkingNumberOfVacantSpaces"
        )
        if problem:
            return [], [f"{problem}; skipped"], naive  # a garbled direct count: no derived guess instead
        problems: list[str] = []
        numbers = {}
        for field in ("parkingNumberOfSpacesOverride", "parkingNumberOfOccupiedSpaces", "parkingOccupancy"):
            value, problem = _number(_child(occupancy, field), field, percent=field == "parkingOccupancy")
            if problem:
                problems.append(f"{problem}; not used")
            numbers[field] = value
        capacity = numbers["parkingNumberOfSpacesOverride"]
        if capacity is None:
            capacity = site.get("capacity")
        occupied, percent = numbers["parkingNumberOfOccupiedSpaces"], numbers["parkingOccupancy"]
        if vacant is None and capacity is not None and occupied is not None:
            if occupied <= capacity:
                vacant = capacity - occupied
            else:
                problems.append(f"{occupied:g} occupied of {capacity:g} spaces; not used")
        if vacant is None and capacity is not None and percent is not None:
            vacant = float(round(capacity * (1 - percent / 100)))
        if vacant is None:
            problems.append(
                "no vacant count (no parkingNumberOfVacantSpaces, and no capacity with occupied spaces or "
                "occupancy); vacant spaces not stored"
            )
        name = site.get("name") or record
        location = tuple(site["location"]) if site.get("location") else None
        readings = [
            Reading(
                key=f"{record}:{suffix}",
                metric=metric.value,
                time=time,
                value=value,
                unit=DEFAULT_UNITS[metric],
                name=f"{name} {label}",
                facility=record,
                location=location,
            )
            for suffix, metric, value, label in (
                ("vacant", Metric.PARKING_VACANT, vacant, "vacant spaces"),
                ("capacity", Metric.PARKING_CAPACITY, capacity, "capacity"),
            )
            if value is not None
        ]
        return readings, problems, naive

    def _table_records(self) -> dict:
        cached = self.state.get("table")
        url = self.config.get("table_url") or ""
        if not url or not isinstance(cached, dict) or cached.get("url") != url:
            return {}
        records = cached.get("records")
        return records if isinstance(records, dict) else {}

    def _filter(self) -> list[str]:
        """The configured record identifiers, sorted (empty: every record)."""
        return sorted(self.config.get("records") or [])

    def _now(self) -> datetime:
        return self.now or timezone.now()


# --- reading the XML ----------------------------------------------------------------------------------


def _xml(payload: Payload, where: str, expected: str):
    """The parsed root element, or ParseError saying what came instead."""
    body = payload.body or b""
    if not body.strip():
        raise ParseError(f"{where} sent an empty body.", retryable=True)
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        start = " ".join(body.lstrip()[:60].decode("utf-8", "replace").split())
        raise ParseError(
            f"{where} sent an HTML page instead of DATEX II XML (content type '{payload.content_type}', "
            f"starting '{start}'): check the address."
        )
    if head[:1] in (b"{", b"["):
        raise ParseError(f"{where} sent JSON instead of DATEX II XML: check the address.")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        message = str(exc.msg or exc)
        cut_off = "Premature end" in message or "end of data" in message.lower() or _at_end(body, exc)
        raise ParseError(
            f"{where} is not valid XML ({message}): "
            + ("the download was cut off." if cut_off else f"expected {expected}."),
            retryable=cut_off,
        ) from exc


def _at_end(body: bytes, exc: etree.XMLSyntaxError) -> bool:
    """Whether the syntax error is where the body stops: the download was cut off, not damaged."""
    line, column = exc.position if exc.position else (0, 0)
    if line < 1:
        return False
    lines = body.split(b"\n")
    offset = sum(len(text) + 1 for text in lines[: line - 1]) + column - 1
    return offset >= len(body.rstrip()) - 1


def _is_status(root) -> bool:
    """Whether the document declares a ParkingStatusPublication (v2 ``payloadPublication``, v3 ``payload``,
    or a v2 GenericPublication named so), even one that lists no records."""
    for element in root.iter("{*}payloadPublication", "{*}payload", "{*}genericPublicationName"):
        declared = element.text if etree.QName(element).localname == "genericPublicationName" else None
        declared = declared or element.get(XSI_TYPE) or ""
        if declared.strip().rpartition(":")[2] == "ParkingStatusPublication":
            return True
    return False


def _table_records(root, where: str, wanted: set[str], warnings: list[str]) -> dict[str, dict]:
    """{record id: {name, location (lon, lat), capacity}} of a ParkingTablePublication."""
    records = root.iter("{*}parkingRecord")
    found: dict[str, dict] = {}
    seen_any = False
    for record in records:
        seen_any = True
        identifier = (record.get("id") or "").strip()
        if not identifier or (wanted and identifier not in wanted):
            continue
        if len(found) >= MAX_TABLE_RECORDS:
            warnings.append(
                f"{where} has more than {MAX_TABLE_RECORDS} parking records; only the first are kept "
                "(list the ones you need in 'records')."
            )
            break
        entry: dict = {}
        name = next((_text(v) for v in record.iterfind("{*}parkingName/{*}values/{*}value") if _text(v)), "")
        if name:
            entry["name"] = name
        point = record.find("{*}parkingLocation//{*}pointCoordinates")
        if point is not None:
            location = _coordinates(_text(_child(point, "latitude")), _text(_child(point, "longitude")))
            if location:
                entry["location"] = location
            else:
                warnings.append(
                    f"{where}: parking record {identifier} has unusable coordinates; no position."
                )
        capacity, problem = _number(_child(record, "parkingNumberOfSpaces"), "parkingNumberOfSpaces")
        if problem:
            warnings.append(f"{where}: parking record {identifier}: {problem}; no capacity from the table.")
        elif capacity is not None:
            entry["capacity"] = capacity
        found[identifier] = entry
    if not seen_any:
        raise ParseError(f"{where} has no parkingRecord: expected a ParkingTablePublication")
    return found


def _child(element, name: str):
    """The first direct child called ``name`` in any namespace (parkingOccupancy nests a parkingOccupancy)."""
    if element is None:
        return None
    return element.find(f"{{*}}{name}")


def _text(element) -> str:
    return (element.text or "").strip() if element is not None else ""


def _number(element, field: str, *, percent: bool = False) -> tuple[float | None, str | None]:
    """A count of spaces (or a percentage), None when absent, or None and why it is unusable."""
    if element is None:
        return None, None
    text = _text(element)
    try:
        value = float(text)
    except ValueError:
        return None, f"{field} is not a number ({text!r})"
    if not math.isfinite(value) or value < 0 or (percent and value > 100):
        return None, f"{field} is {text}, out of range"
    if not percent and not value.is_integer():
        return None, f"{field} is {text}, not a whole number of spaces"
    return value, None


def _coordinates(latitude: str, longitude: str) -> list[float] | None:
    try:
        lat, lon = float(latitude), float(longitude)
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return [lon, lat]
