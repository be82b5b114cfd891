"""End-to-end benchmark: signed-key order placement over HTTP against the running stack.

Starts its own stack on loopback (uvicorn serving ``exchange.asgi`` with DEBUG off, the
matcher publishing market data, Postgres and Redis), seeds a bench database (cloned from
the migrated template of ``matcher_bench.py``) with traders and API keys, then:

1. the raw rate of the reservation transaction alone (``orders.services.order_place`` in
   this process, no HTTP; on a market the matcher does not own),
2. a bounded asyncio client (``--connections`` keep-alive HTTP/1.1 connections for
   ``--seconds``) placing crossing LIMIT orders with ``POST /api/v1/orders`` signed like
   Binance (``X-MBX-APIKEY``, ``timestamp``, ``signature``), ``response_type=ACK``;
   accept latency per request (sent -> 201 parsed, client side); accept -> fill from the
   server's accept time (the order's ``created``) to the publication of the taker's fill
   (the time part of its private-stream entry id, Redis's clock), both server-side
   clocks; send -> fill from the client's send time; and the CPU each process spent per
   accepted order (matcher, web server, this load generator).

    .venv/bin/python bench/http_bench.py [--seconds 15] [--connections 32] [--workers N]
        [--server uvicorn|granian-wsgi]

Prints the command to repeat and a JSON summary as its last line. Targets (issue 6):
>= 1,000 accepted orders/s, p99 accept <= 50 ms, p99 accept -> fill <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import matcher_bench  # noqa: E402
from matcher_bench import _base_env, percentile, prepare_database  # noqa: E402

# A database and Redis db of its own, so it can run while matcher_bench.py does.
matcher_bench.BENCH_DB = "bourse_httpbench"
matcher_bench.TEMPLATE_DB = "bourse_httpbench_tpl"
REDIS_DB = 12

D = Decimal
MARKET = "HTB-USDT"
RAW_MARKET = "RAW-USDT"
TRADERS = 20


def seed() -> list[tuple[str, str]]:
    import django

    django.setup()
    from accounts.crypto import secret_encrypt
    from accounts.models import ApiKey, User
    from marketdata.models import Market
    from wallets.models import Asset
    from wallets.services import demo_topup

    usdt = Asset.objects.create(symbol="USDT", name="USDT", precision=8)
    for symbol in (MARKET, RAW_MARKET):
        base = Asset.objects.create(symbol=symbol.split("-")[0], name=symbol, precision=8)
        Market.objects.create(symbol=symbol, base=base, quote=usdt, tick_size=D("0.01"),
                              step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("100000"),
                              min_notional=D("1"), reference_price=D("100"),
                              price_band_pct=D("20"))
    keys = []
    for i in range(TRADERS):
        user = User.objects.create_user(email=f"http{i}@bench.test", password=None,
                                        kyc_tier=2, email_verified=True)
        for asset in Asset.objects.all():
            demo_topup(user=user, asset=asset, target=D("100000000"))
        key, secret = secrets.token_hex(16), secrets.token_hex(32)
        ApiKey.objects.create(user=user, name="bench", key=key,
                              secret_encrypted=secret_encrypt(secret), scopes=["read", "trade"])
        keys.append((key, secret))
    return keys


def raw_reservation_rate(seconds: float = 3.0, concurrency: int = 2) -> dict:
    """order_place in a loop (one thread, two, then ``concurrency`` threads, one trader
    each): commits of the reservation transaction per second, without HTTP. The last
    figure is what Postgres alone sustains at the load's concurrency (group commit)."""
    from django.db import close_old_connections

    from accounts.models import User
    from orders.services import order_place

    users = list(User.objects.filter(email__startswith="http").order_by("id"))
    out = {}
    for threads in sorted({1, 2, max(1, min(concurrency, len(users)))}):
        counts = [0] * threads

        def work(index: int, deadline: float, counts: list[int] = counts) -> None:
            user = users[index]
            n = 0
            while time.monotonic() < deadline:
                order_place(user=user, market=RAW_MARKET, side="BUY", type="LIMIT",
                            quantity=D("0.02"), price=D("99.00"))
                n += 1
            counts[index] = n
            close_old_connections()

        deadline = time.monotonic() + seconds
        pool = [threading.Thread(target=work, args=(i, deadline)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        out[f"threads_{threads}"] = round(sum(counts) / seconds, 1)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _request(reader, writer, path: str, body: bytes, key: str) -> tuple[int, bytes]:
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MBX-APIKEY: {key}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    payload = await reader.readexactly(length) if length else b""
    return status, payload


async def load(port: int, keys: list[tuple[str, str]], seconds: float, connections: int):
    from accounts.signing import sign_params

    # order id -> (server accept time: the order's ``created``, ms; client send time, ms)
    accepted: dict[int, tuple[int, float]] = {}
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        key, secret = keys[index % len(keys)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        try:
            while time.monotonic() < deadline:
                side = "BUY" if (index + n) % 2 else "SELL"
                params = {"market": MARKET, "side": side, "type": "LIMIT",
                          "quantity": "0.010", "price": "100.00", "response_type": "ACK",
                          "timestamp": str(int(time.time() * 1000))}
                body = urlencode(params)
                body += "&signature=" + sign_params(secret, "", body)
                sent_ms = time.time() * 1000
                started = time.perf_counter()
                status, payload = await asyncio.wait_for(
                    _request(reader, writer, "/api/v1/orders", body.encode(), key), 10)
                done = time.perf_counter()
                if status == 201:
                    latencies.append((done - started) * 1000)
                    order = json.loads(payload)
                    accepted[order["id"]] = (order["created"], sent_ms)
                else:
                    errors[status] = errors.get(status, 0) + 1
                n += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(connections)))
    return accepted, latencies, errors, time.monotonic() - started


def watch_fills(redis_url: str, stop: threading.Event, seen: dict[int, int]) -> None:
    """When each order's first taker fill was published: the time part (ms, Redis's
    clock) of the private stream entry that carried it, so a slow reader (this process
    also runs the load) does not inflate it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    last = "$"
    while not stop.is_set():
        reply = client.xread({"{private}:events": last}, block=200, count=1000)
        for _key, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id
                published_ms = int(entry_id.split(b"-")[0])
                for event in json.loads(fields[b"ev"]):
                    fill = event.get("fill")
                    if event.get("type") == "order" and fill and not fill["is_maker"]:
                        seen.setdefault(event["order"]["id"], published_ms)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (uvicorn --workers forks)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return total
    return total + sum(cpu_seconds(child) for child in children)


def web_command(server: str, port: int, workers: int) -> list[str]:
    if server == "granian-wsgi":
        return [sys.executable, "-m", "granian", "--interface", "wsgi",
                "exchange.wsgi:application", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--blocking-threads", "8", "--no-access-log",
                "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", "exchange.asgi:application", "--host",
            "127.0.0.1", "--port", str(port), "--no-access-log", "--workers", str(workers),
            "--log-level", "warning"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="web server worker processes")
    parser.add_argument("--server", choices=("uvicorn", "granian-wsgi"), default="uvicorn",
                        help="uvicorn serving exchange.asgi (the Procfile's), or granian "
                             "serving exchange.wsgi with a thread pool (no per-request "
                             "async/sync hand-offs; plain HTTP only, no websockets)")
    args = parser.parse_args()
    command = "  ".join(["$", ".venv/bin/python", "bench/http_bench.py", *sys.argv[1:]])
    print("repeat with:", command, flush=True)

    base = _base_env()
    db_url = prepare_database(base)
    redis_url = base["REDIS_URL"].rsplit("/", 1)[0] + f"/{REDIS_DB}"
    # one SECRET_KEY for this process (which encrypts the API secrets) and the server
    os.environ.update({"DATABASE_URL": db_url, "REDIS_URL": redis_url, "DEBUG": "1",
                       "DJANGO_SETTINGS_MODULE": "exchange.settings",
                       "SECRET_KEY": secrets.token_hex(32)})
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    keys = seed()
    # as many raw threads as connections, within the traders and the process's DB pool
    raw = raw_reservation_rate(concurrency=min(args.connections, 16))
    print("raw reservation transaction:", raw, flush=True)

    port = free_port()
    env = {**os.environ, "DEBUG": "0",
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
           "API_KEY_WEIGHT_PER_MINUTE": "100000000", "API_IP_WEIGHT_PER_MINUTE": "100000000",
           "READYZ_REQUIRE_MATCHER": "0"}
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "http_bench.log", "w")  # noqa: SIM115
    procs = [
        subprocess.Popen([sys.executable, "manage.py", "run_matcher", "--markets", MARKET],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log),
        subprocess.Popen(web_command(args.server, port, args.workers),
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log),
    ]
    stop = threading.Event()
    seen: dict[int, int] = {}
    watcher = threading.Thread(target=watch_fills, args=(redis_url, stop, seen), daemon=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1.0)  # the matcher takes its lease
        watcher.start()
        cpu_before = [cpu_seconds(p.pid) for p in procs] + [time.process_time()]
        accepted, latencies, errors, elapsed = asyncio.run(
            load(port, keys, args.seconds, args.connections))
        cpu_after = [cpu_seconds(p.pid) for p in procs] + [time.process_time()]
        time.sleep(1.5)  # last fills
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    # accept -> fill: from the server's accept time (the order's ``created``, taken just
    # before its insert) to the fill's publication (stream entry time); both clocks are
    # this machine's, ms resolution. send -> fill: from when the client sent the request.
    to_fill = [seen[oid] - created for oid, (created, _) in accepted.items() if oid in seen]
    send_to_fill = [seen[oid] - sent for oid, (_, sent) in accepted.items() if oid in seen]
    rate = len(accepted) / elapsed
    summary = {
        "benchmark": "http_order_entry", "connections": args.connections,
        "workers": args.workers, "server": args.server,
        "seconds": round(elapsed, 2), "accepted": len(accepted), "errors": errors,
        "accepted_per_s": round(rate, 1),
        "accept_ms_p50": round(percentile(latencies, 50), 2),
        "accept_ms_p99": round(percentile(latencies, 99), 2),
        "taker_fills_seen": len(to_fill),
        "accept_to_fill_ms_p50": round(percentile(to_fill, 50), 2),
        "accept_to_fill_ms_p99": round(percentile(to_fill, 99), 2),
        "send_to_fill_ms_p50": round(percentile(send_to_fill, 50), 2),
        "send_to_fill_ms_p99": round(percentile(send_to_fill, 99), 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        # CPU per accepted order (ms) of the matcher, the web server and this load
        # generator during the load: independent of what else runs on the machine.
        "cpu_ms_per_order": {
            name: round((after - before) * 1000 / max(1, len(accepted)), 2)
            for name, before, after in zip(("matcher", "web", "client"), cpu_before,
                                           cpu_after, strict=True)},
        "raw_reservation_tx_per_s": raw,
        "http_fraction_of_raw": round(rate / max(raw.values()), 3) if raw else None,
        "targets": {"accepted_per_s": 1000, "accept_ms_p99": 50, "accept_to_fill_ms_p99": 100},
        "command": command,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
