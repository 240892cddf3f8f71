"""The SensorThings entity registry: how each STA entity type maps onto the platform's models.

Thing = ``sources.Source``; Sensor = the source's connector (one Sensor per Source, same id); Location =
where a source measures (its located series, else the centroids of its areas; same id as the Thing);
Datastream = ``sources.Series``; ObservedProperty = a metric (``sources.choices.Metric``, stable ids
below); Observation = an ``sources.Observation`` row; FeatureOfInterest = ``areas.Area``.

Each entity type declares its properties (``Prop``: an ORM path or expression, a type, and for geometry a
Python evaluator) and its navigation properties (``Nav``). The query engine, the $filter translation and
the generated cross-tenant test all walk this registry, so a new entity set is served and covered by
adding it here.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.apps import apps
from django.db.models import Case, CharField, F, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Concat
from shapely.geometry import MultiPoint, Point, shape

from sources.choices import Metric
from sources.connectors import connector_kinds

# Append-only: a metric keeps its ObservedProperty id forever (clients store ids). A test checks that
# every Metric has one.
OBSERVED_PROPERTY_IDS: dict[str, int] = {
    "people_count": 1,
    "people_in": 2,
    "people_out": 3,
    "visitor_estimate": 4,
    "parking_vacant": 5,
    "parking_capacity": 6,
    "vehicle_flow": 7,
    "vehicle_speed": 8,
    "transit_arrivals": 9,
    "transit_occupancy": 10,
    "temperature": 11,
    "precipitation": 12,
    "wind_speed": 13,
    "forecast_temperature_max": 14,
    "forecast_temperature_min": 15,
    "forecast_rain_chance": 16,
    "forecast_precipitation": 17,
    "forecast_wind_speed": 18,
    "other": 19,
    "people_passing": 20,
    "transit_delay": 21,
}
METRIC_OF_ID = {v: k for k, v in OBSERVED_PROPERTY_IDS.items()}

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
COUNT_OBSERVATION = OM + "OM_CountObservation"
MEASUREMENT = OM + "OM_Measurement"
# Whole numbers of people, spaces or vehicles; the rest are measurements (rates, speeds, weather, estimates).
COUNT_METRICS = frozenset(
    {"people_count", "people_in", "people_out", "parking_vacant", "parking_capacity", "transit_arrivals"}
)

UCUM = "http://unitsofmeasure.org/ucum.html"
UNITS: dict[str, tuple[str, str]] = {  # the platform's unit -> (name, UCUM symbol)
    "persons": ("person", "{person}"),
    "spaces": ("parking space", "{space}"),
    "vehicles": ("vehicle", "{vehicle}"),
    "vehicles/h": ("vehicles per hour", "{vehicle}/h"),
    "km/h": ("kilometre per hour", "km/h"),
    "%": ("percent", "%"),
    "°C": ("degree Celsius", "Cel"),
    "mm/h": ("millimetre per hour", "mm/h"),
    "mm": ("millimetre", "mm"),
    "m/s": ("metre per second", "m/s"),
    "persons/min": ("persons per minute", "{person}/min"),
    "s": ("second", "s"),
}
GEOJSON = "application/geo+json"


def unit_of_measurement(unit: str) -> dict:
    """STA unitOfMeasurement of a series unit (UCUM symbols for the known ones)."""
    if unit in UNITS:
        name, symbol = UNITS[unit]
        return {"name": name, "symbol": symbol, "definition": UCUM}
    return {"name": unit, "symbol": unit, "definition": ""}


def metric_definition(metric: str) -> str:
    return f"urn:csm:metric:{metric}"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with 'Z'."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _join(prefix: str, path: str) -> str:
    if not path:
        return prefix[:-2] if prefix.endswith("__") else prefix
    return prefix + path


def _case(prefix: str, path: str, mapping: dict, default=None):
    """A CASE over a field's known values, e.g. a metric's label, for $filter and $orderby."""
    column = _join(prefix, path)
    whens = [When(**{column: key}, then=Value(value)) for key, value in mapping.items()]
    return Case(*whens, default=Value(default) if default is not None else F(column))


# --- declarations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prop:
    """A property usable in $select, $filter and $orderby.

    ``path``: ORM path relative to the entity's row; or ``expression(prefix)``: an ORM expression built
    for a row reached through ``prefix`` (e.g. ``series__``). ``geometries(tenant)`` returns
    {row key: shapely geometry} for geometry properties, which only the geo functions accept.
    """

    type: str  # str, num, datetime, bool, json, geometry
    path: str | None = None
    expression: object = None
    geometries: object = None

    def orm(self, prefix: str):
        if self.expression is not None:
            return self.expression(prefix)
        return F(_join(prefix, self.path))


@dataclass(frozen=True)
class Nav:
    """A navigation property. ``many``: a collection.

    To-many: ``lookup`` is the ORM lookup on the target's rows holding the parent's ``parent_value``.
    To-one: ``fk_attr`` / ``fk_path`` give the target's key on a parent row (Python attribute / ORM path).
    ``filter_path`` is the ORM prefix that reaches the target from this entity in $filter (None: the path
    cannot be used in $filter).
    """

    target: str
    many: bool
    lookup: str = ""
    parent_value: str = "pk"
    fk_attr: str = ""
    fk_path: str = ""
    filter_path: str | None = None


@dataclass
class EntityType:
    """One STA entity set: its name, rows, properties and navigation properties."""

    name: str  # entity set, e.g. "Things"
    singular: str
    props: dict[str, Prop]
    navs: dict[str, Nav]
    key_path: str = "pk"  # ORM path of the @iot.id on a row
    default_order: tuple[str, ...] = ("id",)  # property names
    extra: dict = field(default_factory=dict)

    def queryset(self, tenant):
        raise NotImplementedError

    def iot_id(self, row):
        return row.pk

    def key_for_id(self, iot_id: int):
        """The value of ``key_path`` for an @iot.id (the ObservedProperty id maps to a metric)."""
        return iot_id

    def prepare(self, rows: list, tenant) -> None:
        """Load what the page's rows need beyond their queryset (batched: a fixed number of queries)."""

    def represent(self, row) -> dict:
        raise NotImplementedError


