"""NDW traffic counts: the national open data file ``trafficspeed.xml.gz`` (DATEX II v2, every minute).

The file is a gzip of a SOAP envelope around a ``d2LogicalModel`` / ``MeasuredDataPublication``: one
``siteMeasurements`` per measurement site, holding ``measuredValue index=N`` elements whose ``basicData``
is a ``TrafficFlow`` (vehicles per hour) or a ``TrafficSpeed`` (km/h). ``-1`` or ``dataError=true`` means
no valid value.

The indexes are not lanes. NDW orders them by lane, then measurement type, then vehicle category, with
``anyVehicle`` last in each run (docs.ndw.nu, measurementSpecificCharacteristics). A lane with vehicle
length classes therefore reads ``flow <5.6 m, flow 5.6-12.2 m, ..., flow anyVehicle, speed <5.6 m, ...,
speed anyVehicle``; a lane without classes reads ``flow, speed``. Summing every flow would count the
vehicles of a classified lane twice, so a lane is a run of flows followed by a run of speeds and its value
is the last (``anyVehicle``) one of each run. This connector reads no measurement site table, so a site
that publishes flows of several lanes without any speed looks like one lane with classes: its last flow
is taken, unless it is smaller than the values before it (then they cannot be classes and are summed).

Readings per configured site, at its ``measurementTimeDefault``:
- ``vehicle_flow``: sum over lanes of the valid ``anyVehicle`` flow, vehicles/h;
- ``vehicle_speed``: mean of the valid lane speeds weighted by the lane's flow, km/h. Without traffic
  (every valid flow 0) there is no speed: NDW then reports -1 or a 0 computed from no vehicles, and a
  0 km/h reading would look like a standstill.
"""

import gzip
import io
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import Connector, DataInventory, ParseError, ParseResult, Payload, Reading

DEFAULT_URL = "https://opendata.ndw.nu/trafficspeed.xml.gz"
MAX_SITES = 500
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
FLOW, SPEED = "TrafficFlow", "TrafficSpeed"


@dataclass(frozen=True)
class Value:
    """One measuredValue of a site: its index, TrafficFlow or TrafficSpeed, and the value when valid."""

    index: int
    kind: str
    value: float | None  # None: -1, dataError, unparsable, or a speed computed from no vehicles


@dataclass(frozen=True)
class Lane:
    """The anyVehicle flow and speed of one lane (None when missing or invalid)."""

    flow: float | None
    speed: float | None


@register
class NdwTrafficConnector(Connector):
    kind = "ndw_traffic"
    label = "NDW traffic counts (DATEX II)"
    description = (
        "Vehicle flow and average speed per road measurement site from the national NDW open data file "
        "trafficspeed.xml.gz, updated every minute. Give the ids of the measurement sites to keep (find them "
        "on the NDW map or in measurement_current.xml). Per site: vehicles per hour over all lanes, and the "
        "mean speed in km/h weighted by each lane's flow. Vehicle length classes are not counted twice."
    )
    default_poll_interval = 60
    stores = (
        "Per configured NDW measurement site and minute: vehicles per hour over all lanes and their average "
        "speed in km/h. Road traffic totals only: no vehicles, number plates or people."
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
                "description": "Where to download trafficspeed.xml.gz (gzip or plain XML).",
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
        },
        "required": ["sites"],
        "additionalProperties": False,
    }

    def fetch(self) -> list[Payload]:
        url = self.config.get("url") or DEFAULT_URL
        response = self.http.get(url)
        return [
            Payload(
                body=response.content,
                url=url,
                content_type=response.headers.get("content-type", ""),
                status=response.status_code,
            )
        ]

    def parse(self, payload: Payload) -> ParseResult:
        wanted = list(dict.fromkeys(self.config["sites"]))
        sites, publication_time = read_sites(payload.body, set(wanted), where=payload.url or "The NDW file")
        readings, warnings = [], []
        for site_id in wanted:
            if site_id not in sites:
                warnings.append(
                    f"Site {site_id} is not in the NDW file: check the id (NDW gives a site a new id "
                    "when its lanes change)."
                )
                continue
            time, values = sites[site_id]
            time = time or publication_time
            if time is None:
                warnings.append(f"Site {site_id} has no measurement time; skipped.")
                continue
            if all(v.value is None for v in values):
                warnings.append(f"Site {site_id}: every value is invalid (-1 or dataError); nothing stored.")
                continue
            flow, speed = site_totals(lanes_of(values))
            for metric, value in ((Metric.VEHICLE_FLOW, flow), (Metric.VEHICLE_SPEED, speed)):
                if value is not None:
                    readings.append(
                        Reading(
                            key=f"{site_id}:{metric.value}",
                            metric=metric.value,
                            time=time,
                            value=value,
                            unit=DEFAULT_UNITS[metric],
                            name=f"{site_id} {metric.label}",
                            facility=site_id,
                        )
                    )
        return ParseResult(readings=readings, warnings=warnings)


