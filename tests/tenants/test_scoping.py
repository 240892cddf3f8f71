"""Fail-closed isolation: unscoped queries raise, scopes filter, the system check catches unscoped models."""

import pytest
from django.core.management import call_command
from django.db import models
from django.test.utils import isolate_apps
from django_scopes import ScopeError

from tenants.checks import tenant_owned_models, unscoped_model_errors
from tenants.models import ApiToken, Membership, Tenant
from tenants.scoping import TenantScopedManager, active_tenant, tenant_scope
from tests.factories import member


def test_query_without_scope_raises(tenant_a):
    member(tenant_a, "operator")
    with pytest.raises(ScopeError):
        list(Membership.objects.all())
    with pytest.raises(ScopeError):
        Membership.objects.filter(role="operator").count()
    with pytest.raises(ScopeError):
        Membership.objects.get(role="operator")


def test_scope_shows_only_its_tenant(tenant_a, tenant_b):
    member(tenant_a, "operator")
    member(tenant_b, "operator")
    member(tenant_b, "analyst")
    with tenant_scope(tenant_a):
        assert [m.tenant_id for m in Membership.objects.all()] == [tenant_a.pk]
        assert active_tenant() == tenant_a
    with tenant_scope(tenant_b):
        assert Membership.objects.count() == 2
        # a filter naming the other tenant still finds nothing: the scope is added, not replaced
        assert Membership.objects.filter(tenant=tenant_a).count() == 0
    assert active_tenant() is None


def test_tenant_scope_refuses_none_and_unsaved():
    # django-scopes reads scope(tenant=None) as "no filter"; ours must never open up everything
    with pytest.raises(ValueError), tenant_scope(None):
        pass
    with pytest.raises(ValueError), tenant_scope(Tenant(slug="unsaved")):
        pass


def test_project_models_pass_the_scoping_check():
    call_command("check")  # raises SystemCheckError on tenants.E001/E002


def test_tenant_owned_models_are_found_through_foreign_key_chains():
    from django.apps import apps

    owned = tenant_owned_models(apps.get_models())
    assert Membership in owned
    assert ApiToken in owned
    assert Tenant not in owned


@isolate_apps("tenants")
def test_check_fails_for_unscoped_tenant_model():
    class Unscoped(models.Model):
        tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)

        class Meta:
            app_label = "tenants"

    class Child(models.Model):
        """Tenant-owned through its parent, so it needs a scope too."""

        parent = models.ForeignKey(Unscoped, on_delete=models.CASCADE)
        objects = TenantScopedManager("parent__tenant")

        class Meta:
            app_label = "tenants"

    class WrongPath(models.Model):
        tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
        other = models.ForeignKey(Unscoped, on_delete=models.CASCADE)
        objects = TenantScopedManager("other")

        class Meta:
            app_label = "tenants"

    class Exempt(models.Model):
        tenant_scope_exempt = "platform-wide statistics, never shown to a tenant"
        tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)

        class Meta:
            app_label = "tenants"

    errors = unscoped_model_errors([Unscoped, Child, WrongPath, Exempt])
    by_model = {(e.obj.__name__, e.id) for e in errors}
    assert by_model == {("Unscoped", "tenants.E001"), ("WrongPath", "tenants.E002")}


@isolate_apps("tenants")
def test_second_unscoped_manager_is_an_error():
    class TwoManagers(models.Model):
        tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
        objects = TenantScopedManager()
        everything = models.Manager()

        class Meta:
            app_label = "tenants"

    errors = unscoped_model_errors([TwoManagers])
    assert [e.id for e in errors] == ["tenants.E001"]
    assert "everything" in errors[0].msg
