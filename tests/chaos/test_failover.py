"""Matcher failover (issue 11 part 2): two matcher processes share the markets by leases;
one is killed (kill -9) or paused (SIGSTOP, a long GC pause or a partition) and the other
takes its markets over within lease expiry + rebuild, with no double commit (fencing
epochs) and no lost order. Real processes, a redis-server of the test's own."""

from __future__ import annotations

import re
import signal
import threading
import time
from decimal import Decimal

import pytest
from django.db import close_old_connections

from marketdata.models import Market
from marketdata.tests import support
from matching.models import MarketCheckpoint
from matching.worker_tests.helpers import make_market, make_trader, wait_until
from orders import services
from orders.models import Order
from tests.chaos.harness import committed_trades, replay
from tests.chaos.stack import Stack
from wallets.testing import assert_books_clean

D = Decimal
LEASE_MS = 3000
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SYMBOLS = ["FOA-USDT", "FOB-USDT", "FOC-USDT", "FOD-USDT"]


@pytest.fixture
def stack(settings):
    from matching import streams

    with Stack(database_url=support.test_database_url(), lease_ms=LEASE_MS) as stack:
        stack.redis.start()
        settings.REDIS_URL = stack.redis.url  # order entry announces on the test's Redis
        streams._client = None
        yield stack
    streams._client = None


def _world():
    for symbol in SYMBOLS:
        make_market(symbol)
        MarketCheckpoint.objects.get_or_create(market=Market.objects.get(symbol=symbol))
    funds = {"USDT": "10000000", **{s.split("-")[0]: "100000" for s in SYMBOLS}}
    return [make_trader(f"fo{i}@x.test", funds) for i in range(4)]


