"""Order entry: every validation code, reservations, idempotency, halts, the REST API, and
the one-statement path (the per-process market cache never lets an order into a halted
market; a refused placement writes nothing: no order, no ledger entry, no balance change)."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from marketdata.models import Market, Trade
from matching.worker_tests.helpers import (
    all_applied,
    make_market,
    make_trader,
    run_matcher_until_idle,
    start_matcher,
    stop,
    wait_until,
)
from orders import services
from orders.errors import ORDER_ERRORS
from orders.models import Order
from wallets.models import Balance, JournalEntry, LedgerLine
from wallets.testing import assert_books_clean

D = Decimal


@pytest.fixture
def market(db):
    return make_market("BTC-USDT", min_notional=D("10"))


@pytest.fixture
def alice(db, market):
    return make_trader("alice@x.test", {"BTC": "5", "USDT": "1000"})


def _place(user, **kw):
    args = {"market": "BTC-USDT", "side": "BUY", "type": "LIMIT", "quantity": D("1"),
            "price": D("100.00")}
    args.update(kw)
    return services.order_place(user=user, **args)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"price": D("100.001")}, "price_filter"),
    ({"price": D("0")}, "price_filter"),
    ({"quantity": D("0.00001")}, "lot_size"),
    ({"quantity": D("2000")}, "lot_size"),
    ({"quantity": D("0.05")}, "min_notional"),
    ({"price": D("1000.00")}, "percent_price"),
    ({"quantity": D("11")}, "insufficient_balance"),
    ({"type": "TRAILING"}, "unsupported_order_type"),
    ({"time_in_force": "GTD"}, "invalid_time_in_force"),
    ({"type": "LIMIT_MAKER", "time_in_force": "IOC"}, "invalid_time_in_force"),
    ({"type": "MARKET", "quantity": None, "price": None, "quote_order_qty": D("10"),
      "time_in_force": "FOK"}, "invalid_time_in_force"),
    ({"type": "MARKET"}, "parameter_not_required"),
    ({"price": None}, "missing_parameter"),
    ({"quantity": "1e1"}, "invalid_amount"),
    ({"quantity": 1.5}, "invalid_amount"),
    ({"side": "HOLD"}, "invalid_side"),
    ({"market": "NOPE-USDT"}, "unknown_market"),
    ({"type": "MARKET", "price": None, "quantity": None,
      "quote_order_qty": D("10.00000001")}, "quote_qty_precision"),
])
def test_validation_codes(alice, kwargs, code):
    with pytest.raises(Exception) as info:
        _place(alice, **kwargs)
    assert info.value.code == code
    assert code in ORDER_ERRORS
    assert not Order.objects.exists()
    assert Balance.objects.get(user=alice, asset__symbol="USDT").locked == 0


def test_market_closed_frozen_and_kyc(alice, market):
    market.status = Market.Status.HALTED
    market.save()
    with pytest.raises(Exception) as info:
        _place(alice)
    assert info.value.code == "market_closed"
    market.status = Market.Status.TRADING
    market.save()
    alice.state = "FROZEN"
    alice.save()
    with pytest.raises(Exception) as info:
        _place(alice)
    assert info.value.code == "account_frozen"
    alice.state = "ACTIVE"
    alice.kyc_tier = 0
    alice.save()
    with pytest.raises(Exception) as info:
        _place(alice)
    assert info.value.code == "kyc_required"


def test_reservations(alice):
    buy = _place(alice, quantity=D("2"), price=D("101.50"))
    assert buy.reserved_amount == D("203") and buy.reserved_asset.symbol == "USDT"
    sell = _place(alice, side="SELL", quantity=D("1.5"), price=D("120.00"))
    assert sell.reserved_amount == D("1.5") and sell.reserved_asset.symbol == "BTC"
    mbuy = _place(alice, type="MARKET", price=None, quantity=D("1"))
    assert mbuy.reserved_amount == D("110.00")  # band upper (ref 100 + 10 %) × quantity
    assert mbuy.time_in_force == "IOC"
    usdt = Balance.objects.get(user=alice, asset__symbol="USDT")
    assert usdt.locked == D("313") and usdt.available == D("687")
    assert_books_clean()


def test_client_order_id_and_idempotency_key(alice):
    first = _place(alice, client_order_id="abc")
    assert _place(alice, client_order_id="abc").pk == first.pk  # a retry
    with pytest.raises(Exception) as info:
        _place(alice, client_order_id="abc", price=D("99.00"))
    assert info.value.code == "duplicate_client_order_id"
    keyed = _place(alice, idempotency_key="k-1")
    assert _place(alice, idempotency_key="k-1").pk == keyed.pk
    with pytest.raises(Exception) as info:
        _place(alice, idempotency_key="k-1", quantity=D("2"))
    assert info.value.code == "idempotency_key_reused"
    assert Order.objects.count() == 2
    assert_books_clean()


@pytest.mark.django_db(transaction=True)
def test_halt_rejects_placements_cancels_still_work(redis_url):
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "5"})
    proc = start_matcher(redis_url, ["BTC-USDT"], "--no-publish")
    try:
        resting = services.order_place(user=alice, market="BTC-USDT", side="SELL",
                                       type="LIMIT", quantity=D("1"), price=D("100.00"))
        assert wait_until(lambda: all_applied(market))
        services.market_status_set(market=market, status="HALTED")
        with pytest.raises(Exception) as info:
            services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                                 quantity=D("1"), price=D("100.00"))
        assert info.value.code == "market_closed"
        services.order_cancel(user=alice, order_id=resting.pk)
        assert wait_until(lambda: Order.objects.get(pk=resting.pk).status == "CANCELED",
                          timeout=2)
        services.market_status_set(market=market, status="TRADING")
        again = services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                                     quantity=D("1"), price=D("100.00"))
        assert wait_until(lambda: Order.objects.get(pk=again.pk).sequence is not None, timeout=2)
        assert Order.objects.get(pk=again.pk).status == "NEW"
    finally:
        stop(proc)
    assert_books_clean()


@pytest.mark.django_db(transaction=True)
def test_rest_place_full_response_and_reads(redis_url):
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"BTC": "5"})
    bob = make_trader("bob@x.test", {"USDT": "1000"})
    mallory = make_trader("mallory@x.test", {"USDT": "10"})
    services.order_place(user=alice, market="BTC-USDT", side="SELL", type="LIMIT",
                         quantity=D("1"), price=D("100.00"))
    proc = start_matcher(redis_url, ["BTC-USDT"], "--no-publish")
    try:
        assert wait_until(lambda: all_applied(market))
        client = APIClient()
        client.force_authenticate(bob)
        # the TradeOrders reference shape, with an Idempotency-Key
        body = {"instrument": "BTC-USDT", "side": "BUY", "type": "LIMIT", "price": "100.00",
                "quantity": "0.5", "client_id": "c-1"}
        resp = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="ik-1")
        assert resp.status_code == 201, resp.json()
        data = resp.json()
        assert (data["status"] == "FILLED" and data["filled_quantity"] == "0.5000") or \
            data["status"] == "FILLED"
        assert len(data["fills"]) == 1 and data["fills"][0]["price"].startswith("100")
        again = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="ik-1")
        assert again.json()["id"] == data["id"]
        bad = client.post("/api/v1/orders", {**body, "price": "100.001"}, format="json")
        assert bad.status_code == 400 and bad.json()["code"] == "price_filter"
        listing = client.get("/api/v1/orders?limit=1&page=1").json()
        assert listing["results"][0]["id"] == data["id"]
        assert client.get(f"/api/v1/orders/{data['id']}").status_code == 200
        assert client.get("/api/v1/orders/by-client-id/c-1").json()["id"] == data["id"]
        trades = client.get("/api/v1/trades?limit=10").json()["results"]
        assert len(trades) == 1 and trades[0]["side"] == "BUY"
        # another user's order is not found
        other = APIClient()
        other.force_authenticate(mallory)
        assert other.get(f"/api/v1/orders/{data['id']}").status_code == 404
        assert other.delete(f"/api/v1/orders/{data['id']}").status_code == 404
        # cancel through the API
        rest = client.post("/api/v1/orders", {**body, "client_id": "c-2", "price": "90.00",
                                              "response_type": "ACK"}, format="json").json()
        cancelled = client.delete(f"/api/v1/orders/{rest['id']}")
        assert cancelled.json()["status"] == "CANCELED"
        assert client.get("/api/v1/orders/open").json()["results"] == []
    finally:
        stop(proc)
    assert Trade.objects.count() == 1
    assert_books_clean()


@pytest.mark.django_db(transaction=True)
def test_amend_keeps_or_loses_priority_and_reserves(redis_url):
    market = make_market("BTC-USDT")
    alice = make_trader("alice@x.test", {"USDT": "1000"})
    order = services.order_place(user=alice, market="BTC-USDT", side="BUY", type="LIMIT",
                                 quantity=D("2"), price=D("100.00"))
    services.order_amend(user=alice, order_id=order.pk, quantity=D("1"))
    with pytest.raises(Exception) as info:  # one pending amendment at a time
        services.order_amend(user=alice, order_id=order.pk, quantity=D("3"))
    assert info.value.code == "amend_pending"
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish")
    assert code == 0, out
    order.refresh_from_db()
    assert (order.quantity, order.reserve_remaining, order.priority) == (D("1"), D("100"),
                                                                         order.sequence * 10000)
    services.order_amend(user=alice, order_id=order.pk, price=D("105.00"), quantity=D("3"))
    code, out = run_matcher_until_idle(redis_url, ["BTC-USDT"], "--no-publish")
    assert code == 0, out
    order.refresh_from_db()
    assert order.priority > order.sequence * 10000  # a new price loses time priority
    assert (order.price, order.quantity, order.status) == (D("105"), D("3"), "NEW")
    assert order.reserve_remaining == D("315")
    assert Balance.objects.get(user=alice, asset__symbol="USDT").locked == D("315")
    assert all_applied(market)
    assert_books_clean()


# --- the one-statement path -----------------------------------------------------------

def _state(user):
    return (Order.objects.count(), JournalEntry.objects.count(), LedgerLine.objects.count(),
            sorted(Balance.objects.filter(user=user).values_list("available", "locked")))


def test_halt_applies_at_once_even_with_the_market_cached(alice, market):
    order = _place(alice)
    assert "BTC-USDT" in services._market_cache
    entry = JournalEntry.objects.get(kind="reserve", ref_type="order", ref_id=str(order.pk))
    assert sorted(entry.lines.values_list("account", "amount")) == [
        ("available", D("-100")), ("locked", D("100"))]
    # A halt that bypasses this process (another process, a raw UPDATE): the cache still
    # says TRADING, the insert statement does not.
    Market.objects.filter(pk=market.pk).update(status=Market.Status.HALTED)
    assert services._market_cache["BTC-USDT"][1].status == Market.Status.TRADING
    before = _state(alice)
    with pytest.raises(Exception) as refused:
        _place(alice)
    assert refused.value.code == "market_closed"
    assert _state(alice) == before


def test_insufficient_balance_writes_nothing(alice, market):
    _place(alice, quantity=D("9"))
    before = _state(alice)
    with pytest.raises(Exception) as refused:
        _place(alice, quantity=D("2"))  # 200 USDT wanted, 100 available
    assert refused.value.code == "insufficient_balance"
    assert _state(alice) == before
    # a sell beyond the base balance: refused the same way
    with pytest.raises(Exception) as refused:
        _place(alice, side="SELL", market="BTC-USDT", quantity=D("6"))
    assert refused.value.code == "insufficient_balance"


def test_a_concurrent_duplicate_is_an_integrity_error_and_writes_nothing(alice, market):
    """What order_place catches when a concurrent request with the same client order id
    won the race (the lookup before the insert saw nothing): Django's IntegrityError."""
    from django.db import IntegrityError

    from orders import validation

    _place(alice, client_order_id="dup-1")
    before = _state(alice)
    spec = validation.order_spec(
        market=market, side="BUY", type="LIMIT", quantity=D("1"), price=D("100.00"),
        stop_price=None, quote_order_qty=None, time_in_force="GTC", stp_mode=None,
        client_order_id="dup-1")
    with pytest.raises(IntegrityError):
        services._insert_and_reserve(user=alice, spec=spec, idempotency_key=None)
    assert _state(alice) == before
    # and through the service: the retried request gets the existing order
    again = _place(alice, client_order_id="dup-1")
    assert again.client_order_id == "dup-1" and Order.objects.count() == before[0]