def _model(label: str):
    return apps.get_model(label)


# --- Things and Sensors (sources) ---------------------------------------------------------------------


def _connector_texts() -> tuple[dict, dict]:
    kinds = connector_kinds()
    labels = {kind: cls.label for kind, cls in kinds.items()}
    descriptions = {kind: (cls.description or cls.label) for kind, cls in kinds.items()}
    return labels, descriptions


class ThingType(EntityType):
    def queryset(self, tenant):
        return _model("sources.Source").objects.filter(tenant=tenant)

    def represent(self, row) -> dict:
        return {
            "name": row.name,
            "description": row.purpose or f"{row.name} ({row.kind})",
            "properties": {"slug": row.slug, "kind": row.kind, "owner": row.owner, "enabled": row.enabled},
        }


def _thing_description(prefix: str):
    return Case(
        When(**{_join(prefix, "purpose"): ""}, then=Concat(
            F(_join(prefix, "name")), Value(" ("), F(_join(prefix, "kind")), Value(")"),
            output_field=CharField())),
        default=F(_join(prefix, "purpose")),
    )  # fmt: skip


THING = ThingType(
    name="Things",
    singular="Thing",
    props={
        "id": Prop("num", "pk"),
        "name": Prop("str", "name"),
        "description": Prop("str", expression=_thing_description),
        "properties/slug": Prop("str", "slug"),
        "properties/kind": Prop("str", "kind"),
        "properties/owner": Prop("str", "owner"),
        "properties/enabled": Prop("bool", "enabled"),
        "properties": Prop("json"),
    },
    navs={
        "Datastreams": Nav("Datastreams", True, lookup="source_id", filter_path="series"),
        "Locations": Nav("Locations", True, lookup="pk", filter_path=""),
    },
)


class SensorType(EntityType):
    def queryset(self, tenant):
        return _model("sources.Source").objects.filter(tenant=tenant)

    def represent(self, row) -> dict:
        labels, descriptions = _connector_texts()
        return {
            "name": f"{row.name} ({labels.get(row.kind, row.kind)})",
            "description": descriptions.get(row.kind, row.kind),
            "encodingType": "application/json",
            "metadata": {"connector": row.kind, "label": labels.get(row.kind, row.kind)},
            "properties": {"kind": row.kind},
        }


