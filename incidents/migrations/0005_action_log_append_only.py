"""The action log is append-only at the database level (PostgreSQL).

- ``incidents_actionlogentry``: no DELETE; an UPDATE only as the next revision (``revision`` one higher)
  of an entry that is not closed, keeping tenant, author, organisation and creation time; a deferred
  constraint trigger checks at commit that the ActionRevision row of that revision exists, so every
  change is in the (immutable) revision history.
- ``incidents_actionrevision``: no UPDATE, no DELETE.
- Both: no TRUNCATE except by the table owner (``csm_refuse_truncate`` from tenants 0007).
- Foreign keys from the tenant and between entries, revisions and outcomes PROTECT instead of CASCADE.

The application role is not the owner, so it cannot disable the triggers (docs/operations.md).
"""

import django.db.models.deletion
from django.db import migrations, models

PG_FORWARD = r"""
CREATE OR REPLACE FUNCTION incidents_actionlogentry_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'incidents_actionlogentry is append-only: DELETE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status IN ('ended', 'cancelled') THEN
        RAISE EXCEPTION 'incidents_actionlogentry %: a closed entry cannot change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.revision <> OLD.revision + 1 THEN
        RAISE EXCEPTION 'incidents_actionlogentry %: an update must be revision %, not %',
            OLD.id, OLD.revision + 1, NEW.revision USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id <> OLD.id OR NEW.tenant_id <> OLD.tenant_id OR NEW.created_at <> OLD.created_at
       OR NEW.created_by_id IS DISTINCT FROM OLD.created_by_id OR NEW.organisation <> OLD.organisation THEN
        RAISE EXCEPTION 'incidents_actionlogentry %: tenant, author, organisation and creation time are fixed',
            OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION incidents_actionlogentry_revision_exists() RETURNS trigger AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM incidents_actionrevision WHERE entry_id = NEW.id AND number = NEW.revision) THEN
        RAISE EXCEPTION 'incidents_actionlogentry %: revision % has no ActionRevision row', NEW.id, NEW.revision
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION incidents_actionrevision_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'incidents_actionrevision is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER incidents_actionlogentry_guard BEFORE UPDATE OR DELETE ON incidents_actionlogentry
    FOR EACH ROW EXECUTE FUNCTION incidents_actionlogentry_guard();
CREATE CONSTRAINT TRIGGER incidents_actionlogentry_revision AFTER UPDATE ON incidents_actionlogentry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION incidents_actionlogentry_revision_exists();
CREATE TRIGGER incidents_actionlogentry_no_truncate BEFORE TRUNCATE ON incidents_actionlogentry
    FOR EACH STATEMENT EXECUTE FUNCTION csm_refuse_truncate();
CREATE TRIGGER incidents_actionrevision_guard BEFORE UPDATE OR DELETE ON incidents_actionrevision
    FOR EACH ROW EXECUTE FUNCTION incidents_actionrevision_guard();
CREATE TRIGGER incidents_actionrevision_no_truncate BEFORE TRUNCATE ON incidents_actionrevision
    FOR EACH STATEMENT EXECUTE FUNCTION csm_refuse_truncate();
"""

PG_BACKWARD = r"""
DROP TRIGGER IF EXISTS incidents_actionlogentry_guard ON incidents_actionlogentry;
DROP TRIGGER IF EXISTS incidents_actionlogentry_revision ON incidents_actionlogentry;
DROP TRIGGER IF EXISTS incidents_actionlogentry_no_truncate ON incidents_actionlogentry;
DROP TRIGGER IF EXISTS incidents_actionrevision_guard ON incidents_actionrevision;
DROP TRIGGER IF EXISTS incidents_actionrevision_no_truncate ON incidents_actionrevision;
DROP FUNCTION IF EXISTS incidents_actionlogentry_guard();
DROP FUNCTION IF EXISTS incidents_actionlogentry_revision_exists();
DROP FUNCTION IF EXISTS incidents_actionrevision_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0004_webhook_events_attachments"),
        ("tenants", "0007_audit_purge_function"),
    ]

    operations = [
        migrations.AlterField(
            model_name="actionlogentry",
            name="tenant",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="actions", to="tenants.tenant"
            ),
        ),
        migrations.AlterField(
            model_name="actionrevision",
            name="entry",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="revisions",
                to="incidents.actionlogentry",
            ),
        ),
        migrations.AlterField(
            model_name="actionrevision",
            name="tenant",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenants.tenant"
            ),
        ),
        migrations.AlterField(
            model_name="outcome",
            name="action",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="outcomes",
                to="incidents.actionlogentry",
            ),
        ),
        migrations.AlterField(
            model_name="outcome",
            name="tenant",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenants.tenant"
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
