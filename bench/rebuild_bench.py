"""How long a matcher with 100,000 resting orders takes to rebuild its book and resume
(issue 11 part 2; target < 10 s).

    .venv/bin/python -m exchange.devservices run -- .venv/bin/python bench/rebuild_bench.py \
        [--orders 100000]

Creates a database of its own (dropped at the end) and a redis-server of its own, inserts
N resting sequenced limit orders on one market (set-based SQL, half bids below 100, half
asks above), then:

* ``rebuild_ms``: ``MarketRunner.rebuild()`` in process (read + build the book);
* ``process_ready_s``: a real ``manage.py run_matcher`` started cold (Python + Django
  start, lease, rebuild) until its log says the market is rebuilt;
* ``resume_s``: from the process start until a new order, accepted right after the start,
  is committed by it (what a takeover costs once the lease is free).

JSON summary on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    os.environ.setdefault("BOURSE_TESTING", "1")
    from exchange import devservices

    if devservices.embedded():
        devservices.up()
    from tests.chaos.harness import _admin, _own_database

    base = devservices.service_urls().database_url
    name = f"bourse_rebuild_bench_{os.getpid()}"
    _admin(base, f'CREATE DATABASE "{name}"')
    url = _own_database(base, name)
    os.environ["DATABASE_URL"] = url
    command = " ".join([".venv/bin/python", "bench/rebuild_bench.py", *sys.argv[1:]])
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        result = run(url, args.orders)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result["command"] = command
    result["target_s"] = 10
    result["pass"] = result["resume_s"] < 10
    print(json.dumps(result))
    return 0


def _seed(n: int):
    from decimal import Decimal as D

    from django.db import connection

    from matching.models import MarketCheckpoint
    from matching.worker_tests.helpers import make_market, make_trader

    market = make_market("RBB-USDT", reference_price=D("100"), price_band_pct=D("10"))
    user = make_trader("rebuild@x.test", {"USDT": "100", "RBB": "1"})
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        # i odd: a bid at 90.00-99.99; i even: an ask at 100.01-110.00; qty 1
        cursor.execute(
            "INSERT INTO orders_order (id, client_order_id, side, type, time_in_force, "
            "stp_mode, price, quantity, filled_quantity, cumulative_quote, status, reason, "
            "reserved_amount, reserve_remaining, sequence, cancel_requested, created_at, "
            "updated_at, market_id, reserved_asset_id, user_id, priority, triggered) "
            "SELECT i, 'rb' || i, CASE WHEN i %% 2 = 1 THEN 'BUY' ELSE 'SELL' END, 'LIMIT', "
            "'GTC', 'EXPIRE_TAKER', p, 1, 0, 0, 'NEW', '', "
            "CASE WHEN i %% 2 = 1 THEN p ELSE 1 END, CASE WHEN i %% 2 = 1 THEN p ELSE 1 END, "
            "i, false, now(), now(), %s, CASE WHEN i %% 2 = 1 THEN %s ELSE %s END, %s, "
            "i * 10000, false FROM (SELECT i, CASE WHEN i %% 2 = 1 THEN "
            "90 + (i %% 999) / 100.0 ELSE 100.01 + (i %% 999) / 100.0 END AS p "
            "FROM generate_series(1, %s) AS i) s",
            [market.id, market.quote_id, market.base_id, user.id, n])
        cursor.execute("SELECT setval(pg_get_serial_sequence('orders_order', 'id'), %s)",
                       [n + 1])
        cursor.execute("ANALYZE orders_order")
    MarketCheckpoint.objects.create(market=market, last_sequence=n, epoch=0)
    return market, user, time.perf_counter() - t0


def run(url: str, n: int) -> dict:
    from decimal import Decimal as D

    from django.conf import settings

    from matching import streams
    from matching.worker.market import MarketInfo, MarketRunner
    from orders import services
    from orders.models import Order
    from tests.chaos.stack import Stack

    market, user, seed_s = _seed(n)
    runner = MarketRunner(MarketInfo.load(market.symbol), epoch=0)
    t0 = time.perf_counter()
    loaded = runner.rebuild()
    rebuild_ms = (time.perf_counter() - t0) * 1000
    assert loaded == n, loaded
    with Stack(database_url=url) as stack:
        stack.redis.start()
        settings.REDIS_URL = stack.redis.url
        streams._client = None
        started = time.monotonic()
        stack.start_matcher("--markets", market.symbol, "--no-publish")
        order = services.order_place(user=user, market=market.symbol, side="BUY",
                                     type="LIMIT", quantity=D("0.5"), price=D("95"))
        log = stack.log_dir / "matcher-0.log"
        ready = resumed = None
        log_ms = None
        while time.monotonic() - started < 120:
            text = log.read_text() if log.exists() else ""
            if ready is None:
                found = re.search(r"rebuilt (\d+) orders in (\d+) ms", text)
                if found:
                    ready = time.monotonic() - started
                    log_ms = int(found.group(2))
            if Order.objects.filter(pk=order.pk, sequence__isnull=False).exists():
                resumed = time.monotonic() - started
                break
            time.sleep(0.01)
        if ready is None:  # the rebuild line and the first commit fell in one poll
            ready = resumed
    return {"bench": "matcher_rebuild", "resting_orders": n, "seed_s": round(seed_s, 2),
            "rebuild_ms": round(rebuild_ms, 1), "matcher_log_rebuild_ms": log_ms,
            "process_ready_s": None if ready is None else round(ready, 2),
            "resume_s": None if resumed is None else round(resumed, 2)}


if __name__ == "__main__":
    sys.exit(main())
