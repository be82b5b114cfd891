"""Low-level ledger plumbing shared by every wallet service: the one balance-locking
helper and the one posting function. Nothing here opens a transaction; each function
asserts that its caller did.

Locking contract (the whole app follows it, which is what keeps order entry, settlement
and withdrawals from deadlocking each other): a transaction locks all the balance rows
it will change in **one** call to ``balances_select_for_update``, which takes them
``FOR UPDATE`` in primary-key order in one query, before it changes any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext

from django.db import connection
from django.db.models import Sum
from psycopg.types.json import Jsonb

from wallets.models import Account, Balance, JournalEntry, LedgerLine

# NUMERIC(38, 18) sums need more than Decimal's default 28 significant digits.
MONEY_CONTEXT = Context(prec=80)

_BALANCE = Balance._meta.db_table
_ENTRY = JournalEntry._meta.db_table
_LINE = LedgerLine._meta.db_table
_USER_ACCOUNTS = (Account.AVAILABLE.value, Account.LOCKED.value)


def require_transaction() -> None:
    assert connection.in_atomic_block, "wallet services must run inside a transaction"


@dataclass(slots=True)
class LockedBalance:
    id: int
    user_id: int
    asset_id: int
    available: Decimal
    locked: Decimal


def balances_select_for_update(
    keys: Iterable[tuple[int, int]],
) -> dict[tuple[int, int], LockedBalance]:
    """Locks the balance rows of ``keys`` ((user_id, asset_id) pairs) and returns them.

    Precondition: inside a transaction. Missing rows are created first (one
    ``INSERT ... ON CONFLICT DO NOTHING`` in key order), then every row is taken
    ``FOR UPDATE`` in primary-key order in one query. Two queries whatever the number
    of keys; O(k log k)."""
    require_transaction()
    unique = sorted(set(keys))
    if not unique:
        return {}
    users = [k[0] for k in unique]
    assets = [k[1] for k in unique]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {_BALANCE} (user_id, asset_id, available, locked, updated_at)
                SELECT k.u, k.a, 0, 0, now()
                FROM unnest(%s::bigint[], %s::bigint[]) AS k(u, a)
                WHERE NOT EXISTS (SELECT 1 FROM {_BALANCE} b
                                  WHERE b.user_id = k.u AND b.asset_id = k.a)
                ORDER BY k.u, k.a
                ON CONFLICT (user_id, asset_id) DO NOTHING""",  # noqa: S608 - table names
            [users, assets],
        )
        cursor.execute(
            f"""SELECT b.id, b.user_id, b.asset_id, b.available, b.locked
                FROM {_BALANCE} b
                JOIN unnest(%s::bigint[], %s::bigint[]) AS k(u, a)
                  ON b.user_id = k.u AND b.asset_id = k.a
                ORDER BY b.id
                FOR UPDATE OF b""",  # noqa: S608
            [users, assets],
        )
        rows = cursor.fetchall()
    locked = {(r[1], r[2]): LockedBalance(*r) for r in rows}
    assert len(locked) == len(unique)
    return locked


@dataclass(slots=True)
class EntrySpec:
    """A journal entry to post. ``lines`` are (account, user_id | None, asset_id, amount);
    lines with the same (account, user, asset) are merged and zero lines dropped."""

    kind: str
    ref_type: str
    ref_id: str
    lines: list[tuple[str, int | None, int, Decimal]]
    detail: dict | None = None
    created_by_id: int | None = None
    merged: dict[tuple[str, int | None, int], Decimal] = field(default_factory=dict)

    def merge(self) -> dict[tuple[str, int | None, int], Decimal]:
        merged: dict[tuple[str, int | None, int], Decimal] = {}
        with localcontext(MONEY_CONTEXT):
            for account, user_id, asset_id, amount in self.lines:
                key = (account, user_id, asset_id)
                merged[key] = merged.get(key, Decimal(0)) + amount
            per_asset: dict[int, Decimal] = {}
            for (_, _, asset_id), amount in merged.items():
                per_asset[asset_id] = per_asset.get(asset_id, Decimal(0)) + amount
        unbalanced = {a: s for a, s in per_asset.items() if s != 0}
        if unbalanced:
            raise ValueError(f"unbalanced journal entry {self.kind}: {unbalanced}")
        self.merged = {k: v for k, v in merged.items() if v != 0}
        return self.merged


