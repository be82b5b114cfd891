"""Internal records of the book (not part of the public API).

Resting orders and price levels are plain lists rather than class instances: creating a
10-element list costs about a quarter of instantiating a slotted class with the same
fields (61 ns vs 247 ns on the reference machine), and a book creates one per resting order.
The hot loops in ``book.py`` index them with literal integers for the same reason (a
global constant costs an extra lookup); these names are the documentation of the layout
and are used everywhere else.
"""

from collections import deque

# A resting order: [qty, reserve, order_id, user_id, priority, price, key, side, stp, type]
QTY = 0  # open quantity in steps; 0 marks an order lazily deleted from its level's queue
RESERVE = 1  # what is still reserved for it (quote units for a buy, steps for a sell)
ORDER_ID = 2
USER_ID = 3
PRIORITY = 4  # increases with every order entering a level (FIFO within a level)
PRICE = 5
KEY = 6  # level key: price for an ask, -price for a bid (best = smallest key)
SIDE = 7
STP = 8
ORDER_TYPE = 9

# A price level: [queue, total, count, dead]
QUEUE = 0  # deque of resting orders in time priority, including lazily deleted ones
TOTAL = 1  # open quantity of the live orders
COUNT = 2  # number of live orders
DEAD = 3  # number of lazily deleted orders still in the queue


def new_level() -> list:
    return [deque(), 0, 0, 0]


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
