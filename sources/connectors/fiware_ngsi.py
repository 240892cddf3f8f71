"""Entities of a FIWARE context broker: NGSI v2 (Orion) or NGSI-LD (Orion-LD, Scorpio, Stellio).

Many European smart-city platforms publish their sensors through such a broker. fetch pages through every
entity of one type, following ``limit``/``offset`` until the broker's total count (or a short page) says
the end is reached, never reading more than ``max_entities`` (a warning says when it stopped there):

    NGSI v2:  GET {base_url}/v2/entities?type=T&options=count[,keyValues]&limit=100&offset=0
              headers Fiware-Service, Fiware-ServicePath; total in the Fiware-Total-Count header
    NGSI-LD:  GET {base_url}/ngsi-ld/v1/entities?type=T[&options=keyValues]&count=true&limit=100&offset=0
              headers NGSILD-Tenant, Link (the @context); total in the NGSILD-Results-Count header

Both the normalized representation (v2 ``{"type", "value", "metadata"}``, LD ``{"type": "Property",
"value", "observedAt"}`` and GeoProperty) and keyValues are read. Each page is one payload.

The Smart Data Models ``CrowdFlowObserved`` type is built in: ``peopleCount`` over the observation window
(``dateObservedFrom``..``dateObservedTo``, or an interval in ``dateObserved``) becomes ``people_passing``
in persons per minute (a 5-minute count of 100 is 20.0), stored at the end of the window, and so do
``peopleCountTowards`` / ``peopleCountAway`` as two more series (keys ``<id>:towards`` and ``<id>:away``).
A count without a window is skipped with a warning unless ``interval_minutes`` gives the counting period.
``occupancy`` (a fraction of time, not a count) is not stored unless ``attributes`` maps it. A counting
line (LineString) is placed at its middle and its geodesic length is the line's width (``line_width_m``).
Other entity types are read through ``attributes``: {attribute: metric}, e.g. OffStreetParking
``availableSpotNumber`` -> parking_vacant, WeatherObserved ``temperature`` -> temperature; their time is
the attribute's own (LD ``observedAt``, v2 ``TimeInstant`` metadata), else the entity's ``dateObserved``
or ``TimeInstant``. NGSI times are UTC: a time without an offset is skipped with a warning, never guessed.
"""

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
from pyproj import Geod

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import Connector, DataInventory, FetchError, ParseError, ParseResult, Payload, Reading
from .generic_json import (
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_RECORD_WARNINGS,
    SLUG_PATTERN,
    _middle,
    _show,
    as_number,
    decode_json,
    parse_iso_interval,
    schema_default,
)

GEOD = Geod(ellps="WGS84")
CROWD_FLOW = "CrowdFlowObserved"
# attribute -> (series key suffix, series name suffix): the built-in CrowdFlowObserved counts
CROWD_FLOW_COUNTS = {
    "peopleCount": ("", ""),
    "peopleCountTowards": (":towards", " (towards)"),
    "peopleCountAway": (":away", " (away)"),
}
ENTITY_TIME_ATTRIBUTES = ("dateObservedTo", "dateObserved", "TimeInstant")  # in this order
LD_CONTEXT_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
HEADER_NAME = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # an HTTP token (RFC 9110)
OWN_HEADERS = frozenset({"accept", "fiware-service", "fiware-servicepath", "ngsild-tenant", "link"})
PATHS = {"v2": "/v2/entities", "ld": "/ngsi-ld/v1/entities"}
TOTAL_HEADERS = {"v2": "Fiware-Total-Count", "ld": "NGSILD-Results-Count"}


def is_crowd_flow(entity_type: str) -> bool:
    """True for the CrowdFlowObserved type, also when written as an expanded NGSI-LD type URI."""
    return entity_type == CROWD_FLOW or entity_type.endswith(("/" + CROWD_FLOW, "#" + CROWD_FLOW))


