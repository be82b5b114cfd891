"""Pending stops and resting orders survive a matcher restart (rebuild from Postgres) and
behave as if nothing happened."""

from decimal import Decimal

import pytest

from marketdata.models import Trade
from matching.worker_tests.helpers import (
    all_applied,
    make_market,
    make_trader,
    run_matcher_until_idle,
)
from orders import services
from orders.models import Order
from wallets.testing import assert_books_clean

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def test_pending_stop_survives_restart_then_triggers(redis_url):
    market = make_market("BTC-USDT")
    maker = make_trader("maker@x.test", {"BTC": "10", "USDT": "10000"})
    stopper = make_trader("stopper@x.test", {"BTC": "10"})
    taker = make_trader("taker@x.test", {"BTC": "10", "USDT": "10000"})
    # a bid ladder, and a sell stop-limit below the market
    for price in ("99.00", "98.00", "97.00"):
        services.order_place(user=maker, market="BTC-USDT", side="BUY", type="LIMIT",
                             quantity=D("1"), price=D(price))
    stop = services.order_place(user=stopper, market="BTC-USDT", side="SELL",
                                type="STOP_LOSS_LIMIT", quantity=D("1"), price=D("97.00"),
                                stop_price=D("98.50"))
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish")
    assert code == 0, out
    stop.refresh_from_db()
    assert stop.status == "NEW" and not stop.triggered and stop.sequence is not None
    # a new matcher process rebuilds the book (ladder + pending stop) from Postgres;
    # a sale at 99 then 98 trades through the stop price and triggers it
    services.order_place(user=taker, market="BTC-USDT", side="SELL", type="LIMIT",
                         quantity=D("2"), price=D("98.00"), time_in_force="IOC")
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish")
    assert code == 0, out
    assert all_applied(market)
    stop.refresh_from_db()
    assert stop.triggered and stop.status == "FILLED", out
    prices = list(Trade.objects.order_by("sequence", "match_index").values_list("price", flat=True))
    assert prices == [D("99"), D("98"), D("97")]
    assert Order.objects.filter(status="NEW").count() == 0
    assert_books_clean()
