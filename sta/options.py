"""SensorThings query options ($top, $skip, $count, $select, $expand, $filter, $orderby) and their checks."""

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from django.conf import settings

from .entities import ENTITY_TYPES, EntityType
from .filters import QueryError, _split

SAFE = "$/(),;'=:"  # kept readable in links
KNOWN = ("$filter", "$orderby", "$top", "$skip", "$count", "$select", "$expand", "$resultFormat")


def max_top() -> int:
    return settings.STA_MAX_TOP


def default_top() -> int:
    return min(settings.STA_DEFAULT_TOP, settings.STA_MAX_TOP)


@dataclass
class Expand:
    """One expanded navigation property with its own options."""

    name: str
    options: "Options"


@dataclass
class Options:
    filter: str | None = None
    orderby: str | None = None
    top: int | None = None  # as asked; the page size is capped by STA_MAX_TOP
    skip: int = 0
    count: bool = False
    select: list[str] | None = None
    expand: list[Expand] = field(default_factory=list)
    data_array: bool = False  # $resultFormat=dataArray (Observations only)
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def page_size(self) -> int:
        return min(self.top if self.top is not None else default_top(), max_top())

    def query_string(self, **override) -> str:
        """These options as a query string (for @iot.nextLink), with some replaced."""
        values = dict(self.raw) | {k: str(v) for k, v in override.items()}
        return "&".join(f"{k}={quote(v, safe=SAFE)}" for k, v in values.items() if v is not None)


def _integer(name: str, text: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", text):
        raise QueryError(f"must be a non-negative integer, got {text!r}", option=name, position=0)
    return int(text)


def parse_options(params: dict[str, str], *, where: str = "") -> Options:
    """Options from query parameters (or from the inside of an $expand item)."""
    options = Options()
    for name, value in params.items():
        label = f"{where}{name}"
        if name not in KNOWN:
            raise QueryError(f"unknown query option; use one of {', '.join(KNOWN)}", option=label)
        options.raw[name] = value
        if name == "$filter":
            options.filter = value
        elif name == "$orderby":
            options.orderby = value
        elif name == "$top":
            options.top = _integer(label, value)
        elif name == "$skip":
            options.skip = _integer(label, value)
        elif name == "$count":
            if value.strip().lower() not in ("true", "false"):
                raise QueryError(f"must be true or false, got {value!r}", option=label, position=0)
            options.count = value.strip().lower() == "true"
        elif name == "$select":
            options.select = [s.strip() for s in value.split(",") if s.strip()]
        elif name == "$expand":
            options.expand = parse_expand(value, where=where)
        elif name == "$resultFormat":
            if value not in ("default", "dataArray"):
                raise QueryError(f"must be default or dataArray, got {value!r}", option=label)
            options.data_array = value == "dataArray"
    return options


def parse_expand(text: str, *, where: str = "") -> list[Expand]:
    """Read ``Datastreams($select=name;$expand=Observations($top=2)),Locations`` or ``A/B`` paths."""
    result: dict[str, Expand] = {}
    offset = 0
    for item in _split(text, ","):
        position = offset
        offset += len(item) + 1
        match = re.fullmatch(r"\s*([A-Za-z]+(?:/[A-Za-z]+)*)\s*(?:\((.*)\))?\s*", item, flags=re.S)
        if not match:
            raise QueryError(
                f"cannot read item {item.strip()!r}", option=f"{where}$expand", position=position
            )
        path, inner = match[1].split("/"), match[2]
        params: dict[str, str] = {}
        if inner is not None:
            for part in _split(inner, ";"):
                if not part.strip():
                    continue
                key, equals, value = part.partition("=")
                if not equals:
                    raise QueryError(
                        f"option {part.strip()!r} in {path[-1]} has no '='", option=f"{where}$expand",
                        position=position,
                    )  # fmt: skip
                params[key.strip()] = value
        options = parse_options(params, where=f"{where}$expand {'/'.join(path)}: ")
        for name in reversed(path[1:]):
            options = Options(expand=[Expand(name, options)])
            path = path[:-1]
        _merge(result, Expand(path[0], options))
    return list(result.values())


def _merge(into: dict[str, Expand], item: Expand) -> None:
    existing = into.get(item.name)
    if existing is None:
        into[item.name] = item
        return
    for child in item.options.expand:
        nested = {e.name: e for e in existing.options.expand}
        _merge(nested, child)
        existing.options.expand = list(nested.values())


def validate(entity: EntityType, options: Options, *, where: str = "") -> None:
    """Every $select and $expand name must exist on the entity type (recursively)."""
    for name in options.select or ():
        if (
            name not in ("id", "@iot.id", "@iot.selfLink")
            and name not in entity.props
            and name not in entity.navs
        ):
            top_level = {p.split("/")[0] for p in entity.props}
            if name not in top_level:
                raise QueryError(f"{entity.singular} has no property '{name}'", option=f"{where}$select")
    for item in options.expand:
        nav = entity.navs.get(item.name)
        if nav is None:
            raise QueryError(
                f"{entity.singular} has no navigation property '{item.name}' (has {', '.join(entity.navs)})",
                option=f"{where}$expand",
            )
        validate(ENTITY_TYPES[nav.target], item.options, where=f"{where}$expand {item.name}: ")