def read_sites(
    body: bytes, wanted: set[str], *, where: str
) -> tuple[dict[str, tuple[datetime | None, list[Value]]], datetime | None]:
    """Stream the (gzipped) DATEX II file and return the values of the wanted sites, and publicationTime.

    The real file is about 50 MB of XML: it is parsed incrementally and every element is dropped once
    read, so memory stays small whatever the file's size.
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
            tag=("{*}d2LogicalModel", "{*}payloadPublication", "{*}publicationTime", "{*}siteMeasurements"),
            resolve_entities=False,  # untrusted input: no entity expansion, no network
            no_network=True,
        )
        sites: dict[str, tuple[datetime | None, list[Value]]] = {}
        publication_time = None
        seen_model = False
        for event, element in events:
            name = etree.QName(element).localname
            if event == "start":
                if name == "d2LogicalModel":
                    seen_model = True
                elif name == "payloadPublication":
                    kind = (element.get(XSI_TYPE) or "").rpartition(":")[2]
                    if kind and kind != "MeasuredDataPublication":
                        raise ParseError(
                            f"{where} holds a DATEX II {kind}, not a MeasuredDataPublication: the url should "
                            "point at trafficspeed.xml.gz."
                        )
                continue
            if name == "publicationTime":
                publication_time = _time(element.text)
            elif name == "siteMeasurements":
                reference = element.find("{*}measurementSiteReference")
                site_id = reference.get("id") if reference is not None else None
                if site_id in wanted:
                    sites[site_id] = (_time(element.findtext("{*}measurementTimeDefault")), _values(element))
                # Free what was read: the parser keeps the tree, and the tree would hold the whole file.
                element.clear(keep_tail=False)
                while element.getprevious() is not None:
                    del element.getparent()[0]
        if not seen_model:
            root = events.root
            found = f"<{etree.QName(root).localname}>" if root is not None else "no XML element"
            raise ParseError(
                f"{where} is not DATEX II: found {found} where a SOAP envelope with a d2LogicalModel was "
                "expected."
            )
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ParseError(
            f"{where} is a damaged gzip file ({exc}): the download was cut off or the file is corrupt.",
            retryable=True,
        ) from exc
    except etree.XMLSyntaxError as exc:
        cut_off = "Premature end" in str(exc.msg or exc) or "EndTag" in str(exc.msg or exc)
        raise ParseError(
            f"{where} is not valid XML ({exc.msg or exc}): "
            + ("the download was cut off." if cut_off else "expected the NDW DATEX II file."),
            retryable=cut_off,
        ) from exc
    return sites, publication_time


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    # DATEX II times are UTC ("Z"); a time without offset is read as UTC, never as local time.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _values(site: etree._Element) -> list[Value]:
    """The TrafficFlow and TrafficSpeed values of one siteMeasurements, in index order."""
    values = []
    for measured in site.iterfind("{*}measuredValue"):
        basic = measured.find("{*}measuredValue/{*}basicData")
        index = _number(measured.get("index"))
        if basic is None or index is None:
            continue
        kind = (basic.get(XSI_TYPE) or "").rpartition(":")[2]
        if kind == FLOW:
            data = basic.find("{*}vehicleFlow")
            number = _number(data.findtext("{*}vehicleFlowRate")) if data is not None else None
        elif kind == SPEED:
            data = basic.find("{*}averageVehicleSpeed")
            number = _number(data.findtext("{*}speed")) if data is not None else None
            if data is not None and data.get("numberOfInputValuesUsed") == "0":
                number = None  # a speed averaged over no vehicles is no speed (some suppliers then send 0)
        else:
            continue  # other basicData types (travel times, headways) are not used
        if data is not None and (data.findtext("{*}dataError") or "").strip() == "true":
            number = None
        if number is not None and number < 0:
            number = None
        values.append(Value(index=int(index), kind=kind, value=number))
    return sorted(values, key=lambda v: v.index)


def lanes_of(values: list[Value]) -> list[Lane]:
    """Group values into lanes: a run of flows then a run of speeds; the last of each run is anyVehicle."""
    runs: list[tuple[str, list[float | None]]] = []
    for value in values:
        if runs and runs[-1][0] == value.kind:
            runs[-1][1].append(value.value)
        else:
            runs.append((value.kind, [value.value]))
    lanes: list[Lane] = []
    pending_flow: list[float | None] | None = None
    for kind, run in runs:
        if kind == FLOW:
            if pending_flow is not None:
                lanes.append(Lane(flow=_run_total(pending_flow), speed=None))
            pending_flow = run
        else:
            lanes.append(
                Lane(flow=_run_total(pending_flow) if pending_flow is not None else None, speed=run[-1])
            )
            pending_flow = None
    if pending_flow is not None:
        lanes.append(Lane(flow=_run_total(pending_flow), speed=None))
    return lanes


def _run_total(run: list[float | None]) -> float | None:
    total, parts = run[-1], run[:-1]
    if total is not None and parts and all(p is not None for p in parts) and total < sum(parts):
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
