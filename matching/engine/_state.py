"""Internal mutable records of the book (not part of the public API)."""

from collections import deque


class RestingOrderState:
    """A live (or lazily deleted) resting limit order.

    ``key`` is the level key: ``price`` for asks, ``-price`` for bids, so that the best level
    of either side is the smallest key of its heap. ``qty == 0`` marks an order that was
    removed from the book but is still physically in its level's queue (lazy deletion).
    """

    __slots__ = (
        "is_buy",
        "key",
        "order_id",
        "order_type",
        "price",
        "priority",
        "qty",
        "reserve",
        "side",
        "stp",
        "user_id",
    )

    def __init__(self, order_id, user_id, side, is_buy, price, key, qty, reserve, stp,
                 priority, order_type):
        self.order_id = order_id
        self.user_id = user_id
        self.side = side
        self.is_buy = is_buy
        self.price = price
        self.key = key
        self.qty = qty
        self.reserve = reserve
        self.stp = stp
        self.priority = priority
        self.order_type = order_type


class Level:
    """One price level: a FIFO queue with lazy deletion and its live aggregates.

    ``total`` and ``count`` cover live orders only; ``dead`` counts removed orders still in
    ``queue`` (they are skipped when they reach the front, or dropped by compaction).
    """

    __slots__ = ("count", "dead", "queue", "total")

    def __init__(self) -> None:
        self.queue: deque[RestingOrderState] = deque()
        self.total = 0
        self.count = 0
        self.dead = 0


class PendingStop:
    """A stop order waiting for its trigger; holds the placement's fields."""

    __slots__ = (
        "order_id",
        "order_type",
        "price",
        "priority",
        "qty",
        "quote_qty",
        "reserve",
        "side",
        "stop_price",
        "stp",
        "tif",
        "user_id",
    )

    def __init__(self, order_id, user_id, side, order_type, tif, price, qty, quote_qty,
                 stop_price, stp, reserve, priority):
        self.order_id = order_id
        self.user_id = user_id
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.price = price
        self.qty = qty
        self.quote_qty = quote_qty
        self.stop_price = stop_price
        self.stp = stp
        self.reserve = reserve
        self.priority = priority
