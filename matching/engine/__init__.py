"""Bourse's pure matching engine: one in-memory, deterministic order book per market.

Imports only the standard library and ``sortedcontainers``; no clock, no I/O. Drive it with
``OrderBook.apply(command) -> list[Event]``; see ``matching/README.md``.
"""

from .book import OrderBook, RestingOrder
from .commands import AmendOrder, CancelAll, CancelOrder, Command, PlaceOrder, SetStatus
from .depth import DepthChanges, DepthSnapshot
from .enums import (
    BookStatus,
    CancelReason,
    ExpireReason,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
)
from .events import (
    CommandRejected,
    DepthChanged,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    StatusChanged,
    Traded,
)
from .units import MarketSpec, NotAMultipleError

__all__ = [
    "AmendOrder",
    "BookStatus",
    "CancelAll",
    "CancelOrder",
    "CancelReason",
    "Command",
    "CommandRejected",
    "DepthChanged",
    "DepthChanges",
    "DepthSnapshot",
    "Event",
    "ExpireReason",
    "MarketSpec",
    "NotAMultipleError",
    "OrderAccepted",
    "OrderAmended",
    "OrderBook",
    "OrderCancelled",
    "OrderExpired",
    "OrderRejected",
    "OrderTriggered",
    "OrderType",
    "PlaceOrder",
    "RejectReason",
    "RestingOrder",
    "SetStatus",
    "Side",
    "StatusChanged",
    "StpMode",
    "TimeInForce",
    "Traded",
]
