"""Parsing of pushed observations (JSON or CSV) into rows, with a reason for every row that is unusable.

JSON: ``[{"series": "<key>", "time": "<ISO 8601 with zone>", "value": <number>}, ...]`` (optional
``metric`` and ``unit`` for a series that does not exist yet, and ``line_width_m`` for a ``people_passing``
series: the width of its counting line in metres). CSV: a header ``series,time,value`` (optionally
``metric,unit,line_width_m``) and one row per observation. Structural problems of the whole body raise
:class:`PushFormatError`; problems of single rows are returned per row.

:func:`push_ingest` holds the rules for pushed observations, for the REST push endpoint and the
SensorThings writes alike: which token may push to which source, a disabled source refuses, who may
create series, and storing through ``services.ingest`` (plausibility, push window, idempotency).
"""

import csv
import io
import json
from datetime import datetime

from core import jsonlimits
from core.instants import InstantError, parse_instant
from tenants.choices import Capability, Role, role_has
from tenants.models import ApiToken

from . import services
from .services import IngestReport, Item


class PushFormatError(ValueError):
    """The body as a whole cannot be read."""


class TooManyRowsError(PushFormatError):
    """More rows than one request may carry."""


def parse_time(text) -> tuple[datetime | None, str | None]:
    """An aware datetime from ISO 8601 text, or an explanation (core.instants)."""
    try:
        return parse_instant(text), None
    except InstantError as error:
        return None, error.message


def _row(
    index: int, series, time_text, value, metric=None, unit=None, line_width_m=None
) -> tuple[Item | None, str | None, str | None]:
    key = series.strip() if isinstance(series, str) else series
    if not isinstance(key, str) or not key:
        return None, None, f"'series' must be a non-empty string, got {series!r}."
    if len(key) > 200:
        return None, key, "'series' is longer than 200 characters."
    time, problem = parse_time(time_text)
    if problem:
        return None, key, problem
    if metric is not None and not isinstance(metric, str):
        return None, key, f"'metric' must be a string, got {metric!r}."
    width = line_width_m
    numeric = isinstance(width, int | float) and not isinstance(width, bool)
    if width is not None and not (numeric and 0.1 <= width <= 1000):
        return None, key, f"'line_width_m' must be a number of metres from 0.1 to 1000, got {width!r}."
    item = Item(row=index, key=key, time=time, value=value, metric=metric or None, unit=unit,
                line_width_m=line_width_m)  # fmt: skip
    return item, key, None


def parse_json(body: bytes, *, max_rows: int) -> tuple[list[Item], list[dict]]:
    """Rows and per-row errors from a JSON body. NaN and Infinity are read, then rejected per row."""
    try:
        data = jsonlimits.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PushFormatError(f"Body is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PushFormatError(f"JSON parse error: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("observations"), list):
        data = data["observations"]
    if not isinstance(data, list):
        raise PushFormatError('Body must be a JSON array of {"series", "time", "value"} objects.')
    if len(data) > max_rows:
        raise TooManyRowsError(f"{len(data)} rows; at most {max_rows} per request.")
    items, errors = [], []
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            errors.append({"row": index, "series": None, "reason": f"Row is not an object: {record!r:.80}."})
            continue
        missing = [name for name in ("series", "time", "value") if name not in record]
        if missing:
            errors.append(
                {
                    "row": index,
                    "series": record.get("series"),
                    "reason": f"Missing field(s): {', '.join(missing)}.",
                }
            )
            continue
        item, key, problem = _row(
            index,
            record["series"],
            record["time"],
            record["value"],
            record.get("metric"),
            record.get("unit"),
            record.get("line_width_m"),
        )
        if problem:
            errors.append({"row": index, "series": key, "reason": problem})
        else:
            items.append(item)
    return items, errors


