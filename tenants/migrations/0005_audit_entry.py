"""The audit trail: AuditEntry, append-only by triggers (see docs/audit.md).

PostgreSQL: BEFORE UPDATE and BEFORE DELETE row triggers raise, unless the transaction-local setting
``csm.audit_purge`` is 'on'; only the retention purge (tenants.audit.audit_purge) sets it, with SET LOCAL.
SQLite: a BEFORE UPDATE trigger aborts every update. Deletes are refused by the model and its queryset;
a SQLite delete trigger is left out because Django's ``flush`` (test teardown, ``manage.py flush``) empties
tables with DELETE on SQLite (with TRUNCATE on PostgreSQL, which row triggers do not see).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tenants_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('csm.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'tenants_auditentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
PG_TRIGGERS = """
CREATE TRIGGER tenants_auditentry_no_update BEFORE UPDATE ON tenants_auditentry
    FOR EACH ROW EXECUTE FUNCTION tenants_auditentry_append_only();
CREATE TRIGGER tenants_auditentry_no_delete BEFORE DELETE ON tenants_auditentry
    FOR EACH ROW EXECUTE FUNCTION tenants_auditentry_append_only();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS tenants_auditentry_no_update ON tenants_auditentry;
DROP TRIGGER IF EXISTS tenants_auditentry_no_delete ON tenants_auditentry;
DROP FUNCTION IF EXISTS tenants_auditentry_append_only();
"""
SQLITE_TRIGGER = """
CREATE TRIGGER tenants_auditentry_no_update BEFORE UPDATE ON tenants_auditentry
BEGIN
    SELECT RAISE(ABORT, 'tenants_auditentry is append-only: UPDATE refused');
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS tenants_auditentry_no_update;"


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        schema_editor.execute(PG_TRIGGERS, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_tenant_mfa_and_audit_retention"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "actor_label",
                    models.CharField(
                        help_text="User name, 'system' or a command, at the time.", max_length=150
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        help_text="Dotted name, e.g. 'member.update'; see docs/audit.md.", max_length=100
                    ),
                ),
                ("object_type", models.CharField(blank=True, max_length=100)),
                ("object_id", models.CharField(blank=True, max_length=64)),
                ("object_label", models.CharField(blank=True, max_length=200)),
                (
                    "result",
                    models.CharField(
                        choices=[
                            ("success", "success"),
                            ("denied", "denied"),
                            ("failed", "failed"),
                            ("error", "error"),
                        ],
                        default="success",
                        max_length=10,
                    ),
                ),
                ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                ("user_agent", models.CharField(blank=True, max_length=300)),
                ("request_id", models.CharField(blank=True, max_length=64)),
                (
                    "details",
                    models.JSONField(
                        blank=True, default=dict, help_text="Changes and context; secrets redacted."
                    ),
                ),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="audit_entries",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "audit entries",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time"),
                    models.Index(fields=["tenant", "action"], name="audit_tenant_action"),
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
