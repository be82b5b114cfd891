"""The staff audit log is append-only in the database too: UPDATE and DELETE raise."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION exchange_staffauditlog_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the staff audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER exchange_staffauditlog_append_only
    BEFORE UPDATE OR DELETE ON exchange_staffauditlog
    FOR EACH ROW EXECUTE FUNCTION exchange_staffauditlog_forbid_change();
CREATE TRIGGER exchange_staffauditlog_no_truncate
    BEFORE TRUNCATE ON exchange_staffauditlog
    FOR EACH STATEMENT EXECUTE FUNCTION exchange_staffauditlog_forbid_change();
"""

ALLOW = """
DROP TRIGGER IF EXISTS exchange_staffauditlog_no_truncate ON exchange_staffauditlog;
DROP TRIGGER IF EXISTS exchange_staffauditlog_append_only ON exchange_staffauditlog;
DROP FUNCTION IF EXISTS exchange_staffauditlog_forbid_change();
"""


class Migration(migrations.Migration):
    dependencies = [("exchange", "0001_initial")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
