"""``config_export`` and ``config_import``: file round trip, dry run by default, exit code 2 when invalid."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from areas.models import Area
from incidents.models import AlertRule


def test_export_then_import_through_the_commands(configured_a, tenant_b, tmp_path):
    target = tmp_path / "tenant-a.json"
    call_command("config_export", "--tenant", "tenant-a", "-o", str(target), stderr=StringIO())
    package = json.loads(target.read_text())
    assert package["format"] == "csm-config-package" and len(package["areas"]) == 3

    out = StringIO()
    call_command("config_import", "--tenant", "tenant-b", str(target), stdout=out, stderr=StringIO())
    assert "Dry run" in out.getvalue() and "created    areas[0]" in out.getvalue()
    with scopes_disabled():
        assert not Area.objects.filter(tenant=tenant_b).exists()

    out = StringIO()
    call_command(
        "config_import", "--tenant", "tenant-b", str(target), "--apply", stdout=out, stderr=StringIO()
    )
    assert "Applied" in out.getvalue()
    assert "secrets required: source 'gps-panel' needs api_key" in out.getvalue()
    with scopes_disabled():
        assert Area.objects.filter(tenant=tenant_b).count() == 3
        assert AlertRule.objects.filter(tenant=tenant_b).count() == 2


def test_keep_settings(configured_a, tenant_b, tmp_path):
    configured_a.time_zone = "Europe/London"
    configured_a.save()
    path = tmp_path / "tenant-a.json"
    call_command("config_export", "--tenant", "tenant-a", "-o", str(path), stderr=StringIO())
    call_command(
        "config_import", "--tenant", "tenant-b", str(path), "--apply", "--keep-settings", stdout=StringIO()
    )
    tenant_b.refresh_from_db()
    assert tenant_b.time_zone == "Europe/Amsterdam"
    call_command("config_import", "--tenant", "tenant-b", str(path), "--apply", stdout=StringIO())
    tenant_b.refresh_from_db()
    assert tenant_b.time_zone == "Europe/London"


def test_export_to_stdout(configured_a):
    out = StringIO()
    call_command("config_export", "--tenant", "tenant-a", "--no-geometry", stdout=out)
    package = json.loads(out.getvalue())
    assert package["includes_geometry"] is False


def test_invalid_package_exits_2_listing_every_problem(configured_a, tenant_b, tmp_path):
    out = StringIO()
    call_command("config_export", "--tenant", "tenant-a", stdout=out)
    package = json.loads(out.getvalue())
    package["version"] = "3.1"
    package["sources"][0]["kind"] = "crystal_ball"
    package["alert_rules"][0]["area"] = "pier"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(package))
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "config_import", "--tenant", "tenant-b", str(path), "--apply", stdout=StringIO(), stderr=err
        )
    assert raised.value.returncode == 2
    lines = [line for line in err.getvalue().splitlines() if line.startswith("error: ")]
    assert len(lines) == 3
    assert any(line.startswith("error: version: Format version 3.1") for line in lines)
    assert "error: sources[0].kind: Unknown connector kind 'crystal_ball'" in err.getvalue()
    assert "error: alert_rules[0].area: No area 'pier' in the package or the tenant." in lines
    with scopes_disabled():
        assert not Area.objects.filter(tenant=tenant_b).exists()


def test_unreadable_file_exits_2(tenant_b, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(CommandError) as raised:
        call_command("config_import", "--tenant", "tenant-b", str(path))
    assert raised.value.returncode == 2 and "is not JSON" in str(raised.value)
