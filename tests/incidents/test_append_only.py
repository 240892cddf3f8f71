"""The action log and the audit trail cannot be changed or erased: not through the ORM, not by deleting a
tenant or an area, and on PostgreSQL not with SQL either, also not by an application role that tries the
known ways round (SET LOCAL, TRUNCATE, ALTER TABLE ... DISABLE TRIGGER). Only the retention purge function
deletes audit entries, only expired ones, and it leaves an entry of its own."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.actions import action_update
from incidents.models import ActionLogAppendOnlyError, ActionLogEntry, ActionRevision
from tenants.audit import audit_purge, audit_record
from tenants.models import AuditEntry
from tests.factories import make_action

# Stands for the production application role: DML rights, owns nothing. Roles are cluster-wide, so each
# parallel test process (pytest-xdist) has its own.
APP_ROLE = f"csm_test_app_{settings.TEST_WORKER or 'main'}"
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles and triggers")


@pytest.fixture(autouse=True)
def _unscoped():
    """These tests act as a database user would: past the tenant scopes."""
    with scopes_disabled():
        yield


def test_the_orm_refuses_to_delete_or_bulk_change_the_action_log(tenant_a):
    entry = make_action(tenant_a)
    with scopes_disabled():
        revision = ActionRevision.objects.get(entry=entry)
        for attempt in (
            entry.delete,
            revision.delete,
            ActionLogEntry.objects.filter(pk=entry.pk).delete,
            ActionRevision.objects.filter(entry=entry).delete,
            lambda: ActionLogEntry.objects.filter(pk=entry.pk).update(description="rewritten"),
            lambda: ActionRevision.objects.filter(entry=entry).update(changes={}),
        ):
            with pytest.raises(ActionLogAppendOnlyError):
                attempt()
        revision.changes = {"forged": [None, True]}
        with pytest.raises(ActionLogAppendOnlyError):
            revision.save()
        assert ActionLogEntry.objects.filter(pk=entry.pk).exists()


def test_deleting_the_tenant_or_an_area_does_not_reach_the_log(tenant_a):
    entry = make_action(tenant_a)
    with pytest.raises(ProtectedError):
        tenant_a.delete()
    with scopes_disabled():
        area = entry.areas.get()
        from areas.services import area_delete

        assert area_delete(area=area, actor=None) == "archived"
        assert ActionLogEntry.objects.get(pk=entry.pk).areas.get() == area


def _sql(sql: str, params=None, *, role: str | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if role:
            cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute(sql, params)


@postgresql_only
def test_postgresql_keeps_entries_and_allows_only_the_next_revision(tenant_a):
    entry = make_action(tenant_a)
    refused = [
        ("DELETE FROM incidents_actionlogentry WHERE id = %s", "append-only"),
        ("UPDATE incidents_actionlogentry SET description = 'rewritten' WHERE id = %s", "must be revision 2"),
        (
            "UPDATE incidents_actionlogentry SET revision = 2, tenant_id = tenant_id + 1 WHERE id = %s",
            "fixed",
        ),
        # the next revision number, but no revision row to show for it: checked at commit (the test's
        # transaction never commits, so SET CONSTRAINTS asks for the deferred check here)
        (
            "UPDATE incidents_actionlogentry SET revision = 2, description = 'quiet' WHERE id = %s; "
            "SET CONSTRAINTS incidents_actionlogentry_revision IMMEDIATE",
            "no ActionRevision",
        ),
        ("UPDATE incidents_actionrevision SET changes = '{}' WHERE entry_id = %s", "append-only"),
        ("DELETE FROM incidents_actionrevision WHERE entry_id = %s", "append-only"),
    ]
    for sql, message in refused:
        with pytest.raises(DatabaseError, match=message):
            _sql(sql, [entry.pk])
    with scopes_disabled():
        updated = action_update(entry=entry, actor=None, data={"description": "Extra tram to the beach"})
        assert updated.revision == 2 and ActionRevision.objects.filter(entry=entry).count() == 2
        action_update(entry=updated, actor=None, data={"status": "ended"})
    with pytest.raises(DatabaseError, match="closed entry"):
        _sql(
            "INSERT INTO incidents_actionrevision (tenant_id, entry_id, number, at, changes, snapshot) "
            "SELECT tenant_id, id, 4, now(), '{}', '{}' FROM incidents_actionlogentry WHERE id = %s; "
            "UPDATE incidents_actionlogentry SET revision = 4 WHERE id = %s",
            [entry.pk, entry.pk],
        )


@pytest.fixture
def app_role(db):
    """A role like the production application role: read and write rights on every table, owner of none."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
            f"CREATE ROLE {APP_ROLE} NOLOGIN; END IF; END $$;"
        )
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
        cursor.execute(
            f"GRANT EXECUTE ON FUNCTION csm_audit_purge(bigint, timestamptz, integer) TO {APP_ROLE}"
        )
    return APP_ROLE


