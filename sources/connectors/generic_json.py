"""Any HTTP JSON API (a GPS visitor panel such as Resono, a vendor's counting API, an NGSI broker),
mapped to readings with JMESPath expressions set per source.

Only the mapped fields (series key, time, value and, when mapped, metric, area and name) become readings;
everything else in the response is discarded after parsing. A record that cannot be mapped is skipped with
a warning naming it, so one bad record never costs the good ones.

The small helpers at the top (JSON decoding, numbers, ISO 8601 times, HTTP status messages) are shared
with the sensorthings connector.
"""

import json
import math
import re
import warnings
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import jmespath
from jmespath.exceptions import IncompleteExpressionError, JMESPathError

from core import jsonlimits
from core.instants import parse_instant

from ..choices import DEFAULT_UNITS, Metric
from ..http import HttpClient
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

MAX_RECORD_WARNINGS = 50  # per payload; the rest are counted in one closing warning
MAX_KEY_LENGTH = 200  # Series.key
MAX_NAME_LENGTH = 200  # Series.name
SLUG_PATTERN = "^[-a-zA-Z0-9_]+$"
# A plain decimal number as text ("12", "-3.5", "1e3"); no "nan", "inf", "1_000" or Dutch "1,5".
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Header names that carry credentials: they belong in the encrypted secrets, never in the plain config.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "apikey"}
)


# --- helpers shared by the JSON connectors ----------------------------------------------------------


