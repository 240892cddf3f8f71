"""Building footprints for the 3D map: PUT (admins, validated, all or nothing) and GET .../buildings.geojson."""

import pytest
from django_scopes import scopes_disabled

from areas.buildings import MAX_BUILDINGS, building_height
from areas.geometry import rounded
from areas.models import BuildingLayer
from tests.factories import make_event, square
from tests.helpers import assert_problem

URL = "/api/v1/tenants/tenant-a/buildings.geojson"
KURHAUS = square(4.2755, 52.1112, 0.0008)


def building(geometry=None, feature_id=None, **properties):
    feature = {"type": "Feature", "geometry": geometry or KURHAUS, "properties": properties}
    if feature_id is not None:
        feature["id"] = feature_id
    return feature


def collection(*features, **extra):
    return {"type": "FeatureCollection", "features": list(features), **extra}


def test_admin_uploads_buildings_and_members_read_them(api_as, users, tenant_a):
    rd_new = {
        "type": "Polygon",
        "coordinates": [
            [[80000, 457000, 2.1], [80030, 457000, 2.1], [80030, 457020, 2.1], [80000, 457000, 2.1]]
        ],
    }
    body = collection(
        building(feature_id="kurhaus", height=32.5, name="Kurhaus", bouwjaar=1885),
        building(square(4.2740, 52.1100, 0.0003), hoogte="12,5"),
        building(
            {"type": "MultiPolygon", "coordinates": [square(4.2770, 52.1120, 0.0002)["coordinates"]]},
            b3_h_dak_max=24.0,
            b3_h_maaiveld=4.0,
        ),
        building(square(4.2780, 52.1125, 0.0002), h_dak_max=9.0),
    )
    response = api_as(users["admin"]).put(URL, body, format="json")

    assert response.status_code == 200, response.content
    result = response.json()
    assert result["feature_count"] == 4
    assert result["height_keys"] == {"height": 1, "hoogte": 1, "b3_h_dak_max": 1, "h_dak_max": 1}
    assert result["bbox"] == [4.274, 52.11, 4.2782, 52.1127]
    assert result["uploaded_at"]

    for role in ("analyst", "operator"):
        got = api_as(users[role]).get(URL)
        assert got.status_code == 200 and got["Content-Type"] == "application/geo+json"
    features = got.json()["features"]
    # Only footprint, height and id are kept; the 3D BAG's roof height stands on its ground level.
    assert [f["properties"] for f in features] == [
        {"height": 32.5, "id": "kurhaus"},
        {"height": 12.5},
        {"height": 20.0},
        {"height": 9.0},
    ]
    assert features[0]["geometry"] == rounded(KURHAUS)  # 7 decimals, as areas
    assert got.json()["bbox"] == result["bbox"]

    # RD New coordinates with a crs member (as the 3D BAG publishes them) are reprojected to WGS84.
    named = collection(
        building(rd_new, height=10), crs={"type": "name", "properties": {"name": "EPSG:28992"}}
    )
    response = api_as(users["admin"]).put(URL, named, format="json")
    assert response.status_code == 200, response.content
    lon, lat = api_as(users["admin"]).get(URL).json()["features"][0]["geometry"]["coordinates"][0][0]
    assert 4.2 < lon < 4.35 and 52.05 < lat < 52.15
    with scopes_disabled():
        assert BuildingLayer.objects.get(tenant=tenant_a).feature_count == 1  # replaced, not added


def test_without_an_upload_the_layer_is_empty(api_as, users):
    body = api_as(users["analyst"]).get(URL).json()
    assert body == {"type": "FeatureCollection", "features": [], "uploaded_at": None}


