"""The package section registry: every section registered once, run in dependency order, unknown ignored."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from configpkg.package import HEADER_KEYS, NATURAL_KEYS, package_schema
from configpkg.sections import PackageSection, register_section, registered_sections, resolve_order
from configpkg.selectors import config_package_build
from configpkg.services import config_import
from tenants.scoping import tenant_scope

EXPECTED_ORDER = [
    "settings",
    "crowd_levels",
    "events",
    "areas",
    "interventions",
    "sources",
    "alert_rules",
    "roles",
]


def test_every_section_is_registered_and_owns_its_keys():
    sections = registered_sections()
    assert [s.name for s in sections] == EXPECTED_ORDER
    owners: dict[str, str] = {}
    for section in sections:
        assert isinstance(section, PackageSection)
        assert type(section).__module__.endswith(".package_sections")  # written in the owning app
        for key in section.keys:
            assert key not in owners, f"{key} belongs to {owners[key]} and {section.name}"
            owners[key] = section.name
    # Every property of the published schema is the header's or exactly one section's.
    assert set(owners) | set(HEADER_KEYS) == set(package_schema()["properties"])
    assert not set(owners) & set(HEADER_KEYS)
    assert set(NATURAL_KEYS) <= set(owners)


def test_the_order_respects_every_dependency():
    sections = registered_sections()
    position = {s.name: i for i, s in enumerate(sections)}
    for section in sections:
        for dependency in section.depends_on:
            assert position[dependency] < position[section.name], (section.name, dependency)
    assert {"events"} <= set(sections[position["areas"]].depends_on)
    assert {"areas", "sources"} <= set(sections[position["alert_rules"]].depends_on)


def _fake(name, order=0, depends_on=(), keys=None):
    return SimpleNamespace(name=name, order=order, depends_on=tuple(depends_on), keys=keys or (name,))


def test_dependencies_win_over_order_and_order_breaks_ties():
    sections = [
        _fake("rules", order=1, depends_on=["zones"]),
        _fake("zones", order=5, depends_on=["events"]),
        _fake("events", order=9),
        _fake("roles", order=2),
        _fake("alpha", order=2),
    ]
    assert [s.name for s in resolve_order(sections)] == ["alpha", "roles", "events", "zones", "rules"]


def test_a_missing_dependency_or_a_cycle_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="unregistered section"):
        resolve_order([_fake("rules", depends_on=["zones"])])
    with pytest.raises(ImproperlyConfigured, match="depend on each other"):
        resolve_order([_fake("a", depends_on=["b"]), _fake("b", depends_on=["a"]), _fake("c")])


def test_a_name_or_a_key_is_registered_once():
    areas = next(s for s in registered_sections() if s.name == "areas")
    assert register_section(areas) is areas  # registering the same section again is harmless
    copy = type(areas)()
    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        register_section(copy)
    copy.name = "zones"
    with pytest.raises(ImproperlyConfigured, match="already belong to section 'areas'"):
        register_section(copy)
    with pytest.raises(ImproperlyConfigured, match="lacks what a package section has"):
        register_section(_fake("half"))
    assert [s.name for s in registered_sections()] == EXPECTED_ORDER


def test_export_keys_follow_the_schema_order(tenant_a):
    with tenant_scope(tenant_a):
        package = config_package_build(tenant=tenant_a)
    schema_order = [key for key in package_schema()["properties"] if key in package]
    assert list(package) == schema_order
    assert "template" not in package


def test_an_unknown_section_is_reported_and_ignored(tenant_a, tenant_b):
    with tenant_scope(tenant_a):
        package = config_package_build(tenant=tenant_a)
    package["weather_rules"] = [{"name": "Heat", "above": 30}]
    with tenant_scope(tenant_b):
        report = config_import(tenant=tenant_b, actor=None, package=package, dry_run=True)
    assert report.errors == []
    assert report.warnings == ["weather_rules: unknown field, ignored"]
    assert "weather_rules" not in {entry["section"] for entry in report.objects}
