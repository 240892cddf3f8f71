"""Writes of the SensorThings API: Observations, one at a time or as a dataArray (CreateObservations).

Both go through ``sources.push.push_ingest``, the push API's rules and ingestion path: the same token and
source checks, the same validation (time zone, not in the future, counts not negative), the same
idempotency (a repeated Datastream + time is a duplicate: the first write wins) and the same latest-value
and freshness updates.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sources import services as ingestion
from sources.models import Observation, Series
from sources.push import parse_time, push_ingest, push_refusal

from .entities import ENTITY_TYPES


class WriteError(Exception):
    """The request as a whole is refused; nothing was stored."""

    def __init__(self, status: int, message: str, *, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass
class Row:
    time: datetime
    value: object


def _datastream(tenant, reference, where: str) -> Series:
    if not isinstance(reference, dict) or not isinstance(reference.get("@iot.id"), int):
        raise WriteError(400, f"{where}: 'Datastream' must be {{\"@iot.id\": <integer>}}.")
    series = Series.objects.filter(tenant=tenant, pk=reference["@iot.id"]).select_related("source").first()
    if series is None:
        raise WriteError(404, f"{where}: no Datastream ({reference['@iot.id']}).")
    return series


def _may_write(series: Series, token) -> None:
    target = f"write to Datastream ({series.pk}) of source '{series.source.slug}'"
    refusal = push_refusal(source=series.source, token=token, target=target)
    if refusal:
        raise WriteError(refusal.status, refusal.message)


def _time(value, where: str) -> datetime:
    if value is None:
        return timezone.now()
    if isinstance(value, str) and "/" in value:
        raise WriteError(400, f"{where}: phenomenonTime must be an instant; intervals are not stored.")
    moment, problem = parse_time(value)
    if problem:
        raise WriteError(400, f"{where}: {problem}")
    return moment


def _feature_of_interest(series: Series, value, where: str) -> None:
    """The FeatureOfInterest is the Datastream's area; a given one must be that area."""
    if value is None:
        return
    reference = value.get("@iot.id") if isinstance(value, dict) else value
    if reference != series.area_id:
        raise WriteError(
            400,
            f"{where}: the FeatureOfInterest of an Observation is its Datastream's area "
            f"({series.area_id if series.area_id is not None else 'none'}); got {value!r}.",
        )


ALLOWED_KEYS = {"phenomenonTime", "result", "resultTime", "Datastream", "FeatureOfInterest"}


def observation_create(*, tenant, token, body, series: Series | None = None) -> tuple[int, int]:
    """Store one Observation; returns (HTTP status, observation id): 201 new, 200 the same one again."""
    if not isinstance(body, dict):
        raise WriteError(400, "The body must be a JSON object with phenomenonTime and result.")
    unknown = sorted(set(body) - ALLOWED_KEYS)
    if unknown:
        raise WriteError(400, f"Unknown or unsupported properties: {', '.join(unknown)}.")
    if series is None:
        series = _datastream(tenant, body.get("Datastream"), "Observation")
    elif "Datastream" in body and body["Datastream"] != {"@iot.id": series.pk}:
        raise WriteError(400, f"The body names another Datastream than the path ({series.pk}).")
    if "result" not in body:
        raise WriteError(400, "An Observation needs a 'result'.")
    _may_write(series, token)
    _feature_of_interest(series, body.get("FeatureOfInterest"), "Observation")
    row = Row(_time(body.get("phenomenonTime"), "Observation"), body["result"])
    with transaction.atomic():
        report = _ingest(series, [row], token)
    if report.rejected:
        raise WriteError(400, report.errors[0]["reason"], errors=report.errors)
    if report.conflicts:
        raise WriteError(409, report.conflicts[0]["reason"], errors=report.conflicts)
    observation = Observation.objects.get(series=series, time=row.time)
    return (201 if report.accepted else 200), observation.pk


def _ingest(series: Series, rows: list[Row], token) -> ingestion.IngestReport:
    items = [ingestion.Item(row=i, key=series.key, time=r.time, value=r.value) for i, r in enumerate(rows)]
    return push_ingest(source=series.source, token=token, items=items, may_create_series=False)


COMPONENTS = {"phenomenonTime", "result", "resultTime", "FeatureOfInterest/id"}


def observations_create_array(*, tenant, token, body, link) -> list[str]:
    """The dataArray extension: per row the new (or existing) Observation's selfLink, or "error".

    The structure is checked for the whole body first (400, nothing stored); then each Datastream's rows
    are ingested, every row judged on its own as in the push API.
    """
    if not isinstance(body, list) or not body:
        raise WriteError(
            400, "The body must be a non-empty JSON array of {Datastream, components, dataArray}."
        )
    groups: list[tuple[Series, list]] = []
    total = 0
    errors = []
    for index, group in enumerate(body):
        where = f"item {index}"
        if not isinstance(group, dict):
            raise WriteError(400, f"{where}: must be an object.")
        series = _datastream(tenant, group.get("Datastream"), where)
        components = group.get("components")
        if not isinstance(components, list) or "result" not in components or set(components) - COMPONENTS:
            raise WriteError(
                400, f"{where}: 'components' must list 'result' and only {', '.join(sorted(COMPONENTS))}."
            )
        data = group.get("dataArray")
        if not isinstance(data, list):
            raise WriteError(400, f"{where}: 'dataArray' must be an array of arrays.")
        total += len(data)
        if total > settings.PUSH_MAX_ROWS:
            raise WriteError(413, f"More than {settings.PUSH_MAX_ROWS} observations in one request.")
        _may_write(series, token)
        rows = []
        for number, values in enumerate(data):
            row_where = f"{where} row {number}"
            if not isinstance(values, list) or len(values) != len(components):
                errors.append({"item": index, "row": number, "reason": f"needs {len(components)} values."})
                continue
            record = dict(zip(components, values, strict=True))
            try:
                _feature_of_interest(series, record.get("FeatureOfInterest/id"), row_where)
                rows.append(Row(_time(record.get("phenomenonTime"), row_where), record["result"]))
            except WriteError as exc:
                errors.append({"item": index, "row": number, "reason": exc.message})
        groups.append((series, rows))
    if errors:
        raise WriteError(400, f"{len(errors)} row(s) cannot be read; nothing was stored.", errors=errors)
    links = []
    with transaction.atomic():
        for series, rows in groups:
            report = _ingest(series, rows, token)
            rejected = {e["row"] for e in report.errors} | {c["row"] for c in report.conflicts}
            stored = dict(
                Observation.objects.filter(series=series, time__in=[r.time for r in rows]).values_list(
                    "time", "pk"
                )
            )
            name = ENTITY_TYPES["Observations"].name
            for number, row in enumerate(rows):
                pk = stored.get(row.time)
                links.append("error" if number in rejected or pk is None else f"{link}/{name}({pk})")
    return links
