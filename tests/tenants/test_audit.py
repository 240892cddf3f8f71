"""Audit trail: every category of event leaves the right entry, no secrets, append-only, purge, API, page."""

import csv
import io
import json
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone
from django_scopes import ScopeError, scopes_disabled

import frontend
from tenants.audit import audit_purge, audit_purge_platform, audit_record, client_ip, redact
from tenants.audit_demo import seed_audit_trail
from tenants.models import ApiToken, AuditAppendOnlyError, AuditEntry
from tenants.scoping import tenant_scope
from tenants.services import api_token_revoke
from tenants.tasks import purge_tenant_audit_trail
from tests.factories import PASSWORD, UserFactory, login, make_source, member, token_for

AREA = {
    "slug": "pier",
    "name": "Pier",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[4.27, 52.11], [4.271, 52.11], [4.271, 52.111], [4.27, 52.111], [4.27, 52.11]]],
    },
}
GENERIC = {"url": "https://feed.example.org/x.json", "items": "data", "key": "id", "time": "t", "value": "v",
           "metric": "people_count"}  # fmt: skip


def entries(tenant=None, **filters):
    """Entries of ``tenant`` (None: platform entries), oldest first."""
    with scopes_disabled():
        found = (
            AuditEntry.objects.filter(tenant=tenant, **filters)
            if tenant
            else AuditEntry.objects.filter(tenant__isnull=True, **filters)
        )
        return list(found.order_by("created_at", "id"))


def api_with_token(api, user, tenant=None):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user, tenant)}")
    return api


# --- Writes through the API -------------------------------------------------------------------------


