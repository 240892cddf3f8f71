"""SensorThings read side: service root, auth, paging, $count/$select/$expand, navigation, query budget."""

from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sources.choices import Metric
from sta.entities import OBSERVED_PROPERTY_IDS
from tenants.choices import Role
from tests.factories import member, token_for
from tests.sta.conftest import build_world


def test_service_root_lists_the_entity_sets_and_conformance(world, sta):
    body = sta().json()
    names = [entry["name"] for entry in body["value"]]
    assert names == [
        "Things", "Locations", "Sensors", "Datastreams", "ObservedProperties", "Observations", "FeaturesOfInterest",
    ]  # fmt: skip
    assert body["value"][0]["url"] == "http://testserver/sta/v1.1/tenants/tenant-a/Things"
    assert (
        "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data"
        in body["serverSettings"]["conformance"]
    )


def test_anonymous_callers_get_401_in_both_error_shapes(world, api):
    response = api.get("/sta/v1.1/tenants/tenant-a/Things")
    assert response.status_code == 401
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert (body["status"], body["code"]) == (401, 401) and body["message"] == body["detail"]


def test_unknown_tenant_non_member_and_unknown_paths_are_404(world, api, tenant_b):
    outsider = member(tenant_b, Role.ADMIN, username="outsider")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(outsider)}")
    for url in ("/sta/v1.1/tenants/tenant-a/Things", "/sta/v1.1/tenants/nowhere/Things", "/sta/v1.1/nothing"):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == 404
    assert api.get("/sta/v1.1/tenants/tenant-b/Unicorns").status_code == 404
    assert api.get("/sta/v1.1/tenants/tenant-b/Things(999999)").status_code == 404


def test_integration_accounts_cannot_read(world, api, tenant_a):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(member(tenant_a, Role.INTEGRATION))}")
    assert api.get("/sta/v1.1/tenants/tenant-a/Observations").status_code == 403


def test_entity_documents_have_ids_links_and_navigation_links(world, sta):
    datastream = sta(f"Datastreams({world.cam_kurhaus.pk})").json()
    base = "http://testserver/sta/v1.1/tenants/tenant-a"
    assert datastream["@iot.selfLink"] == f"{base}/Datastreams({world.cam_kurhaus.pk})"
    assert datastream["Thing@iot.navigationLink"] == f"{base}/Datastreams({world.cam_kurhaus.pk})/Thing"
    assert datastream["unitOfMeasurement"] == {
        "name": "person", "symbol": "{person}", "definition": "http://unitsofmeasure.org/ucum.html",
    }  # fmt: skip
    assert datastream["phenomenonTime"] == "2026-07-04T12:00:00Z/2026-07-04T12:20:00Z"
    assert datastream["observedArea"] == {"type": "Point", "coordinates": [4.273, 52.112]}
    garage = sta(f"Datastreams({world.garage.pk})").json()
    assert garage["observationType"].endswith("OM_CountObservation") and "observedArea" in garage
    feature = sta(f"FeaturesOfInterest({world.pier.pk})").json()
    assert feature["encodingType"] == "application/geo+json" and feature["feature"]["type"] == "Polygon"


def test_every_metric_has_a_stable_observed_property_id():
    assert set(OBSERVED_PROPERTY_IDS) == set(Metric.values)
    assert len(set(OBSERVED_PROPERTY_IDS.values())) == len(OBSERVED_PROPERTY_IDS)
    assert OBSERVED_PROPERTY_IDS["people_count"] == 1 and OBSERVED_PROPERTY_IDS["parking_vacant"] == 5


def test_top_above_the_maximum_is_capped_and_paged_with_next_links(world, sta, settings):
    settings.STA_MAX_TOP = 3
    seen, url, pages = [], None, 0
    response = sta(
        "Observations", **{"$top": 50, "$filter": "result ge 0", "$orderby": "id", "$count": "true"}
    )
    while True:
        body = response.json()
        assert len(body["value"]) <= 3
        seen += [o["@iot.id"] for o in body["value"]]
        pages += 1
        url = body.get("@iot.nextLink")
        if not url:
            break
        parts = urlsplit(url)
        assert "$filter=result%20ge%200" in parts.query and "$top=50" in parts.query
        response = sta.client.get(f"{parts.path}?{parts.query}")
    assert body.get("@iot.count", 11) == 11
    assert seen == sorted(o.pk for o in world.observations) and pages == 4


def test_default_page_size_and_skip(world, sta, settings):
    settings.STA_DEFAULT_TOP = 4
    first = sta("Observations", **{"$orderby": "id"}).json()
    assert len(first["value"]) == 4 and "$skip=4" in first["@iot.nextLink"]
    rest = sta("Observations", **{"$orderby": "id", "$skip": 8}).json()
    assert [o["@iot.id"] for o in rest["value"]] == sorted(o.pk for o in world.observations)[8:]
    assert "@iot.nextLink" not in rest


def test_count_with_top_zero(world, sta):
    body = sta("Observations", **{"$count": "true", "$top": 0}).json()
    assert body == {"@iot.count": 11, "value": []}


