"""Management commands: onboarding a tenant, the demo seed, and --tenant scoping."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django_scopes import scopes_disabled

from tenants.models import Membership, Tenant
from tests.factories import member

User = get_user_model()


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


@pytest.mark.django_db
def test_create_tenant_with_first_admin():
    output = run(
        "create_tenant", "utrecht", "--name", "Gemeente Utrecht", "--admin-email", "crowd@utrecht.example"
    )
    tenant = Tenant.objects.get(slug="utrecht")
    assert (tenant.name, tenant.kind, tenant.time_zone) == (
        "Gemeente Utrecht",
        "municipality",
        "Europe/Amsterdam",
    )
    with scopes_disabled():
        membership = Membership.objects.get(tenant=tenant)
    assert membership.role == "admin"
    assert membership.user.email == "crowd@utrecht.example"
    assert not membership.user.has_usable_password()
    assert "/accounts/reset/" in output


@pytest.mark.django_db
def test_create_tenant_rejects_bad_and_duplicate_slugs():
    with pytest.raises(CommandError, match="slug"):
        run("create_tenant", "Den Haag!", "--name", "x", "--admin-email", "a@example.org")
    run("create_tenant", "leiden", "--name", "Gemeente Leiden", "--admin-email", "a@example.org")
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "leiden", "--name", "Leiden again", "--admin-email", "b@example.org")
    assert not User.objects.filter(email="b@example.org").exists()  # all or nothing


@pytest.mark.django_db
def test_create_tenant_rejects_unknown_time_zone():
    with pytest.raises(CommandError, match="time zone"):
        run(
            "create_tenant",
            "delft",
            "--name",
            "Delft",
            "--admin-email",
            "a@example.org",
            "--time-zone",
            "Delft",
        )


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.embedded  # .ci/run seeds the demo on SQLite too: `make run` does
def test_seed_demo_is_idempotent_and_complete(settings):
    settings.DEBUG = True
    run("seed_demo")
    run("seed_demo")
    assert set(Tenant.objects.values_list("slug", flat=True)) == {
        "den-haag",
        "rotterdam",
        "koningsdag-events",
        "politie-den-haag",
    }
    assert Tenant.objects.get(slug="koningsdag-events").kind == "event_organiser"
    assert Tenant.objects.get(slug="politie-den-haag").kind == "police_unit"
    with scopes_disabled():
        assert Membership.objects.count() == 20
        admin = Membership.objects.get(user__username="den-haag-admin")
    assert admin.role == "admin"
    assert admin.user.check_password("demo")
    for role in ("operator", "analyst", "organiser", "integration"):
        assert User.objects.get(username=f"rotterdam-{role}").check_password("demo")
    assert User.objects.get(username="platform-admin").is_superuser
    # Admins and platform staff need a second factor: the demo gives them the documented demo secret.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tenants.mfa import DEMO_TOTP_KEY_HEX

    with_device = set(
        TOTPDevice.objects.filter(confirmed=True, key=DEMO_TOTP_KEY_HEX).values_list(
            "user__username", flat=True
        )
    )
    assert with_device == {
        "den-haag-admin",
        "rotterdam-admin",
        "koningsdag-events-admin",
        "politie-den-haag-admin",
        "platform-admin",
    }


@pytest.mark.django_db
@pytest.mark.slow
def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        run("seed_demo")
    assert not Tenant.objects.exists()
    run("seed_demo", "--force")
    assert Tenant.objects.count() == 4


def test_tenant_option_scopes_the_command(tenant_a, tenant_b):
    member(tenant_a, "operator", username="alice")
    member(tenant_b, "analyst", username="bob")
    output = run("list_members", "--tenant", "tenant-b")
    assert "bob" in output and "alice" not in output
    with pytest.raises(CommandError, match="No tenant"):
        run("list_members", "--tenant", "atlantis")
