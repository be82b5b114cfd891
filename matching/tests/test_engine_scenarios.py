"""Scenario tests: every order type x time in force x STP mode, and the edge cases."""

from decimal import Decimal

import pytest

from matching.engine import (
    AmendOrder,
    BookStatus,
    CancelAll,
    CancelOrder,
    CancelReason,
    CommandRejected,
    DepthChanged,
    ExpireReason,
    MarketSpec,
    NotAMultipleError,
    OrderAccepted,
    OrderAmended,
    OrderBook,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    OrderType,
    PlaceOrder,
    RejectReason,
    RestingOrder,
    SetStatus,
    Side,
    StatusChanged,
    StpMode,
    TimeInForce,
    Traded,
)

from .ledger import ReservationLedger

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET, LIMIT_MAKER = OrderType.LIMIT, OrderType.MARKET, OrderType.LIMIT_MAKER
STOP_LOSS, STOP_LOSS_LIMIT = OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK


def fills(events):
    return [(e.maker_order_id, e.taker_order_id, e.price, e.qty) for e in events
            if isinstance(e, Traded)]


def endings(events):
    """(event type, order id, reason) of every cancel/expiry/rejection."""
    return [(type(e).__name__, e.order_id, e.reason) for e in events
            if isinstance(e, OrderCancelled | OrderExpired | OrderRejected | CommandRejected)]


class Session:
    """A book plus a ledger that checks the reservation identity on every event."""

    def __init__(self, **options):
        self.book = OrderBook(**options)
        self.ledger = ReservationLedger()

    def send(self, command):
        events = self.book.apply(command)
        self.ledger.record(events)
        self.book.check_invariants()
        return events

    def limit(self, order_id, user_id, side, price, qty, **fields):
        return self.send(PlaceOrder(order_id, user_id, side, price=price, qty=qty, **fields))


# ---------------------------------------------------------------- type x tif x STP matrix

TAKER = 50
OWN_MAKER, OTHER_MAKER, OTHER_MAKER_2 = 11, 12, 13


def place_taker(session, order_type, tif, stp, qty):
    """User 1 buys ``qty`` (limit 101 where it has a price); stops are triggered first."""
    if order_type in (STOP_LOSS, STOP_LOSS_LIMIT):
        price = 101 if order_type is STOP_LOSS_LIMIT else None
        reserve = None if price else 101 * qty
        placed = session.send(PlaceOrder(TAKER, 1, BUY, order_type, tif, price=price, qty=qty,
                                         stop_price=100, stp=stp, reserve=reserve))
        assert isinstance(placed[-1], OrderAccepted)
        session.limit(14, 4, SELL, 100, 1)  # first in line: the trigger trade takes it
        layout(session)
        events = session.limit(60, 3, BUY, 100, 1)  # trades with user 4's 1 @ 100: last=100
        assert isinstance(events[2], OrderTriggered)
        return events[3:]
    layout(session)
    price = None if order_type is MARKET else 101
    reserve = 101 * qty if order_type is MARKET else None
    return session.send(PlaceOrder(TAKER, 1, BUY, order_type, tif, price=price, qty=qty,
                                   stp=stp, reserve=reserve))


def layout(session):
    """Asks: own 2@100, then another user's 5@100 and 5@101."""
    session.limit(OWN_MAKER, 1, SELL, 100, 2)
    session.limit(OTHER_MAKER, 2, SELL, 100, 5)
    session.limit(OTHER_MAKER_2, 2, SELL, 101, 5)


def expected_self_trade_outcome(order_type, tif, stp):
    """(fills, endings) for a buy of 3 that meets its own maker first."""
    if order_type is LIMIT_MAKER:
        reason = RejectReason.POST_ONLY_WOULD_TAKE if tif is GTC else RejectReason.INVALID_ORDER
        return [], [("OrderRejected", TAKER, reason)]
    if stp is StpMode.NONE:
        return [(OWN_MAKER, TAKER, 100, 2), (OTHER_MAKER, TAKER, 100, 1)], []
    if stp is StpMode.EXPIRE_MAKER:
        return ([(OTHER_MAKER, TAKER, 100, 3)],
                [("OrderExpired", OWN_MAKER, ExpireReason.STP_EXPIRE_MAKER)])
    if tif is FOK:  # decided before any fill: the own maker blocks it, nothing else happens
        return [], [("OrderExpired", TAKER, ExpireReason.FILL_OR_KILL)]
    if stp is StpMode.EXPIRE_TAKER:
        return [], [("OrderExpired", TAKER, ExpireReason.STP_EXPIRE_TAKER)]
    return [], [("OrderExpired", OWN_MAKER, ExpireReason.STP_EXPIRE_BOTH),
                ("OrderExpired", TAKER, ExpireReason.STP_EXPIRE_BOTH)]


