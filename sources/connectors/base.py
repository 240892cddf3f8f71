"""The connector plug-in interface. A connector is one class registered under its ``kind``.

``fetch`` does the network part and returns raw payloads; ``parse`` turns one payload into readings
and is pure, so it is tested on recorded payloads. The core (sources.services) creates series,
stores observations, keeps health and never knows a connector's format.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

import jsonschema

from ..http import HttpClient


class ConnectorError(Exception):
    """Base of fetch and parse failures; ``message`` is shown to the tenant as the source's last error.

    ``retryable`` says whether trying again soon may help (a timeout, a cut-off download) or not (wrong
    credentials, a wrong address, a feed in another format): only retryable failures are retried.
    """

    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class FetchError(ConnectorError):
    """The feed could not be fetched (HTTP error, timeout, refused, too large)."""

    retryable = True


class ParseError(ConnectorError):
    """The payload is not what the connector expects (HTML instead of JSON, truncated gzip...).

    Not retryable by default (another format will not change by asking again), except a download that
    was cut off: connectors raise those with ``retryable=True`` (see :func:`json_cut_off`)."""


def json_cut_off(exc) -> bool:
    """True when a ``json.JSONDecodeError`` looks like a body that stopped early (an error at the very
    end, or a string that never closes), as opposed to a body that is wrong throughout."""
    from core.jsonlimits import JSONTooDeepError

    if isinstance(exc, JSONTooDeepError):
        return False
    return exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string")


NO_PERSONAL_DATA = "No personal data: aggregated counts and measurements only."


@dataclass(frozen=True)
class DataInventory:
    """What a connector keeps, declared for the public register's data inventory (privacy by design).

    ``sources.selectors.data_inventory`` generates the register's inventory from these declarations; the
    registry tests fail for a connector without one. How long values are kept is the tenant's
    ``retention_days``, the same for every connector.
    """

    metrics: tuple[str, ...]  # the sources.choices.Metric values the connector may store
    series: str  # what one series stands for ("one per counting camera or counting line")
    aggregation: str  # the level of aggregation of one stored value
    personal_data: str = NO_PERSONAL_DATA


def inventory_problems(cls) -> list[str]:
    """Why a connector class's data inventory declaration is missing or incomplete (empty when fine)."""
    from ..choices import Metric

    inventory = getattr(cls, "inventory", None)
    if not isinstance(inventory, DataInventory):
        return [f"{cls.__name__} declares no DataInventory (class attribute 'inventory')"]
    problems = []
    unknown = sorted(set(inventory.metrics) - set(Metric.values))
    if not inventory.metrics or unknown:
        problems.append(f"{cls.__name__}: metrics must be Metric values, got {unknown or 'none'}")
    if not inventory.series.strip() or not inventory.aggregation.strip():
        problems.append(f"{cls.__name__}: say what a series is and how values are aggregated")
    if inventory.personal_data != NO_PERSONAL_DATA:
        problems.append(f"{cls.__name__}: connectors store no personal data ({NO_PERSONAL_DATA!r})")
    return problems


@dataclass(frozen=True)
class Reading:
    """One value a connector found: it becomes an observation of the series ``key``."""

    key: str  # unique within the source: vendor sensor id, "<station>:<metric>", facility id...
    metric: str  # sources.choices.Metric value
    time: datetime  # timezone-aware
    value: float
    unit: str | None = None  # None: the metric's default unit (sources.choices.DEFAULT_UNITS)
    name: str = ""  # human label for a new series
    area: str | None = None  # slug of the area this series belongs to, when the connector knows it
    facility: str = ""  # site, garage, stop or station id
    location: tuple[float, float] | None = None  # (lon, lat) WGS84 of the sensor, stop or station
    line_width_m: float | None = None  # people_passing: width of the counting line in metres, when known


@dataclass
class Payload:
    """A raw response, kept only in memory between fetch and parse."""

    body: bytes
    url: str = ""
    content_type: str = ""
    status: int = 200
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. the facility a per-facility request was for


@dataclass
class ParseResult:
    """What ``parse`` found: readings, problems with parts of the payload, and the connector's new cursor."""

    readings: list[Reading] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    state: dict[str, Any] | None = None  # flat keys: merged into the source's state with dict.update


@dataclass(frozen=True)
class AreaInfo:
    """What a connector may know of an area it feeds (no model import: sources sits below areas)."""

    slug: str
    name: str
    centroid: tuple[float, float]  # (lon, lat)
    bbox: tuple[float, float, float, float]
    geometry: dict


class ConnectorContext:
    """The tenant around a source: its time zone and the areas the source feeds (or all the tenant's).

    ``areas`` may be given as a callable, so connectors that never look at areas cost no query.
    """

    def __init__(self, *, tenant_slug: str, time_zone: str, areas=()):
        self.tenant_slug = tenant_slug
        self.time_zone = time_zone
        self._areas = areas

    @cached_property
    def areas(self) -> tuple[AreaInfo, ...]:
        return tuple(self._areas() if callable(self._areas) else self._areas)


class Connector:
    """Base class of every connector. Subclass, set the class attributes, implement fetch and parse."""

    kind: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    config_schema: ClassVar[dict] = {"type": "object", "properties": {}, "additionalProperties": False}
    secret_schema: ClassVar[dict] = {"type": "object", "properties": {}, "additionalProperties": False}
    default_poll_interval: ClassVar[int] = 300
    push_only: ClassVar[bool] = False  # vendors push to us; the dispatcher never polls it
    stores: ClassVar[str] = ""  # plain words for the public register: what is kept, nothing more
    legal_basis: ClassVar[str] = "public task (Gemeentewet art. 172, public order and safety)"
    inventory: ClassVar[DataInventory | None] = None  # required: what is stored, for the data inventory

    def __init__(
        self,
        *,
        config: dict,
        secrets: dict | None = None,
        context: ConnectorContext,
        http: HttpClient | None = None,
        state: dict | None = None,
        now: datetime | None = None,
    ):
        self.config = config
        self.secrets = secrets or {}
        self.context = context
        self.http = http or HttpClient()
        self.state = dict(state or {})
        self.now = now

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        """Messages for every way ``config`` breaks the connector's JSON Schema (empty when valid)."""
        return _schema_errors(cls.config_schema, config)

    @classmethod
    def validate_secrets(cls, secrets: dict) -> list[str]:
        return _schema_errors(cls.secret_schema, secrets)

    def fetch(self) -> list[Payload]:
        """Fetch the raw payload(s). Push-only connectors do not implement it."""
        raise NotImplementedError(f"{self.kind} is push-only")

    def parse(self, payload: Payload) -> ParseResult:
        raise NotImplementedError


def _schema_errors(schema: dict, value) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        messages.append(f"{where}: {error.message}")
    return messages
