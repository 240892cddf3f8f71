"""Configuration packages: export, import (dry run and apply, all or nothing), the schema and bad input."""

import copy
import json
from io import StringIO

import jsonschema
import pytest
from django.core.management import call_command
from django_scopes import scopes_disabled

from areas.models import Area, CrowdLevelSettings, Event
from incidents.models import AlertRule, InterventionType
from sources.models import Source
from tests.factories import TenantFactory, member, square

EXPORT = "/api/v1/tenants/{}/config/export/"
IMPORT = "/api/v1/tenants/{}/config/import/"


def export(client, tenant, **params):
    response = client.get(EXPORT.format(tenant.slug), params)
    assert response.status_code == 200, response.content
    return response.json()


def do_import(client, tenant, package, **options):
    return client.post(IMPORT.format(tenant.slug), {"package": package, **options}, format="json")


def areas_of(tenant) -> dict:
    with scopes_disabled():
        return {
            a.slug: {
                "name": a.name,
                "kind": a.kind,
                "geometry": a.geometry,
                "surface_m2": a.surface_m2,
                "usable_surface_m2": a.usable_surface_m2,
                "capacity": a.capacity,
                "tags": a.tags,
                "parent": a.parent.slug if a.parent else None,
                "event": a.event.slug if a.event else None,
                "valid_from": a.valid_from,
                "density_bands": a.density_bands,
            }
            for a in Area.objects.filter(tenant=tenant).select_related("parent", "event")
        }


def rules_of(tenant) -> list:
    with scopes_disabled():
        return sorted(
            (r.name, r.kind, r.area.slug if r.area else None, r.source.slug if r.source else None, r.level,
             r.within_hours, r.minutes, tuple(r.notify_roles), r.enabled)
            for r in AlertRule.objects.filter(tenant=tenant).select_related("area", "source")
        )  # fmt: skip


def catalogue_of(tenant) -> list:
    with scopes_disabled():
        return sorted(
            (i.slug, i.name, i.description, i.archived_at is None)
            for i in InterventionType.objects.filter(tenant=tenant)
        )


def counts_in(tenant) -> tuple:
    with scopes_disabled():
        return tuple(
            model.objects.filter(tenant=tenant).count() for model in (Area, Event, Source, AlertRule)
        )


# --- export ------------------------------------------------------------------------------------------


def test_export_is_a_valid_package_without_secrets_or_personal_data(configured_a, admin_a, client_for, api):
    package = export(client_for(admin_a), configured_a)
    schema = api.get("/api/v1/schemas/config-package.json")
    assert schema.status_code == 200
    jsonschema.Draft202012Validator(schema.json()).validate(package)
    assert package["format"] == "csm-config-package" and package["version"] == "1.0"
    assert package["source_tenant"] == {"slug": "tenant-a", "name": "Gemeente A", "kind": "municipality"}
    text = json.dumps(package)
    assert "very-secret-key-123" not in text
    assert admin_a.username not in text and admin_a.email not in text
    panel = next(s for s in package["sources"] if s["slug"] == "gps-panel")
    assert panel["secrets_required"] == ["api_key"] and panel["areas"] == ["boulevard"]
    roles = {r["role"]: r for r in package["roles"]}
    assert roles["admin"]["members"] == 1 and "manage" in roles["admin"]["capabilities"]
    slugs = [a["slug"] for a in package["areas"]]
    assert slugs.index("boulevard") < slugs.index("boulevard-north")  # parents first
    rule = next(r for r in package["alert_rules"] if r["name"] == "Panel down")
    assert rule["source"] == "gps-panel" and rule["area"] is None


def test_export_without_geometry(configured_a, admin_a, client_for):
    package = export(client_for(admin_a), configured_a, geometry="false")
    assert package["includes_geometry"] is False
    assert all(a["geometry"] is None for a in package["areas"])