ORDER_TYPES = [LIMIT, MARKET, LIMIT_MAKER, STOP_LOSS, STOP_LOSS_LIMIT]


@pytest.mark.parametrize("stp", list(StpMode))
@pytest.mark.parametrize("tif", [GTC, IOC, FOK])
@pytest.mark.parametrize("order_type", ORDER_TYPES)
def test_type_tif_stp_against_own_maker_first(order_type, tif, stp):
    # given asks where the taker's own order is first in line at the best price
    session = Session()
    # when user 1 buys 3
    events = place_taker(session, order_type, tif, stp, qty=3)
    # then STP and the time in force decide, exactly as Binance documents
    expected_fills, expected_endings = expected_self_trade_outcome(order_type, tif, stp)
    assert fills(events) == expected_fills
    assert endings(events) == expected_endings


@pytest.mark.parametrize("tif", [GTC, IOC, FOK])
@pytest.mark.parametrize("order_type", ORDER_TYPES)
def test_type_tif_when_liquidity_runs_out(order_type, tif):
    # given 12 on offer within the limit (1 of it consumed by the stop trigger)
    session = Session()
    # when another user's order wants more than there is
    events = place_taker(session, order_type, tif, StpMode.EXPIRE_TAKER, qty=20)
    traded = sum(qty for *_, qty in fills(events))
    if order_type is LIMIT_MAKER:
        expected = [("OrderRejected", TAKER, RejectReason.POST_ONLY_WOULD_TAKE if tif is GTC
                     else RejectReason.INVALID_ORDER)]
        assert endings(events) == expected
        return
    # the own maker (user 1) stops the taker under the default STP, unless FOK sees it first
    if tif is FOK:
        assert traded == 0
        assert endings(events) == [("OrderExpired", TAKER, ExpireReason.FILL_OR_KILL)]
    else:
        assert traded == 0
        assert endings(events) == [("OrderExpired", TAKER, ExpireReason.STP_EXPIRE_TAKER)]


@pytest.mark.parametrize("tif", [GTC, IOC, FOK])
@pytest.mark.parametrize("order_type", [LIMIT, MARKET, STOP_LOSS, STOP_LOSS_LIMIT])
def test_remainder_rests_or_expires_by_tif(order_type, tif):
    # given 12 on offer, none of it the taker's own (STP cannot interfere)
    session = Session()
    events = place_taker(session, order_type, tif, StpMode.NONE, qty=20)
    traded = sum(qty for *_, qty in fills(events))
    available = 12  # the stop trigger trade took user 4's extra 1 @ 100
    is_market = order_type in (MARKET, STOP_LOSS)
    if tif is FOK:
        assert traded == 0
        assert endings(events) == [("OrderExpired", TAKER, ExpireReason.FILL_OR_KILL)]
    elif is_market or tif is IOC:
        assert traded == available
        assert endings(events) == [("OrderExpired", TAKER, ExpireReason.IMMEDIATE_OR_CANCEL)]
    else:  # GTC limit: the remainder rests at its limit
        assert traded == available
        assert endings(events) == []
        assert session.book.best_bid() == 101
        assert session.book.depth_snapshot().bids == [(101, 20 - available)]


# ---------------------------------------------------------------- edge cases