def _sensor_name(prefix: str):
    labels, _ = _connector_texts()
    return Concat(
        F(_join(prefix, "name")), Value(" ("), _case(prefix, "kind", labels), Value(")"),
        output_field=CharField(),
    )  # fmt: skip


SENSOR = SensorType(
    name="Sensors",
    singular="Sensor",
    props={
        "id": Prop("num", "pk"),
        "name": Prop("str", expression=_sensor_name),
        "description": Prop("str", expression=lambda p: _case(p, "kind", _connector_texts()[1])),
        "encodingType": Prop("str", expression=lambda p: Value("application/json")),
        "metadata": Prop("json"),
        "properties/kind": Prop("str", "kind"),
        "properties": Prop("json"),
    },
    navs={"Datastreams": Nav("Datastreams", True, lookup="source_id", filter_path="series")},
)


# --- Locations ----------------------------------------------------------------------------------------


def _positions(tenant, source_ids=None) -> dict[int, list[tuple[float, float]]]:
    """(lon, lat) positions per source: its located series, else the centroids of its areas."""
    series = _model("sources.Series").objects.filter(tenant=tenant, lon__isnull=False, lat__isnull=False)
    source = _model("sources.Source")
    links = source.areas.through.objects.filter(source__tenant=tenant)
    if source_ids is not None:
        series = series.filter(source_id__in=source_ids)
        links = links.filter(source_id__in=source_ids)
    located: dict[int, list] = {}
    for source_id, lon, lat in series.order_by("source_id", "pk").values_list("source_id", "lon", "lat"):
        if (lon, lat) not in located.setdefault(source_id, []):
            located[source_id].append((lon, lat))
    centroids: dict[int, list] = {}
    rows = links.order_by("source_id", "area_id").values_list(
        "source_id", "area__centroid_lon", "area__centroid_lat"
    )
    for source_id, lon, lat in rows:
        centroids.setdefault(source_id, []).append((lon, lat))
    return {sid: located.get(sid) or centroids[sid] for sid in set(located) | set(centroids)}


def _geometry_of(points: list[tuple[float, float]]) -> dict:
    if len(points) == 1:
        return {"type": "Point", "coordinates": list(points[0])}
    return {"type": "MultiPoint", "coordinates": [list(p) for p in points]}


def _location_geometries(tenant) -> dict:
    return {sid: (Point(p[0]) if len(p) == 1 else MultiPoint(p)) for sid, p in _positions(tenant).items()}


class LocationType(EntityType):
    def queryset(self, tenant):
        located = Q(series__lon__isnull=False, series__lat__isnull=False) | Q(areas__isnull=False)
        source = _model("sources.Source")
        return source.objects.filter(
            tenant=tenant, pk__in=source.objects.filter(tenant=tenant).filter(located).values("pk")
        )

    def prepare(self, rows, tenant):
        positions = _positions(tenant, [r.pk for r in rows])
        for row in rows:
            row.sta_positions = positions.get(row.pk, [])

    def represent(self, row) -> dict:
        return {
            "name": row.name,
            "description": f"Where {row.name} measures",
            "encodingType": GEOJSON,
            "location": _geometry_of(row.sta_positions) if row.sta_positions else None,
            "properties": {"kind": row.kind},
        }


LOCATION = LocationType(
    name="Locations",
    singular="Location",
    props={
        "id": Prop("num", "pk"),
        "name": Prop("str", "name"),
        "description": Prop(
            "str",
            expression=lambda p: Concat(
                Value("Where "), F(_join(p, "name")), Value(" measures"), output_field=CharField()
            ),
        ),
        "encodingType": Prop("str", expression=lambda p: Value(GEOJSON)),
        "location": Prop("geometry", "pk", geometries=_location_geometries),
        "properties/kind": Prop("str", "kind"),
        "properties": Prop("json"),
    },
    navs={"Things": Nav("Things", True, lookup="pk", filter_path="")},
)


# --- Datastreams and ObservedProperties (series and metrics) ------------------------------------------


def _metric_labels() -> dict:
    return {m.value: str(m.label) for m in Metric}


