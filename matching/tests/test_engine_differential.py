"""Differential tests: the engine fills exactly like two independent C++ books.

orderly-chaos (ctypes) and liquibook (SWIG) receive the same long seeded streams of limit,
market and cancel commands as :class:`OrderBook`; every fill (maker id, taker id, price,
quantity) must be identical, in identical order, and so must the resting depth at the end.

Restrictions, each because the other books have no equivalent:

- STP is NONE for every order (neither C++ book has self-trade prevention), there is no
  price band, and market buys are uncapped (no reserve), so that only price-time priority
  is compared.
- Market orders are sized by base quantity only. orderly-chaos discards an unfilled market
  remainder, as we do (IOC). liquibook 2.0.1's Python build leaves the remainder of a
  market order resting, even with its immediate-or-cancel condition (observed: no
  ``on_cancel``, and later sells fill against it at the last price), so the adapter
  emulates IOC with an explicit ``cancel`` right after ``add``, which is what our MARKET
  order does.
- Cancels of unknown or already-filled ids are sent too; orderly-chaos raises and
  liquibook calls ``on_cancel_reject``, and we answer ``CommandRejected``: none may trade.
"""

import contextlib
import random

import liquibook
import pytest
from orderly_chaos import LimitOrderBook
from orderly_chaos import Side as ChaosSide
from orderly_chaos.errors import UnknownOrderIdError

from matching.engine import (
    CancelOrder,
    OrderBook,
    OrderType,
    PlaceOrder,
    Side,
    StpMode,
    TimeInForce,
    Traded,
)


def command_stream(seed: int, length: int) -> list[tuple]:
    """("limit", id, is_buy, price, qty) | ("market", id, is_buy, qty) | ("cancel", id)."""
    rng = random.Random(seed)
    live: list[int] = []
    commands = []
    mid = 10_000
    for order_id in range(1, length + 1):
        roll = rng.random()
        mid += rng.choice((-1, 0, 0, 1))
        if roll < 0.25 and live:
            commands.append(("cancel", live.pop(rng.randrange(len(live)))))
        elif roll < 0.28:
            commands.append(("cancel", rng.randrange(1, order_id + 1)))  # maybe unknown
        elif roll < 0.35:
            commands.append(("market", order_id, rng.random() < 0.5, rng.randint(1, 40)))
        else:
            is_buy = rng.random() < 0.5
            # Mostly passive, around 10% crossing by a few ticks.
            offset = rng.randint(-3, 12) if rng.random() < 0.9 else -rng.randint(1, 6)
            price = mid - offset if is_buy else mid + offset
            commands.append(("limit", order_id, is_buy, price, rng.randint(1, 20)))
            live.append(order_id)
    return commands


def run_engine(commands):
    book = OrderBook()
    fills = []
    for command in commands:
        kind = command[0]
        if kind == "limit":
            _, order_id, is_buy, price, qty = command
            cmd = PlaceOrder(order_id, 1, Side.BUY if is_buy else Side.SELL, price=price,
                             qty=qty, stp=StpMode.NONE)
        elif kind == "market":
            _, order_id, is_buy, qty = command
            cmd = PlaceOrder(order_id, 1, Side.BUY if is_buy else Side.SELL, OrderType.MARKET,
                             TimeInForce.IOC, qty=qty, stp=StpMode.NONE)
        else:
            cmd = CancelOrder(command[1])
        for event in book.apply(cmd):
            if isinstance(event, Traded):
                fills.append((event.maker_order_id, event.taker_order_id, event.price,
                              event.qty))
    book.check_invariants()
    snapshot = book.depth_snapshot()
    return fills, snapshot.bids, snapshot.asks


def run_orderly_chaos(commands):
    fills = []
    book = LimitOrderBook(on_trade=lambda t: fills.append(
        (t.maker_id, t.taker_id, t.price, t.quantity)))
    for command in commands:
        kind = command[0]
        if kind == "limit":
            _, order_id, is_buy, price, qty = command
            book.limit(ChaosSide.BUY if is_buy else ChaosSide.SELL, order_id, qty, price)
        elif kind == "market":
            _, order_id, is_buy, qty = command
            book.market(ChaosSide.BUY if is_buy else ChaosSide.SELL, order_id, qty)
        else:
            with contextlib.suppress(UnknownOrderIdError):  # unknown/filled: no effect
                book.cancel(command[1])
    bids = [(level.price, level.volume) for level in book.depth(ChaosSide.BUY, 1_000_000)]
    asks = [(level.price, level.volume) for level in book.depth(ChaosSide.SELL, 1_000_000)]
    book.close()
    return fills, bids, asks


class _LiquibookFills(liquibook.OrderListener):
    """Collects fills; liquibook calls on_fill(inbound order, resting order, qty, price)."""

    def __init__(self, our_id):
        liquibook.OrderListener.__init__(self)
        self.our_id = our_id
        self.fills = []

    def on_fill(self, inbound, resting, qty, price):
        inbound.fill(qty, price, 0)  # SimpleOrder's open_qty is kept by the listener
        resting.fill(qty, price, 0)
        self.fills.append((self.our_id[resting.order_id_], self.our_id[inbound.order_id_],
                           price, qty))

    def on_accept(self, order):
        pass

    def on_reject(self, order, reason):
        raise AssertionError(f"liquibook rejected {order.order_id_}: {reason}")

    def on_cancel(self, order):
        pass

    def on_cancel_reject(self, order, reason):
        pass

    def on_replace(self, order, size_delta, new_price):
        pass

    def on_replace_reject(self, order, reason):
        pass

    def on_trigger_stop(self, order):
        pass


def run_liquibook(commands):
    our_id: dict[int, int] = {}  # liquibook's own order id -> ours
    orders: dict[int, liquibook.SimpleOrder] = {}
    listener = _LiquibookFills(our_id)
    book = liquibook.liquibook_book_OrderBook()
    book.set_order_listener(listener)
    for command in commands:
        kind = command[0]
        if kind == "cancel":
            order = orders.pop(command[1], None)
            if order is not None:
                book.cancel(order)
            continue
        if kind == "limit":
            _, order_id, is_buy, price, qty = command
            order = liquibook.SimpleOrder(is_buy, price, qty)
        else:
            _, order_id, is_buy, qty = command
            order = liquibook.SimpleOrder(is_buy, 0, qty)
        our_id[order.order_id_] = order_id
        orders[order_id] = order
        book.add(order)
        if kind == "market":
            book.cancel(order)  # IOC, see the module docstring
            del orders[order_id]
    # Depth from the orders still open (liquibook's SimpleOrder tracks its open quantity).
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for order in orders.values():
        if order.open_qty():
            side = bids if order.is_buy() else asks
            side[order.price()] = side.get(order.price(), 0) + order.open_qty()
    return listener.fills, sorted(bids.items(), reverse=True), sorted(asks.items())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_fills_as_orderly_chaos(seed):
    commands = command_stream(seed, 20_000)
    ours = run_engine(commands)
    theirs = run_orderly_chaos(commands)
    assert len(ours[0]) > 1_000  # the stream really trades
    assert ours[0] == theirs[0]
    assert ours[1:] == theirs[1:]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_fills_as_liquibook(seed):
    commands = command_stream(seed, 20_000)
    ours = run_engine(commands)
    theirs = run_liquibook(commands)
    assert len(ours[0]) > 1_000
    assert ours[0] == theirs[0]
    assert ours[1:] == theirs[1:]
