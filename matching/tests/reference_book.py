"""A small, obviously correct order book used as the oracle for the engine's property tests.

Written separately from ``matching/engine/book.py`` and on purpose naive: resting orders
live in one Python list in arrival order, the best maker is found by a linear scan with
``min``, the band is computed with exact fractions, and FOK is decided by running the
order on a deep copy of the book and looking at the result. Nothing here is fast; all of it
should be easy to check against ``matching/README.md`` by reading.

It produces the engine's public event types, with the same sequence numbering, so that
events can be compared with ``==``.
"""

import copy
import math
from dataclasses import dataclass
from fractions import Fraction

from matching.engine import (
    AmendOrder,
    BookStatus,
    CancelAll,
    CancelOrder,
    CancelReason,
    CommandRejected,
    ExpireReason,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    OrderType,
    PlaceOrder,
    RejectReason,
    SetStatus,
    Side,
    StatusChanged,
    StpMode,
    TimeInForce,
    Traded,
)

LIMIT_TYPES = (OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT)
STOP_TYPES = (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)


@dataclass
class RefResting:
    order_id: int
    user_id: int
    side: Side
    price: int
    qty: int
    reserve: int
    stp: StpMode
    order_type: OrderType
    priority: int


@dataclass
class RefStop:
    cmd: PlaceOrder
    reserve: int | None
    priority: int


def is_pos_int(value) -> bool:
    return type(value) is int and value > 0


