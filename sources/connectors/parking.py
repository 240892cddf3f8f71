"""Dutch open parking data (SPDP 2.0), as published by RDW at https://npropendata.rdw.nl/parkingdata/v2/.

The index lists every facility with its ``dynamicDataUrl`` (only facilities that share live data have
one). Each dynamic document holds ``parkingFacilityDynamicInformation.facilityActualStatus`` with
``vacantSpaces``, ``parkingCapacity`` and ``lastUpdated`` (unix seconds).

Many facilities answer 401 (the operator restricts access) or 404; such a facility is skipped with a
warning and the others are still stored. The fetch fails only when the index is broken or when not a
single facility could be read.

The national index is several megabytes, so the live-data addresses found in it are kept in the source's
state and the index is read again only after ``INDEX_MAX_AGE`` or when the list of facilities changes.
"""

import json
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

from django.utils import timezone

from core import jsonlimits

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

INDEX_URL = "https://npropendata.rdw.nl/parkingdata/v2/"
INDEX_MAX_AGE = timedelta(hours=1)
MAX_PARALLEL = 8  # facilities fetched at once: a slow operator must not hold up all the others
ACCEPT_JSON = {"Accept": "application/json"}
# Some publishers give lastUpdated in milliseconds; 10^11 seconds is the year 5138, so larger is ms.
MILLISECONDS_ABOVE = 10**11

# (status field, metric, key suffix, series label)
STATUS_FIELDS = (
    ("vacantSpaces", Metric.PARKING_VACANT, "vacant", "vacant spaces"),
    ("parkingCapacity", Metric.PARKING_CAPACITY, "capacity", "capacity"),
)
STATUS_HINTS = {
    401: " (the operator restricts access to this facility's live data)",
    403: " (the operator restricts access to this facility's live data)",
    404: " (no live data at this address; the facility may have moved or stopped publishing)",
}


