"""WebSocket fan-out benchmark: N clients (default 1,000) subscribed to one market's
trades and depth diffs while batches are published continuously with
``marketdata.publishing.publish_batch`` (what the matcher calls after each commit).

Measures deliveries per second and the latency from publish (after commit) to receipt,
for Bourse's fan-out (one Redis stream reader per web process feeding local sockets,
frames encoded once) and, in the same run, for the plain channels-redis baseline (each
socket in a Channels group, one ``group_send`` per message). Loopback only, bounded in
time. Prints the command to repeat it and a JSON summary as its last line.

    .venv/bin/python bench/ws_bench.py [--clients 1000] [--seconds 10] [--rate 15]
        [--trades-per-batch 1] [--client-procs 2] [--server-workers 1] [--baseline-seconds 5]

Uses the development services (embedded Postgres/Redis) and a dedicated market
``WSBENCH-USDT`` that it creates if missing (its stream keys are its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")
SYMBOL = "WSBENCH-USDT"
GROUP = "wsbench-baseline"
E_RE = re.compile(r'"E":(\d+)')


# --------------------------------------------------------------------- baseline ASGI app
def _baseline_application():
    """The plain channels-redis way: every socket joins a group; each message is one
    group_send, delivered through the channel layer to each member."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    import django

    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class BaselineConsumer(AsyncWebsocketConsumer):
        async def connect(self):
            await self.channel_layer.group_add(GROUP, self.channel_name)
            await self.accept()

        async def disconnect(self, code):
            # At the end of the run 1,000 sockets leave at once and exhaust channels-redis'
            # connection pool; the group expires anyway, so a failed discard is not news.
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(GROUP, self.channel_name)

        async def bench_frame(self, event):
            await self.send(text_data=event["text"])

    return ProtocolTypeRouter({"websocket": URLRouter([path("ws/baseline",
                                                            BaselineConsumer.as_asgi())])})


def __getattr__(name):  # uvicorn bench.ws_bench:baseline_app imports lazily
    if name == "baseline_app":
        return _baseline_application()
    raise AttributeError(name)


# ----------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The production server's WebSocket options (Procfile): per-message-deflate off, because
# compressing with context takeover is per socket, so a frame encoded once would be
# compressed again for every subscriber (it was most of the server's CPU per delivery).
UVICORN_WS_ARGS = ["--ws", "websockets-sansio", "--ws-per-message-deflate", "false"]


@contextlib.contextmanager
def server(app: str, workers: int, ws_args: list[str]):
    # The server's errors go to a file and are counted in the summary (server_errors);
    # the last 40 lines are printed if there were any.
    with tempfile.NamedTemporaryFile("w+", prefix="ws_bench_server_", suffix=".log") as log:
        yield from _server(app, workers, ws_args, log)