class ReferenceBook:
    def __init__(self, band_bps=None, reference_price=None):
        self.band_bps = band_bps
        self.reference_price = reference_price
        self.status = BookStatus.TRADING
        self.last_price = None
        self.seq = 0
        self.priority = 0
        self.resting: list[RefResting] = []
        self.stops: list[RefStop] = []
        self.last_command_seq = None
        self.events: list = []

    # -- helpers -------------------------------------------------------------------------

    def emit(self, make, *args):
        self.seq += 1
        self.events.append(make(self.seq, *args))

    def next_priority(self):
        self.priority += 1
        return self.priority

    def reference(self):
        return self.last_price if self.last_price is not None else self.reference_price

    def band(self):
        """(lowest sell price allowed, highest buy price allowed), None = unbounded."""
        ref = self.reference()
        if self.band_bps is None or ref is None:
            return None, None
        fraction = Fraction(self.band_bps, 10_000)
        return math.ceil(ref * (1 - fraction)), math.floor(ref * (1 + fraction))

    def find_resting(self, order_id):
        return next((o for o in self.resting if o.order_id == order_id), None)

    def find_stop(self, order_id):
        return next((s for s in self.stops if s.cmd.order_id == order_id), None)

    def best_maker(self, taker_side):
        makers = [o for o in self.resting if o.side != taker_side]
        if not makers:
            return None
        if taker_side == Side.BUY:
            return min(makers, key=lambda o: (o.price, o.priority))
        return min(makers, key=lambda o: (-o.price, o.priority))

    def depth(self):
        bids, asks = {}, {}
        for order in self.resting:
            side = bids if order.side == Side.BUY else asks
            side[order.price] = side.get(order.price, 0) + order.qty
        return (sorted(bids.items(), reverse=True), sorted(asks.items()))

    def validation_error(self, cmd):
        if cmd.side not in (Side.BUY, Side.SELL) or type(cmd.order_id) is not int:
            return RejectReason.INVALID_ORDER
        if cmd.order_type in LIMIT_TYPES:
            if not (is_pos_int(cmd.price) and is_pos_int(cmd.qty)) or cmd.quote_qty is not None:
                return RejectReason.INVALID_ORDER
            if cmd.order_type == OrderType.LIMIT_MAKER and cmd.tif != TimeInForce.GTC:
                return RejectReason.INVALID_ORDER
        else:
            if cmd.price is not None:
                return RejectReason.INVALID_ORDER
            if cmd.quote_qty is None:
                if not is_pos_int(cmd.qty):
                    return RejectReason.INVALID_ORDER
            elif (cmd.qty is not None or cmd.side != Side.BUY or not is_pos_int(cmd.quote_qty)
                  or cmd.tif == TimeInForce.FOK):
                return RejectReason.INVALID_ORDER
        if cmd.order_type in STOP_TYPES:
            if not is_pos_int(cmd.stop_price):
                return RejectReason.INVALID_ORDER
        elif cmd.stop_price is not None:
            return RejectReason.INVALID_ORDER
        return None

    def canonical_reserve(self, cmd):
        if cmd.side == Side.SELL:
            return cmd.qty
        if cmd.order_type in LIMIT_TYPES:
            return cmd.price * cmd.qty
        if cmd.quote_qty is not None:
            return cmd.quote_qty
        upper = self.band()[1]
        return None if upper is None else upper * cmd.qty

    # -- commands ------------------------------------------------------------------------

    def apply(self, cmd):
        if cmd.seq is not None:
            if self.last_command_seq is not None and cmd.seq <= self.last_command_seq:
                return []
            self.last_command_seq = cmd.seq
        self.events = []
        if isinstance(cmd, PlaceOrder):
            self.place(cmd)
        elif isinstance(cmd, CancelOrder):
            self.cancel(cmd)
        elif isinstance(cmd, CancelAll):
            self.cancel_all(cmd)
        elif isinstance(cmd, AmendOrder):
            self.amend(cmd)
        elif isinstance(cmd, SetStatus):
            self.status = cmd.status
            self.emit(StatusChanged, cmd.status)
        return self.events

    def reject(self, cmd, reason):
        if cmd.reserve is not None:
            released = cmd.reserve
        elif self.validation_error(cmd) is None:
            released = self.canonical_reserve(cmd) or 0
        else:
            released = 0
        self.emit(OrderRejected, cmd.order_id, cmd.user_id, reason, released)

    def place(self, cmd):
        if self.status != BookStatus.TRADING:
            return self.reject(cmd, RejectReason.BOOK_NOT_TRADING)
        if self.find_resting(cmd.order_id) or self.find_stop(cmd.order_id):
            return self.reject(cmd, RejectReason.DUPLICATE_ORDER_ID)
        error = self.validation_error(cmd)
        if error:
            return self.reject(cmd, error)
        needed = self.canonical_reserve(cmd)
        reserve = cmd.reserve
        if reserve is None:
            reserve = needed
        elif reserve < 0 or (needed is not None and reserve < needed):
            return self.reject(cmd, RejectReason.INSUFFICIENT_RESERVE)
        if cmd.order_type == OrderType.LIMIT_MAKER:
            best = self.best_maker(cmd.side)
            if best is not None and (best.price <= cmd.price if cmd.side == Side.BUY
                                     else best.price >= cmd.price):
                return self.reject(cmd, RejectReason.POST_ONLY_WOULD_TAKE)
        if cmd.order_type in STOP_TYPES:
            ref = self.reference()
            if ref is not None and (ref >= cmd.stop_price if cmd.side == Side.BUY
                                    else ref <= cmd.stop_price):
                return self.reject(cmd, RejectReason.STOP_WOULD_TRIGGER_IMMEDIATELY)
            self.emit(OrderAccepted, cmd.order_id, cmd.user_id, cmd.side, cmd.order_type,
                      cmd.tif, cmd.price, cmd.qty, cmd.quote_qty, cmd.stop_price, reserve)
            self.stops.append(RefStop(cmd, reserve, self.next_priority()))
            return None
        self.emit(OrderAccepted, cmd.order_id, cmd.user_id, cmd.side, cmd.order_type, cmd.tif,
                  cmd.price, cmd.qty, cmd.quote_qty, None, reserve)
        before = self.last_price
        self.execute(cmd, reserve)
        if self.last_price != before:
            self.run_stops()
        return None

    def triggered_stops(self):
        last = self.last_price
        buys = sorted((s for s in self.stops if s.cmd.side == Side.BUY
                       and last >= s.cmd.stop_price),
                      key=lambda s: (s.cmd.stop_price, s.priority))
        sells = sorted((s for s in self.stops if s.cmd.side == Side.SELL
                        and last <= s.cmd.stop_price),
                       key=lambda s: (-s.cmd.stop_price, s.priority))
        for stop in buys + sells:
            self.stops.remove(stop)
        return buys + sells

    def run_stops(self):
        queue = self.triggered_stops()
        while queue:
            stop = queue.pop(0)
            self.emit(OrderTriggered, stop.cmd.order_id, stop.cmd.user_id, stop.cmd.stop_price,
                      self.last_price)
            before = self.last_price
            self.execute(stop.cmd, stop.reserve)
            if self.last_price != before:
                queue += self.triggered_stops()

    def execute(self, cmd, reserve):
        if cmd.tif == TimeInForce.FOK:
            trial = copy.deepcopy(self)
            trial.events = []
            if trial.match(cmd, reserve)[0] != 0:
                self.emit(OrderExpired, cmd.order_id, cmd.user_id, ExpireReason.FILL_OR_KILL,
                          cmd.qty, reserve or 0)
                return
        left, reserve_left, reason = self.match(cmd, reserve)
        if left == 0:
            return
        is_market = cmd.price is None
        if reason is None:
            if is_market or cmd.tif != TimeInForce.GTC:
                reason = ExpireReason.IMMEDIATE_OR_CANCEL
            else:
                self.resting.append(RefResting(cmd.order_id, cmd.user_id, cmd.side, cmd.price,
                                               left, reserve_left, cmd.stp, cmd.order_type,
                                               self.next_priority()))
                return
        self.emit(OrderExpired, cmd.order_id, cmd.user_id, reason, left, reserve_left or 0)

    def match(self, cmd, reserve):
        """Fill ``cmd`` against the book; returns (left, reserve left, reason it stopped)."""
        buying = cmd.side == Side.BUY
        by_quote = cmd.quote_qty is not None
        left = cmd.quote_qty if by_quote else cmd.qty
        is_market = cmd.price is None
        budget = reserve if (buying and is_market and not by_quote) else None
        low, high = self.band()
        reserve_left = reserve
        while left:
            maker = self.best_maker(cmd.side)
            if maker is None:
                return left, reserve_left, None
            price = maker.price
            if not is_market and (price > cmd.price if buying else price < cmd.price):
                return left, reserve_left, None
            if (high is not None and buying and price > high) or (
                    low is not None and not buying and price < low):
                return left, reserve_left, ExpireReason.PRICE_BAND
            if maker.user_id == cmd.user_id and cmd.stp != StpMode.NONE:
                if cmd.stp == StpMode.EXPIRE_TAKER:
                    return left, reserve_left, ExpireReason.STP_EXPIRE_TAKER
                reason = (ExpireReason.STP_EXPIRE_MAKER if cmd.stp == StpMode.EXPIRE_MAKER
                          else ExpireReason.STP_EXPIRE_BOTH)
                self.resting.remove(maker)
                self.emit(OrderExpired, maker.order_id, maker.user_id, reason, maker.qty,
                          maker.reserve)
                if cmd.stp == StpMode.EXPIRE_BOTH:
                    return left, reserve_left, ExpireReason.STP_EXPIRE_BOTH
                continue
            if by_quote:
                qty = min(maker.qty, left // price)
            else:
                qty = min(maker.qty, left)
                if budget is not None:
                    qty = min(qty, budget // price)
                    budget -= qty * price
            if qty == 0:
                return left, reserve_left, ExpireReason.RESERVE_EXHAUSTED
            left -= qty * price if by_quote else qty
            maker.qty -= qty
            quote = qty * price
            maker_consumed = qty if buying else quote
            taker_consumed = quote if buying else qty
            taker_released = (cmd.price - price) * qty if buying and not is_market else 0
            maker.reserve -= maker_consumed
            maker_released = 0
            if maker.qty == 0:
                maker_released, maker.reserve = maker.reserve, 0
                self.resting.remove(maker)
            if reserve_left is not None:
                reserve_left -= taker_consumed + taker_released
                if left == 0:
                    taker_released += reserve_left
                    reserve_left = 0
            self.emit(Traded, price, qty, quote, maker.side, maker.order_id, cmd.order_id,
                      maker.user_id, cmd.user_id, maker.qty, left, maker_consumed,
                      maker_released, taker_consumed, taker_released)
            self.last_price = price
        return left, reserve_left, None

    def cancel(self, cmd):
        order = self.find_resting(cmd.order_id)
        if order and cmd.user_id in (None, order.user_id):
            self.resting.remove(order)
            self.emit(OrderCancelled, order.order_id, order.user_id, CancelReason.USER,
                      order.qty, order.reserve)
            return
        stop = self.find_stop(cmd.order_id)
        if stop and cmd.user_id in (None, stop.cmd.user_id):
            self.cancel_stop(stop, CancelReason.USER)
            return
        self.emit(CommandRejected, "CANCEL", cmd.order_id, cmd.user_id,
                  RejectReason.UNKNOWN_ORDER)

    def cancel_stop(self, stop, reason):
        self.stops.remove(stop)
        remaining = stop.cmd.quote_qty if stop.cmd.quote_qty is not None else stop.cmd.qty
        self.emit(OrderCancelled, stop.cmd.order_id, stop.cmd.user_id, reason, remaining,
                  stop.reserve or 0)

    def cancel_all(self, cmd):
        mine = [(o.priority, o) for o in self.resting if o.user_id == cmd.user_id]
        mine += [(s.priority, s) for s in self.stops if s.cmd.user_id == cmd.user_id]
        for _, item in sorted(mine, key=lambda pair: pair[0]):
            if isinstance(item, RefStop):
                self.cancel_stop(item, CancelReason.CANCEL_ALL)
            else:
                self.resting.remove(item)
                self.emit(OrderCancelled, item.order_id, item.user_id, CancelReason.CANCEL_ALL,
                          item.qty, item.reserve)

    def amend(self, cmd):
        def refuse(reason):
            self.emit(CommandRejected, "AMEND", cmd.order_id, cmd.user_id, reason)

        order = self.find_resting(cmd.order_id)
        if order is None or cmd.user_id not in (None, order.user_id):
            stop = self.find_stop(cmd.order_id)
            if stop and cmd.user_id in (None, stop.cmd.user_id):
                return refuse(RejectReason.AMEND_NOT_ALLOWED)
            return refuse(RejectReason.UNKNOWN_ORDER)
        price = order.price if cmd.new_price is None else cmd.new_price
        qty = order.qty if cmd.new_qty is None else cmd.new_qty
        if not (is_pos_int(price) and is_pos_int(qty)) or cmd.extra_reserve < 0:
            return refuse(RejectReason.AMEND_NOT_ALLOWED)
        if price == order.price and qty == order.qty:
            return refuse(RejectReason.AMEND_NOT_ALLOWED)
        keeps = price == order.price and qty < order.qty
        if self.status != BookStatus.TRADING and not keeps:
            return refuse(RejectReason.BOOK_NOT_TRADING)
        buying = order.side == Side.BUY
        if price != order.price:
            best = self.best_maker(order.side)
            if best is not None and (best.price <= price if buying else best.price >= price):
                return refuse(RejectReason.AMEND_WOULD_CROSS)
        headroom = order.reserve - (order.price * order.qty if buying else order.qty)
        needed = (price * qty if buying else qty) + headroom
        available = order.reserve + cmd.extra_reserve
        if needed > available:
            return refuse(RejectReason.INSUFFICIENT_RESERVE)
        order.price, order.qty, order.reserve = price, qty, needed
        if not keeps:
            order.priority = self.next_priority()
        self.emit(OrderAmended, order.order_id, order.user_id, price, qty, keeps,
                  available - needed)
        return None