@register
class ParkingConnector(Connector):
    """Vacant spaces and capacity of parking facilities from the Dutch SPDP 2.0 open parking data."""

    kind = "parking"
    label = "Parking occupancy (RDW open parking data, SPDP 2.0)"
    description = (
        "Live vacant spaces and capacity of parking garages and P+R sites from the Dutch national open "
        "parking data (SPDP 2.0, published by RDW at npropendata.rdw.nl). Follows the listed facilities; a "
        "facility that does not share its live data (HTTP 401 or 404) is skipped with a warning."
    )
    default_poll_interval = 300
    stores = (
        "Per parking facility: the number of vacant spaces and the total capacity, with the time the "
        "operator last updated them, and the facility's name and identifier. No vehicles, licence plates "
        "or people."
    )
    inventory = DataInventory(
        metrics=(Metric.PARKING_VACANT, Metric.PARKING_CAPACITY),
        series="one per parking facility and quantity",
        aggregation="facility totals as the operator last published them",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "index_url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 500,
                "default": INDEX_URL,
                "description": "SPDP 2.0 index that lists the facilities and their live-data addresses.",
            },
            "facilities": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                "minItems": 1,
                "maxItems": 200,
                "uniqueItems": True,
                "default": [],
                "description": (
                    "Identifiers of the facilities to follow, as listed in the index "
                    "(e.g. 'cea4cffe-158c-4b08-b940-5d5eefeba089')."
                ),
            },
            "dynamic_urls": {
                "type": "object",
                "additionalProperties": {"type": "string", "pattern": "^https?://", "maxLength": 500},
                "maxProperties": 200,
                "default": {},
                "description": (
                    "Optional live-data address per facility identifier, used instead of the index (for a "
                    "facility the index does not list, or to avoid reading the index at all)."
                ),
            },
        },
        "required": ["facilities"],
        "additionalProperties": False,
    }

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        messages = super().validate_config(config)
        if isinstance(config, dict) and isinstance(config.get("dynamic_urls"), dict):
            listed = config.get("facilities") if isinstance(config.get("facilities"), list) else []
            for facility in config["dynamic_urls"]:
                if facility not in listed:
                    messages.append(
                        f"dynamic_urls/{facility}: not one of 'facilities'; add it there or remove it."
                    )
        return messages

    def fetch(self) -> list[Payload]:
        facilities = list(self.config["facilities"])
        overrides = self.config.get("dynamic_urls") or {}
        index_url = self.config.get("index_url") or INDEX_URL
        urls = {f: overrides[f] for f in facilities if f in overrides}
        names: dict[str, str] = {}
        problems: dict[str, str] = {}
        payloads: list[Payload] = []
        needed = [f for f in facilities if f not in overrides]
        if needed:
            resolved = self._cached_index(index_url, needed)
            if resolved is None:
                index = self._fetch_index(index_url, needed)
                payloads.append(index)  # parse() keeps what it resolved in the state, for the next fetches
                resolved = _resolve(_index_entries(index), needed, index_url)
            found, names, problems = resolved
            urls.update(found)
        with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(urls)))) as pool:
            fetched = dict(zip(urls, pool.map(self._fetch_facility, urls, urls.values()), strict=True))
        unread: list[str] = []
        any_body = False
        for facility in facilities:
            name = names.get(facility, "")
            if facility in problems:
                payload = Payload(
                    body=b"", meta={"facility": facility, "name": name, "error": problems[facility]}
                )
                unread.append(f"{_label(facility, name)}: {problems[facility]}")
            else:
                payload = fetched[facility]
                payload.meta["name"] = name
                if "error" in payload.meta:
                    unread.append(f"{_label(facility, name)}: {payload.meta['error']}")
                else:
                    try:
                        _dynamic_status(payload)
                    except ParseError as exc:
                        any_body = True
                        unread.append(f"{_label(facility, name)}: {exc.message}")
            payloads.append(payload)
        if len(unread) == len(facilities):
            shown = "; ".join(unread[:5]) + (f"; and {len(unread) - 5} more" if len(unread) > 5 else "")
            checks = []
            if needed:
                checks.append(f"the identifiers in 'facilities' against the index at {index_url}")
            if overrides:
                checks.append("the addresses in 'dynamic_urls'")
            if len(facilities) == 1:
                what = "The parking facility could not be read"
            else:
                what = f"None of the {len(facilities)} parking facilities could be read"
            # Only bodies that came but could not be read make it a ParseError; retrying soon will not help.
            error = ParseError if any_body else FetchError
            raise error(f"{what}: {shown}. Check {' and '.join(checks)}.")
        return payloads

    def parse(self, payload: Payload) -> ParseResult:
        """Readings of one facility (its problems become warnings), or the state kept from the index."""
        if payload.meta.get("role") == "index":
            needed = payload.meta["facilities"]
            urls, names, problems = _resolve(_index_entries(payload), needed, payload.url)
            return ParseResult(
                state={
                    "index": {
                        "url": payload.url,
                        "read_at": payload.meta["read_at"],
                        "dynamic_urls": urls,
                        "names": names,
                        "problems": problems,
                    }
                }
            )
        facility = payload.meta.get("facility", "")
        label = _label(facility, payload.meta.get("name", ""))
        if payload.meta.get("error"):
            return ParseResult(warnings=[f"Parking facility {label}: {payload.meta['error']}; skipped."])
        try:
            info, status = _dynamic_status(payload)
        except ParseError as exc:
            return ParseResult(warnings=[f"Parking facility {label}: {exc.message}; skipped."])
        result = ParseResult()
        identifier = info.get("identifier")
        if not facility:
            facility = str(identifier or "")
            label = _label(facility, payload.meta.get("name", ""))
        elif identifier and identifier != facility:
            # Keys stay on the configured identifier, so the series do not move when a publisher errs.
            result.warnings.append(f"Parking facility {label}: the document calls itself '{identifier}'.")
        if not facility:
            result.warnings.append(f"Parking document at {payload.url} has no 'identifier'; skipped.")
            return result
        name = str(info.get("name") or payload.meta.get("name") or facility)
        time, problem = _unix_time(status.get("lastUpdated"))
        if problem:
            result.warnings.append(f"Parking facility {label}: {problem}; skipped.")
            return result
        for field, metric, suffix, what in STATUS_FIELDS:
            value, problem = _count(status, field)
            if problem:
                result.warnings.append(f"Parking facility {label}: {problem}; not stored.")
                continue
            result.readings.append(
                Reading(
                    key=f"{facility}:{suffix}",
                    metric=metric.value,
                    time=time,
                    value=value,
                    unit=DEFAULT_UNITS[metric],
                    name=f"{name} {what}",
                    facility=facility,
                )
            )
        return result

    def _cached_index(self, index_url: str, needed: list[str]):
        """What an earlier index read found for ``needed``, while it is fresh enough; else None."""
        cached = self.state.get("index")
        if not isinstance(cached, dict) or cached.get("url") != index_url:
            return None
        try:
            read_at = datetime.fromisoformat(cached["read_at"])
        except (KeyError, TypeError, ValueError):
            return None
        if not read_at.tzinfo or self._now() - read_at > INDEX_MAX_AGE:
            return None
        urls, names, problems = (
            cached.get("dynamic_urls", {}),
            cached.get("names", {}),
            cached.get("problems", {}),
        )
        if not all(f in urls or f in problems for f in needed):
            return None  # a facility was added since: read the index again
        return (
            {f: urls[f] for f in needed if f in urls},
            {f: names[f] for f in needed if f in names},
            {f: problems[f] for f in needed if f in problems},
        )

    def _fetch_index(self, index_url: str, needed: list[str]) -> Payload:
        try:
            response = self.http.get(index_url, headers=ACCEPT_JSON)
        except FetchError as exc:
            raise FetchError(
                f"Parking index: {exc.message} If this persists, check the source's 'index_url'."
            ) from exc
        return Payload(
            body=response.content,
            url=index_url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta={"role": "index", "facilities": needed, "read_at": self._now().isoformat()},
        )

    def _fetch_facility(self, facility: str, url: str) -> Payload:
        """One facility's dynamic document; a failure is noted in ``meta['error']`` instead of raised."""
        try:
            # Every status is accepted here so that a 401 or 404 skips this facility, not the fetch.
            response = self.http.get(url, headers=ACCEPT_JSON, accept_status=range(100, 600))
        except FetchError as exc:
            return Payload(body=b"", url=url, status=0, meta={"facility": facility, "error": exc.message})
        meta = {"facility": facility}
        if response.status_code != 200:
            reason = f"{response.status_code} {response.reason_phrase}".strip()
            meta["error"] = f"{url} answered HTTP {reason}{STATUS_HINTS.get(response.status_code, '')}"
        return Payload(
            body=response.content if response.status_code == 200 else b"",
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta=meta,
        )

    def _now(self) -> datetime:
        return self.now or timezone.now()


