"""Make the audit journal append-only in the database itself, not only in the admin.

PostgreSQL refuses UPDATE and DELETE of journal rows. SQLite (the embedded default) refuses
UPDATE; DELETE stays possible there because the test runner empties tables with DELETE between
tests. TRUNCATE (used by PostgreSQL test teardown and by a restore) is a deliberate operator act
and is not blocked.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION accounts_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'accounts_auditentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_audit_no_update BEFORE UPDATE OR DELETE ON accounts_auditentry
    FOR EACH ROW EXECUTE FUNCTION accounts_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS accounts_audit_no_update ON accounts_auditentry;
DROP FUNCTION IF EXISTS accounts_audit_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER accounts_audit_no_update BEFORE UPDATE ON accounts_auditentry
BEGIN SELECT RAISE(ABORT, 'accounts_auditentry is append-only (UPDATE refused)'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS accounts_audit_no_update;"


def _apply(up: bool):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        sql = {"postgresql": (POSTGRES_UP, POSTGRES_DOWN), "sqlite": (SQLITE_UP, SQLITE_DOWN)}.get(vendor)
        if sql is None:
            return
        statement = sql[0] if up else sql[1]
        if vendor == "sqlite":
            # A trigger body holds semicolons; executescript runs it whole.
            schema_editor.connection.connection.executescript(statement)
        else:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(_apply(True), _apply(False))]
