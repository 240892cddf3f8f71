"""Reads of the SensorThings API: resource paths, collections with paging, entities with nested $expand.

Query budget: one query for a page (plus one for $count), and per expanded navigation property one
query for the whole level (window functions give each parent its own $top/$skip), plus the entity's
batched ``prepare`` queries. Nothing is fetched per row.
"""

import re
from dataclasses import dataclass

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from .entities import ENTITY_TYPES, EntityType
from .filters import QueryError, apply_filter, order_expressions
from .options import Expand, Options, validate

SEGMENT = re.compile(r"([A-Za-z]+)(?:\((\d+)\))?")


@dataclass
class Context:
    """The tenant and the absolute URL of its service root (no trailing slash)."""

    tenant: object
    base: str


@dataclass
class Resource:
    """What a resource path points at: a collection, one entity, or one property of an entity."""

    entity: EntityType
    queryset: object
    single: bool
    property: str | None = None
    raw_value: bool = False
    parent_link: str = ""


def _key_value(entity: EntityType, row):
    return row.pk if entity.key_path == "pk" else getattr(row, entity.key_path)


def resolve_path(path: str, ctx: Context) -> Resource:
    """Walk ``Things(1)/Datastreams(2)/Observations`` (404 for anything that does not exist here)."""
    segments = [s for s in path.split("/") if s != ""]
    match = SEGMENT.fullmatch(segments[0]) if segments else None
    if not match or match[1] not in ENTITY_TYPES:
        raise Http404(f"No entity set '{segments[0] if segments else ''}'.")
    entity = ENTITY_TYPES[match[1]]
    queryset = entity.queryset(ctx.tenant)
    single = False
    if match[2] is not None:
        queryset, single = _one(entity, queryset, int(match[2])), True
    resource = Resource(entity, queryset, single)
    rest = segments[1:]
    while rest:
        segment = rest.pop(0)
        match = SEGMENT.fullmatch(segment)
        name = match[1] if match else segment
        if resource.single and match and name in resource.entity.navs:
            nav = resource.entity.navs[name]
            target = ENTITY_TYPES[nav.target]
            parent = resource.queryset
            if nav.many:
                queryset = target.queryset(ctx.tenant).filter(
                    **{f"{nav.lookup}__in": parent.values(nav.parent_value)}
                )
                single = False
                if match[2] is not None:
                    queryset, single = _one(target, queryset, int(match[2])), True
            else:
                if match[2] is not None:
                    raise Http404(f"{name} is a single entity; it takes no id.")
                queryset = target.queryset(ctx.tenant).filter(
                    **{f"{target.key_path}__in": parent.values(nav.fk_path)}
                )
                if not queryset.exists():
                    raise Http404(f"No {target.singular} here.")
                single = True
            resource = Resource(target, queryset, single)
        elif resource.single and resource.property is None and _is_property(resource.entity, segment):
            resource.property = segment
        elif resource.property is not None and segment == "$value" and not rest:
            resource.raw_value = True
        else:
            raise Http404(f"No '{segment}' here.")
    return resource


def _is_property(entity: EntityType, name: str) -> bool:
    return name == "id" or any(p == name or p.startswith(name + "/") for p in entity.props)


def _one(entity: EntityType, queryset, iot_id: int):
    queryset = queryset.filter(**{entity.key_path: entity.key_for_id(iot_id)})
    if not queryset.exists():
        raise Http404(f"No {entity.singular} ({iot_id}).")
    return queryset


def entity_document(resource: Resource, options: Options, ctx: Context) -> dict:
    """One entity with $select and $expand applied."""
    validate(resource.entity, options)
    row = resource.queryset.first()
    if row is None:
        raise Http404(f"No {resource.entity.singular} here.")
    return render(resource.entity, [row], options, ctx)[0]


def collection_document(resource: Resource, options: Options, ctx: Context, *, link: str) -> dict:
    """A page of a collection: @iot.count (when asked), value, @iot.nextLink (when more rows exist)."""
    entity = resource.entity
    validate(entity, options)
    if options.data_array and entity.name != "Observations":
        raise QueryError("dataArray is served for Observations only", option="$resultFormat")
    queryset = apply_filter(entity, resource.queryset, options.filter, tenant=ctx.tenant)
    body: dict = {}
    if options.count:
        body["@iot.count"] = queryset.count()
    queryset = queryset.order_by(*order_expressions(entity, options.orderby, tenant=ctx.tenant))
    size = options.page_size
    rows = list(queryset[options.skip : options.skip + size + 1])
    more = size > 0 and len(rows) > size
    rows = rows[:size]
    if more:
        body["@iot.nextLink"] = f"{link}?{options.query_string(**{'$skip': options.skip + size})}"
    if options.data_array:
        body["value"] = data_array(rows, options, ctx)
        return body
    body["value"] = render(entity, rows, options, ctx)
    return body


DATA_ARRAY_COMPONENTS = ("id", "phenomenonTime", "resultTime", "result")


