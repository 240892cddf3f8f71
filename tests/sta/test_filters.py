"""$filter translation (odata-query AST -> Django Q) and its errors, through the API and directly."""

import pytest

from sta.entities import ENTITY_TYPES
from sta.filters import QueryError, apply_filter, order_expressions, parse

# Observation results in the world: cam-kurhaus 120,150,180,210,90 (12:00-12:20, every 5 min),
# cam-pier 40,60,80 (12:00-12:10), garage 300,250,200 (12:00-12:10); all on 2026-07-04 UTC.
CASES = [
    ("result eq 150", [150]),
    ("result ne 150 and result lt 60", [40]),
    ("result gt 200 or result le 40", [210, 40, 300, 250]),
    ("not (result lt 250)", [300, 250]),
    ("result in (40, 90, 999)", [90, 40]),
    ("result add 10 eq 100", [90]),
    ("result sub 10 eq 30", [40]),
    ("result mul 2 ge 500", [300, 250]),
    ("result div 2 eq 20", [40]),
    ("result mod 100 eq 50", [150, 250]),
    ("phenomenonTime ge 2026-07-04T12:15:00Z", [210, 90]),
    ("resultTime lt 2026-07-04T12:05:00.000Z", [120, 40, 300]),
    ("hour(phenomenonTime) eq 12 and minute(phenomenonTime) eq 20", [90]),
    (
        "year(phenomenonTime) eq 2026 and month(phenomenonTime) eq 7 and day(phenomenonTime) eq 4 and result lt 50",
        [40],
    ),
    ("Datastream/name eq 'garage'", [300, 250, 200]),
    ("Datastream/Thing/name eq 'Garage Kurhaus' and result lt 300", [250, 200]),
    ("Datastream/Thing/properties/slug eq 'cameras' and result lt 60", [40]),
    ("Datastream/ObservedProperty/id eq 5", [300, 250, 200]),
    ("Datastream/unitOfMeasurement/symbol eq '{space}'", [300, 250, 200]),
    ("FeatureOfInterest/name eq 'De Pier'", [40, 60, 80]),
    ("substringof('Pier', FeatureOfInterest/name)", [40, 60, 80]),
    ("startswith(Datastream/name, 'Camera') and result ge 180", [180, 210]),
    ("endswith(Datastream/name, 'pier') and result gt 50", [60, 80]),
    ("contains(tolower(Datastream/Thing/name), 'garage') and result eq 200", [200]),
    ("toupper(Datastream/properties/key) eq 'CAM-PIER' and result eq 40", [40]),
    ("length(Datastream/name) eq 6", [300, 250, 200]),
    ("concat(Datastream/name, '!') eq 'garage!' and result eq 250", [250]),
    ("indexof(Datastream/name, 'rage') eq 2 and result eq 300", [300]),
    ("substring(Datastream/name, 1, 3) eq 'ara' and result eq 300", [300]),
    ("trim(FeatureOfInterest/name) eq 'Kurhausplein' and round(result div 100) eq 2", [150, 180, 210]),
    ("floor(result div 100) eq 1 and ceiling(result div 100) eq 2", [120, 150, 180]),
    ("geo.intersects(FeatureOfInterest/feature, geography'POINT(4.2645 52.1165)')", [40, 60, 80]),
    (
        "st_within(Datastream/observedArea, geography'POLYGON((4.276 52.110, 4.278 52.110, 4.278 52.111, 4.276 52.111, 4.276 52.110))')",
        [300, 250, 200],
    ),
    ("st_disjoint(FeatureOfInterest/feature, geography'POINT(4.2645 52.1165)') and result lt 100", [90]),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_filter_on_observations(expression, expected, world, sta):
    response = sta("Observations", **{"$filter": expression, "$orderby": "Datastream/id,phenomenonTime"})
    assert response.status_code == 200, response.json()
    assert [o["result"] for o in response.json()["value"]] == expected


def test_filters_on_the_other_entity_sets(world, sta):
    def ids(path, expression):
        response = sta(path, **{"$filter": expression})
        assert response.status_code == 200, response.json()
        return sorted(e["@iot.id"] for e in response.json()["value"])

    assert ids("Things", "properties/kind eq 'counting_camera' and startswith(name, 'Garage')") == [
        world.parking.pk
    ]
    assert ids("Things", "Datastreams/name eq 'cam-pier'") == [world.cameras.pk]  # any of its datastreams
    polygon = "geography'POLYGON((4.272 52.111, 4.274 52.111, 4.274 52.113, 4.272 52.113, 4.272 52.111))'"
    assert ids("Locations", f"st_intersects(location, {polygon})") == [world.cameras.pk]
    assert ids("Things", f"geo.intersects(Locations/location, {polygon})") == [world.cameras.pk]
    assert ids("Datastreams", "ObservedProperty/name eq 'vacant parking spaces'") == [world.garage.pk]
    assert ids(
        "Datastreams",
        "observationType eq 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation'",
    ) == sorted([world.cam_kurhaus.pk, world.cam_pier.pk, world.garage.pk])
    assert ids("ObservedProperties", "name eq 'people present (occupancy)'") == [1]
    assert ids(
        "Sensors",
        "properties/kind eq 'counting_camera' and name eq 'Garage Kurhaus (Counting camera (push))'",
    ) == [world.parking.pk]
    assert ids("FeaturesOfInterest", "properties/surface_m2 gt 1000 and name ne 'De Pier'") == [
        world.kurhaus.pk
    ]


@pytest.mark.parametrize(
    ("expression", "message", "position"),
    [
        ("result eq ", "unexpected end of expression", 10),
        ("result eq", "syntax error near 'whitespace'", 6),
        ("result eq 'a", 'unexpected character "\'"', 10),
        ("result gt 3 andd result lt 5", "syntax error", 11),
        ("frobnicate(result) eq 1", "unknown function 'frobnicate'", 0),
        ("result eq 1 and st_nearby(location, 1)", "unknown function 'st_nearby'", 16),
        ("startswith(name)", "takes 2 arguments", 0),
        (
            "Datastream/colour eq 'red'",
            "unknown or unfilterable property 'Datastream/colour' of Observation",
            0,
        ),
        ("result gt 1 and Datastream/Thing/secrets eq 'x'", "unknown or unfilterable property", 16),
    ],
)
def test_syntax_and_name_errors_are_400_with_the_position(expression, message, position, world, sta):
    response = sta("Observations", **{"$filter": expression})
    assert response.status_code == 400
    body = response.json()
    assert message in body["message"] and f"at position {position}" in body["message"]
    assert body["position"] == position
    assert (body["status"], body["code"], body["title"]) == (400, 400, "Bad request")
    assert body["detail"] == body["message"] and response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"$filter": "result eq 'many'"}, "cannot compare a num with a str"),
        ({"$filter": "phenomenonTime gt 5"}, "cannot compare a datetime with a num"),
        ({"$filter": "FeatureOfInterest/feature eq 1"}, "cannot compare a geometry with a num"),
        ({"$filter": "FeatureOfInterest/feature"}, "is a geometry"),
        (
            {"$filter": "geo.distance(FeatureOfInterest/feature, geography'POINT(4 52)') lt 1"},
            "not supported",
        ),
        ({"$filter": "geo.intersects(FeatureOfInterest/feature, geography'POINT(4 52')"}, "invalid WKT"),
        ({"$filter": "Datastream/properties eq 1"}, "unknown or unfilterable property"),
        ({"$orderby": "FeatureOfInterest/feature"}, "cannot sort by 'FeatureOfInterest/feature'"),
        ({"$orderby": "result sideways"}, "$orderby"),
        ({"$top": "-1"}, "$top: must be a non-negative integer"),
        ({"$skip": "ten"}, "$skip: must be a non-negative integer"),
        ({"$count": "yes"}, "$count: must be true or false"),
        ({"$select": "colour"}, "Observation has no property 'colour'"),
        ({"$expand": "Things"}, "Observation has no navigation property 'Things'"),
        ({"$expand": "Datastream($expand=Locations)"}, "Datastream has no navigation property 'Locations'"),
        ({"$expand": "Datastream($top=x)"}, "$expand Datastream: $top"),
        ({"$expand": "Datastream($filter=name eq )"}, "$expand Datastream: $filter: unexpected end"),
        ({"$frobnicate": "1"}, "unknown query option"),
        ({"$resultFormat": "csv"}, "must be default or dataArray"),
        ({"$resultFormat": "dataArray", "$expand": "Datastream"}, "cannot be combined with $expand"),
        ({"$resultFormat": "dataArray", "$select": "@iot.selfLink"}, "$select must name some of"),
    ],
)
def test_bad_options_are_400(params, message, world, sta):
    response = sta("Observations", **params)
    assert response.status_code == 400, response.content
    assert message in response.json()["message"]


def test_parse_gives_an_odata_query_ast():
    tree = parse("Datastream/Thing/name eq 'x'")
    assert type(tree).__name__ == "Compare" and type(tree.left).__name__ == "Attribute"
    with pytest.raises(QueryError) as caught:
        parse("   ")
    assert caught.value.position == 0


def test_translation_to_the_orm(world):
    from tenants.scoping import tenant_scope

    observations = ENTITY_TYPES["Observations"]
    with tenant_scope(world.tenant):
        queryset = apply_filter(
            observations, observations.queryset(world.tenant), "Datastream/Thing/name eq 'Garage Kurhaus'",
            tenant=world.tenant,
        )  # fmt: skip
        assert '"sources_source"."name" = ' in str(queryset.query)
        assert sorted(queryset.values_list("value", flat=True)) == [200, 250, 300]
        order = order_expressions(observations, "result desc", tenant=world.tenant)
        assert str(order[0]).startswith("OrderBy(F(value), descending=True")
