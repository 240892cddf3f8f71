"""POST areas/import/: create or update by slug from a FeatureCollection, all or nothing."""

import json

from django_scopes import scopes_disabled

from areas.models import Area
from tests.areas.conftest import AREAS
from tests.factories import make_area, square
from tests.helpers import assert_problem

IMPORT = AREAS + "import/"


def feature(slug=None, geometry=None, **properties):
    if slug:
        properties["slug"] = slug
    return {"type": "Feature", "geometry": geometry or square(), "properties": properties}


def collection(*features, **extra):
    return {"type": "FeatureCollection", "features": list(features), **extra}


def slugs(tenant):
    with scopes_disabled():
        return sorted(Area.objects.filter(tenant=tenant).values_list("slug", flat=True))


def test_import_creates_and_updates_by_slug(admin_api, tenant_a):
    existing = make_area(tenant_a, slug="pier", name="Old name", capacity=100)
    body = collection(
        # the child comes first and names a parent from the same file
        feature("boulevard-north", geometry=square(4.275, 52.113), name="North section", parent="boulevard"),
        feature("boulevard", geometry=square(4.27, 52.11, 0.005), name="Boulevard", tags=["boulevard"]),
        feature("pier", name="De Pier", OBJECTID=17, Shape_Area=123.4),
    )
    response = admin_api.post(IMPORT, body, format="json")
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["created"] == ["boulevard", "boulevard-north"]
    assert result["updated"] == ["pier"]
    assert result["ignored_properties"] == {
        "pier": ["OBJECTID", "Shape_Area"]
    }  # reported, not silently dropped
    assert result["dry_run"] is False
    with scopes_disabled():
        pier = Area.objects.get(pk=existing.pk)
        assert (pier.name, pier.capacity) == ("De Pier", 100)  # unspecified properties keep their value
        assert Area.objects.get(slug="boulevard-north").parent.slug == "boulevard"


def test_one_bad_feature_changes_nothing(admin_api, tenant_a):
    make_area(tenant_a, slug="pier", name="Old name")
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[4.27, 52.11], [4.271, 52.111], [4.271, 52.11], [4.27, 52.111], [4.27, 52.11]]],
    }
    body = collection(
        feature("boulevard", name="Boulevard"),
        feature("pier", name="New name"),
        feature("beach", geometry=bowtie, name="Beach"),
        feature(
            "square",
            name="Square",
            valid_from="2027-04-27T08:00:00Z",
            kind="temporary",
            valid_to="2027-04-27T07:00:00Z",
        ),
    )
    problem = assert_problem(admin_api.post(IMPORT, body, format="json"), 400, "validation")
    assert problem["detail"].startswith(
        "2 of 4 features invalid; nothing was imported. Feature 2 ('beach'): geometry:"
    )
    rows = {row["slug"]: row for row in problem["errors"]}
    assert rows["beach"]["feature"] == 2
    assert "self-intersection" in rows["beach"]["errors"]["geometry"][0]
    assert "must be after valid_from" in rows["square"]["errors"]["valid_to"][0]
    assert slugs(tenant_a) == ["pier"]
    with scopes_disabled():
        assert Area.objects.get(slug="pier").name == "Old name"


def test_dry_run_reports_and_changes_nothing(admin_api, tenant_a):
    response = admin_api.post(
        IMPORT + "?dry_run=true", collection(feature("boulevard", name="Boulevard")), format="json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "created": ["boulevard"],
        "updated": [],
        "ignored_properties": {},
        "dry_run": True,
    }
    assert slugs(tenant_a) == []


def test_slug_falls_back_to_feature_id_then_name(admin_api, tenant_a):
    with_id = {"type": "Feature", "id": "from-id", "geometry": square(), "properties": {"name": "X"}}
    response = admin_api.post(IMPORT, collection(with_id, feature(name="Gevers Deynootplein")), format="json")
    assert response.status_code == 200, response.content
    assert slugs(tenant_a) == ["from-id", "gevers-deynootplein"]


def test_geojson_from_a_dutch_gis_in_rd_new_is_reprojected(admin_api, tenant_a):
    x, y = 78_500, 457_500
    rd_square = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 100, y], [x + 100, y + 100], [x, y + 100], [x, y]]],
    }
    body = collection(
        feature("rd-square", geometry=rd_square, name="RD square"),
        crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}},
    )
    response = admin_api.generic("POST", IMPORT, json.dumps(body), content_type="application/geo+json")
    assert response.status_code == 200, response.content
    with scopes_disabled():
        area = Area.objects.get(slug="rd-square")
    assert abs(area.surface_m2 - 10_000) < 50
    assert 4.2 < area.centroid_lon < 4.35


def test_parent_cycle_inside_the_file(admin_api, tenant_a):
    body = collection(
        feature("a", name="A", parent="b", geometry=square(4.27)),
        feature("b", name="B", parent="a", geometry=square(4.28)),
    )
    problem = assert_problem(admin_api.post(IMPORT, body, format="json"), 400)
    assert any("cycle" in " ".join(row["errors"].get("parent", [])) for row in problem["errors"])
    assert slugs(tenant_a) == []


def test_structural_errors(admin_api):
    cases = [
        ({"type": "Feature", "geometry": square(), "properties": {}}, "FeatureCollection"),
        (collection(), "no features"),
        (collection(feature("a", name="A"), feature("a", name="A again")), "Slug also used by feature 0"),
        (collection({"type": "Feature", "geometry": None, "properties": {}}), "slug (or id, or name)"),
        (
            collection(feature("a", geometry={"type": "Point", "coordinates": [4.27, 52.11]}, name="A")),
            "not 'Point'",
        ),
        (collection("not a feature"), "Not a GeoJSON Feature"),
    ]
    for body, message in cases:
        problem = assert_problem(admin_api.post(IMPORT, body, format="json"), 400)
        assert message in json.dumps(problem), (body, problem)


def test_only_admins_import(api_as, users):
    for role in ("operator", "analyst", "organiser"):
        assert_problem(
            api_as(users[role]).post(IMPORT, collection(feature("a", name="A")), format="json"), 403
        )
