"""The edge between order entry / the matcher and the wallets app (docs/CONTRACTS.md).

Everything that moves money goes through ``wallets.services`` (ledger entries). Until the
wallets issue lands those services, the fallbacks below move the cached balances with the
same SQL shape so order entry and the matcher can be built and tested; they post no
ledger lines. TODO(wallets): delete the fallbacks once ``wallets.services`` is in main.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal

from django.db import connection, transaction

from exchange.api import ServiceError

try:  # the contract's implementation
    from wallets.services import balance_release as _wallets_release
    from wallets.services import balance_reserve as _wallets_reserve
    from wallets.services import trades_settle as _wallets_settle
except ImportError:  # pragma: no cover - TODO(wallets): remove with the fallbacks
    _wallets_reserve = _wallets_release = _wallets_settle = None

try:
    from wallets.settlement import SettlementFill, SettlementRelease
except ImportError:  # pragma: no cover
    from dataclasses import dataclass

    @dataclass(frozen=True, slots=True)
    class SettlementFill:  # type: ignore[no-redef]
        trade_id: int
        buyer_id: int
        seller_id: int
        base_asset_id: int
        quote_asset_id: int
        base_qty: Decimal
        quote_qty: Decimal
        buyer_fee: Decimal = Decimal(0)
        seller_fee: Decimal = Decimal(0)

    @dataclass(frozen=True, slots=True)
    class SettlementRelease:  # type: ignore[no-redef]
        user_id: int
        asset_id: int
        amount: Decimal
        order_id: int

try:
    from wallets.fees import fee_compute
except ImportError:  # pragma: no cover

    def fee_compute(*, amount: Decimal, rate: Decimal, precision: int) -> Decimal:
        if amount <= 0 or rate <= 0:
            return Decimal(0)
        fee = (amount * rate).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_CEILING)
        return min(fee, amount)


__all__ = ["SettlementFill", "SettlementRelease", "fee_compute", "funds_release",
           "funds_reserve", "funds_settle", "uses_ledger"]


def uses_ledger() -> bool:
    return _wallets_settle is not None


def funds_reserve(*, user_id: int, asset_id: int, amount: Decimal, ref: str) -> None:
    """available → locked. Precondition: inside a transaction. Raises
    ``ServiceError("insufficient_balance")``."""
    assert transaction.get_connection().in_atomic_block
    if _wallets_reserve is not None:
        _wallets_reserve(user_id=user_id, asset_id=asset_id, amount=amount, ref=ref)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE wallets_balance SET available = available - %s, locked = locked + %s, "
            "updated_at = now() WHERE user_id = %s AND asset_id = %s AND available >= %s",
            [amount, amount, user_id, asset_id, amount],
        )
        if cursor.rowcount != 1:
            raise ServiceError("insufficient_balance",
                               "Account has insufficient balance for this order.")


def funds_release(*, user_id: int, asset_id: int, amount: Decimal, ref: str) -> None:
    assert transaction.get_connection().in_atomic_block
    if amount <= 0:
        return
    if _wallets_release is not None:
        _wallets_release(user_id=user_id, asset_id=asset_id, amount=amount, ref=ref)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE wallets_balance SET available = available + %s, locked = locked - %s, "
            "updated_at = now() WHERE user_id = %s AND asset_id = %s",
            [amount, amount, user_id, asset_id],
        )


def funds_settle(*, fills: Sequence[SettlementFill],
                 releases: Sequence[SettlementRelease]) -> None:
    """Settle one matcher batch. Precondition: inside the matcher's batch transaction."""
    if not fills and not releases:
        return
    if _wallets_settle is not None:
        _wallets_settle(fills=fills, releases=releases)
        return
    # Fallback: net (available, locked) deltas per balance row, applied in one upsert with
    # the rows taken in primary-key order.
    delta: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for f in fills:
        delta[(f.buyer_id, f.quote_asset_id)][1] -= f.quote_qty
        delta[(f.buyer_id, f.base_asset_id)][0] += f.base_qty - f.buyer_fee
        delta[(f.seller_id, f.base_asset_id)][1] -= f.base_qty
        delta[(f.seller_id, f.quote_asset_id)][0] += f.quote_qty - f.seller_fee
    for r in releases:
        delta[(r.user_id, r.asset_id)][0] += r.amount
        delta[(r.user_id, r.asset_id)][1] -= r.amount
    keys = sorted(delta)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallets_balance (user_id, asset_id, available, locked, updated_at) "
            "SELECT u, a, av, lo, now() FROM unnest(%s::bigint[], %s::bigint[], "
            "%s::numeric[], %s::numeric[]) AS v(u, a, av, lo) ORDER BY u, a "
            "ON CONFLICT (user_id, asset_id) DO UPDATE SET "
            "available = wallets_balance.available + EXCLUDED.available, "
            "locked = wallets_balance.locked + EXCLUDED.locked, updated_at = now()",
            [[k[0] for k in keys], [k[1] for k in keys], [delta[k][0] for k in keys],
             [delta[k][1] for k in keys]],
        )
