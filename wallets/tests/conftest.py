from decimal import Decimal

import pytest

from wallets.tests.factories import AssetFactory, UserFactory


@pytest.fixture
def btc(db):
    return AssetFactory(symbol="BTC", precision=8, withdrawal_fee=Decimal("0.0002"),
                        min_withdrawal=Decimal("0.001"), confirmations_required=2)


@pytest.fixture
def usdt(db):
    return AssetFactory(symbol="USDT", precision=6, withdrawal_fee=Decimal("1"),
                        min_withdrawal=Decimal("10"), confirmations_required=2)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def eager_celery():
    from exchange.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def market(btc, usdt):
    from marketdata.models import Market

    return Market.objects.create(symbol="BTC-USDT", base=btc, quote=usdt,
                                 tick_size=Decimal("0.01"), step_size=Decimal("0.00001"),
                                 min_qty=Decimal("0.00001"), max_qty=Decimal("1000"),
                                 min_notional=Decimal("5"))
