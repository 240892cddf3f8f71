"""Passer-by counts per counting line from a CSV export, as the Amsterdam crowd monitoring system (CMSA,
Crowd Monitoring Systeem Amsterdam) publishes them, and the same data in a long layout.

Two layouts, told apart by the header (or set with ``format``):

- ``wide`` (CMSA): ``timestamp,<sensor>_<direction>,...``: one row per interval, one column per counting
  sensor and walking direction in degrees (``CMSA-GAWW-11_120`` and ``CMSA-GAWW-11_300`` are the two
  directions of one line), holding the number of people who crossed the line in that interval. Columns
  that are not ``<sensor>_<direction>`` are ignored; calendar helpers that some exports add (``hour``,
  ``minute``, ``day``, ``month``, ``weekday``, ``is_weekend``) silently, any other with one warning.
- ``long``: ``timestamp,sensor,count`` and optionally ``direction``, one row per sensor and interval.

Each count becomes a ``people_passing`` reading: a rate in persons per minute over the whole line, count
divided by the interval in minutes (``interval_minutes``, else the median spacing of the timestamps: 3 for
CMSA). One series per sensor and direction (key ``<sensor>_<direction>``), grouped by ``facility`` = the
sensor id. Names, positions and line widths come from CMSA's sensor table (``sensors_url``: ``Objectnummer``,
``Locatienaam``, ``"lat, lon"``, ``Breedte`` and ``Effectieve breedte`` in metres with a Dutch decimal comma;
read at most every six hours and kept in the source's state) and from the ``sensors`` setting, which wins
field by field. The line width is the effective width, else the full width.

Times keep the offset the file gives (``+02:00``), so the 3-minute grid runs on across the October change
to winter time without two intervals landing on one instant; times without an offset are read in the
tenant's time zone (a wall-clock time that occurs twice is taken as the first, then the second occurrence)
with one warning. Each fetch emits only rows newer than the newest one emitted before (the cursor); the
first fetch at most ``backfill_hours`` before the newest row. An empty cell is no value, never zero.

The reading helpers (``read_counts_file``, ``interval_of``, ``read_sensor_table``, ``passing_readings``)
are shared with the replay connector, which plays CMSA wide files too.
"""

import csv
import io
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import timezone as timezone_offset
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from core.instants import parse_instant

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import Connector, DataInventory, FetchError, ParseError, ParseResult, Payload, Reading
from .generic_json import schema_default

WIDE, LONG, AUTO = "wide", "long", "auto"
PEOPLE_PASSING_UNIT = DEFAULT_UNITS[Metric.PEOPLE_PASSING]
SENSOR_TABLE_MAX_AGE = timedelta(hours=6)
MAX_SENSORS = 2000
MAX_SENSOR_ID_LENGTH = 150  # so that "<sensor>_<direction>" fits Series.key (200)
MAX_ROW_WARNINGS = 10  # per payload; the rest are counted in one closing warning
MAX_COLUMN_WARNINGS = 20
# "<sensor>_<direction in degrees>", split at the last underscore: "GASA-01-A1_135".
DIRECTION_COLUMN = re.compile(r"^(?P<sensor>\S.*?)_(?P<direction>\d{1,3})$")
# Derived from the timestamp by some exports (the SAIL 2025 one has them); ignored without a warning.
CALENDAR_COLUMNS = frozenset(
    {"hour", "minute", "day", "month", "year", "weekday", "is_weekend", "date", "time", "week", "dayofweek"}
)
# What spreadsheets and pandas write for "no value": read as an empty cell, never as zero or NaN.
NO_VALUE = frozenset({"", "nan", "na", "n/a", "null", "none", "-"})
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
ACCEPT_CSV = {"Accept": "text/csv, text/plain;q=0.9, */*;q=0.1"}