def test_data_array_result_format(world, sta):
    body = sta(
        f"Datastreams({world.garage.pk})/Observations",
        **{
            "$resultFormat": "dataArray",
            "$select": "phenomenonTime,result",
            "$orderby": "phenomenonTime",
            "$count": "true",
        },
    ).json()
    assert body == {
        "@iot.count": 3,
        "value": [
            {
                "Datastream@iot.navigationLink": f"http://testserver/sta/v1.1/tenants/tenant-a/Datastreams({world.garage.pk})",
                "components": ["phenomenonTime", "result"],
                "dataArray@iot.count": 3,
                "dataArray": [
                    ["2026-07-04T12:00:00Z", 300],
                    ["2026-07-04T12:05:00Z", 250],
                    ["2026-07-04T12:10:00Z", 200],
                ],
            }
        ],
    }
    grouped = sta("Observations", **{"$resultFormat": "dataArray", "$orderby": "id"}).json()["value"]
    assert [g["dataArray@iot.count"] for g in grouped] == [5, 3, 3]
    assert grouped[0]["components"] == ["id", "phenomenonTime", "resultTime", "result"]
    assert sta("Things", **{"$resultFormat": "dataArray"}).status_code == 400


def test_orderby_several_keys_and_navigation_paths(world, sta):
    body = sta("Observations", **{"$orderby": "Datastream/name desc, result asc", "$top": 4}).json()
    assert [o["result"] for o in body["value"]] == [200, 250, 300, 40]  # garage first, then cam-pier
    newest_first = sta("Observations", **{"$orderby": "@iot.id desc", "$top": 2}).json()["value"]
    assert [o["@iot.id"] for o in newest_first] == sorted((o.pk for o in world.observations), reverse=True)[
        :2
    ]


def test_select_keeps_only_the_listed_properties(world, sta):
    body = sta("Things", **{"$select": "id,name", "$orderby": "name"}).json()
    assert body["value"] == [
        {"@iot.id": world.cameras.pk, "name": "Cameras Scheveningen"},
        {"@iot.id": world.parking.pk, "name": "Garage Kurhaus"},
    ]


def test_nested_expand_with_its_own_options(world, sta):
    body = sta(
        f"Things({world.cameras.pk})",
        **{
            "$expand": "Datastreams($select=name;$orderby=id;$expand=Observations($top=2;$orderby=phenomenonTime desc;$count=true))"
        },
    ).json()
    kurhaus, pier = body["Datastreams"]
    assert kurhaus["name"] == "Camera Kurhaus" and set(kurhaus) == {
        "name", "Observations", "Observations@iot.count", "Observations@iot.nextLink",
    }  # fmt: skip
    assert [o["result"] for o in kurhaus["Observations"]] == [90, 210]
    assert kurhaus["Observations@iot.count"] == 5
    assert kurhaus["Observations@iot.nextLink"].endswith(
        f"/Datastreams({world.cam_kurhaus.pk})/Observations?$top=2&$orderby=phenomenonTime%20desc&$count=true&$skip=2"
    )
    assert [o["result"] for o in pier["Observations"]] == [80, 60] and pier["Observations@iot.count"] == 3


def test_expand_path_form_and_filter_inside_expand(world, sta):
    body = sta(
        "Datastreams",
        **{"$expand": "Observations($filter=result gt 100),Thing/Locations", "$orderby": "id"},
    ).json()
    kurhaus, pier, garage = body["value"]
    assert sorted(o["result"] for o in kurhaus["Observations"]) == [120, 150, 180, 210]
    assert pier["Observations"] == [] and len(garage["Observations"]) == 3
    assert garage["Thing"]["Locations"][0]["location"]["coordinates"] == [4.2772, 52.1104]


def test_navigation_paths_and_properties(world, sta):
    observation = world.observations[0]
    assert sta(f"Observations({observation.pk})/Datastream/Thing").json()["name"] == "Cameras Scheveningen"
    listed = sta(f"Things({world.cameras.pk})/Datastreams", **{"$orderby": "id"}).json()["value"]
    assert [d["@iot.id"] for d in listed] == [world.cam_kurhaus.pk, world.cam_pier.pk]
    assert sta(f"Things({world.cameras.pk})/Datastreams({world.garage.pk})").status_code == 404
    assert sta(f"Things({world.parking.pk})/Datastreams({world.garage.pk})/name").json() == {"name": "garage"}
    raw = sta(f"Datastreams({world.garage.pk})/name/$value")
    assert raw.content == b"garage" and raw["Content-Type"].startswith("text/plain")
    assert sta("ObservedProperties(5)/Datastreams").json()["value"][0]["@iot.id"] == world.garage.pk
    assert sta(f"Datastreams({world.garage.pk})/ObservedProperty").json()["@iot.id"] == 5
    assert sta("ObservedProperties(11)").status_code == 404  # no temperature series in this tenant
    assert (
        sta(f"FeaturesOfInterest({world.pier.pk})/Observations", **{"$count": "true"}).json()["@iot.count"]
        == 3
    )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (
            "Things",
            {"$expand": "Datastreams($expand=Observations($top=3),Sensor,ObservedProperty),Locations"},
        ),
        (
            "Observations",
            {"$expand": "Datastream($expand=Thing),FeatureOfInterest", "$filter": "result gt 0"},
        ),
    ],
)
def test_query_count_does_not_grow_with_the_page(path, params, world, sta, tenant_a):
    sta("")  # the token's first use writes last_used_at; measure the steady state
    with CaptureQueriesContext(connection) as small:
        assert sta(path, **params).status_code == 200
    build_world(tenant_a, prefix="more-")  # twice the sources, series, areas and observations
    with CaptureQueriesContext(connection) as large:
        body = sta(path, **params).json()
    assert len(body["value"]) > 2
    assert len(large.captured_queries) == len(small.captured_queries) <= 16