@postgresql_only
def test_the_application_role_cannot_open_the_audit_trail(tenant_a, app_role):
    entry = audit_record(tenant=tenant_a, actor=None, action="test.entry")
    action = make_action(tenant_a)
    for sql, message in [
        # the old door: a transaction-local setting anyone may set
        ("SET LOCAL csm.audit_purge = 'on'; DELETE FROM tenants_auditentry WHERE id = %s", "append-only"),
        ("UPDATE tenants_auditentry SET action = 'test.forged' WHERE id = %s", "append-only"),
        ("TRUNCATE tenants_auditentry", "permission denied"),
        ("TRUNCATE incidents_actionlogentry CASCADE", "permission denied"),
        ("ALTER TABLE tenants_auditentry DISABLE TRIGGER ALL", "must be owner"),
        (
            "ALTER TABLE incidents_actionlogentry DISABLE TRIGGER incidents_actionlogentry_guard",
            "must be owner",
        ),
        ("DELETE FROM incidents_actionlogentry WHERE id = %s", "append-only"),
        ("SET LOCAL session_replication_role = replica", "permission denied"),
    ]:
        params = [action.pk if "actionlogentry" in sql else entry.pk] if "%s" in sql else None
        with pytest.raises(DatabaseError, match=message):
            _sql(sql, params, role=app_role)
    # Even with the TRUNCATE right, the trigger refuses everyone but the owner.
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT TRUNCATE ON tenants_auditentry TO {app_role}")
    with pytest.raises(DatabaseError, match="TRUNCATE refused"):
        _sql("TRUNCATE tenants_auditentry", role=app_role)
    with scopes_disabled():
        assert AuditEntry.objects.get(pk=entry.pk).action == "test.entry"
        assert ActionLogEntry.objects.filter(pk=action.pk).exists()


@postgresql_only
def test_the_purge_function_deletes_only_expired_entries_and_leaves_a_trace(tenant_a, app_role):
    tenant_a.audit_retention_days = 30
    tenant_a.save()
    now = timezone.now()
    old = AuditEntry(
        tenant=tenant_a, actor_label="system", action="test.old", created_at=now - timedelta(days=31)
    )
    old.save()
    recent = audit_record(tenant=tenant_a, actor=None, action="test.recent")
    # A retention below the floor of 30 days cannot be forced through the function's arguments either.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {app_role}")
        cursor.execute("SELECT csm_audit_purge(%s, %s, %s)", [tenant_a.pk, now, 0])
        assert cursor.fetchone()[0] == 1
    with scopes_disabled():
        assert not AuditEntry.objects.filter(pk=old.pk).exists()
        assert AuditEntry.objects.filter(pk=recent.pk).exists()
        trace = AuditEntry.objects.get(tenant=tenant_a, action="audit.purge")
    assert trace.details["deleted"] == 1 and trace.details["retention_days"] == 30
    assert trace.details["by"] == "csm_audit_purge"
    assert audit_purge(tenant=tenant_a) == 0  # the service goes through the same function