def test_taker_sweeps_several_levels_in_price_time_order_and_releases_improvement():
    session = Session()
    session.limit(1, 1, SELL, 100, 2)
    session.limit(2, 2, SELL, 101, 3)
    session.limit(3, 3, SELL, 100, 4)
    session.limit(4, 4, SELL, 103, 5)
    events = session.limit(9, 9, BUY, 102, 10)
    assert fills(events) == [(1, 9, 100, 2), (3, 9, 100, 4), (2, 9, 101, 3)]
    trades = [e for e in events if isinstance(e, Traded)]
    # price improvement is released per fill: (limit - price) * qty
    assert [t.taker_released for t in trades] == [4, 8, 3]
    assert [t.taker_consumed for t in trades] == [200, 400, 303]
    assert trades[-1].taker_remaining == 1
    assert session.book.depth_snapshot().bids == [(102, 1)]
    assert session.book.depth_snapshot().asks == [(103, 5)]


def test_fok_that_exactly_fits_fills_and_one_that_misses_by_one_step_does_nothing():
    session = Session()
    session.limit(1, 1, SELL, 100, 3)
    session.limit(2, 2, SELL, 101, 4)
    miss = session.send(PlaceOrder(9, 9, BUY, tif=FOK, price=101, qty=8))
    assert fills(miss) == []
    assert endings(miss) == [("OrderExpired", 9, ExpireReason.FILL_OR_KILL)]
    assert miss[-1].released == 808
    fit = session.send(PlaceOrder(10, 9, BUY, tif=FOK, price=101, qty=7))
    assert fills(fit) == [(1, 10, 100, 3), (2, 10, 101, 4)]
    assert session.book.best_ask() is None


def test_fok_accounts_for_the_band_and_for_expire_maker():
    session = Session(band_bps=100, reference_price=100)  # buys may reach 101 at most
    session.limit(1, 1, SELL, 100, 3)
    session.limit(2, 9, SELL, 101, 2)  # the taker's own: skipped under EXPIRE_MAKER
    session.limit(3, 2, SELL, 101, 3)
    session.limit(4, 2, SELL, 102, 10)  # beyond the band
    blocked = session.send(PlaceOrder(9, 9, BUY, tif=FOK, price=105, qty=7,
                                      stp=StpMode.EXPIRE_MAKER))
    assert endings(blocked) == [("OrderExpired", 9, ExpireReason.FILL_OR_KILL)]
    assert 2 in session.book  # a killed FOK expires no maker
    fits = session.send(PlaceOrder(10, 9, BUY, tif=FOK, price=105, qty=6,
                                   stp=StpMode.EXPIRE_MAKER))
    assert fills(fits) == [(1, 10, 100, 3), (3, 10, 101, 3)]
    assert endings(fits) == [("OrderExpired", 2, ExpireReason.STP_EXPIRE_MAKER)]


def test_price_band_stops_a_sweep_and_the_rest_expires_even_for_gtc():
    session = Session(band_bps=200, reference_price=1000)  # 980 .. 1020
    session.limit(1, 1, BUY, 1000, 1)
    session.limit(2, 1, BUY, 979, 5)
    events = session.send(PlaceOrder(9, 9, SELL, MARKET, qty=3))
    assert fills(events) == [(1, 9, 1000, 1)]
    assert endings(events) == [("OrderExpired", 9, ExpireReason.PRICE_BAND)]
    assert events[-1].remaining == 2
    # the band follows the last trade price
    session.limit(3, 1, SELL, 1021, 1)
    limit = session.limit(10, 9, BUY, 1030, 1)
    assert fills(limit) == []
    assert endings(limit) == [("OrderExpired", 10, ExpireReason.PRICE_BAND)]


def test_market_buy_by_base_quantity_is_capped_by_its_reserve():
    session = Session()
    session.limit(1, 1, SELL, 100, 5)
    session.limit(2, 1, SELL, 110, 5)
    events = session.send(PlaceOrder(9, 9, BUY, MARKET, qty=8, reserve=800))
    # 5 @ 100 = 500; 300 left buys 2 @ 110 (220); 80 left cannot buy another step
    assert fills(events) == [(1, 9, 100, 5), (2, 9, 110, 2)]
    assert endings(events) == [("OrderExpired", 9, ExpireReason.RESERVE_EXHAUSTED)]
    assert events[-1].released == 80


