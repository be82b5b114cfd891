"""Order validation against a market's rules (Binance-style filters) and the reservation
each accepted order needs (DESIGN §5). Pure functions over the market row plus one read
of the reference price; no writes."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from marketdata.models import Market, Trade
from orders.errors import order_error
from orders.models import Order

TYPES = set(Order.Type.values)
TIFS = set(Order.TimeInForce.values)
STP_MODES = set(Order.StpMode.values)
# PERCENT_PRICE_BY_SIDE at entry: a limit price must lie within [ref / 5, ref * 5]
# (Binance's usual multipliers); the tighter trading band is enforced by the engine.
PERCENT_PRICE_UP = Decimal(5)
PERCENT_PRICE_DOWN = Decimal("0.2")
CLIENT_ID_MAX = 36
# ``order_spec(reference=FETCH)``: read the reference price now (the default).
FETCH = object()


@dataclass(frozen=True)
class OrderSpec:
    market: Market
    side: str
    type: str
    time_in_force: str
    stp_mode: str
    price: Decimal | None
    stop_price: Decimal | None
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    client_order_id: str
    reserve_asset_id: int
    reserve: Decimal


def reference_price(market: Market) -> Decimal | None:
    """Last trade price, or the market's configured reference before the first trade."""
    last = (Trade.objects.filter(market_id=market.pk).order_by("-id")
            .values_list("price", flat=True).first())
    return last if last is not None else market.reference_price


DECIMAL_RE = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")


def _decimal(name: str, value) -> Decimal | None:
    """Strict amount parsing: plain decimal digits only (no sign, exponent, NaN, spaces);
    JSON numbers arrive as ``Decimal`` (never float) and must look the same."""
    if value is None or value == "":
        return None
    if isinstance(value, float | bool):
        raise order_error("invalid_amount", f"{name} must be a decimal string.", **{name: "float"})
    text = format(value, "f") if isinstance(value, Decimal | int) else str(value)
    if not DECIMAL_RE.match(text):
        raise order_error("invalid_amount", f"{name} is not a plain decimal number.",
                          **{name: "invalid"})
    try:
        result = Decimal(text)
    except (InvalidOperation, ValueError):
        raise order_error("invalid_amount", f"{name} is not a number.",
                          **{name: "invalid"}) from None
    if not result.is_finite():
        raise order_error("invalid_amount", f"{name} must be finite.", **{name: "invalid"})
    return result


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    try:
        return value % step == 0
    except InvalidOperation:
        return False


def band_upper(market: Market, ref: Decimal) -> Decimal:
    """The highest price a taker may trade at: ``ref * (1 + band)`` down to a tick."""
    upper = ref * (1 + market.price_band_pct / 100)
    return (upper / market.tick_size).to_integral_value(rounding=ROUND_FLOOR) * market.tick_size


def check_price(market: Market, name: str, price: Decimal) -> None:
    if price <= 0 or not _is_multiple(price, market.tick_size):
        raise order_error("price_filter",
                          f"{name} must be a positive multiple of the tick size "
                          f"{market.tick_size.normalize()}.", **{name: "price_filter"})


def check_quantity(market: Market, quantity: Decimal) -> None:
    if (quantity <= 0 or not _is_multiple(quantity, market.step_size)
            or quantity < market.min_qty or quantity > market.max_qty):
        raise order_error(
            "lot_size",
            f"quantity must be a multiple of {market.step_size.normalize()} between "
            f"{market.min_qty.normalize()} and {market.max_qty.normalize()}.",
            quantity="lot_size",
        )


def check_percent_price(market: Market, price: Decimal, ref: Decimal | None) -> None:
    if ref is None:
        return
    if price > ref * PERCENT_PRICE_UP or price < ref * PERCENT_PRICE_DOWN:
        raise order_error("percent_price", "price is too far from the market price.",
                          price="percent_price")


def check_notional(market: Market, notional: Decimal) -> None:
    if notional < market.min_notional:
        raise order_error("min_notional",
                          f"order value must be at least {market.min_notional.normalize()} "
                          f"{market.quote.symbol}.", quantity="min_notional")


