"""The order book: price-time priority matching over integer ticks and steps.

(Interface committed first so that the worker can code against it; the implementation
follows in the next commit.)
"""

from collections.abc import Iterable
from dataclasses import dataclass

from .commands import Command
from .depth import DepthChanges, DepthSnapshot
from .enums import BookStatus, OrderType, Side, StpMode, TimeInForce
from .events import Event


@dataclass(slots=True)
class RestingOrder:
    """An open order as stored outside the engine, for :meth:`OrderBook.rebuild`.

    ``qty`` is the open quantity and ``reserve`` what is still locked for it. Stop types
    (with ``stop_price``) are restored as pending stops; other types rest at ``price``.
    """

    order_id: int
    user_id: int
    side: Side
    price: int | None
    qty: int | None
    reserve: int | None = None
    stp: StpMode = StpMode.EXPIRE_TAKER
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    quote_qty: int | None = None
    stop_price: int | None = None


class OrderBook:
    """One market's book. Not thread-safe: one writer (the matcher) per book.

    Args:
        band_bps: price band in basis points around the reference price (500 = 5%);
            ``None`` disables it.
        reference_price: the band's and stops' reference before the first trade (ticks).
        status: initial :class:`BookStatus`.
        depth_events: also emit a :class:`DepthChanged` event at the end of every command
            that changed a level.
    """

    def __init__(
        self,
        *,
        band_bps: int | None = None,
        reference_price: int | None = None,
        status: BookStatus = BookStatus.TRADING,
        depth_events: bool = False,
    ) -> None:
        raise NotImplementedError

    def apply(self, command: Command) -> list[Event]:
        """Apply one command and return the events it caused, in order."""
        raise NotImplementedError

    def take_depth_changes(self) -> DepthChanges | None:
        raise NotImplementedError

    def depth_snapshot(self, limit: int | None = None) -> DepthSnapshot:
        raise NotImplementedError

    def dump(self) -> dict:
        raise NotImplementedError

    @classmethod
    def restore(cls, state: dict) -> "OrderBook":
        raise NotImplementedError

    @classmethod
    def rebuild(cls, orders: Iterable[RestingOrder], **kwargs) -> "OrderBook":
        raise NotImplementedError

    def check_invariants(self) -> None:
        raise NotImplementedError
