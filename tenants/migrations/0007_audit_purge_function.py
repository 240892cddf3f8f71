"""Close the audit trail's purge door to the application (PostgreSQL).

Before: the append-only trigger let a DELETE through when the transaction-local setting
``csm.audit_purge`` was 'on', and any connection may ``SET LOCAL`` a custom setting. Now:

- DELETE passes the trigger only when ``current_user`` is ``csm_audit_purger``, a NOLOGIN role that owns
  one SECURITY DEFINER function, ``csm_audit_purge(tenant_id, now, platform_days)``. The function deletes
  only entries past the retention (the tenant's ``audit_retention_days``, at least 30; platform entries:
  ``platform_days``, at least 30) and writes an ``audit.purge`` entry of its own, dated at the time it
  purged relative to and naming the cut-off: a purge cannot happen without leaving that trace. No other
  code path can delete an entry.
- TRUNCATE is refused by a statement trigger for everyone but the table's owner (the migration role; the
  test runner's flush between transactional tests runs as owner). The application role is not the owner,
  so it can neither truncate nor ``ALTER TABLE ... DISABLE TRIGGER``; see docs/operations.md for the roles.

Creating ``csm_audit_purger`` needs CREATEROLE, or a DBA who ran ``CREATE ROLE csm_audit_purger NOLOGIN``
and ``GRANT csm_audit_purger TO <migration role>`` first (docs/operations.md).
"""

from django.db import migrations

PG_FORWARD = r"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'csm_audit_purger') THEN
        CREATE ROLE csm_audit_purger NOLOGIN;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION tenants_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = 'csm_audit_purger' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'tenants_auditentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION csm_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_user = (SELECT tableowner FROM pg_tables
                       WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS tenants_auditentry_no_truncate ON tenants_auditentry;
CREATE TRIGGER tenants_auditentry_no_truncate BEFORE TRUNCATE ON tenants_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION csm_refuse_truncate();

CREATE OR REPLACE FUNCTION csm_audit_purge(p_tenant_id bigint, p_now timestamptz, p_platform_days integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_days integer;
    v_now timestamptz;
    v_cutoff timestamptz;
    v_deleted integer;
BEGIN
    v_now := COALESCE(p_now, now());
    IF p_tenant_id IS NULL THEN
        v_days := GREATEST(COALESCE(p_platform_days, 730), 30);
    ELSE
        SELECT GREATEST(audit_retention_days, 30) INTO v_days FROM tenants_tenant WHERE id = p_tenant_id;
        IF v_days IS NULL THEN
            RAISE EXCEPTION 'no tenant %', p_tenant_id;
        END IF;
    END IF;
    v_cutoff := v_now - make_interval(days => v_days);
    DELETE FROM tenants_auditentry
        WHERE tenant_id IS NOT DISTINCT FROM p_tenant_id AND created_at < v_cutoff;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    IF v_deleted > 0 THEN
        INSERT INTO tenants_auditentry (tenant_id, actor_id, actor_label, action, object_type, object_id,
                                        object_label, result, ip_address, user_agent, request_id, details,
                                        created_at)
        VALUES (p_tenant_id, NULL, 'system', 'audit.purge', '', '', '', 'success', NULL, '', '',
                jsonb_build_object('deleted', v_deleted, 'older_than', v_cutoff,
                                   'retention_days', v_days, 'by', 'csm_audit_purge'),
                v_now);
    END IF;
    RETURN v_deleted;
END;
$$;

GRANT SELECT ON tenants_tenant TO csm_audit_purger;
GRANT SELECT, INSERT, DELETE ON tenants_auditentry TO csm_audit_purger;
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO csm_audit_purger',
                   pg_get_serial_sequence('tenants_auditentry', 'id'));
END
$$;
-- Handing the function to csm_audit_purger needs membership of it and, for that moment, CREATE on the schema.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'csm_audit_purger', 'MEMBER') THEN
        GRANT csm_audit_purger TO CURRENT_USER;
    END IF;
END
$$;
GRANT CREATE ON SCHEMA public TO csm_audit_purger;
ALTER FUNCTION csm_audit_purge(bigint, timestamptz, integer) OWNER TO csm_audit_purger;
REVOKE CREATE ON SCHEMA public FROM csm_audit_purger;
REVOKE ALL ON FUNCTION csm_audit_purge(bigint, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION csm_audit_purge(bigint, timestamptz, integer) TO CURRENT_USER;
"""

PG_BACKWARD = r"""
DROP FUNCTION IF EXISTS csm_audit_purge(bigint, timestamptz, integer);
DROP TRIGGER IF EXISTS tenants_auditentry_no_truncate ON tenants_auditentry;
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


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0006_login_throttle")]

    operations = [migrations.RunPython(forward, backward)]