def test_market_buy_by_quote_runs_out_of_quote():
    session = Session()
    session.limit(1, 1, SELL, 100, 5)
    session.limit(2, 1, SELL, 110, 5)
    events = session.send(PlaceOrder(9, 9, BUY, MARKET, quote_qty=750))
    assert fills(events) == [(1, 9, 100, 5), (2, 9, 110, 2)]
    assert endings(events) == [("OrderExpired", 9, ExpireReason.RESERVE_EXHAUSTED)]
    assert events[-1].remaining == 30 and events[-1].released == 30


def test_market_buy_by_quote_runs_out_of_liquidity():
    session = Session()
    session.limit(1, 1, SELL, 100, 5)
    events = session.send(PlaceOrder(9, 9, BUY, MARKET, quote_qty=10_000))
    assert fills(events) == [(1, 9, 100, 5)]
    assert endings(events) == [("OrderExpired", 9, ExpireReason.IMMEDIATE_OR_CANCEL)]
    assert events[-1].released == 9_500


def test_market_buy_by_quote_that_spends_exactly_everything_ends_filled():
    session = Session()
    session.limit(1, 1, SELL, 100, 5)
    events = session.send(PlaceOrder(9, 9, BUY, MARKET, quote_qty=300))
    assert fills(events) == [(1, 9, 100, 3)]
    assert endings(events) == []
    assert events[-1].taker_remaining == 0 and events[-1].taker_consumed == 300


def test_post_only_that_would_cross_is_rejected_not_repriced():
    session = Session()
    session.limit(1, 1, SELL, 100, 5)
    rejected = session.send(PlaceOrder(9, 9, BUY, LIMIT_MAKER, price=100, qty=1))
    assert endings(rejected) == [("OrderRejected", 9, RejectReason.POST_ONLY_WOULD_TAKE)]
    assert rejected[0].released == 100
    rests = session.send(PlaceOrder(10, 9, BUY, LIMIT_MAKER, price=99, qty=1))
    assert isinstance(rests[0], OrderAccepted) and len(rests) == 1
    assert session.book.best_bid() == 99


def test_stop_cascade_triggers_in_order():
    session = Session(reference_price=100)
    for order_id, price in ((1, 99), (2, 98), (3, 97), (4, 96)):
        session.limit(order_id, 1, BUY, price, 1)
    # sell stops at 99 and 98: each one's fill moves the price down to the next stop
    session.send(PlaceOrder(20, 2, SELL, STOP_LOSS, qty=1, stop_price=98))
    session.send(PlaceOrder(21, 3, SELL, STOP_LOSS, qty=1, stop_price=99))
    session.send(PlaceOrder(22, 4, SELL, STOP_LOSS_LIMIT, price=90, qty=1, stop_price=97))
    events = session.limit(30, 5, SELL, 99, 1)  # trades at 99: triggers stop 21
    kinds = [(type(e).__name__, getattr(e, "order_id", getattr(e, "taker_order_id", None)))
             for e in events]
    assert kinds == [
        ("OrderAccepted", 30), ("Traded", 30),
        ("OrderTriggered", 21), ("Traded", 21),   # 21 sells at 98 -> triggers 20
        ("OrderTriggered", 20), ("Traded", 20),   # 20 sells at 97 -> triggers 22
        ("OrderTriggered", 22), ("Traded", 22),   # 22 sells at 96
    ]
    assert session.book.last_price == 96


def test_stops_triggered_together_enter_by_stop_price_then_time():
    session = Session(reference_price=100)
    session.limit(1, 1, SELL, 105, 10)
    session.send(PlaceOrder(20, 2, BUY, STOP_LOSS_LIMIT, price=110, qty=1, stop_price=103))
    session.send(PlaceOrder(21, 3, BUY, STOP_LOSS_LIMIT, price=110, qty=1, stop_price=102))
    session.send(PlaceOrder(22, 4, BUY, STOP_LOSS_LIMIT, price=110, qty=1, stop_price=102))
    events = session.limit(30, 5, BUY, 105, 1)
    assert [e.order_id for e in events if isinstance(e, OrderTriggered)] == [21, 22, 20]