def parse_csv(body: bytes, *, max_rows: int) -> tuple[list[Item], list[dict]]:
    """Rows and per-row errors from a CSV body with a header line (row numbers count data rows from 0)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PushFormatError(f"Body is not UTF-8: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise PushFormatError("CSV body is empty; expected a header 'series,time,value'.") from None
    except csv.Error as exc:
        raise PushFormatError(f"CSV parse error: {exc}") from exc
    missing = [name for name in ("series", "time", "value") if name not in header]
    if missing:
        raise PushFormatError(f"CSV header lacks {', '.join(missing)}; got {','.join(header)!r}.")
    position = {name: header.index(name) for name in header}
    items, errors = [], []
    try:
        for index, row in enumerate(reader):
            if index >= max_rows:
                raise TooManyRowsError(f"More than {max_rows} rows; at most {max_rows} per request.")
            if not row or all(not cell.strip() for cell in row):
                errors.append({"row": index, "series": None, "reason": "Empty line."})
                continue
            if len(row) != len(header):
                errors.append(
                    {"row": index, "series": row[0] if row else None,
                     "reason": f"{len(row)} columns; the header has {len(header)}."}
                )  # fmt: skip
                continue
            raw_value = row[position["value"]].strip()
            try:
                value = float(raw_value)
            except ValueError:
                errors.append(
                    {
                        "row": index,
                        "series": row[position["series"]],
                        "reason": f"Value {raw_value!r} is not a number.",
                    }
                )
                continue
            item, key, problem = _row(
                index,
                row[position["series"]],
                row[position["time"]],
                value,
                row[position["metric"]].strip() if "metric" in position else None,
                row[position["unit"]].strip() if "unit" in position else None,
                _csv_width(row[position["line_width_m"]]) if "line_width_m" in position else None,
            )
            if problem:
                errors.append({"row": index, "series": key, "reason": problem})
            else:
                items.append(item)
    except csv.Error as exc:
        raise PushFormatError(f"CSV parse error near data row {index}: {exc}") from exc
    return items, errors


def _csv_width(cell: str):
    """A CSV line width: a number when it reads as one, else the text (rejected with its reason)."""
    cell = cell.strip()
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return cell


class PushRefusedError(Exception):
    """The push as a whole is refused before anything is read into the store (403 or 409)."""

    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def push_refusal(*, source, token, target: str | None = None) -> PushRefusedError | None:
    """Why ``token`` may not push to ``source`` now, or None. ``target`` names what is written to."""
    if isinstance(token, ApiToken) and token.source_ids and source.pk not in token.source_ids:
        what = target or f"push to source '{source.slug}'"
        return PushRefusedError(403, f"This token may not {what}.", "permission_denied")
    if not source.enabled:
        return PushRefusedError(409, f"Source '{source.slug}' is disabled.", "conflict")
    return None


def push_may_create_series(*, token, role: str) -> bool:
    """A push may create series it names for the first time: a token that says so, a manager or admin."""
    if role == Role.ADMIN:
        return True
    return token.may_create_series if isinstance(token, ApiToken) else role_has(role, Capability.MANAGE)


def push_ingest(
    *,
    source,
    token,
    items: list[Item],
    role: str = "",
    row_errors: list[dict] = (),
    atomic: bool = False,
    may_create_series: bool = True,
) -> IngestReport:
    """Store pushed rows for ``source``; rows refused while parsing (``row_errors``) are reported with them.

    Raises :class:`PushRefusedError` when the token may not push there or the source is disabled (callers
    ask :func:`push_refusal` first, to answer before reading a body; the check here is so that no caller
    can skip it), and
    ``services.AtomicRejectedError`` when ``atomic`` and any row is rejected (then nothing is stored).
    ``role`` is the pusher's role in the tenant; ``may_create_series=False``: only existing series (the
    SensorThings writes name a Datastream).
    """
    refusal = push_refusal(source=source, token=token)
    if refusal:
        raise refusal
    report = IngestReport()
    for error in row_errors:
        report.reject(error["row"], error["series"], error["reason"])
    config_metric = source.config.get("default_metric") if isinstance(source.config, dict) else None
    return services.ingest(
        source=source,
        items=items,
        may_create_series=may_create_series and push_may_create_series(token=token, role=role),
        default_metric=config_metric,
        atomic=atomic,
        report=report,
        pushed=True,
    )
