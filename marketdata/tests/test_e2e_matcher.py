"""End to end with the real matcher: random orders placed through
``orders.services.order_place``, matched by ``manage.py run_matcher`` (a subprocess) that
publishes with ``publish_batch``; a WebSocket client on a real uvicorn follows depth and
trades across a forced reconnect. At the end its book equals the REST snapshot and the
book of resting orders in Postgres, and its trades equal the trades table exactly."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection

from exchange.api import ServiceError
from marketdata.models import Trade
from marketdata.tests.support import asgi_server, make_market
from marketdata.tests.test_streams import DepthFollower, rest
from matching.worker_tests.helpers import all_applied, make_trader, start_matcher, stop, wait_until
from orders.models import Order
from orders.services import order_place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("marketdata.tests.urls"),
              pytest.mark.slow]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), asgi_server() as host:
        yield host


def _place_random(market, traders, rng: random.Random, count: int, stop_flag=None) -> None:
    try:
        for _ in range(count):
            if stop_flag is not None and stop_flag.is_set():
                return
            side = rng.choice(("BUY", "SELL"))
            price = Decimal(rng.randint(9700, 10300)) / 100
            qty = Decimal(rng.randint(1, 200)) / 1000
            # A rejection (e.g. outside the price band) changes nothing: carry on.
            with contextlib.suppress(ServiceError):
                order_place(user=rng.choice(traders), market=market, side=side, type="LIMIT",
                            quantity=qty, price=price,
                            client_order_id=uuid.uuid4().hex[:20])
    finally:
        connection.close()


def _resting_book(market) -> tuple[dict, dict]:
    bids: dict[Decimal, Decimal] = defaultdict(Decimal)
    asks: dict[Decimal, Decimal] = defaultdict(Decimal)
    for o in Order.objects.filter(market=market, status__in=Order.OPEN_STATUSES,
                                  type="LIMIT", sequence__isnull=False):
        (bids if o.side == "BUY" else asks)[o.price] += o.quantity - o.filled_quantity
    return ({p: q for p, q in bids.items() if q}, {p: q for p, q in asks.items() if q})


def test_follow_the_real_matcher_across_a_reconnect(server, settings):
    # given a market, funded traders, a running matcher and some resting orders
    market = make_market(reference_price=Decimal("100"), price_band_pct=Decimal("10"),
                         step_size=Decimal("0.001"), min_qty=Decimal("0.001"))
    traders = [make_trader(f"md-e2e-{uuid.uuid4().hex[:8]}@example.com",
                           {"USDT": "1000000", market.base.symbol: "10000"}) for _ in range(4)]
    matcher = start_matcher(settings.REDIS_URL, [market.symbol])
    try:
        rng = random.Random(5)
        _place_random(market, traders, rng, 40)
        assert wait_until(lambda: all_applied(market), timeout=30)
        first_trade = Trade.objects.filter(market=market).order_by("id").first()
        after_id = first_trade.id - 1 if first_trade else 0
        follower = DepthFollower(server, market.symbol, after_id)
        stop_flag = threading.Event()
        placer = threading.Thread(target=_place_random,
                                  args=(market, traders, random.Random(6), 300, stop_flag))

        async def scenario():
            placer.start()
            await follower.session(until=lambda f: len(f.trades) >= 15)  # forced cut
            await asyncio.sleep(0.5)
            await asyncio.to_thread(placer.join)
            await asyncio.to_thread(wait_until, lambda: all_applied(market), 60)
            await asyncio.sleep(0.5)
            final = await asyncio.to_thread(
                lambda: rest(f"/api/v1/markets/{market.symbol}/depth?limit=5000"))
            last = await asyncio.to_thread(
                lambda: Trade.objects.filter(market=market).order_by("-id").first().id)
            await follower.session(until=lambda f: f.last_update_id >= final["lastUpdateId"]
                                   and f.last_trade_id >= last)

        try:
            asyncio.run(scenario())
        finally:
            stop_flag.set()
            placer.join()
    finally:
        output = stop(matcher)
    assert "Traceback" not in output, output

    # then the client's book is the REST snapshot and the resting orders in Postgres
    snap = rest(f"/api/v1/markets/{market.symbol}/depth?limit=5000")
    assert follower.sessions == 2
    assert follower.last_update_id == snap["lastUpdateId"]
    assert sorted(follower.bids.items()) == sorted(map(tuple, snap["bids"]))
    assert sorted(follower.asks.items()) == sorted(map(tuple, snap["asks"]))
    bids, asks = _resting_book(market)
    assert {Decimal(p): Decimal(q) for p, q in follower.bids.items()} == bids
    assert {Decimal(p): Decimal(q) for p, q in follower.asks.items()} == asks
    # and the trades it received are the trades table, exactly, in order
    table = list(Trade.objects.filter(market=market).order_by("id")
                 .values_list("id", "price", "quantity"))
    assert len(table) > 15
    assert [(t["id"], Decimal(t["price"]), Decimal(t["quantity"])) for t in follower.trades] \
        == table
