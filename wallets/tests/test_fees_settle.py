from decimal import Decimal

import pytest
from django.db import transaction

from exchange.api import ServiceError
from wallets.fees import fee_compute, fee_rate_for
from wallets.ledger import account_recompute
from wallets.models import Balance, JournalEntry
from wallets.services import trades_settle
from wallets.settlement import SettlementFill, SettlementRelease
from wallets.testing import assert_books_clean
from wallets.tests.factories import UserFactory
from wallets.tests.helpers import fund, order_with_hold

D = Decimal


@pytest.mark.parametrize(("amount", "rate", "precision", "fee"), [
    (D("1"), D("0.001"), 8, D("0.001")),
    (D("0.123456789"), D("0.001"), 8, D("0.00012346")),   # rounded up, not half-even
    (D("0.00000001"), D("0.001"), 8, D("0.00000001")),    # dust: one unit, == amount
    (D("0.000000001"), D("0.001"), 8, D("0.000000001")),  # below one unit: all of it
    (D("5"), D("0"), 8, D("0")),
    (D("12345678901234567890.123456789012345678"), D("0.001"), 18,
     D("12345678901234567.890123456789012346")),           # no 28-digit context loss
])
def test_fee_rounds_up_and_never_exceeds_the_amount(amount, rate, precision, fee):
    assert fee_compute(amount=amount, rate=rate, precision=precision) == fee
    assert fee <= amount


def test_fee_tiers_lower_the_rate_by_volume():
    tiers = [(D("0"), D("0.001"), D("0.001")), (D("1000000"), D("0.0005"), D("0.0008"))]
    assert fee_rate_for(maker_rate=D("0.001"), taker_rate=D("0.001"), is_maker=False,
                        volume_30d=D("2000000"), tiers=tiers) == D("0.0008")
    assert fee_rate_for(maker_rate=D("0.001"), taker_rate=D("0.001"), is_maker=True,
                        volume_30d=D("10"), tiers=tiers) == D("0.001")


@pytest.mark.django_db(transaction=True)
def test_trades_settle_moves_legs_fees_and_releases(btc, usdt, market):
    buyer, seller = UserFactory(), UserFactory()
    fund(buyer, usdt, "1000")
    fund(seller, btc, "1")
    buy = order_with_hold(user=buyer, market=market, asset=usdt, amount=D("600"), side="BUY")
    sell = order_with_hold(user=seller, market=market, asset=btc, amount=D("0.01"))
    fill = SettlementFill(trade_id=1, buyer_id=buyer.id, seller_id=seller.id,
                          base_asset_id=btc.id, quote_asset_id=usdt.id, base_qty=D("0.01"),
                          quote_qty=D("500"), buyer_fee=D("0.00001"), seller_fee=D("0.5"))
    release = SettlementRelease(user_id=buyer.id, asset_id=usdt.id, amount=D("100"),
                                order_id=buy.id)
    with transaction.atomic():
        trades_settle(fills=[fill], releases=[release])
        buy.reserve_remaining = 0
        buy.status = "FILLED"
        buy.save()
        sell.reserve_remaining = 0
        sell.status = "FILLED"
        sell.save()
    b = {(x.user_id, x.asset_id): x for x in Balance.objects.all()}
    assert b[(buyer.id, btc.id)].available == D("0.00999")
    assert b[(buyer.id, usdt.id)].available == D("500")
    assert b[(buyer.id, usdt.id)].locked == 0
    assert b[(seller.id, usdt.id)].available == D("499.5")
    assert b[(seller.id, btc.id)].available == D("0.99")
    # one trade entry (legs and fees) and one release entry for the batch
    batch = JournalEntry.objects.filter(ref_type__in=["trade_batch", "order"],
                                        kind__in=["trade", "release"])
    assert sorted(batch.values_list("kind", flat=True)) == ["release", "trade"]
    assert account_recompute(account="fee", asset_id=btc.id) == D("0.00001")
    assert account_recompute(account="fee", asset_id=usdt.id) == D("0.5")
    assert_books_clean()


@pytest.mark.django_db(transaction=True)
def test_settlement_that_would_overdraw_is_refused(btc, usdt):
    buyer, seller = UserFactory(), UserFactory()
    fill = SettlementFill(trade_id=1, buyer_id=buyer.id, seller_id=seller.id,
                          base_asset_id=btc.id, quote_asset_id=usdt.id, base_qty=D("1"),
                          quote_qty=D("1"))
    with pytest.raises(ServiceError) as err, transaction.atomic():
        trades_settle(fills=[fill], releases=[])
    assert err.value.code == "settlement_overdraw"
    assert not JournalEntry.objects.exists()