def balance_deltas(entries: Sequence[EntrySpec]) -> dict[tuple[int, int], list[Decimal]]:
    """(user_id, asset_id) → [Δavailable, Δlocked] over the entries' user lines."""
    deltas: dict[tuple[int, int], list[Decimal]] = {}
    with localcontext(MONEY_CONTEXT):
        for spec in entries:
            for (account, user_id, asset_id), amount in (spec.merged or spec.merge()).items():
                if account not in _USER_ACCOUNTS:
                    continue
                delta = deltas.setdefault((user_id, asset_id), [Decimal(0), Decimal(0)])
                delta[0 if account == Account.AVAILABLE else 1] += amount
    return deltas


def ledger_post(entries: Sequence[EntrySpec]) -> list[int]:
    """Inserts the entries and their lines and applies them to the balance rows, in
    three or four set-based statements whatever the batch size.

    Precondition: inside a transaction, and every balance row a user line touches is
    locked by it (``balances_select_for_update``) with enough funds: a negative result
    violates the balance CHECK constraints (IntegrityError) rather than being clamped.
    Each entry must balance per asset (ValueError here; the deferred trigger re-checks
    at commit). Returns the entry ids in order."""
    require_transaction()
    entries = [e for e in entries if (e.merged or e.merge())]
    if not entries:
        return []
    deltas = balance_deltas(entries)
    with connection.cursor() as cursor:
        if len(entries) == 1:
            e = entries[0]
            cursor.execute(
                f"""INSERT INTO {_ENTRY} (kind, ref_type, ref_id, detail, created_by_id)
                    VALUES (%s, %s, %s, %s, %s) RETURNING id""",  # noqa: S608
                [e.kind, e.ref_type, e.ref_id, _json(e.detail), e.created_by_id],
            )
            ids = [cursor.fetchone()[0]]
        else:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [_ENTRY, len(entries)],
            )
            ids = [r[0] for r in cursor.fetchall()]
            cursor.execute(
                f"""INSERT INTO {_ENTRY} (id, kind, ref_type, ref_id, detail, created_by_id)
                    SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[],
                                         %s::varchar[], %s::jsonb[], %s::bigint[])""",  # noqa: S608
                [ids, [e.kind for e in entries], [e.ref_type for e in entries],
                 [e.ref_id for e in entries], [_json(e.detail) for e in entries],
                 [e.created_by_id for e in entries]],
            )
        cols: tuple[list, list, list, list, list] = ([], [], [], [], [])
        for entry_id, e in zip(ids, entries, strict=True):
            for (account, user_id, asset_id), amount in e.merged.items():
                cols[0].append(entry_id)
                cols[1].append(account)
                cols[2].append(user_id)
                cols[3].append(asset_id)
                cols[4].append(amount)
        cursor.execute(
            f"""INSERT INTO {_LINE} (entry_id, account, user_id, asset_id, amount)
                SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[],
                                     %s::bigint[], %s::numeric[])""",  # noqa: S608
            list(cols),
        )
        if deltas:
            keys = list(deltas)
            cursor.execute(
                f"""UPDATE {_BALANCE} b
                    SET available = b.available + v.da, locked = b.locked + v.dl,
                        updated_at = now()
                    FROM unnest(%s::bigint[], %s::bigint[], %s::numeric[], %s::numeric[])
                         AS v(u, a, da, dl)
                    WHERE b.user_id = v.u AND b.asset_id = v.a""",  # noqa: S608
                [[k[0] for k in keys], [k[1] for k in keys],
                 [deltas[k][0] for k in keys], [deltas[k][1] for k in keys]],
            )
            assert cursor.rowcount == len(keys), "balance rows must be locked first"
    return ids


def _json(value):
    return None if value is None else Jsonb(value)


def balance_recompute(*, user_id: int, asset_id: int) -> tuple[Decimal, Decimal]:
    """(available, locked) of a user and asset recomputed from the ledger lines alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT coalesce(sum(amount) FILTER (WHERE account = 'available'), 0),
                       coalesce(sum(amount) FILTER (WHERE account = 'locked'), 0)
                FROM {_LINE} WHERE user_id = %s AND asset_id = %s""",  # noqa: S608
            [user_id, asset_id],
        )
        available, locked = cursor.fetchone()
    return available, locked


def account_recompute(*, account: str, asset_id: int, user_id: int | None = None) -> Decimal:
    """Any account's balance recomputed from the lines (fee income, outside world...)."""
    qs = LedgerLine.objects.filter(account=account, asset_id=asset_id, user_id=user_id)
    total = qs.aggregate(s=Sum("amount"))["s"]
    return total or Decimal(0)
