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
_ACCOUNTS = frozenset(Account.values)


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
            [_array(users), _array(assets)],
        )
        cursor.execute(
            f"""SELECT b.id, b.user_id, b.asset_id, b.available, b.locked
                FROM {_BALANCE} b
                JOIN unnest(%s::bigint[], %s::bigint[]) AS k(u, a)
                  ON b.user_id = k.u AND b.asset_id = k.a
                ORDER BY b.id
                FOR UPDATE OF b""",  # noqa: S608
            [_array(users), _array(assets)],
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
        return self._set_totals(merged)

    @classmethod
    def from_totals(cls, kind: str, ref_type: str, ref_id: str,
                    totals: dict[tuple[str, int | None, int], Decimal],
                    detail: dict | None = None) -> EntrySpec:
        """An entry from lines already merged per (account, user, asset) (the settlement
        path aggregates in one pass instead of building a line per leg)."""
        spec = cls(kind, ref_type, ref_id, [], detail=detail)
        spec._set_totals(totals)
        return spec

    def _set_totals(self, merged: dict[tuple[str, int | None, int], Decimal],
                    ) -> dict[tuple[str, int | None, int], Decimal]:
        per_asset: dict[int, Decimal] = {}
        with localcontext(MONEY_CONTEXT):
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


def ledger_post(entries: Sequence[EntrySpec],
                deltas: dict[tuple[int, int], list[Decimal]] | None = None) -> list[int]:
    """Inserts the entries and their lines and applies them to the balance rows, in ONE
    statement whatever the batch size (data-modifying CTEs: entry ids from the sequence,
    entries, lines, balance updates). ``deltas`` is ``balance_deltas(entries)`` if the
    caller already has it.

    Precondition: inside a transaction, and every balance row a user line touches is
    locked by it (``balances_select_for_update``) with enough funds: a negative result
    violates the balance CHECK constraints (IntegrityError) rather than being clamped.
    Each entry must balance per asset (ValueError here; the ledger trigger re-checks at
    the end of the statement, which writes all of an entry's lines). Returns the entry
    ids in order.

    The array parameters are passed as literals built here (``_array``): Django's
    client-side cursor would otherwise adapt them element by element, which cost ~20 ms
    on a 1,000-trade settlement batch."""
    require_transaction()
    entries = [e for e in entries if (e.merged or e.merge())]
    if not entries:
        return []
    if deltas is None:
        deltas = balance_deltas(entries)
    ordinals: list[int] = []
    accounts: list[str] = []
    users: list[int | None] = []
    assets: list[int] = []
    amounts: list[Decimal] = []
    for ordinal, e in enumerate(entries, start=1):
        ordinals.extend([ordinal] * len(e.merged))
        for (account, user_id, asset_id), amount in e.merged.items():
            accounts.append(account)
            users.append(user_id)
            assets.append(asset_id)
            amounts.append(amount)
    if not _ACCOUNTS.issuperset(accounts):
        raise ValueError(f"unknown ledger account in {set(accounts) - _ACCOUNTS}")
    keys = list(deltas)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH ids AS MATERIALIZED (
                    SELECT ord, nextval(pg_get_serial_sequence('{_ENTRY}', 'id')) AS id
                    FROM generate_series(1, %s) AS ord ORDER BY ord),
                entries AS (
                    INSERT INTO {_ENTRY} (id, kind, ref_type, ref_id, detail, created_by_id)
                    SELECT ids.id, x.kind, x.ref_type, x.ref_id, x.detail, x.created_by_id
                    FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::jsonb[],
                                %s::bigint[]) WITH ORDINALITY
                         AS x(kind, ref_type, ref_id, detail, created_by_id, ord)
                    JOIN ids USING (ord)),
                lines AS (
                    INSERT INTO {_LINE} (entry_id, account, user_id, asset_id, amount)
                    SELECT ids.id, l.account, l.user_id, l.asset_id, l.amount
                    FROM unnest(%s::int[], %s::varchar[], %s::bigint[], %s::bigint[],
                                %s::numeric[]) AS l(ord, account, user_id, asset_id, amount)
                    JOIN ids USING (ord)),
                balances AS (
                    UPDATE {_BALANCE} b
                    SET available = b.available + v.da, locked = b.locked + v.dl,
                        updated_at = now()
                    FROM unnest(%s::bigint[], %s::bigint[], %s::numeric[], %s::numeric[])
                         AS v(u, a, da, dl)
                    WHERE b.user_id = v.u AND b.asset_id = v.a
                    RETURNING 1)
                SELECT array(SELECT id FROM ids ORDER BY ord),
                       (SELECT count(*) FROM balances)""",  # noqa: S608 - table names
            [len(entries),
             [e.kind for e in entries], [e.ref_type for e in entries],
             [e.ref_id for e in entries], [_json(e.detail) for e in entries],
             [e.created_by_id for e in entries],
             _array(ordinals), _array(accounts), _array(users), _array(assets),
             _array(amounts),
             _array(k[0] for k in keys), _array(k[1] for k in keys),
             _array(deltas[k][0] for k in keys), _array(deltas[k][1] for k in keys)],
        )
        ids, updated = cursor.fetchone()
    assert updated == len(keys), "balance rows must be locked first"
    return list(ids)


def _array(values: Iterable[int | Decimal | str | None]) -> str:
    """A Postgres array literal of ints, finite Decimals, ledger account names (plain
    words) or None. Nothing here needs quoting; callers guarantee the element types."""
    return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"


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
