"""Log-in lock-out (tenants.lockout): per user name with an exponential delay, a generous per-address
limit, a way in with a second factor, and an admin unlock. The clock is moved with time-machine."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from tenants import mfa
from tenants.choices import Role
from tenants.models import AuditEntry, LoginThrottle, Membership
from tests.factories import PASSWORD, login, member

PROBLEM = "application/problem+json"
TOWN_HALL = "145.12.0.7"  # one address behind NAT for a whole building


@pytest.fixture(autouse=True)
def _no_device_backoff(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def page_login(client, username, password, address=TOWN_HALL, **extra):
    return client.post(
        "/accounts/login/", {"username": username, "password": password, **extra}, REMOTE_ADDR=address
    )


def token_login(username, password, address=TOWN_HALL, **extra):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password, **extra}, REMOTE_ADDR=address
    )


def later(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=True)


def code_for(user) -> str:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    device.refresh_from_db()
    return mfa.current_code(device)


def test_five_failures_lock_the_user_name_with_a_delay_that_doubles(client, tenant_a, settings):
    alice = member(tenant_a, Role.OPERATOR, username="alice")
    statuses = [page_login(client, "alice", "wrong").status_code for _ in range(settings.LOGIN_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.LOGIN_FAILURE_LIMIT - 1) + [429]
    locked = page_login(client, "alice", PASSWORD)  # even the right password waits, and says so
    assert locked.status_code == 429 and b"Too many failed log-in attempts for this account" in locked.content
    assert 55 <= int(locked["Retry-After"]) <= 60
    assert "_auth_user_id" not in client.session
    # The attempts during the lock do not lengthen it.
    with later(61):
        assert page_login(Client(), "alice", "wrong").status_code == 429  # 6th failure: locked again...
        again = page_login(Client(), "alice", PASSWORD)
        assert again.status_code == 429 and 115 <= int(again["Retry-After"]) <= 120  # ... for twice as long
    with later(61 + 121):
        assert page_login(Client(), "alice", "wrong").status_code == 429  # 7th: four minutes
        assert 235 <= int(page_login(Client(), "alice", PASSWORD)["Retry-After"]) <= 240
    with later(61 + 121 + 241):
        assert page_login(Client(), "alice", PASSWORD).status_code == 302  # in, and the count ends
        assert not LoginThrottle.objects.filter(kind="user", key="alice").exists()
    assert alice.is_active


def test_the_delay_stops_growing_at_the_maximum(tenant_a, settings):
    from tenants import lockout

    settings.LOGIN_LOCK_MAX_SECONDS = 600
    now = timezone.now()
    for n in range(12):
        refusal = lockout.record_failure(username="bob", address=None, now=now + timedelta(hours=n))
    assert refusal.until - (now + timedelta(hours=11)) == timedelta(seconds=600)


def test_one_guesser_behind_nat_does_not_lock_out_the_building(client, tenant_a, settings):
    """Per user name, not per address: a colleague at the same address logs in as usual."""
    member(tenant_a, Role.OPERATOR, username="alice")
    member(tenant_a, Role.ANALYST, username="bob")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(Client(), "alice", "guess")
    assert page_login(Client(), "bob", PASSWORD).status_code == 302
    # ...and the lock follows the user name to any address (an attacker cannot dodge it by moving).
    assert page_login(Client(), "alice", PASSWORD, address="198.51.100.9").status_code == 429
    assert token_login("alice", PASSWORD, address="198.51.100.9").status_code == 429


def test_one_address_spraying_many_accounts_hits_the_generous_address_limit(tenant_a, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 20
    member(tenant_a, Role.OPERATOR, username="carol")
    statuses = [page_login(Client(), f"user-{n}", "guess").status_code for n in range(20)]
    assert statuses == [200] * 19 + [429]
    refused = page_login(Client(), "carol", PASSWORD)  # a real user at that address waits too
    assert refused.status_code == 429 and b"from your address" in refused.content
    problem = token_login("carol", PASSWORD)
    assert problem.status_code == 429 and "from your address" in problem.json()["detail"]
    assert (
        page_login(Client(), "carol", PASSWORD, address="198.51.100.9").status_code == 302
    )  # elsewhere: fine
    with later(settings.LOGIN_ADDRESS_WINDOW_SECONDS + 1):
        assert page_login(Client(), "carol", PASSWORD).status_code == 302


def test_ipv6_addresses_count_per_64_network(tenant_a, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for n in range(3):
        page_login(Client(), f"user-{n}", "guess", address=f"2001:db8:1:2::{n + 1}")
    assert page_login(Client(), "someone", "guess", address="2001:db8:1:2:ffff::1").status_code == 429
    assert page_login(Client(), "someone", "guess", address="2001:db8:1:3::1").status_code == 200


def test_a_locked_account_logs_in_with_password_and_a_valid_code(tenant_a, settings):
    admin = member(tenant_a, Role.ADMIN, username="dana")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        token_login("dana", "wrong")
    assert token_login("dana", PASSWORD, otp="000000").status_code == 429  # a wrong code: still locked
    assert token_login("wrong-password-too", "x").status_code == 400  # (someone else, unaffected)
    assert token_login("dana", "wrong", otp=code_for(admin)).status_code == 429  # wrong password: locked
    created = token_login("dana", PASSWORD, otp=code_for(admin))
    assert created.status_code == 201, created.content
    # The page offers the same: the lock page has a form for password and code, which logs in verified.
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(Client(), "dana", "wrong")
    browser = Client()
    locked = page_login(browser, "dana", PASSWORD)
    assert locked.status_code == 429 and b'name="otp_token"' in locked.content
    with later(31):  # the next 30-second code
        response = page_login(browser, "dana", PASSWORD, otp_token=code_for(admin), next="/t/tenant-a/")
    assert response.status_code == 302 and response["Location"] == "/t/tenant-a/", response.content
    assert browser.get("/t/tenant-a/").status_code == 200  # no second code step: the code was given
    assert not LoginThrottle.objects.filter(kind="user", key="dana").exists()


def test_an_operator_without_authenticator_waits_or_is_unlocked_by_an_admin(tenant_a, tenant_b, settings):
    admin = member(tenant_a, Role.ADMIN, username="erik")
    operator = member(tenant_a, Role.OPERATOR, username="fleur")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        token_login("fleur", "wrong")
    assert token_login("fleur", PASSWORD).status_code == 429
    with scopes_disabled():
        membership = Membership.objects.get(user=operator, tenant=tenant_a)
    admin_api = login(APIClient(), admin)
    members = admin_api.get("/api/v1/tenants/tenant-a/members/").json()
    members = members["results"] if isinstance(members, dict) else members
    assert {m["user"]["username"]: m["locked_until"] is not None for m in members} == {
        "erik": False,
        "fleur": True,
    }
    # An operator may not unlock; another tenant's admin cannot even see the member.
    colleague = login(APIClient(), member(tenant_a, Role.OPERATOR, username="gijs"))
    assert colleague.post(f"/api/v1/tenants/tenant-a/members/{membership.pk}/unlock/").status_code == 403
    other_admin = login(APIClient(), member(tenant_b, Role.ADMIN, username="hanna"))
    assert other_admin.post(f"/api/v1/tenants/tenant-b/members/{membership.pk}/unlock/").status_code == 404
    assert token_login("fleur", PASSWORD).status_code == 429
    unlocked = admin_api.post(f"/api/v1/tenants/tenant-a/members/{membership.pk}/unlock/")
    assert unlocked.status_code == 200 and unlocked.json()["locked_until"] is None
    assert token_login("fleur", PASSWORD).status_code == 201
    with scopes_disabled():
        entry = AuditEntry.objects.get(tenant=tenant_a, action="member.unlock")
    assert entry.actor_label == "erik" and entry.details == {"user": "fleur", "was_locked": True}


def test_platform_staff_unlock_from_the_shell(tenant_a, settings):
    member(tenant_a, Role.OPERATOR, username="ilse")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        token_login("ilse", "wrong")
    out = StringIO()
    call_command("unlock_login", "ilse", stdout=out)
    assert "ilse is unlocked" in out.getvalue()
    assert token_login("ilse", PASSWORD).status_code == 201
    with scopes_disabled():
        assert AuditEntry.objects.filter(tenant=tenant_a, action="member.unlock").count() == 1


def test_wrong_codes_count_like_wrong_passwords(client, tenant_a, settings):
    admin = member(tenant_a, Role.ADMIN, username="joost")
    code_for(admin)  # has an authenticator
    assert page_login(client, "joost", PASSWORD).status_code == 302  # to the code step
    statuses = [
        client.post("/accounts/otp/verify/", {"code": "000000"}, REMOTE_ADDR=TOWN_HALL).status_code
        for _ in range(settings.LOGIN_FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}
    assert "_auth_user_id" not in client.session  # logged out
    api_statuses = [token_login("joost", PASSWORD, otp="000000").status_code for _ in range(2)]
    assert api_statuses == [429, 429]


def test_token_endpoint_answers_a_locked_out_problem_with_retry_after(tenant_a, settings):
    member(tenant_a, Role.OPERATOR, username="kees")
    statuses = [token_login("kees", "x").status_code for _ in range(settings.LOGIN_FAILURE_LIMIT)]
    assert statuses == [400] * (settings.LOGIN_FAILURE_LIMIT - 1) + [429]
    locked = token_login("kees", PASSWORD)
    assert locked.status_code == 429 and locked["Content-Type"] == PROBLEM
    assert locked.json()["type"] == "urn:csm:problem:locked_out"
    assert "unlock" in locked.json()["detail"] and 55 <= int(locked["Retry-After"]) <= 60


def test_counts_are_purged_when_they_no_longer_matter(tenant_a, settings):
    from tenants import lockout

    now = timezone.now()
    lockout.record_failure(username="old", address="192.0.2.1", now=now - timedelta(days=2))
    lockout.record_failure(username="recent", address=None, now=now)
    assert lockout.purge(now=now) == 2  # "old" by user name and by address
    assert list(LoginThrottle.objects.values_list("key", flat=True)) == ["recent"]