SENSORS_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_SENSORS,
    "propertyNames": {"minLength": 1, "maxLength": MAX_SENSOR_ID_LENGTH},
    "additionalProperties": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 150, "description": "Place name."},
            "width_m": {
                "type": "number",
                "minimum": 0.1,
                "maximum": 1000,
                "description": "Effective width of the counting line in metres.",
            },
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lon": {"type": "number", "minimum": -180, "maximum": 180},
        },
        "dependentRequired": {"lat": ["lon"], "lon": ["lat"]},
        "additionalProperties": False,
    },
    "default": {},
    "description": (
        "Per sensor id: name, width_m, lat and lon of the counting line. Wins, field by field, over the "
        "sensor table."
    ),
    "examples": [
        {"CMSA-GAWW-11": {"name": "Korte Niezel", "width_m": 3.4, "lat": 52.374616, "lon": 4.89983}}
    ],
}


@register
class CrowdCountsCsvConnector(Connector):
    """Passer-by counts per counting line and walking direction from a CSV export (CMSA wide or long)."""

    kind = "crowd_counts_csv"
    label = "Passer-by counts (CSV, Amsterdam CMSA)"
    description = (
        "Reads people counted crossing counting lines from a CSV export, such as the Amsterdam crowd "
        "monitoring system (CMSA) publishes: one column per sensor and walking direction, or one row per "
        "sensor. Stores people per minute per direction, with the line's place, position and width from "
        "the sensor table or the settings. Only rows newer than the last one read are stored."
    )
    default_poll_interval = 180
    stores = (
        "Per counting line and walking direction: the number of people passing per minute in each interval, "
        "and the line's name, position and width. Nothing else from the file is kept."
    )
    inventory = DataInventory(
        metrics=(Metric.PEOPLE_PASSING.value,),
        series="one per counting sensor and walking direction",
        aggregation="people crossing the line per minute, averaged over the feed's interval (3 min for CMSA)",
    )
    config_schema = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 1000,
                "description": "Address of the CSV export (the city's open-data or export address).",
            },
            "sensors_url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 1000,
                "description": (
                    'Optional address of the sensor table CSV (Objectnummer, Locatienaam, "lat, lon", '
                    "Breedte, Effectieve breedte); read at most every six hours."
                ),
            },
            "sensors": SENSORS_SCHEMA,
            "format": {
                "type": "string",
                "enum": [AUTO, WIDE, LONG],
                "default": AUTO,
                "description": (
                    "wide: timestamp plus one '<sensor>_<direction>' column each (CMSA); long: "
                    "timestamp,sensor,count[,direction]; auto: told by the header."
                ),
            },
            "timestamp_column": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "default": "timestamp",
                "description": "Name of the column with the interval's time (ISO 8601, with offset).",
            },
            "interval_minutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1440,
                "description": (
                    "Minutes one count covers. Unset: the spacing of the timestamps in the file (3 for CMSA)."
                ),
            },
            "backfill_hours": {
                "type": "integer",
                "minimum": 0,
                "maximum": 24 * 14,
                "default": 24,
                "description": "On the first fetch, how far before the newest row to start.",
            },
        },
        "additionalProperties": False,
    }

    def fetch(self) -> list[Payload]:
        url = self.config["url"]
        response = self.http.get(url, headers=ACCEPT_CSV)
        counts = Payload(
            body=response.content,
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta={"role": "counts"},
        )
        sensors_url = self.config.get("sensors_url")
        if sensors_url and self._sensor_table_stale(sensors_url):
            # Before the counts: parse() keeps the table in the state, where the counts' parse finds it.
            return [self._fetch_sensor_table(sensors_url), counts]
        return [counts]

    def parse(self, payload: Payload) -> ParseResult:
        if payload.meta.get("role") == "sensors":
            return self._parse_sensor_table(payload)
        where = f"The counts file at {payload.url}" if payload.url else "The counts file"
        file = read_counts_file(
            payload.body,
            where=where,
            time_zone=self.context.time_zone,
            fmt=schema_default(self.config_schema, self.config, "format"),
            timestamp_column=schema_default(self.config_schema, self.config, "timestamp_column"),
            content_type=payload.content_type,
        )
        result = ParseResult(warnings=list(file.warnings))
        if not file.rows:
            result.warnings.append(f"{where} has no data rows; nothing stored (no rows is not zero people).")
            return result
        interval, problems = interval_of(
            file.times(),
            configured=self.config.get("interval_minutes"),
            previous=self.state.get("interval_minutes"),
            where=where,
        )
        result.warnings.extend(problems)
        if interval is None:
            return result
        newest = file.times()[-1]
        cursor, problem = _cursor(self.state.get("cursor"))
        if problem:
            result.warnings.append(problem)
        if cursor is not None and newest <= cursor:
            result.warnings.append(
                f"{where} has no rows after {cursor.isoformat()}, the newest already read (its newest row is "
                f"{newest.isoformat()}): the export has not moved on."
            )
            return result
        if cursor is None:  # first fetch: at most backfill_hours before the newest row
            backfill = schema_default(self.config_schema, self.config, "backfill_hours")
            since = newest - timedelta(hours=backfill)
            counts, problems = file.counts(lambda t: t >= since)
        else:
            since = cursor
            counts, problems = file.counts(lambda t: t > cursor)
        result.warnings.extend(problems)
        directory, described = self._sensor_directory()
        readings, problems = passing_readings(counts, interval, directory, described=described)
        result.warnings.extend(problems)
        result.readings = readings
        if not readings:
            result.warnings.append(
                f"{where}: the rows from {since.isoformat()} on hold no usable counts; nothing stored."
            )
        state = {"interval_minutes": interval}
        if readings:
            state["cursor"] = max(r.time for r in readings).isoformat()
        result.state = state
        return result

    # --- the sensor table ----------------------------------------------------------------------------

    def _sensor_table_stale(self, url: str) -> bool:
        if self.state.get("sensor_table_url") != url or not isinstance(self.state.get("sensor_table"), dict):
            return True
        read_at, _ = _cursor(self.state.get("sensor_table_read_at"))
        return read_at is None or self._now() - read_at >= SENSOR_TABLE_MAX_AGE

    def _fetch_sensor_table(self, url: str) -> Payload:
        """The sensor table; a failure is noted in ``meta['error']``: the counts are read without it."""
        meta = {"role": "sensors", "read_at": self._now().isoformat()}
        try:
            response = self.http.get(url, headers=ACCEPT_CSV)
        except FetchError as exc:
            return Payload(body=b"", url=url, meta={**meta, "error": exc.message})
        return Payload(
            body=response.content,
            url=url,
            content_type=response.headers.get("content-type", ""),
            status=response.status_code,
            meta=meta,
        )

    def _parse_sensor_table(self, payload: Payload) -> ParseResult:
        problem = payload.meta.get("error")
        if not problem:
            try:
                table, warnings = read_sensor_table(
                    payload.body,
                    where=f"The sensor table at {payload.url}",
                    content_type=payload.content_type,
                )
            except ParseError as exc:
                problem = exc.message
            else:
                state = {"sensor_table": table, "sensor_table_url": payload.url}
                state["sensor_table_read_at"] = payload.meta["read_at"]
                return ParseResult(warnings=warnings, state=state)
        kept = self.state.get("sensor_table_url") == payload.url and self.state.get("sensor_table")
        fallback = (
            f"the table read at {self.state.get('sensor_table_read_at')} is used"
            if kept
            else "the series get no names, locations or widths from it this time"
        )
        return ParseResult(
            warnings=[f"Sensor table: {problem.rstrip('.')}; {fallback} (tried again next fetch)."]
        )

    def _sensor_directory(self) -> tuple[dict[str, dict], bool]:
        """Name, lat, lon, width_m and problems per sensor id: the table, then the ``sensors`` setting."""
        sensors_url = self.config.get("sensors_url")
        table = {}
        if sensors_url and self.state.get("sensor_table_url") == sensors_url:
            table = self.state.get("sensor_table") or {}
        configured = self.config.get("sensors") or {}
        return sensor_directory(table, configured), bool(sensors_url or configured)

    def _now(self) -> datetime:
        return self.now or timezone.now()


