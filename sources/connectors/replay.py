"""Replay: plays a CSV of recorded or simulated counts in real time, looping, aligned to the week.

The CSV (``series,time,value`` plus optional ``metric``, ``unit``, ``area``, ``name``, ``facility``, ``lon``
and ``lat`` columns; a series' first row names and places it) is mapped onto the
present by whole weeks, so a Sunday afternoon in the file plays on a Sunday afternoon. Each fetch emits
the rows whose mapped time lies between the previous fetch and now; the first fetch also emits
``backfill_hours`` of history. The demo uses it to bring the Scheveningen areas to life; a city can use
it to rehearse with its own recordings.

A passer-by counts file as the Amsterdam crowd monitoring system (CMSA) publishes it (``timestamp`` plus one
``<sensor>_<direction>`` column per counting line and walking direction, counts per interval) plays too: as
``people_passing`` rates in persons per minute (count / ``interval_minutes``, else the spacing of the
timestamps), one series per sensor and direction, named, placed and given a line width by ``sensors``
(see sources.connectors.crowd_counts_csv, which reads the file).
"""

import csv
import io
from bisect import bisect_right
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from ..choices import Metric
from . import register
from .base import Connector, DataInventory, FetchError, ParseError, ParseResult, Payload, Reading
from .crowd_counts_csv import (
    SENSORS_SCHEMA,
    WIDE,
    interval_of,
    passing_readings,
    read_counts_file,
    sensor_directory,
)

WEEK = timedelta(days=7)
MAX_ROWS_PER_FETCH = 500_000


def replay_dirs() -> list[Path]:
    """Where replay files are looked up: VAR_DIR/replay (generated, uploaded) then the shipped ones."""
    return [Path(settings.VAR_DIR) / "replay", Path(__file__).resolve().parent.parent / "replay_data"]