def _load_json(payload: Payload, where: str, hint: str):
    """The decoded body, or a ParseError saying what came instead."""
    body = payload.body or b""
    if not body.strip():
        raise ParseError(f"{where} sent an empty body{hint}")
    if body.lstrip()[:1] == b"<":
        start = " ".join(body.lstrip()[:60].decode("utf-8", "replace").split())
        raise ParseError(
            f"{where} sent HTML or XML instead of JSON (content type '{payload.content_type}', starting "
            f"'{start}'){hint}"
        )
    try:
        return jsonlimits.loads(body)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{where} sent broken JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}; cut off or "
            f"damaged){hint}",
            retryable=json_cut_off(exc),
        ) from exc
    except ValueError as exc:  # not UTF-8/16/32
        raise ParseError(f"{where} sent a body that is not JSON text ({exc}){hint}") from exc


def _index_entries(payload: Payload) -> dict[str, dict]:
    """The index's facilities by identifier; ParseError when it is not an SPDP 2.0 index."""
    hint = f"; check the source's 'index_url' (RDW's index is {INDEX_URL})."
    where = f"The parking index at {payload.url}"
    document = _load_json(payload, where, hint)
    listed = document.get("ParkingFacilities") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        raise ParseError(f"{where} is JSON but has no 'ParkingFacilities' list{hint}")
    entries = {}
    for entry in listed:
        if isinstance(entry, dict):
            # Older versions of the index named the identifier 'uuid'.
            identifier = entry.get("identifier") or entry.get("uuid")
            if identifier:
                entries[str(identifier)] = entry
    return entries


def _resolve(entries: dict[str, dict], needed: list[str], index_url: str):
    """(live-data URL, name, problem) per facility in ``needed``, from the index entries."""
    urls, names, problems = {}, {}, {}
    for facility in needed:
        entry = entries.get(facility)
        if entry is None:
            problems[facility] = f"not in the parking index at {index_url}; check the identifier"
            continue
        if entry.get("name"):
            names[facility] = str(entry["name"])
        dynamic = entry.get("dynamicDataUrl")
        if isinstance(dynamic, str) and dynamic.strip():
            urls[facility] = urljoin(index_url, dynamic.strip())
        else:
            problems[facility] = "publishes no live data (the index gives no dynamicDataUrl for it)"
    return urls, names, problems


def _dynamic_status(payload: Payload) -> tuple[dict, dict]:
    """(parkingFacilityDynamicInformation, facilityActualStatus) of a dynamic document, or ParseError."""
    where = f"{payload.url}"
    document = _load_json(payload, where, "")
    info = document.get("parkingFacilityDynamicInformation") if isinstance(document, dict) else None
    status = info.get("facilityActualStatus") if isinstance(info, dict) else None
    if not isinstance(status, dict):
        raise ParseError(
            f"{where} sent JSON without 'parkingFacilityDynamicInformation.facilityActualStatus'"
        )
    return info, status


def _unix_time(value) -> tuple[datetime | None, str | None]:
    if value is None:
        return None, "no 'lastUpdated' time"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, f"'lastUpdated' is not a unix time ({value!r})"
    seconds = value / 1000 if value > MILLISECONDS_ABOVE else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC), None
    except (OverflowError, OSError, ValueError):
        return None, f"'lastUpdated' is not a unix time ({value!r})"


def _count(status: dict, field: str) -> tuple[float | None, str | None]:
    """A count of spaces as a float, or None and the reason it is unusable."""
    value = status.get(field)
    if value is None:
        return None, f"no '{field}'" if field not in status else f"'{field}' is null"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, f"'{field}' is not a number ({value!r})"
    if value < 0:
        return None, f"'{field}' is {value:g}, below zero"
    return float(value), None


def _label(facility: str, name: str) -> str:
    return f"{name} ({facility})" if name else facility
