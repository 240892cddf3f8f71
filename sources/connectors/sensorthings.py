"""Observations from any OGC SensorThings API v1.1 server (FROST, 52°North...), e.g. another city's sensors.

Per configured datastream, fetch reads the Datastream once (name and unitOfMeasurement), then its
Observations newer than the datastream's cursor, oldest first, following ``@iot.nextLink`` up to
``max_pages`` pages. Each page is one payload; parse turns its numeric results into readings and moves
the cursor. Request (see the OGC SensorThings API v1.1 standard, 17-079r1, section 9.3):

    GET {base_url}/Datastreams(7)/Observations?$filter=phenomenonTime gt 2025-06-01T10:20:00Z
        &$orderby=phenomenonTime asc&$top=1000&$select=phenomenonTime,result
"""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from django.utils import timezone

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import Connector, DataInventory, ParseError, ParseResult, Payload, Reading
from .generic_json import (
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_RECORD_WARNINGS,
    SLUG_PATTERN,
    as_number,
    decode_json,
    http_get,
    parse_iso_interval,
    schema_default,
)

MAX_UNIT_LENGTH = 20  # Series.unit
# UCUM codes that SensorThings servers use for units our metrics spell otherwise.
UCUM_UNITS = {
    "Cel": "°C",
    "degC": "°C",
    "{person}": "persons",
    "{persons}": "persons",
    "{people}": "persons",
    "{vehicle}": "vehicles",
    "{vehicles}": "vehicles",
}
NO_UNIT = frozenset({"", "n/a", "NA", "none", "-"})


def odata_literal(datastream_id: int | str) -> str:
    """The id as an OData key literal: 7, or 'abc' with quotes doubled ('o''brien')."""
    if isinstance(datastream_id, int):
        return str(datastream_id)
    return "'" + datastream_id.replace("'", "''") + "'"


def odata_time(moment: datetime) -> str:
    """A UTC OData time literal. Sub-seconds are cut to milliseconds, never rounded up: rounding up could skip
    an observation; cutting only fetches the newest one again, which the store ignores as a duplicate."""
    moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds") + "Z"


def _query(params: list[tuple[str, str]]) -> str:
    # Spaces as %20, not the '+' httpx would write: OData servers differ in reading '+' as a space.
    return "&".join(f"{name}={quote(value, safe=',:')}" for name, value in params)