@register
class ReplayConnector(Connector):
    kind = "replay"
    label = "Replay of recorded counts (CSV)"
    description = (
        "Plays a CSV of recorded or simulated counts in real time, looping and aligned to the week. For "
        "demos, rehearsals and testing alert rules without live sensors."
    )
    default_poll_interval = 60
    stores = "The values of the CSV file as they play; nothing else."
    inventory = DataInventory(
        metrics=tuple(Metric.values),
        series="one per series of the recorded CSV file",
        aggregation="the recorded values as they are in the file",
    )
    config_schema = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9_.-]+\.csv$",
                "description": "Name of a CSV file in VAR_DIR/replay or the shipped replay_data folder.",
            },
            "backfill_hours": {
                "type": "integer",
                "minimum": 0,
                "maximum": 24 * 90,
                "default": 0,
                "description": "History to emit on the first fetch.",
            },
            "default_metric": {"type": "string", "default": "people_count"},
            "sensors": {
                **SENSORS_SCHEMA,
                "description": (
                    "Passer-by counts files (CMSA): per sensor id, name, width_m, lat and lon of the "
                    "counting line."
                ),
            },
            "interval_minutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1440,
                "description": (
                    "Passer-by counts files (CMSA): minutes one count covers. Unset: the spacing of the "
                    "timestamps (3 for CMSA)."
                ),
            },
        },
        "additionalProperties": False,
    }

    def fetch(self) -> list[Payload]:
        name = self.config["file"]
        for folder in replay_dirs():
            path = folder / name
            if path.is_file():
                return [Payload(body=path.read_bytes(), url=str(path), content_type="text/csv")]
        raise FetchError(
            f"Replay file '{name}' not found in {', '.join(str(d) for d in replay_dirs())}.", retryable=False
        )

    def parse(self, payload: Payload) -> ParseResult:
        rows, warnings = _read_csv(
            payload.body,
            time_zone=self.context.time_zone,
            sensors=self.config.get("sensors") or {},
            interval=self.config.get("interval_minutes"),
        )
        if not rows:
            raise ParseError(
                "The replay CSV has no usable data rows." + (f" {warnings[0]}" if warnings else "")
            )
        now = self.now or timezone.now()
        start, end = rows[0][0], rows[-1][0]
        span = max(end - start, WEEK)
        span = WEEK * -(-span // WEEK)  # whole weeks, so weekdays stay aligned when looping
        last = self.state.get("played_until")
        since = (
            datetime.fromisoformat(last)
            if last
            else now - timedelta(hours=self.config.get("backfill_hours", 0))
        )
        since = max(since, now - timedelta(days=90))
        times = [r[0] for r in rows]
        readings: list[Reading] = []
        # Walk the loops that overlap (since, now]; offset k shifts the file by k spans.
        k = (since - start) // span
        while start + k * span <= now:
            shift = k * span
            first = bisect_right(times, since - shift)
            for time, key, value, metric, unit, area, name, facility, location, width in rows[first:]:
                played = time + shift
                if played > now:
                    break
                readings.append(
                    Reading(
                        key=key,
                        metric=metric or self.config.get("default_metric", "people_count"),
                        time=played,
                        value=value,
                        unit=unit or "",
                        name=name or key,
                        area=area or None,
                        facility=facility,
                        location=location,
                        line_width_m=width,
                    )
                )
                if len(readings) > MAX_ROWS_PER_FETCH:
                    raise ParseError(
                        f"More than {MAX_ROWS_PER_FETCH} rows due at once; lower backfill_hours."
                    )
            k += 1
        return ParseResult(readings=readings, warnings=warnings, state={"played_until": now.isoformat()})


MAX_LINE_WARNINGS = 10


def _read_csv(
    body: bytes, *, time_zone: str = "UTC", sensors: dict | None = None, interval: int | None = None
) -> tuple[list[tuple], list[str]]:
    """The rows of a replay CSV, sorted by time, and a warning per line that could not be read (skipped:
    one broken line does not lose the file). A passer-by counts file (CMSA wide) is read as such."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"The replay file is not UTF-8: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = {"series", "time", "value"} - set(reader.fieldnames or [])
    if missing:
        if "timestamp" in {name.strip().lower() for name in reader.fieldnames or []}:
            return _read_passer_by_counts(body, time_zone=time_zone, sensors=sensors or {}, interval=interval)
        raise ParseError(
            f"The replay CSV lacks column(s) {', '.join(sorted(missing))}. (A passer-by counts file has a "
            "'timestamp' column and one '<sensor>_<direction>' column per counting line instead.)"
        )
    rows, warnings, skipped = [], [], 0

    def skip(message: str) -> None:
        nonlocal skipped
        skipped += 1
        if len(warnings) < MAX_LINE_WARNINGS:
            warnings.append(f"Replay CSV line {message}; skipped.")

    for line, record in enumerate(reader, start=2):
        try:
            time = datetime.fromisoformat(record["time"])
            value = float(record["value"])
        except (TypeError, ValueError) as exc:
            skip(f"{line}: {exc}")
            continue
        if time.tzinfo is None:
            skip(f"{line}: time {record['time']!r} has no time zone")
            continue
        location = None
        if record.get("lon") and record.get("lat"):
            try:
                location = (float(record["lon"]), float(record["lat"]))
            except ValueError as exc:
                skip(f"{line}: lon/lat: {exc}")
                continue
        rows.append(
            (
                time,
                record["series"],
                value,
                record.get("metric") or "",
                record.get("unit") or "",
                record.get("area"),
                record.get("name") or "",
                record.get("facility") or "",
                location,
                None,
            )
        )
    rows.sort(key=lambda r: r[0])
    if skipped > len(warnings):
        warnings.append(f"{skipped - len(warnings)} more replay CSV line(s) skipped for such reasons.")
    return rows, warnings


def _read_passer_by_counts(
    body: bytes, *, time_zone: str, sensors: dict, interval: int | None
) -> tuple[list[tuple], list[str]]:
    """The rows of a CMSA wide counts file as people_passing rates, sorted by time, and its warnings."""
    where = "The replay CSV"
    file = read_counts_file(body, where=where, time_zone=time_zone, fmt=WIDE)
    if not file.rows:
        return [], file.warnings
    minutes, problems = interval_of(file.times(), configured=interval, previous=None, where=where)
    warnings = file.warnings + problems
    if minutes is None:
        return [], warnings
    counts, problems = file.counts()
    warnings += problems
    readings, problems = passing_readings(
        counts,
        minutes,
        sensor_directory({}, sensors),
        described=bool(sensors),
        described_in="'sensors'",
        undescribed="No 'sensors' are set",
    )
    warnings += problems
    rows = [
        (r.time, r.key, r.value, r.metric, r.unit, None, r.name, r.facility, r.location, r.line_width_m)
        for r in readings
    ]
    rows.sort(key=lambda r: r[0])
    return rows, warnings
