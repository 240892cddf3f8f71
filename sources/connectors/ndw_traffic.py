"""NDW traffic counts: the national open data file ``trafficspeed.xml.gz`` (every minute), DATEX II v2 or v3.

The file is a gzip of NDW's measured data, one ``siteMeasurements`` per measurement site:

- DATEX II v2 (namespace ``http://datex2.eu/schema/2/2_0``): a SOAP envelope around a ``d2LogicalModel`` /
  ``payloadPublication xsi:type="MeasuredDataPublication"``; each site holds ``measuredValue index=N`` /
  ``measuredValue`` / ``basicData`` and a ``measurementTimeDefault`` with the time as text.
- DATEX II v3 (namespaces ``http://datex2.eu/schema/3/...``): a ``messageContainer`` (or a bare ``payload``)
  with ``payload xsi:type="roa:MeasuredDataPublication"``; each site holds ``physicalQuantity index=N`` /
  ``physicalQuantity`` / ``basicData`` and ``measurementTimeDefault/timeValue``.

The version is told from the namespace of the model element; the readings are the same for both. A
``basicData`` is a ``TrafficFlow`` (``vehicleFlow/vehicleFlowRate``, vehicles per hour) or a ``TrafficSpeed``
(``averageVehicleSpeed/speed``, km/h). ``-1`` or ``dataError=true`` means no valid value.

The indexes are not lanes. The NDW measurement site table (``measurement_current.xml.gz``, a
``MeasurementSiteTablePublication``, v2 or v3) says per index which lane, which quantity and which vehicles
(``measurementSpecificCharacteristics``: ``specificLane``, ``specificMeasurementValueType`` and
``specificVehicleCharacteristics`` with ``vehicleType anyVehicle`` or ``lengthCharacteristic`` classes). It
is read at most every ``site_table_hours`` (24 by default) and what it says about the configured sites (name,
position, lanes) is kept in the source's state. With it, a lane's flow is its ``anyVehicle`` flow index (or,
when the lane has only length classes, their sum: the classes split the lane's vehicles), and its speed is
its ``anyVehicle`` speed index. It is used only when the site's record version in the table is the version the
measurements refer to, and every index it names is there with the right quantity.

Without the table (switched off with ``site_table_url: ""``, not read yet, a site not in it, or a version
that differs) the lanes are inferred as before: NDW orders the indexes by lane, then measurement type, then
vehicle category, with ``anyVehicle`` last in each run (docs.ndw.nu, measurementSpecificCharacteristics). A
lane with vehicle length classes therefore reads ``flow <5.6 m, flow 5.6-12.2 m, ..., flow anyVehicle, speed
<5.6 m, ..., speed anyVehicle``; a lane without classes reads ``flow, speed``. Summing every flow would count
the vehicles of a classified lane twice, so a lane is a run of flows followed by a run of speeds and its value
is the last (``anyVehicle``) one of each run. A site that publishes flows of several lanes without any speed
looks like one lane with classes: its last flow is taken, unless it is smaller than the values before it (then
they cannot be classes and are summed). The table removes that guess.

Readings per configured site, at its ``measurementTimeDefault`` (else the publication time):
- ``vehicle_flow``: sum over lanes of the valid ``anyVehicle`` flow, vehicles/h;
- ``vehicle_speed``: mean of the valid lane speeds weighted by the lane's flow, km/h. Without traffic
  (every valid flow 0) there is no speed: NDW then reports -1 or a 0 computed from no vehicles, and a
  0 km/h reading would look like a standstill.
With the site table a reading also carries the site's name (``measurementSiteName``) and position (``(lon,
lat)`` from ``pointByCoordinates``, else ``locationForDisplay``, else the first point of a linear location).

Decisions:
- A site table that cannot be fetched or read never fails the fetch: the measurements are stored, a warning
  says why, names and positions read earlier are kept, and the table is tried again after an hour (or after
  ``site_table_hours`` when that is shorter), not every minute. A record of the table that cannot be read
  (an index or a coordinate that is no number) is skipped with a warning naming the site.
- A site added to ``sites`` makes the table be read again at the next fetch (unless it failed in the last
  hour); a site that the table does not list is remembered as missing, so it does not cause a read a minute.
- The name and position of a series are set when the series is created (an existing series gets the position
  when it has none); a later table does not rename series.
- ``trafficspeed.xml.gz`` is the same file for every municipality: sources of this connector opt in to
  ``sources.shared_feeds`` (``shared_feed_key`` = the file's URL), which downloads and parses it once for all
  sources that use it and gives each source only its own sites' values (the site table likewise).
"""

import gzip
import io
import math
import re
import zlib
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import NamedTuple

from django.utils import timezone
from lxml import etree

from core.instants import instant_or_none

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import Connector, DataInventory, FetchError, ParseError, ParseResult, Payload, Reading

DEFAULT_URL = "https://opendata.ndw.nu/trafficspeed.xml.gz"
DEFAULT_SITE_TABLE_URL = "https://opendata.ndw.nu/measurement_current.xml.gz"
SITE_TABLE_HOURS = 24
SITE_TABLE_RETRY = timedelta(hours=1)  # after a failed read of the site table
MAX_SITES = 500
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI_NAMESPACE}}}type"
FLOW, SPEED = "TrafficFlow", "TrafficSpeed"
MEASUREMENTS, SITE_TABLE = "measurements", "site_table"  # payload roles
V2_NAMESPACE = "http://datex2.eu/schema/2/"
V3_NAMESPACE = "http://datex2.eu/schema/3/"
VALUE_TAG = {2: "measuredValue", 3: "physicalQuantity"}  # the indexed value of a site, per DATEX II version


