"""Settlement benchmark: the matcher alone, from a pre-filled stream to committed batches.

Seeds a database of its own (``bourse_bench``, cloned from a migrated template) with two
markets, funded traders and N accepted orders (reserved through the ledger, as order entry
does), announces them all on the markets' streams (a Redis database of its own), then runs
``manage.py run_matcher --exit-when-idle`` and reads its per-batch statistics.

About two thirds of the orders rest (limit orders away from the touch) and one third are
marketable (crossing limits and market orders), so roughly a third trade.

    .venv/bin/python bench/matcher_bench.py [--orders 200000] [--batch-size 1000] [--publish]

Prints the command to repeat and, as its last line, a JSON summary. Targets (issue 6):
>= 20,000 orders/s and >= 6,000 trades/s stream -> committed, p99 batch commit <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = "bourse_bench"
TEMPLATE_DB = "bourse_bench_tpl"
REDIS_DB = 10
MARKETS = ("BNA-USDT", "BNB-USDT")
USERS = 200
D = Decimal


def _base_env() -> dict:
    from exchange import devservices

    if devservices.embedded():
        devservices.up()
    urls = devservices.service_urls()
    return {"DATABASE_URL": urls.database_url, "REDIS_URL": urls.redis_url}


def _with_db(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + name
    return head + ("?" + tail if tail else "")


def _admin_sql(database_url: str, statements: list[str]) -> None:
    import psycopg

    with psycopg.connect(_with_db(database_url, "postgres"), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def prepare_database(base: dict) -> str:
    """A fresh bench database cloned from a migrated template (migrated once)."""
    import psycopg

    admin = _with_db(base["DATABASE_URL"], "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [TEMPLATE_DB]).fetchone()
    tpl_url = _with_db(base["DATABASE_URL"], TEMPLATE_DB)
    if not exists:
        _admin_sql(base["DATABASE_URL"], [f'CREATE DATABASE "{TEMPLATE_DB}"'])
    # (re)apply migrations to the template: cheap when already up to date
    env = {**os.environ, **base, "DATABASE_URL": tpl_url, "DEBUG": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env,
                   check=True)
    _admin_sql(base["DATABASE_URL"], [
        f'DROP DATABASE IF EXISTS "{BENCH_DB}"',
        f'CREATE DATABASE "{BENCH_DB}" TEMPLATE "{TEMPLATE_DB}"',
    ])
    return _with_db(base["DATABASE_URL"], BENCH_DB)


def seed(n_orders: int, seed_value: int) -> dict:
    """Markets, funded users and ``n_orders`` accepted orders with their reservations."""
    import django

    django.setup()
    from django.db import connection, transaction

    from accounts.models import User
    from marketdata.models import Market
    from wallets.models import Asset
    from wallets.services import balance_reserve, demo_topup

    usdt = Asset.objects.create(symbol="USDT", name="USDT", precision=8)
    markets = []
    for symbol in MARKETS:
        base = Asset.objects.create(symbol=symbol.split("-")[0], name=symbol, precision=8)
        markets.append(Market.objects.create(
            symbol=symbol, base=base, quote=usdt, tick_size=D("0.01"), step_size=D("0.001"),
            min_qty=D("0.001"), max_qty=D("100000"), min_notional=D("1"),
            reference_price=D("100"), price_band_pct=D("20")))
    users = User.objects.bulk_create([
        User(email=f"bench{i}@bench.test", kyc_tier=2, email_verified=True, password="!")  # noqa: S106 - unusable
        for i in range(USERS)])
    for user in users:
        demo_topup(user=user, asset=usdt, target=D("100000000"))
        for market in markets:
            demo_topup(user=user, asset=market.base, target=D("1000000"))

    rng = random.Random(seed_value)
    rows = []
    reserved: dict[tuple[int, int], Decimal] = {}
    per_market = n_orders // len(markets)
    for market in markets:
        for i in range(per_market):
            user = users[rng.randrange(USERS)]
            side = "BUY" if rng.random() < 0.5 else "SELL"
            qty = D(rng.randint(1, 2000)) / 1000
            roll = rng.random()
            if roll < 0.06:  # market order
                otype, tif, price = "MARKET", "IOC", None
            elif roll < 0.33:  # marketable limit (crosses the touch)
                otype, tif = "LIMIT", "GTC" if roll < 0.2 else "IOC"
                offset = D(rng.randint(0, 150)) / 100
                price = D(100) + offset if side == "BUY" else D(100) - offset
            else:  # resting limit away from the touch
                otype, tif = "LIMIT", "GTC"
                offset = D(rng.randint(1, 300)) / 100
                price = D(100) - offset if side == "BUY" else D(100) + offset
            if side == "SELL":
                asset_id, reserve = market.base_id, qty
            elif price is None:
                asset_id, reserve = usdt.id, D(120) * qty
            else:
                asset_id, reserve = usdt.id, price * qty
            key = (user.id, asset_id)
            reserved[key] = reserved.get(key, D(0)) + reserve
            rows.append((user.id, market.id, f"b{market.id}-{i}", side, otype, tif,
                         "EXPIRE_TAKER", price, qty, asset_id, reserve, reserve))
    # Reservations through the ledger: one reserve entry per (user, asset) covering its
    # orders, so the books reconcile (locked == open orders' reserve_remaining).
    with transaction.atomic():
        for (user_id, asset_id), amount in sorted(reserved.items()):
            balance_reserve(user_id=user_id, asset_id=asset_id, amount=amount, ref="bench:seed")
        with connection.cursor() as cursor, cursor.cursor.copy(
            "COPY orders_order (user_id, market_id, client_order_id, side, type, "
            "time_in_force, stp_mode, price, quantity, reserved_asset_id, reserved_amount, "
            "reserve_remaining, filled_quantity, cumulative_quote, status, reason, "
            "cancel_requested, triggered, created_at, updated_at) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row((*r, 0, 0, "NEW", "", False, False, "now", "now"))
    ids = {}
    with connection.cursor() as cursor:
        for market in markets:
            cursor.execute("SELECT id FROM orders_order WHERE market_id = %s ORDER BY id",
                           [market.id])
            ids[market.symbol] = [r[0] for r in cursor.fetchall()]
    return ids


def announce(redis_url: str, ids: dict) -> None:
    import redis

    from matching import streams

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    for symbol, order_ids in ids.items():
        key = streams.commands_key(symbol)
        client.xgroup_create(key, streams.GROUP, id="0", mkstream=True)
        for i in range(0, len(order_ids), 10_000):
            pipe = client.pipeline(transaction=False)
            for pk in order_ids[i:i + 10_000]:
                pipe.xadd(key, {"c": "P", "id": pk})
            pipe.execute()


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--publish", action="store_true",
                        help="also publish market data after each commit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default=None,
                        help="cProfile the matcher into this file (main thread only: add "
                             "--no-pipeline to see the commit too)")
    parser.add_argument("--no-pipeline", action="store_true",
                        help="commit each batch before matching the next (no commit thread)")
    args = parser.parse_args()
    command = "  ".join(["$", ".venv/bin/python", "bench/matcher_bench.py", *sys.argv[1:]])
    print("repeat with:", command, flush=True)

    base = _base_env()
    db_url = prepare_database(base)
    redis_url = base["REDIS_URL"].rsplit("/", 1)[0] + f"/{REDIS_DB}"
    os.environ.update({"DATABASE_URL": db_url, "REDIS_URL": redis_url, "DEBUG": "1",
                       "DJANGO_SETTINGS_MODULE": "exchange.settings"})
    started = time.perf_counter()
    ids = seed(args.orders, args.seed)
    announce(redis_url, ids)
    print(f"seeded {sum(len(v) for v in ids.values())} orders in "
          f"{time.perf_counter() - started:.1f}s", flush=True)

    stats_path = Path(tempfile.mkstemp(prefix="matcher-stats-", suffix=".jsonl")[1])
    prof = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    cmd = [sys.executable, *prof, "manage.py", "run_matcher", "--markets", *MARKETS,
           "--exit-when-idle", "--batch-size", str(args.batch_size), "--stats-file",
           str(stats_path)]
    if not args.publish:
        cmd.append("--no-publish")
    if args.no_pipeline:
        cmd.append("--no-pipeline")
    env = {**os.environ, "CONN_MAX_AGE": "0", "LOG_LEVEL": "WARNING"}
    # CPU time of the matcher process (user + system): unlike wall time, barely disturbed by
    # whatever else the machine runs.
    cpu_before = _children_cpu()
    load_before = os.getloadavg()[0]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    matcher_cpu = _children_cpu() - cpu_before
    load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit("matcher failed")
    batches = [json.loads(line) for line in stats_path.read_text().splitlines() if line]
    stats_path.unlink()
    first = min(b["t"] - (b["match_ms"] + b["commit_ms"]) / 1000 for b in batches)
    last = max(b["t"] for b in batches)
    elapsed = last - first
    orders = sum(b["orders"] for b in batches)
    trades = sum(b["trades"] for b in batches)
    commits = [b["commit_ms"] for b in batches]

    import django
    from django.db import connection

    django.setup()
    from wallets.reconciliation import reconcile

    connection.close()
    report = reconcile()
    summary = {
        "benchmark": "matcher_settlement", "orders": orders, "trades": trades,
        "batches": len(batches), "batch_size": args.batch_size, "publish": args.publish,
        "pipeline": not args.no_pipeline,
        "matcher_cpu_s": round(matcher_cpu, 2),
        "matcher_cpu_ms_per_1000_orders": round(matcher_cpu * 1000 / max(orders, 1) * 1000, 1),
        "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
        "elapsed_s": round(elapsed, 3),
        "orders_per_s": round(orders / elapsed, 1), "trades_per_s": round(trades / elapsed, 1),
        "commit_ms_p50": round(percentile(commits, 50), 2),
        "commit_ms_p99": round(percentile(commits, 99), 2),
        "match_ms_p50": round(percentile([b["match_ms"] for b in batches], 50), 2),
        "commit_parts_ms_mean": {
            k: round(sum(b.get("parts_ms", {}).get(k, 0) for b in batches) / len(batches), 2)
            for k in sorted({k for b in batches for k in b.get("parts_ms", {})})},
        "reconciliation_ok": report.ok,
        "targets": {"orders_per_s": 20000, "trades_per_s": 6000, "commit_ms_p99": 50},
        "command": command,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