@register
class SensorThingsConnector(Connector):
    """Poll chosen Datastreams of an OGC SensorThings API v1.1 server for new Observations."""

    kind = "sensorthings"
    label = "OGC SensorThings API"
    description = (
        "Reads Observations of chosen Datastreams from any OGC SensorThings API v1.1 server (FROST-Server, "
        "52°North and others), for example another city's counting sensors. Each Datastream becomes a "
        "series; only observations newer than the last one stored are asked for."
    )
    default_poll_interval = 300
    stores = (
        "Per configured datastream: its name and unit of measurement, and each numeric observation as a time "
        "and a number. Nothing else from the server is kept."
    )
    inventory = DataInventory(
        metrics=tuple(Metric.values),
        series="one per configured datastream",
        aggregation="one number per observation time, as the remote server publishes it",
    )
    config_schema = {
        "type": "object",
        "required": ["base_url", "datastreams"],
        "properties": {
            "base_url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 500,
                "description": "Root of the SensorThings API, including its version (.../v1.1), no entity.",
                "examples": ["https://example.org/FROST-Server/v1.1"],
            },
            "datastreams": {
                "type": "array",
                "minItems": 1,
                "maxItems": 200,
                "description": "The Datastreams to read; each becomes one series.",
                "items": {
                    "type": "object",
                    "required": ["id", "metric"],
                    "properties": {
                        "id": {
                            "type": ["integer", "string"],
                            "minimum": 0,
                            "minLength": 1,
                            "maxLength": 180,
                            "description": "The Datastream's @iot.id: a number, or a text (such as a UUID).",
                            "examples": [7],
                        },
                        "metric": {
                            "type": "string",
                            "enum": list(Metric.values),
                            "description": "What the Datastream measures.",
                            "examples": [Metric.PEOPLE_COUNT.value],
                        },
                        "area": {
                            "type": "string",
                            "pattern": SLUG_PATTERN,
                            "maxLength": 80,
                            "default": "",
                            "description": "Slug of the area the series belongs to (optional).",
                        },
                        "key": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_KEY_LENGTH,
                            "description": "Series key; default 'datastream:<id>'. Keep it once stored.",
                        },
                    },
                    "additionalProperties": False,
                },
            },
            "page_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": 10000,
                "default": 1000,
                "description": "Observations asked for per request ($top); servers may send fewer.",
            },
            "max_pages": {
                "type": "integer",
                "minimum": 1,
                "maximum": 200,
                "default": 20,
                "description": "Pages read per datastream per fetch; the rest follows on the next fetch.",
            },
            "initial_lookback_hours": {
                "type": "number",
                "minimum": 0,
                "maximum": 8760,
                "default": 24,
                "description": "On a datastream's first fetch, read observations of this many past hours.",
            },
        },
        "additionalProperties": False,
    }
    secret_schema = {
        "type": "object",
        "properties": {
            "username": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "writeOnly": True,
                "description": "User name for HTTP basic authentication (with password).",
            },
            "password": {
                "type": "string",
                "minLength": 1,
                "maxLength": 500,
                "writeOnly": True,
                "description": "Password for HTTP basic authentication (with username).",
            },
            "token": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4096,
                "writeOnly": True,
                "description": "Bearer token, sent as 'Authorization: Bearer <token>', not with basic auth.",
            },
        },
        "dependentRequired": {"username": ["password"], "password": ["username"]},
        "additionalProperties": False,
    }

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        """Schema messages, plus series keys that two datastreams would share."""
        messages = super().validate_config(config)
        datastreams = config.get("datastreams") if isinstance(config, dict) else None
        if isinstance(datastreams, list):
            first: dict[str, int] = {}
            for index, entry in enumerate(datastreams):
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), int | str):
                    continue
                key = cls._series_key(entry)
                if key in first:
                    messages.append(
                        f"datastreams/{index}: series key '{key}' is already used by "
                        f"datastreams/{first[key]}; give each datastream its own id or key"
                    )
                first.setdefault(key, index)
        return messages

    @classmethod
    def validate_secrets(cls, secrets: dict) -> list[str]:
        messages = super().validate_secrets(secrets)
        if isinstance(secrets, dict) and secrets.get("token") and secrets.get("username"):
            messages.append("token: give a bearer token or a username and password, not both")
        return messages

    @staticmethod
    def _series_key(entry: dict) -> str:
        return entry.get("key") or f"datastream:{entry['id']}"

    def _setting(self, name: str) -> Any:
        return schema_default(self.config_schema, self.config, name)

    def _headers(self) -> dict:
        headers = {"Accept": "application/json"}
        if self.secrets.get("token"):
            headers["Authorization"] = f"Bearer {self.secrets['token']}"
        elif self.secrets.get("username"):
            pair = f"{self.secrets['username']}:{self.secrets.get('password', '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    def _get(self, url: str, headers: dict, what: str) -> Payload:
        response = http_get(
            self.http,
            url,
            headers=headers,
            not_found=f"{what} does not exist there; check base_url and the datastream id.",
            refused="check the source's username and password, or token.",
        )
        return Payload(
            body=response.content,
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
        )

    def fetch(self) -> list[Payload]:
        """Payloads of Observations pages; meta holds the datastream id, its name, unit and cursor."""
        base_url = self.config["base_url"].rstrip("/")
        origin = urlsplit(base_url)[:2]
        headers = self._headers()
        lookback = timedelta(hours=self._setting("initial_lookback_hours"))
        payloads = []
        for entry in self.config["datastreams"]:
            literal = odata_literal(entry["id"])
            label = f"Datastreams({literal})"
            datastream_url = base_url + "/Datastreams(" + quote(literal, safe="'") + ")"
            datastream = decode_json(self._get(datastream_url, headers, label))
            if not isinstance(datastream, dict):
                raise ParseError(
                    f"{datastream_url} sent {type(datastream).__name__}, not a Datastream object."
                )
            unit = datastream.get("unitOfMeasurement")
            cursor = self._cursor(label)
            since = cursor or odata_time((self.now or timezone.now()) - lookback)
            query = _query(
                [
                    ("$filter", f"phenomenonTime gt {since}"),
                    ("$orderby", "phenomenonTime asc"),
                    ("$top", str(self._setting("page_size"))),
                    ("$select", "phenomenonTime,result"),
                ]
            )
            url = f"{datastream_url}/Observations?{query}"
            meta = {
                "datastream": entry["id"],
                "name": datastream.get("name") if isinstance(datastream.get("name"), str) else "",
                "unit": unit.get("symbol") if isinstance(unit, dict) else None,
                "cursor": cursor,
            }
            max_pages = self._setting("max_pages")
            for page in range(1, max_pages + 1):
                payload = self._get(url, headers, f"{label}/Observations")
                payload.meta = {**meta, "notes": []}
                payloads.append(payload)
                body = decode_json(payload)
                next_link = body.get("@iot.nextLink") if isinstance(body, dict) else None
                if not isinstance(next_link, str) or not next_link:
                    break
                next_url = urljoin(url, next_link)
                if urlsplit(next_url)[:2] != origin:
                    # Following it would send our credentials to another host.
                    payload.meta["notes"].append(
                        f"{label}: the server's next page link points to {urlsplit(next_url).netloc}, not to "
                        "base_url's host; not followed."
                    )
                    break
                if page == max_pages:
                    payload.meta["notes"].append(
                        f"{label}: stopped after {max_pages} pages (max_pages); the next fetch continues "
                        "from the newest observation read."
                    )
                url = next_url
        return payloads

    def _cursor(self, label: str) -> str | None:
        """The stored cursor of a datastream; one that is not a UTC time (edited by hand?) is ignored."""
        cursor = self.state.get(label)
        try:
            valid = isinstance(cursor, str) and datetime.fromisoformat(cursor).utcoffset() is not None
        except ValueError:
            valid = False
        return cursor if valid else None

    def parse(self, payload: Payload) -> ParseResult:
        """Readings of one Observations page; state moves the datastream's cursor to the newest one."""
        datastream_id = payload.meta["datastream"]
        # 7 and '7' are different Datastreams, so the type must match too.
        entry = next(
            (
                e
                for e in self.config["datastreams"]
                if (e["id"], type(e["id"])) == (datastream_id, type(datastream_id))
            ),
            None,
        )
        if entry is None:
            raise ParseError(f"Datastream {datastream_id!r} is no longer in the source's datastreams.")
        label = f"Datastreams({odata_literal(datastream_id)})"
        data = decode_json(payload)
        if not isinstance(data, dict) or not isinstance(data.get("value"), list):
            raise ParseError(
                f"{payload.url} is not a SensorThings Observations list (no 'value' array): check that "
                "base_url is the API root, e.g. https://example.org/FROST-Server/v1.1."
            )
        metric = entry["metric"]
        result = ParseResult(warnings=list(payload.meta.get("notes", [])))
        unit = self._unit(payload.meta.get("unit"), metric, label, result.warnings)
        key = self._series_key(entry)
        name = (payload.meta.get("name") or key)[:MAX_NAME_LENGTH]
        cursor = payload.meta.get("cursor")
        newest = datetime.fromisoformat(cursor) if cursor else None
        skipped = []
        for index, observation in enumerate(data["value"]):
            where = f"{label} observation {index}"
            if not isinstance(observation, dict):
                skipped.append(f"{where} is not an object")
                continue
            try:
                start, end = parse_iso_interval(observation.get("phenomenonTime"))
            except ValueError as exc:
                skipped.append(f"{where}: phenomenonTime: {exc}")
                continue
            if start.tzinfo is None or end.tzinfo is None:
                skipped.append(f"{where}: phenomenonTime {observation['phenomenonTime']!r} has no UTC offset")
                continue
            where = f"{label} observation at {observation['phenomenonTime']}"
            # The cursor is the newest phenomenonTime *start*: with contiguous intervals (10:00/10:05,
            # 10:05/10:10) a cursor at the end would make 'gt' skip the next interval on some servers.
            # Observations with an unusable result move it too: no fetching and warning about them again.
            if newest is None or start > newest:
                newest = start
            try:
                value = as_number(observation.get("result"))
            except ValueError as exc:
                skipped.append(f"{where}: result {exc}")
                continue
            result.readings.append(
                Reading(
                    key=key,
                    metric=metric,
                    time=end,
                    value=value,
                    unit=unit,
                    name=name,
                    area=entry.get("area") or None,
                )
            )
        result.warnings.extend(f"{problem}; skipped." for problem in skipped[:MAX_RECORD_WARNINGS])
        if len(skipped) > MAX_RECORD_WARNINGS:
            result.warnings.append(
                f"{label}: {len(skipped) - MAX_RECORD_WARNINGS} more observations skipped."
            )
        if newest is not None and odata_time(newest) != cursor:
            result.state = {label: odata_time(newest)}
        return result

    @staticmethod
    def _unit(symbol: Any, metric: str, label: str, warnings: list[str]) -> str:
        """Our spelling of the Datastream's unit symbol; the metric's usual unit when it has none."""
        if not isinstance(symbol, str) or symbol.strip() in NO_UNIT:
            return DEFAULT_UNITS.get(metric, "")
        unit = UCUM_UNITS.get(symbol.strip(), symbol.strip())
        if len(unit) > MAX_UNIT_LENGTH:
            warnings.append(f"{label}: unit symbol '{unit}' is cut to {MAX_UNIT_LENGTH} characters.")
            unit = unit[:MAX_UNIT_LENGTH]
        return unit
