"""Reconciliation: the identities the books must satisfy.

``reconcile()`` only reads (one REPEATABLE READ, READ ONLY snapshot when called outside
a transaction, so a concurrent settlement cannot show up as a false difference) and
returns a ``ReconciliationReport``. ``reconciliation_run()`` records it and logs; the
``bourse_reconciliation_differences`` gauge reads the last record (``wallets.metrics``).

Checks, per asset:
1. ``ledger_sum``: all lines of the asset sum to zero (and ``entry_unbalanced``: every
   entry balances per asset);
2. ``balance_mismatch``: every balance row equals its recomputation from the lines
   (and lines of a user with no balance row count as a mismatch);
3. ``negative``: no balance and no fee-income account is negative;
4. ``locked_mismatch``: each user's locked amount equals Σ ``reserve_remaining`` of their
   open orders (NEW, PARTIALLY_FILLED) + the holds (amount + fee) of their pending
   withdrawals (REQUESTED, APPROVED, PROCESSING).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from wallets.models import (
    Balance,
    LedgerLine,
    ReconciliationRun,
    Withdrawal,
)

log = logging.getLogger(__name__)

_LINE = LedgerLine._meta.db_table
_BALANCE = Balance._meta.db_table
_WITHDRAWAL = Withdrawal._meta.db_table
_LIMIT = 100  # differences reported per check


@dataclass
class ReconciliationReport:
    started_at: datetime
    differences: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.ok:
            return "books clean"
        return "\n".join(str(d) for d in self.differences)


def _orders_table() -> str | None:
    try:
        from orders.models import Order
    except ImportError:  # pragma: no cover - orders not installed
        return None
    return Order._meta.db_table


def _rows(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _check(cursor, report: ReconciliationReport) -> None:
    s = str
    for asset_id, total in _rows(cursor, f"""
            SELECT asset_id, sum(amount) FROM {_LINE} GROUP BY asset_id
            HAVING sum(amount) <> 0 ORDER BY asset_id LIMIT {_LIMIT}"""):  # noqa: S608
        report.differences.append({"check": "ledger_sum", "asset_id": asset_id, "sum": s(total)})
    for entry_id, asset_id, total in _rows(cursor, f"""
            SELECT entry_id, asset_id, sum(amount) FROM {_LINE} GROUP BY entry_id, asset_id
            HAVING sum(amount) <> 0 ORDER BY entry_id LIMIT {_LIMIT}"""):  # noqa: S608
        report.differences.append({"check": "entry_unbalanced", "entry_id": entry_id,
                                   "asset_id": asset_id, "sum": s(total)})
    for user_id, asset_id, available, locked, r_available, r_locked in _rows(cursor, f"""
            WITH r AS (
                SELECT user_id, asset_id,
                       coalesce(sum(amount) FILTER (WHERE account = 'available'), 0) AS av,
                       coalesce(sum(amount) FILTER (WHERE account = 'locked'), 0) AS lk
                FROM {_LINE} WHERE user_id IS NOT NULL GROUP BY user_id, asset_id)
            SELECT coalesce(b.user_id, r.user_id), coalesce(b.asset_id, r.asset_id),
                   b.available, b.locked, coalesce(r.av, 0), coalesce(r.lk, 0)
            FROM {_BALANCE} b FULL OUTER JOIN r
              ON r.user_id = b.user_id AND r.asset_id = b.asset_id
            WHERE b.id IS NULL OR b.available <> coalesce(r.av, 0)
               OR b.locked <> coalesce(r.lk, 0)
            ORDER BY 1, 2 LIMIT {_LIMIT}"""):  # noqa: S608
        report.differences.append({
            "check": "balance_mismatch", "user_id": user_id, "asset_id": asset_id,
            "available": s(available), "locked": s(locked),
            "ledger_available": s(r_available), "ledger_locked": s(r_locked)})
    for user_id, asset_id, available, locked in _rows(cursor, f"""
            SELECT user_id, asset_id, available, locked FROM {_BALANCE}
            WHERE available < 0 OR locked < 0 ORDER BY id LIMIT {_LIMIT}"""):  # noqa: S608
        report.differences.append({"check": "negative", "user_id": user_id,
                                   "asset_id": asset_id, "available": s(available),
                                   "locked": s(locked)})
    for asset_id, total in _rows(cursor, f"""
            SELECT asset_id, sum(amount) FROM {_LINE} WHERE account = 'fee'
            GROUP BY asset_id HAVING sum(amount) < 0 LIMIT {_LIMIT}"""):  # noqa: S608
        report.differences.append({"check": "negative", "account": "fee",
                                   "asset_id": asset_id, "sum": s(total)})
    orders = _orders_table()
    order_holds = (f"""SELECT user_id, reserved_asset_id, reserve_remaining FROM {orders}
                       WHERE status IN ('NEW', 'PARTIALLY_FILLED') UNION ALL"""  # noqa: S608
                   if orders else "")
    for user_id, asset_id, locked, held in _rows(cursor, f"""
            WITH h(u, a, amt) AS (
                {order_holds}
                SELECT user_id, asset_id, amount + fee FROM {_WITHDRAWAL}
                WHERE status IN ('REQUESTED', 'APPROVED', 'PROCESSING')),
            hs AS (SELECT u, a, sum(amt) AS amt FROM h GROUP BY u, a)
            SELECT coalesce(b.user_id, hs.u), coalesce(b.asset_id, hs.a),
                   coalesce(b.locked, 0), coalesce(hs.amt, 0)
            FROM {_BALANCE} b FULL OUTER JOIN hs ON hs.u = b.user_id AND hs.a = b.asset_id
            WHERE coalesce(b.locked, 0) <> coalesce(hs.amt, 0)
            ORDER BY 1, 2 LIMIT {_LIMIT}"""):  # noqa: S608
        report.differences.append({"check": "locked_mismatch", "user_id": user_id,
                                   "asset_id": asset_id, "locked": s(locked),
                                   "held": s(held)})


def reconcile() -> ReconciliationReport:
    """Runs every check; returns the report (``.ok``, ``.differences``). Read-only."""
    report = ReconciliationReport(started_at=timezone.now())
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            _check(cursor, report)
        return report
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        _check(cursor, report)
    return report


def reconciliation_run() -> ReconciliationRun:
    """Reconciles, stores a ``ReconciliationRun`` (staff pages, the dashboard and the
    ``bourse_reconciliation_differences`` gauge read the last one, see
    ``wallets.metrics``) and logs each difference."""
    report = reconcile()
    for difference in report.differences:
        log.error("reconciliation difference: %s", difference)
    run = ReconciliationRun.objects.create(
        started_at=report.started_at, finished_at=timezone.now(), ok=report.ok,
        difference_count=len(report.differences), differences=report.differences)
    if report.ok:
        log.info("reconciliation ok")
    return run
