"""Database guards of the ledger.

1. Every journal entry's lines sum to zero per asset, checked at COMMIT by a
   DEFERRABLE INITIALLY DEFERRED constraint trigger on the lines. The trigger fires per
   line; to keep settlement batches cheap it checks an entry once and remembers (in a
   transaction-local setting) the entry and the highest line id it saw, skipping later
   lines of that entry that the check already covered.
2. Lines are append-only: UPDATE and DELETE raise (statement-level trigger). TRUNCATE
   stays possible for test database flushes.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION wallets_ledger_entry_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    seen text := current_setting('wallets.checked_entry', true);
    bad record;
    max_line bigint;
BEGIN
    IF seen IS NOT NULL AND seen <> '' THEN
        IF split_part(seen, ':', 1)::bigint = NEW.entry_id
           AND NEW.id <= split_part(seen, ':', 2)::bigint THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT max(id) INTO max_line FROM wallets_ledgerline WHERE entry_id = NEW.entry_id;
    SELECT asset_id, sum(amount) AS total INTO bad
      FROM wallets_ledgerline WHERE entry_id = NEW.entry_id
      GROUP BY asset_id HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % is unbalanced for asset % (sum %)',
            NEW.entry_id, bad.asset_id, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('wallets.checked_entry', NEW.entry_id || ':' || max_line, true);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER wallets_ledgerline_balanced
    AFTER INSERT ON wallets_ledgerline
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallets_ledger_entry_balanced();

CREATE FUNCTION wallets_ledgerline_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger lines are append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER wallets_ledgerline_no_update_delete
    BEFORE UPDATE OR DELETE ON wallets_ledgerline
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_ledgerline_append_only();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS wallets_ledgerline_no_update_delete ON wallets_ledgerline;
DROP FUNCTION IF EXISTS wallets_ledgerline_append_only();
DROP TRIGGER IF EXISTS wallets_ledgerline_balanced ON wallets_ledgerline;
DROP FUNCTION IF EXISTS wallets_ledger_entry_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [("wallets", "0002_reconciliationrun_journalentry_ledgerline_withdrawal_and_more")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
