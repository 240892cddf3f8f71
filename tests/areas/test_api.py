"""Areas API: create, read, update, delete/archive, filters, GeoJSON export, role checks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from areas.models import Area
from tests.areas.conftest import AREAS
from tests.factories import make_area, make_event, square
from tests.helpers import assert_problem


def create(client, **body):
    body.setdefault("name", "Kurhaus square")
    body.setdefault("geometry", square())
    return client.post(AREAS, body, format="json")


def test_admin_creates_an_area(admin_api):
    response = create(admin_api, capacity=2000, tags=["Square", "kurhaus", "square"], usable_surface_m2=5000)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "kurhaus-square"  # derived from the name
    assert body["kind"] == "permanent"
    assert body["surface_m2"] == pytest.approx(7622.9, abs=1)
    assert body["effective_surface_m2"] == 5000
    assert body["tags"] == ["square", "kurhaus"]
    assert body["bbox"] == [4.2727, 52.1117, 4.2737, 52.1127]
    assert body["centroid"] == pytest.approx([4.2732, 52.1122])
    assert body["archived"] is False
    assert body["geometry"]["type"] == "Polygon"


def test_bad_geometry_names_the_problem(admin_api):
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[4.27, 52.11], [4.271, 52.111], [4.271, 52.11], [4.27, 52.111], [4.27, 52.11]]],
    }
    body = assert_problem(create(admin_api, geometry=bowtie), 400, "validation")
    assert "self-intersection" in body["errors"]["geometry"][0]
    assert not Area.objects.with_scopes_disabled().exists()


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"kind": "temporary", "valid_from": "2027-04-27T20:00:00+02:00", "valid_to": "2027-04-27T08:00:00+02:00"},
         "valid_to", "must be after valid_from"),
        ({"kind": "temporary", "valid_from": "2027-04-27T08:00:00", "valid_to": "2027-04-27T20:00:00+02:00"},
         "valid_from", "has no time zone"),
        ({"kind": "temporary"}, "valid_to", "needs valid_from and valid_to"),
        ({"valid_from": "2027-04-27T08:00:00Z"}, "valid_from", "Only temporary zones"),
        ({"capacity": 0}, "capacity", "greater than or equal to 1"),
        ({"capacity": "many"}, "capacity", "valid integer"),
        ({"tags": "beach"}, "tags", "list"),
        ({"usable_surface_m2": 9_000}, "usable_surface_m2", "cannot exceed"),
        ({"density_bands": {"busy": 2, "very_busy": 1, "crowded": 3, "critical": 4}}, "density_bands", "increase"),
        ({"parent": "no-such-area"}, "parent", "does not exist"),
        ({"kind": "pop-up"}, "kind", "not a valid choice"),
    ],
)  # fmt: skip
def test_bad_fields_are_rejected(admin_api, extra, field, message):
    body = assert_problem(create(admin_api, **extra), 400, "validation")
    assert message in " ".join(body["errors"][field]), body


def test_duplicate_slug_is_rejected(admin_api, tenant_a):
    make_area(tenant_a, slug="kurhaus-square")
    body = assert_problem(create(admin_api), 400)
    assert "already has slug 'kurhaus-square'" in body["errors"]["slug"][0]


def test_parent_of_another_tenant_is_unknown(admin_api, tenant_b):
    make_area(tenant_b, slug="their-boulevard")
    body = assert_problem(create(admin_api, parent="their-boulevard"), 400)
    assert "does not exist" in body["errors"]["parent"][0]


def test_parent_cycle_is_rejected(admin_api, tenant_a):
    boulevard = make_area(tenant_a, slug="boulevard")
    section = make_area(tenant_a, slug="section", parent=boulevard)
    body = assert_problem(
        admin_api.patch(f"{AREAS}{boulevard.pk}/", {"parent": "section"}, format="json"), 400
    )
    assert "cycle" in body["errors"]["parent"][0]
    body = assert_problem(admin_api.patch(f"{AREAS}{section.pk}/", {"parent": "section"}, format="json"), 400)
    assert "own parent" in body["errors"]["parent"][0]


def test_zone_takes_its_event_window(admin_api, tenant_a):
    make_event(tenant_a, slug="koningsdag")
    response = create(admin_api, name="Coolsingel", kind="temporary", event="koningsdag")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["valid_from"] == "2027-04-27T08:00:00+02:00"
    assert body["valid_to"] == "2027-04-27T21:00:00+02:00"
    assert body["event"] == "koningsdag"


def test_update_recomputes_the_surface(admin_api, tenant_a):
    area = make_area(tenant_a, slug="kurhaus")
    response = admin_api.patch(f"{AREAS}{area.pk}/", {"geometry": square(size=0.002)}, format="json")
    assert response.status_code == 200
    assert response.json()["surface_m2"] == pytest.approx(4 * 7622.9, rel=0.001)
    assert response.json()["bbox"][2] == pytest.approx(4.2747)


def test_delete_without_history_removes_the_area(admin_api, tenant_a):
    area = make_area(tenant_a, slug="temporary-mistake")
    assert admin_api.delete(f"{AREAS}{area.pk}/").status_code == 204
    assert not Area.objects.with_scopes_disabled().filter(pk=area.pk).exists()


def test_delete_with_history_archives_and_restore_brings_it_back(admin_api, tenant_a):
    boulevard = make_area(tenant_a, slug="boulevard")
    make_area(tenant_a, slug="section", parent=boulevard, geometry=square(lon=4.28))
    response = admin_api.delete(f"{AREAS}{boulevard.pk}/")
    assert response.status_code == 200
    assert response.json()["archived"] is True
    assert [a["slug"] for a in admin_api.get(AREAS).json()["results"]] == ["section"]
    assert [a["slug"] for a in admin_api.get(AREAS, {"archived": "true"}).json()["results"]] == ["boulevard"]
    assert admin_api.get(f"{AREAS}{boulevard.pk}/").json()["archived"] is True  # history stays readable
    restored = admin_api.patch(f"{AREAS}{boulevard.pk}/", {"archived": False}, format="json")
    assert restored.json()["archived"] is False
    assert {a["slug"] for a in admin_api.get(AREAS).json()["results"]} == {"boulevard", "section"}


@pytest.fixture
def mixed_areas(tenant_a):
    boulevard = make_area(tenant_a, slug="boulevard", tags=["boulevard"], geometry=square(4.27, 52.11))
    make_area(
        tenant_a, slug="pier", tags=["pier", "boulevard"], geometry=square(4.268, 52.117), parent=boulevard
    )
    event = make_event(tenant_a, slug="koningsdag")
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=event, geometry=square(4.479, 51.921))
    make_area(
        tenant_a,
        slug="festival",
        kind="temporary",
        geometry=square(4.29, 52.12),
        valid_from="2026-07-01T10:00:00+02:00",
        valid_to="2026-07-03T23:00:00+02:00",
    )


@pytest.mark.parametrize(
    ("params", "slugs"),
    [
        ({}, {"boulevard", "pier", "coolsingel", "festival"}),
        ({"kind": "temporary"}, {"coolsingel", "festival"}),
        ({"tag": "BOULEVARD"}, {"boulevard", "pier"}),
        ({"tag": "pier"}, {"pier"}),
        ({"bbox": "4.26,52.10,4.275,52.12"}, {"boulevard", "pier"}),
        ({"bbox": "4.47,51.9,4.49,51.93"}, {"coolsingel"}),
        ({"event": "koningsdag"}, {"coolsingel"}),
        ({"parent": "boulevard"}, {"pier"}),
        ({"q": "fest"}, {"festival"}),
        ({"active_at": "2026-07-02T12:00:00+02:00"}, {"boulevard", "pier", "festival"}),
        ({"active_at": "2027-04-27T12:00:00+02:00"}, {"boulevard", "pier", "coolsingel"}),
        ({"active_at": "2027-04-27T21:00:00+02:00"}, {"boulevard", "pier"}),  # valid_to is exclusive
    ],
)
def test_filters(admin_api, mixed_areas, params, slugs):
    response = admin_api.get(AREAS, params)
    assert response.status_code == 200, response.content
    assert {a["slug"] for a in response.json()["results"]} == slugs


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"bbox": "4,52,5"}, "bbox", "four numbers"),
        ({"bbox": "5,52,4,53"}, "bbox", "minimum exceeds maximum"),
        ({"bbox": "4,52,5,95"}, "bbox", "out of range"),
        ({"active_at": "2026-07-02T12:00:00"}, "active_at", "no time zone"),
        ({"active_at": "yesterday"}, "active_at", "wrong format"),
        ({"kind": "forever"}, "kind", "not a valid choice"),
    ],
)
def test_bad_filters_are_400(admin_api, params, field, message):
    body = assert_problem(admin_api.get(AREAS, params), 400)
    assert message in body["errors"][field][0]


def test_list_uses_a_fixed_number_of_queries(admin_api, tenant_a):
    boulevard = make_area(tenant_a, slug="boulevard")
    event = make_event(tenant_a, slug="koningsdag")
    make_area(tenant_a, slug="zone-0", kind="temporary", event=event, parent=boulevard)
    admin_api.get(AREAS)  # first use of the token records last_used_at
    with CaptureQueriesContext(connection) as few:
        assert admin_api.get(AREAS).status_code == 200
    for i in range(1, 15):
        make_area(tenant_a, slug=f"zone-{i}", kind="temporary", event=event, parent=boulevard)
    with CaptureQueriesContext(connection) as many:
        assert len(admin_api.get(AREAS).json()["results"]) == 16
    assert len(many) == len(few)
    assert len(many) <= 5  # token, tenant, membership, count, page


@pytest.mark.parametrize("role", ["operator", "analyst"])
def test_operators_and_analysts_read_but_do_not_write(api_as, users, tenant_a, role):
    area = make_area(tenant_a, slug="boulevard")
    client = api_as(users[role])
    assert client.get(AREAS).json()["count"] == 1
    assert client.get(f"{AREAS}{area.pk}/").status_code == 200
    assert_problem(create(client), 403)
    assert_problem(client.patch(f"{AREAS}{area.pk}/", {"name": "x"}, format="json"), 403)
    assert_problem(client.delete(f"{AREAS}{area.pk}/"), 403)


def test_integration_account_cannot_read_areas(api_as, users, tenant_a):
    assert_problem(api_as(users["integration"]).get(AREAS), 403)


def test_geojson_export_is_rfc_7946(admin_api, mixed_areas):
    response = admin_api.get("/api/v1/tenants/tenant-a/areas.geojson", HTTP_ACCEPT="application/geo+json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 4
    feature = next(f for f in collection["features"] if f["id"] == "pier")
    assert feature["type"] == "Feature"
    lon, lat = feature["geometry"]["coordinates"][0][0]
    assert 4 < lon < 5 and 51 < lat < 53  # longitude first
    assert feature["properties"]["parent"] == "boulevard"
    assert feature["properties"]["surface_m2"] > 0
    assert "geometry" not in feature["properties"]
    assert collection["bbox"][0] < collection["bbox"][2]
    filtered = admin_api.get("/api/v1/tenants/tenant-a/areas.geojson", {"kind": "temporary"}).json()
    assert {f["id"] for f in filtered["features"]} == {"coolsingel", "festival"}


def test_export_then_import_into_another_tenant_round_trips(admin_api, api, mixed_areas, tenant_b):
    from tests.factories import member, token_for

    collection = admin_api.get("/api/v1/tenants/tenant-a/areas.geojson", {"kind": "permanent"}).json()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(member(tenant_b, 'admin', username='b-admin'))}")
    response = api.post("/api/v1/tenants/tenant-b/areas/import/", collection, format="json")
    assert response.status_code == 200, response.content
    assert sorted(response.json()["created"]) == ["boulevard", "pier"]
    assert response.json()["ignored_properties"] == {}
    with scopes_disabled():
        copies = {a.slug: a for a in Area.objects.filter(tenant=tenant_b)}
        originals = {a.slug: a for a in Area.objects.filter(tenant__slug="tenant-a", kind="permanent")}
        assert copies["pier"].parent.slug == "boulevard"
        for slug, original in originals.items():
            assert copies[slug].surface_m2 == original.surface_m2
            assert copies[slug].geometry == original.geometry