# What a site's totals (vehicle_flow, vehicle_speed) are stored as: (metric, unit, label), looked up once.
SITE_METRICS = tuple(
    (metric.value, DEFAULT_UNITS[metric], metric.label)
    for metric in (Metric.VEHICLE_FLOW, Metric.VEHICLE_SPEED)
)


class Value(NamedTuple):
    """One measured value of a site: its index, TrafficFlow or TrafficSpeed, and the value when valid.

    A named tuple rather than a dataclass: a shared parse makes tens of thousands of them a minute."""

    index: int
    kind: str
    value: float | None  # None: -1, dataError, unparsable, or a speed computed from no vehicles


class Lane(NamedTuple):
    """The anyVehicle flow and speed of one lane (None when missing or invalid); a named tuple as Value."""

    flow: float | None
    speed: float | None


class SharedRequest(NamedTuple):
    """A national file a source needs, for sources.shared_feeds: fetched once for every source that asks."""

    role: str  # MEASUREMENTS or SITE_TABLE
    key: str  # the file's URL
    items: frozenset[str]  # the site ids this source wants from it
    required: bool  # a failure fails the source's fetch (else the source gets a warning)


@register
class NdwTrafficConnector(Connector):
    kind = "ndw_traffic"
    label = "NDW traffic counts (DATEX II)"
    description = (
        "Vehicle flow and average speed per road measurement site from the national NDW open data file "
        "trafficspeed.xml.gz (DATEX II v2 or v3), updated every minute. Give the ids of the measurement "
        "sites to keep (find them on the NDW map or in measurement_current.xml). Per site: vehicles per hour "
        "over all lanes, and the mean speed in km/h weighted by each lane's flow. The NDW measurement site "
        "table gives the sites their names, positions and lanes; vehicle length classes count once."
    )
    default_poll_interval = 60
    stores = (
        "Per configured NDW measurement site and minute: vehicles per hour over all lanes and their average "
        "speed in km/h, with the site's name and position. Road traffic totals only: no vehicles, number "
        "plates or people."
    )
    inventory = DataInventory(
        metrics=(Metric.VEHICLE_FLOW, Metric.VEHICLE_SPEED),
        series="one per NDW measurement site and quantity",
        aggregation="per site and minute: vehicles per hour summed over lanes, their average speed",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "url": {
                "type": "string",
                "title": "File URL",
                "description": "Where to download trafficspeed.xml.gz (gzip or plain XML; DATEX II v2, v3).",
                "default": DEFAULT_URL,
                "pattern": r"^https?://\S+$",
                "maxLength": 2000,
            },
            "sites": {
                "type": "array",
                "title": "Measurement sites",
                "description": (
                    f"Ids of the NDW measurement sites to keep (1 to {MAX_SITES}), e.g. PZH01_MST_0690_00. "
                    "Every other site in the file is skipped."
                ),
                "items": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^\S+$"},
                "minItems": 1,
                "maxItems": MAX_SITES,
                "uniqueItems": True,
                "examples": [["PZH01_MST_0690_00", "RWS01_MONIBAS_0151hrr0589ra"]],
            },
            "site_table_url": {
                "type": "string",
                "title": "Measurement site table URL",
                "description": (
                    "Where to read the NDW measurement site table (measurement_current.xml.gz), which gives "
                    "each site its name, position and lanes. Empty: do not read it (sites then have no name "
                    "or position, and lanes are inferred from the order of the values)."
                ),
                "default": DEFAULT_SITE_TABLE_URL,
                "pattern": r"^(https?://\S+)?$",
                "maxLength": 2000,
            },
            "site_table_hours": {
                "type": "integer",
                "title": "Read the site table every (hours)",
                "description": "The table is large and changes rarely: how many hours a read stays valid.",
                "default": SITE_TABLE_HOURS,
                "minimum": 1,
                "maximum": 168,
            },
        },
        "required": ["sites"],
        "additionalProperties": False,
    }

    # --- fetch ----------------------------------------------------------------------------------------

    def fetch(self) -> list[Payload]:
        url = self._url()
        response = self.http.get(url)
        measurements = Payload(
            body=response.content,
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta={"role": MEASUREMENTS},
        )
        # The table comes first: parse() keeps what it says in the state before the measurements are read.
        return ([self._fetch_site_table()] if self.site_table_due() else []) + [measurements]

    def _fetch_site_table(self) -> Payload:
        url = self._site_table_url()
        try:
            response = self.http.get(url)
        except FetchError as exc:  # never fails the fetch: parse() turns it into a warning
            return Payload(body=b"", url=url, status=0, meta={"role": SITE_TABLE, "error": exc.message})
        return Payload(
            body=response.content,
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta={"role": SITE_TABLE},
        )

    def site_table_due(self) -> bool:
        """Whether the site table should be read now (see the module docstring for when)."""
        url = self._site_table_url()
        if not url:
            return False
        cached = self.state.get("site_table")
        now = self._now()
        if not isinstance(cached, dict) or cached.get("url") != url:
            return True
        tried, read = _parse_time(cached.get("tried_at")), _parse_time(cached.get("read_at"))
        failed_last = tried is not None and (read is None or tried > read)
        if failed_last and now - tried < min(SITE_TABLE_RETRY, self._site_table_age()):
            return False
        known = set(cached.get("sites") or {}) | set(cached.get("missing") or [])
        if not set(self.config["sites"]) <= known:
            return True  # a site was added since the last read
        return read is None or now - read >= self._site_table_age()

    # --- shared national file (sources.shared_feeds) ---------------------------------------------------

    @classmethod
    def shared_feed_key(cls, config) -> str | None:
        """The national file a source with this config reads; sources reading one file share its download."""
        if not isinstance(config, dict):
            return None
        return config.get("url") or DEFAULT_URL

    def shared_requests(self) -> list[SharedRequest]:
        """The files this source needs at this fetch, in the order its parse wants them."""
        sites = frozenset(self.config["sites"])
        requests = []
        if self.site_table_due():
            requests.append(SharedRequest(SITE_TABLE, self._site_table_url(), sites, False))
        requests.append(SharedRequest(MEASUREMENTS, self._url(), sites, True))
        return requests

    @classmethod
    def download_shared(cls, role: str, key: str, *, http) -> Payload:
        response = http.get(key)
        return Payload(
            body=response.content,
            url=key,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta={"role": role},
        )

    @classmethod
    def parse_shared(cls, role: str, payload: Payload, items: frozenset[str]) -> tuple[dict, dict]:
        """Parse a shared file once for the union of the sites: (per site id, what every part carries)."""
        if role == SITE_TABLE:
            return read_site_table(payload.body, set(items), where=_table_where(payload.url)), {}
        sites, publication_time = read_sites(payload.body, set(items), where=payload.url or "The NDW file")
        return sites, {"publication_time": publication_time}

    # --- parse ----------------------------------------------------------------------------------------

    def parse(self, payload: Payload) -> ParseResult:
        if payload.meta.get("role") == SITE_TABLE:
            return self._parse_site_table(payload)
        wanted = list(dict.fromkeys(self.config["sites"]))
        if "shared" in payload.meta:  # this source's part of a shared download, parsed already
            sites, publication_time = payload.meta["shared"], payload.meta.get("publication_time")
        else:
            sites, publication_time = read_sites(
                payload.body, set(wanted), where=payload.url or "The NDW file"
            )
        table = self._table_sites()
        readings, warnings = [], []
        for site_id in wanted:
            found = sites.get(site_id)
            if found is None:
                warnings.append(
                    f"Site {site_id} is not in the NDW file: check the id (NDW gives a site a new id "
                    "when its lanes change)."
                )
                continue
            time, version, values = found
            time = time or publication_time
            if time is None:
                warnings.append(f"Site {site_id} has no measurement time; skipped.")
                continue
            if all(value.value is None for value in values):
                warnings.append(f"Site {site_id}: every value is invalid (-1 or dataError); nothing stored.")
                continue
            info = table.get(site_id) if table else None
            lanes, label, location = None, site_id, None
            if info:
                if info.get("lanes") and version is not None and info.get("version") == version:
                    lanes = lanes_from_table(values, info["lanes"])
                label = info.get("name") or site_id
                location = tuple(info["location"]) if info.get("location") else None
            totals = site_totals(lanes if lanes is not None else lanes_of(values))
            for (metric, unit, metric_label), value in zip(SITE_METRICS, totals, strict=True):
                if value is not None:
                    readings.append(
                        Reading(
                            key=f"{site_id}:{metric}",
                            metric=metric,
                            time=time,
                            value=value,
                            unit=unit,
                            name=f"{label} {metric_label}",
                            facility=site_id,
                            location=location,
                        )
                    )
        return ParseResult(readings=readings, warnings=warnings)

    def _parse_site_table(self, payload: Payload) -> ParseResult:
        """Keep what the site table says about the configured sites in the state; problems are warnings."""
        wanted = list(dict.fromkeys(self.config["sites"]))
        url = payload.url
        now = self._now()
        cached = self.state.get("site_table")
        previous = cached if isinstance(cached, dict) and cached.get("url") == url else {}
        error = payload.meta.get("error")
        found = None
        if error is None:
            if "shared" in payload.meta:
                found = payload.meta["shared"]
            else:
                try:
                    found = read_site_table(payload.body, set(wanted), where=_table_where(url))
                except ParseError as exc:
                    error = exc.message
        if found is None:
            kept = {s: i for s, i in (previous.get("sites") or {}).items() if s in wanted}
            retry = min(SITE_TABLE_RETRY, self._site_table_age())
            meanwhile = (
                f"names, positions and lanes read at {previous.get('read_at')} are kept"
                if kept
                else "the sites have no names or positions and their lanes are inferred"
            )
            state = {**previous, "url": url, "sites": kept, "tried_at": now.isoformat(), "error": error}
            state.setdefault("read_at", None)
            state.setdefault("missing", [])
            warning = (
                f"The measurement site table was not read: {error} The measurements are stored; {meanwhile}. "
                f"Tried again in {_duration(retry)}."
            )
            return ParseResult(warnings=[warning], state={"site_table": state})
        sites, missing, warnings = {}, [], []
        for site_id in wanted:
            info = found.get(site_id)
            if info is None:
                missing.append(site_id)
                warnings.append(
                    f"Site {site_id} is not in the measurement site table at {url}: stored without name or "
                    "position, lanes inferred."
                )
            elif "error" in info:
                missing.append(site_id)
                warnings.append(
                    f"Site {site_id}: its record in the measurement site table cannot be read "
                    f"({info['error']}); stored without name or position, lanes inferred."
                )
            else:
                sites[site_id] = info
        state = {
            "url": url,
            "read_at": now.isoformat(),
            "tried_at": now.isoformat(),
            "error": "",
            "sites": sites,
            "missing": missing,
        }
        return ParseResult(warnings=warnings, state={"site_table": state})

    # --- helpers --------------------------------------------------------------------------------------

    def _url(self) -> str:
        return self.config.get("url") or DEFAULT_URL

    def _site_table_url(self) -> str:
        url = self.config.get("site_table_url")
        return DEFAULT_SITE_TABLE_URL if url is None else url

    def _site_table_age(self) -> timedelta:
        return timedelta(hours=self.config.get("site_table_hours") or SITE_TABLE_HOURS)

    def _table_sites(self) -> dict:
        cached = self.state.get("site_table")
        if not isinstance(cached, dict) or cached.get("url") != self._site_table_url():
            return {}
        sites = cached.get("sites")
        return sites if isinstance(sites, dict) else {}

    def _now(self) -> datetime:
        return self.now or timezone.now()


