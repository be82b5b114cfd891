"""kill -9 at every point of a batch, Redis losing the stream, and a second matcher:
whatever happens, every accepted order is applied exactly once and the result equals a
crash-free run of the same commands (DESIGN §2, §3)."""

import random
import threading
from decimal import Decimal

import pytest
import redis
from django.db import close_old_connections

from marketdata.models import Market, Trade
from matching.engine import OrderBook
from matching.models import CommandLog, MarketCheckpoint
from matching.worker import payloads
from matching.worker_tests.helpers import (
    all_applied,
    make_market,
    make_trader,
    redis_lose,
    run_matcher_until_idle,
    start_matcher,
    stop,
    wait_until,
)
from orders import services
from orders.models import Order
from wallets.models import Balance
from wallets.testing import assert_books_clean

D = Decimal
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _scenario(symbol: str, traders: list, seed: int = 7, n: int = 120) -> list[int]:
    """Random limit/market/IOC orders and cancels around 100.00; returns order ids in
    placement order."""
    rng = random.Random(seed)
    ids = []
    for i in range(n):
        user = traders[i % len(traders)]
        side = rng.choice(["BUY", "SELL"])
        roll = rng.random()
        if roll < 0.1 and ids:
            victim = Order.objects.get(pk=rng.choice(ids))
            if victim.is_open and not victim.cancel_requested:
                services.order_cancel(user=victim.user, order_id=victim.pk)
            continue
        price = D(100) + D(rng.randint(-30, 30)) / 10
        qty = D(rng.randint(1, 30)) / 10
        if roll < 0.2:
            order = services.order_place(user=user, market=symbol, side=side, type="MARKET",
                                         quantity=qty)
        else:
            tif = "IOC" if roll < 0.3 else "GTC"
            order = services.order_place(user=user, market=symbol, side=side, type="LIMIT",
                                         quantity=qty, price=price, time_in_force=tif)
        ids.append(order.pk)
    return ids


def _normalized(market: Market, ids: list[int]) -> dict:
    index = {pk: i for i, pk in enumerate(ids)}
    trades = [(t.sequence, t.match_index, index[t.buy_order_id], index[t.sell_order_id],
               t.price, t.quantity, t.buyer_fee, t.seller_fee)
              for t in Trade.objects.filter(market=market).order_by("sequence", "match_index")]
    orders = sorted((index[o.pk], o.status, o.filled_quantity, o.reserve_remaining, o.reason)
                    for o in Order.objects.filter(market=market))
    return {"trades": trades, "orders": orders}


def _replay_trades(market: Market) -> list[tuple]:
    """The committed command log through a fresh engine gives the committed trades."""
    from matching.engine import MarketSpec, Traded

    spec = MarketSpec(tick_size=market.tick_size, step_size=market.step_size)
    book = OrderBook(band_bps=int(market.price_band_pct * 100),
                     reference_price=spec.price_to_ticks(market.reference_price))
    out = []
    expected = 1
    for row in CommandLog.objects.filter(market=market).order_by("sequence"):
        for sequence, payload in row.commands():
            assert sequence == expected  # no gap, no duplicate
            expected += 1
            command = payloads.decode(payload)
            if command is None:
                continue
            for index, event in enumerate(book.apply(command)):
                if isinstance(event, Traded):
                    out.append((sequence, index, spec.ticks_to_price(event.price),
                                spec.steps_to_qty(event.qty)))
    return out


def _setup_twin_markets():
    make_market("BTC-USDT")
    make_market("ETH-USDT")
    traders = [make_trader(f"t{i}@x.test", {"BTC": "100", "ETH": "100", "USDT": "100000"})
               for i in range(4)]
    return traders


@pytest.mark.parametrize("point", ["after_read", "in_commit", "after_commit"])
def test_kill_at_each_point_equals_crash_free_run(redis_url, point):
    # given the same commands queued on two markets
    traders = _setup_twin_markets()
    ids_crash = _scenario("BTC-USDT", traders)
    ids_clean = _scenario("ETH-USDT", traders)
    # when the BTC matcher dies (os._exit(137), as kill -9) at `point` of its 2nd batch
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish",
                                       "--batch-size", "25",
                                       BOURSE_MATCHER_CRASH_AT=point,
                                       BOURSE_MATCHER_CRASH_BATCH="2")
    assert code == 137, out
    close_old_connections()
    assert not all_applied(Market.objects.get(symbol="BTC-USDT"))
    # and is restarted (its lease expires first), and ETH runs without any crash
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT", "ETH-USDT"], "--no-publish",
                                       "--batch-size", "25")
    assert code == 0, out
    # then
    btc, eth = Market.objects.get(symbol="BTC-USDT"), Market.objects.get(symbol="ETH-USDT")
    assert all_applied(btc) and all_applied(eth)
    crashed, clean = _normalized(btc, ids_crash), _normalized(eth, ids_clean)
    assert crashed == clean
    assert len(crashed["trades"]) > 10
    assert not Order.objects.filter(status="NEW", sequence__isnull=True).exists()
    replay = _replay_trades(btc)
    assert replay == [(t.sequence, t.match_index, t.price, t.quantity)
                      for t in Trade.objects.filter(market=btc).order_by("sequence", "match_index")]
    assert_books_clean()


