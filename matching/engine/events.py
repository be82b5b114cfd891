"""Events: what a book reports having done. Frozen, slotted dataclasses, past tense.

Every event carries ``seq``, the book's own event sequence number: it starts at 1, grows by
one per event, is part of the book's state (``dump``/``restore``), and so is identical
whenever the same commands are applied to the same book.

Reservation accounting (README, "Reservations"): ``consumed`` is what a fill took out of
the order's reserve (quote units for a buyer, steps for a seller); ``released`` is what the
worker must give back to the user's available balance now. Over an order's life
``sum(consumed) + sum(released) == reserve``; the event that ends an order (a ``Traded``
with ``*_remaining == 0``, ``OrderCancelled``, ``OrderExpired``, ``OrderRejected``) releases
everything that is left.

``remaining`` fields are in the order's sizing unit: steps, or quote units for a MARKET buy
sized by ``quote_qty``.

Implementation note: constructing a frozen dataclass goes through ``object.__setattr__``
once per field, which costs about 1.4 us for a 12-field event on the reference machine. The
engine instead builds each event with a generated function that allocates a plain slotted
"record" base class, stores its slots, and then switches the instance's class to the frozen
dataclass (same memory layout, ~4x cheaper). Instances are indistinguishable from ones built by the
dataclass constructor: equality, hashing, repr, ``dataclasses.fields``/``asdict`` and
immutability all behave the same. Code outside the engine should use the normal
constructors.
"""

from dataclasses import dataclass, fields

from .enums import (
    BookStatus,
    CancelReason,
    ExpireReason,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)


def _record(field_names: str) -> type:
    """A slotted base class holding the fields; :func:`_event` makes its fast constructor."""
    return type("_Record", (), {"__slots__": tuple(field_names.split())})


def _event(cls: type) -> type:
    """Make ``cls`` a frozen slotted dataclass and bind its fast positional constructor.

    ``cls._new(*fields)`` is a plain function (CPython 3.11 runs a Python-to-Python call
    without a C-level ``type.__call__`` / ``__init__`` round trip, ~500 fewer CPU
    instructions per event than calling a class): it allocates the record, stores each
    slot, then switches the instance's class to the dataclass (same layout).
    """
    cls = dataclass(frozen=True, slots=True)(cls)
    record = cls.__mro__[1]
    names = tuple(field.name for field in fields(cls))
    if names != record.__slots__:
        raise TypeError(f"{cls.__name__}: fields {names} differ from record {record.__slots__}")
    record.__qualname__ = record.__name__ = f"_{cls.__name__}Record"
    namespace: dict = {"__builtins__": __builtins__, "_alloc": object.__new__,
                       "_record": record, "_event_class": cls}
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    source = (f"def _new({', '.join(names)}):\n    self = _alloc(_record)\n{body}"
              "    self.__class__ = _event_class\n    return self\n")
    exec(source, namespace)  # noqa: S102 - generated from the dataclass's own field names
    new = namespace["_new"]
    new.__qualname__ = f"{cls.__name__}._new"
    cls._new = staticmethod(new)  # the engine's positional fast constructor
    return cls


@_event
class OrderAccepted(_record("seq order_id user_id side order_type tif price qty quote_qty "
                            "stop_price reserve")):
    """The order entered the book (before any matching); ``reserve`` is its reservation."""

    seq: int
    order_id: int
    user_id: int
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int | None
    qty: int | None
    quote_qty: int | None
    stop_price: int | None
    reserve: int | None


@_event
class OrderTriggered(_record("seq order_id user_id stop_price last_price")):
    """A stop order's condition held at ``last_price``; it now enters matching."""

    seq: int
    order_id: int
    user_id: int
    stop_price: int
    last_price: int


@_event
class Traded(_record("seq price qty quote_qty maker_side maker_order_id taker_order_id "
                     "maker_user_id taker_user_id maker_remaining taker_remaining "
                     "maker_consumed maker_released taker_consumed taker_released")):
    """A fill at the maker's price. ``quote_qty == price * qty`` (quote units)."""

    seq: int
    price: int
    qty: int
    quote_qty: int
    maker_side: Side
    maker_order_id: int
    taker_order_id: int
    maker_user_id: int
    taker_user_id: int
    maker_remaining: int
    taker_remaining: int
    maker_consumed: int
    maker_released: int
    taker_consumed: int
    taker_released: int


@_event
class OrderCancelled(_record("seq order_id user_id reason remaining released")):
    seq: int
    order_id: int
    user_id: int
    reason: CancelReason
    remaining: int
    released: int


@_event
class OrderExpired(_record("seq order_id user_id reason remaining released")):
    """The order's remainder ended (IOC/FOK/market leftover, price band, STP)."""

    seq: int
    order_id: int
    user_id: int
    reason: ExpireReason
    remaining: int
    released: int


@_event
class OrderRejected(_record("seq order_id user_id reason released")):
    """A placement was refused; the order never existed in the book. Releases its reserve."""

    seq: int
    order_id: int
    user_id: int
    reason: RejectReason
    released: int


@_event
class CommandRejected(_record("seq command order_id user_id reason")):
    """A cancel or amendment was refused; the order it named (if any) is unchanged.

    ``command`` is ``"CANCEL"`` or ``"AMEND"``.
    """

    seq: int
    command: str
    order_id: int
    user_id: int | None
    reason: RejectReason


@_event
class OrderAmended(_record("seq order_id user_id price qty priority_kept released")):
    """The resting order now has ``price`` and open quantity ``qty``."""

    seq: int
    order_id: int
    user_id: int
    price: int
    qty: int
    priority_kept: bool
    released: int


@_event
class DepthChanged(_record("seq update_id bids asks")):
    """Aggregated levels changed by one command: ``((price, total_qty), ...)``, 0 = gone.

    Emitted only by books created with ``depth_events=True``; otherwise use
    ``OrderBook.take_depth_changes()``.
    """

    seq: int
    update_id: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@_event
class StatusChanged(_record("seq status")):
    seq: int
    status: BookStatus


Event = (
    OrderAccepted
    | OrderTriggered
    | Traded
    | OrderCancelled
    | OrderExpired
    | OrderRejected
    | CommandRejected
    | OrderAmended
    | DepthChanged
    | StatusChanged
)