# --- reading the XML ----------------------------------------------------------------------------------


def _events(body: bytes, *, where: str, tags: tuple[str, ...], what: str):
    """Stream (event, element) of the (gzipped) XML for ``tags``, then ("root", root element).

    The real files are tens of megabytes of XML: they are parsed incrementally, and the caller drops every
    element once read, so memory stays small whatever the file's size. Damaged input raises ParseError.
    """
    try:
        if body[:2] == b"\x1f\x8b":  # gzip magic: the file as NDW publishes it
            stream = gzip.GzipFile(fileobj=io.BytesIO(body))
            head = stream.peek(512)[:512]
        else:  # plain XML, e.g. when a proxy already decompressed it
            stream, head = io.BytesIO(body), body[:512]
        head = head.lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")):
            raise ParseError(f"{where} sent an HTML page, not the NDW DATEX II XML file: check the url.")
        events = etree.iterparse(
            stream,
            events=("start", "end"),
            tag=tags,
            resolve_entities=False,  # untrusted input: no entity expansion, no network
            no_network=True,
        )
        yield from events
        yield "root", events.root
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ParseError(
            f"{where} is a damaged gzip file ({exc}): the download was cut off or the file is corrupt.",
            retryable=True,
        ) from exc
    except etree.XMLSyntaxError as exc:
        cut_off = "Premature end" in str(exc.msg or exc) or "EndTag" in str(exc.msg or exc)
        raise ParseError(
            f"{where} is not valid XML ({exc.msg or exc}): "
            + ("the download was cut off." if cut_off else f"expected {what}."),
            retryable=cut_off,
        ) from exc