def _server(app: str, workers: int, ws_args: list[str], log):
    port = free_port()
    profile = (["-m", "cProfile", "-o", os.environ["WSBENCH_PROFILE"]]
               if os.environ.get("WSBENCH_PROFILE") else [])
    proc = subprocess.Popen(
        [PY, *profile, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log",
         "--ws-max-queue", "64", *ws_args],
        cwd=ROOT, env=dict(os.environ), stderr=log)
    pyspy = None
    if os.environ.get("WSBENCH_PYSPY"):  # a flame graph of the server while it runs
        pyspy = subprocess.Popen([str(ROOT / ".venv" / "bin" / "py-spy"), "record", "-o",
                                  os.environ["WSBENCH_PYSPY"], "--pid", str(proc.pid),
                                  "--rate", "200", "--subprocesses", "--format",
                                  os.environ.get("WSBENCH_PYSPY_FORMAT", "speedscope")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{app} did not start") from None
                time.sleep(0.1)
        yield port, proc.pid, log
    finally:
        if pyspy is not None:
            pyspy.send_signal(2)  # SIGINT: py-spy writes its file and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                pyspy.wait(30)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ----------------------------------------------------------------------------- clients
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONNECT_ATTEMPTS = 5


class RawClient(asyncio.Protocol):
    """A lean RFC 6455 client for the measurement side (``--client raw``): no task per
    message, frames parsed in ``data_received``. It still checks the handshake's accept
    key, refuses masked or reserved-bit frames, reassembles fragments, decodes UTF-8
    strictly, answers pings and close frames, and masks what it sends. The ``websockets``
    library client (``--client websockets``) costs about three times its CPU per message,
    which on a 2-core box is taken from the server being measured."""

    def __init__(self, expected_accept: str, on_message) -> None:
        self.expected_accept = expected_accept
        self.on_message = on_message  # (text, receipt time in ms) -> None
        self.buffer = bytearray()
        self.fragments: list[bytes] = []
        self.opened = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        for fut in (self.opened, self.closed):
            if not fut.done():
                fut.set_exception(ConnectionError(f"connection lost: {exc}"))

    def send_text(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytes((0x81, 0x80 | n)) if n < 126 else (
            b"\x81\xfe" + n.to_bytes(2, "big") if n < 65536
            else b"\x81\xff" + n.to_bytes(8, "big"))
        self._write_masked(header, payload)

    def _write_masked(self, header: bytes, payload: bytes) -> None:
        mask = os.urandom(4)
        key = (mask * (len(payload) // 4 + 1))[:len(payload)]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(
            len(payload), "big") if payload else b""
        self.transport.write(header + mask + masked)

    def _control(self, opcode: int, payload: bytes) -> None:
        self._write_masked(bytes((0x80 | opcode, 0x80 | len(payload))), payload)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.opened.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[:end + 4]
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in head[1:])}
            if head[0].split()[1:2] != ["101"] or headers.get(
                    "sec-websocket-accept") != self.expected_accept:
                self.opened.set_exception(ConnectionError(f"handshake refused: {head[0]}"))
                self.transport.close()
                return
            self.opened.set_result(None)
        now = time.time() * 1000
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            if b1 & 0x80 or b0 & 0x70:
                self._fail("masked frame from the server or reserved bits set")
                return
            n, start = b1 & 0x7F, pos + 2
            if n == 126:
                if size - pos < 4:
                    break
                n, start = int.from_bytes(buf[pos + 2:pos + 4], "big"), pos + 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, start = int.from_bytes(buf[pos + 2:pos + 10], "big"), pos + 10
            if size - start < n:
                break
            payload = bytes(buf[start:start + n])
            pos = start + n
            opcode = b0 & 0x0F
            if opcode in (0, 1, 2):
                self.fragments.append(payload)
                if b0 & 0x80:
                    message = b"".join(self.fragments)
                    self.fragments.clear()
                    self.on_message(message.decode() if opcode in (0, 1) else message, now)
            elif opcode == 9:
                self._control(0xA, payload)
            elif opcode == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._control(0x8, payload[:2])
                if not self.closed.done():
                    self.closed.set_exception(ConnectionError(f"closed by server: {code}"))
                self.transport.close()
                break
        del buf[:pos]

    def _fail(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_exception(ConnectionError(reason))
        self.transport.close()


async def raw_connect(url: str, on_message) -> RawClient:
    import base64
    import hashlib
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode(),
                                           usedforsecurity=False).digest()).decode()
    _, client = await asyncio.get_running_loop().create_connection(
        lambda: RawClient(accept, on_message), parts.hostname, parts.port)
    client.transport.write((
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await asyncio.wait_for(client.opened, 60)
    return client


def client_proc(url: str, subscribe: str | None, n: int, ready, go_home, out,
                burst: int = 50, progress=None, kind: str = "raw") -> None:
    """n connections in one process; records receipt latency per message."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    counts = [0] * n
    last_receipt = [0.0]
    dropped: list[str] = []
    retries = [0]

    async def one_raw(i: int, connected: asyncio.Event):
        append = latencies.append
        acked = asyncio.get_running_loop().create_future()

        def on_message(text, now):
            if not acked.done():
                acked.set_result(text)
                if subscribe:
                    return  # the ack
            m = E_RE.search(text)
            if m:
                append(now - int(m.group(1)))
                counts[i] += 1
                last_receipt[0] = now

        client = None
        try:
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    client = await raw_connect(url, on_message)
                    break
                except ConnectionError:
                    # The baseline refuses some connections while 1,000 join its group
                    # (HTTP 500, channels-redis' pool exhausted); a client retries, and the
                    # run measures fan-out, not the connection storm. Counted.
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    retries[0] += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
            if subscribe:
                client.send_text(subscribe)
                await asyncio.wait_for(acked, 60)
            connected.set()
            await client.closed
        except asyncio.CancelledError:
            if client is not None:
                client.transport.close()
            raise
        except Exception as exc:
            dropped.append(f"{type(exc).__name__}: {exc}"[:200])
            connected.set()

    async def one(i: int, connected: asyncio.Event):
        if kind == "raw":
            return await one_raw(i, connected)
        try:
            async with connect(url, max_queue=256, ping_interval=None,
                               open_timeout=60) as ws:
                if subscribe:
                    await ws.send(subscribe)
                    await ws.recv()  # the ack
                connected.set()
                append = latencies.append
                while True:
                    text = await ws.recv()
                    now = time.time() * 1000
                    m = E_RE.search(text)
                    if m:
                        append(now - int(m.group(1)))
                        counts[i] += 1
                        last_receipt[0] = now
                        if len(latencies) % 500 == 0:
                            progress.value = len(latencies)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            dropped.append(f"{type(exc).__name__}: {exc}"[:200])
            connected.set()

    async def main():
        tasks, events = [], []
        for i in range(n):
            ev = asyncio.Event()
            events.append(ev)
            tasks.append(asyncio.create_task(one(i, ev)))
            if i % burst == burst - 1:
                await asyncio.sleep(0.05)  # do not stampede the accept queue
        for ev in events:
            await ev.wait()
        ready.set()
        while not go_home.is_set():
            progress.value = len(latencies)
            await asyncio.sleep(0.1)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    out.put({"latencies": latencies, "counts": counts, "dropped": dropped,
             "last_receipt_ms": last_receipt[0], "connect_retries": retries[0]})


def cpu_seconds(pids: list[int], *, kernel_only: bool = False) -> float:
    """utime + stime (or stime alone) of these processes and their children (/proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    seen = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += ((0 if kernel_only else int(fields[11])) + int(fields[12])) / tick
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return total


def run_clients(url: str, subscribe: str | None, clients: int, procs: int, publish,
                server_pid: int, burst: int = 50, kind: str = "raw") -> dict:
    """Start the clients, wait until all are connected, call ``publish()``, collect."""
    ctx = mp.get_context("fork")
    ready = [ctx.Event() for _ in range(procs)]
    go_home = ctx.Event()
    out = ctx.Queue()
    progress = [ctx.Value("q", 0) for _ in range(procs)]
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=client_proc, args=(url, subscribe, k, ready[i], go_home,
                                                     out, burst, progress[i], kind))
               for i, k in enumerate(per)]
    for w in workers:
        w.start()
    for r in ready:
        if not r.wait(120):
            raise RuntimeError("clients did not connect in time")
    time.sleep(0.5)
    cpu_server, cpu_clients = cpu_seconds([server_pid]), cpu_seconds([w.pid for w in workers])
    sys_server = cpu_seconds([server_pid], kernel_only=True)
    sys_clients = cpu_seconds([w.pid for w in workers], kernel_only=True)
    sent, start = publish()
    # Wait (bounded) until every client has everything: slow delivery shows as latency.
    deadline = time.time() + 20
    while time.time() < deadline and sum(p.value for p in progress) < sent * clients:
        time.sleep(0.1)
    cpu_server = cpu_seconds([server_pid]) - cpu_server
    sys_server = cpu_seconds([server_pid], kernel_only=True) - sys_server
    sys_clients = cpu_seconds([w.pid for w in workers], kernel_only=True) - sys_clients
    cpu_clients = cpu_seconds([w.pid for w in workers]) - cpu_clients
    go_home.set()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    latencies = sorted(x for r in results for x in r["latencies"])
    counts = [c for r in results for c in r["counts"]]
    dropped = [d for r in results for d in r["dropped"]]
    received = sum(counts)
    last = max(r["last_receipt_ms"] for r in results) / 1000
    wall = max(last - start, 1e-3)
    expected = sent * clients
    q = (lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)
         ) if latencies else (lambda p: None)
    return {
        "clients": clients, "messages_published": sent, "expected_deliveries": expected,
        "deliveries": received, "first_publish_to_last_receipt_s": round(wall, 3),
        "deliveries_per_s": round(received / wall, 1),
        "latency_ms_p50": q(0.50), "latency_ms_p99": q(0.99), "latency_ms_max": q(1.0),
        "clients_dropped": len(dropped), "clients_short": sum(1 for c in counts
                                                            if c < sent),
        # every client got every message (within the 20 s bound after the last publish)
        "complete": received == expected and not dropped,
        "drop_reasons": sorted(set(dropped))[:5],
        "connect_retries": sum(r["connect_retries"] for r in results),
        "cpu_s_server": round(cpu_server, 2), "cpu_s_server_kernel": round(sys_server, 2),
        "cpu_s_clients": round(cpu_clients, 2), "cpu_s_clients_kernel": round(sys_clients, 2),
        "server_cpu_us_per_delivery": round(cpu_server * 1e6 / received, 1) if received
        else None,
        "load_average_1m": os.getloadavg()[0],
    }


def server_errors(log) -> dict:
    """Unhandled exceptions the server logged during the measurement, by last line."""
    log.flush()
    log.seek(0)
    lines = log.read().splitlines()
    errors = sum(1 for line in lines if "Exception in ASGI application" in line)
    kinds: dict[str, int] = {}
    for line in lines:
        if re.match(r"^[a-zA-Z_.]+(Error|Exception)\b", line):
            kind = line.split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    if errors:
        print("server log (last 40 lines):", *lines[-40:], sep="\n", file=sys.stderr)
    return {"server_errors": errors, "server_error_kinds": kinds}


# --------------------------------------------------------------------------- publishers
def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    import django

    django.setup()


def ensure_market() -> None:
    from marketdata.models import Market
    from wallets.models import Asset

    base, _ = Asset.objects.get_or_create(symbol="WSBENCH", defaults={"name": "WS bench",
                                                                     "precision": 8})
    quote, _ = Asset.objects.get_or_create(symbol="USDT", defaults={"name": "Tether",
                                                                    "precision": 6})
    Market.objects.get_or_create(symbol=SYMBOL, defaults={
        "base": base, "quote": quote, "tick_size": Decimal("0.01"),
        "step_size": Decimal("0.0001"), "min_qty": Decimal("0.0001"),
        "max_qty": Decimal("1000"), "min_notional": Decimal("1")})


def make_publish_ours(seconds: float, rate: float, trades_per_batch: int):
    from marketdata.publishing import publish_batch
    from marketdata.redis_conn import sync_client

    last = sync_client().hget(f"{{{SYMBOL}}}:depth", "snapshot")
    update_id = json.loads(last)["lastUpdateId"] if last else 0

    def publish():
        nonlocal update_id
        batches = int(seconds * rate)
        start = time.time()
        trade_id = int(start * 1000) * 10
        for b in range(batches):
            delay = start + b / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            now_ms = int(time.time() * 1000)
            trades = []
            for _ in range(trades_per_batch):
                trade_id += 1
                trades.append({"id": trade_id, "market": SYMBOL, "price": "100.00",
                               "quantity": "0.0100", "quote_quantity": "1.000000",
                               "taker_side": "BUY", "buy_order_id": 1, "sell_order_id": 2,
                               "buyer_id": 1, "seller_id": 2, "time": now_ms})
            update_id += 1
            level = [f"{99 + (b % 7) / 100:.2f}", str(b % 5)]
            publish_batch(market=SYMBOL, trades=trades,
                          depth_update={"U": update_id, "u": update_id, "bids": [level],
                                        "asks": []},
                          depth_snapshot={"lastUpdateId": update_id, "bids": [], "asks": []},
                          order_updates=[], balance_updates=[])
        return batches * (trades_per_batch + 1), start

    return publish


def make_publish_baseline(seconds: float, rate: float, per_batch: int):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    def publish():
        sends = int(seconds * rate * per_batch)
        start = time.time()

        async def go():
            for i in range(sends):
                delay = start + i / (rate * per_batch) - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                frame = json.dumps({"stream": "trades", "market": SYMBOL,
                                    "data": {"id": i, "price": "100.00",
                                             "E": int(time.time() * 1000)}},
                                   separators=(",", ":"))
                await layer.group_send(GROUP, {"type": "bench.frame", "text": frame})

        async_to_sync(go)()
        return sends, start

    return publish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=15, help="batches per second")
    parser.add_argument("--trades-per-batch", type=int, default=1)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--client", choices=("raw", "websockets"), default="raw",
                        help="measuring client: lean protocol (default) or the websockets "
                             "library, ~3x the client CPU per message")
    parser.add_argument("--ws-impl", default="websockets-sansio",
                        choices=("websockets-sansio", "websockets", "wsproto"),
                        help="uvicorn --ws (the Procfile's is websockets-sansio; the hub "
                             "writes frames directly only under that one)")
    parser.add_argument("--ws-deflate", choices=("off", "on"), default="off",
                        help="per-message-deflate on the server (the Procfile has it off)")
    args = parser.parse_args()
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/ws_bench.py",
                                                *sys.argv[1:]])

    setup_django()
    ensure_market()
    from django.db import connection

    connection.close()

    summary: dict = {"command": command, "config": vars(args)}
    subscribe = json.dumps({"op": "subscribe", "id": 1,
                            "streams": [f"{SYMBOL}@trades", f"{SYMBOL}@depth"]})
    ws_args = ["--ws", args.ws_impl, *UVICORN_WS_ARGS[2:]] if args.ws_deflate == "off" \
        else ["--ws", args.ws_impl]
    with server("exchange.asgi:application", args.server_workers, ws_args) as (port, pid,
                                                                              log):
        ours = run_clients(f"ws://127.0.0.1:{port}/ws/v1", subscribe, args.clients,
                           args.client_procs,
                           make_publish_ours(args.seconds, args.rate, args.trades_per_batch),
                           pid, kind=args.client)
        ours.update(server_errors(log))
    summary["bourse"] = ours
    print("bourse fan-out:", json.dumps(ours), flush=True)

    if not args.skip_baseline:
        with server("bench.ws_bench:baseline_app", args.server_workers, ws_args) as (
                port, pid, log):
            base = run_clients(f"ws://127.0.0.1:{port}/ws/baseline", None, args.clients,
                               args.client_procs,
                               make_publish_baseline(args.baseline_seconds, args.rate,
                                                     args.trades_per_batch + 1), pid,
                               burst=5,  # its group_add exhausts the Redis pool otherwise
                               kind=args.client)
            base.update(server_errors(log))
        # Throughput of the baseline: what it delivered over the time it took.
        summary["channels_redis_group_send"] = base
        print("channels-redis group_send:", json.dumps(base), flush=True)
        if base["deliveries_per_s"]:
            summary["throughput_ratio"] = round(ours["deliveries_per_s"]
                                                / base["deliveries_per_s"], 2)
        if not base["complete"]:
            summary["baseline_failed"] = (
                f"channels-redis delivered {base['deliveries']} of "
                f"{base['expected_deliveries']} within 20 s of the last publish "
                f"({base['clients_short']} clients short, {base['clients_dropped']} "
                f"dropped, {base['server_errors']} server errors); its deliveries_per_s "
                "counts only what arrived, so the ratio flatters it")
            print("BASELINE FAILED:", summary["baseline_failed"], flush=True)
    summary["target_met"] = bool(
        ours["deliveries_per_s"] >= 20_000 and (ours["latency_ms_p99"] or 1e9) <= 100
        and ours["clients_dropped"] == 0 and ours["deliveries"] == ours["expected_deliveries"])
    print(f"repeat with: {command}")
    print(json.dumps(summary))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