class Load:
    """A thread placing crossing limit orders on every market (about 100/s) until
    stopped; ``placed`` are the accepted order ids."""

    def __init__(self, traders):
        self.traders = traders
        self.placed: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                symbol = SYMBOLS[i % len(SYMBOLS)]
                side = "BUY" if (i // len(SYMBOLS)) % 2 else "SELL"
                price = D(100) + D(i % 7 - 3) / 10
                order = services.order_place(user=self.traders[i % len(self.traders)],
                                             market=symbol, side=side, type="LIMIT",
                                             quantity=D("0.5"), price=price)
                self.placed.append(order.pk)
                i += 1
                time.sleep(0.01)
        finally:
            close_old_connections()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def _state():
    return {cp.market.symbol: (cp.epoch, cp.last_sequence)
            for cp in MarketCheckpoint.objects.select_related("market")
            .filter(market__symbol__in=SYMBOLS)}


def _wait(predicate, timeout: float = 30.0) -> bool:
    return wait_until(predicate, timeout=timeout, interval=0.02)


def _all_sequenced() -> bool:
    return not Order.objects.filter(market__symbol__in=SYMBOLS, sequence__isnull=True).exists()


def _assert_exactly_once(placed: list[int]) -> None:
    # no lost order: every accepted order was sequenced exactly once, resting or final
    orders = Order.objects.filter(pk__in=placed)
    assert orders.count() == len(placed)
    assert not orders.filter(sequence__isnull=True).exists()
    # no double commit: per market the command log is gap-free and duplicate-free and its
    # replay gives exactly the committed trades and open orders
    for symbol in SYMBOLS:
        market = Market.objects.get(symbol=symbol)
        seqs = list(Order.objects.filter(market=market).values_list("sequence", flat=True))
        assert len(seqs) == len(set(seqs))
        replayed, open_ids = replay(symbol)
        assert replayed == committed_trades(market)
        assert open_ids == set(Order.objects.filter(market=market, status__in=(
            "NEW", "PARTIALLY_FILLED")).values_list("id", flat=True))
    assert_books_clean()


def _spread(stack):
    """Matcher A owns the first two markets (--markets), B everything else by leases; B
    is the survivor that must take A's markets over."""
    a = stack.start_matcher("--markets", *SYMBOLS[:2])
    assert _wait(lambda: all(_state()[s][0] > 0 for s in SYMBOLS[:2]))
    b = stack.start_matcher()
    assert _wait(lambda: all(_state()[s][0] > 0 for s in SYMBOLS))
    return a, b


def test_kill_one_matcher_the_other_takes_over(stack):
    # given two matchers sharing four markets under a steady stream of orders
    traders = _world()
    a, b = _spread(stack)
    with Load(traders) as load:
        time.sleep(2)
        before = _state()
        # when A is killed (kill -9)
        killed_at = time.monotonic()
        stack.kill_matcher(a)
        # then B takes A's markets: a new epoch, and commits on them again
        assert _wait(lambda: all(_state()[s][0] > before[s][0] and
                                 _state()[s][1] > before[s][1] for s in SYMBOLS[:2]),
                     timeout=LEASE_MS / 1000 + 15)
        takeover = time.monotonic() - killed_at
        time.sleep(1)
    assert _wait(_all_sequenced)
    after = _state()
    # the survivor's markets never changed hands; A's moved to a strictly greater epoch
    for s in SYMBOLS[2:]:
        assert after[s][0] == before[s][0]
    b_log = (stack.log_dir / "matcher-1.log").read_text()
    rebuilds = re.findall(r"(FO[AB]-USDT): epoch \d+, rebuilt (\d+) orders in (\d+) ms", b_log)
    print(f"\nfailover: takeover {takeover:.2f} s after kill -9 (lease {LEASE_MS} ms); "
          f"rebuilds {rebuilds}; {len(load.placed)} orders placed")
    assert takeover < LEASE_MS / 1000 + 5
    assert b.poll() is None
    _assert_exactly_once(load.placed)


def test_paused_matcher_is_fenced_when_it_resumes(stack):
    # given two matchers sharing the markets, under load
    traders = _world()
    a, _b = _spread(stack)
    with Load(traders) as load:
        time.sleep(1)
        before = _state()
        # when A stops (SIGSTOP: a long pause), B takes its markets, and A resumes with its
        # old books and epochs
        a.send_signal(signal.SIGSTOP)
        try:
            assert _wait(lambda: all(_state()[s][0] > before[s][0] for s in SYMBOLS[:2]),
                         timeout=LEASE_MS / 1000 + 15)
            time.sleep(0.5)
        finally:
            a.send_signal(signal.SIGCONT)
        time.sleep(3)
    assert _wait(_all_sequenced)
    # then the resumed matcher never committed with its stale epoch: every market's
    # command log is contiguous, replays to the committed trades, the books balance
    a_log = (stack.log_dir / "matcher-0.log").read_text()
    assert "lost the lease" in a_log or "fenced" in a_log, a_log[-2000:]
    _assert_exactly_once(load.placed)


def test_stale_runner_cannot_commit_after_takeover(stack):
    """In-process: the epoch written by the new holder fences an old runner's commit."""
    from matching.worker.lease import Fenced
    from matching.worker.market import MarketInfo, MarketRunner

    traders = _world()
    stale = MarketRunner(MarketInfo.load(SYMBOLS[0]), epoch=1)
    MarketCheckpoint.objects.filter(market__symbol=SYMBOLS[0]).update(epoch=1)
    stale.rebuild()
    proc = stack.start_matcher("--markets", SYMBOLS[0])  # takes epoch 2
    assert _wait(lambda: _state()[SYMBOLS[0]][0] >= 2)
    # the new holder is paused so the stale runner gets to try the order first
    proc.send_signal(signal.SIGSTOP)
    try:
        order = services.order_place(user=traders[0], market=SYMBOLS[0], side="SELL",
                                     type="LIMIT", quantity=D("1"), price=D("100"))
        with pytest.raises(Fenced):
            stale.process([("P", order.pk)])
        order.refresh_from_db()
        assert order.sequence is None  # nothing of the stale batch was committed
    finally:
        proc.send_signal(signal.SIGCONT)
    # the rightful holder applies it, once
    assert _wait(_all_sequenced)
    assert proc.poll() is None
    _assert_exactly_once([order.pk])
