"""Tenants API: tokens, the caller's tenants, tenant settings, members, roles and the error shape."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from tenants.choices import Role
from tenants.models import ApiToken, Membership
from tests.factories import PASSWORD, MembershipFactory, member, otp_code, token_for
from tests.helpers import assert_problem

User = get_user_model()
# --- tokens ---------------------------------------------------------------------------------------


@pytest.mark.clock
def test_token_login_and_use(api, admin_a, tenant_a):
    credentials = {"username": admin_a.username, "password": PASSWORD, "otp": otp_code(admin_a)}
    response = api.post("/api/v1/auth/token/", credentials)
    assert response.status_code == 201
    raw = response.json()["token"]
    assert raw.startswith("csm_")
    with scopes_disabled():
        stored = ApiToken.objects.get(user=admin_a)
    assert stored.key_hash != raw and raw not in stored.key_hash  # only the hash is stored
    assert stored.expires_at > timezone.now() + timedelta(days=29)

    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    listing = api.get("/api/v1/tenants/")
    assert listing.status_code == 200
    assert [(t["slug"], t["role"]) for t in listing.json()["results"]] == [("tenant-a", "admin")]
    with scopes_disabled():
        assert ApiToken.objects.get(pk=stored.pk).last_used_at is not None


def test_wrong_password_is_a_problem(api, admin_a):
    body = assert_problem(
        api.post("/api/v1/auth/token/", {"username": admin_a.username, "password": "nope"}), 400, "validation"
    )
    assert body["errors"]["non_field_errors"] == ["Unable to log in with these credentials."]


def test_token_request_missing_fields(api):
    body = assert_problem(api.post("/api/v1/auth/token/", {}), 400, "validation")
    assert set(body["errors"]) == {"username", "password"}


@pytest.mark.clock
def test_revoked_and_expired_tokens_are_refused(api, admin_a):
    raw = token_for(admin_a)
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.delete("/api/v1/auth/token/").status_code == 204
    assert_problem(api.get("/api/v1/tenants/"), 401, "authentication_failed")

    raw = token_for(admin_a)
    with scopes_disabled():
        ApiToken.objects.filter(user=admin_a, revoked_at__isnull=True).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert_problem(api.get("/api/v1/tenants/"), 401)


def test_token_limited_to_one_tenant(api, tenant_a, tenant_b):
    user = member(tenant_a, Role.ADMIN, username="two-hats")
    MembershipFactory(tenant=tenant_b, user=user, role=Role.ANALYST)
    response = api.post(
        "/api/v1/auth/token/",
        {"username": "two-hats", "password": PASSWORD, "tenant": "tenant-b", "otp": otp_code(user)},
    )
    assert response.status_code == 201
    assert response.json()["tenant"] == "tenant-b"
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert [t["slug"] for t in api.get("/api/v1/tenants/").json()["results"]] == ["tenant-b"]
    assert api.get("/api/v1/tenants/tenant-b/").status_code == 200
    assert_problem(api.get("/api/v1/tenants/tenant-a/"), 404, "not_found")


def test_token_for_a_tenant_one_does_not_belong_to(api, admin_a, tenant_b):
    body = assert_problem(
        api.post(
            "/api/v1/auth/token/",
            {
                "username": admin_a.username,
                "password": PASSWORD,
                "tenant": "tenant-b",
                "otp": otp_code(admin_a),
            },
        ),
        400,
    )
    assert "tenant" in body["errors"]


def test_token_endpoint_is_throttled(api, admin_a, settings):
    # A different user name each time: the per-address throttle answers, not the per-account lock-out.
    statuses = [
        api.post("/api/v1/auth/token/", {"username": f"guess-{i}", "password": "wrong"}).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429


# --- the caller's tenants and tenant settings -----------------------------------------------------


def test_user_in_several_tenants_sees_each_with_its_role(api_as, tenant_a, tenant_b):
    user = member(tenant_a, Role.OPERATOR, username="shared")
    MembershipFactory(tenant=tenant_b, user=user, role=Role.ANALYST)
    results = api_as(user).get("/api/v1/tenants/").json()["results"]
    assert {(t["slug"], t["role"]) for t in results} == {("tenant-a", "operator"), ("tenant-b", "analyst")}


def test_inactive_membership_counts_as_none(api_as, tenant_a):
    user = member(tenant_a, Role.ADMIN, username="suspended", is_active=False)
    client = api_as(user)
    assert client.get("/api/v1/tenants/").json()["results"] == []
    assert_problem(client.get("/api/v1/tenants/tenant-a/"), 404)
    assert_problem(client.get("/api/v1/tenants/tenant-a/members/"), 404)


def test_unknown_tenant_is_404(api_as, admin_a):
    assert_problem(api_as(admin_a).get("/api/v1/tenants/no-such-city/members/"), 404, "not_found")


def test_every_member_but_the_integration_account_reads_tenant_settings(api_as, users):
    for role, user in users.items():
        if role == Role.INTEGRATION:
            continue
        body = api_as(user).get("/api/v1/tenants/tenant-a/").json()
        assert body["slug"] == "tenant-a"
        assert body["role"] == role
        assert body["small_count_threshold"] == 15
        assert body["time_zone"] == "Europe/Amsterdam"


def test_integration_account_does_not_read_tenant_settings(api, users, tenant_a):
    """A machine account that pushes counts sees which tenant it is in, not how the tenant is set up."""
    token = token_for(users[Role.INTEGRATION], tenant_a)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert_problem(api.get("/api/v1/tenants/tenant-a/", **auth), 403, "permission_denied")
    listed = api.get("/api/v1/tenants/", **auth).json()["results"]
    assert listed == [{"slug": "tenant-a", "name": "Gemeente A", "role": "integration"}]


def test_admin_changes_tenant_settings(api_as, admin_a, tenant_a):
    response = api_as(admin_a).patch(
        "/api/v1/tenants/tenant-a/", {"public_page_enabled": True, "retention_days": 90, "slug": "hijack"}
    )
    assert response.status_code == 200, response.content
    tenant_a.refresh_from_db()
    assert (tenant_a.public_page_enabled, tenant_a.retention_days, tenant_a.slug) == (True, 90, "tenant-a")


def test_bad_tenant_settings_are_rejected_with_field_errors(api_as, admin_a, tenant_a):
    body = assert_problem(
        api_as(admin_a).patch(
            "/api/v1/tenants/tenant-a/", {"time_zone": "Mars/Olympus", "retention_days": "x"}
        ),
        400,
        "validation",
    )
    assert set(body["errors"]) == {"retention_days", "time_zone"}  # every bad field at once
    assert "IANA time zone" in body["errors"]["time_zone"][0]
    tenant_a.refresh_from_db()
    assert tenant_a.time_zone == "Europe/Amsterdam"


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST, Role.ORGANISER, Role.INTEGRATION])
def test_only_admins_change_settings(api_as, users, role):
    assert_problem(api_as(users[role]).patch("/api/v1/tenants/tenant-a/", {"retention_days": 1}), 403)


# --- members --------------------------------------------------------------------------------------


def test_admin_lists_members(api_as, admin_a, users):
    response = api_as(admin_a).get("/api/v1/tenants/tenant-a/members/")
    assert response.status_code == 200
    assert {m["user"]["username"]: m["role"] for m in response.json()["results"]} == {
        u.username: role for role, u in users.items()
    }


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST, Role.ORGANISER, Role.INTEGRATION])
def test_other_roles_cannot_manage_members(api_as, users, role):
    client = api_as(users[role])
    body = assert_problem(client.get("/api/v1/tenants/tenant-a/members/"), 403, "permission_denied")
    assert role in body["detail"]
    assert_problem(
        client.post("/api/v1/tenants/tenant-a/members/", {"email": "x@example.org", "role": "admin"}), 403
    )


def test_anonymous_gets_401(api, tenant_a):
    response = api.get("/api/v1/tenants/tenant-a/members/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert_problem(api.get("/api/v1/tenants/"), 401)


def test_invite_new_person_creates_account_and_mails_a_link(
    api_as, admin_a, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(admin_a).post(
            "/api/v1/tenants/tenant-a/members/", {"email": "boa-coordinator@example.org", "role": "operator"}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user_created"] is True
    assert body["role"] == "operator"
    assert body["invited_by"] == admin_a.username
    link = body["set_password_url"]
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body

    # the link lets the new member choose a password and log in
    path = link.split("8000", 1)[1]
    form = client.get(path, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Sch3veningen-boulevard", "new_password2": "Sch3veningen-boulevard"},
    )
    assert done.status_code == 302
    assert User.objects.get(email="boa-coordinator@example.org").check_password("Sch3veningen-boulevard")


def test_invite_existing_user_from_another_tenant(api_as, admin_a, tenant_b):
    other = member(tenant_b, Role.OPERATOR, username="police-officer")
    response = api_as(admin_a).post(
        "/api/v1/tenants/tenant-a/members/", {"email": other.email, "role": "analyst"}
    )
    assert response.status_code == 201
    assert response.json()["user_created"] is False
    assert response.json()["set_password_url"] is None
    results = api_as(other).get("/api/v1/tenants/").json()["results"]
    assert {t["slug"] for t in results} == {"tenant-a", "tenant-b"}


def test_invite_twice_and_bad_role_are_rejected(api_as, admin_a, users):
    client = api_as(admin_a)
    body = assert_problem(
        client.post(
            "/api/v1/tenants/tenant-a/members/", {"email": users["analyst"].email, "role": "operator"}
        ),
        400,
    )
    assert "already a member" in body["errors"]["email"][0]
    body = assert_problem(
        client.post("/api/v1/tenants/tenant-a/members/", {"email": "no-at-sign", "role": "king"}), 400
    )
    assert set(body["errors"]) == {"email", "role"}


def test_change_role_and_suspend(api_as, admin_a, users):
    client = api_as(admin_a)
    with scopes_disabled():
        membership = Membership.objects.get(user=users["analyst"])
    url = f"/api/v1/tenants/tenant-a/members/{membership.pk}/"
    response = client.patch(url, {"role": "operator"})
    assert response.status_code == 200 and response.json()["role"] == "operator"
    assert client.patch(url, {"is_active": False}).json()["is_active"] is False
    assert_problem(api_as(users["analyst"]).get("/api/v1/tenants/tenant-a/"), 404)


def test_last_admin_stays(api_as, admin_a):
    client = api_as(admin_a)
    with scopes_disabled():
        own = Membership.objects.get(user=admin_a)
    url = f"/api/v1/tenants/tenant-a/members/{own.pk}/"
    body = assert_problem(client.patch(url, {"role": "analyst"}), 400)
    assert "at least one active admin" in body["errors"]["role"][0]
    assert_problem(client.delete(url), 400)
    assert_problem(client.patch(url, {"is_active": False}), 400)


def test_remove_member(api_as, admin_a, users):
    with scopes_disabled():
        membership = Membership.objects.get(user=users["operator"])
    assert api_as(admin_a).delete(f"/api/v1/tenants/tenant-a/members/{membership.pk}/").status_code == 204
    with scopes_disabled():
        assert not Membership.objects.filter(pk=membership.pk).exists()
    assert User.objects.filter(pk=users["operator"].pk).exists()  # the account remains


def test_put_is_not_offered_on_members(api_as, admin_a, users):
    with scopes_disabled():
        membership = Membership.objects.get(user=users["operator"])
    assert_problem(api_as(admin_a).put(f"/api/v1/tenants/tenant-a/members/{membership.pk}/", {}), 405)


# --- bad input ------------------------------------------------------------------------------------


def test_malformed_json_is_400(api_as, admin_a):
    response = api_as(admin_a).generic(
        "POST", "/api/v1/tenants/tenant-a/members/", "{bad json", content_type="application/json"
    )
    assert "JSON parse error" in assert_problem(response, 400, "parse_error")["detail"]


def test_wrong_content_type_is_415(api_as, admin_a):
    response = api_as(admin_a).generic(
        "POST", "/api/v1/tenants/tenant-a/members/", "email=x", content_type="text/plain"
    )
    assert_problem(response, 415, "unsupported_media_type")


def test_oversized_body_is_413(api_as, admin_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    payload = '{"email": "a@example.org", "role": "analyst", "pad": "' + "x" * 2048 + '"}'
    response = api_as(admin_a).generic(
        "POST", "/api/v1/tenants/tenant-a/members/", payload, content_type="application/json"
    )
    assert_problem(response, 413, "too_large")
    with scopes_disabled():
        assert not Membership.objects.filter(user__email="a@example.org").exists()


def test_unknown_api_path_is_a_problem(api):
    assert_problem(api.get("/api/v1/does-not-exist/"), 404, "not_found")


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    assert "Problem" in spec["components"]["schemas"]
    member_errors = spec["paths"]["/api/v1/tenants/{tenant}/members/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "415"} <= set(member_errors)
    docs = api.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # swagger-ui assets come from the app (sidecar)


# --- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2100-10-31T02:30:00+01:00", None),  # the platform keeps working after 2100 (issue 14)
        ("2199-12-31T23:59:59Z", None),
        ("1970-01-01T00:00:00Z", None),
        ("2200-01-01T00:00:00Z", "out of range"),
        ("1969-12-31T23:59:59Z", "out of range"),
        ("2100-10-31T02:30:00", "no time zone"),
    ],
)
def test_timestamps_need_a_zone_and_a_sane_year(value, error):
    from rest_framework import serializers

    from core.fields import AwareDateTimeField

    field = AwareDateTimeField()
    if error is None:
        assert field.to_internal_value(value).tzinfo is not None
    else:
        with pytest.raises(serializers.ValidationError, match=error):
            field.to_internal_value(value)