def _series_geometries(tenant) -> dict:
    rows = _model("sources.Series").objects.filter(tenant=tenant, lon__isnull=False, lat__isnull=False)
    return {pk: Point(lon, lat) for pk, lon, lat in rows.values_list("pk", "lon", "lat")}


class DatastreamType(EntityType):
    def queryset(self, tenant):
        observations = _model("sources.Observation").objects.filter(series=OuterRef("pk")).order_by()
        return (
            _model("sources.Series")
            .objects.filter(tenant=tenant)
            .select_related("source")
            .annotate(
                sta_first=Subquery(observations.order_by("time").values("time")[:1]),
                sta_last=Subquery(observations.order_by("-time").values("time")[:1]),
            )
        )

    def represent(self, row) -> dict:
        label = _metric_labels().get(row.metric, row.metric)
        doc = {
            "name": row.name or row.key,
            "description": f"{label} - {row.source.name}",
            "unitOfMeasurement": unit_of_measurement(row.unit),
            "observationType": COUNT_OBSERVATION if row.metric in COUNT_METRICS else MEASUREMENT,
            "properties": {"key": row.key, "metric": row.metric, "unit": row.unit, "facility": row.facility},
        }
        if row.lon is not None and row.lat is not None:
            doc["observedArea"] = {"type": "Point", "coordinates": [row.lon, row.lat]}
        if row.sta_first is not None:
            doc["phenomenonTime"] = f"{iso(row.sta_first)}/{iso(row.sta_last)}"
        return doc


def _unit_part(prefix: str, index: int):
    return _case(prefix, "unit", {unit: names[index] for unit, names in UNITS.items()})


DATASTREAM = DatastreamType(
    name="Datastreams",
    singular="Datastream",
    props={
        "id": Prop("num", "pk"),
        "name": Prop(
            "str",
            expression=lambda p: Case(
                When(**{_join(p, "name"): ""}, then=F(_join(p, "key"))), default=F(_join(p, "name"))
            ),
        ),
        "description": Prop(
            "str",
            expression=lambda p: Concat(
                _case(p, "metric", _metric_labels()),
                Value(" - "),
                F(_join(p, "source__name")),
                output_field=CharField(),
            ),
        ),
        "observationType": Prop(
            "str",
            expression=lambda p: Case(
                When(**{_join(p, "metric") + "__in": sorted(COUNT_METRICS)}, then=Value(COUNT_OBSERVATION)),
                default=Value(MEASUREMENT),
            ),
        ),
        "unitOfMeasurement/name": Prop("str", expression=lambda p: _unit_part(p, 0)),
        "unitOfMeasurement/symbol": Prop("str", expression=lambda p: _unit_part(p, 1)),
        "unitOfMeasurement": Prop("json"),
        "observedArea": Prop("geometry", "pk", geometries=_series_geometries),
        "phenomenonTime": Prop("json"),
        "properties/key": Prop("str", "key"),
        "properties/metric": Prop("str", "metric"),
        "properties/unit": Prop("str", "unit"),
        "properties/facility": Prop("str", "facility"),
        "properties": Prop("json"),
    },
    navs={
        "Thing": Nav("Things", False, fk_attr="source_id", fk_path="source_id", filter_path="source"),
        "Sensor": Nav("Sensors", False, fk_attr="source_id", fk_path="source_id", filter_path="source"),
        "ObservedProperty": Nav(
            "ObservedProperties", False, fk_attr="metric", fk_path="metric", filter_path=""
        ),
        "Observations": Nav("Observations", True, lookup="series_id", filter_path="observations"),
    },
)


class ObservedPropertyType(EntityType):
    """A metric in use by the tenant. Its rows are one representative series per metric, so the
    properties are expressions over ``metric`` and Datastream/ObservedProperty paths reuse them."""

    def queryset(self, tenant):
        series = _model("sources.Series").objects.filter(tenant=tenant)
        first = series.order_by().values("metric").annotate(first=Min("pk")).values("first")
        return series.filter(pk__in=first)

    def iot_id(self, row):
        return OBSERVED_PROPERTY_IDS.get(row.metric, 0)

    def key_for_id(self, iot_id: int):
        return METRIC_OF_ID.get(iot_id, "")

    def represent(self, row) -> dict:
        label = _metric_labels().get(row.metric, row.metric)
        return {
            "name": label,
            "definition": metric_definition(row.metric),
            "description": f"{label} ({row.metric})",
            "properties": {"metric": row.metric},
        }


