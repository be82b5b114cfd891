"""A running Bourse for client tests: uvicorn (exchange.asgi) and the matcher as real
subprocesses on 127.0.0.1 against the pytest test database, plus traders with keys."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.conf import settings

from accounts.crypto import secret_encrypt
from accounts.models import ApiKey
from marketdata.tests.support import ROOT, asgi_server, make_market, make_user, test_database_url
from wallets.services import demo_topup


@dataclass
class Trader:
    user: object
    key: str
    secret: str


@dataclass
class Bourse:
    base_url: str  # http://127.0.0.1:PORT
    ws_url: str
    market: object
    symbol: str  # Binance form, e.g. BA1B2C3USDT
    alice: Trader
    bob: Trader


def trader(market) -> Trader:
    user = make_user()
    for asset, amount in ((market.base, Decimal("50")), (market.quote, Decimal("100000"))):
        demo_topup(user=user, asset=asset, target=amount)
    secret = uuid.uuid4().hex * 2
    key = hashlib.sha256(secret.encode()).hexdigest()
    ApiKey.objects.create(user=user, name="client test", key=key,
                          secret_encrypted=secret_encrypt(secret), scopes=["read", "trade"])
    return Trader(user=user, key=key, secret=secret)


@contextlib.contextmanager
def matcher_process(symbol: str):
    env = {**os.environ, "DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL,
           "BOURSE_TESTING": "1", "DEBUG": "0"}
    proc = subprocess.Popen([sys.executable, "manage.py", "run_matcher", "--markets", symbol],
                            cwd=ROOT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def bourse(transactional_db):
    market = make_market(reference_price=Decimal("100"), min_notional=Decimal("1"))
    alice, bob = trader(market), trader(market)
    with asgi_server() as host, matcher_process(market.symbol):
        yield Bourse(base_url=f"http://{host}", ws_url=f"ws://{host}", market=market,
                     symbol=market.binance_symbol, alice=alice, bob=bob)