MODEL_TAGS = ("{*}d2LogicalModel", "{*}messageContainer", "{*}payloadPublication", "{*}payload")


def _model_version(element) -> int | None:
    """2 or 3 when ``element`` is a DATEX II model or payload element of that version, else None."""
    qname = etree.QName(element)
    namespace = qname.namespace or ""
    if qname.localname in ("d2LogicalModel", "messageContainer", "payload"):
        if namespace.startswith(V3_NAMESPACE):
            return 3
        if namespace.startswith(V2_NAMESPACE) or qname.localname == "d2LogicalModel":
            return 2  # a d2LogicalModel outside the v3 namespaces is read as v2, as before
    return None


def _check_payload_type(element, expected: str, *, where: str, hint: str) -> None:
    kind = (element.get(XSI_TYPE) or "").rpartition(":")[2]
    if kind and kind != expected:
        raise ParseError(f"{where} holds a DATEX II {kind}, not a {expected}: {hint}")


def _not_datex(root, where: str) -> ParseError:
    found = f"<{etree.QName(root).localname}>" if root is not None else "no XML element"
    return ParseError(
        f"{where} is not DATEX II: found {found} where a SOAP envelope with a d2LogicalModel (v2) or a "
        "messageContainer (v3) was expected."
    )


def _free(element) -> None:
    """Drop what was read: the parser keeps the tree, and the tree would hold the whole file."""
    element.clear(keep_tail=False)
    while element.getprevious() is not None:
        del element.getparent()[0]


def read_sites(
    body: bytes, wanted: set[str], *, where: str
) -> tuple[dict[str, tuple[datetime | None, str | None, list[Value]]], datetime | None]:
    """The (time, site record version, values) of the wanted sites of a measured data file, and its
    publicationTime. DATEX II v2 and v3 alike."""
    sites: dict[str, tuple[datetime | None, str | None, list[Value]]] = {}
    publication_time = None
    version = None
    reader = _SiteReader()
    tags = (*MODEL_TAGS, "{*}publicationTime", "{*}siteMeasurements")
    for event, element in _events(body, where=where, tags=tags, what="the NDW DATEX II file"):
        if event == "root":
            if version is None:
                raise _not_datex(element, where)
            break
        name = etree.QName(element).localname
        if event == "start":
            version = version or _model_version(element)
            if name in ("payloadPublication", "payload"):
                _check_payload_type(
                    element, "MeasuredDataPublication", where=where, hint="the url should point at "
                    "trafficspeed.xml.gz."
                )  # fmt: skip
            continue
        if name == "publicationTime":
            publication_time = publication_time or _time(element.text)
        elif name == "siteMeasurements":
            reference = element.find("{*}measurementSiteReference")
            site_id = reference.get("id") if reference is not None else None
            if site_id in wanted:
                text, values = reader.read(element, version or 2)
                sites[site_id] = (reader.time(text), reference.get("version"), values)
            _free(element)
    return sites, publication_time


