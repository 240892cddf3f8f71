"""Reading hourly series from CSV (long or wide), with messages that name the offending line.

Long format: a header with ``series``, ``timestamp`` and ``value`` (other columns are ignored), one
observation per row. Wide format: a ``timestamp`` column and one column per series. Timestamps are
ISO 8601 on a whole hour, with or without offset; without one they are UTC. An empty value is a gap;
values must be non-negative numbers. A series may not have the same hour twice.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.instants import InstantError, parse_instant

from .data import hour_to_datetime

LONG_COLUMNS = ("series", "timestamp", "value")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CsvError(ValueError):
    """The CSV cannot be used; the message says where and why."""


def _hour(text: str, line: int, cache: dict) -> int:
    """Epoch hour of an ISO 8601 timestamp (naive = UTC); CsvError when unparseable or not whole."""
    hour = cache.get(text)
    if hour is not None:
        return hour
    try:
        moment = parse_instant(text, naive_zone=UTC)
    except InstantError:
        raise CsvError(f"line {line}: cannot parse timestamp {text!r} (expected ISO 8601).") from None
    seconds = (moment - EPOCH).total_seconds()
    if seconds % 3600:
        raise CsvError(f"line {line}: timestamp {text!r} is not on a whole hour; the data must be hourly.")
    hour = int(seconds // 3600)
    cache[text] = hour
    return hour


def _value(text: str, line: int, series: str) -> float:
    """The float of a cell (NaN for an empty cell); CsvError when not a non-negative number."""
    text = text.strip()
    if not text:
        return np.nan
    try:
        value = float(text)
    except ValueError:
        raise CsvError(f"line {line}: value {text!r} of series {series!r} is not a number.") from None
    if value < 0:
        raise CsvError(
            f"line {line}: negative value {text} for series {series!r} (counts cannot be negative)."
        )
    if value == float("inf"):
        raise CsvError(f"line {line}: value {text!r} of series {series!r} is not finite.")
    return value


def read_series(path: str | Path, fmt: str = "long") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{series: (sorted epoch hours, values)}`` from a long or wide CSV; gaps are left out."""
    if fmt not in ("long", "wide"):
        raise CsvError(f"unknown format {fmt!r}; use 'long' or 'wide'.")
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            names, series_index, hours, values, lines = _read(handle, path, fmt)
    except OSError as exc:
        raise CsvError(f"cannot read {path}: {exc.strerror or exc}.") from None
    return _group(names, series_index, hours, values, lines)


def _read(handle, path, fmt: str):
    """(series names, then per observation: series index, epoch hour, value, line number)."""
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvError(f"{path} is empty: expected a header line.")
        header = [name.strip() for name in header]
        if fmt == "long":
            return _read_long(reader, header)
        return _read_wide(reader, header)
    except UnicodeDecodeError as exc:
        raise CsvError(f"line {reader.line_num + 1}: not UTF-8 text ({exc.reason}).") from None
    except csv.Error as exc:
        raise CsvError(f"line {reader.line_num}: malformed CSV ({exc}).") from None


def _read_long(reader, header: list[str]):
    lowered = [name.lower() for name in header]
    missing = [name for name in LONG_COLUMNS if name not in lowered]
    if missing:
        raise CsvError(
            f"line 1: missing column(s) {', '.join(missing)} for the long format "
            f"(header: {', '.join(header) or 'empty'}; the long format needs series,timestamp,value)."
        )
    at_series, at_time, at_value = (lowered.index(name) for name in LONG_COLUMNS)
    width = max(at_series, at_time, at_value) + 1
    ids: dict[str, int] = {}
    cache: dict[str, int] = {}
    series_index, hours, values, lines = [], [], [], []
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) < width:
            raise CsvError(f"line {line}: expected {len(header)} fields, found {len(row)}.")
        name = row[at_series].strip()
        if not name:
            raise CsvError(f"line {line}: empty series name.")
        hour = _hour(row[at_time], line, cache)  # checked even for a gap: a bad row is a bad row
        value = _value(row[at_value], line, name)
        if value != value:  # NaN: a gap, nothing to store
            continue
        series_index.append(ids.setdefault(name, len(ids)))
        hours.append(hour)
        values.append(value)
        lines.append(line)
    return list(ids), series_index, hours, values, lines


