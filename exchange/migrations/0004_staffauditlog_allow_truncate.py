"""Drop the TRUNCATE guard on the staff audit log: Django's transactional tests and
``flush`` empty every table with TRUNCATE. The row triggers (UPDATE/DELETE) stay; in
production the application's database role is not granted TRUNCATE (docs/BACKOFFICE.md)."""

from django.db import migrations

DROP = "DROP TRIGGER IF EXISTS exchange_staffauditlog_no_truncate ON exchange_staffauditlog;"
CREATE = """
CREATE TRIGGER exchange_staffauditlog_no_truncate
    BEFORE TRUNCATE ON exchange_staffauditlog
    FOR EACH STATEMENT EXECUTE FUNCTION exchange_staffauditlog_forbid_change();
"""


class Migration(migrations.Migration):
    dependencies = [("exchange", "0003_roles")]

    operations = [migrations.RunSQL(DROP, CREATE)]