def _time(text: str | None) -> datetime | None:
    # DATEX II times are UTC ("Z"); a time without offset is read as UTC, never as local time.
    return instant_or_none(text, naive_zone=UTC)


def _parse_time(text) -> datetime | None:
    return instant_or_none(text)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


SITE_TAGS = {  # what a wanted site's values are read from, per DATEX II version (in document order)
    version: (f"{{*}}{tag}", "{*}basicData", "{*}vehicleFlowRate", "{*}speed", "{*}dataError",
              "{*}measurementTimeDefault", "{*}timeValue")
    for version, tag in VALUE_TAG.items()
}  # fmt: skip
# What an element is, by its name in any namespace; tags are few, so their codes are remembered per tag.
VALUE, BASIC, RATE, SPEED_VALUE, ERROR, TIME_DEFAULT, TIME_VALUE, FLOW_DATA, SPEED_DATA = range(1, 10)
CODES = {
    "measuredValue": VALUE, "physicalQuantity": VALUE, "basicData": BASIC, "vehicleFlowRate": RATE,
    "speed": SPEED_VALUE, "dataError": ERROR, "measurementTimeDefault": TIME_DEFAULT, "timeValue": TIME_VALUE,
    "vehicleFlow": FLOW_DATA, "averageVehicleSpeed": SPEED_DATA,
}  # fmt: skip
_tag_codes: dict[str, int] = {}


def _code(tag) -> int:
    code = _tag_codes.get(tag)
    if code is None:
        code = CODES.get(tag[tag.rfind("}") + 1 :], 0) if type(tag) is str else 0
        if len(_tag_codes) < 1000:  # untrusted input may invent names: keep the memory bounded
            _tag_codes[tag] = code
    return code


def _read_site(site: etree._Element, version: int) -> tuple[str | None, list[Value]]:
    """The measurementTimeDefault text and the TrafficFlow / TrafficSpeed values of one siteMeasurements."""
    return _SiteReader().read(site, version)


# --- reading a wanted site fast -----------------------------------------------------------------------
#
# A shared parse reads thousands of wanted sites a minute, and walking a site's elements from Python
# (_scan_site) costs more than lxml building them. _SiteReader has lxml serialize the site instead (in C)
# and splits the text at each indexed value. NDW writes the same value blocks over and over (the index,
# the type, the count or the speed, their attributes), so each distinct block is read once per file and
# remembered: a site is then mostly a split and a dictionary lookup per value.
#
# The text is read only when it is exactly the plain layout below, else _scan_site reads the site, so the
# result is always what _scan_site finds in the tree (the same _keep makes the values): element names with
# any (or no) prefix, as {*} matches them; whitespace between elements; no comment, processing instruction,
# CDATA, entity or character reference where a value is read; no namespace declaration below the site's
# start tag, which binds xsi to the XMLSchema-instance namespace; a measurementSiteReference, then indexed
# values of one TrafficFlow / vehicleFlow / vehicleFlowRate or TrafficSpeed / averageVehicleSpeed / speed
# each (with an optional dataError and reasonForDataError), and one measurementTimeDefault (a text or a
# timeValue) at most, before (v2) or after (v3) the values.

_PREFIX = r"(?:[\w.-]+:)?"
_ATTRIBUTES = r'(?: (?!xmlns)[^\s=<>"/]+="[^"]*")*'  # any, except namespace declarations
_ATTRIBUTE = re.compile(r' ([^\s=<>"/]+)="([^"]*)"')
_NAME_PREFIX = re.compile(_PREFIX)
_START_TAG = re.compile(r'<[^\s=<>"/]+((?: [^\s=<>"/]+="[^"]*")*)>')
_SITE_REFERENCE = re.compile(rf"\s*<{_PREFIX}measurementSiteReference\b[^<>]*/>")
_TIME_DEFAULT = re.compile(
    rf"\s*(?:<{_PREFIX}measurementTimeDefault{_ATTRIBUTES}"
    rf"(?:/>|>(?P<text>[^<&]*)</{_PREFIX}measurementTimeDefault>"
    rf"|>\s*<{_PREFIX}timeValue{_ATTRIBUTES}(?:/>|>(?P<value>[^<&]*)</{_PREFIX}timeValue>)"
    rf"\s*</{_PREFIX}measurementTimeDefault>)\s*)?"
)
_VALUE_BLOCK = {  # what follows '<prefix:measuredValue index="', up to that element's end tag
    version: re.compile(
        rf'(?P<index>\d+)"{_ATTRIBUTES}>\s*'
        rf'<{_PREFIX}{tag}(?: (?!xmlns|index=)[^\s=<>"/]+="[^"]*")*>\s*'
        rf'<{_PREFIX}basicData{_ATTRIBUTES} xsi:type="(?:[^"&]*:)?(?P<kind>{FLOW}|{SPEED})"{_ATTRIBUTES}>\s*'
        rf"<{_PREFIX}(?P<data>vehicleFlow|averageVehicleSpeed)(?P<attributes>{_ATTRIBUTES})>\s*"
        rf"(?:<{_PREFIX}dataError{_ATTRIBUTES}>(?P<error>[^<&]*)</{_PREFIX}dataError>\s*)?"
        rf"(?:<{_PREFIX}reasonForDataError{_ATTRIBUTES}>\s*(?:<{_PREFIX}values{_ATTRIBUTES}>\s*"
        rf"(?:<{_PREFIX}value{_ATTRIBUTES}>[^<&]*</{_PREFIX}value>\s*)*</{_PREFIX}values>\s*)?"
        rf"</{_PREFIX}reasonForDataError>\s*)?"
        rf"<{_PREFIX}(?P<leaf>vehicleFlowRate|speed){_ATTRIBUTES}"
        rf"(?:/>|>(?P<text>[^<&]*)</{_PREFIX}(?P=leaf)>)\s*"
        rf"</{_PREFIX}(?P=data)>\s*</{_PREFIX}basicData>\s*</{_PREFIX}{tag}>\s*</{_PREFIX}{tag}>\s*"
    )
    for version, tag in VALUE_TAG.items()
}
_MARKER = {version: f'{tag} index="' for version, tag in VALUE_TAG.items()}
_SCHEMA_PATH = {FLOW: ("vehicleFlow", "vehicleFlowRate"), SPEED: ("averageVehicleSpeed", "speed")}


