"""Property test: the engine and the reference book agree on every event and every level.

A Hypothesis rule-based state machine sends the same random commands (all order types,
time-in-force values, STP modes, a few invalid ones, cancels, amendments, status changes,
dump/restore round trips) to :class:`OrderBook` and to the naive
:class:`~matching.tests.reference_book.ReferenceBook`, and after every step checks that
the events are equal, the depth is equal, the open orders are equal, the reported depth
changes cover every level that changed, every order's reservation balances
(:class:`~matching.tests.ledger.ReservationLedger`), and ``check_invariants()`` holds.

Prices are drawn from a narrow range so that orders cross, share levels and hit the band.
"""

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from matching.engine import (
    AmendOrder,
    BookStatus,
    CancelAll,
    CancelOrder,
    OrderBook,
    OrderType,
    PlaceOrder,
    SetStatus,
    Side,
    StpMode,
    TimeInForce,
)

from .ledger import ReservationLedger
from .reference_book import ReferenceBook

STEPS = [0]
USERS = st.integers(1, 4)
PRICES = st.integers(90, 110)
QTYS = st.integers(1, 8)
SIDES = st.sampled_from(Side)
TIFS = st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])
STPS = st.sampled_from([StpMode.EXPIRE_TAKER, StpMode.EXPIRE_MAKER, StpMode.EXPIRE_BOTH,
                        StpMode.NONE])