@pytest.mark.parametrize("role", ["operator", "analyst", "organiser", "integration"])
def test_export_and_import_need_the_manage_right(configured_a, users, client_for, role):
    client = client_for(users[role])
    assert client.get(EXPORT.format("tenant-a")).status_code == 403
    response = do_import(client, configured_a, {"format": "csm-config-package"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


# --- round trip --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_den_haag_demo_round_trips_into_a_fresh_tenant(db, settings, client_for):
    """Done-criterion of the issue: den-haag's configuration gives the same areas, rules and catalogue."""
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    with scopes_disabled():
        den_haag = TenantFactory(slug="den-haag")
        admin = den_haag.memberships.get(role="admin").user
    package = export(client_for(admin), den_haag)
    assert len(package["areas"]) == 9 and len(package["alert_rules"]) == 5

    fresh = TenantFactory(slug="zandvoort", name="Gemeente Zandvoort")
    fresh_admin = member(fresh, "admin")
    client = client_for(fresh_admin)
    dry = do_import(client, fresh, package)
    assert dry.status_code == 200, dry.content
    assert dry.json()["dry_run"] is True and dry.json()["applied"] is False
    assert counts_in(fresh) == (0, 0, 0, 0)

    applied = do_import(client, fresh, package, dry_run=False)
    assert applied.status_code == 200, applied.content
    report = applied.json()
    assert report["applied"] is True and report["errors"] == []
    created = {(o["section"], o["key"]) for o in report["objects"] if o["action"] == "created"}
    assert ("areas", "de-pier") in created and ("alert_rules", "Pier very busy") in created

    copied, original = areas_of(fresh), areas_of(den_haag)
    for slug, area in original.items():  # the surface is measured again from the stored (rounded) shape
        assert copied[slug].pop("surface_m2") == pytest.approx(area.pop("surface_m2"), rel=1e-3)
    assert copied == original
    assert rules_of(fresh) == rules_of(den_haag)
    assert catalogue_of(fresh) == catalogue_of(den_haag)
    with scopes_disabled():
        fresh.refresh_from_db()
        assert fresh.public_page_enabled is True  # den-haag's public settings came along
        source = Source.objects.get(tenant=fresh, slug="telcameras-scheveningen")
        assert source.kind == "replay" and source.enabled
        assert sorted(source.areas.values_list("slug", flat=True)) == sorted(
            a["slug"] for a in package["areas"] if a["slug"] != "strandtrap-kurhaus"
        )
        stairs = Source.objects.get(tenant=fresh, slug="telcamera-strandtrap")
        assert list(stairs.areas.values_list("slug", flat=True)) == ["strandtrap-kurhaus"]
        assert stairs.config["sensors"]["CSM-STRANDTRAP-KURHAUS"]["width_m"] == 5.0

    again = do_import(client, fresh, package).json()  # importing the same package again changes nothing
    assert again["counts"]["created"] == 0 and again["counts"]["changed"] == 0
    assert again["counts"]["unchanged"] > 0


# --- dry run reports ---------------------------------------------------------------------------------


def test_dry_run_lists_created_changed_unchanged_and_skipped(
    configured_a, admin_a, admin_b, tenant_b, client_for
):
    package = export(client_for(admin_a), configured_a)
    from tests.factories import make_area

    make_area(
        tenant_b, slug="boulevard", geometry=square(4.27, 52.11, 0.004), name="Old name", tags=["boulevard"]
    )
    response = do_import(client_for(admin_b), tenant_b, package)
    assert response.status_code == 200, response.content
    report = response.json()
    actions = {(o["section"], o["key"]): o for o in report["objects"]}
    assert actions[("areas", "boulevard")]["action"] == "changed"
    assert actions[("areas", "boulevard")]["changes"] == ["name"]
    assert actions[("areas", "stage")]["action"] == "created"
    assert actions[("events", "koningsdag")]["action"] == "created"
    assert actions[("interventions", "beach-flags")]["action"] == "created"
    assert actions[("interventions", "other")]["action"] == "unchanged"
    assert actions[("roles", "admin")]["action"] == "skipped"
    assert actions[("sources", "gps-panel")]["action"] == "created"
    assert report["secrets_required"] == [
        {"source": "gps-panel", "path": "sources[0]", "secrets": ["api_key"]}
    ]
    assert report["counts"]["created"] >= 6
    with scopes_disabled():  # a dry run changes nothing
        assert Area.objects.get(tenant=tenant_b, slug="boulevard").name == "Old name"
        assert counts_in(tenant_b) == (1, 0, 0, 0)
        assert not InterventionType.objects.filter(tenant=tenant_b).exists()


def test_sources_without_their_secrets_are_imported_disabled(
    configured_a, admin_a, admin_b, tenant_b, client_for
):
    package = export(client_for(admin_a), configured_a)
    client = client_for(admin_b)
    report = do_import(client, tenant_b, package, dry_run=False).json()
    assert report["applied"] is True
    with scopes_disabled():
        panel = Source.objects.get(tenant=tenant_b, slug="gps-panel")
        assert panel.enabled is False and panel.secrets_encrypted == ""
    entry = next(o for o in report["objects"] if o["key"] == "gps-panel")
    assert "api_key must be entered again" in entry["reason"]

    # secrets given without the one needed: still disabled
    report = do_import(client, tenant_b, package, dry_run=False, secrets={"gps-panel": {}}).json()
    assert report["secrets_required"] == [
        {"source": "gps-panel", "path": "sources[0]", "secrets": ["api_key"]}
    ]

    # entering the secret in a second import switches it on
    report = do_import(
        client, tenant_b, package, dry_run=False, secrets={"gps-panel": {"api_key": "new-key-456"}}
    ).json()
    assert report["secrets_required"] == []
    with scopes_disabled():
        panel.refresh_from_db()
        assert panel.enabled is True


def test_geometry_omit_skips_new_areas_unless_replaced(configured_a, admin_a, admin_b, tenant_b, client_for):
    package = export(client_for(admin_a), configured_a)
    replacement = square(5.1, 52.09, 0.004)  # Utrecht instead of Scheveningen
    response = do_import(
        client_for(admin_b),
        tenant_b,
        package,
        dry_run=False,
        geometry="omit",
        geometries={"boulevard": replacement},
    )
    assert response.status_code == 200, response.content
    actions = {(o["section"], o["key"]): o for o in response.json()["objects"]}
    assert actions[("areas", "boulevard")]["action"] == "created"
    assert actions[("areas", "stage")]["action"] == "skipped"
    assert "geometries['stage']" in actions[("areas", "stage")]["reason"]
    assert actions[("areas", "boulevard-north")]["action"] == "skipped"
    assert actions[("alert_rules", "Pier busy")]["action"] == "created"  # on the re-placed boulevard
    with scopes_disabled():
        boulevard = Area.objects.get(tenant=tenant_b, slug="boulevard")
        assert 5.09 < boulevard.centroid_lon < 5.11
        assert set(Area.objects.filter(tenant=tenant_b).values_list("slug", flat=True)) == {"boulevard"}


def test_replaced_geometry_keeps_the_usable_share(configured_a, admin_a, admin_b, tenant_b, client_for):
    package = export(client_for(admin_a), configured_a)
    response = do_import(
        client_for(admin_b), tenant_b, package, dry_run=False,
        geometries={"boulevard-north": square(4.272, 52.112, 0.002)},  # four times the surface
    )  # fmt: skip
    assert response.status_code == 200, response.content
    with scopes_disabled():
        north = Area.objects.get(tenant=tenant_b, slug="boulevard-north")
        original = Area.objects.get(tenant=configured_a, slug="boulevard-north")
    assert north.usable_surface_m2 / north.surface_m2 == pytest.approx(
        original.usable_surface_m2 / original.surface_m2, rel=1e-3
    )


# --- bad input ---------------------------------------------------------------------------------------


def test_every_problem_is_listed_and_nothing_is_imported(
    configured_a, admin_a, admin_b, tenant_b, client_for
):
    package = export(client_for(admin_a), configured_a)
    package["version"] = "2.0"
    package["sources"][0]["kind"] = "crystal_ball"
    package["alert_rules"].append(
        {"name": "Pier full", "kind": "level_now", "level": "crowded", "area": "pier"}
    )
    package["areas"][0]["parent"] = "promenade"
    for dry_run in (True, False):
        response = do_import(client_for(admin_b), tenant_b, package, dry_run=dry_run)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "urn:csm:problem:invalid_package"
        paths = {e["path"]: e["message"] for e in body["errors"]}
        assert "newer than this platform reads" in paths["version"]
        assert "Unknown connector kind 'crystal_ball'" in paths["sources[0].kind"]
        assert paths["alert_rules[2].area"] == "No area 'pier' in the package or the tenant."
        assert paths["areas[0].parent"] == "No area 'promenade' in the package or the tenant."
        assert len(body["errors"]) == 4
        assert counts_in(tenant_b) == (0, 0, 0, 0)


def test_structural_errors_carry_json_paths(configured_a, admin_a, admin_b, tenant_b, client_for):
    package = export(client_for(admin_a), configured_a)
    del package["areas"][1]["name"]
    package["alert_rules"][0]["kind"] = "sometimes"
    package["events"][0]["start"] = "2027-04-27T08:00:00"  # no time zone
    package["areas"][2]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[4.27, 52.11], [4.28, 52.11], [4.27, 52.11]]],
    }
    response = do_import(client_for(admin_b), tenant_b, package)
    assert response.status_code == 400
    paths = [e["path"] for e in response.json()["errors"]]
    assert "areas[1]" in paths  # 'name' is a required property
    assert "alert_rules[0].kind" in paths
    assert "events[0].start" in paths
    assert "areas[2].geometry" in paths
    assert counts_in(tenant_b) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"package": [1, 2]}, "package"),
        ({}, "package"),
        ({"package": {}, "geometry": "melt"}, "geometry"),
        ({"package": {}, "dry_run": "perhaps"}, "dry_run"),
    ],
)
def test_malformed_requests_are_400(configured_a, admin_a, client_for, body, field):
    response = client_for(admin_a).post(IMPORT.format("tenant-a"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_not_a_package_is_rejected(admin_b, tenant_b, client_for):
    response = do_import(client_for(admin_b), tenant_b, {"areas": "none", "version": 3})
    assert response.status_code == 400
    paths = {e["path"] for e in response.json()["errors"]}
    assert {"(package)", "areas", "version"} <= paths


def test_an_error_in_the_last_object_leaves_nothing(configured_a, admin_a, admin_b, tenant_b, client_for):
    """The service finds the last rule invalid (level_now without a level) after everything else applied."""
    package = export(client_for(admin_a), configured_a)
    package["alert_rules"].append({"name": "Zzz last", "kind": "level_now", "area": "boulevard"})
    response = do_import(client_for(admin_b), tenant_b, package, dry_run=False)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["path"] for e in errors] == ["alert_rules[2].level"]
    assert response.json()["report"]["applied"] is False
    assert counts_in(tenant_b) == (0, 0, 0, 0)
    with scopes_disabled():
        assert not InterventionType.objects.filter(tenant=tenant_b).exists()
        assert not CrowdLevelSettings.objects.filter(tenant=tenant_b).exists()


def test_unknown_fields_of_a_newer_minor_version_are_ignored(
    configured_a, admin_a, admin_b, tenant_b, client_for
):
    package = export(client_for(admin_a), configured_a)
    package["version"] = "1.7"
    package["areas"][0]["shade_trees"] = 12
    package["weather_rules"] = []
    response = do_import(client_for(admin_b), tenant_b, package)
    assert response.status_code == 200, response.content
    warnings = response.json()["warnings"]
    assert "weather_rules: unknown field, ignored" in warnings
    assert "areas[0].shade_trees: unknown field, ignored" in warnings


def test_duplicate_keys_are_rejected(configured_a, admin_a, admin_b, tenant_b, client_for):
    package = export(client_for(admin_a), configured_a)
    package["interventions"].append(copy.deepcopy(package["interventions"][0]))
    response = do_import(client_for(admin_b), tenant_b, package)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["path"] == f"interventions[{len(package['interventions']) - 1}].slug"
    assert "Duplicate slug" in error["message"]


def _set(package, path, value):
    target = package
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "error_path"),
    [
        (("tenant_settings", "map_tile_url"), ["not", "a", "url"], "tenant_settings.map_tile_url"),
        (("tenant_settings", "time_zone"), "Mars/Olympus_Mons", "tenant_settings.time_zone"),
        (("public_settings", "small_count_threshold"), -5, "public_settings.small_count_threshold"),
        (("crowd_levels", "density_bands"), {"busy": 3, "very_busy": 2, "crowded": 4, "critical": 5},
         "crowd_levels.density_bands"),
        (("events", 0, "end"), "2027-13-45T10:00:00+02:00", "events[0].end"),
        (("areas", 0, "parent"), "stage", "areas[0].parent"),
        (("areas", 2, "capacity"), 0, "areas[2].capacity"),
        (("sources", 0, "config"), {"url": "ftp://nowhere"}, "sources[0].config"),
        (("sources", 0, "secrets_required"), ["password"], "sources[0].secrets_required"),
        (("alert_rules", 0, "notify_roles"), ["mayor"], "alert_rules[0].notify_roles"),
        (("roles", 0, "role"), "mayor", "roles[0].role"),
        (("interventions",), {"slug": "x"}, "interventions"),
    ],
)  # fmt: skip
def test_bad_values_are_400_with_their_path(
    configured_a, admin_a, admin_b, tenant_b, client_for, path, value, error_path
):
    package = export(client_for(admin_a), configured_a)
    if path == ("areas", 0, "parent"):  # boulevard under stage, stage under boulevard: a cycle
        stage = next(i for i, a in enumerate(package["areas"]) if a["slug"] == "stage")
        package["areas"][stage]["parent"] = "boulevard"
        package["areas"][stage]["kind"] = "temporary"
    _set(package, path, value)
    response = do_import(client_for(admin_b), tenant_b, package, dry_run=False)
    assert response.status_code == 400, response.content
    paths = [e["path"] for e in response.json()["errors"]]
    assert error_path in paths
    assert counts_in(tenant_b) == (0, 0, 0, 0)
    with scopes_disabled():
        tenant_b.refresh_from_db()
        assert tenant_b.map_tile_url == "" and tenant_b.time_zone == "Europe/Amsterdam"


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    yield path


