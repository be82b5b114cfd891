"""JSON shapes of orders and trades (amounts as decimal strings) and pagination."""

from __future__ import annotations

from decimal import Decimal

from exchange.api import ServiceError

MAX_LIMIT = 500


def _s(value, places: int):
    """A decimal string in plain notation with at least the asset's ``places`` decimals
    ("0.00000000", never "0E-18"), and more only if the value has them (never lossy)."""
    if value is None:
        return None
    exponent = value.normalize().as_tuple().exponent
    places = max(places, -exponent if isinstance(exponent, int) else 0)
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def order_json(order) -> dict:
    base, quote = order.market.base.precision, order.market.quote.precision
    return {
        "id": order.pk, "client_order_id": order.client_order_id,
        "market": order.market.symbol, "side": order.side, "type": order.type,
        "time_in_force": order.time_in_force, "stp_mode": order.stp_mode,
        "status": order.status, "reason": order.reason, "price": _s(order.price, quote),
        "stop_price": _s(order.stop_price, quote), "quantity": _s(order.quantity, base),
        "quote_order_qty": _s(order.quote_order_qty, quote),
        "filled_quantity": _s(order.filled_quantity, base),
        "cumulative_quote": _s(order.cumulative_quote, quote),
        "reserved_amount": _s(order.reserved_amount,
                              base if order.side == "SELL" else quote),
        "cancel_requested": order.cancel_requested, "sequence": order.sequence,
        "created": int(order.created_at.timestamp() * 1000),
        "updated": int(order.updated_at.timestamp() * 1000),
    }


def trade_json(trade, user) -> dict:
    is_buyer = trade.buyer_id == user.pk
    taker_is_buyer = trade.taker_side == "BUY"
    base, quote = trade.market.base.precision, trade.market.quote.precision
    return {
        "id": trade.pk, "market": trade.market.symbol, "price": _s(trade.price, quote),
        "quantity": _s(trade.quantity, base), "quote_quantity": _s(trade.quote_quantity, quote),
        "side": "BUY" if is_buyer else "SELL",
        "order_id": trade.buy_order_id if is_buyer else trade.sell_order_id,
        "fee": _s(trade.buyer_fee if is_buyer else trade.seller_fee, base if is_buyer else quote),
        "fee_asset": trade.market.base.symbol if is_buyer else trade.market.quote.symbol,
        "is_maker": is_buyer != taker_is_buyer,
        "time": int(trade.created_at.timestamp() * 1000),
    }


def _positive_int(raw, name: str, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ServiceError("invalid", f"{name} must be a positive integer.",
                           fields={name: {"code": "invalid", "message": "Positive integer."}})
    return value


def page(request, qs, render) -> dict:
    """``?limit`` (≤ 500, default 100) and ``?page`` (1-based); newest first."""
    limit = min(_positive_int(request.query_params.get("limit"), "limit", 100), MAX_LIMIT)
    number = _positive_int(request.query_params.get("page"), "page", 1)
    start = (number - 1) * limit
    rows = list(qs[start:start + limit + 1])
    return {"page": number, "limit": limit, "has_more": len(rows) > limit,
            "results": [render(r) for r in rows[:limit]]}