class _Memo(dict):
    """What ``read`` says of a piece of a site's text, remembered for the file (the pieces repeat)."""

    def __init__(self, read):
        super().__init__()
        self.read = read

    def __missing__(self, text: str):
        found = self[text] = self.read(text)
        return found


class _SiteReader:
    """Reads the wanted sites of one file: _read_site for each, and _time of their times."""

    def __init__(self):
        self._prefixes = _Memo(lambda text: _NAME_PREFIX.fullmatch(text) is not None)
        self._start_tags = _Memo(_binds_xsi)
        self._time_defaults = _Memo(_time_default)
        self._blocks = {version: _Memo(partial(_block_value, version=version)) for version in VALUE_TAG}
        self._times = _Memo(_time)  # the sites of a file mostly share their measurement time

    def read(self, site: etree._Element, version: int) -> tuple[str | None, list[Value]]:
        try:
            found = self._plain(site, version)
        except (ValueError, OverflowError):  # an index too large for an integer: _scan_site raises it
            found = None
        return found or _scan_site(site, version)

    def time(self, text: str | None) -> datetime | None:
        return self._times[text]

    def _plain(self, site: etree._Element, version: int) -> tuple[str | None, list[Value]] | None:
        """(time text, values) of a site in the plain layout; None for any other site."""
        text = etree.tostring(site, encoding="unicode", with_tail=False)
        marker = _MARKER[version]
        at = text.find(marker)
        start = text.rfind("<", 0, at)
        if at < 0 or start < 0 or not self._prefixes[text[start + 1 : at]]:
            return None
        blocks = text.split(text[start : at + len(marker)])
        # Before the values: the site's start tag, its reference, perhaps a measurementTimeDefault (v2).
        head = blocks[0]
        start_end = head.find(">") + 1  # a serialized attribute value has no ">"
        reference_end = head.find("/>", start_end) + 2
        if (
            reference_end < 2
            or _SITE_REFERENCE.fullmatch(head, start_end, reference_end) is None
            or not self._start_tags[head[:start_end]]
        ):
            return None
        time_default = self._time_defaults[head[reference_end:]]
        # After them: the site's end tag, perhaps after a measurementTimeDefault (v3).
        last = blocks[-1]
        last = last[: last.rfind("</")]
        after = last.find("measurementTimeDefault")
        if after >= 0:
            after = last.rfind("<", 0, after)
            if after < 0 or time_default != (None,):
                return None  # not one measurementTimeDefault
            time_default = self._time_defaults[last[after:]]  # from a "<": not an empty one
            last = last[:after]
        if time_default is None:
            return None
        blocks[-1] = last
        del blocks[0]
        values = list(map(self._blocks[version].__getitem__, blocks))
        if None in values:
            return None
        values.sort(key=_by_index)
        return time_default[0], values


def _binds_xsi(start_tag: str) -> bool:
    match = _START_TAG.fullmatch(start_tag)
    return match is not None and dict(_ATTRIBUTE.findall(match[1])).get("xmlns:xsi") == XSI_NAMESPACE


def _time_default(text: str) -> tuple[str | None] | None:
    """(its text,) of the measurementTimeDefault that is ``text``, (None,) of none; None: not plain."""
    match = _TIME_DEFAULT.fullmatch(text)
    if match is None:
        return None
    return (match["text"] if match["text"] is not None else match["value"],)


def _block_value(block: str, *, version: int) -> Value | None:
    """The Value of one indexed value block in the plain layout; None for any other block."""
    match = _VALUE_BLOCK[version].fullmatch(block)
    if match is None or _SCHEMA_PATH[match["kind"]] != (match["data"], match["leaf"]):
        return None
    inputs = dict(_ATTRIBUTE.findall(match["attributes"])).get("numberOfInputValuesUsed")
    if inputs is not None and "&" in inputs:
        return None  # a reference: the attribute's value is not what the text says
    error = (match["error"] or "").strip() == "true"
    kept: list[Value] = []
    _keep(kept, match["index"], match["kind"], match["text"], error, inputs)
    return kept[0] if kept else None