def _read_wide(reader, header: list[str]):
    lowered = [name.lower() for name in header]
    if "timestamp" not in lowered:
        raise CsvError(
            f"line 1: missing column timestamp for the wide format (header: {', '.join(header) or 'empty'})."
        )
    at_time = lowered.index("timestamp")
    names = [name for i, name in enumerate(header) if i != at_time]
    if not names:
        raise CsvError("line 1: no series columns; the wide format is timestamp then one column per series.")
    if "" in names:
        raise CsvError(f"line 1: column {header.index('') + 1} has no name.")
    seen = set()
    for name in names:
        if name in seen:
            raise CsvError(f"line 1: column {name!r} appears twice.")
        seen.add(name)
    columns = [i for i in range(len(header)) if i != at_time]
    cache: dict[str, int] = {}
    series_index, hours, values, lines = [], [], [], []
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            raise CsvError(f"line {line}: expected {len(header)} fields, found {len(row)}.")
        hour = _hour(row[at_time], line, cache)
        for index, column in enumerate(columns):
            value = _value(row[column], line, names[index])
            if value == value:
                series_index.append(index)
                hours.append(hour)
                values.append(value)
                lines.append(line)
    return names, series_index, hours, values, lines


def _group(names, series_index, hours, values, lines) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Sort by (series, hour), refuse duplicates (naming both lines) and split per series."""
    series_index = np.asarray(series_index, dtype=np.int64)
    hours = np.asarray(hours, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    lines = np.asarray(lines, dtype=np.int64)
    order = np.lexsort((lines, hours, series_index))
    series_index, hours, values, lines = series_index[order], hours[order], values[order], lines[order]
    same = (series_index[1:] == series_index[:-1]) & (hours[1:] == hours[:-1])
    if same.any():
        # Report the duplicate that comes first in the file.
        candidates = np.flatnonzero(same)
        first = candidates[np.argmin(lines[candidates + 1])]
        raise CsvError(
            f"line {lines[first + 1]}: duplicate timestamp {hour_to_datetime(hours[first]).isoformat()} "
            f"for series {names[series_index[first]]!r} (already on line {lines[first]})."
        )
    bounds = np.searchsorted(series_index, np.arange(len(names) + 1))
    return {
        name: (hours[bounds[i] : bounds[i + 1]], values[bounds[i] : bounds[i + 1]])
        for i, name in enumerate(names)
    }


def write_long(path: str | Path, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> int:
    """Write ``{series: (datetime64 or epoch-hour array, values)}`` as a long CSV; returns the row count."""
    rows = 0
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(LONG_COLUMNS)
        for name, (stamps, values) in series.items():
            for stamp, value in zip(_iso(stamps), values, strict=True):
                if value == value:
                    writer.writerow((name, stamp, _number(value)))
                    rows += 1
    return rows


def write_wide(path: str | Path, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> int:
    """Write series as a wide CSV (one row per hour present in any series); returns the row count."""
    names = list(series)
    hours = sorted({h for stamps, _ in series.values() for h in _epoch_hours(stamps).tolist()})
    position = {h: i for i, h in enumerate(hours)}
    table = np.full((len(hours), len(names)), np.nan)
    for column, name in enumerate(names):
        stamps, values = series[name]
        table[[position[h] for h in _epoch_hours(stamps).tolist()], column] = values
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", *names])
        for stamp, row in zip(_iso(np.array(hours)), table, strict=True):
            writer.writerow([stamp, *("" if v != v else _number(v) for v in row)])
    return len(hours)


def _epoch_hours(stamps) -> np.ndarray:
    stamps = np.asarray(stamps)
    if np.issubdtype(stamps.dtype, np.datetime64):
        return stamps.astype("datetime64[h]").astype(np.int64)
    return stamps.astype(np.int64)


def _iso(stamps) -> list[str]:
    return [f"{s}:00:00Z" for s in _epoch_hours(stamps).astype("datetime64[h]").astype(str)]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