def test_stop_that_would_trigger_immediately_is_rejected():
    session = Session(reference_price=100)
    events = session.send(PlaceOrder(1, 1, SELL, STOP_LOSS, qty=1, stop_price=100))
    assert endings(events) == [("OrderRejected", 1,
                                RejectReason.STOP_WOULD_TRIGGER_IMMEDIATELY)]


def test_amend_down_keeps_priority_and_up_or_reprice_loses_it():
    session = Session()
    session.limit(1, 1, SELL, 100, 5)
    session.limit(2, 2, SELL, 100, 5)
    down = session.send(AmendOrder(1, 1, new_qty=3))
    assert down == [OrderAmended(down[0].seq, 1, 1, 100, 3, True, 2)]
    assert fills(session.limit(9, 9, BUY, 100, 1)) == [(1, 9, 100, 1)]
    up = session.send(AmendOrder(1, 1, new_qty=4, extra_reserve=2))
    assert up[0].priority_kept is False and up[0].released == 0
    assert fills(session.limit(10, 9, BUY, 100, 1)) == [(2, 10, 100, 1)]
    session.send(AmendOrder(2, 2, new_price=101))
    assert session.book.depth_snapshot().asks == [(100, 4), (101, 4)]
    crossing = session.send(AmendOrder(1, 1, new_price=90))  # best bid is none: fine
    assert crossing[0].priority_kept is False
    session.limit(11, 9, BUY, 80, 1)
    refused = session.send(AmendOrder(1, 1, new_price=80))
    assert endings(refused) == [("CommandRejected", 1, RejectReason.AMEND_WOULD_CROSS)]


def test_amend_of_a_buy_needs_the_extra_reserve():
    session = Session()
    session.limit(1, 1, BUY, 100, 5)
    refused = session.send(AmendOrder(1, 1, new_price=101))
    assert endings(refused) == [("CommandRejected", 1, RejectReason.INSUFFICIENT_RESERVE)]
    done = session.send(AmendOrder(1, 1, new_price=101, extra_reserve=10))
    assert done[0].released == 5
    down = session.send(AmendOrder(1, 1, new_price=90))
    assert down[0].released == 55


def test_cancel_of_unknown_filled_or_foreign_order_is_refused():
    session = Session()
    session.limit(1, 1, SELL, 100, 1)
    session.limit(2, 2, BUY, 100, 1)  # fills order 1
    for order_id, user_id in ((1, 1), (777, None), (2, 2)):
        events = session.send(CancelOrder(order_id, user_id))
        assert endings(events) == [("CommandRejected", order_id, RejectReason.UNKNOWN_ORDER)]
    session.limit(3, 3, BUY, 90, 1)
    assert endings(session.send(CancelOrder(3, 4))) == [
        ("CommandRejected", 3, RejectReason.UNKNOWN_ORDER)]
    cancelled = session.send(CancelOrder(3, 3))
    assert cancelled == [OrderCancelled(cancelled[0].seq, 3, 3, CancelReason.USER, 1, 90)]


def test_cancel_all_cancels_resting_and_stops_oldest_first():
    session = Session(reference_price=100)
    session.limit(1, 1, BUY, 90, 1)
    session.limit(2, 2, BUY, 91, 1)
    session.send(PlaceOrder(3, 1, SELL, STOP_LOSS, qty=2, stop_price=95))
    session.limit(4, 1, SELL, 120, 1)
    events = session.send(CancelAll(1))
    assert [(e.order_id, e.reason) for e in events] == [
        (1, CancelReason.CANCEL_ALL), (3, CancelReason.CANCEL_ALL), (4, CancelReason.CANCEL_ALL)]
    assert len(session.book) == 1


def test_halted_book_rejects_placements_and_accepts_cancels():
    session = Session()
    session.limit(1, 1, BUY, 90, 2)
    for status in (BookStatus.HALTED, BookStatus.CANCEL_ONLY):
        assert session.send(SetStatus(status)) == [StatusChanged(session.book.seq, status)]
        events = session.limit(2, 1, BUY, 90, 1)
        assert endings(events) == [("OrderRejected", 2, RejectReason.BOOK_NOT_TRADING)]
        assert endings(session.send(AmendOrder(1, 1, new_price=89))) == [
            ("CommandRejected", 1, RejectReason.BOOK_NOT_TRADING)]
    assert session.send(AmendOrder(1, 1, new_qty=1))[0].priority_kept
    assert isinstance(session.send(CancelOrder(1, 1))[0], OrderCancelled)
    session.send(SetStatus(BookStatus.TRADING))
    assert isinstance(session.limit(3, 1, BUY, 90, 1)[0], OrderAccepted)


