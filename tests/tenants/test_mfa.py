"""Two-factor authentication: who needs it, the log-in steps, enrolment, backup codes, the token endpoint,
the Django admin, the per-tenant switch, lock-out after failures and the demo's authenticator."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants import mfa
from tenants.choices import Role
from tests.factories import PASSWORD, login, member, otp_code, token_for

User = get_user_model()
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _no_device_backoff(settings):
    """django-otp makes a device wait 1, 2, 4 ... s after each wrong code; tests do not sleep, so it is off
    here except in test_device_backs_off_after_a_wrong_code (the lock-out is tested in test_lockout.py)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def password_login(client, user, next_url="/t/tenant-a/"):
    """The first step only: user name and password on the log-in page."""
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302, response.content
    return response


def code_for(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return mfa.current_code(device)


def confirmed_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


# --- who needs a second factor ---------------------------------------------------------------------


def test_admins_staff_and_members_of_strict_tenants_need_a_second_factor(tenant_a, tenant_b):
    admin = member(tenant_a, Role.ADMIN)
    operator = member(tenant_a, Role.OPERATOR)
    strict_operator = member(tenant_b, Role.OPERATOR)
    strict_integration = member(tenant_b, Role.INTEGRATION)
    staff = User.objects.create_user("staff", "staff@example.org", PASSWORD, is_staff=True)
    assert mfa.user_needs_mfa(admin) and mfa.user_needs_mfa(staff)
    assert not mfa.user_needs_mfa(operator) and not mfa.user_needs_mfa(strict_operator)

    tenant_b.mfa_required_for_all = True
    tenant_b.save()
    assert mfa.user_needs_mfa(strict_operator)
    assert not mfa.user_needs_mfa(strict_integration)  # machine accounts push with tokens
    assert not mfa.user_needs_mfa(operator)


# --- the log-in steps ------------------------------------------------------------------------------


def test_an_admin_cannot_log_in_without_a_second_factor(client, admin_a):
    device = confirmed_device(admin_a)
    response = password_login(client, admin_a)
    page = client.get(response["Location"])
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/otp/verify/?next=")
    # Nothing else is reachable with the password alone: pages redirect, the API answers a 403 problem.
    assert client.get("/").status_code == 302
    assert client.get("/t/tenant-a/settings/")["Location"].startswith("/accounts/otp/verify/")
    api = client.get("/api/v1/tenants/tenant-a/areas/")
    assert api.status_code == 403 and api["Content-Type"] == PROBLEM
    assert api.json()["type"] == "urn:csm:problem:mfa_required"

    wrong = client.post("/accounts/otp/verify/", {"code": "000000", "next": "/t/tenant-a/"})
    assert wrong.status_code == 200 and b"not valid" in wrong.content
    assert client.get("/t/tenant-a/").status_code == 302

    right = client.post("/accounts/otp/verify/", {"code": code_for(device), "next": "/t/tenant-a/"})
    assert right.status_code == 302 and right["Location"] == "/t/tenant-a/"
    assert client.get("/t/tenant-a/").status_code == 200
    assert client.get("/api/v1/tenants/tenant-a/areas/").status_code == 200


def test_device_backs_off_after_a_wrong_code(client, admin_a, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    device = confirmed_device(admin_a)
    password_login(client, admin_a)
    assert client.post("/accounts/otp/verify/", {"code": "000000"}).status_code == 200
    # Right at once after a wrong one: refused until the back-off (1 s) has passed.
    assert client.post("/accounts/otp/verify/", {"code": code_for(device)}).status_code == 200
    assert client.get("/t/tenant-a/").status_code == 302


def test_a_code_works_only_once(client, admin_a):
    device = confirmed_device(admin_a)
    password_login(client, admin_a)
    code = code_for(device)
    assert client.post("/accounts/otp/verify/", {"code": code})["Location"] == "/"
    other = client.__class__()
    password_login(other, admin_a)
    replay = other.post("/accounts/otp/verify/", {"code": code})
    assert replay.status_code == 200 and b"not valid" in replay.content


def test_verify_page_refuses_foreign_next_urls(client, admin_a):
    device = confirmed_device(admin_a)
    password_login(client, admin_a)
    response = client.post(
        "/accounts/otp/verify/", {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_operator_without_an_authenticator_logs_in_with_the_password(client, tenant_a):
    operator = member(tenant_a, Role.OPERATOR)
    response = password_login(client, operator)
    assert client.get(response["Location"]).status_code == 200


def test_a_voluntary_authenticator_is_asked_for_too(client, tenant_a):
    operator = member(tenant_a, Role.OPERATOR)
    confirmed_device(operator)
    password_login(client, operator)
    assert client.get("/t/tenant-a/")["Location"].startswith("/accounts/otp/verify/")


def test_enrolment_of_an_admin_without_an_authenticator(client, admin_a):
    password_login(client, admin_a)
    redirect = client.get("/t/tenant-a/")
    assert redirect["Location"].startswith("/accounts/otp/setup/?next=")

    page = client.get(redirect["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, drawn on the server
    secret = re.search(r'data-testid="otp-secret">([A-Z2-7]+)<', html)[1]
    device = TOTPDevice.objects.get(user=admin_a, confirmed=False)
    assert mfa.totp_secret_base32(device) == secret
    assert client.get("/t/tenant-a/").status_code == 302  # still nothing else before confirming

    wrong = client.post("/accounts/otp/setup/", {"code": "123456", "next": "/t/tenant-a/"})
    assert wrong.status_code == 200 and b"not valid" in wrong.content

    # What an authenticator app computes from the secret it was given.
    import base64

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    code = f"{TOTP(key).token():06d}"
    done = client.post("/accounts/otp/setup/", {"code": code, "next": "/t/tenant-a/"})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    assert len(codes) == mfa.BACKUP_CODE_COUNT
    assert TOTPDevice.objects.get(user=admin_a).confirmed
    assert client.get("/t/tenant-a/").status_code == 200


def test_backup_code_logs_in_once(client, admin_a):
    confirmed_device(admin_a)
    codes = mfa.backup_codes_regenerate(user=admin_a)
    password_login(client, admin_a)
    assert client.post("/accounts/otp/verify/", {"code": codes[0]})["Location"] == "/"
    assert StaticToken.objects.filter(token=codes[0]).count() == 0
    assert mfa.backup_codes_left(admin_a) == mfa.BACKUP_CODE_COUNT - 1

    again = client.__class__()
    password_login(again, admin_a)
    assert again.post("/accounts/otp/verify/", {"code": codes[0]}).status_code == 200
    assert again.get("/t/tenant-a/").status_code == 302


def test_tenant_switch_makes_every_member_enrol(client, tenant_a):
    operator = member(tenant_a, Role.OPERATOR)
    tenant_a.mfa_required_for_all = True
    tenant_a.save()
    password_login(client, operator)
    assert client.get("/t/tenant-a/")["Location"].startswith("/accounts/otp/setup/")


def test_admin_switches_the_requirement_for_all_members(api_as, admin_a, users, tenant_a):
    response = api_as(admin_a).patch("/api/v1/tenants/tenant-a/", {"mfa_required_for_all": True})
    assert response.status_code == 200 and response.json()["mfa_required_for_all"] is True
    tenant_a.refresh_from_db()
    assert tenant_a.mfa_required_for_all
    refused = api_as(users[Role.ANALYST]).patch("/api/v1/tenants/tenant-a/", {"mfa_required_for_all": False})
    # The analyst now needs a second factor too; api_as confirmed it, and the role still may not change it.
    assert refused.status_code == 403


def test_members_page_offers_the_switch(client, admin_a):
    login(client, admin_a)
    html = client.get("/t/tenant-a/settings/members/").content.decode()
    assert 'id="mfa-all"' in html


# --- account security page -------------------------------------------------------------------------


def test_operator_turns_a_voluntary_authenticator_off_but_an_admin_cannot(client, users, admin_a):
    operator = users[Role.OPERATOR]
    device = confirmed_device(operator)
    password_login(client, operator)
    client.post("/accounts/otp/verify/", {"code": code_for(device)})
    assert b"On:" in client.get("/accounts/security/").content
    client.post("/accounts/security/", {"action": "remove"})
    assert not TOTPDevice.objects.filter(user=operator).exists()

    admin_client = login(client.__class__(), admin_a)
    admin_client.post("/accounts/security/", {"action": "remove"})
    assert TOTPDevice.objects.filter(user=admin_a, confirmed=True).exists()
    page = admin_client.post("/accounts/security/", {"action": "backup-codes"})
    assert len(re.findall(r"<li><code>", page.content.decode())) == mfa.BACKUP_CODE_COUNT


# --- API tokens -------------------------------------------------------------------------------------


def test_token_endpoint_asks_admins_for_the_code(api, admin_a):
    device = confirmed_device(admin_a)
    credentials = {"username": admin_a.username, "password": PASSWORD}
    missing = api.post("/api/v1/auth/token/", credentials)
    assert missing.status_code == 400 and "otp" in missing.json()["errors"]
    wrong = api.post("/api/v1/auth/token/", {**credentials, "otp": "000000"})
    assert wrong.status_code == 400 and wrong.json()["errors"]["otp"] == ["That code is not valid."]
    right = api.post("/api/v1/auth/token/", {**credentials, "otp": code_for(device)})
    assert right.status_code == 201


def test_token_endpoint_sends_admins_without_authenticator_to_enrol(api, admin_a):
    response = api.post("/api/v1/auth/token/", {"username": admin_a.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "/accounts/otp/setup/" in response.json()["errors"]["otp"][0]


def test_operator_gets_a_token_with_the_password(api, tenant_a):
    operator = member(tenant_a, Role.OPERATOR)
    response = api.post("/api/v1/auth/token/", {"username": operator.username, "password": PASSWORD})
    assert response.status_code == 201


def test_existing_tokens_of_admins_keep_working(api, admin_a):
    raw = token_for(admin_a)
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get("/api/v1/tenants/tenant-a/areas/").status_code == 200


def test_a_token_beside_an_unverified_session_authenticates_the_call(client, admin_a):
    confirmed_device(admin_a)
    raw = token_for(admin_a)
    password_login(client, admin_a)
    response = client.get("/api/v1/tenants/tenant-a/areas/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 200


# --- Django admin -----------------------------------------------------------------------------------


def test_django_admin_requires_the_second_factor(client, db):
    staff = User.objects.create_superuser("platform", "platform@example.org", PASSWORD)
    client.force_login(staff)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    login(client, staff)
    assert client.get("/admin/").status_code == 200


def test_django_admin_login_form_takes_the_code(client, db):
    staff = User.objects.create_superuser("platform", "platform@example.org", PASSWORD)
    device = confirmed_device(staff)
    form = {
        "username": "platform",
        "password": PASSWORD,
        "otp_device": device.persistent_id,
        "next": "/admin/",
    }
    refused = client.post("/admin/login/", {**form, "otp_token": "000000"})
    assert refused.status_code == 200
    assert client.get("/admin/").status_code == 302
    accepted = client.post("/admin/login/", {**form, "otp_token": code_for(device)})
    assert accepted.status_code == 302
    assert client.get("/admin/").status_code == 200


# --- demo ---------------------------------------------------------------------------------------------


def test_demo_admin_gets_the_documented_secret_and_demo_otp_prints_a_valid_code(client, admin_a, settings):
    settings.DEBUG = True
    device = mfa.demo_totp_device_ensure(admin_a)
    assert mfa.demo_totp_device_ensure(admin_a).pk == device.pk  # idempotent
    assert mfa.totp_secret_base32(device) == mfa.DEMO_TOTP_SECRET_BASE32.rstrip("=")
    out = StringIO()
    call_command("demo_otp", admin_a.username, stdout=out)
    code = re.search(r"\b(\d{6})\b", out.getvalue())[1]
    password_login(client, admin_a)
    assert client.post("/accounts/otp/verify/", {"code": code})["Location"] == "/"
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id


def test_demo_otp_refuses_without_debug(admin_a, settings):
    from django.core.management import CommandError

    settings.DEBUG = False
    mfa.demo_totp_device_ensure(admin_a)
    with pytest.raises(CommandError):
        call_command("demo_otp", admin_a.username, stdout=StringIO())


def test_otp_code_helper_matches_the_device(admin_a):
    code = otp_code(admin_a)
    device = TOTPDevice.objects.get(user=admin_a)
    assert mfa.device_for_code(admin_a, code) == device


def test_password_alone_cannot_replace_an_existing_second_factor(client, admin_a):
    confirmed_device(admin_a)
    password_login(client, admin_a)
    response = client.get("/accounts/otp/setup/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/verify/")
    assert not TOTPDevice.objects.filter(user=admin_a, confirmed=False).exists()


def test_backup_codes_alone_also_guard_the_setup_page(client, admin_a):
    mfa.backup_codes_regenerate(user=admin_a)
    password_login(client, admin_a)
    assert client.get("/accounts/otp/setup/")["Location"].startswith("/accounts/otp/verify/")
    assert client.get("/accounts/otp/verify/").status_code == 200
