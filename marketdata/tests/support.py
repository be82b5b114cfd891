"""Test support: markets with unique symbols (Redis is shared and persistent), a
synthetic publisher producing consistent committed batches, and a real ASGI server."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection, transaction

from marketdata.models import Candle, Market, Trade
from marketdata.publishing import publish_batch
from orders.models import Order
from wallets.models import Asset

ROOT = Path(__file__).resolve().parents[2]


def make_market(**overrides) -> Market:
    tag = uuid.uuid4().hex[:6].upper()
    base, _ = Asset.objects.get_or_create(symbol=f"B{tag}", defaults={"name": tag,
                                                                      "precision": 8})
    quote, _ = Asset.objects.get_or_create(symbol="USDT", defaults={"name": "Tether",
                                                                    "precision": 6})
    fields = {"symbol": f"B{tag}-USDT", "base": base, "quote": quote,
              "tick_size": Decimal("0.01"), "step_size": Decimal("0.001"),
              "min_qty": Decimal("0.001"), "max_qty": Decimal("1000"),
              "min_notional": Decimal("1")}
    fields.update(overrides)
    return Market.objects.create(**fields)


def make_order(*, user, market: Market, side: str) -> Order:
    return Order.objects.create(
        user=user, market=market, client_order_id=uuid.uuid4().hex, side=side,
        type="LIMIT", price=Decimal("100"), quantity=Decimal("1"),
        reserved_asset=market.quote if side == "BUY" else market.base,
        reserved_amount=Decimal(0), reserve_remaining=Decimal(0),
    )


class SyntheticMatcher:
    """Random but consistent batches: a price-level book, depth diffs whose ids chain,
    trades committed to the trades table (and their 1-minute candle) before publishing,
    exactly as the matcher does."""

    def __init__(self, *, market: Market, buyer, seller, seed: int = 7) -> None:
        self.market = market
        self.rng = random.Random(seed)
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.update_id = 0
        self.sequence = 0
        self.buy_order = make_order(user=buyer, market=market, side="BUY")
        self.sell_order = make_order(user=seller, market=market, side="SELL")
        self.buyer, self.seller = buyer, seller

    def snapshot(self) -> dict:
        return {"lastUpdateId": self.update_id,
                "bids": [[str(p), str(q)] for p, q in sorted(self.bids.items(), reverse=True)],
                "asks": [[str(p), str(q)] for p, q in sorted(self.asks.items())]}

    def step(self, *, trades: int | None = None, order_updates=(), balance_updates=()) -> dict:
        """One batch: a few level changes and 0-2 trades; committed, then published."""
        rng = self.rng
        changes: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
        for _ in range(rng.randint(1, 4)):
            side = rng.choice(("bids", "asks"))
            book = self.bids if side == "bids" else self.asks
            price = (Decimal(rng.randint(9000, 9999)) if side == "bids"
                     else Decimal(rng.randint(10000, 11000))) / 100
            qty = Decimal(rng.randint(0, 50)) / 10 if price in book else \
                Decimal(rng.randint(1, 50)) / 10
            if qty:
                book[price] = qty
            else:
                book.pop(price, None)
            changes[side][price] = qty
        fills = []
        n_trades = rng.choice((0, 1, 1, 2)) if trades is None else trades
        for _ in range(n_trades):
            if not self.asks:
                break
            price = min(self.asks)
            qty = min(self.asks[price], Decimal("0.1"))
            left = self.asks[price] - qty
            if left:
                self.asks[price] = left
            else:
                del self.asks[price]
            changes["asks"][price] = left
            fills.append((price, qty))
        self.update_id += 1
        first = self.update_id
        self.update_id += rng.randint(0, 2)
        diff = {"U": first, "u": self.update_id,
                "bids": [[str(p), str(q)] for p, q in changes["bids"].items()],
                "asks": [[str(p), str(q)] for p, q in changes["asks"].items()]}
        now = datetime.now(tz=UTC)
        trade_dicts = []
        with transaction.atomic():
            for index, (price, qty) in enumerate(fills):
                self.sequence += 1
                trade = Trade.objects.create(
                    market=self.market, sequence=self.sequence, match_index=index,
                    price=price, quantity=qty, quote_quantity=price * qty,
                    buy_order=self.buy_order, sell_order=self.sell_order, buyer=self.buyer,
                    seller=self.seller, taker_side="BUY", created_at=now)
                trade_dicts.append({
                    "id": trade.id, "market": self.market.symbol, "price": str(price),
                    "quantity": str(qty), "quote_quantity": str(price * qty),
                    "taker_side": "BUY", "buy_order_id": self.buy_order.id,
                    "sell_order_id": self.sell_order.id, "buyer_id": self.buyer.id,
                    "seller_id": self.seller.id, "time": int(now.timestamp() * 1000)})
                minute = now.replace(second=0, microsecond=0)
                candle, created = Candle.objects.select_for_update().get_or_create(
                    market=self.market, open_time=minute,
                    defaults={"open": price, "high": price, "low": price, "close": price,
                              "volume": qty, "quote_volume": price * qty, "trade_count": 1})
                if not created:
                    candle.high = max(candle.high, price)
                    candle.low = min(candle.low, price)
                    candle.close = price
                    candle.volume += qty
                    candle.quote_volume += price * qty
                    candle.trade_count += 1
                    candle.save()
        publish_batch(market=self.market.symbol, trades=trade_dicts, depth_update=diff,
                      depth_snapshot=self.snapshot(), order_updates=list(order_updates),
                      balance_updates=list(balance_updates))
        return {"trades": trade_dicts, "diff": diff}


def test_database_url() -> str:
    """DATABASE_URL of the pytest test database (call inside a transactional test)."""
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def asgi_server(*, workers: int = 1, extra_env: dict | None = None):
    """uvicorn on 127.0.0.1:<free port> serving exchange.asgi against the test DB.
    Yields the base ``host:port``."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL,
           "BOURSE_TESTING": "1", "DEBUG": "0", "CONN_MAX_AGE": "0", **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "exchange.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning",
         "--ws-ping-interval", "20", "--ws-ping-timeout", "20"],
        cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_user(**fields):
    from accounts.models import User

    user = User.objects.create(email=f"md-{uuid.uuid4().hex[:10]}@example.com",
                               email_verified=True, kyc_tier=2, **fields)
    user.set_password("pw-123456789")
    user.save(update_fields=["password"])
    return user
