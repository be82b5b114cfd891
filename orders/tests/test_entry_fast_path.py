"""Order entry's one-statement path: the per-process market cache never lets an order
into a halted market, and a refused placement writes nothing (no order, no ledger entry,
no balance change)."""

from decimal import Decimal

import pytest

from marketdata.models import Market
from matching.worker_tests.helpers import make_market, make_trader
from orders import services
from orders.models import Order
from wallets.models import Balance, JournalEntry, LedgerLine

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