def test_a_write_through_the_api_records_who_what_object_origin_and_result(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    response = api.post(
        f"/api/v1/tenants/{tenant_a.slug}/areas/", AREA, format="json", HTTP_USER_AGENT="pytest-agent/1.0"
    )
    assert response.status_code == 201, response.content
    (entry,) = entries(tenant_a, action="area.create")
    assert entry.actor == admin_a and entry.actor_label == admin_a.username
    assert entry.object_type == "area" and entry.object_id == str(response.json()["id"])
    assert entry.object_label == "pier"
    assert entry.result == "success"
    assert entry.ip_address == "127.0.0.1"
    assert entry.user_agent == "pytest-agent/1.0"
    assert len(entry.request_id) == 32 and response["X-Request-ID"] == entry.request_id
    assert entry.details["method"] == "POST" and entry.details["status"] == 201
    assert entry.details["fields"]["slug"] == "pier"
    assert entry.details["token"].startswith("csm_")  # the credential used, never the key
    assert entry.created_at.utcoffset() == timedelta(0)


def test_a_rejected_write_is_recorded_as_failed_and_nothing_is_stored(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    response = api.post(
        f"/api/v1/tenants/{tenant_a.slug}/areas/", {**AREA, "slug": "Not A Slug"}, format="json"
    )
    assert response.status_code == 400
    (entry,) = entries(tenant_a, action="area.create")
    assert entry.result == "failed"
    assert entry.details["status"] == 400 and "slug" in entry.details["error_fields"]
    with tenant_scope(tenant_a):
        assert not tenant_a.areas.exists()


def test_update_and_delete_name_the_object(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    area_id = api.post(f"/api/v1/tenants/{tenant_a.slug}/areas/", AREA, format="json").json()["id"]
    assert (
        api.patch(f"/api/v1/tenants/{tenant_a.slug}/areas/{area_id}/", {"name": "Pier head"}).status_code
        == 200
    )
    assert api.delete(f"/api/v1/tenants/{tenant_a.slug}/areas/{area_id}/").status_code == 204
    update, delete = entries(tenant_a, action__in=["area.update", "area.delete"])
    assert (update.action, update.object_id, update.details["fields"]) == (
        "area.update", str(area_id), {"name": "Pier head"}
    )  # fmt: skip
    assert (delete.action, delete.object_id, delete.object_label) == ("area.delete", str(area_id), "pier")


def test_reads_are_not_recorded(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    assert api.get(f"/api/v1/tenants/{tenant_a.slug}/areas/").status_code == 200
    assert entries(tenant_a) == []


def test_permission_denied_is_recorded(api, tenant_a, users):
    api_with_token(api, users["operator"])
    response = api.patch(f"/api/v1/tenants/{tenant_a.slug}/", {"name": "Hijacked"}, format="json")
    assert response.status_code == 403
    (entry,) = entries(tenant_a)
    assert (entry.action, entry.result, entry.actor_label) == (
        "access.denied",
        "denied",
        users["operator"].username,
    )
    assert "'manage' right needed" in entry.details["detail"]


def test_cross_tenant_attempt_is_recorded_against_the_target_tenant(api, tenant_a, tenant_b):
    outsider = member(tenant_b, "admin", username="b-admin")
    api_with_token(api, outsider)
    assert api.get(f"/api/v1/tenants/{tenant_a.slug}/areas/").status_code == 404
    (entry,) = entries(tenant_a)
    assert (entry.action, entry.result, entry.actor) == ("access.cross_tenant", "denied", outsider)
    assert entry.details["reason"] == "not a member"
    assert entries(tenant_b) == []


def test_a_token_limited_to_one_tenant_used_on_another_is_recorded(api, tenant_a, tenant_b):
    both = member(tenant_a, "analyst", username="both")
    member(tenant_b, "analyst", username="both")
    api_with_token(api, both, tenant=tenant_a)
    response = api.get(f"/api/v1/tenants/{tenant_b.slug}/areas/")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    (entry,) = entries(tenant_b)
    assert (
        entry.action == "access.cross_tenant" and entry.details["reason"] == "token limited to another tenant"
    )


def test_unknown_tenant_is_a_plain_404_without_entry(api, admin_a):
    api_with_token(api, admin_a)
    assert api.get("/api/v1/tenants/no-such-tenant/areas/").status_code == 404
    with scopes_disabled():
        assert not AuditEntry.objects.filter(action__startswith="access.").exists()


# --- Members, settings, sources, exports ------------------------------------------------------------


def test_member_and_role_changes_leave_one_rich_entry_each(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    base = f"/api/v1/tenants/{tenant_a.slug}/members/"
    created = api.post(base, {"email": "new@example.org", "role": "operator"}, format="json")
    assert created.status_code == 201
    member_id = created.json()["id"]
    assert api.patch(f"{base}{member_id}/", {"role": "analyst"}, format="json").status_code == 200
    assert api.delete(f"{base}{member_id}/").status_code == 204
    invite, update, remove = entries(tenant_a)  # the generic capture adds nothing to these
    assert (invite.action, invite.object_id, invite.details["role"]) == (
        "member.invite",
        str(member_id),
        "operator",
    )
    assert update.action == "member.update" and update.details["changes"] == {"role": ["operator", "analyst"]}
    assert (remove.action, remove.details["role"]) == ("member.remove", "analyst")
    assert {e.object_label for e in (invite, update, remove)} == {"new@example.org"}


def test_a_refused_role_change_is_recorded_as_failed(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    with scopes_disabled():
        own = admin_a.memberships.get(tenant=tenant_a)
    response = api.patch(
        f"/api/v1/tenants/{tenant_a.slug}/members/{own.pk}/", {"role": "operator"}, format="json"
    )
    assert response.status_code == 400  # the last admin stays
    (entry,) = entries(tenant_a)
    assert (entry.action, entry.result, entry.object_id) == ("member.update", "failed", str(own.pk))


def test_tenant_settings_change_records_old_and_new_values(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    response = api.patch(f"/api/v1/tenants/{tenant_a.slug}/", {"audit_retention_days": 90}, format="json")
    assert response.status_code == 200 and response.json()["audit_retention_days"] == 90
    (entry,) = entries(tenant_a)
    assert entry.action == "tenant.update"
    assert entry.details["changes"] == {"audit_retention_days": [730, 90]}


def test_setting_a_source_secret_is_recorded_without_the_secret(api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    body = {"slug": "feed", "name": "Feed", "kind": "generic_json", "config": GENERIC,
            "secrets": {"api_key": "top-secret-value-1"}}  # fmt: skip
    created = api.post(f"/api/v1/tenants/{tenant_a.slug}/sources/", body, format="json")
    assert created.status_code == 201, created.content
    source_id = created.json()["id"]
    rotate = {"secrets": {"api_key": "top-secret-value-2"}}
    assert (
        api.patch(f"/api/v1/tenants/{tenant_a.slug}/sources/{source_id}/", rotate, format="json").status_code
        == 200
    )
    actions = [e.action for e in entries(tenant_a)]
    assert actions == ["source.secret.set", "source.create", "source.secret.set", "source.update"]
    first_set, created_entry, second_set, _update = entries(tenant_a)
    assert (first_set.details["keys"], first_set.details["replaced_earlier"]) == (["api_key"], False)
    assert second_set.details["replaced_earlier"] is True
    assert created_entry.details["fields"]["secrets"] == "[redacted]"
    everything = json.dumps([e.details for e in entries(tenant_a)])
    assert "top-secret-value" not in everything


def test_observation_csv_export_is_recorded_and_json_reads_are_not(api, tenant_a, users):
    api_with_token(api, users["analyst"])
    url = f"/api/v1/tenants/{tenant_a.slug}/observations/"
    assert api.get(url).status_code == 200
    assert entries(tenant_a) == []
    response = api.get(url, {"format": "csv", "resample": "hour"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    (entry,) = entries(tenant_a)
    assert (entry.action, entry.actor, entry.result) == ("export.observations", users["analyst"], "success")
    assert entry.details["query"] == {"format": "csv", "resample": "hour"}


@pytest.mark.clock
def test_pushes_are_recorded_with_row_counts(api, tenant_a, admin_a):
    source = make_source(tenant_a, slug="cam")
    api_with_token(api, admin_a)
    moment = (timezone.now() - timedelta(minutes=1)).isoformat()
    rows = [{"series": "gate-1", "time": moment, "value": 12, "metric": "people_count"}]
    response = api.post(
        f"/api/v1/tenants/{tenant_a.slug}/sources/{source.pk}/observations/", rows, format="json"
    )
    assert response.status_code == 200, response.content
    (entry,) = entries(tenant_a)
    assert entry.action == "source.observations" and entry.object_id == str(source.pk)
    assert entry.details["accepted"] == 1 and "fields" not in entry.details


# --- Log-ins and tokens -----------------------------------------------------------------------------


def test_page_log_in_success_and_failure_are_recorded_for_the_members_tenants(tenant_a, tenant_b, users):
    operator = users["operator"]
    member(tenant_b, "analyst", username=operator.username)
    client = Client(HTTP_USER_AGENT="Firefox")
    client.post("/accounts/login/", {"username": operator.username, "password": "wrong"})
    client.post("/accounts/login/", {"username": operator.username, "password": PASSWORD})
    for tenant in (tenant_a, tenant_b):
        failed, ok = entries(tenant)
        assert (failed.action, failed.result, failed.actor_label) == (
            "auth.login.failed",
            "failed",
            operator.username,
        )
        assert (ok.action, ok.result, ok.actor) == ("auth.login", "success", operator)
        assert ok.user_agent == "Firefox" and ok.details["via"] == "session"
        assert "wrong" not in json.dumps(failed.details)


def test_failed_log_in_of_an_unknown_user_is_a_platform_entry(db):
    Client().post("/accounts/login/", {"username": "mallory", "password": "guess"})
    (entry,) = entries(None)
    assert (entry.action, entry.actor_label, entry.details["known_user"]) == (
        "auth.login.failed",
        "mallory",
        False,
    )


def test_token_endpoint_log_in_and_a_token_asked_for_a_foreign_tenant(api, tenant_a, tenant_b, users):
    analyst = users["analyst"]
    response = api.post("/api/v1/auth/token/", {"username": analyst.username, "password": PASSWORD,
                                                "tenant": tenant_a.slug}, format="json")  # fmt: skip
    assert response.status_code == 201
    (login_entry,) = entries(tenant_a)
    assert (login_entry.action, login_entry.details["via"]) == ("auth.login", "api_token")
    assert login_entry.details["limited_to_tenant"] == tenant_a.slug
    assert response.json()["token"] not in json.dumps(login_entry.details)

    refused = api.post("/api/v1/auth/token/", {"username": analyst.username, "password": PASSWORD,
                                               "tenant": tenant_b.slug}, format="json")  # fmt: skip
    assert refused.status_code == 400
    (entry,) = entries(tenant_b)
    assert (entry.action, entry.actor, entry.result) == ("access.cross_tenant", analyst, "denied")

    wrong = api.post("/api/v1/auth/token/", {"username": analyst.username, "password": "nope"}, format="json")
    assert wrong.status_code == 400
    assert entries(tenant_a, action="auth.login.failed")[0].details["via"] == "api_token"


@pytest.mark.clock
def test_forged_expired_and_revoked_tokens_get_401_and_an_entry(api, tenant_a, users):
    analyst = users["analyst"]
    api.credentials(HTTP_AUTHORIZATION="Token csm_forged-forged-forged")
    response = api.get(f"/api/v1/tenants/{tenant_a.slug}/areas/")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    (forged,) = entries(None)
    assert (forged.action, forged.actor_label, forged.result) == (
        "auth.token.invalid",
        "unknown token",
        "denied",
    )
    assert "forged" not in json.dumps(forged.details) + forged.object_label

    raw = token_for(analyst, tenant_a)
    with scopes_disabled():
        token = ApiToken.objects.get(user=analyst)
    with scopes_disabled():
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(days=1))
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get(f"/api/v1/tenants/{tenant_a.slug}/areas/").status_code == 401
    (expired,) = entries(tenant_a)
    assert (expired.action, expired.actor, expired.object_id) == (
        "auth.token.expired",
        analyst,
        str(token.pk),
    )

    raw2 = token_for(analyst)
    with scopes_disabled():
        api_token_revoke(token=ApiToken.objects.get(user=analyst, tenant__isnull=True))
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw2}")
    assert api.get("/api/v1/tenants/").status_code == 401
    (revoked,) = entries(None, action="auth.token.revoked")
    assert revoked.actor == analyst


def test_revoking_the_token_in_use_is_recorded(api, tenant_a, users):
    api_with_token(api, users["analyst"], tenant_a)
    assert api.delete("/api/v1/auth/token/").status_code == 204
    (entry,) = entries(tenant_a)
    assert entry.action == "auth.token.revoke" and entry.actor == users["analyst"]


def test_django_admin_writes_are_platform_entries_without_values(db):
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client = login(Client(), staff)
    client.post("/admin/tenants/tenant/add/", {"slug": "zwolle", "name": "Gemeente Zwolle", "password": "x1"})
    (entry,) = entries(None, action="admin.post")
    assert (entry.actor, entry.object_label) == (staff, "/admin/tenants/tenant/add/")
    assert entry.details["field_names"] == ["name", "password", "slug"]
    assert "Zwolle" not in json.dumps(entry.details)


# --- Commands, secrets, origin ----------------------------------------------------------------------


def test_create_tenant_command_records_the_command_as_actor(db):
    call_command("create_tenant", "utrecht", name="Gemeente Utrecht", admin_email="admin@utrecht.example",
                 stdout=io.StringIO())  # fmt: skip
    with scopes_disabled():
        created, invited = AuditEntry.objects.filter(tenant__slug="utrecht").order_by("id")
    assert (created.action, created.actor_label, created.actor) == (
        "tenant.create",
        "manage.py create_tenant",
        None,
    )
    assert (invited.action, invited.details["role"]) == ("member.invite", "admin")
    assert invited.ip_address is None and invited.request_id == ""


def test_redact_hides_secret_keys_at_any_depth():
    details = {
        "name": "Feed",
        "password": "p",
        "config": {"api_key": "k", "url": "https://x", "nested": [{"client_secret": "s", "ok": 1}]},
        "Authorization": "Token csm_x",
        "otp": "123456",
    }
    assert redact(details) == {
        "name": "Feed",
        "password": "[redacted]",
        "config": {
            "api_key": "[redacted]",
            "url": "https://x",
            "nested": [{"client_secret": "[redacted]", "ok": 1}],
        },
        "Authorization": "[redacted]",
        "otp": "[redacted]",
    }


def test_redact_leaves_harmless_look_alikes():
    assert redact({"footprint": 1, "keyboard": 2, "series_key": 3, "monkey": 4}) == {
        "footprint": 1, "keyboard": 2, "series_key": "[redacted]", "monkey": 4,
    }  # fmt: skip


def test_large_details_keep_their_small_fields(tenant_a):
    ring = [[4.27 + i / 1e4, 52.11] for i in range(100)]
    geometry = {"type": "MultiPolygon", "coordinates": [[ring] for _ in range(20)]}
    entry = audit_record(tenant=tenant_a, actor=None, action="test.big",
                         details={"fields": {"slug": "pier", "geometry": geometry}, "status": 201})  # fmt: skip
    assert entry.details["fields"]["slug"] == "pier" and entry.details["status"] == 201
    assert entry.details["fields"]["geometry"]["coordinates"].startswith("… (")
    assert len(json.dumps(entry.details)) < 4000


def test_cross_tenant_page_visit_is_recorded(tenant_a, tenant_b):
    outsider = member(tenant_b, "operator", username="b-operator")
    client = login(Client(), outsider)
    assert client.get(f"/t/{tenant_a.slug}/").status_code == 404
    (entry,) = entries(tenant_a)
    assert (entry.action, entry.actor, entry.details["path"]) == (
        "access.cross_tenant",
        outsider,
        "/t/tenant-a/",
    )


def test_audit_record_redacts_what_a_service_passes(tenant_a):
    entry = audit_record(tenant=tenant_a, actor=None, action="test.secret", details={"token": "csm_raw"})
    assert entry.details == {"token": "[redacted]"} and entry.actor_label == "system"


class FakeRequest:
    def __init__(self, **meta):
        self.META = meta


def test_client_address_trusts_x_forwarded_for_only_behind_a_configured_proxy(settings):
    request = FakeRequest(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.AUDIT_TRUSTED_PROXY_HOPS = 0
    assert client_ip(request) == "10.0.0.2"  # a client cannot forge its address
    settings.AUDIT_TRUSTED_PROXY_HOPS = 1
    assert client_ip(request) == "203.0.113.9"  # what our proxy appended, not what the client sent
    settings.AUDIT_TRUSTED_PROXY_HOPS = 2
    assert client_ip(request) == "6.6.6.6"
    assert client_ip(FakeRequest(REMOTE_ADDR="not-an-address")) is None


def test_request_id_of_a_trusted_proxy_is_kept_and_a_clients_is_not(settings, api, tenant_a, admin_a):
    api_with_token(api, admin_a)
    url = f"/api/v1/tenants/{tenant_a.slug}/"
    settings.AUDIT_TRUSTED_PROXY_HOPS = 0
    api.patch(url, {"name": "One"}, format="json", HTTP_X_REQUEST_ID="client-chosen")
    settings.AUDIT_TRUSTED_PROXY_HOPS = 1
    api.patch(url, {"name": "Two"}, format="json", HTTP_X_REQUEST_ID="proxy-42")
    api.patch(url, {"name": "Three"}, format="json", HTTP_X_REQUEST_ID="bad id; DROP")
    first, second, third = entries(tenant_a)
    assert first.request_id != "client-chosen" and len(first.request_id) == 32
    assert second.request_id == "proxy-42"
    assert len(third.request_id) == 32  # not a well-formed id: a new one


def test_the_trail_fails_closed_like_every_tenant_owned_model(tenant_a, tenant_b):
    audit_record(tenant=tenant_a, actor=None, action="test.a")
    audit_record(tenant=tenant_b, actor=None, action="test.b")
    audit_record(tenant=None, actor=None, action="test.platform")
    with pytest.raises(ScopeError):
        list(AuditEntry.objects.all())
    with tenant_scope(tenant_a):
        assert [e.action for e in AuditEntry.objects.all()] == ["test.a"]  # no platform entries either


# --- Append-only ------------------------------------------------------------------------------------


def test_the_model_refuses_changes_and_deletes(tenant_a):
    entry = audit_record(tenant=tenant_a, actor=None, action="test.entry")
    entry.action = "test.changed"
    with pytest.raises(AuditAppendOnlyError):
        entry.save()
    with pytest.raises(AuditAppendOnlyError):
        entry.delete()
    with scopes_disabled():
        with pytest.raises(AuditAppendOnlyError):
            AuditEntry.objects.filter(pk=entry.pk).update(action="test.changed")
        with pytest.raises(AuditAppendOnlyError):
            AuditEntry.objects.filter(pk=entry.pk).delete()
        assert AuditEntry.objects.get(pk=entry.pk).action == "test.entry"


def _raw(sql: str, params) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_rejects_update(tenant_a):
    entry = audit_record(tenant=tenant_a, actor=None, action="test.entry")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("UPDATE tenants_auditentry SET action = %s WHERE id = %s", ["test.forged", entry.pk])
    with scopes_disabled():
        assert AuditEntry.objects.get(pk=entry.pk).action == "test.entry"


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no DELETE trigger: Django's flush empties tables with DELETE there (see the migration)",
)
def test_postgresql_rejects_delete_outside_the_purge(tenant_a):
    entry = audit_record(tenant=tenant_a, actor=None, action="test.entry")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM tenants_auditentry WHERE id = %s", [entry.pk])
    audit_purge(tenant=tenant_a)  # opens the door for its own deletes only, and closes it again
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM tenants_auditentry WHERE id = %s", [entry.pk])
    with scopes_disabled():
        assert AuditEntry.objects.filter(pk=entry.pk).exists()


# --- Retention --------------------------------------------------------------------------------------


def _aged(tenant, days: int, action: str = "test.old") -> AuditEntry:
    entry = AuditEntry(tenant=tenant, actor_label="system", action=action,
                       created_at=timezone.now() - timedelta(days=days))  # fmt: skip
    entry.save()
    return entry


@pytest.mark.clock
def test_purge_deletes_only_entries_past_the_tenants_retention(tenant_a, tenant_b):
    tenant_a.audit_retention_days = 30
    tenant_a.save()
    old, kept = _aged(tenant_a, 31), _aged(tenant_a, 29, "test.recent")
    other = _aged(tenant_b, 400)
    assert audit_purge(tenant=tenant_a) == 1
    remaining = entries(tenant_a)
    assert [e.action for e in remaining] == ["test.recent", "audit.purge"]
    assert remaining[1].details["deleted"] == 1 and remaining[1].details["retention_days"] == 30
    with scopes_disabled():
        assert not AuditEntry.objects.filter(pk=old.pk).exists()
        assert AuditEntry.objects.filter(pk__in=[kept.pk, other.pk]).count() == 2


@pytest.mark.clock
def test_purge_task_runs_in_the_tenant_scope_and_the_platform_purge_keeps_tenant_entries(tenant_a, settings):
    _aged(tenant_a, 800)
    platform_old, platform_new = _aged(None, 800), _aged(None, 5)
    assert purge_tenant_audit_trail(tenant_a.pk) == 1
    settings.AUDIT_PLATFORM_RETENTION_DAYS = 365
    assert audit_purge_platform() == 1
    with scopes_disabled():
        assert not AuditEntry.objects.filter(pk=platform_old.pk).exists()
        assert AuditEntry.objects.filter(pk=platform_new.pk).exists()
    assert [e.action for e in entries(tenant_a)] == ["audit.purge"]


# --- API --------------------------------------------------------------------------------------------


@pytest.fixture
def trail(tenant_a, tenant_b, users):
    """A few entries in A (two actors, two results) and one in B."""
    with scopes_disabled():
        audit_record(
            tenant=tenant_a, actor=users["admin"], action="member.invite", object_type="member", object_id=7
        )
        audit_record(
            tenant=tenant_a, actor=users["admin"], action="area.create", object_type="area", object_id=3
        )
        audit_record(tenant=tenant_a, actor=users["operator"], action="access.denied", result="denied")
        audit_record(tenant=tenant_b, actor=None, action="member.invite", object_label="b-only")


def test_admins_read_their_tenants_trail_newest_first(api, tenant_a, admin_a, trail):
    api_with_token(api, admin_a)
    body = api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/").json()
    assert [e["action"] for e in body["results"]] == ["access.denied", "area.create", "member.invite"]
    assert body["results"][0]["actor"] == "tenant-a-operator"
    assert "b-only" not in json.dumps(body)


@pytest.mark.parametrize("role", ["operator", "analyst", "organiser", "integration"])
def test_only_admins_read_the_trail(api, tenant_a, users, role):
    api_with_token(api, users[role])
    response = api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"
    assert entries(tenant_a)[-1].action == "access.denied"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "member"}, ["member.invite"]),
        ({"action": "area.create"}, ["area.create"]),
        ({"action": "are"}, []),  # a prefix of dotted parts, not of characters
        ({"actor": "tenant-a-operator"}, ["access.denied"]),
        ({"result": "denied"}, ["access.denied"]),
        ({"object_type": "area", "object_id": "3"}, ["area.create"]),
    ],
)
def test_filters(api, tenant_a, admin_a, trail, query, expected):
    api_with_token(api, admin_a)
    body = api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/", query).json()
    assert [e["action"] for e in body["results"]] == expected


@pytest.mark.clock
def test_time_window_filter_and_bad_filters(api, tenant_a, admin_a, trail):
    api_with_token(api, admin_a)
    url = f"/api/v1/tenants/{tenant_a.slug}/audit/"
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert api.get(url, {"since": later}).json()["count"] == 0
    assert api.get(url, {"until": later}).json()["count"] == 3
    naive = api.get(url, {"since": "2026-07-04T12:00:00"})
    assert naive.status_code == 400 and "since" in naive.json()["errors"]
    backwards = api.get(url, {"since": later, "until": "2020-01-01T00:00Z"})
    assert backwards.status_code == 400 and "until" in backwards.json()["errors"]
    assert api.get(url, {"result": "maybe"}).status_code == 400


def test_csv_download_is_itself_audited(api, tenant_a, admin_a, trail):
    api_with_token(api, admin_a)
    response = api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/", {"format": "csv", "action": "member"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["member.invite"] and rows[0]["object_id"] == "7"
    export = entries(tenant_a)[-1]
    assert (export.action, export.actor, export.details["query"]) == (
        "export.audit", admin_a, {"format": "csv", "action": "member"}
    )  # fmt: skip


def test_csv_cells_cannot_start_a_spreadsheet_formula(api, tenant_a, admin_a):
    audit_record(tenant=tenant_a, actor=None, action="test.entry", object_label='=HYPERLINK("x")')
    api_with_token(api, admin_a)
    response = api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/", {"format": "csv"})
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    row = next(r for r in rows if r["action"] == "test.entry")
    assert row["object_label"] == '\'=HYPERLINK("x")'


def test_an_entry_of_another_tenant_is_404(api, tenant_a, tenant_b, admin_a):
    foreign = audit_record(tenant=tenant_b, actor=None, action="test.entry")
    own = audit_record(tenant=tenant_a, actor=None, action="test.entry")
    api_with_token(api, admin_a)
    assert api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/{own.pk}/").status_code == 200
    assert api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/{foreign.pk}/").status_code == 404


def test_writes_to_the_trail_are_not_routed(api, tenant_a, admin_a):
    entry = audit_record(tenant=tenant_a, actor=None, action="test.entry")
    api_with_token(api, admin_a)
    url = f"/api/v1/tenants/{tenant_a.slug}/audit/"
    assert api.post(url, {"action": "x"}, format="json").status_code == 405
    assert api.delete(f"{url}{entry.pk}/").status_code == 405
    with scopes_disabled():
        assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_list_query_count_does_not_grow_with_entries(api, tenant_a, admin_a, django_assert_max_num_queries):
    api_with_token(api, admin_a)
    for n in range(30):
        audit_record(tenant=tenant_a, actor=admin_a, action="test.entry", object_id=n)
    with django_assert_max_num_queries(12):
        assert api.get(f"/api/v1/tenants/{tenant_a.slug}/audit/").json()["count"] == 30


# --- Page -------------------------------------------------------------------------------------------


def test_page_shows_the_trail_with_filters_and_paging(tenant_a, admin_a, trail):
    client = login(Client(), admin_a)
    for n in range(60):
        audit_record(tenant=tenant_a, actor=admin_a, action="test.paging", object_id=n)
    page = client.get(f"/t/{tenant_a.slug}/settings/audit/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="audit-table"' in html and "test.paging" in html and "Page 1 of 2" in html
    assert "b-only" not in html
    filtered = client.get(
        f"/t/{tenant_a.slug}/settings/audit/", {"actor": "tenant-a-operator"}
    ).content.decode()
    assert "access.denied" in filtered and "test.paging" not in filtered
    template = (Path(frontend.__file__).parent / "templates/frontend/settings/audit.html").read_text()
    assert "<script" not in template and "style=" not in template  # CSP without unsafe-inline
    settings_page = client.get(f"/t/{tenant_a.slug}/settings/").content.decode()
    assert f"/t/{tenant_a.slug}/settings/audit/" in settings_page


def test_page_rejects_bad_filters_with_400(tenant_a, admin_a):
    client = login(Client(), admin_a)
    response = client.get(f"/t/{tenant_a.slug}/settings/audit/", {"since": "yesterday"})
    assert response.status_code == 400 and "since" in response.content.decode()


def test_page_is_for_admins_only_and_a_refusal_is_recorded(tenant_a, users):
    client = login(Client(), users["analyst"])
    assert client.get(f"/t/{tenant_a.slug}/settings/audit/").status_code == 403
    assert entries(tenant_a)[-1].action == "access.denied"


def test_page_changes_retention_through_the_service(tenant_a, admin_a):
    client = login(Client(), admin_a)
    url = f"/t/{tenant_a.slug}/settings/audit/"
    assert client.post(url, {"audit_retention_days": "365"}).status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.audit_retention_days == 365
    assert entries(tenant_a, action="tenant.update")[0].details["changes"] == {
        "audit_retention_days": [730, 365]
    }
    refused = client.post(url, {"audit_retention_days": "5"})
    assert refused.status_code == 400
    tenant_a.refresh_from_db()
    assert tenant_a.audit_retention_days == 365
    (failed,) = entries(tenant_a, action="page.tenant_audit.post")
    assert failed.result == "failed" and failed.details["fields"] == {"audit_retention_days": "5"}


# --- Demo -------------------------------------------------------------------------------------------


@pytest.mark.clock
@pytest.mark.parametrize(
    "moment",
    [
        "2027-01-01T00:30:00+01:00",  # just after midnight: "yesterday" is another year
        "2027-03-28T03:15:00+02:00",  # the morning summer time starts
        "2027-07-15T13:00:00+02:00",
    ],
)
def test_demo_trail_tells_who_did_what_once(tenant_a, users, moment):
    with time_machine.travel(datetime.fromisoformat(moment), tick=False), tenant_scope(tenant_a):
        seed_audit_trail(tenant=tenant_a, users=users, stdout=io.StringIO())
        seed_audit_trail(tenant=tenant_a, users=users, stdout=io.StringIO())
        now = timezone.now()
    trail = entries(tenant_a)
    actions = [e.action for e in trail]
    assert actions.count("tenant.create") == 1  # idempotent
    assert {
        "member.invite",
        "auth.login",
        "auth.login.failed",
        "access.denied",
        "export.observations",
        "access.cross_tenant",
    } <= set(actions)
    assert {e.actor_label for e in trail} >= {users["admin"].username, users["operator"].username}
    assert all(e.created_at <= now for e in trail)
    # Office hours on the tenant's wall clock, in summer and winter time alike.
    local = ZoneInfo(tenant_a.time_zone)
    (created,) = [e for e in trail if e.action == "tenant.create"]
    assert created.created_at.astimezone(local).time() == time(9, 30)
    assert (now - created.created_at).days in (2, 3)