def test_invalid_orders_and_insufficient_reserve_are_rejected():
    session = Session()
    cases = [
        (PlaceOrder(1, 1, BUY, price=100, qty=0), RejectReason.INVALID_ORDER),
        (PlaceOrder(2, 1, BUY, MARKET, qty=1, quote_qty=5), RejectReason.INVALID_ORDER),
        (PlaceOrder(3, 1, SELL, MARKET, quote_qty=5), RejectReason.INVALID_ORDER),
        (PlaceOrder(4, 1, BUY, MARKET, FOK, quote_qty=5), RejectReason.INVALID_ORDER),
        (PlaceOrder(5, 1, BUY, price=100, qty=2, reserve=199),
         RejectReason.INSUFFICIENT_RESERVE),
        (PlaceOrder(6, 1, SELL, price=100, qty=2, reserve=1), RejectReason.INSUFFICIENT_RESERVE),
    ]
    for command, reason in cases:
        assert endings(session.send(command)) == [("OrderRejected", command.order_id, reason)]
    session.limit(7, 1, BUY, 90, 1)
    assert endings(session.limit(7, 1, BUY, 90, 1)) == [
        ("OrderRejected", 7, RejectReason.DUPLICATE_ORDER_ID)]


def test_stp_applies_to_the_same_user_only_and_the_default_is_expire_taker():
    assert PlaceOrder(1, 1, BUY).stp is StpMode.EXPIRE_TAKER
    session = Session()
    session.limit(1, 1, SELL, 100, 1)
    session.limit(2, 2, SELL, 100, 1)
    events = session.limit(3, 2, BUY, 100, 2)
    assert fills(events) == [(1, 3, 100, 1)]
    assert endings(events) == [("OrderExpired", 3, ExpireReason.STP_EXPIRE_TAKER)]
    assert 2 in session.book


def test_command_sequence_makes_redelivery_harmless():
    book = OrderBook()
    first = book.apply(PlaceOrder(1, 1, BUY, price=100, qty=1, seq=10))
    assert book.apply(PlaceOrder(1, 1, BUY, price=100, qty=1, seq=10)) == []
    assert book.apply(CancelOrder(1, seq=9)) == []
    assert len(first) == 1 and book.last_command_seq == 10


def stream(n=3_000):
    import random

    rng = random.Random(5)
    commands = []
    for order_id in range(1, n):
        roll = rng.random()
        side = BUY if rng.random() < 0.5 else SELL
        if roll < 0.2:
            commands.append(CancelOrder(rng.randrange(1, order_id + 1)))
        elif roll < 0.3:
            commands.append(PlaceOrder(order_id, rng.randint(1, 5), side, MARKET,
                                       qty=rng.randint(1, 9)))
        elif roll < 0.35:
            commands.append(PlaceOrder(order_id, rng.randint(1, 5), side, STOP_LOSS_LIMIT,
                                       price=rng.randint(95, 105), qty=rng.randint(1, 9),
                                       stop_price=rng.randint(95, 105)))
        elif roll < 0.4:
            commands.append(AmendOrder(rng.randrange(1, order_id + 1),
                                       new_qty=rng.randint(1, 5)))
        else:
            commands.append(PlaceOrder(order_id, rng.randint(1, 5), side,
                                       tif=rng.choice([GTC, GTC, IOC, FOK]),
                                       price=rng.randint(95, 105), qty=rng.randint(1, 9),
                                       stp=rng.choice(list(StpMode))))
    return commands


def test_determinism_same_commands_same_events():
    commands = stream()
    runs = []
    for _ in range(2):
        book = OrderBook(band_bps=500, reference_price=100)
        runs.append([book.apply(command) for command in commands])
    assert runs[0] == runs[1]
    assert sum(isinstance(e, Traded) for events in runs[0] for e in events) > 100


