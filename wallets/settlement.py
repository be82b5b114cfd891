"""Inputs of ``wallets.services.trades_settle`` (the matcher's hot path).

Plain frozen dataclasses so the matcher can build them without touching the ORM."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class SettlementFill:
    """One trade. Buyer: locked quote −= quote_qty; available base += base_qty − buyer_fee.
    Seller: locked base −= base_qty; available quote += quote_qty − seller_fee.
    The fee account receives buyer_fee (base) and seller_fee (quote)."""

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
class SettlementRelease:
    """Locked → available for ``user_id``: price improvement or the rest of an order that
    ended (filled, cancelled, expired)."""

    user_id: int
    asset_id: int
    amount: Decimal
    order_id: int