def order_spec(*, market: Market, side, type, quantity, price, stop_price,
               quote_order_qty, time_in_force, stp_mode, client_order_id,
               reference=FETCH) -> OrderSpec:
    """Validate a placement; return what to insert and reserve. Raises ``ServiceError``.

    ``reference``: the market's reference price if the caller already has a recent one
    (order entry's per-process cache); market orders, whose reservation depends on it,
    always read it fresh."""
    if market.status != Market.Status.TRADING:
        raise order_error("market_closed", f"{market.symbol} is {market.status.lower()}.")
    side = str(side or "").upper()
    if side not in ("BUY", "SELL"):
        raise order_error("invalid_side", "side must be BUY or SELL.", side="invalid")
    type = str(type or "").upper()
    if type not in TYPES:
        raise order_error("unsupported_order_type", f"Unsupported order type {type!r}.",
                          type="invalid")
    tif = str(time_in_force or "").upper() or None
    if tif is not None and tif not in TIFS:
        raise order_error("invalid_time_in_force", f"Unknown time in force {tif!r}.",
                          time_in_force="invalid")
    stp = str(stp_mode or "EXPIRE_TAKER").upper()
    if stp not in STP_MODES:
        raise order_error("invalid_stp_mode", f"Unknown self-trade prevention mode {stp!r}.")
    quantity = _decimal("quantity", quantity)
    price = _decimal("price", price)
    stop_price = _decimal("stop_price", stop_price)
    quote_order_qty = _decimal("quote_order_qty", quote_order_qty)

    needs_price = type in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT")
    needs_stop = type in ("STOP_LOSS", "STOP_LOSS_LIMIT")
    is_market = type in ("MARKET", "STOP_LOSS")
    if needs_price and price is None:
        raise order_error("missing_parameter", f"{type} orders need a price.", price="required")
    if not needs_price and price is not None:
        raise order_error("parameter_not_required", f"{type} orders take no price.",
                          price="not_required")
    if needs_stop and stop_price is None:
        raise order_error("missing_parameter", f"{type} orders need a stop price.",
                          stop_price="required")
    if not needs_stop and stop_price is not None:
        raise order_error("parameter_not_required", f"{type} orders take no stop price.",
                          stop_price="not_required")
    if is_market:
        if (quantity is None) == (quote_order_qty is None):
            raise order_error("missing_parameter",
                              "Market orders need exactly one of quantity and quote_order_qty.",
                              quantity="required")
        if quote_order_qty is not None and side == "SELL":
            raise order_error("parameter_not_required",
                              "quote_order_qty is only supported for market buys.",
                              quote_order_qty="not_required")
        # Market orders never rest: IOC unless FOK (FOK by quote amount is not supported).
        if tif in (None, "GTC", "IOC"):
            tif = "IOC"
        elif quote_order_qty is not None:
            raise order_error("invalid_time_in_force",
                              "FOK is not supported with quote_order_qty.")
    else:
        if quantity is None:
            raise order_error("missing_parameter", "quantity is required.", quantity="required")
        if quote_order_qty is not None:
            raise order_error("parameter_not_required", f"{type} orders take no quote_order_qty.",
                              quote_order_qty="not_required")
        tif = tif or "GTC"
        if type == "LIMIT_MAKER" and tif != "GTC":
            raise order_error("invalid_time_in_force", "LIMIT_MAKER orders are GTC only.",
                              time_in_force="invalid")

    ref = reference_price(market) if reference is FETCH or is_market else reference
    if price is not None:
        check_price(market, "price", price)
        check_percent_price(market, price, ref)
    if stop_price is not None:
        check_price(market, "stop_price", stop_price)
    if quantity is not None:
        check_quantity(market, quantity)
    quote_unit = market.tick_size * market.step_size
    if quote_order_qty is not None:
        if quote_order_qty <= 0 or not _is_multiple(quote_order_qty, quote_unit):
            raise order_error("quote_qty_precision",
                              f"quote_order_qty must be a positive multiple of "
                              f"{quote_unit.normalize()}.", quote_order_qty="precision")
        check_notional(market, quote_order_qty)

    # Reservation (DESIGN §5).
    if side == "SELL":
        reserve_asset_id, reserve = market.base_id, quantity
        notional_price = price or stop_price or ref
        if notional_price is not None:
            check_notional(market, notional_price * quantity)
    elif quote_order_qty is not None:
        reserve_asset_id, reserve = market.quote_id, quote_order_qty
    elif is_market:
        base = max(ref or Decimal(0), stop_price or Decimal(0))
        if base <= 0:
            raise order_error("no_reference_price",
                              "No reference price yet: place a limit order.")
        check_notional(market, base * quantity)
        reserve_asset_id, reserve = market.quote_id, band_upper(market, base) * quantity
    else:
        check_notional(market, price * quantity)
        reserve_asset_id, reserve = market.quote_id, price * quantity

    client_order_id = (client_order_id or "").strip() or uuid.uuid4().hex[:22]
    if len(client_order_id) > CLIENT_ID_MAX:
        raise order_error("missing_parameter",
                          f"client_order_id is longer than {CLIENT_ID_MAX} characters.",
                          client_order_id="too_long")
    return OrderSpec(
        market=market, side=side, type=type, time_in_force=tif, stp_mode=stp, price=price,
        stop_price=stop_price, quantity=quantity, quote_order_qty=quote_order_qty,
        client_order_id=client_order_id, reserve_asset_id=reserve_asset_id, reserve=reserve,
    )


def amend_extra_reserve(*, market: Market, order: Order, quantity, price) -> Decimal:
    """Validate an amendment of ``order`` (locked by the caller) and return how much more
    must be reserved for it now (0 when it needs less)."""
    if not order.is_open:
        raise order_error("order_not_open", f"Order is already {order.status}.")
    resting_limit = order.type in ("LIMIT", "LIMIT_MAKER") or (
        order.type == "STOP_LOSS_LIMIT" and order.triggered)
    if not resting_limit or order.time_in_force != "GTC":
        raise order_error("amend_not_allowed", "Only resting GTC limit orders can be amended.")
    quantity = _decimal("quantity", quantity)
    price = _decimal("price", price)
    if quantity is None and price is None:
        raise order_error("missing_parameter", "Give a new quantity or a new price.")
    if market.status != Market.Status.TRADING and (price is not None or (
            quantity is not None and quantity > order.quantity)):
        raise order_error("market_closed", f"{market.symbol} is {market.status.lower()}.")
    new_price = price if price is not None else order.price
    new_total = quantity if quantity is not None else order.quantity
    if price is not None:
        check_price(market, "price", price)
        check_percent_price(market, price, reference_price(market))
    if quantity is not None:
        check_quantity(market, quantity)
        if quantity <= order.filled_quantity:
            raise order_error("amend_not_allowed",
                              "The new quantity must exceed the filled quantity.")
    check_notional(market, new_price * new_total)
    open_qty = new_total - order.filled_quantity
    need = new_price * open_qty if order.side == "BUY" else open_qty
    return max(Decimal(0), need - order.reserve_remaining)
