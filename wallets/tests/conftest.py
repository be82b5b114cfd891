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


@pytest.fixture(scope="session", autouse=True)
def _allow_flushing_audit_log(django_db_setup, django_db_blocker):
    """Transactional tests end with a TRUNCATE of every table, which the staff audit
    log's append-only trigger refuses (exchange migration 0002). Until that trigger lets
    test flushes through, disable it in the *test* database while wallet tests run."""
    from django.db import connection

    def toggle(action: str) -> None:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = "
                           "'exchange_staffauditlog_no_truncate'")
            if cursor.fetchone():
                cursor.execute(f"ALTER TABLE exchange_staffauditlog {action} TRIGGER "
                               "exchange_staffauditlog_no_truncate")

    toggle("DISABLE")
    yield
    toggle("ENABLE")


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