def test_dump_restore_behaves_identically():
    commands = stream()
    book = OrderBook(band_bps=500, reference_price=100)
    for command in commands[:1_500]:
        book.apply(command)
    clone = OrderBook.restore(book.dump())
    assert clone.dump() == book.dump()
    for command in commands[1_500:]:
        assert clone.apply(command) == book.apply(command)
    assert clone.dump() == book.dump()


def test_rebuild_from_open_orders_matches_the_original():
    commands = stream()
    book = OrderBook(reference_price=100)
    for command in commands[:1_500]:
        book.apply(command)
    rebuilt = OrderBook.rebuild(book.open_orders(), last_price=book.last_price,
                                seq=book.seq, reference_price=100)
    assert rebuilt.depth_snapshot().bids == book.depth_snapshot().bids
    assert rebuilt.depth_snapshot().asks == book.depth_snapshot().asks
    for command in commands[1_500:]:
        assert rebuilt.apply(command) == book.apply(command)


def test_depth_changes_snapshot_and_update_ids():
    book = OrderBook(depth_events=True)
    assert book.take_depth_changes() is None
    events = book.apply(PlaceOrder(1, 1, BUY, price=100, qty=2))
    assert events[-1] == DepthChanged(events[-1].seq, 1, ((100, 2),), ())
    book.apply(PlaceOrder(2, 1, SELL, price=105, qty=3))
    book.apply(CancelOrder(99))  # refused: no depth change, no update id
    book.apply(PlaceOrder(3, 2, SELL, price=100, qty=2))
    changes = book.take_depth_changes()
    assert (changes.first_update_id, changes.last_update_id) == (1, 3)
    assert changes.bids == [(100, 0)] and changes.asks == [(105, 3)]
    assert book.take_depth_changes() is None
    snapshot = book.depth_snapshot(limit=1)
    assert snapshot.update_id == 3 and snapshot.asks == [(105, 3)] and snapshot.bids == []


def test_cancelled_orders_are_compacted_out_of_a_busy_level():
    book = OrderBook()
    book.apply(PlaceOrder(1, 1, SELL, price=100, qty=1))
    for order_id in range(2, 200):
        book.apply(PlaceOrder(order_id, 1, SELL, price=100, qty=1))
        book.apply(CancelOrder(order_id))
        book.check_invariants()
    assert len(book._levels[100][0]) < 40  # the level's queue


def test_market_spec_converts_exactly_and_refuses_to_round():
    spec = MarketSpec(tick_size=Decimal("0.01"), step_size=Decimal("0.0001"))
    assert spec.price_to_ticks(Decimal("30000.01")) == 3_000_001
    assert spec.qty_to_steps("0.5") == 5_000
    assert spec.quote_to_units("1.000001") == 1_000_001
    assert spec.ticks_to_price(3_000_001) == Decimal("30000.01")
    assert spec.steps_to_qty(5_000) == Decimal("0.5")
    assert spec.units_to_quote(1) == Decimal("0.000001")
    with pytest.raises(NotAMultipleError):
        spec.price_to_ticks("30000.001")
    with pytest.raises(NotAMultipleError):
        spec.qty_to_steps(Decimal("0.00005"))
    with pytest.raises(TypeError):
        spec.price_to_ticks(1.5)
    with pytest.raises(ValueError, match="positive"):
        MarketSpec(tick_size=Decimal(0), step_size=Decimal(1))


def test_events_are_frozen_dataclasses_and_fast_built_ones_equal_normal_ones():
    import dataclasses

    book = OrderBook()
    book.apply(PlaceOrder(1, 1, SELL, price=100, qty=1))
    trade = book.apply(PlaceOrder(2, 2, BUY, price=100, qty=1))[1]
    assert dataclasses.is_dataclass(trade) and type(trade) is Traded
    assert trade == Traded(**dataclasses.asdict(trade))
    assert hash(trade) == hash(Traded(**dataclasses.asdict(trade)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        trade.qty = 5


def test_rebuild_rejects_a_crossed_store():
    with pytest.raises(AssertionError, match="crossed"):
        OrderBook.rebuild([RestingOrder(1, 1, BUY, 101, 1), RestingOrder(2, 2, SELL, 100, 1)])
