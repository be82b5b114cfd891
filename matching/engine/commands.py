"""Commands: what the worker asks a book to do (``OrderBook.apply(command)``).

Engine units throughout: prices in ticks, quantities in steps, quote amounts and buy
reservations in quote units (``tick_size * step_size``); see :mod:`matching.engine.units`.

``seq`` is the command's position in the instrument's stream, assigned outside the engine.
When it is given, a command whose ``seq`` is not greater than the last applied one is
skipped (``apply`` returns ``[]``), so a redelivered command can never act twice. ``None``
disables the check (tests, benchmarks, tools).
"""

from dataclasses import dataclass

from .enums import BookStatus, OrderType, Side, StpMode, TimeInForce


@dataclass(slots=True)
class PlaceOrder:
    """Enter a new order.

    Required fields by type:

    - LIMIT, LIMIT_MAKER: ``price`` and ``qty``.
    - MARKET: ``qty``, or for a BUY either ``qty`` or ``quote_qty`` (exactly one).
    - STOP_LOSS_LIMIT: ``stop_price``, ``price``, ``qty``. STOP_LOSS: ``stop_price`` and
      ``qty`` (or ``quote_qty`` for a buy).

    ``reserve`` is what the worker locked for this order, in the locked asset's engine
    units: quote units for a BUY, steps for a SELL. ``None`` means "the canonical amount"
    (README, "Reservations"). The engine never lets an order consume more than its reserve.
    """

    order_id: int
    user_id: int
    side: Side
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    price: int | None = None
    qty: int | None = None
    quote_qty: int | None = None
    stop_price: int | None = None
    stp: StpMode = StpMode.EXPIRE_TAKER
    reserve: int | None = None
    seq: int | None = None


@dataclass(slots=True)
class CancelOrder:
    """Cancel an open order (resting or pending stop). ``user_id=None`` skips the owner check."""

    order_id: int
    user_id: int | None = None
    seq: int | None = None


@dataclass(slots=True)
class CancelAll:
    """Cancel every open order of a user in this book, oldest first."""

    user_id: int
    seq: int | None = None


@dataclass(slots=True)
class AmendOrder:
    """Change a resting limit order's price and/or open quantity; never trades.

    ``new_qty`` is the new *open* (remaining) quantity. Reducing it keeps time priority;
    changing the price or increasing the quantity sends the order to the back of its
    (new) level. ``extra_reserve`` is what the worker additionally locked for the change
    (a buy's price or quantity increase); anything not needed is released in
    ``OrderAmended.released``.
    """

    order_id: int
    user_id: int | None = None
    new_price: int | None = None
    new_qty: int | None = None
    extra_reserve: int = 0
    seq: int | None = None


@dataclass(slots=True)
class SetStatus:
    """Switch the book between TRADING, HALTED and CANCEL_ONLY."""

    status: BookStatus
    seq: int | None = None


Command = PlaceOrder | CancelOrder | CancelAll | AmendOrder | SetStatus