class EngineMatchesReference(RuleBasedStateMachine):
    @initialize(band_bps=st.sampled_from([None, 300, 800]),
                reference_price=st.sampled_from([None, 100]))
    def create_books(self, band_bps, reference_price):
        self.book = OrderBook(band_bps=band_bps, reference_price=reference_price)
        self.reference = ReferenceBook(band_bps=band_bps, reference_price=reference_price)
        self.next_order_id = 1
        self.used_ids: list[int] = []
        self.ledger = ReservationLedger()

    # -- driving both books --------------------------------------------------------------

    def send(self, command):
        STEPS[0] += 1
        depth_before = self.reference.depth()
        engine_events = self.book.apply(command)
        reference_events = self.reference.apply(command)
        assert engine_events == reference_events, (command, engine_events, reference_events)
        self.ledger.record(engine_events)  # reserve == consumed + released, per order
        self.check_depth_changes(depth_before)

    def check_depth_changes(self, before):
        """Every level whose total changed is reported, with its current total."""
        changes = self.book.take_depth_changes()
        reported_bids = dict(changes.bids) if changes else {}
        reported_asks = dict(changes.asks) if changes else {}
        after = self.reference.depth()
        for old, new, reported in ((before[0], after[0], reported_bids),
                                   (before[1], after[1], reported_asks)):
            old, new = dict(old), dict(new)
            for price in set(old) | set(new):
                if old.get(price, 0) != new.get(price, 0):
                    assert reported.get(price) == new.get(price, 0), (price, reported)
            for price, total in reported.items():
                assert new.get(price, 0) == total

    def new_id(self, reuse: bool) -> int:
        if reuse and self.used_ids:
            return self.used_ids[-1]
        order_id = self.next_order_id
        self.next_order_id += 1
        self.used_ids.append(order_id)
        return order_id

    # -- rules ---------------------------------------------------------------------------

    @rule(side=SIDES, price=PRICES, qty=QTYS, user=USERS, tif=TIFS, stp=STPS,
          post_only=st.booleans(), extra=st.sampled_from([None, None, None, 0, 5, -1]),
          reuse=st.integers(0, 30))
    def place_limit(self, side, price, qty, user, tif, stp, post_only, extra, reuse):
        order_type = OrderType.LIMIT_MAKER if post_only and tif == TimeInForce.GTC \
            else OrderType.LIMIT
        needed = price * qty if side == Side.BUY else qty
        reserve = None if extra is None else needed + extra
        self.send(PlaceOrder(self.new_id(reuse == 0), user, side, order_type, tif, price=price,
                             qty=qty, stp=stp, reserve=reserve))

    @rule(side=SIDES, qty=QTYS, user=USERS, stp=STPS,
          tif=st.sampled_from([TimeInForce.IOC, TimeInForce.FOK]),
          by_quote=st.booleans(), budget=st.sampled_from([None, 50, 300, 2000]))
    def place_market(self, side, qty, user, stp, tif, by_quote, budget):
        if by_quote and side == Side.BUY:
            quote = qty * 100 + (budget or 0) % 97
            command = PlaceOrder(self.new_id(False), user, side, OrderType.MARKET,
                                 TimeInForce.IOC, quote_qty=quote, stp=stp)
        else:
            reserve = budget if side == Side.BUY else None
            command = PlaceOrder(self.new_id(False), user, side, OrderType.MARKET, tif, qty=qty,
                                 stp=stp, reserve=reserve)
        self.send(command)

    @rule(side=SIDES, stop=PRICES, offset=st.integers(-3, 3), qty=QTYS, user=USERS,
          limit=st.booleans(), tif=TIFS, stp=STPS)
    def place_stop(self, side, stop, offset, qty, user, limit, tif, stp):
        if limit:
            command = PlaceOrder(self.new_id(False), user, side, OrderType.STOP_LOSS_LIMIT, tif,
                                 price=stop + offset, qty=qty, stop_price=stop, stp=stp)
        else:
            command = PlaceOrder(self.new_id(False), user, side, OrderType.STOP_LOSS,
                                 TimeInForce.IOC, qty=qty, stop_price=stop, stp=stp,
                                 reserve=qty * 120 if side == Side.BUY else None)
        self.send(command)

    @rule(data=st.data())
    def place_invalid(self, data):
        command = data.draw(st.sampled_from([
            PlaceOrder(self.new_id(False), 1, Side.BUY, price=0, qty=1),
            PlaceOrder(self.new_id(False), 1, Side.SELL, price=100, qty=-2),
            PlaceOrder(self.new_id(False), 1, Side.SELL, OrderType.MARKET, quote_qty=100),
            PlaceOrder(self.new_id(False), 1, Side.BUY, OrderType.MARKET, qty=1, price=100),
            PlaceOrder(self.new_id(False), 1, Side.BUY, OrderType.LIMIT_MAKER, TimeInForce.IOC,
                       price=100, qty=1),
            PlaceOrder(self.new_id(False), 1, Side.BUY, OrderType.STOP_LOSS, qty=1),
            PlaceOrder(self.new_id(False), 1, Side.BUY, price=100, qty=2, reserve=199),
        ]))
        self.send(command)

    @rule(pick=st.integers(0, 10_000), user=st.sampled_from([None, None, 1, 2, 3, 4]))
    def cancel(self, pick, user):
        order_id = self.used_ids[pick % len(self.used_ids)] if self.used_ids else 999_999
        if pick % 7 == 0:
            order_id = 10_000_000 + pick  # never existed
        self.send(CancelOrder(order_id, user))

    @rule(user=USERS)
    def cancel_all(self, user):
        self.send(CancelAll(user))

    @rule(pick=st.integers(0, 10_000), new_price=st.one_of(st.none(), PRICES),
          new_qty=st.one_of(st.none(), QTYS), extra=st.sampled_from([0, 0, 50, 1000]),
          owner=st.booleans())
    def amend(self, pick, new_price, new_qty, extra, owner):
        open_ids = [o.order_id for o in self.book.open_orders()]
        if not open_ids:
            return
        order_id = open_ids[pick % len(open_ids)]
        user = self.reference.find_resting(order_id)
        user = (user.user_id if user else None) if owner else 99
        self.send(AmendOrder(order_id, user, new_price=new_price, new_qty=new_qty,
                             extra_reserve=extra))

    @rule(status=st.sampled_from([BookStatus.HALTED, BookStatus.CANCEL_ONLY]))
    def halt_and_resume(self, status):
        self.send(SetStatus(status))
        self.send(PlaceOrder(self.new_id(False), 1, Side.BUY, price=100, qty=1))
        self.send(SetStatus(BookStatus.TRADING))

    @rule()
    def dump_and_restore(self):
        state = json.loads(json.dumps(self.book.dump()))  # must survive JSON
        self.book = OrderBook.restore(state)

    # -- after every step ----------------------------------------------------------------

    @invariant()
    def books_agree(self):
        self.book.check_invariants()
        snapshot = self.book.depth_snapshot()
        bids, asks = self.reference.depth()
        assert snapshot.bids == bids and snapshot.asks == asks
        assert self.book.last_price == self.reference.last_price
        assert self.book.seq == self.reference.seq
        engine_open = [(o.order_id, o.qty, o.reserve) for o in self.book.open_orders()]
        reference_open = sorted(
            [(o.priority, (o.order_id, o.qty, o.reserve)) for o in self.reference.resting]
            + [(s.priority, (s.cmd.order_id, s.cmd.qty, s.reserve))
               for s in self.reference.stops])
        assert engine_open == [item for _, item in reference_open]


EngineMatchesReference.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMatchesReference = EngineMatchesReference.TestCase
