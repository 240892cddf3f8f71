"""Database roles on PostgreSQL: the application role gets rights, never ownership (docs/operations.md).

- The **migration role** (``MIGRATION_DATABASE_URL``) owns the schema: ``manage.py migrate`` runs as it.
- The **application role** (``DATABASE_URL``) reads and writes rows. It owns no table, so it cannot
  ``ALTER TABLE ... DISABLE TRIGGER``, has no TRUNCATE right, and cannot set ``session_replication_role``;
  the append-only triggers of the audit trail and the action log hold against it.
- ``csm_audit_purger`` (NOLOGIN, created by tenants migration 0007) owns ``csm_audit_purge``, the only way
  an audit entry is deleted.

After ``migrate`` (with ``MIGRATION_DATABASE_URL`` set) :func:`grant_application_role` gives the
application role what it needs. :func:`check` verifies a deployment (``manage.py check_db_roles``).
"""

# ruff: noqa: S608  (the probes name fixed tables of this module, never input)

from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction

PURGE_FUNCTION = "csm_audit_purge(bigint, timestamptz, integer)"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant_application_role(role: str, *, using=connection) -> None:
    """Rows, sequences and the purge function for ``role``; nothing else (no TRUNCATE, no ownership)."""
    role = _quoted(role)
    with using.cursor() as cursor:
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {role}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {PURGE_FUNCTION} TO {role}")


def on_post_migrate(sender, using="default", **kwargs) -> None:
    """After ``migrate`` as the migration role: grant the application role (when the two differ)."""
    from django.db import connections

    db = connections[using]
    app_user = settings.APP_DATABASE_USER
    if db.vendor != "postgresql" or not settings.MIGRATION_DATABASE_URL or not app_user:
        return
    if db.settings_dict.get("USER") == app_user:
        return
    grant_application_role(app_user, using=db)


@dataclass
class Finding:
    check: str
    ok: bool
    detail: str


class _RolledBackError(Exception):
    """Raised to undo a probe that the database allowed."""


def _refused(sql: str) -> tuple[bool, str]:
    """True when ``sql`` fails as the current connection's role (nothing is kept either way)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
            raise _RolledBackError
    except _RolledBackError:
        return False, "it was allowed (and rolled back)"
    except DatabaseError as exc:
        return True, str(exc).splitlines()[0]


def _first_row(table: str) -> str:
    return f"id = (SELECT min(id) FROM {table})"


AUDIT, ACTIONS, REVISIONS = "tenants_auditentry", "incidents_actionlogentry", "incidents_actionrevision"
PROBES = [
    ("audit UPDATE refused", AUDIT, f"UPDATE {AUDIT} SET action = action WHERE {_first_row(AUDIT)}"),
    ("audit DELETE refused", AUDIT, f"DELETE FROM {AUDIT} WHERE {_first_row(AUDIT)}"),
    (
        "the old purge setting is no door",
        AUDIT,
        f"SET LOCAL csm.audit_purge = 'on'; DELETE FROM {AUDIT} WHERE {_first_row(AUDIT)}",
    ),
    ("audit TRUNCATE refused", None, f"TRUNCATE {AUDIT}"),
    ("triggers cannot be disabled", None, f"ALTER TABLE {AUDIT} DISABLE TRIGGER ALL"),
    ("replication role cannot be set", None, "SET LOCAL session_replication_role = replica"),
    ("action log DELETE refused", ACTIONS, f"DELETE FROM {ACTIONS} WHERE {_first_row(ACTIONS)}"),
    ("action log TRUNCATE refused", None, f"TRUNCATE {ACTIONS} CASCADE"),
    (
        "revisions UPDATE refused",
        REVISIONS,
        f"UPDATE {REVISIONS} SET changes = changes WHERE {_first_row(REVISIONS)}",
    ),
]


def check() -> list[Finding]:
    """Probe, as the connected role, that the database holds what the roles promise. Changes nothing.
    A probe of a row on an empty table cannot show anything and fails with that reason."""
    if connection.vendor != "postgresql":
        return [Finding("database", False, "not PostgreSQL: roles and triggers apply to PostgreSQL only")]
    findings = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        owned = cursor.fetchone()[0]
    findings.append(Finding("not a superuser", not superuser, f"connected as {user}"))
    findings.append(Finding("owns no table", owned == 0, f"{user} owns {owned} table(s) in public"))
    for name, table, sql in PROBES:
        refused, detail = _refused(sql)
        if not refused and table:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {table}")
                if cursor.fetchone()[0] == 0:
                    detail = f"{table} is empty, so this could not be probed"
        findings.append(Finding(name, refused, detail))
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_function_privilege(current_user, %s, 'EXECUTE')", [PURGE_FUNCTION])
        may_purge = cursor.fetchone()[0]
    findings.append(Finding("may run the retention purge", may_purge, PURGE_FUNCTION))
    return findings