def counting_line(coordinates: Any) -> tuple[tuple[float, float], float]:
    """((lon, lat) of the point halfway along a LineString, its geodesic length in metres) on WGS84."""
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        raise ValueError("location is a LineString with fewer than two positions")
    try:
        points = [(as_number(p[0]), as_number(p[1])) for p in coordinates]
    except (ValueError, TypeError, IndexError, KeyError):
        raise ValueError("location is a LineString with positions that are not [lon, lat]") from None
    for lon, lat in points:
        _check_position(lon, lat)
    segments = []
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(points):
        azimuth, _, metres = GEOD.inv(lon1, lat1, lon2, lat2)
        segments.append((lon1, lat1, azimuth, metres))
    length = sum(s[3] for s in segments)
    if length <= 0:
        raise ValueError("location is a LineString of length 0")
    remaining = length / 2
    for lon1, lat1, azimuth, metres in segments:
        if remaining <= metres:
            lon, lat, _ = GEOD.fwd(lon1, lat1, azimuth, remaining)
            return (round(lon, 7), round(lat, 7)), round(length, 2)
        remaining -= metres
    lon, lat = points[-1]  # only reached through rounding at the very end of the line
    return (lon, lat), round(length, 2)


def _check_position(lon: float, lat: float) -> None:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"location has coordinates lon {lon:g}, lat {lat:g} that are not WGS84 degrees")


def _unwrap(value: Any) -> Any:
    """An NGSI-LD typed literal ({"@type": "DateTime", "@value": "..."}) as its plain value."""
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


class _Entity:
    """Attribute access that hides the representation (keyValues or normalized, v2 or LD)."""

    def __init__(self, raw: dict, *, normalized: bool, ld: bool):
        self.raw = raw
        self.normalized = normalized
        self.ld = ld

    def _attribute(self, name: str) -> dict | None:
        attribute = self.raw.get(name)
        if attribute is None:
            return None
        if isinstance(attribute, list) and self.ld:
            # Several instances of one attribute (NGSI-LD datasetId): only the default instance is read.
            defaults = [a for a in attribute if isinstance(a, dict) and "datasetId" not in a]
            if not defaults:
                raise ValueError(f"{name} has only instances with a datasetId; none is the default one")
            attribute = defaults[0]
        if not isinstance(attribute, dict):
            raise ValueError(f"{name} is {_show(attribute)}, not an NGSI attribute object")
        return attribute

    def value(self, name: str) -> Any:
        """The attribute's value; None when the entity has no such attribute or its value is null."""
        if not self.normalized:
            return _unwrap(self.raw.get(name))
        attribute = self._attribute(name)
        if attribute is None:
            return None
        if "value" not in attribute:
            kind = attribute.get("type")
            if kind == "Relationship":
                raise ValueError(f"{name} is a Relationship, not a value")
            raise ValueError(f"{name} has no value")
        return _unwrap(attribute["value"])

    def own_time(self, name: str) -> tuple[str, Any] | None:
        """(label, time text) the attribute carries itself: LD observedAt or v2 TimeInstant metadata."""
        if not self.normalized:
            return None
        attribute = self._attribute(name)
        if attribute is None:
            return None
        if self.ld:
            if attribute.get("observedAt") is not None:
                return f"{name} observedAt", attribute["observedAt"]
            return None
        metadata = attribute.get("metadata")
        instant = metadata.get("TimeInstant") if isinstance(metadata, dict) else None
        if isinstance(instant, dict) and instant.get("value") is not None:
            return f"{name} TimeInstant metadata", instant["value"]
        return None


def _aware(label: str, text: Any, *, end: bool = True) -> datetime:
    """The (end, or start) time of an ISO 8601 instant or interval; ValueError when it has no offset."""
    try:
        start, finish = parse_iso_interval(text)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None
    moment = finish if end else start
    if moment.tzinfo is None:
        raise ValueError(f"{label} {_show(text)} has no UTC offset (NGSI times are UTC, ending in Z)")
    return moment