def test_invalid_features_are_reported_per_feature_and_nothing_is_stored(api_as, users, tenant_a):
    client = api_as(users["admin"])
    assert client.put(URL, collection(building(height=10)), format="json").status_code == 200
    open_ring = {
        "type": "Polygon",
        "coordinates": [[[4.27, 52.11], [4.28, 52.11], [4.28, 52.12], [4.27, 52.12]]],
    }
    swapped = {
        "type": "Polygon",
        "coordinates": [[[52.11, 4.27], [52.11, 4.28], [52.12, 4.28], [52.11, 4.27]]],
    }
    body = collection(
        building(height=15),
        building(feature_id="no-height", name="Pier pavilion"),
        building(height=0),
        building(height=1200),
        building(height="high"),
        building({"type": "Point", "coordinates": [4.27, 52.11]}, height=10),
        building(open_ring, height=10),
        building(swapped, height=10),
        building(
            {"type": "Polygon", "coordinates": [[[4.27, 95.0], [4.28, 52.1], [4.28, 52.2], [4.27, 95.0]]]},
            height=9,
        ),
        {"type": "Point"},
    )
    problem = assert_problem(client.put(URL, body, format="json"), 400, "validation")

    assert problem["detail"].startswith(
        "9 of 10 features invalid; nothing was stored. Feature 1 ('no-height'): height:"
    )
    errors = {e["feature"]: e for e in problem["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert errors[1]["id"] == "no-height"
    assert "No height" in errors[1]["errors"]["height"][0] and "hoogte" in errors[1]["errors"]["height"][0]
    assert errors[2]["errors"]["height"] == ["Height from 'height' is 0 m; it must be above 0."]
    assert errors[3]["errors"]["height"] == ["Height from 'height' is 1200 m; it must be below 1000 m."]
    assert errors[4]["errors"]["height"] == ["'height' is not a number ('high')."]
    assert "Polygon or MultiPolygon" in errors[5]["errors"]["geometry"][0]
    assert "not closed" in errors[6]["errors"]["geometry"][0]
    assert "swapped" in errors[7]["errors"]["geometry"][0]
    assert "out of range" in errors[8]["errors"]["geometry"][0]
    assert errors[9]["errors"] == {"type": ["Not a GeoJSON Feature."]}
    with scopes_disabled():
        assert BuildingLayer.objects.get(tenant=tenant_a).feature_count == 1  # the earlier upload stays


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"type": "Feature"}, "type", "FeatureCollection"),
        ([1, 2], "type", "FeatureCollection"),
        ({"type": "FeatureCollection"}, "features", "no 'features' list"),
    ],
)
def test_not_a_feature_collection_is_refused(api_as, users, body, field, message):
    problem = assert_problem(api_as(users["admin"]).put(URL, body, format="json"), 400)
    assert message in problem["errors"][0]["errors"][field][0]
    assert problem["errors"][0]["feature"] is None


def test_more_than_the_cap_is_refused_before_reading_features(api_as, users):
    body = collection(*([{"type": "Feature"}] * (MAX_BUILDINGS + 1)))
    problem = assert_problem(api_as(users["admin"]).put(URL, body, format="json"), 400)
    assert problem["errors"] == [
        {
            "feature": None,
            "id": None,
            "errors": {
                "features": [f"At most {MAX_BUILDINGS} buildings per layer; got {MAX_BUILDINGS + 1}."]
            },
        }
    ]


def test_an_empty_collection_clears_the_layer(api_as, users):
    client = api_as(users["admin"])
    client.put(URL, collection(building(height=10)), format="json")
    response = client.put(URL, collection(), format="json")
    assert response.status_code == 200 and response.json()["feature_count"] == 0
    assert client.get(URL).json()["features"] == []


def test_geojson_content_type_is_accepted(api_as, users):
    import json

    response = api_as(users["admin"]).put(
        URL, json.dumps(collection(building(height=10))), content_type="application/geo+json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("role", ["operator", "analyst", "organiser", "integration"])
def test_only_admins_upload(api_as, users, role):
    assert_problem(api_as(users[role]).put(URL, collection(building(height=10)), format="json"), 403)


def test_organisers_read_but_integrations_do_not(api_as, users, tenant_a):
    make_event(tenant_a, organisers=[users["organiser"].username])
    assert api_as(users["organiser"]).get(URL).status_code == 200
    assert_problem(api_as(users["integration"]).get(URL), 403)


def test_another_tenants_layer_is_404(api_as, users, tenant_b):
    assert_problem(api_as(users["admin"]).get("/api/v1/tenants/tenant-b/buildings.geojson"), 404)
    assert_problem(
        api_as(users["admin"]).put("/api/v1/tenants/tenant-b/buildings.geojson", collection(), format="json"),
        404,
    )


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"height": 12}, (12.0, "height", None)),
        ({"height": None, "hoogte": 8}, (8.0, "hoogte", None)),  # a null height falls through to the next key
        ({"b3_h_dak_max": 30.25, "b3_h_maaiveld": 5.0}, (25.25, "b3_h_dak_max", None)),
        (
            {"h_dak_max": 3.0, "h_maaiveld": 4.0},
            (None, "h_dak_max", "Height from 'h_dak_max' is -1 m; it must be above 0."),
        ),
        ({"height": True}, (None, "height", "'height' is not a number (True).")),
    ],
)
def test_building_height(properties, expected):
    assert building_height(properties) == expected
