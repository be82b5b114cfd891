"""Cheaper ledger guards for the settlement hot path (docs/PERFORMANCE-settle.md).

Before, COMMIT of a 1,000-trade batch ran ~4 deferred trigger events per ledger line
(the balance check and three foreign-key checks). Now one statement-level AFTER INSERT
trigger with a transition table does the same work set-based, once per INSERT/COPY
statement, in the same transaction, before the statement returns (the touched ids are
collected into arrays first so that every lookup is an index probe, whatever the
planner would guess about the transition table):

1. every entry the statement touched sums to zero per asset over *all* its lines (old
   lines included, so a line added to an old entry must keep it balanced), else
   ``check_violation``. An entry's lines must therefore be written in one statement
   (``wallets.ledger.ledger_post`` does);
2. every line's entry, user and asset exist, else ``foreign_key_violation`` (the
   per-row foreign keys of the lines are dropped; Django keeps ``on_delete=PROTECT``);
3. journal entries become immutable like their lines (UPDATE/DELETE refused), so a
   line's entry cannot disappear; users and assets are never deleted (PROTECT, and the
   real foreign keys of ``Balance``).

The single-column indexes on ``user_id``/``asset_id`` (covered by the composite indexes)
go, and (asset, account) is indexed for the exchange's own accounts only. The append-only
trigger on lines (0003) stays.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


FORWARD = r"""
DROP TRIGGER wallets_ledgerline_balanced ON wallets_ledgerline;
DROP FUNCTION wallets_ledger_entry_balanced();

CREATE FUNCTION wallets_ledger_lines_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    entry_ids bigint[];
    user_ids bigint[];
    asset_ids bigint[];
    bad record;
BEGIN
    SELECT array_agg(DISTINCT entry_id),
           coalesce(array_agg(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL), '{}'),
           array_agg(DISTINCT asset_id)
      INTO entry_ids, user_ids, asset_ids
      FROM new_lines;
    IF entry_ids IS NULL THEN
        RETURN NULL;
    END IF;
    IF (SELECT count(*) FROM wallets_journalentry WHERE id = ANY (entry_ids))
            <> cardinality(entry_ids)
       OR (SELECT count(*) FROM accounts_user WHERE id = ANY (user_ids))
            <> cardinality(user_ids)
       OR (SELECT count(*) FROM wallets_asset WHERE id = ANY (asset_ids))
            <> cardinality(asset_ids) THEN
        RAISE EXCEPTION 'ledger line refers to a missing journal entry, user or asset '
                        '(entries %, users %, assets %)', entry_ids, user_ids, asset_ids
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT l.entry_id, l.asset_id, sum(l.amount) AS total INTO bad
      FROM wallets_ledgerline l
     WHERE l.entry_id = ANY (entry_ids)
     GROUP BY l.entry_id, l.asset_id
    HAVING sum(l.amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % is unbalanced for asset % (sum %)',
            bad.entry_id, bad.asset_id, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER wallets_ledgerline_balanced
    AFTER INSERT ON wallets_ledgerline
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_ledger_lines_check();

CREATE FUNCTION wallets_journalentry_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal entries are immutable (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER wallets_journalentry_no_update_delete
    BEFORE UPDATE OR DELETE ON wallets_journalentry
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_journalentry_immutable();
"""

BACKWARD = r"""
DROP TRIGGER wallets_journalentry_no_update_delete ON wallets_journalentry;
DROP FUNCTION wallets_journalentry_immutable();
DROP TRIGGER wallets_ledgerline_balanced ON wallets_ledgerline;
DROP FUNCTION wallets_ledger_lines_check();

CREATE FUNCTION wallets_ledger_entry_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT asset_id, sum(amount) AS total INTO bad
      FROM wallets_ledgerline WHERE entry_id = NEW.entry_id
      GROUP BY asset_id HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % is unbalanced for asset % (sum %)',
            NEW.entry_id, bad.asset_id, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER wallets_ledgerline_balanced
    AFTER INSERT ON wallets_ledgerline
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallets_ledger_entry_balanced();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0003_ledger_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='ledgerline',
            name='ledgerline_asset_account',
        ),
        migrations.AlterField(
            model_name='ledgerline',
            name='asset',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallets.asset'),
        ),
        migrations.AlterField(
            model_name='ledgerline',
            name='entry',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='wallets.journalentry'),
        ),
        migrations.AlterField(
            model_name='ledgerline',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='ledgerline',
            index=models.Index(condition=models.Q(('user__isnull', True)), fields=['asset', 'account'], name='ledgerline_house_accounts'),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