def _scan_site(site: etree._Element, version: int) -> tuple[str | None, list[Value]]:
    """What _read_site returns, for any siteMeasurements: the reading that defines what a site says.

    One pass over the relevant descendants (lxml filters them in C) with a lookup per tag. A value counts
    only where the schema puts it (``vehicleFlow/vehicleFlowRate``, ``averageVehicleSpeed/speed`` and their
    ``dataError``), not in other speed or flow values a TrafficSpeed or TrafficFlow may carry. It costs
    about 60 µs a site in Python; _SiteReader reads the sites NDW writes in a tenth of that.
    """
    time_text = None
    values: list[Value] = []
    index = kind = text = inputs = None  # of the value being read
    error = False
    for element in site.iter(*SITE_TAGS[version]):
        code = _code(element.tag)
        if code == VALUE:
            outer = element.get("index")
            if outer is not None:  # a new indexed value (its inner element has no index)
                if kind is not None:
                    _keep(values, index, kind, text, error, inputs)
                index, kind, text, error, inputs = outer, None, None, False, None
        elif code == BASIC:
            if index is not None:
                kind = (element.get(XSI_TYPE) or "").rpartition(":")[2]
        elif code in (RATE, SPEED_VALUE, ERROR):
            if kind not in (FLOW, SPEED):
                continue
            parent = element.getparent()
            data = _code(parent.tag) if parent is not None else 0
            if data != (FLOW_DATA if kind == FLOW else SPEED_DATA):
                continue  # e.g. a speed percentile or a normally expected flow
            if code == ERROR:
                error = (element.text or "").strip() == "true"
            elif code == (RATE if kind == FLOW else SPEED_VALUE):
                text, inputs = element.text, parent.get("numberOfInputValuesUsed")
        elif code == TIME_DEFAULT:
            if len(element) == 0:
                time_text = element.text
        elif code == TIME_VALUE:
            parent = element.getparent()
            if parent is not None and _code(parent.tag) == TIME_DEFAULT:
                time_text = element.text
    if kind is not None:
        _keep(values, index, kind, text, error, inputs)
    values.sort(key=_by_index)
    return time_text, values


def _keep(values: list[Value], index, kind, text, error, inputs) -> None:
    if kind not in (FLOW, SPEED):
        return  # other basicData types (travel times, headways) are not used
    number = _number(index)
    if number is None:
        return
    value = None if error else _number(text)
    if kind == SPEED and inputs == "0":
        value = None  # a speed averaged over no vehicles is no speed (some suppliers then send 0)
    if value is not None and (value < 0 or not math.isfinite(value)):
        value = None
    values.append(Value(int(number), kind, value))


def _values(site: etree._Element, version: int = 2) -> list[Value]:
    """The TrafficFlow and TrafficSpeed values of one siteMeasurements, in index order."""
    return _read_site(site, version)[1]


_by_index = attrgetter("index")  # the sort key of a site's values (in C: a site has dozens)
_VALUE_OF = attrgetter("value")
_KIND_OF = attrgetter("kind")


# --- the measurement site table -----------------------------------------------------------------------


def _table_where(url: str) -> str:
    return f"The measurement site table at {url}" if url else "The measurement site table"


def read_site_table(body: bytes, wanted: set[str], *, where: str) -> dict[str, dict]:
    """What a measurement site table (v2 or v3) says about the wanted sites, by site id.

    Per site: ``{"name", "location": [lon, lat] or None, "version", "lanes": [[lane, [flow indexes], speed
    index or None], ...]}``, JSON-ready for the source's state; ``{"error": reason}`` for a record that cannot
    be read. ParseError when the file is not a site table at all.
    """
    found: dict[str, dict] = {}
    version = None
    tags = (*MODEL_TAGS, "{*}measurementSiteRecord", "{*}measurementSite")
    for event, element in _events(body, where=where, tags=tags, what="the NDW measurement site table"):
        if event == "root":
            if version is None:
                raise _not_datex(element, where)
            break
        name = etree.QName(element).localname
        if event == "start":
            version = version or _model_version(element)
            if name in ("payloadPublication", "payload"):
                _check_payload_type(
                    element, "MeasurementSiteTablePublication", where=where,
                    hint="site_table_url should point at measurement_current.xml.gz.",
                )  # fmt: skip
            continue
        if name in ("measurementSiteRecord", "measurementSite"):
            site_id = element.get("id")
            if site_id in wanted:
                try:
                    found[site_id] = _site_record(element)
                except ValueError as exc:
                    found[site_id] = {"error": str(exc)}
            _free(element)
    return found


def _site_record(record) -> dict:
    name_element = record.find("{*}measurementSiteName")
    name = ""
    if name_element is not None:
        name = " ".join((name_element.findtext(".//{*}value") or "").split())
    return {
        "name": name[:150],
        "location": _location(record.find("{*}measurementSiteLocation")),
        "version": record.get("version") or "",
        "lanes": _lane_plan(record),
    }


def _location(element) -> list[float] | None:
    """[lon, lat] of a measurementSiteLocation: pointByCoordinates, locationForDisplay, first linear point."""
    if element is None:
        return None
    for path in (
        ".//{*}pointByCoordinates/{*}pointCoordinates",
        ".//{*}locationForDisplay",
        ".//{*}linearCoordinatesStartPoint/{*}pointCoordinates",
        ".//{*}pointCoordinates",
    ):
        point = element.find(path)
        if point is not None:
            return _coordinates(point.findtext("{*}latitude"), point.findtext("{*}longitude"))
    positions = (element.findtext(".//{*}posList") or "").split()
    if len(positions) >= 2:  # DATEX II v3 GmlLineString: "latitude longitude" pairs
        return _coordinates(positions[0], positions[1])
    return None