def decode_json(payload: Payload) -> Any:
    """The payload's JSON, or a ParseError saying what came instead (HTML, nothing, cut-off JSON)."""
    where = payload.url or "The server"
    stripped = payload.body.lstrip()
    if not stripped:
        raise ParseError(f"{where} sent an empty response instead of JSON.")
    content_type = payload.content_type.split(";")[0].strip().lower()
    if "html" in content_type or stripped[:1] == b"<":
        match = re.search(rb"<title[^>]*>(.*?)</title>", stripped[:4096], re.IGNORECASE | re.DOTALL)
        title = " ".join(match.group(1).decode("utf-8", "replace").split())[:80] if match else ""
        titled = f" titled '{title}'" if title else ""
        raise ParseError(
            f"{where} sent an HTML page{titled} instead of JSON: check that the URL is the API itself, "
            "not a web page or a login page."
        )
    try:
        return jsonlimits.loads(payload.body)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{where} sent a body that is not UTF-8 text, so not JSON ({exc.reason}).") from exc
    except json.JSONDecodeError as exc:
        # Truncation shows as an error at the very end, or as a string that never closes.
        if json_cut_off(exc):
            raise ParseError(
                f"{where} sent JSON that stops before it is complete (after {len(payload.body)} bytes): the "
                "response was cut off. If this repeats, ask the provider or use smaller pages.",
                retryable=True,
            ) from exc
        raise ParseError(
            f"{where} sent invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc


def _middle(geometry: Any, where: str) -> tuple[float, float]:
    """The (lon, lat) of a [lon, lat] pair or a GeoJSON geometry: a Point as is, a line or polygon by the
    mean of its positions (a polygon's outer ring without its closing position)."""
    if isinstance(geometry, list) and len(geometry) in (2, 3) and not isinstance(geometry[0], list):
        positions = [geometry]
    elif isinstance(geometry, dict) and isinstance(geometry.get("coordinates"), list):
        kind, coordinates = geometry.get("type"), geometry["coordinates"]
        if kind == "Point":
            positions = [coordinates]
        elif kind in ("LineString", "MultiPoint"):
            positions = coordinates
        elif kind == "Polygon" and coordinates:
            ring = coordinates[0]
            positions = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
        else:
            raise ValueError(
                f"{where}: location is a GeoJSON {kind or 'object'}; use a Point, LineString or Polygon"
            )
    else:
        raise ValueError(f"{where}: location {_show(geometry)} is neither [lon, lat] nor a GeoJSON geometry")
    try:
        pairs = [(as_number(p[0]), as_number(p[1])) for p in positions]
    except (ValueError, TypeError, IndexError, KeyError):
        raise ValueError(
            f"{where}: location {_show(geometry)} has positions that are not [lon, lat]"
        ) from None
    if not pairs:
        raise ValueError(f"{where}: location has no positions")
    return (sum(p[0] for p in pairs) / len(pairs), sum(p[1] for p in pairs) / len(pairs))


def as_number(value: Any) -> float:
    """A finite float from a JSON number or a plain decimal text; ValueError saying why not."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise ValueError(f"{_show(value)} is not a number")
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):
            raise ValueError(f"{_show(value)} is not a number")
        value = float(value)
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{_show(value)} is too large") from None
    if not math.isfinite(number):
        raise ValueError(f"{_show(value)} is not a finite number")
    return number


def parse_iso_interval(text: Any) -> tuple[datetime, datetime]:
    """(start, end) of an ISO 8601 instant (start == end) or "start/end" interval; may be naive."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"time {_show(text)} is not an ISO 8601 text")
    parts = text.strip().split("/")
    if len(parts) > 2:
        raise ValueError(f"time {_show(text)} is not an ISO 8601 instant or start/end interval")
    try:
        times = [parse_instant(part, allow_naive=True) for part in parts]
    except ValueError:
        raise ValueError(f"time {_show(text)} is not an ISO 8601 instant or start/end interval") from None
    return times[0], times[-1]


def http_get(http: HttpClient, url: str, *, headers: dict, not_found: str, refused: str) -> httpx.Response:
    """GET with messages a tenant admin can act on for 401/403 (credentials) and 404 (address)."""
    response = http.get(url, headers=headers, accept_status=(200, 401, 403, 404))
    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if response.status_code in (401, 403):
        raise FetchError(f"{url} refused access ({status}): {refused}", retryable=False)
    if response.status_code == 404:
        raise FetchError(f"{url} answered {status}: {not_found}", retryable=False)
    return response


def schema_default(schema: dict, config: dict, name: str) -> Any:
    """``config[name]``, or the default its JSON Schema gives (one place for defaults: the schema)."""
    if name in config:
        return config[name]
    return schema["properties"][name].get("default")


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jmespath_problem(expression: Any) -> str | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            jmespath.compile(expression)
        except IncompleteExpressionError:
            return f"'{expression}' is not a valid JMESPath expression: it is incomplete"
        except JMESPathError as exc:
            reason = str(exc).splitlines()[0].split(": Parse error")[0].rstrip(":")
            column = getattr(exc, "lex_position", getattr(exc, "lexer_position", None))
            at = f" at character {column + 1}" if isinstance(column, int) else ""
            return f"'{expression}' is not a valid JMESPath expression: {reason}{at}"
    if caught:  # jmespath's deprecated `text` literal: say how to write it now
        return f"'{expression}' uses a deprecated literal; write a text in single quotes, e.g. 'kurhaus'"
    return None


# --- the connector ----------------------------------------------------------------------------------


def _jmespath_field(description: str, **extra) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": 500, "description": description, **extra}


@register
class GenericJsonConnector(Connector):
    """Poll one JSON URL and map its records to readings with JMESPath."""

    kind = "generic_json"
    label = "JSON API (field mapping)"
    description = (
        "Polls any HTTP JSON API, such as a GPS visitor panel (Resono) or a sensor vendor's API, and maps "
        "each record to a reading with JMESPath expressions (jmespath.org): which list holds the records, "
        "and where each record keeps its series key, time and value. Records that do not fit are skipped "
        "with a warning."
    )
    default_poll_interval = 300
    stores = (
        "Per record only the mapped fields: series key, time and number, and when mapped the metric, area, "
        "series name and the sensor's location. All other fields of the response are discarded."
    )
    inventory = DataInventory(
        metrics=tuple(Metric.values),
        series="one per record key of the feed (a sensor, area or facility)",
        aggregation="one number per series and time, as the feed publishes it; unmapped fields are discarded",
    )
    config_schema = {
        "type": "object",
        "required": ["url", "key", "time", "value"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 2000,
                "description": "Address of the JSON API, http(s). A query string may be part of it.",
                "examples": ["https://api.example.com/v2/locations/counts"],
            },
            "params": {
                "type": "object",
                "additionalProperties": {"type": "string", "maxLength": 500},
                "default": {},
                "description": "Query parameters added to the URL (not secret: API keys go in the secrets).",
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string", "maxLength": 1000},
                "default": {},
                "description": "Extra request headers that are not secret (an API key goes in the secrets).",
            },
            "items": _jmespath_field(
                "JMESPath selecting the list of records in the response; '@' when the response is the list.",
                default="@",
            ),
            "key": _jmespath_field(
                "JMESPath on one record giving its series key (a sensor or location id), e.g. 'location.id'.",
                examples=["id"],
            ),
            "time": _jmespath_field(
                "JMESPath on one record giving the time of its value, e.g. 'timestamp'.",
                examples=["dateObserved"],
            ),
            "time_format": {
                "type": "string",
                "enum": ["iso", "unix", "unix_ms"],
                "default": "iso",
                "description": (
                    "How the time is written: ISO 8601 text (an instant, or an interval 'start/end' whose "
                    "end is used), or seconds (unix) or milliseconds (unix_ms) since 1970-01-01 UTC."
                ),
            },
            "assume_timezone": {
                "type": "string",
                "maxLength": 64,
                "default": "",
                "description": (
                    "IANA time zone (e.g. Europe/Amsterdam or UTC) for ISO times written without an offset. "
                    "Empty: such records are rejected with a warning, never guessed."
                ),
            },
            "value": _jmespath_field(
                "JMESPath on one record giving the number, e.g. 'count'.", examples=["count"]
            ),
            "metric": {
                "type": "string",
                "enum": list(Metric.values),
                "description": "What every record measures. Give this or metric_field.",
                "examples": [Metric.VISITOR_ESTIMATE.value],
            },
            "metric_field": _jmespath_field(
                "JMESPath on one record giving its metric (one of the metric names). Give this or metric."
            ),
            "area": _jmespath_field(
                "Optional JMESPath giving the slug of the area a record's series belongs to; a text in "
                "single quotes, such as 'kurhaus', puts every series in one area.",
                default="",
                minLength=0,
            ),
            "name": _jmespath_field(
                "Optional JMESPath giving a readable name for a new series, e.g. 'location.name'.",
                default="",
                minLength=0,
            ),
            "lat": _jmespath_field(
                "Optional JMESPath giving the latitude (WGS84 degrees) of a record's sensor; with lon.",
                default="",
                minLength=0,
            ),
            "lon": _jmespath_field(
                "Optional JMESPath giving the longitude (WGS84 degrees) of a record's sensor; with lat.",
                default="",
                minLength=0,
            ),
            "location": _jmespath_field(
                "Optional JMESPath giving the sensor's place as a GeoJSON geometry (a Point, or a counting "
                "LineString or an area Polygon, whose middle is taken) or a [lon, lat] pair, e.g. "
                "'location' (NGSI v2) or 'location.value' (NGSI-LD). Instead of lat and lon.",
                default="",
                minLength=0,
            ),
            "api_key_header": {
                "type": "string",
                "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
                "maxLength": 100,
                "default": "",
                "description": "Send the api_key secret in this header, e.g. Authorization or X-API-Key.",
            },
            "api_key_template": {
                "type": "string",
                "pattern": "\\{api_key\\}",
                "maxLength": 200,
                "default": "Bearer {api_key}",
                "description": "Header value around the key; {api_key} is replaced by the secret.",
            },
            "api_key_param": {
                "type": "string",
                "maxLength": 100,
                "default": "",
                "description": "Send the api_key secret as this query parameter (e.g. apikey), not a header.",
            },
        },
        "additionalProperties": False,
    }
    secret_schema = {
        "type": "object",
        "properties": {
            "api_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4096,
                "writeOnly": True,
                "description": "API key or token, sent as api_key_header or api_key_param says. Encrypted.",
            }
        },
        "additionalProperties": False,
    }

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        """Schema messages plus what a schema cannot say: valid JMESPath, one metric choice, a real zone."""
        messages = super().validate_config(config)
        if not isinstance(config, dict):
            return messages
        for name in (
            "items",
            "key",
            "time",
            "value",
            "metric_field",
            "area",
            "name",
            "lat",
            "lon",
            "location",
        ):
            expression = config.get(name)
            if isinstance(expression, str) and expression:
                problem = _jmespath_problem(expression)
                if problem:
                    messages.append(f"{name}: {problem}")
        if "metric" in config and "metric_field" in config:
            messages.append("metric: give either metric (one for all records) or metric_field, not both")
        elif "metric" not in config and "metric_field" not in config:
            messages.append(
                "metric: give metric (one for all records) or metric_field (a JMESPath per record)"
            )
        if bool(config.get("lat")) != bool(config.get("lon")):
            messages.append("lat: give both lat and lon, or neither")
        if config.get("location") and (config.get("lat") or config.get("lon")):
            messages.append("location: give location or lat and lon, not both")
        if config.get("api_key_header") and config.get("api_key_param"):
            messages.append("api_key_param: send the API key in a header or a query parameter, not both")
        zone = config.get("assume_timezone")
        if isinstance(zone, str) and zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                messages.append(
                    f"assume_timezone: '{zone}' is not an IANA time zone such as Europe/Amsterdam"
                )
        headers = config.get("headers")
        if isinstance(headers, dict):
            for header in headers:
                if header.lower() in SECRET_HEADERS:
                    messages.append(
                        f"headers/{header}: credentials do not belong in the plain config; store the key as "
                        "the api_key secret and set api_key_header"
                    )
        return messages

    def _setting(self, name: str) -> Any:
        return schema_default(self.config_schema, self.config, name)

    def fetch(self) -> list[Payload]:
        url = self.config["url"]
        params = dict(self._setting("params"))
        headers = {"Accept": "application/json", **self._setting("headers")}
        api_key = self.secrets.get("api_key", "")
        header, param = self._setting("api_key_header"), self._setting("api_key_param")
        if (header or param) and not api_key:
            raise FetchError(
                f"The config sends an API key ({'header ' + header if header else 'parameter ' + param}) but "
                "no api_key secret is stored: add the key to the source's secrets.",
                retryable=False,
            )
        if api_key and not (header or param):
            raise FetchError(
                "An api_key secret is stored but the config does not say where to send it: set "
                "api_key_header (e.g. Authorization) or api_key_param.",
                retryable=False,
            )
        if header:
            # str.replace, not str.format: a template must not reach attributes of the key.
            headers[header] = self._setting("api_key_template").replace("{api_key}", api_key)
        if param:
            params[param] = api_key
        # httpx replaces a URL's own query string with params; merge so both are kept.
        request_url = str(httpx.URL(url).copy_merge_params(params)) if params else url
        try:
            response = http_get(
                self.http,
                request_url,
                headers=headers,
                not_found="check the source's url.",
                refused="check the api_key secret and where it is sent (api_key_header or api_key_param).",
            )
        except FetchError as exc:
            raise FetchError(self._without_key(exc.message, api_key), retryable=exc.retryable) from None
        return [
            Payload(
                body=response.content,
                url=url,  # without the key, for messages
                content_type=response.headers.get("content-type", ""),
                status=response.status_code,
            )
        ]

    @staticmethod
    def _without_key(message: str, api_key: str) -> str:
        """Error messages quote the URL; a key sent as a query parameter must not reach the tenant."""
        if not api_key:
            return message
        for form in {api_key, str(httpx.QueryParams({"k": api_key}))[2:]}:
            message = message.replace(form, "***")
        return message

    def parse(self, payload: Payload) -> ParseResult:
        data = decode_json(payload)
        items_expression = self._setting("items")
        try:
            found = jmespath.search(items_expression, data)
        except JMESPathError as exc:
            raise ParseError(
                f"{payload.url or 'The response'}: items expression '{items_expression}' failed "
                f"({str(exc).splitlines()[0]}). Fix the source's items mapping."
            ) from None
        if found is None:
            shape = (
                "has the keys " + ", ".join(sorted(data)[:10])
                if isinstance(data, dict)
                else f"is {_show(data, limit=40)}"
            )
            raise ParseError(
                f"{payload.url or 'The response'}: items expression '{items_expression}' found nothing; the "
                f"response {shape}. Fix the source's items mapping."
            )
        if isinstance(found, dict):
            found = [found]  # a single record (one NGSI entity, a one-location endpoint)
        if not isinstance(found, list):
            raise ParseError(
                f"{payload.url or 'The response'}: items expression '{items_expression}' gave "
                f"{_show(found)}, not a list of records. Fix the source's items mapping."
            )
        prefix = "" if items_expression == "@" else items_expression
        result = ParseResult()
        skipped = 0
        for index, record in enumerate(found):
            where = f"record {prefix}[{index}]"
            try:
                result.readings.append(self._reading(record, where))
            except ValueError as exc:
                skipped += 1
                if len(result.warnings) < MAX_RECORD_WARNINGS:
                    result.warnings.append(f"{exc}; skipped.")
        if skipped > MAX_RECORD_WARNINGS:
            result.warnings.append(f"{skipped - MAX_RECORD_WARNINGS} more records skipped for such reasons.")
        return result

    def _reading(self, record: Any, where: str) -> Reading:
        """One record as a Reading; ValueError naming the record and the field when it does not fit."""
        if not isinstance(record, dict):
            raise ValueError(f"{where} is {_show(record)}, not an object")
        key = self._search("key", record, where)
        if isinstance(key, int | float) and not isinstance(key, bool):
            key = str(key)
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{where}: key '{self.config['key']}' gave {_show(key)}, not an id")
        if len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"{where}: key {_show(key)} is longer than {MAX_KEY_LENGTH} characters")
        where = f"{where} (key '{key}')"
        time = self._time(self._search("time", record, where), where)
        raw_value = self._search("value", record, where)
        try:
            value = as_number(raw_value)
        except ValueError as exc:
            raise ValueError(f"{where}: value {exc}") from None
        metric = self.config.get("metric") or self._search("metric_field", record, where)
        if metric not in Metric.values:
            raise ValueError(f"{where}: metric {_show(metric)} is not one of {', '.join(Metric.values)}")
        area = self._search("area", record, where) if self._setting("area") else None
        if area is not None and not (isinstance(area, str) and re.fullmatch(SLUG_PATTERN, area)):
            raise ValueError(f"{where}: area {_show(area)} is not an area slug")
        name = self._search("name", record, where) if self._setting("name") else None
        location = self._location(record, where)
        return Reading(
            key=key,
            metric=metric,
            time=time,
            value=value,
            unit=DEFAULT_UNITS.get(metric, ""),
            name=str(name)[:MAX_NAME_LENGTH] if isinstance(name, str | int | float) else "",
            area=area,
            location=location,
        )

    def _location(self, record: dict, where: str) -> tuple[float, float] | None:
        """(lon, lat) from the lat/lon or location mapping; None when unmapped or absent in the record."""
        if self._setting("lat") and self._setting("lon"):
            lat, lon = self._search("lat", record, where), self._search("lon", record, where)
            if lat is None and lon is None:
                return None
            try:
                point = (as_number(lon), as_number(lat))
            except ValueError as exc:
                raise ValueError(f"{where}: coordinates: {exc}") from None
        elif self._setting("location"):
            found = self._search("location", record, where)
            if found is None:
                return None
            point = _middle(found, where)
        else:
            return None
        lon, lat = point
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"{where}: coordinates lon {lon:g}, lat {lat:g} are not WGS84 degrees")
        return point

    def _search(self, field: str, record: dict, where: str) -> Any:
        expression = self._setting(field)
        try:
            return jmespath.search(expression, record)
        except JMESPathError as exc:  # e.g. a function given the wrong type in this record
            raise ValueError(f"{where}: {field} '{expression}' failed ({str(exc).splitlines()[0]})") from None

    def _time(self, raw: Any, where: str) -> datetime:
        time_format = self._setting("time_format")
        if raw is None:
            raise ValueError(f"{where}: time '{self.config['time']}' found nothing")
        if time_format == "iso":
            try:
                _, time = parse_iso_interval(raw)
            except ValueError as exc:
                hint = "; set time_format to unix or unix_ms" if isinstance(raw, int | float) else ""
                raise ValueError(f"{where}: {exc}{hint}") from None
            if time.tzinfo is None:
                zone = self._setting("assume_timezone")
                if not zone:
                    raise ValueError(
                        f"{where}: time {_show(raw)} has no UTC offset; set assume_timezone to the zone the "
                        "API uses (e.g. Europe/Amsterdam)"
                    )
                time = time.replace(tzinfo=ZoneInfo(zone))
            return time
        try:
            seconds = as_number(raw)
        except ValueError as exc:
            raise ValueError(f"{where}: time {exc}") from None
        # 1e11 seconds is the year 5138 and 1e11 milliseconds is 1973: a count on the wrong side of it is
        # almost surely in the other unit, and taking it as given would store a wildly wrong time.
        if time_format == "unix" and abs(seconds) > 1e11:
            raise ValueError(
                f"{where}: time {_show(raw)} looks like milliseconds; set time_format to unix_ms"
            )
        if time_format == "unix_ms":
            if 0 < abs(seconds) < 1e11:
                raise ValueError(f"{where}: time {_show(raw)} looks like seconds; set time_format to unix")
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{where}: time {_show(raw)} is out of range") from None
