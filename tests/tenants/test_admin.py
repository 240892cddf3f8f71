"""The Django admin is platform staff's cross-tenant surface: it works unscoped for staff only."""

import pytest
from django.contrib.auth import get_user_model
from django_scopes import scopes_disabled

from tenants.models import Membership
from tests.factories import login, member

User = get_user_model()


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("platform", "platform@example.org", "x-Strong-pass-1")


def test_staff_sees_every_tenant_and_its_members(client, staff, tenant_a, tenant_b):
    member(tenant_a, "admin")
    member(tenant_b, "operator")
    login(client, staff)
    assert client.get("/admin/tenants/membership/").status_code == 200
    page = client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/")
    assert page.status_code == 200
    assert b"tenant-a-admin" in page.content


def test_staff_adds_a_member_in_the_admin(client, staff, tenant_a):
    user = User.objects.create_user("new-boa", "boa@example.org")
    login(client, staff)
    response = client.post(
        "/admin/tenants/membership/add/",
        {"tenant": tenant_a.pk, "user": user.pk, "role": "operator", "is_active": "on"},
    )
    assert response.status_code == 302, response.content
    with scopes_disabled():
        assert Membership.objects.get(user=user).tenant == tenant_a


def test_tenant_admin_without_staff_flag_has_no_django_admin(client, tenant_a):
    login(client, member(tenant_a, "admin"))
    response = client.get("/admin/tenants/membership/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