def test_redis_lost_with_unconsumed_entries(redis_url):
    # given accepted orders whose announcements Redis then loses
    make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "5"})
    bob = make_trader("bob@x.test", {"USDT": "1000"})
    sell = services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                                quantity=D("1"), price=D("100.00"))
    buy = services.order_place(user=bob, market="BTC-USDT", side="BUY", type="LIMIT",
                               quantity=D("1"), price=D("100.00"))
    redis_lose(redis_url)
    # when the matcher starts
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish")
    # then the sweep re-announced them and they matched
    assert code == 0, out
    sell.refresh_from_db()
    buy.refresh_from_db()
    assert sell.status == buy.status == "FILLED"
    assert Trade.objects.count() == 1
    assert_books_clean()


def test_redis_flushed_while_matcher_runs(redis_url):
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "5"})
    bob = make_trader("bob@x.test", {"USDT": "1000"})
    proc = start_matcher(redis_url, ["BTC-USDT"], "--no-publish")
    try:
        services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                             quantity=D("1"), price=D("100.00"))
        assert wait_until(lambda: all_applied(market))
        client = redis.Redis.from_url(redis_url)
        redis_lose(redis_url)
        # an order accepted right after the loss, whose announcement is lost too
        buy = services.order_place(user=bob, market="BTC-USDT", side="BUY", type="LIMIT",
                                   quantity=D("1"), price=D("100.00"))
        client.delete("{BTC-USDT}:commands")
        assert wait_until(lambda: Order.objects.get(pk=buy.pk).status == "FILLED", timeout=30)
    finally:
        out = stop(proc)
    assert Trade.objects.count() == 1, out
    assert_books_clean()


def test_second_matcher_never_commits(redis_url):
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "50"})
    first = start_matcher(redis_url, ["BTC-USDT"], "--no-publish")
    try:
        assert wait_until(lambda: MarketCheckpoint.objects.filter(market=market, epoch__gt=0)
                          .exists())
        epoch = MarketCheckpoint.objects.get(market=market).epoch
        second = start_matcher(redis_url, ["BTC-USDT"], "--no-publish")
        try:
            for _ in range(20):
                services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                                     quantity=D("1"), price=D("100.00"))
            assert wait_until(lambda: all_applied(market))
            checkpoint = MarketCheckpoint.objects.get(market=market)
            assert checkpoint.epoch == epoch  # the second never took the market
            assert checkpoint.last_sequence == 20
        finally:
            out2 = stop(second)
        assert "rebuilt" not in out2  # it never held the lease
    finally:
        stop(first)
    assert_books_clean()


def test_stale_epoch_cannot_commit(redis_url):
    """A matcher that lost its lease (a long pause) and kept its book is fenced by the
    epoch stored in Postgres."""
    from matching.worker.lease import Fenced
    from matching.worker.market import MarketInfo, MarketRunner

    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "5"})
    order = services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                                 quantity=D("1"), price=D("100.00"))
    MarketCheckpoint.objects.create(market=market, epoch=7)
    stale = MarketRunner(MarketInfo.load("BTC-USDT"), epoch=6)
    stale.rebuild()
    with pytest.raises(Fenced):
        stale.process([("P", order.pk)])
    order.refresh_from_db()
    assert order.sequence is None
    assert_books_clean()


def test_fifty_threads_spend_one_balance(redis_url):
    # given 1000 USDT, and 50 threads each buying 1 @ 100 (so exactly 10 are affordable)
    make_market("BTC-USDT")
    user = make_trader("spender@x.test", {"USDT": "1000"})
    results, errors = [], []
    barrier = threading.Barrier(50)

    def place():
        try:
            barrier.wait()
            results.append(services.order_place(user=user, market="BTC-USDT", side="BUY",
                                                type="LIMIT", quantity=D("1"),
                                                price=D("100.00")))
        except Exception as exc:
            errors.append(getattr(exc, "code", repr(exc)))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=place) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert len(results) == 10
    assert errors == ["insufficient_balance"] * 40
    balance = Balance.objects.get(user=user, asset__symbol="USDT")
    assert balance.available == 0 and balance.locked == D("1000")
    assert Order.objects.filter(user=user).count() == 10
    assert_books_clean()


def test_batch_committed_but_not_published_is_published_after_a_restart(redis_url):
    # given a matcher that publishes, killed after committing its 2nd batch and before
    # publishing it
    traders = _setup_twin_markets()
    _scenario("BTC-USDT", traders)
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--batch-size", "25",
                                       BOURSE_MATCHER_CRASH_AT="after_commit",
                                       BOURSE_MATCHER_CRASH_BATCH="2")
    assert code == 137, out
    # when it is restarted
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--batch-size", "25")
    assert code == 0, out
    # then the public stream carries every committed trade exactly once, in order
    import json

    client = redis.Redis.from_url(redis_url)
    published = [t["id"] for _id, fields in client.xrange("{BTC-USDT}:md")
                 if b"t" in fields for t in json.loads(fields[b"t"])]
    btc = Market.objects.get(symbol="BTC-USDT")
    committed = list(Trade.objects.filter(market=btc).order_by("sequence", "match_index")
                     .values_list("id", flat=True))
    assert len(committed) > 10
    assert published == committed, out
    # and the private stream has the final state of every order of the market
    private = [e for _id, fields in client.xrange("{private}:events")
               for e in json.loads(fields[b"ev"]) if e["type"] == "order"]
    last_seen = {e["order"]["id"]: e["order"]["status"] for e in private}
    final = dict(Order.objects.filter(market=btc).values_list("id", "status"))
    assert last_seen == final
