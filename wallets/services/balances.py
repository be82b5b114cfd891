"""Reservations for orders, trade settlement, staff adjustments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal, localcontext

import psycopg
from django.db import connection, transaction

from exchange.api import ServiceError
from wallets.ledger import (
    MONEY_CONTEXT,
    EntrySpec,
    balance_deltas,
    balances_select_for_update,
    ledger_post,
    require_transaction,
)
from wallets.models import Account, Asset, Balance, JournalEntry, LedgerLine
from wallets.settlement import SettlementFill, SettlementRelease

_BALANCE = Balance._meta.db_table
_ENTRY = JournalEntry._meta.db_table
_LINE = LedgerLine._meta.db_table
AVAILABLE, LOCKED, FEE, ADJUST = (Account.AVAILABLE.value, Account.LOCKED.value,
                                  Account.FEE.value, Account.ADJUST.value)


def _split_ref(ref: str) -> tuple[str, str]:
    ref_type, sep, ref_id = ref.partition(":")
    return (ref_type, ref_id) if sep else ("order", ref)


def _require_positive(amount: Decimal) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ServiceError("invalid_amount", "The amount must be a positive decimal.",
                           fields={"amount": {"code": "invalid_amount",
                                              "message": "Must be positive."}})


def balance_reserve(*, user_id: int, asset_id: int, amount: Decimal, ref: str) -> None:
    """available → locked for an order (``ref`` like ``"order:42"``), one ledger entry
    of kind ``reserve``.

    Locking: precondition inside a transaction; locks the (user, asset) balance row
    FOR UPDATE through ``balances_select_for_update``, so call it once per transaction
    or pass every row you need to that helper first. Raises
    ``ServiceError("insufficient_balance")`` and changes nothing if available < amount."""
    require_transaction()
    _require_positive(amount)
    row = balances_select_for_update([(user_id, asset_id)])[(user_id, asset_id)]
    if row.available < amount:
        raise ServiceError("insufficient_balance", "Insufficient available balance.",
                           fields={"amount": {"code": "insufficient_balance",
                                              "message": f"Available: {row.available}"}})
    ref_type, ref_id = _split_ref(ref)
    ledger_post([EntrySpec("reserve", ref_type, ref_id, [
        (AVAILABLE, user_id, asset_id, -amount), (LOCKED, user_id, asset_id, amount)])])


def balance_reserve_with_insert(*, user_id: int, asset_id: int, amount: Decimal,
                                ref_type: str, insert_sql: str, insert_params: Sequence,
                                gate_sql: str = "SELECT 1", gate_params: Sequence = ()
                                ) -> tuple[tuple | None, bool]:
    """available → locked for a business object inserted in the SAME statement: one round
    trip for the reservation, its ``reserve`` ledger entry (ref ``<ref_type>:<new id>``)
    and the object's row (order entry's hot path; ``balance_reserve`` needs five).

    ``insert_sql`` is an ``INSERT ... SELECT ... FROM reserved ... RETURNING id, ...``
    (``reserved`` is the CTE of the updated balance row: no row, nothing inserted);
    ``gate_sql`` a SELECT that must return a row for anything to happen (e.g. the market
    is still trading), read in the statement's snapshot. Returns (the INSERT's RETURNING
    row or None, whether the gate passed); with the gate passed and no row, available <
    amount (or no balance row): nothing changed, the caller raises.

    Locking: one balance row, taken by the guarded ``UPDATE ... WHERE available >= amount``
    itself (Postgres re-checks the condition on the newest row version under concurrent
    updates, so concurrent reservations never overdraw; the CHECK constraint is the last
    guard). Runs in autocommit (the statement is its own transaction) or inside the
    caller's transaction. The ledger trigger checks the entry balances at statement end."""
    _require_positive(amount)
    connection.ensure_connection()
    # A server-side-binding cursor on Django's connection (same transaction state):
    # prepared once per pooled connection, so Postgres neither parses nor plans the
    # statement again, and the parameters are not quoted into the SQL text here.
    # Django's error wrapper: callers catch django.db.IntegrityError (a duplicate client
    # order id) as with any other cursor.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"""WITH gate AS MATERIALIZED ({gate_sql}),
                reserved AS (
                    UPDATE {_BALANCE} SET available = available - %s, locked = locked + %s,
                                         updated_at = now()
                    WHERE user_id = %s AND asset_id = %s AND available >= %s
                      AND EXISTS (SELECT 1 FROM gate)
                    RETURNING id),
                inserted AS ({insert_sql}),
                entry AS (
                    INSERT INTO {_ENTRY} (kind, ref_type, ref_id)
                    SELECT 'reserve', %s, inserted.id::text FROM inserted
                    RETURNING id),
                lines AS (
                    INSERT INTO {_LINE} (entry_id, account, user_id, asset_id, amount)
                    SELECT entry.id, l.account, %s, %s, l.amount
                    FROM entry CROSS JOIN (VALUES (%s, %s::numeric), (%s, %s::numeric))
                         AS l(account, amount))
                SELECT inserted.*, EXISTS (SELECT 1 FROM gate)
                FROM (SELECT 1) AS one LEFT JOIN inserted ON true""",  # noqa: S608
            [*gate_params, amount, amount, user_id, asset_id, amount, *insert_params,
             ref_type, user_id, asset_id, AVAILABLE, -amount, LOCKED, amount],
            prepare=True,
        )
        row = cursor.fetchone()
    *inserted, gate_passed = row
    return (tuple(inserted) if inserted[0] is not None else None), bool(gate_passed)


def balance_release(*, user_id: int, asset_id: int, amount: Decimal, ref: str) -> None:
    """locked → available (order cancelled/ended), one ledger entry of kind ``release``.

    Locking as ``balance_reserve``. Releasing more than is locked is a bug in the
    caller: ``ServiceError("insufficient_locked")``, nothing changes."""
    require_transaction()
    _require_positive(amount)
    row = balances_select_for_update([(user_id, asset_id)])[(user_id, asset_id)]
    if row.locked < amount:
        raise ServiceError("insufficient_locked", "Cannot release more than is locked.")
    ref_type, ref_id = _split_ref(ref)
    ledger_post([EntrySpec("release", ref_type, ref_id, [
        (LOCKED, user_id, asset_id, -amount), (AVAILABLE, user_id, asset_id, amount)])])


def settlement_entries(fills: Sequence[SettlementFill],
                       releases: Sequence[SettlementRelease]) -> list[EntrySpec]:
    """The batch as (at most) two journal entries: ``trade`` and ``release``. Lines are
    aggregated per (account, user, asset) in one pass, so a user's legs and fees of the
    whole batch net into one line per account and asset: the ``trade`` entry moves the
    buyers' locked quote and sellers' locked base, credits what each party received net
    of its fee, and credits the fee account with the fees (one line per asset). The trade
    ids (with the batch's fee totals) / order ids are kept in the entries' ``detail``;
    ``ref_id`` is ``"<first>-<last>"``. Pure; O(n). Raises
    ``ServiceError("invalid_fill" | "invalid_release")`` for impossible amounts.

    Why one entry rather than separate ``trade`` and ``fee`` entries: a separate fee entry
    doubled each party's available line (gross in, fee out), a third of all the lines a
    batch writes, on the matcher's hot path (docs/PERFORMANCE-settle.md). Per-trade fees
    stay in the matcher's trade records."""
    trade: defaultdict[tuple[str, int | None, int], Decimal] = defaultdict(Decimal)
    fees: defaultdict[int, Decimal] = defaultdict(Decimal)
    release: defaultdict[tuple[str, int | None, int], Decimal] = defaultdict(Decimal)
    trade_ids: list[int] = []
    order_ids: list[int] = []
    with localcontext(MONEY_CONTEXT):
        for f in fills:
            buyer, seller, base, quote = f.buyer_id, f.seller_id, f.base_asset_id, f.quote_asset_id
            base_qty, quote_qty, buyer_fee, seller_fee = (f.base_qty, f.quote_qty, f.buyer_fee,
                                                          f.seller_fee)
            if not (base_qty > 0 and quote_qty > 0 and 0 <= buyer_fee <= base_qty
                    and 0 <= seller_fee <= quote_qty):
                raise ServiceError("invalid_fill", f"Trade {f.trade_id} has invalid amounts.")
            trade_ids.append(f.trade_id)
            trade[(LOCKED, buyer, quote)] -= quote_qty
            trade[(AVAILABLE, buyer, base)] += base_qty - buyer_fee
            trade[(LOCKED, seller, base)] -= base_qty
            trade[(AVAILABLE, seller, quote)] += quote_qty - seller_fee
            if buyer_fee:
                fees[base] += buyer_fee
            if seller_fee:
                fees[quote] += seller_fee
        for r in releases:
            if not r.amount >= 0:
                raise ServiceError("invalid_release", f"Release for order {r.order_id} < 0.")
            if r.amount:
                order_ids.append(r.order_id)
                release[(LOCKED, r.user_id, r.asset_id)] -= r.amount
                release[(AVAILABLE, r.user_id, r.asset_id)] += r.amount
    specs = []
    if trade_ids:
        for asset_id, total in fees.items():
            trade[(FEE, None, asset_id)] += total
        span = f"{min(trade_ids)}-{max(trade_ids)}"
        detail = {"trade_ids": trade_ids,
                  "fees": {str(asset_id): str(total) for asset_id, total in fees.items()}}
        specs.append(EntrySpec.from_totals("trade", "trade_batch", span, trade, detail=detail))
    if order_ids:
        ref_type, ref_id = (("order", str(order_ids[0])) if len(order_ids) == 1 else
                            ("order_batch", f"{min(order_ids)}-{max(order_ids)}"))
        specs.append(EntrySpec.from_totals("release", ref_type, ref_id, release,
                                           detail={"order_ids": order_ids}))
    return specs


def trades_settle(*, fills: Sequence[SettlementFill],
                  releases: Sequence[SettlementRelease] = ()) -> None:
    """Settles a batch of trades and releases (price improvement, ends of orders).

    Journal: one ``trade`` entry (legs and fees) and one ``release`` entry per call (not
    per trade), lines aggregated per (account, user, asset), trade/order ids in the
    entries' ``detail``.

    Locking: precondition inside the matcher's batch transaction; locks every balance
    row the batch touches in one ``balances_select_for_update`` call (primary-key order),
    checks the result stays ≥ 0 (else ``ServiceError("settlement_overdraw")``; the caller
    must roll the batch back), then writes entries, lines and balances in one set-based
    statement (``ledger_post``): 3 statements per batch whatever its size. O(n) Python
    for n fills."""
    require_transaction()
    specs = settlement_entries(fills, releases)
    if not specs:
        return
    deltas = balance_deltas(specs)
    rows = balances_select_for_update(deltas.keys())
    with localcontext(MONEY_CONTEXT):
        for key, (d_available, d_locked) in deltas.items():
            row = rows[key]
            if row.available + d_available < 0 or row.locked + d_locked < 0:
                raise ServiceError(
                    "settlement_overdraw",
                    f"Settlement would make balance {key} negative "
                    f"({row.available}{d_available:+}, {row.locked}{d_locked:+}).",
                )
    ledger_post(specs, deltas)


def _staff_check(staff_user) -> None:
    if staff_user is None or not staff_user.is_staff:
        raise ServiceError("staff_required", "Only staff may do this.", http_status=403)


def _adjust(*, user_id: int, asset: Asset, amount: Decimal, reason: str,
            created_by_id: int | None) -> JournalEntry:
    with localcontext(MONEY_CONTEXT):
        row = balances_select_for_update([(user_id, asset.id)])[(user_id, asset.id)]
        if row.available + amount < 0:
            raise ServiceError("insufficient_balance",
                               "The adjustment would make the balance negative.")
    (entry_id,) = ledger_post([EntrySpec(
        "adjustment", "user", str(user_id),
        [(AVAILABLE, user_id, asset.id, amount), (ADJUST, None, asset.id, -amount)],
        detail={"reason": reason}, created_by_id=created_by_id)])
    return JournalEntry.objects.get(pk=entry_id)


def adjustment_post(*, user, asset: Asset, amount: Decimal, reason: str,
                    staff_user) -> JournalEntry:
    """A staff correction of ``user``'s available balance (``amount`` signed, ≠ 0)
    against the adjustments account, with a mandatory reason; returns the entry.

    Entry point (durable transaction). Locks the one balance row FOR UPDATE. Raises
    ``staff_required`` (403), ``reason_required``, ``invalid_amount``,
    ``insufficient_balance`` (never makes a balance negative)."""
    _staff_check(staff_user)
    if not reason or not reason.strip():
        raise ServiceError("reason_required", "An adjustment needs a reason.")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount == 0:
        raise ServiceError("invalid_amount", "The amount must be a non-zero decimal.")
    if amount != amount.quantize(asset.quantum):
        raise ServiceError("too_many_decimals", f"{asset.symbol} has {asset.precision} "
                           "decimal places.")
    with transaction.atomic(durable=True):
        return _adjust(user_id=user.id, asset=asset, amount=amount, reason=reason.strip(),
                       created_by_id=staff_user.id)


def demo_topup(*, user, asset: Asset, target: Decimal) -> JournalEntry | None:
    """Development/demo only: adjusts ``user``'s available balance up so that
    available + locked reaches ``target`` (never down), through the ledger.

    May run inside the caller's transaction (``seed_demo`` is one); locks one row."""
    with transaction.atomic():
        row = balances_select_for_update([(user.id, asset.id)])[(user.id, asset.id)]
        missing = target - (row.available + row.locked)
        if missing <= 0:
            return None
        return _adjust(user_id=user.id, asset=asset, amount=missing, reason="demo funding",
                       created_by_id=None)
