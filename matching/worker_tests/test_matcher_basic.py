"""The matcher end to end: entry → stream → engine → one committed transaction."""

from decimal import Decimal

import pytest
import redis

from marketdata.models import Candle, Trade
from matching.models import CommandLog, MarketCheckpoint
from matching.worker_tests.helpers import (
    all_applied,
    make_market,
    make_trader,
    run_matcher_until_idle,
)
from orders import services
from orders.models import Order
from wallets.models import Balance
from wallets.testing import assert_books_clean

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def test_cross_fill_and_settle(redis_url):
    # given
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "2", "USDT": "0"})
    bob = make_trader("bob@x.test", {"USDT": "1000"})
    sell = services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                                quantity=D("1.5"), price=D("100.00"))
    buy = services.order_place(user=bob, market="BTC-USDT", side="BUY", type="LIMIT",
                               quantity=D("1"), price=D("101.00"))
    assert Balance.objects.get(user=bob, asset__symbol="USDT").locked == D("101")
    # when
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"])
    # then
    assert code == 0, out
    public = redis.Redis.from_url(redis_url).xrange("{BTC-USDT}:md")
    assert any(b"t" in fields for _id, fields in public)  # the trade was published
    assert redis.Redis.from_url(redis_url).xlen("{private}:events") >= 1
    assert all_applied(market), out
    sell.refresh_from_db()
    buy.refresh_from_db()
    assert buy.status == "FILLED" and buy.filled_quantity == 1
    assert buy.cumulative_quote == D("100") and buy.reserve_remaining == 0
    assert sell.status == "PARTIALLY_FILLED" and sell.filled_quantity == 1
    trade = Trade.objects.get()
    assert (trade.price, trade.quantity, trade.taker_side) == (D("100"), D("1"), "BUY")
    assert trade.buyer_fee == D("0.001") and trade.seller_fee == D("0.1")
    bob_usdt = Balance.objects.get(user=bob, asset__symbol="USDT")
    assert bob_usdt.available == D("900") and bob_usdt.locked == 0
    assert Balance.objects.get(user=bob, asset__symbol="BTC").available == D("0.999")
    assert Candle.objects.get().trade_count == 1
    assert MarketCheckpoint.objects.get(market=market).last_sequence == 2
    assert [s for row in CommandLog.objects.all() for s, _ in row.commands()] == [1, 2]
    assert_books_clean()


def test_cancel_and_redelivery_is_idempotent(redis_url):
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "2"})
    sell = services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                                quantity=D("1"), price=D("100.00"))
    services.order_cancel(user=alice, order_id=sell.pk)
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish")
    assert code == 0, out
    sell.refresh_from_db()
    assert sell.status == "CANCELED" and sell.reserve_remaining == 0
    # re-announcing everything: nothing is applied twice
    from matching import streams

    streams.announce("BTC-USDT", [(streams.PLACE, sell.pk), (streams.PLACE, sell.pk)])
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish")
    assert code == 0, out
    assert MarketCheckpoint.objects.get(market=market).last_sequence == 2
    assert Order.objects.get().status == "CANCELED"
    assert_books_clean()


def test_running_matcher_settles_with_fees_changed_while_it_runs(redis_url):
    from matching.worker_tests.helpers import start_matcher, stop, wait_until

    # given a running matcher that built its book with a 0.1% taker fee, and a resting ask
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "2"})
    bob = make_trader("bob@x.test", {"USDT": "1000"})
    services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                         quantity=D("1"), price=D("100.00"))
    proc = start_matcher(redis_url, ["BTC-USDT"])
    output = _Output(proc)
    try:
        assert wait_until(lambda: all_applied(market)), stop(proc)
        # when staff raise the taker fee, and a taker arrives after the matcher's next check
        market.taker_fee = D("0.005")
        market.save(update_fields=["taker_fee"])
        assert wait_until(lambda: "rules changed" in str(output), timeout=10)
        services.order_place(user=bob, market="BTC-USDT", side="BUY", type="LIMIT",
                             quantity=D("1"), price=D("100.00"))
        assert wait_until(lambda: Trade.objects.exists()), stop(proc)
    finally:
        out = str(output) + stop(proc)
    # then the fill is charged at the new rate (buyer is the taker: fee in BTC)
    trade = Trade.objects.get()
    assert trade.buyer_fee == D("0.005"), out
    assert Balance.objects.get(user=bob, asset__symbol="BTC").available == D("0.995")
    assert_books_clean()



class _Output:
    """The matcher's merged output read so far, without blocking."""

    def __init__(self, proc):
        import os

        os.set_blocking(proc.stdout.fileno(), False)
        self.proc, self.seen = proc, b""

    def __str__(self) -> str:
        self.seen += self.proc.stdout.read() or b""
        return self.seen.decode(errors="replace")