def data_array(rows: list, options: Options, ctx: Context) -> list[dict]:
    """The dataArray result format: Observations grouped per Datastream as component arrays."""
    if options.expand:
        raise QueryError("cannot be combined with $expand", option="$resultFormat")
    components = [c for c in options.select or DATA_ARRAY_COMPONENTS if c in DATA_ARRAY_COMPONENTS]
    if not components:
        raise QueryError(
            f"$select must name some of {', '.join(DATA_ARRAY_COMPONENTS)}", option="$resultFormat"
        )
    entity = ENTITY_TYPES["Observations"]
    groups: dict[int, list] = {}
    for row in rows:
        document = {"id": row.pk, **entity.represent(row)}
        groups.setdefault(row.series_id, []).append([document[c] for c in components])
    return [
        {
            "Datastream@iot.navigationLink": f"{ctx.base}/Datastreams({series_id})",
            "components": components,
            "dataArray@iot.count": len(values),
            "dataArray": values,
        }
        for series_id, values in groups.items()
    ]


def render(entity: EntityType, rows: list, options: Options, ctx: Context) -> list[dict]:
    """Documents of ``rows`` with their expanded navigation properties (one query per level)."""
    entity.prepare(rows, ctx.tenant)
    documents = []
    for row in rows:
        iot_id = entity.iot_id(row)
        link = f"{ctx.base}/{entity.name}({iot_id})"
        document = {"@iot.id": iot_id, "@iot.selfLink": link, **entity.represent(row)}
        for name, nav in entity.navs.items():
            if nav.many or getattr(row, nav.fk_attr) is not None:
                document[f"{name}@iot.navigationLink"] = f"{link}/{name}"
        documents.append(document)
    for item in options.expand:
        nav = entity.navs[item.name]
        if nav.many:
            _expand_many(entity, rows, documents, item, ctx)
        else:
            _expand_one(entity, rows, documents, item, ctx)
    if options.select is not None:
        documents = [_select(d, options.select, entity, [e.name for e in options.expand]) for d in documents]
    return documents


def _select(document: dict, select: list[str], entity: EntityType, expanded: list[str]) -> dict:
    keep = set()
    for name in select:
        if name in ("id", "@iot.id"):
            keep.add("@iot.id")
        elif name in entity.navs:
            keep.add(f"{name}@iot.navigationLink")
        else:
            keep.add(name)
    for name in expanded:  # an expanded navigation property is shown whatever $select says
        keep.update({name, f"{name}@iot.count", f"{name}@iot.nextLink"})
    return {k: v for k, v in document.items() if k in keep}


def _expand_one(entity: EntityType, rows, documents, item: Expand, ctx: Context) -> None:
    nav = entity.navs[item.name]
    target = ENTITY_TYPES[nav.target]
    keys = {getattr(row, nav.fk_attr) for row in rows} - {None}
    if not keys:
        return
    queryset = target.queryset(ctx.tenant).filter(**{f"{target.key_path}__in": keys})
    children = list(
        apply_filter(
            target, queryset, item.options.filter, tenant=ctx.tenant, option=f"$expand {item.name}: $filter"
        )
    )
    rendered = dict(
        zip(
            (_key_value(target, c) for c in children),
            render(target, children, item.options, ctx),
            strict=True,
        )
    )
    for row, document in zip(rows, documents, strict=True):
        child = rendered.get(getattr(row, nav.fk_attr))
        if child is not None:
            document[item.name] = child


def _expand_many(entity: EntityType, rows, documents, item: Expand, ctx: Context) -> None:
    nav = entity.navs[item.name]
    target = ENTITY_TYPES[nav.target]
    options = item.options
    parents = [getattr(row, nav.parent_value) for row in rows]
    queryset = target.queryset(ctx.tenant).filter(**{f"{nav.lookup}__in": set(parents)})
    where = f"$expand {item.name}: "
    queryset = apply_filter(target, queryset, options.filter, tenant=ctx.tenant, option=f"{where}$filter")
    counts = {}
    if options.count:
        counts = dict(queryset.order_by().values_list(nav.lookup).annotate(n=Count("pk")))
    order = order_expressions(target, options.orderby, tenant=ctx.tenant, option=f"{where}$orderby")
    partition = [F(nav.lookup)]
    queryset = queryset.annotate(
        sta_parent=F(nav.lookup), sta_rn=Window(RowNumber(), partition_by=partition, order_by=order)
    )
    size, skip = options.page_size, options.skip
    children = list(
        queryset.filter(sta_rn__gt=skip, sta_rn__lte=skip + size + 1).order_by("sta_parent", "sta_rn")
    )
    shown = [c for c in children if c.sta_rn <= skip + size]
    rendered = render(target, shown, options, ctx)
    by_parent: dict = {}
    for child, document in zip(shown, rendered, strict=True):
        by_parent.setdefault(child.sta_parent, []).append(document)
    more = {c.sta_parent for c in children if c.sta_rn > skip + size}
    for document, parent in zip(documents, parents, strict=True):
        if options.count:
            document[f"{item.name}@iot.count"] = counts.get(parent, 0)
        document[item.name] = by_parent.get(parent, [])
        if parent in more and size > 0:
            document[f"{item.name}@iot.nextLink"] = (
                f"{document['@iot.selfLink']}/{item.name}?{options.query_string(**{'$skip': skip + size})}"
            )
