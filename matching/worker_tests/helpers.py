"""Scenario helpers: markets, funded traders, and the matcher as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from django.db import connection

from accounts.models import User
from marketdata.models import Market
from orders.models import Order, OrderCommand
from wallets.models import Asset

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def make_market(symbol: str = "BTC-USDT", **overrides) -> Market:
    base_sym, quote_sym = symbol.split("-")
    base, _ = Asset.objects.get_or_create(symbol=base_sym,
                                          defaults={"name": base_sym, "precision": 8})
    quote, _ = Asset.objects.get_or_create(symbol=quote_sym,
                                           defaults={"name": quote_sym, "precision": 8})
    fields = {"base": base, "quote": quote, "tick_size": D("0.01"), "step_size": D("0.0001"),
              "min_qty": D("0.0001"), "max_qty": D("1000"), "min_notional": D("1"),
              "reference_price": D("100"), "price_band_pct": D("10")}
    fields.update(overrides)
    return Market.objects.create(symbol=symbol, **fields)


def make_trader(email: str, funds: dict[str, str]) -> User:
    from wallets.services import demo_topup

    user = User.objects.create_user(email=email, password="x" * 12, kyc_tier=2,
                                    email_verified=True)
    for symbol, amount in funds.items():
        asset = Asset.objects.get(symbol=symbol)
        demo_topup(user=user, asset=asset, target=D(amount))
    return user


def database_url() -> str:
    s = connection.settings_dict
    host = s.get("HOST") or s.get("OPTIONS", {}).get("host") or ""
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    port = f":{s['PORT']}" if s.get("PORT") else ""
    if host.startswith("/"):
        return f"postgresql://{user}{password}@{port}/{s['NAME']}?host={host}"
    return f"postgresql://{user}{password}@{host}{port}/{s['NAME']}"


def matcher_env(redis_url: str, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url(), "REDIS_URL": redis_url, "DEBUG": "1",
                "BOURSE_TESTING": "1", "CONN_MAX_AGE": "0"})
    env.pop("BOURSE_MATCHER_CRASH_AT", None)
    env.update(extra)
    return env


def start_matcher(redis_url: str, markets: list[str], *args: str, **env: str):
    cmd = [sys.executable, "manage.py", "run_matcher", "--markets", *markets,
           "--block-ms", "50", "--lease-ms", "3000", *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=matcher_env(redis_url, **env),  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run_matcher_until_idle(redis_url: str, markets: list[str], *args: str, timeout: float = 60,
                           **env: str) -> tuple[int, str]:
    proc = start_matcher(redis_url, markets, "--exit-when-idle", *args, **env)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError("matcher did not finish:\n" + out.decode()) from None
    return proc.returncode, out.decode()


def stop(proc, timeout: float = 20) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode()


def wait_until(predicate, timeout: float = 20, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def all_applied(market: Market) -> bool:
    return not (Order.objects.filter(market=market, sequence__isnull=True).exists()
                or OrderCommand.objects.filter(market=market, sequence__isnull=True).exists())


def redis_lose(redis_url: str) -> None:
    """Redis restarted empty: FLUSHDB of this session's database (its lock key survives)."""
    import redis

    from matching.worker_tests.conftest import _flush

    _flush(redis.Redis.from_url(redis_url))
