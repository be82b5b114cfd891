"""Benchmark of ``wallets.services.trades_settle`` (the matcher's hot path).

Runs against a scratch database ``bourse_bench_wallets`` on the configured Postgres
(created and migrated on first use, never the development database): 200 funded users,
batches of 1,000 trades between random users with maker/taker fees and one price
improvement release per 10 trades, each batch settled and committed in its own
transaction (the timing includes the COMMIT). Prints one JSON object per run and, on the
last line, the median (with the machine's 1-minute load average: the figure is
wall-clock time on a shared machine):

    .venv/bin/python bench/settle_bench.py [--batches 10] [--runs 3]
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
os.environ.setdefault("BOURSE_TESTING", "1")

BENCH_DB = "bourse_bench_wallets"


def _prepare_database() -> None:
    import psycopg

    from exchange import devservices

    if devservices.embedded():
        devservices.up()
    url = devservices.service_urls().database_url
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(url)._replace(path="/" + BENCH_DB))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    _prepare_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import User
    from wallets.models import Asset, Balance
    from wallets.services import balance_reserve, demo_topup, trades_settle
    from wallets.settlement import SettlementFill, SettlementRelease

    call_command("migrate", verbosity=0)
    base, _ = Asset.objects.get_or_create(symbol="BBTC", defaults={"name": "b", "precision": 8})
    quote, _ = Asset.objects.get_or_create(symbol="BUSD", defaults={"name": "q", "precision": 8})
    users = []
    for i in range(args.users):
        user, _ = User.objects.get_or_create(email=f"bench-{i}@bench.local")
        users.append(user.id)
        with transaction.atomic():
            for asset in (base, quote):
                # keep 1e10 locked (what the settled orders draw on), however often it runs
                row = Balance.objects.filter(user=user, asset=asset).first()
                total, locked = ((row.available + row.locked, row.locked) if row else (0, 0))
                missing = Decimal("10000000000") - locked
                if missing > 0:
                    demo_topup(user=user, asset=asset, target=total + missing)
                    balance_reserve(user_id=user.id, asset_id=asset.id, amount=missing,
                                    ref="bench:reserve")
    rng = random.Random(7)
    trade_id = int(time.time() * 1000) * 1000
    rate = Decimal("0.001")

    def batch():
        nonlocal trade_id
        fills, releases = [], []
        for n in range(args.batch_size):
            trade_id += 1
            buyer, seller = rng.sample(users, 2)
            qty = Decimal(rng.randint(1, 100000)).scaleb(-5)
            price = Decimal(rng.randint(5000000, 7000000)).scaleb(-2)
            quote_qty = (qty * price).quantize(Decimal("0.00000001"))
            fills.append(SettlementFill(
                trade_id=trade_id, buyer_id=buyer, seller_id=seller, base_asset_id=base.id,
                quote_asset_id=quote.id, base_qty=qty, quote_qty=quote_qty,
                buyer_fee=(qty * rate).quantize(Decimal("0.00000001")),
                seller_fee=(quote_qty * rate).quantize(Decimal("0.00000001"))))
            if n % 10 == 0:
                releases.append(SettlementRelease(user_id=buyer, asset_id=quote.id,
                                                  amount=Decimal("0.01"), order_id=trade_id))
        return fills, releases

    rates = []
    for run in range(args.runs):
        batches = [batch() for _ in range(args.batches)]
        started = time.perf_counter()
        in_tx = 0.0
        for fills, releases in batches:
            with transaction.atomic():
                t0 = time.perf_counter()
                trades_settle(fills=fills, releases=releases)
                in_tx += time.perf_counter() - t0
        print(json.dumps({"settle_call_seconds": round(in_tx, 3)}), file=sys.stderr)
        elapsed = time.perf_counter() - started
        trades = args.batches * args.batch_size
        rates.append(trades / elapsed)
        print(json.dumps({"run": run + 1, "trades": trades, "seconds": round(elapsed, 3),
                          "trades_per_second": round(trades / elapsed)}))
    median = statistics.median(rates)
    print(json.dumps({"benchmark": "trades_settle", "batch_size": args.batch_size,
                      "batches_per_run": args.batches, "users": args.users,
                      "runs": args.runs,
                      "ms_per_batch_commit_included": round(args.batch_size / median * 1000, 1),
                      "load_average_1m": round(os.getloadavg()[0], 2),
                      "trades_settled_per_second": round(median),
                      "command": "cd /work/main && .venv/bin/python bench/settle_bench.py"}))


if __name__ == "__main__":
    main()