OBSERVED_PROPERTY = ObservedPropertyType(
    name="ObservedProperties",
    singular="ObservedProperty",
    key_path="metric",
    props={
        "id": Prop("num", expression=lambda p: _case(p, "metric", OBSERVED_PROPERTY_IDS, default=0)),
        "name": Prop("str", expression=lambda p: _case(p, "metric", _metric_labels())),
        "definition": Prop(
            "str", expression=lambda p: _case(p, "metric", {m: metric_definition(m) for m in Metric.values})
        ),
        "description": Prop(
            "str",
            expression=lambda p: Concat(
                _case(p, "metric", _metric_labels()),
                Value(" ("),
                F(_join(p, "metric")),
                Value(")"),
                output_field=CharField(),
            ),
        ),
        "properties/metric": Prop("str", "metric"),
        "properties": Prop("json"),
    },
    navs={"Datastreams": Nav("Datastreams", True, lookup="metric", parent_value="metric")},
)


# --- Observations and FeaturesOfInterest (areas) ------------------------------------------------------


class ObservationType(EntityType):
    def queryset(self, tenant):
        return (
            _model("sources.Observation")
            .objects.filter(tenant=tenant)
            .annotate(sta_metric=F("series__metric"), sta_foi=F("series__area_id"))
        )

    def represent(self, row) -> dict:
        value = row.value
        if row.sta_metric in COUNT_METRICS and float(value).is_integer():
            value = int(value)
        time = iso(row.time)
        return {"phenomenonTime": time, "resultTime": time, "result": value}


OBSERVATION = ObservationType(
    name="Observations",
    singular="Observation",
    props={
        "id": Prop("num", "pk"),
        "phenomenonTime": Prop("datetime", "time"),
        "resultTime": Prop("datetime", "time"),
        "result": Prop("num", "value"),
    },
    navs={
        "Datastream": Nav(
            "Datastreams", False, fk_attr="series_id", fk_path="series_id", filter_path="series"
        ),
        "FeatureOfInterest": Nav(
            "FeaturesOfInterest",
            False,
            fk_attr="sta_foi",
            fk_path="series__area_id",
            filter_path="series__area",
        ),
    },
)


def _area_geometries(tenant) -> dict:
    rows = _model("areas.Area").objects.filter(tenant=tenant).values_list("pk", "geometry")
    return {pk: shape(geometry) for pk, geometry in rows}


class FeatureOfInterestType(EntityType):
    def queryset(self, tenant):
        return _model("areas.Area").objects.filter(tenant=tenant)

    def represent(self, row) -> dict:
        return {
            "name": row.name,
            "description": row.description or row.name,
            "encodingType": GEOJSON,
            "feature": row.geometry,
            "properties": {
                "slug": row.slug,
                "kind": row.kind,
                "surface_m2": row.surface_m2,
                "capacity": row.capacity,
                "archived": row.archived_at is not None,
            },
        }


FEATURE_OF_INTEREST = FeatureOfInterestType(
    name="FeaturesOfInterest",
    singular="FeatureOfInterest",
    props={
        "id": Prop("num", "pk"),
        "name": Prop("str", "name"),
        "description": Prop(
            "str",
            expression=lambda p: Case(
                When(**{_join(p, "description"): ""}, then=F(_join(p, "name"))),
                default=F(_join(p, "description")),
            ),
        ),
        "encodingType": Prop("str", expression=lambda p: Value(GEOJSON)),
        "feature": Prop("geometry", "pk", geometries=_area_geometries),
        "properties/slug": Prop("str", "slug"),
        "properties/kind": Prop("str", "kind"),
        "properties/surface_m2": Prop("num", "surface_m2"),
        "properties/capacity": Prop("num", "capacity"),
        "properties": Prop("json"),
    },
    navs={
        "Observations": Nav(
            "Observations", True, lookup="series__area_id", filter_path="series__observations"
        )
    },
)

ENTITY_TYPES: dict[str, EntityType] = {
    e.name: e
    for e in (THING, LOCATION, SENSOR, DATASTREAM, OBSERVED_PROPERTY, OBSERVATION, FEATURE_OF_INTEREST)
}
