"""Pages: log-in, the tenant list and tenant pages behind the membership check."""

import pytest

from tests.factories import PASSWORD, MembershipFactory, member


@pytest.mark.django_db
def test_login_page_and_login(client, tenant_a):
    user = member(tenant_a, "operator")
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/t/tenant-a/"  # one tenant: straight there
    assert b"Gemeente A" in response.content


def test_home_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_home_lists_several_tenants(client, tenant_a, tenant_b):
    user = member(tenant_a, "operator")
    MembershipFactory(tenant=tenant_b, user=user, role="analyst")
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Gemeente A" in response.content and b"Gemeente B" in response.content


def test_tenant_page_is_404_for_non_members(client, tenant_a, tenant_b):
    user = member(tenant_a, "admin")
    client.force_login(user)
    assert client.get("/t/tenant-a/").status_code == 200
    assert client.get("/t/tenant-b/").status_code == 404
    assert client.get("/t/no-such-tenant/").status_code == 404


def test_tenant_page_redirects_anonymous_to_login(client, tenant_a):
    response = client.get("/t/tenant-a/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/t/tenant-a/"


def test_inactive_membership_has_no_tenant_page(client, tenant_a):
    client.force_login(member(tenant_a, "admin", is_active=False))
    assert client.get("/t/tenant-a/").status_code == 404


def test_static_css_is_served_by_the_app(client, db):
    response = client.get("/static/frontend/csm.css")
    try:
        assert response.status_code == 200
        assert b"Crowd Safety Manager" in b"".join(response.streaming_content)
    finally:
        response.close()