def _cursor(value) -> tuple[datetime | None, str | None]:
    if not value:
        return None, None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None, f"The kept position {value!r} is not a time; reading as on a first fetch."
    if moment.tzinfo is None:
        return None, f"The kept position {value!r} has no time zone; reading as on a first fetch."
    return moment, None


# --- reading counts (shared with the replay connector) ------------------------------------------------


@dataclass(frozen=True)
class Count:
    """One cell of a counts file: people who crossed ``sensor``'s line in ``direction`` in an interval."""

    time: datetime
    sensor: str
    direction: str  # degrees as text ("120"), or "" when the file gives none
    count: float


@dataclass
class CountRow:
    line: int
    time: datetime
    cells: list[str]


@dataclass
class CountsFile:
    """A counts CSV with its header understood and its timestamps read; cells are read by :meth:`counts`."""

    format: str
    columns: list[tuple[int, str, str]]  # wide: (position, sensor, direction) of each counting column
    positions: dict[str, int]  # long: position of "sensor", "count" and (when present) "direction"
    rows: list[CountRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def times(self) -> list[datetime]:
        """The distinct instants of the rows, oldest first."""
        return sorted({row.time for row in self.rows})

    def counts(self, wanted: Callable[[datetime], bool] = lambda t: True) -> tuple[list[Count], list[str]]:
        """The counts of the rows whose time is ``wanted``, and warnings on their cells: not a count,
        below zero (counted per column, so a broken column gives one warning, not thousands)."""
        counts: list[Count] = []
        problems: dict[str, dict[str, list]] = {}  # column -> kind -> [number, first line, first text]
        seen: set[tuple[str, str, datetime]] = set()
        repeated = [0, 0]

        def cell(column: str, line: int, text: str, time: datetime, sensor: str, direction: str) -> None:
            text = text.strip()
            if text.lower() in NO_VALUE:
                return
            value = _number(text)
            kind = "garbled" if value is None else "negative" if value < 0 else None
            if kind:
                noted = problems.setdefault(column, {}).setdefault(kind, [0, line, text])
                noted[0] += 1
                return
            if (sensor, direction, time) in seen:
                repeated[0] += 1
                repeated[1] = repeated[1] or line
                return
            seen.add((sensor, direction, time))
            counts.append(Count(time=time, sensor=sensor, direction=direction, count=value))

        for row in self.rows:
            if not wanted(row.time):
                continue
            if self.format == WIDE:
                for position, sensor, direction in self.columns:
                    column = f"Column '{sensor}_{direction}'"
                    cell(column, row.line, row.cells[position], row.time, sensor, direction)
            else:
                sensor = row.cells[self.positions["sensor"]].strip()
                direction = (
                    row.cells[self.positions["direction"]].strip() if "direction" in self.positions else ""
                )
                cell(
                    f"Sensor '{_key(sensor, direction)}'",
                    row.line,
                    row.cells[self.positions["count"]],
                    row.time,
                    sensor,
                    direction,
                )
        warnings = []
        for column, kinds in list(problems.items())[:MAX_COLUMN_WARNINGS]:
            if "garbled" in kinds:
                number, line, text = kinds["garbled"]
                warnings.append(
                    f"{column}: {number} cell(s) are not a count (first on line {line}: {text!r}); skipped."
                )
            if "negative" in kinds:
                number, line, text = kinds["negative"]
                warnings.append(
                    f"{column}: {number} negative count(s) (first on line {line}: {text}); rejected."
                )
        if len(problems) > MAX_COLUMN_WARNINGS:
            warnings.append(
                f"Cells of {len(problems) - MAX_COLUMN_WARNINGS} more column(s) skipped likewise."
            )
        if repeated[0]:
            warnings.append(
                f"{repeated[0]} count(s) repeat a sensor, direction and time given before (first on line "
                f"{repeated[1]}); the first is kept."
            )
        return counts, warnings


def _key(sensor: str, direction: str) -> str:
    return f"{sensor}_{direction}" if direction else sensor


def _number(text: str) -> float | None:
    """A plain decimal number ("12", "12.0", Dutch "12,5"); None for anything else (no nan, inf, 1e3)."""
    text = text.replace(",", ".")
    return float(text) if _DECIMAL.fullmatch(text) else None


def decode_csv(body: bytes, *, where: str, content_type: str = "") -> str:
    """The body as text, or a ParseError saying what came instead of CSV (HTML, JSON, binary)."""
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    start = " ".join(stripped[:60].decode("utf-8", "replace").split())
    shown = (
        f" (content type '{content_type}', starting '{start}')" if content_type else f" (starting '{start}')"
    )
    if stripped[:1] == b"<":
        raise ParseError(f"{where} is HTML or XML, not CSV{shown}; check the address.")
    if stripped[:1] in (b"{", b"["):
        raise ParseError(f"{where} is JSON, not CSV{shown}; check the address.")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = body.decode("cp1252")  # what spreadsheet programs in the Netherlands save as "CSV"
        except UnicodeDecodeError as exc:
            raise ParseError(f"{where} is not text (neither UTF-8 nor Windows-1252): {exc}.") from exc
    if "\x00" in text:
        raise ParseError(f"{where} is binary, not CSV text{shown}.")
    return text


def _records(text: str, *, where: str) -> tuple[list[tuple[int, list[str]]], str]:
    """(line number, fields) of every record, and the delimiter (',' unless the header uses ';' or tab,
    or an Excel 'sep=;' line says so)."""
    first, _, rest = text.partition("\n")
    explicit = re.fullmatch(r"\s*sep=(.)\s*", first)
    if explicit:
        text, delimiter = rest, explicit.group(1)
    else:
        counts = {d: first.count(d) for d in ",;\t"}
        delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    offset = 1 if explicit else 0
    try:
        records = [(reader.line_num + offset, row) for row in reader]
    except csv.Error as exc:
        raise ParseError(f"{where} is not readable CSV (line {reader.line_num + offset}: {exc}).") from exc
    return [(line, row) for line, row in records if any(cell.strip() for cell in row)], delimiter


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _localize(naive: datetime, zone, seen: set, key) -> datetime | None:
    """A wall-clock time in ``zone``; None when the clock skips it (spring). A time the clock shows twice
    (autumn) is its first occurrence until ``key`` (the row's time, or time, sensor and direction: several
    rows of a long file share one time) is in ``seen``, its second after that."""
    first, second = naive.replace(tzinfo=zone), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        return None  # in the gap of the change to summer time
    if key in seen:
        return second
    seen.add(key)
    return first


def read_counts_file(
    body: bytes,
    *,
    where: str,
    time_zone: str,
    fmt: str = AUTO,
    timestamp_column: str = "timestamp",
    content_type: str = "",
) -> CountsFile:
    """The header and timestamps of a counts CSV; ParseError when it cannot be read as one at all.

    Rows with a broken timestamp or the wrong number of fields are skipped with a warning; a last line
    cut short (a download that stopped early) too, with its own warning."""
    text = decode_csv(body, where=where, content_type=content_type)
    records, _ = _records(text, where=where)
    if not records:
        return CountsFile(format=fmt, columns=[], positions={}, warnings=[f"{where} is empty."])
    names = [name.strip().lstrip("\ufeff") for name in records[0][1]]
    lower = [name.lower() for name in names]
    shown = ",".join(names)
    shown = shown if len(shown) <= 100 else shown[:97] + "..."
    if timestamp_column.lower() not in lower:
        raise ParseError(
            f"{where} has no '{timestamp_column}' column; its header reads '{shown}'. A counts file needs "
            "the time of each interval in a 'timestamp' column (or set 'timestamp_column' to the column "
            "that holds it)."
        )
    time_at = lower.index(timestamp_column.lower())
    warnings: list[str] = []
    if fmt == AUTO:
        fmt = LONG if {"sensor", "count"} <= set(lower) else WIDE
    columns, positions = [], {}
    if fmt == LONG:
        missing = [name for name in ("sensor", "count") if name not in lower]
        if missing:
            raise ParseError(
                f"{where} lacks the column(s) {', '.join(missing)} of the long layout "
                f"(timestamp,sensor,count[,direction]); its header reads '{shown}'."
            )
        positions = {name: lower.index(name) for name in ("sensor", "count", "direction") if name in lower}
    else:
        ignored, seen = [], set()
        for position, name in enumerate(names):
            match = DIRECTION_COLUMN.match(name)
            if position == time_at:
                continue
            if match and int(match["direction"]) <= 360 and len(match["sensor"]) <= MAX_SENSOR_ID_LENGTH:
                if name in seen:
                    warnings.append(f"{where}: column '{name}' appears twice; the second is ignored.")
                    continue
                seen.add(name)
                columns.append((position, match["sensor"], match["direction"]))
            elif name and name.lower() not in CALENDAR_COLUMNS:
                ignored.append(name)
        if not columns:
            raise ParseError(
                f"{where} has no counting columns: the wide layout has one column per sensor and walking "
                "direction named '<sensor>_<direction in degrees>' (such as 'CMSA-GAWW-11_120'), the long "
                f"layout the columns timestamp,sensor,count; its header reads '{shown}'."
            )
        if ignored:
            listed = ", ".join(f"'{n}'" for n in ignored[:10]) + (" ..." if len(ignored) > 10 else "")
            warnings.append(
                f"{where}: {len(ignored)} column(s) are not '<sensor>_<direction>' columns and are ignored: "
                f"{listed}."
            )
    file = CountsFile(format=fmt, columns=columns, positions=positions, warnings=warnings)
    width = len(names)
    zone, seen_twice, naive_example = _zone(time_zone), set(), None
    skipped: list[str] = []
    ends_whole = text.endswith(("\n", "\r"))
    for index, (line, cells) in enumerate(records[1:], start=1):
        if len(cells) != width:
            if index == len(records) - 1 and len(cells) < width and not ends_whole:
                warnings.append(
                    f"{where} stops in the middle of its last line ({line}: {len(cells)} of {width} fields): "
                    "the download was cut off; that line is skipped (a later fetch reads it whole)."
                )
            else:
                skipped.append(f"line {line} has {len(cells)} fields where the header has {width}")
            continue
        stamp = cells[time_at].strip()
        try:
            moment = parse_instant(stamp, allow_naive=True)
        except ValueError:
            skipped.append(f"line {line}: {stamp!r} is not an ISO 8601 time")
            continue
        if moment.tzinfo is None:
            naive_example = naive_example or stamp
            key = moment if fmt == WIDE else (moment, *(cells[p].strip() for p in positions.values()))
            local = _localize(moment, zone, seen_twice, key)
            if local is None:
                skipped.append(f"line {line}: {stamp} does not exist in {time_zone} (the clock skips it)")
                continue
            # A fixed offset, not the zone: datetimes that share a tzinfo compare and hash by wall clock,
            # fold ignored, which would make the two 02:00s of an October night one.
            moment = local.astimezone(timezone_offset(local.utcoffset()))
        file.rows.append(CountRow(line=line, time=moment, cells=cells))
    if naive_example:
        warnings.insert(
            0,
            f"{where} gives times without a time zone (such as '{naive_example}'); they are read as "
            f"{time_zone} time. A time with an offset (+02:00) leaves no doubt.",
        )
    warnings.extend(f"{where}: {problem}; skipped." for problem in skipped[:MAX_ROW_WARNINGS])
    if len(skipped) > MAX_ROW_WARNINGS:
        warnings.append(f"{where}: {len(skipped) - MAX_ROW_WARNINGS} more line(s) skipped for such reasons.")
    return file


def interval_of(
    times: list[datetime], *, configured: float | None, previous: float | None, where: str
) -> tuple[float | None, list[str]]:
    """The minutes one count covers: ``configured``, else the median spacing of ``times`` (warning when
    the spacing is irregular), else the one found before; None and a warning when it cannot be told."""
    gaps = [(b - a).total_seconds() / 60 for a, b in pairwise(times)]
    if not gaps:
        if configured or previous:
            return float(configured or previous), []
        return None, [
            f"{where} has only one time ({times[0].isoformat()}), so the interval of its counts cannot be "
            "told; set 'interval_minutes'. Nothing stored."
        ]
    median = statistics.median(gaps)
    if configured:
        if not math.isclose(median, configured, rel_tol=0.01):
            return float(configured), [
                f"{where}: its rows are {median:g} minutes apart, but 'interval_minutes' is {configured:g}; "
                f"the rates use {configured:g}."
            ]
        return float(configured), []
    odd = sorted({round(g, 2) for g in gaps if not math.isclose(g / median, round(g / median), abs_tol=0.01)})
    if odd:
        listed = ", ".join(f"{g:g}" for g in odd[:5]) + (" ..." if len(odd) > 5 else "")
        return median, [
            f"{where}: its rows are not evenly spaced (gaps of {listed} minutes besides the usual "
            f"{median:g}); each count is taken as {median:g} minutes, the median gap. Set 'interval_minutes' "
            "if that is wrong."
        ]
    return median, []


# --- the sensor table (CMSA: Objectnummer, Locatienaam, "lat, lon", Breedte, Effectieve breedte) ------

SENSOR_TABLE_COLUMNS = {
    "id": ("objectnummer", "sensor", "sensor_id", "id"),
    "name": ("locatienaam", "name", "naam"),
    "latlon": ("lat/long", "lat/lon", "lat, lon", "latlon", "lat_lon"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "longitude"),
    "effective": ("effectieve breedte", "effective_width_m", "effective width"),
    "width": ("breedte", "width_m", "width"),
}


def read_sensor_table(
    body: bytes, *, where: str, content_type: str = ""
) -> tuple[dict[str, dict], list[str]]:
    """Per sensor id: name, lat, lon, width_m (effective width, else full width; None when neither is a
    width) and the problems found with them; warnings for rows that could not be read."""
    text = decode_csv(body, where=where, content_type=content_type)
    records, _ = _records(text, where=where)
    if not records:
        raise ParseError(f"{where} is empty.")
    lower = [name.strip().lstrip("\ufeff").lower() for name in records[0][1]]
    at = {}
    for role, names in SENSOR_TABLE_COLUMNS.items():
        found = next((lower.index(n) for n in names if n in lower), None)
        if found is not None:
            at[role] = found
    if "id" not in at:
        raise ParseError(
            f"{where} has no 'Objectnummer' column (the sensor id); its header reads "
            f"'{','.join(records[0][1])[:100]}'."
        )
    table: dict[str, dict] = {}
    warnings = []

    def get(cells, role) -> str:
        return cells[at[role]].strip() if role in at and at[role] < len(cells) else ""

    last_line, last_cells = records[-1]
    if len(records) > 1 and len(last_cells) < len(lower) and not text.endswith(("\n", "\r")):
        raise ParseError(
            f"{where} stops in the middle of its last line ({last_line}: {len(last_cells)} of {len(lower)} "
            "fields): the download was cut off",
            retryable=True,
        )
    for line, cells in records[1:]:
        sensor = get(cells, "id")
        if not sensor:
            warnings.append(f"{where}, line {line}: no sensor id; skipped.")
            continue
        if sensor in table:
            warnings.append(f"{where}, line {line}: sensor {sensor} appears again; the first row is kept.")
            continue
        if len(table) >= MAX_SENSORS:
            warnings.append(f"{where} lists more than {MAX_SENSORS} sensors; the rest are ignored.")
            break
        problems = {}
        lat = lon = None
        if "latlon" in at:
            place = get(cells, "latlon")
            parts = [p for p in re.split(r"[\s,;]+", place) if p]
        else:
            place = f"{get(cells, 'lat')}, {get(cells, 'lon')}"
            parts = [get(cells, "lat"), get(cells, "lon")]
        if any(parts):
            numbers = [_number(p) for p in parts] if len(parts) == 2 else [None]
            if None in numbers or not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
                problems["position"] = f"its position {place!r} is not 'lat, lon'"
            else:
                lat, lon = numbers
        width, problem = _width(get(cells, "effective"), get(cells, "width"))
        if problem:
            problems["width"] = problem
        table[sensor] = {
            "name": get(cells, "name"),
            "lat": lat,
            "lon": lon,
            "width_m": width,
            "problems": problems,
        }
    return table, warnings


def _width(effective: str, full: str) -> tuple[float | None, str | None]:
    """The line width: the effective width, else the full width; a problem when the effective width is
    there but unusable, or no width is usable."""
    values = [_number(effective) if effective else None, _number(full) if full else None]
    usable = [v if v is not None and 0.1 <= v <= 1000 else None for v in values]
    if usable[0] is not None:
        return usable[0], None
    if usable[1] is not None:
        if effective:
            return usable[1], f"its Effectieve breedte {effective!r} is not a width; Breedte {full} m is used"
        return usable[1], None
    return None, (
        f"no usable line width (Effectieve breedte {effective!r}, Breedte {full!r}), so its series get no "
        "width; set it in 'sensors'"
    )


def sensor_directory(table: dict[str, dict], configured: dict[str, dict]) -> dict[str, dict]:
    """The sensor table with the ``sensors`` setting laid over it, field by field."""
    directory = {
        sensor: {**info, "problems": dict(info.get("problems") or {})} for sensor, info in table.items()
    }
    for sensor, settings in configured.items():
        info = directory.setdefault(
            sensor, {"name": "", "lat": None, "lon": None, "width_m": None, "problems": {}}
        )
        if settings.get("name"):
            info["name"] = settings["name"]
        if settings.get("width_m") is not None:
            info["width_m"] = float(settings["width_m"])
            info["problems"].pop("width", None)
        if settings.get("lat") is not None and settings.get("lon") is not None:
            info["lat"], info["lon"] = float(settings["lat"]), float(settings["lon"])
            info["problems"].pop("position", None)
    return directory


def passing_readings(
    counts: list[Count],
    interval: float,
    directory: dict[str, dict],
    *,
    described: bool,
    described_in: str = "the sensor table or 'sensors'",
    undescribed: str = "No sensor table ('sensors_url') and no 'sensors' are set",
) -> tuple[list[Reading], list[str]]:
    """``people_passing`` readings (count / interval minutes) with the sensors' names, places and widths,
    and one warning per sensor whose description is missing or incomplete (or one in all when no sensor
    is described anywhere: ``described`` False)."""
    readings, sensors = [], {}
    for count in counts:
        info = directory.get(count.sensor)
        sensors.setdefault(count.sensor, info)
        info = info or {}
        name = info.get("name") or count.sensor
        if count.direction.isdigit():
            name += f" (direction {count.direction}°)"
        elif count.direction:
            name += f" ({count.direction})"
        placed = info.get("lat") is not None and info.get("lon") is not None
        readings.append(
            Reading(
                key=_key(count.sensor, count.direction),
                metric=Metric.PEOPLE_PASSING.value,
                time=count.time,
                value=count.count / interval,
                unit=PEOPLE_PASSING_UNIT,
                name=name,
                facility=count.sensor,
                location=(info["lon"], info["lat"]) if placed else None,
                line_width_m=info.get("width_m"),
            )
        )
    warnings = []
    if not described:
        if sensors:
            warnings.append(
                f"{undescribed}: the series get no place names, positions or line widths, so no density per "
                "metre can be worked out."
            )
        return readings, warnings
    for sensor, info in sensors.items():
        if info is None:
            warnings.append(
                f"Sensor {sensor} is not in {described_in}: its series get no place name, position or line "
                "width; add it to 'sensors'."
            )
        elif info.get("problems"):
            label = f"{sensor} ({info['name']})" if info.get("name") else sensor
            warnings.append(f"Sensor {label}: {'; '.join(info['problems'].values())}.")
    return readings, warnings
