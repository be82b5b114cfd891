"""Regression tests for the bugs the chaos run found (docs/CHAOS.md, "Bugs found")."""

from decimal import Decimal

import pytest

from matching.models import MarketCheckpoint
from matching.worker.market import MarketInfo, MarketRunner
from matching.worker_tests.helpers import make_market, make_trader
from orders import services
from orders.models import Order, OrderCommand
from wallets.testing import assert_books_clean

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def _runner(symbol: str, epoch: int) -> MarketRunner:
    MarketCheckpoint.objects.filter(market__symbol=symbol).update(epoch=epoch)
    runner = MarketRunner(MarketInfo.load(symbol), epoch=epoch)
    runner.rebuild()
    return runner


def test_rebuild_with_a_pending_price_amend_does_not_count_its_extra_reserve_twice():
    # given a resting buy whose price was raised (extra quote reserved at entry) and a
    # matcher that restarts (rebuilds) before the amendment is sequenced
    market = make_market("RGA-USDT")
    MarketCheckpoint.objects.create(market=market)
    buyer = make_trader("rga-buyer@x.test", {"USDT": "1000"})
    seller = make_trader("rga-seller@x.test", {"RGA": "10"})
    buy = services.order_place(user=buyer, market=market.symbol, side="BUY", type="LIMIT",
                               quantity=D("1"), price=D("98.22"))
    _runner(market.symbol, 1).process([("P", buy.pk)])
    services.order_amend(user=buyer, order_id=buy.pk, price=D("98.52"))
    amend = OrderCommand.objects.get(order=buy, kind="AMEND")
    assert amend.extra_reserve == D("0.30")
    restarted = _runner(market.symbol, 2)
    # when the amendment and then a crossing sell are applied by the rebuilt book
    restarted.process([("C", amend.pk)])
    sell = services.order_place(user=seller, market=market.symbol, side="SELL", type="LIMIT",
                                quantity=D("1"), price=D("98.52"))
    restarted.process([("P", sell.pk)])
    # then the buy filled at its new price, nothing is reserved twice, the books balance
    buy.refresh_from_db()
    assert buy.status == "FILLED"
    assert buy.reserve_remaining == 0
    assert Order.objects.filter(reserve_remaining__lt=0).count() == 0
    assert_books_clean()


def test_lease_that_expired_during_a_long_rebuild_is_taken_again_if_free():
    """A rebuild longer than the lease (100,000 orders take seconds) made the matcher drop
    the market at the next renewal, rebuild again, and lose it again, forever."""
    import time as _time

    import redis

    from matching import streams
    from matching.worker import lease as leases
    from tests.chaos.stack import RedisServer

    server = RedisServer()
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        market = make_market("RGL-USDT")
        # given a lease taken with a short expiry that then runs out (the long rebuild)
        epoch = leases.lease_acquire(client, symbol=market.symbol, market_id=market.id,
                                     owner="a", lease_ms=100)
        assert epoch == 1
        _time.sleep(0.2)
        assert client.get(streams.lease_key(market.symbol)) is None
        # when the holder renews, then it holds the lease again (its epoch still fences it)
        assert leases.lease_renew(client, symbol=market.symbol, owner="a", lease_ms=5000)
        assert client.get(streams.lease_key(market.symbol)) == b"a"
        # and a lease someone else holds is never taken by a renewal
        assert not leases.lease_renew(client, symbol=market.symbol, owner="b", lease_ms=5000)
        assert client.get(streams.lease_key(market.symbol)) == b"a"
    finally:
        server.stop()


def test_matcher_survives_its_postgres_backend_being_terminated_outside_a_batch(settings):
    """pg_terminate_backend while the matcher was doing lease bookkeeping (not a batch)
    ended the process with an OperationalError: nothing sequenced orders any more."""
    import time as _time

    from marketdata.tests import support
    from matching import streams
    from tests.chaos.harness import terminate_matcher_backends
    from tests.chaos.stack import Stack

    market = make_market("RGP-USDT")
    seller = make_trader("rgp-seller@x.test", {"RGP": "10"})
    with Stack(database_url=support.test_database_url()) as stack:
        stack.redis.start()
        settings.REDIS_URL = stack.redis.url
        streams._client = None
        try:
            proc = stack.start_matcher("--markets", market.symbol)
            deadline = _time.monotonic() + 30
            while not MarketCheckpoint.objects.filter(market=market, epoch__gt=0).exists():
                assert _time.monotonic() < deadline
                _time.sleep(0.05)
            # when its idle connection is terminated, again and again
            terminated = 0
            deadline = _time.monotonic() + 15
            while terminated < 3 and _time.monotonic() < deadline:
                terminated += terminate_matcher_backends()
                _time.sleep(0.05)
            assert proc.poll() is None, (stack.log_dir / "matcher-0.log").read_text()[-3000:]
            assert terminated >= 3
            _time.sleep(1.5)  # a few housekeeping rounds on the broken connection
            # then it is still running and still sequences orders
            assert proc.poll() is None, (stack.log_dir / "matcher-0.log").read_text()[-3000:]
            order = services.order_place(user=seller, market=market.symbol, side="SELL",
                                         type="LIMIT", quantity=D("1"), price=D("100"))
            deadline = _time.monotonic() + 30
            while Order.objects.get(pk=order.pk).sequence is None:
                assert _time.monotonic() < deadline, "the order was never sequenced"
                _time.sleep(0.05)
        finally:
            streams._client = None
    assert_books_clean()