def _coordinates(latitude: str | None, longitude: str | None) -> list[float] | None:
    if latitude is None or longitude is None:
        return None
    lat, lon = _number(latitude), _number(longitude)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"position {latitude!r}, {longitude!r} is not a WGS84 latitude and longitude")
    return [lon, lat]


def _lane_plan(record) -> list:
    """Per lane (in table order): the flow indexes to add up and the speed index, for lanes_from_table."""
    lanes: dict[str, dict[str, list[int]]] = {}
    for outer in record.iterfind("{*}measurementSpecificCharacteristics"):
        text = outer.get("index")
        try:
            index = int(text)
        except (TypeError, ValueError):
            raise ValueError(f"index {text!r} is not a number") from None
        inner = outer.find("{*}measurementSpecificCharacteristics")
        if inner is None:
            continue
        kind = (inner.findtext("{*}specificMeasurementValueType") or "").strip()
        if kind not in ("trafficFlow", "trafficSpeed"):
            continue
        lane_element = inner.find("{*}specificLane")
        lane = " ".join("".join(lane_element.itertext()).split()) if lane_element is not None else ""
        lane = f"lane{lane}" if lane.isdigit() else lane  # v3 gives a laneNumber, v2 "lane1"
        category = _vehicle_category(inner.find("{*}specificVehicleCharacteristics"))
        lanes.setdefault(lane, {}).setdefault(f"{kind}:{category}", []).append(index)
    plan = []
    for lane, found in lanes.items():
        if found.get("trafficFlow:any"):
            flow = found["trafficFlow:any"][:1]
        elif found.get("trafficFlow:length") and not found.get("trafficFlow:other"):
            flow = found["trafficFlow:length"]  # length classes split the lane's vehicles: their sum
        else:
            flow = []
        speeds = found.get("trafficSpeed:any")
        plan.append([lane, flow, speeds[0] if speeds else None])
    return plan


def _vehicle_category(characteristics) -> str:
    """'any' (every vehicle), 'length' (a length class) or 'other' (a vehicle type or another split)."""
    if characteristics is None or len(characteristics) == 0:
        return "any"
    types = [(t.text or "").strip() for t in characteristics.iterfind("{*}vehicleType")]
    if "anyVehicle" in types:
        return "any"
    if not types and characteristics.find("{*}lengthCharacteristic") is not None:
        return "length"
    return "other"


def lanes_from_table(values: list[Value], plan: list) -> list[Lane] | None:
    """The lanes of a site by the site table's plan; None when the values do not fit it (then: lanes_of)."""
    by_index = {v.index: v for v in values}
    lanes = []
    for _lane, flow_indexes, speed_index in plan:
        flows = [by_index.get(i) for i in flow_indexes]
        if any(v is None or v.kind != FLOW for v in flows):
            return None
        speed = by_index.get(speed_index) if speed_index is not None else None
        if speed_index is not None and (speed is None or speed.kind != SPEED):
            return None
        valid = flows and all(v.value is not None for v in flows)
        flow = float(sum(v.value for v in flows)) if valid else None
        lanes.append(Lane(flow=flow, speed=speed.value if speed is not None else None))
    if not any(flow_indexes or speed_index is not None for _lane, flow_indexes, speed_index in plan):
        return None
    return lanes


# --- lanes without the table, and the site totals -----------------------------------------------------


def lanes_of(values: list[Value]) -> list[Lane]:
    """Group values into lanes: a run of flows then a run of speeds; the last of each run is anyVehicle."""
    lanes: list[Lane] = []
    pending_flow: list[float | None] | None = None
    for kind, run in groupby(values, _KIND_OF):  # the runs of values of one kind
        if kind == FLOW:
            if pending_flow is not None:
                lanes.append(Lane(_run_total(pending_flow), None))
            pending_flow = list(map(_VALUE_OF, run))
        else:
            *_, last = run
            lanes.append(Lane(_run_total(pending_flow) if pending_flow is not None else None, last.value))
            pending_flow = None
    if pending_flow is not None:
        lanes.append(Lane(_run_total(pending_flow), None))
    return lanes


def _run_total(run: list[float | None]) -> float | None:
    total, parts = run[-1], run[:-1]
    if total is not None and parts and None not in parts and total < sum(parts):
        # A total below its parts: these are not classes plus anyVehicle but several lanes without speeds.
        return float(sum(parts) + total)
    return total


def site_totals(lanes: list[Lane]) -> tuple[float | None, float | None]:
    """(vehicle_flow, vehicle_speed) of a site: summed lane flows and the flow-weighted mean lane speed."""
    flows = [lane.flow for lane in lanes if lane.flow is not None]
    flow = float(sum(flows)) if flows else None
    weighted = [(lane.flow, lane.speed) for lane in lanes if lane.flow and lane.speed is not None]
    if weighted:
        speed = sum(f * s for f, s in weighted) / sum(f for f, _ in weighted)
    elif not flows:
        # No valid flow to weigh with (a speed-only site, or flows in error): the plain mean of the speeds.
        speeds = [lane.speed for lane in lanes if lane.speed is not None]
        speed = sum(speeds) / len(speeds) if speeds else None
    else:
        speed = None  # valid flows, all 0: no vehicles passed, so there is no speed
    return flow, (round(speed, 1) if speed is not None else None)


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return "an hour" if hours == 1 else f"{hours:g} hours"
