"""A halt from the back office reaches the running matcher (a real subprocess against the
test database): new orders are rejected while cancels still work; resume reopens."""

from __future__ import annotations

import os
import time
from decimal import Decimal

import pytest
import redis
from django.conf import settings as django_settings

from exchange.api import ServiceError
from exchange.backoffice.roles import OPERATIONS
from exchange.models import StaffAuditLog
from exchange.tests.backoffice_support import make_staff, otp_client

helpers = pytest.importorskip("matching.worker_tests.helpers",
                              reason="waiting for the matcher worker (run_matcher)")

D = Decimal
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Same scheme as matching/worker_tests: claim a free Redis database (8..15) with a lock
# key so concurrent test sessions never share streams; flush it but keep the lock.
REDIS_DBS = range(8, 16)
LOCK_KEY = "bourse:test-session-lock"


@pytest.fixture
def redis_url(settings):
    base = django_settings.REDIS_URL.rsplit("/", 1)[0]
    token = f"{os.getpid()}-backoffice"
    for index in REDIS_DBS:
        client = redis.Redis.from_url(f"{base}/{index}")
        if client.set(LOCK_KEY, token, nx=True, ex=3600):
            break
    else:
        pytest.skip("no free Redis database for the matcher test")
    url = f"{base}/{index}"
    settings.REDIS_URL = url
    from matching import streams

    def flush():
        client.flushdb()
        client.set(LOCK_KEY, token, ex=3600)

    streams._client = None
    flush()
    yield url
    client.flushdb()  # and release the lock
    streams._client = None


def _applied(obj) -> bool:
    obj.refresh_from_db()
    return obj.sequence is not None


def test_halt_reaches_the_running_matcher_rejects_orders_and_lets_cancels_through(redis_url):
    from orders import services
    from orders.models import Order, OrderCommand

    # given a running matcher with a resting order
    market = helpers.make_market("BOHALT-USDT")
    alice = helpers.make_trader("bo-alice@x.test", {"BOHALT": "5"})
    bob = helpers.make_trader("bo-bob@x.test", {"USDT": "10000"})
    resting = services.order_place(user=alice, market=market.symbol, side="SELL",
                                   type="LIMIT", quantity=D("1"), price=D("100.00"))
    proc = helpers.start_matcher(redis_url, [market.symbol], "--no-publish")
    try:
        assert helpers.wait_until(lambda: _applied(resting), timeout=30), helpers.stop(proc)
        client = otp_client(make_staff(OPERATIONS))

        # when operations halts the market from the admin
        started = time.monotonic()
        response = client.post(f"/admin/marketdata/market/{market.pk}/control/",
                               {"op": "halt", "reason": "incident drill"})
        assert response.status_code == 302
        committed = time.monotonic()
        command = OrderCommand.objects.filter(market=market, kind="STATUS").latest("id")
        assert helpers.wait_until(lambda: _applied(command), timeout=5), helpers.stop(proc)
        halt_latency = time.monotonic() - committed
        request_time = committed - started

        # then the running book has it within a second, new orders are refused ...
        assert halt_latency < 1.0, halt_latency
        with pytest.raises(ServiceError) as refused:
            services.order_place(user=bob, market=market.symbol, side="BUY", type="LIMIT",
                                 quantity=D("1"), price=D("100.00"))
        assert refused.value.code == "market_closed"
        assert Order.objects.filter(user=bob).count() == 0
        # ... and cancels still work in the halted book.
        services.order_cancel(user=alice, order_id=resting.pk)
        assert helpers.wait_until(
            lambda: Order.objects.get(pk=resting.pk).status == "CANCELED", timeout=5
        ), helpers.stop(proc)
        assert StaffAuditLog.objects.filter(action="market.status.halted").count() == 1

        # when resumed, orders are accepted and reach the book again
        resume_started = time.monotonic()
        client.post(f"/admin/marketdata/market/{market.pk}/control/",
                    {"op": "resume", "reason": "drill over"})
        resume_request = time.monotonic() - resume_started
        order = services.order_place(user=bob, market=market.symbol, side="BUY", type="LIMIT",
                                     quantity=D("1"), price=D("99.00"))
        assert helpers.wait_until(lambda: _applied(order), timeout=5), helpers.stop(proc)
        order.refresh_from_db()
        assert order.status == "NEW"
        # The dashboard shows this matcher's live status for the market.
        assert helpers.wait_until(
            lambda: redis.Redis.from_url(redis_url).hget(
                f"matcher:status:{market.symbol}", "epoch") is not None, timeout=5)
        page = client.get("/admin/dashboard/").content.decode()
        row = page[page.index(f'data-symbol="{market.symbol}"'):]
        row = row[:row.index("</tr>")]
        assert "no matcher" not in row and "stale" not in row, row
        print(f"admin request {request_time * 1000:.0f} ms (first, cold), resume request "
              f"{resume_request * 1000:.0f} ms; halt applied by the matcher "
              f"{halt_latency * 1000:.0f} ms after the request returned")
    finally:
        out = helpers.stop(proc)
    assert proc.returncode is not None, out