@pytest.mark.slow
def test_mutated_packages_never_fail_the_server_or_half_apply(
    configured_a, admin_a, admin_b, tenant_b, client_for
):
    """Fixed-seed mutations of a real export: each answer is a report (200) or a problem list (400)."""
    import random

    original = export(client_for(admin_a), configured_a, geometry="false")
    client = client_for(admin_b)
    rng = random.Random(7919)
    values = [
        None,
        True,
        0,
        -1,
        10**12,
        1.5,
        "",
        "x" * 300,
        "2027-02-30T10:00:00Z",
        [],
        {},
        ["a"],
        {"busy": 1},
    ]
    paths = [p for p in _leaves(original) if p]
    outcomes = set()
    for _ in range(60):
        package = copy.deepcopy(original)
        _set(package, rng.choice(paths), rng.choice(values))
        response = do_import(client, tenant_b, package, dry_run=False)
        assert response.status_code in (200, 400), (package, response.content)
        outcomes.add(response.status_code)
        if response.status_code == 400:
            assert response.json()["errors"] and response.json()["report"]["applied"] is False
            assert counts_in(tenant_b) == (0, 0, 0, 0)
        with scopes_disabled():  # clean up between rounds so each round starts from an empty tenant
            for model in (AlertRule, Source, Area, Event, InterventionType, CrowdLevelSettings):
                for obj in model.objects.filter(tenant=tenant_b).order_by("-pk"):
                    if model is Area:
                        Area.objects.filter(parent=obj).update(parent=None)
                    obj.delete()
    assert outcomes == {200, 400}
