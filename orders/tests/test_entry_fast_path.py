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