@register
class FiwareNgsiConnector(Connector):
    """Entities of one type from an NGSI v2 or NGSI-LD context broker."""

    kind = "fiware_ngsi"
    label = "FIWARE context broker (NGSI v2 / NGSI-LD)"
    description = (
        "Reads the entities of one type from a FIWARE context broker, NGSI v2 (Orion) or NGSI-LD (Orion-LD, "
        "Scorpio, Stellio), page by page. CrowdFlowObserved counting lines are built in (people passing per "
        "minute, also per direction, with the line's position and width); for other types, such as "
        "OffStreetParking or WeatherObserved, map attributes to metrics."
    )
    default_poll_interval = 300
    stores = (
        "Per entity and mapped attribute: the entity id, its name and position, the counting line's width, "
        "and each value as a time and a number (CrowdFlowObserved counts as people per minute). All other "
        "attributes are discarded."
    )
    inventory = DataInventory(
        metrics=tuple(Metric.values),
        series="one per entity and read attribute (a counting line and its two directions, a car park's "
        "vacant spaces, a weather station's temperature)",
        aggregation="people passing per minute over the entity's observation window; other attributes one "
        "number per observation time, as the broker publishes them",
    )
    config_schema = {
        "type": "object",
        "required": ["base_url", "api", "entity_type"],
        "properties": {
            "base_url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 500,
                "description": "Root of the context broker, without /v2 or /ngsi-ld/v1.",
                "examples": ["https://orion.example.org:1026"],
            },
            "api": {
                "type": "string",
                "enum": ["v2", "ld"],
                "description": "NGSI v2 (Orion) or NGSI-LD (Orion-LD, Scorpio, Stellio).",
            },
            "entity_type": {
                "type": "string",
                "minLength": 1,
                "maxLength": 256,
                "pattern": "^\\S+$",
                "description": "The entity type to read, e.g. CrowdFlowObserved, OffStreetParking.",
                "examples": [CROWD_FLOW],
            },
            "representation": {
                "type": "string",
                "enum": ["keyValues", "normalized"],
                "default": "keyValues",
                "description": (
                    "Ask for keyValues (smaller) or normalized entities. Normalized ones carry each value's "
                    "own time (observedAt, TimeInstant metadata)."
                ),
            },
            "tenant": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.:/-]*$",
                "maxLength": 100,
                "default": "",
                "description": "Tenant on the broker: the Fiware-Service (v2) or NGSILD-Tenant (LD) header.",
            },
            "service_path": {
                "type": "string",
                "pattern": "^(/[A-Za-z0-9_/#,]*)?$",
                "maxLength": 500,
                "default": "",
                "description": "NGSI v2 only: the Fiware-ServicePath header, e.g. /valladolid/crowd.",
            },
            "context": {
                "type": "string",
                "pattern": "^(https?://\\S+)?$",
                "maxLength": 500,
                "default": "",
                "description": (
                    "NGSI-LD only: the @context URL sent in the Link header, so that the type and attribute "
                    "names are understood; empty: the broker's core context."
                ),
            },
            "q": {
                "type": "string",
                "maxLength": 500,
                "default": "",
                "description": "Optional NGSI query filter (q parameter), e.g. refDevice==sensor-12.",
            },
            "id_pattern": {
                "type": "string",
                "maxLength": 500,
                "default": "",
                "description": "Optional regular expression on entity ids (idPattern parameter).",
            },
            "attributes": {
                "type": "object",
                "maxProperties": 50,
                "propertyNames": {"minLength": 1, "maxLength": 256, "pattern": "^\\S+$"},
                "additionalProperties": {"type": "string", "enum": list(Metric.values)},
                "default": {},
                "description": (
                    'Attributes to read, as {attribute: metric}, e.g. {"availableSpotNumber": '
                    '"parking_vacant"}. Required unless the type is CrowdFlowObserved (built in; here '
                    "extra attributes such as occupancy may be added). An attribute mapped to people_passing "
                    "is a count over the observation window, stored per minute. Series key: "
                    "'<id>:<attribute>'."
                ),
            },
            "interval_minutes": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1440,
                "description": (
                    "Counting period of the broker's counts, used only for an entity that has no "
                    "observation window (no dateObservedFrom/To, no interval in dateObserved); without it "
                    "such counts are skipped with a warning."
                ),
            },
            "area": {
                "type": "string",
                "pattern": SLUG_PATTERN,
                "maxLength": 80,
                "default": "",
                "description": "Slug of the area every series of this source belongs to (optional).",
            },
            "page_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000,
                "default": 100,
                "description": "Entities asked for per request (limit); Orion allows 1000, Stellio 100.",
            },
            "max_entities": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100000,
                "default": 5000,
                "description": "Stop after this many entities per fetch (with a warning): a hard cap.",
            },
            "api_key_header": {
                "type": "string",
                "pattern": f"^({HEADER_NAME})?$",
                "maxLength": 100,
                "default": "",
                "description": "Header that carries the api_key secret, e.g. X-Auth-Token or apikey.",
            },
        },
        "additionalProperties": False,
    }
    secret_schema = {
        "type": "object",
        "properties": {
            "token": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4096,
                "writeOnly": True,
                "description": "Bearer token, sent as 'Authorization: Bearer <token>'. Encrypted.",
            },
            "api_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4096,
                "writeOnly": True,
                "description": "API key, sent as is in the header api_key_header names. Encrypted.",
            },
        },
        "additionalProperties": False,
    }

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        """Schema messages plus what a schema cannot say: which headers fit which API, which attributes."""
        messages = super().validate_config(config)
        if not isinstance(config, dict):
            return messages
        api = config.get("api")
        if api == "ld" and config.get("service_path"):
            messages.append(
                "service_path: Fiware-ServicePath is an NGSI v2 header; NGSI-LD brokers have no service "
                "paths (leave it empty)"
            )
        if api == "v2" and config.get("context"):
            messages.append("context: the @context Link header is for NGSI-LD only (leave it empty for v2)")
        header = config.get("api_key_header")
        if isinstance(header, str) and header.lower() in OWN_HEADERS:
            messages.append(f"api_key_header: {header} is set by the connector itself; name another header")
        entity_type = config.get("entity_type")
        attributes = config.get("attributes")
        if isinstance(entity_type, str) and entity_type:
            if is_crowd_flow(entity_type):
                for name in sorted(set(attributes or {}) & set(CROWD_FLOW_COUNTS)):
                    messages.append(
                        f"attributes/{name}: built into the CrowdFlowObserved mapping (people_passing); "
                        "leave it out"
                    )
            elif not attributes:
                messages.append(
                    f"attributes: say which attributes of {entity_type} to read, as {{attribute: metric}}; "
                    "only CrowdFlowObserved is built in"
                )
        return messages

    @classmethod
    def validate_secrets(cls, secrets: dict) -> list[str]:
        messages = super().validate_secrets(secrets)
        if isinstance(secrets, dict) and secrets.get("token") and secrets.get("api_key"):
            messages.append("api_key: give a bearer token or an API key, not both")
        return messages

    def _setting(self, name: str) -> Any:
        return schema_default(self.config_schema, self.config, name)

    # --- fetch --------------------------------------------------------------------------------------

    def _headers(self) -> dict:
        headers = {"Accept": "application/json"}
        tenant = self._setting("tenant")
        if self.config["api"] == "v2":
            if tenant:
                headers["Fiware-Service"] = tenant
            if self._setting("service_path"):
                headers["Fiware-ServicePath"] = self._setting("service_path")
        else:
            if tenant:
                headers["NGSILD-Tenant"] = tenant
            if self._setting("context"):
                headers["Link"] = f"<{self._setting('context')}>; {LD_CONTEXT_REL}"
        api_key, header = self.secrets.get("api_key", ""), self._setting("api_key_header")
        if api_key and not header:
            raise FetchError(
                "An api_key secret is stored but the config does not say which header carries it: set "
                "api_key_header (e.g. X-Auth-Token or apikey), or store the key as the bearer token.",
                retryable=False,
            )
        if header and not api_key:
            raise FetchError(
                f"The config sends an API key in the header {header} but no api_key secret is stored: add "
                "the key to the source's secrets.",
                retryable=False,
            )
        if api_key:
            headers[header] = api_key
        elif self.secrets.get("token"):
            headers["Authorization"] = f"Bearer {self.secrets['token']}"
        return headers

    def _params(self, limit: int, offset: int) -> list[tuple[str, str]]:
        params = [("type", self.config["entity_type"])]
        if self._setting("id_pattern"):
            params.append(("idPattern", self._setting("id_pattern")))
        if self._setting("q"):
            params.append(("q", self._setting("q")))
        key_values = self._setting("representation") == "keyValues"
        if self.config["api"] == "v2":
            params.append(("options", "count,keyValues" if key_values else "count"))
        else:
            if key_values:
                params.append(("options", "keyValues"))
            params.append(("count", "true"))
        return [*params, ("limit", str(limit)), ("offset", str(offset))]

    def _get(self, url: str, headers: dict) -> httpx.Response:
        response = self.http.get(url, headers=headers, accept_status=(200, 400, 401, 403, 404))
        status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        if response.status_code in (401, 403):
            raise FetchError(
                f"{url} refused access ({status}): check the source's token or api_key secret (and "
                "api_key_header).",
                retryable=False,
            )
        if response.status_code == 404:
            api = "NGSI v2" if self.config["api"] == "v2" else "NGSI-LD"
            raise FetchError(
                f"{url} answered {status}: no {api} broker there; check base_url (the broker's root, without "
                "/v2 or /ngsi-ld/v1) and api.",
                retryable=False,
            )
        if response.status_code == 400:
            raise FetchError(
                f"{url} rejected the query ({status}{self._broker_reason(response)}): check entity_type, "
                "tenant, service_path, q and id_pattern.",
                retryable=False,
            )
        return response

    @staticmethod
    def _broker_reason(response: httpx.Response) -> str:
        """The broker's own words from an error body: v2 {error, description}, LD {title, detail}."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        reason = body.get("description") or body.get("detail") or body.get("title") or body.get("error")
        return f": {' '.join(str(reason).split())[:200]}" if reason else ""

    def _total(self, response: httpx.Response, notes: list[str]) -> int | None:
        header = TOTAL_HEADERS[self.config["api"]]
        raw = response.headers.get(header)
        if raw is None:
            return None
        try:
            total = int(raw.strip())
        except ValueError:
            notes.append(f"The broker's {header} header {raw!r} is not a number; read until a short page.")
            return None
        return total if total >= 0 else None

    def fetch(self) -> list[Payload]:
        """One payload per page of entities, until the broker's total, a short page or max_entities."""
        url = self.config["base_url"].rstrip("/") + PATHS[self.config["api"]]
        headers = self._headers()
        page_size, cap = self._setting("page_size"), self._setting("max_entities")
        payloads: list[Payload] = []
        offset = 0
        while True:
            limit = min(page_size, cap - offset)
            request_url = str(httpx.URL(url, params=self._params(limit, offset)))
            response = self._get(request_url, headers)
            notes: list[str] = []
            payload = Payload(
                body=response.content,
                url=request_url,
                content_type=response.headers.get("content-type", ""),
                status=response.status_code,
                meta={"offset": offset, "limit": limit, "notes": notes},
            )
            payloads.append(payload)
            entities = decode_json(payload)
            if not isinstance(entities, list):
                raise self._not_a_list(payload, entities)
            total = self._total(response, notes)
            offset += min(len(entities), limit)
            if not entities:
                if offset and total is not None and total > offset:
                    notes.append(
                        f"The broker counts {total} entities but sent none from offset {offset}; read "
                        f"{offset}."
                    )
                break
            more = total > offset if total is not None else len(entities) >= limit
            if not more:
                break
            if offset >= cap:
                entity_type = self.config["entity_type"]
                read = (
                    f"Read {offset} of {total} {entity_type} entities and stopped at max_entities; the other "
                    f"{total - offset} were not read."
                    if total is not None
                    else f"Read {offset} {entity_type} entities and stopped at max_entities; the broker may "
                    "have more."
                )
                notes.append(f"{read} Raise max_entities or narrow the selection with q or id_pattern.")
                break
        return payloads

    def _not_a_list(self, payload: Payload, data: Any) -> ParseError:
        if isinstance(data, dict):
            shape = f"an object with the keys {', '.join(sorted(data)[:8])}"
        else:
            shape = _show(data)
        return ParseError(
            f"{payload.url or 'The broker'} sent {shape}, not a list of entities: check base_url and api "
            "('v2' for Orion, 'ld' for an NGSI-LD broker)."
        )

    # --- parse --------------------------------------------------------------------------------------

    def parse(self, payload: Payload) -> ParseResult:
        """Readings of one page of entities; a broken entity or value is skipped with a warning naming it."""
        data = decode_json(payload)
        if not isinstance(data, list):
            raise self._not_a_list(payload, data)
        meta = payload.meta
        result = ParseResult()
        if not data and not meta.get("offset"):
            result.warnings.append(self._empty_message())
        limit = meta.get("limit")
        if isinstance(limit, int) and len(data) > limit:
            result.warnings.append(
                f"The broker sent {len(data)} entities for limit={limit}; the {len(data) - limit} beyond the "
                "limit were ignored."
            )
            data = data[:limit]
        problems: list[str] = []
        for index, raw in enumerate(data):
            readings, entity_problems = self._entity_readings(raw, index + meta.get("offset", 0))
            result.readings.extend(readings)
            problems.extend(entity_problems)
        result.warnings.extend(problems[:MAX_RECORD_WARNINGS])
        if len(problems) > MAX_RECORD_WARNINGS:
            result.warnings.append(f"{len(problems) - MAX_RECORD_WARNINGS} more problems of this kind.")
        result.warnings.extend(meta.get("notes", []))
        return result

    def _empty_message(self) -> str:
        scope = []
        tenant, path = self._setting("tenant"), self._setting("service_path")
        if tenant:
            scope.append(f"{'Fiware-Service' if self.config['api'] == 'v2' else 'NGSILD-Tenant'} '{tenant}'")
        if path:
            scope.append(f"Fiware-ServicePath '{path}'")
        within = f" ({', '.join(scope)})" if scope else ""
        return (
            f"The broker sent no entities of type '{self.config['entity_type']}'{within}: nothing to store. "
            "Check entity_type, tenant, service_path, q and id_pattern (and context for NGSI-LD)."
        )

    def _series_specs(self) -> list[tuple[str, str, str, str]]:
        """(attribute, metric, key suffix, name suffix) of every series an entity may give."""
        specs = []
        if is_crowd_flow(self.config["entity_type"]):
            specs = [(a, Metric.PEOPLE_PASSING.value, k, n) for a, (k, n) in CROWD_FLOW_COUNTS.items()]
        for attribute, metric in self._setting("attributes").items():
            specs.append((attribute, metric, f":{attribute}", f" ({attribute})"))
        return specs

    def _entity_readings(self, raw: Any, position: int) -> tuple[list[Reading], list[str]]:
        """The readings of one entity and the problems met (each a warning naming the entity)."""
        if not isinstance(raw, dict):
            return [], [f"Entity #{position + 1} is {_show(raw)}, not an entity object; skipped."]
        entity_id = raw.get("id")
        if not isinstance(entity_id, str) or not entity_id.strip():
            return [], [f"Entity #{position + 1} has no id; skipped."]
        where = f"Entity '{entity_id}'"
        entity = _Entity(
            raw, normalized=self._setting("representation") == "normalized", ld=self.config["api"] == "ld"
        )
        problems: list[str] = []

        def problem(text: str) -> None:
            if text not in problems:
                problems.append(text)

        try:
            name = entity.value("name")
        except ValueError:
            name = None
        name = " ".join(name.split()) if isinstance(name, str) else ""
        place = self._place(entity, where, problem)
        readings = []
        found = False
        for attribute, metric, key_suffix, name_suffix in self._series_specs():
            try:
                raw_value = entity.value(attribute)
            except ValueError as exc:
                problem(f"{where}: {exc}; skipped.")
                continue
            if raw_value is None:
                continue
            found = True
            key = entity_id + key_suffix
            if len(key) > MAX_KEY_LENGTH:
                problem(f"{where}: series key '{key}' is longer than {MAX_KEY_LENGTH} characters; skipped.")
                continue
            try:
                value = as_number(raw_value)
            except ValueError as exc:
                problem(f"{where}: {attribute} {exc}; skipped.")
                continue
            passing = metric == Metric.PEOPLE_PASSING
            try:
                if passing:
                    start, time = self._window(entity, attribute)
                    minutes = (time - start).total_seconds() / 60
                    if minutes <= 0:
                        raise ValueError(
                            f"observation window {start.isoformat()} to {time.isoformat()} is not positive"
                        )
                    value = value / minutes
                else:
                    time = self._time(entity, attribute)
            except ValueError as exc:
                what = "its people counts" if passing and attribute in CROWD_FLOW_COUNTS else attribute
                problem(f"{where}: {exc}; {what} skipped.")
                continue
            location, width = place
            readings.append(
                Reading(
                    key=key,
                    metric=metric,
                    time=time,
                    value=value,
                    unit=DEFAULT_UNITS.get(metric, ""),
                    name=(name + name_suffix)[:MAX_NAME_LENGTH] if name else "",
                    area=self._setting("area") or None,
                    location=location,
                    line_width_m=width if passing else None,
                )
            )
        if not found and not problems:
            names = ", ".join(spec[0] for spec in self._series_specs())
            problems.append(f"{where} has none of the attributes {names}; skipped.")
        return readings, problems

    def _place(self, entity: _Entity, where: str, problem) -> tuple[tuple[float, float] | None, float | None]:
        """(lon, lat) of the entity and, for a counting line, its length in metres; problems are warnings."""
        try:
            geometry = entity.value("location")
            if geometry is None:
                return None, None
            if isinstance(geometry, str):  # NGSI v2 geo:point, "lat, lon"
                parts = geometry.split(",")
                if len(parts) != 2:
                    raise ValueError(f"location {_show(geometry)} is not 'lat, lon'")
                lat, lon = (as_number(p) for p in parts)
                _check_position(lon, lat)
                return (lon, lat), None
            if isinstance(geometry, dict) and geometry.get("type") == "LineString":
                location, width = counting_line(geometry.get("coordinates"))
                return location, width
            lon, lat = _middle(geometry, "location")
            _check_position(lon, lat)
            return (lon, lat), None
        except ValueError as exc:
            text = str(exc).removeprefix("location: ")
            problem(f"{where}: {text}; stored without a position.")
            return None, None

    def _time(self, entity: _Entity, attribute: str) -> datetime:
        """The time of one value: the attribute's own, else the entity's dateObservedTo, dateObserved (its end
        when an interval) or TimeInstant. ValueError when there is none or it has no offset."""
        own = entity.own_time(attribute)
        if own is not None:
            return _aware(*own)
        for name in ENTITY_TIME_ATTRIBUTES:
            text = entity.value(name)
            if text is not None:
                return _aware(name, text)
        raise ValueError(f"{attribute} has no time (no observedAt, TimeInstant or dateObserved)")

    def _window(self, entity: _Entity, attribute: str) -> tuple[datetime, datetime]:
        """(start, end) of the window a count covers: dateObservedFrom..To, an interval in dateObserved, or
        interval_minutes before the value's time. ValueError saying what is missing."""
        start_text, end_text = entity.value("dateObservedFrom"), entity.value("dateObservedTo")
        if start_text is not None or end_text is not None:
            if start_text is None or end_text is None:
                missing = "dateObservedFrom" if start_text is None else "dateObservedTo"
                raise ValueError(f"{missing} is missing, so the observation window is not known")
            return _aware("dateObservedFrom", start_text, end=False), _aware("dateObservedTo", end_text)
        observed = entity.value("dateObserved")
        if isinstance(observed, str) and "/" in observed:
            return _aware("dateObserved", observed, end=False), _aware("dateObserved", observed)
        interval = self.config.get("interval_minutes")
        if interval:
            end = self._time(entity, attribute)
            return end - timedelta(minutes=interval), end
        raise ValueError(
            "no observation window (dateObservedFrom/dateObservedTo, or an interval in dateObserved), so the "
            "count cannot be turned into people per minute; set interval_minutes if the broker publishes one "
            "count per fixed period"
        )
