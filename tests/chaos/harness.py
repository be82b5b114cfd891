"""The chaos run (issue 11 part 1): N concurrent clients on M accounts drive the real APIs
while the harness kill -9s the matcher twice, restarts Redis empty once and terminates the
matcher's Postgres backend once; then it checks the invariants and prints PASS/FAIL lines.

CLI (``make chaos``)::

    python -m tests.chaos.harness --ops 10000 --clients 50 --accounts 20

creates a database of its own on the configured Postgres (``DATABASE_URL``), migrates it,
runs, and drops it (``--keep-db`` keeps it). ``tests/chaos/test_chaos_smoke.py`` runs a
bounded version against the pytest test database. docs/CHAOS.md explains the invariants.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

D = Decimal
QUOTE = "USDT"
FINAL = ("FILLED", "CANCELED", "EXPIRED", "REJECTED")
OPEN = ("NEW", "PARTIALLY_FILLED")


@dataclass
class Config:
    ops: int = 10_000
    clients: int = 50
    accounts: int = 20
    markets: int = 2
    seed: int = 11
    session_every: int = 5  # every 5th client authenticates with a session + CSRF
    max_seconds: float = 900.0
    log_dir: str | None = None


@dataclass
class Account:
    user_id: int
    email: str
    password: str
    key: str
    secret: str
    totp_secret: str
    address: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_step: int = 0

    def totp(self, *, wait: bool) -> str | None:
        """A TOTP code for a time step never used before (each code is single use; a
        reused one counts as a failure towards the 2FA lockout). None if the current step
        is spent and ``wait`` is False."""
        import pyotp

        while True:
            with self.lock:
                now = time.time()
                step = int(now // 30)
                if step > self.last_step and now - step * 30 < 27:
                    self.last_step = step
                    return pyotp.TOTP(self.totp_secret).at(step * 30)
            if not wait:
                return None
            time.sleep(0.5)


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ops: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    retries: int = 0
    gave_up: int = 0
    acked: dict = field(default_factory=dict)  # order id -> (user_id, client_order_id, market)
    done: int = 0

    def count(self, op: str, outcome: str) -> None:
        with self.lock:
            self.ops[op] += 1
            self.outcomes[outcome] += 1
            self.done += 1


# --------------------------------------------------------------------------- setup


def setup_world(cfg: Config) -> tuple[list[str], list[Account]]:
    """Markets (unique symbols), funded users with TOTP devices, trade+withdraw API keys
    and a usable withdrawal address. Runs in the harness's own Django."""
    from datetime import timedelta

    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from accounts.otp import totp_secret_b32
    from accounts.tests.factories import ApiKeyFactory
    from marketdata.models import Market
    from wallets.models import Asset, WithdrawalAddress
    from wallets.services import demo_topup

    tag = uuid.uuid4().hex[:4].upper()
    quote, _ = Asset.objects.get_or_create(symbol=QUOTE, defaults={"name": "Tether",
                                                                   "precision": 6})
    Asset.objects.filter(pk=quote.pk).update(confirmations_required=2, min_withdrawal=0,
                                             withdrawal_fee=D("0.5"), deposits_enabled=True,
                                             withdrawals_enabled=True)
    symbols = []
    bases = []
    for i in range(cfg.markets):
        base = Asset.objects.create(symbol=f"X{tag}{i}", name=f"chaos {i}", precision=8,
                                    confirmations_required=2)
        bases.append(base)
        market = Market.objects.create(
            symbol=f"{base.symbol}-{QUOTE}", base=base, quote=quote, tick_size=D("0.01"),
            step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("1000"), min_notional=D("1"),
            reference_price=D("100"), price_band_pct=D("10"))
        symbols.append(market.symbol)
    accounts = []
    password = "chaos-password-0123456789"
    for i in range(cfg.accounts):
        user = User.objects.create(email=f"chaos-{tag.lower()}-{i}@example.test",
                                   email_verified=True, kyc_tier=2)
        user.set_password(password)
        user.save(update_fields=["password"])
        demo_topup(user=user, asset=quote, target=D("500000"))
        for base in bases:
            demo_topup(user=user, asset=base, target=D("5000"))
        device = TOTPDevice.objects.create(user=user, name="chaos", confirmed=True)
        key, secret = ApiKeyFactory(user=user, scopes=["read", "trade", "withdraw"])
        address = f"chaos{tag.lower()}addr{i:04d}x"
        WithdrawalAddress.objects.create(user=user, asset=quote, address=address,
                                         usable_after=timezone.now() - timedelta(hours=1))
        accounts.append(Account(user_id=user.id, email=user.email, password=password,
                                key=key.key, secret=secret, totp_secret=totp_secret_b32(device),
                                address=address))
    return symbols, accounts


# --------------------------------------------------------------------------- HTTP clients


class Client:
    """One bot: a requests session, signed by API key or logged in (session + CSRF)."""

    RETRIES = 10

    def __init__(self, *, index: int, base_url: str, account: Account, symbols: list[str],
                 session_auth: bool, stats: Stats, rng: random.Random) -> None:
        import requests

        self.index = index
        self.base = base_url
        self.account = account
        self.symbols = symbols
        self.session_auth = session_auth
        self.stats = stats
        self.rng = rng
        self.http = requests.Session()
        self.open_orders: list[int] = []

    # -- transport

    def login(self) -> None:
        """The browser flow: login form (CSRF), then the 2FA code."""
        import re

        for _attempt in range(20):
            try:
                page = self.http.get(f"{self.base}/accounts/login/", timeout=10)
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                r = self.http.post(f"{self.base}/accounts/login/", timeout=10, data={
                    "email": self.account.email, "password": self.account.password,
                    "csrfmiddlewaretoken": token.group(1)}, allow_redirects=False)
                if r.status_code != 302:
                    raise RuntimeError(f"login: {r.status_code}")
                page = self.http.get(f"{self.base}/accounts/login/otp/", timeout=10)
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                r = self.http.post(f"{self.base}/accounts/login/otp/", timeout=10, data={
                    "code": self.account.totp(wait=True),
                    "csrfmiddlewaretoken": token.group(1)}, allow_redirects=False)
                if r.status_code == 302:
                    return
                raise RuntimeError(f"login otp: {r.status_code}")
            except Exception:  # a fault in progress: retry as a browser user would
                time.sleep(0.5)
        raise RuntimeError(f"client {self.index} could not log in")

    def _send(self, method: str, path: str, body: dict | None, headers: dict):
        from accounts.signing import sign_params

        path, _, own_query = path.partition("?")
        url = f"{self.base}/api/v1/{path}"
        headers = dict(headers)
        data = json.dumps(body) if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.session_auth:
            headers["X-CSRFToken"] = self.http.cookies.get("csrftoken", "")
            return self.http.request(method, f"{url}?{own_query}" if own_query else url,
                                     data=data, headers=headers, timeout=15)
        query = f"timestamp={int(time.time() * 1000)}&recvWindow=10000"
        if own_query:
            query = f"{own_query}&{query}"
        signature = sign_params(self.account.secret, query, data or "")
        headers["X-MBX-APIKEY"] = self.account.key
        return self.http.request(method, f"{url}?{query}&signature={signature}", data=data,
                                 headers=headers, timeout=15)

    def call(self, op: str, method: str, path: str, body: dict | None = None,
             headers: dict | None = None, *, retry: bool = True):
        """Sends until an answer that is not a fault (connection error, 5xx) arrives; the
        request is the same each time (same client order id / Idempotency-Key), so a retry
        can never create a second order. Returns the response or None (gave up)."""
        import requests

        for attempt in range(self.RETRIES if retry else 1):
            try:
                response = self._send(method, path, body, headers or {})
            except requests.RequestException:
                response = None
            if response is not None and response.status_code < 500:
                code = str(response.status_code)
                if response.status_code >= 400:
                    with contextlib.suppress(ValueError):
                        code += ":" + str(response.json().get("code"))
                self.stats.count(op, code)
                return response
            if attempt + 1 < (self.RETRIES if retry else 1):
                with self.stats.lock:
                    self.stats.retries += 1
                time.sleep(min(2.0, 0.1 * 2 ** attempt))
        with self.stats.lock:
            self.stats.gave_up += 1
        self.stats.count(op, "gave_up")
        return None

    # -- operations

    def run(self, budget: int, stop: threading.Event) -> None:
        if self.session_auth:
            self.login()
        ops = [(self.place, 60), (self.cancel, 12), (self.amend, 7), (self.cancel_all, 2),
               (self.deposit, 4), (self.withdraw, 2), (self.read, 5)]
        funcs, weights = zip(*ops, strict=True)
        for _ in range(budget):
            if stop.is_set():
                return
            self.rng.choices(funcs, weights)[0]()

    def _price(self, around: D = D(100), spread: int = 300) -> D:  # noqa: B008
        return (around + D(self.rng.randint(-spread, spread)) / 100).quantize(D("0.01"))

    def _qty(self) -> D:
        return (D(self.rng.randint(1, 2000)) / 1000).quantize(D("0.001"))

    def place(self) -> None:
        rng = self.rng
        market = rng.choice(self.symbols)
        side = rng.choice(["BUY", "SELL"])
        kind = rng.choices(
            ["LIMIT_GTC", "LIMIT_IOC", "LIMIT_FOK", "MARKET", "MARKET_QUOTE", "STOP_LOSS",
             "STOP_LOSS_LIMIT", "LIMIT_MAKER"], [40, 8, 6, 8, 5, 4, 5, 8])[0]
        body: dict = {"market": market, "side": side,
                      "client_order_id": f"c{self.index}-{uuid.uuid4().hex[:16]}",
                      "response_type": rng.choice(["ACK", "ACK", "ACK", "RESULT", "FULL"])}
        if kind.startswith("LIMIT_") and kind != "LIMIT_MAKER":
            body.update(type="LIMIT", time_in_force=kind[6:], price=str(self._price()),
                        quantity=str(self._qty()))
        elif kind == "LIMIT_MAKER":
            # away from the touch so most rest; some would take and are rejected
            price = self._price(D(100) + (D(-2) if side == "BUY" else D(2)), 250)
            body.update(type="LIMIT_MAKER", price=str(price), quantity=str(self._qty()))
        elif kind == "MARKET":
            body.update(type="MARKET", quantity=str(self._qty()))
        elif kind == "MARKET_QUOTE":
            body.update(type="MARKET", side="BUY",
                        quote_order_qty=str(D(rng.randint(500, 20000)) / 100))
        else:  # stops: a sell stop below the market, a buy stop above
            offset = D(rng.randint(50, 400)) / 100
            stop = D(100) - offset if side == "SELL" else D(100) + offset
            body.update(type=kind, stop_price=str(stop), quantity=str(self._qty()))
            if kind == "STOP_LOSS_LIMIT":
                limit = stop - D("0.50") if side == "SELL" else stop + D("0.50")
                body.update(price=str(limit), time_in_force=rng.choice(["GTC", "GTC", "IOC"]))
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        r = self.call(f"place:{kind}", "POST", "orders", body, headers)
        if r is not None and r.status_code in (200, 201):
            data = r.json()
            with self.stats.lock:
                self.stats.acked[int(data["id"])] = (self.account.user_id,
                                                     body["client_order_id"], market)
            if data.get("status") in OPEN:
                self.open_orders.append(int(data["id"]))
                del self.open_orders[:-50]

    def _victim(self) -> int | None:
        if not self.open_orders:
            return None
        return self.open_orders.pop(self.rng.randrange(len(self.open_orders)))

    def cancel(self) -> None:
        oid = self._victim()
        if oid is None:
            return self.read()
        wait = self.rng.choice(["0", "0", "1"])
        self.call("cancel", "DELETE", f"orders/{oid}?wait={wait}")

    def amend(self) -> None:
        oid = self._victim()
        if oid is None:
            return self.read()
        r = self.call("read", "GET", f"orders/{oid}")
        if r is None or r.status_code != 200 or r.json().get("status") not in OPEN:
            return None
        order = r.json()
        if order.get("type") not in ("LIMIT", "LIMIT_MAKER") or order.get("price") is None:
            return None
        body = {}
        qty, filled = D(order["quantity"]), D(order["filled_quantity"])
        if self.rng.random() < 0.5 and qty - filled > D("0.002"):
            body["quantity"] = str((filled + (qty - filled) / 2).quantize(D("0.001")))
        else:
            step = D(self.rng.choice([-30, -10, 10, 30])) / 100
            price = D(order["price"]) + (step if order["side"] == "BUY" else -step) * -1
            body["price"] = str(price.quantize(D("0.01")))
        r = self.call("amend", "POST", f"orders/{oid}/amend", body)
        if r is not None and r.status_code < 300:
            self.open_orders.append(oid)
        return None

    def cancel_all(self) -> None:
        self.call("cancel_all", "POST", "orders/cancel-all",
                  {"market": self.rng.choice(self.symbols)})
        self.open_orders.clear()

    def deposit(self) -> None:
        asset = self.rng.choice([QUOTE, self.symbols[0].split("-")[0]])
        amount = D(self.rng.randint(1, 100000)) / 100
        self.call("deposit", "POST", "deposits/simulate", {"asset": asset,
                                                             "amount": str(amount)})

    def withdraw(self) -> None:
        code = self.account.totp(wait=False)
        if code is None:
            return self.read()
        amount = D(self.rng.randint(100, 5000)) / 100
        # not retried: the code is single use; the outcome of a lost answer is in the
        # books either way (a pending hold or nothing)
        self.call("withdraw", "POST", "withdrawals",
                  {"asset": QUOTE, "address": self.account.address, "amount": str(amount),
                   "otp_code": code}, retry=False)
        return None

    def read(self) -> None:
        path = self.rng.choice(["orders/open", "balances", "trades", "orders?limit=20"])
        self.call("read", "GET", path)


# --------------------------------------------------------------------------- WebSockets


class TradeFollower:
    """Follows ``M@trades`` (and ``M@depth`` to detect gaps) on /ws/v1 across faults,
    exactly as docs/MARKETDATA.md says: on every (re)connect subscribe first, then page
    ``GET /markets/M/trades?from_id=<last+1>`` until ``next_from_id`` is null; apply stream
    frames with an id above what is known. A depth diff whose ``U`` is not the previous
    ``u`` + 1 (batches committed but never published: a matcher killed between commit and
    publish) triggers the same REST resync. ``view`` is id -> trade as received."""

    def __init__(self, *, ws_url: str, base_url: str, market: str) -> None:
        self.ws_url = ws_url
        self.base_url = base_url
        self.market = market
        self.view: dict[int, tuple] = {}
        self.rest_max = 0
        self.last_u: int | None = None
        self.connects = 0
        self.resyncs = 0
        self.gaps = 0
        self.via_stream = 0
        self.via_rest = 0
        self.stream_duplicates = 0
        self.closes: Counter = Counter()

    @staticmethod
    def _key(t: dict) -> tuple:
        # the fields both the stream frame and the REST page carry
        return (D(t["price"]), D(t["quantity"]), D(t["quote_quantity"]), t["taker_side"])

    def resync_rest(self) -> None:
        import requests

        self.resyncs += 1
        from_id = self.rest_max + 1
        while True:
            r = requests.get(f"{self.base_url}/api/v1/markets/{self.market}/trades",
                             params={"from_id": from_id, "limit": 1000}, timeout=10)
            r.raise_for_status()
            body = r.json()
            for t in body["results"]:
                if t["id"] not in self.view:
                    self.via_rest += 1
                self.view[t["id"]] = self._key(t)
                self.rest_max = max(self.rest_max, t["id"])
            if body.get("next_from_id") is None:
                return
            from_id = body["next_from_id"]

    async def run(self, stop: threading.Event) -> None:
        import asyncio

        import websockets

        while not stop.is_set():
            try:
                async with websockets.connect(f"{self.ws_url}/ws/v1", open_timeout=5,
                                              close_timeout=1, max_size=None) as ws:
                    self.connects += 1
                    await ws.send(json.dumps({"op": "subscribe", "id": 1, "streams": [
                        f"{self.market}@trades", f"{self.market}@depth"]}))
                    buffered = []
                    while True:  # frames before the reply are buffered
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if frame.get("op") == "subscribed":
                            break
                        if frame.get("op") == "error":
                            raise RuntimeError(frame.get("code"))
                        buffered.append(frame)
                    await asyncio.to_thread(self.resync_rest)
                    self.last_u = None
                    seen_here: set[int] = set()
                    for frame in buffered:
                        await self._frame(frame, seen_here)
                    while not stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            continue
                        await self._frame(json.loads(raw), seen_here)
            except websockets.ConnectionClosed as exc:
                self.closes[getattr(exc.rcvd, "code", None) if exc.rcvd else None] += 1
            except Exception as exc:  # server or Redis down: reconnect
                self.closes[type(exc).__name__] += 1
            if not stop.is_set():
                await asyncio.sleep(0.3)

    async def _frame(self, frame: dict, seen_here: set) -> None:
        import asyncio

        stream = frame.get("stream", "")
        data = frame.get("data") or {}
        if frame.get("market") not in (None, self.market) or frame.get("type") == "snapshot":
            return
        if stream == "trades":
            tid = data["id"]
            if tid in seen_here:
                self.stream_duplicates += 1
            seen_here.add(tid)
            if tid not in self.view:
                self.via_stream += 1
            self.view[tid] = self._key(data)
        elif stream == "depth":
            if self.last_u is not None and data["U"] != self.last_u + 1:
                self.gaps += 1
                await asyncio.to_thread(self.resync_rest)
            self.last_u = data["u"]


def _ws_thread(followers: list[TradeFollower], stop: threading.Event) -> threading.Thread:
    import asyncio

    async def main():
        await asyncio.gather(*(f.run(stop) for f in followers))

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="ws", daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------- faults


def terminate_matcher_backends() -> int:
    from django.db import connection

    from tests.chaos.stack import MATCHER_APP_NAME

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name = %s AND datname = current_database()",
                       [MATCHER_APP_NAME])
        return sum(1 for (ok,) in cursor.fetchall() if ok)


def _checkpoints() -> dict[int, tuple[int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT market_id, epoch, last_sequence FROM matching_marketcheckpoint")
        return {m: (e, s) for m, e, s in cursor.fetchall()}


def _wait_commit_after(before: dict, *, new_epoch: bool, timeout: float = 60) -> float | None:
    """Seconds until some market's checkpoint moves past ``before`` (the matcher commits
    again; with ``new_epoch``, a matcher that took the market after the fault: a commit
    the killed process had already sent to Postgres does not count), or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = _checkpoints()
        for m, (epoch, seq) in now.items():
            e0, s0 = before.get(m, (0, 0))
            if seq > s0 and (epoch > e0 or not new_epoch):
                return time.monotonic() - started
        time.sleep(0.05)
    return None


class Faults:
    """Injects each fault when the clients' progress reaches its mark."""

    PLAN = ((0.15, "kill_matcher"), (0.35, "redis_restart"), (0.55, "kill_matcher"),
            (0.75, "pg_terminate_matcher"))

    def __init__(self, stack, stats: Stats, total: int) -> None:
        self.stack = stack
        self.stats = stats
        self.total = total
        self.log: list[dict] = []
        self.errors: list[str] = []

    def run(self, stop: threading.Event) -> None:
        from django.db import close_old_connections

        try:
            for mark, fault in self.PLAN:
                while self.stats.done < mark * self.total:
                    if stop.wait(0.05):
                        return
                before = _checkpoints()
                started = time.monotonic()
                detail = getattr(self, fault)()
                recovered = _wait_commit_after(before, new_epoch=fault == "kill_matcher")
                self.log.append({"fault": fault, "at_ops": self.stats.done,
                                 "detail": detail, "recovered_s": None if recovered is None
                                 else round(time.monotonic() - started, 2)})
        except Exception as exc:  # reported as a FAIL, never silently
            self.errors.append(repr(exc))
        finally:
            close_old_connections()

    def kill_matcher(self) -> str:
        self.stack.kill_matcher()
        self.stack.start_matcher()
        return "SIGKILL, restarted"

    def redis_restart(self) -> str:
        self.stack.redis.restart_empty()
        return "redis-server killed and restarted empty"

    def pg_terminate_matcher(self) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n = terminate_matcher_backends()
            if n:
                return f"pg_terminate_backend on {n} matcher backend(s)"
            time.sleep(0.02)
        raise RuntimeError("no matcher backend found to terminate")


# --------------------------------------------------------------------------- checks


def quiesce(stack, symbols: list[str], followers: list[TradeFollower], accounts,
            timeout: float = 120) -> float:
    """Every accepted order and command sequenced, every deposit credited, and every
    follower caught up with what the matcher committed (its last depth id equals the
    checkpoint's and it holds the market's newest trade). Returns the seconds it took."""
    import requests
    from django.db import connection

    from wallets.services.deposits import deposits_confirmations_advance

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with connection.cursor() as cursor:
            cursor.execute("SELECT (SELECT count(*) FROM orders_order WHERE sequence IS NULL) "
                           "+ (SELECT count(*) FROM orders_ordercommand WHERE sequence IS NULL)")
            unsequenced = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM wallets_deposit WHERE status = 'PENDING'")
            pending = cursor.fetchone()[0]
        if pending:
            deposits_confirmations_advance()
        if not unsequenced and not pending:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the system did not quiesce")
    # A last committed depth change per market (a post-only order placed and cancelled),
    # so a follower that missed a final unpublished batch sees the depth gap.
    probe = accounts[0]
    from accounts.signing import sign_params

    for symbol in symbols:
        def signed(method, path, body=None):
            data = json.dumps(body) if body else None
            query = f"timestamp={int(time.time() * 1000)}"
            return requests.request(
                method, f"{stack.base_url}/api/v1/{path}?{query}&signature="
                f"{sign_params(probe.secret, query, data or '')}", data=data, timeout=10,
                headers={"X-MBX-APIKEY": probe.key, "Content-Type": "application/json"})

        r = signed("POST", "orders", {"market": symbol, "side": "BUY", "type": "LIMIT_MAKER",
                                      "price": "80.00", "quantity": "0.05",
                                      "response_type": "RESULT"})
        if r.status_code == 201:
            signed("DELETE", f"orders/{r.json()['id']}")
    from marketdata.models import Market, Trade
    from matching.models import MarketCheckpoint

    ids = {m.symbol: m.id for m in Market.objects.filter(symbol__in=symbols)}
    while time.monotonic() - started < timeout:
        with connection.cursor() as cursor:
            cursor.execute("SELECT (SELECT count(*) FROM orders_order WHERE sequence IS NULL) "
                           "+ (SELECT count(*) FROM orders_ordercommand WHERE sequence IS NULL)")
            unsequenced = cursor.fetchone()[0]
        caught_up = True
        for f in followers:
            cp = MarketCheckpoint.objects.filter(market_id=ids[f.market]).first()
            newest = Trade.objects.filter(market_id=ids[f.market]).order_by("-id").first()
            if cp is None or f.last_u != cp.depth_update_id:
                caught_up = False
            if newest is not None and newest.id not in f.view:
                caught_up = False
        if caught_up and not unsequenced:
            return time.monotonic() - started
        time.sleep(0.2)
    return time.monotonic() - started  # the checks then report what is missing


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def replay(symbol: str) -> tuple[list[tuple], set]:
    """The committed command log of ``symbol`` through a fresh engine: its trades
    ``(sequence, match_index, maker_order, taker_order, price, qty)`` in order, and the
    open order ids left in the book. Raises AssertionError on a gap or duplicate."""
    from marketdata.models import Market
    from matching.engine import MarketSpec, OrderBook, Side, Traded
    from matching.models import CommandLog
    from matching.worker import payloads

    market = Market.objects.get(symbol=symbol)
    spec = MarketSpec(tick_size=market.tick_size, step_size=market.step_size)
    band = int(market.price_band_pct * 100) if market.price_band_pct else None
    book = OrderBook(band_bps=band, reference_price=spec.price_to_ticks(market.reference_price))
    out = []
    expected = 1
    for row in CommandLog.objects.filter(market=market).order_by("sequence").iterator():
        for sequence, payload in row.commands():
            assert sequence == expected, f"{symbol}: sequence {sequence}, expected {expected}"
            expected += 1
            command = payloads.decode(payload)
            if command is None:
                continue
            for index, ev in enumerate(book.apply(command)):
                if isinstance(ev, Traded):
                    out.append((sequence, index, ev.maker_order_id, ev.taker_order_id,
                                spec.ticks_to_price(ev.price), spec.steps_to_qty(ev.qty),
                                ev.maker_side is Side.BUY))
    book.check_invariants()
    return out, {o.order_id for o in book.open_orders()}


def committed_trades(market) -> list[tuple]:
    """The trades table of ``market`` in the shape :func:`replay` returns."""
    from marketdata.models import Trade

    committed = []
    for t in Trade.objects.filter(market=market).order_by("sequence", "match_index"):
        maker_buy = t.taker_side == "SELL"
        maker, taker = ((t.buy_order_id, t.sell_order_id) if maker_buy
                        else (t.sell_order_id, t.buy_order_id))
        committed.append((t.sequence, t.match_index, maker, taker, t.price, t.quantity,
                          maker_buy))
    return committed


def check_all(symbols: list[str], stats: Stats, followers: list[TradeFollower],
              faults: Faults) -> list[Check]:
    from django.db import connection
    from django.db.models import Count

    from marketdata.models import Market, Trade
    from orders.models import Order
    from wallets.reconciliation import reconcile

    checks = []
    report = reconcile()
    checks.append(Check("reconciliation clean (ledger zero-sum per asset, no negative "
                        "balance, locked == open orders + pending withdrawals)", report.ok,
                        "" if report.ok else str(report.differences[:10])))
    markets = {m.symbol: m for m in Market.objects.filter(symbol__in=symbols)}
    trades = Trade.objects.filter(market__in=markets.values())
    dup = (trades.values("market_id", "sequence", "match_index").annotate(n=Count("id"))
           .filter(n__gt=1).count())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.id, o.quantity, o.filled_quantity, COALESCE(SUM(t.quantity), 0) "
            "FROM orders_order o LEFT JOIN marketdata_trade t ON t.buy_order_id = o.id "
            "OR t.sell_order_id = o.id WHERE o.market_id = ANY(%s) GROUP BY o.id "
            "HAVING o.filled_quantity <> COALESCE(SUM(t.quantity), 0) "
            "OR (o.quantity IS NOT NULL AND o.filled_quantity > o.quantity)",
            [[m.id for m in markets.values()]])
        overfilled = cursor.fetchall()
    checks.append(Check("no duplicate trade; every order's filled quantity equals the sum "
                        "of its trades and never exceeds its quantity",
                        dup == 0 and not overfilled,
                        f"duplicates {dup}, mismatched orders {overfilled[:5]}"))
    acked = stats.acked
    rows = {o.id: o for o in Order.objects.filter(id__in=list(acked))}
    missing = [i for i in acked if i not in rows]
    market_ids = {m.id: s for s, m in markets.items()}
    wrong = [i for i, (uid, coid, mkt) in acked.items() if i in rows and (
        rows[i].user_id != uid or rows[i].client_order_id != coid
        or market_ids.get(rows[i].market_id) != mkt)]
    unsettled = [i for i, o in rows.items() if o.sequence is None
                 or o.status not in OPEN + FINAL]
    unsequenced = Order.objects.filter(market__in=markets.values(),
                                       sequence__isnull=True).count()
    checks.append(Check(f"every acknowledged order ({len(acked)}) exists, is its client's, "
                        "is sequenced and resting or final; no order is left unsequenced",
                        not (missing or wrong or unsettled or unsequenced),
                        f"missing {missing[:5]}, wrong owner {wrong[:5]}, not sequenced/"
                        f"resting/final {unsettled[:5]}, unsequenced rows {unsequenced}"))
    ws_ok, ws_detail = True, []
    for f in followers:
        market = markets[f.market]
        table = {t.id: (t.price, t.quantity, t.quote_quantity, t.taker_side)
                 for t in Trade.objects.filter(market=market)}
        missing_ids = sorted(set(table) - set(f.view))
        extra = sorted(set(f.view) - set(table))
        differ = [i for i in table if i in f.view and f.view[i] != table[i]]
        ok = not (missing_ids or extra or differ or f.stream_duplicates)
        ws_ok &= ok
        ws_detail.append(f"{f.market}: table {len(table)}, received {len(f.view)} "
                         f"(stream {f.via_stream}, REST resync {f.via_rest}), connects "
                         f"{f.connects}, depth gaps {f.gaps}, stream duplicates "
                         f"{f.stream_duplicates}, missing {missing_ids[:5]}, extra {extra[:5]}, "
                         f"different {differ[:5]}")
    checks.append(Check("WebSocket followers' trades (stream + documented resync) equal the "
                        "trades table", ws_ok, "; ".join(ws_detail)))
    replay_ok, replay_detail = True, []
    for symbol, market in markets.items():
        try:
            replayed, open_ids = replay(symbol)
        except AssertionError as exc:
            replay_ok = False
            replay_detail.append(str(exc))
            continue
        committed = committed_trades(market)
        db_open = set(Order.objects.filter(market=market, status__in=OPEN)
                      .values_list("id", flat=True))
        same = replayed == committed and open_ids == db_open
        replay_ok &= same
        first_diff = next((i for i, (a, b) in enumerate(zip(replayed, committed, strict=False))
                           if a != b), None)
        replay_detail.append(f"{symbol}: {len(committed)} trades, replay {len(replayed)}, "
                             f"first difference at {first_diff}, open orders db "
                             f"{len(db_open)} replay {len(open_ids)} (diff "
                             f"{sorted(open_ids ^ db_open)[:5]})")
    checks.append(Check("replaying the committed command log through a fresh engine gives "
                        "identical trades (maker, taker, price, qty, in order) and open "
                        "orders", replay_ok, "; ".join(replay_detail)))
    checks.append(Check("faults injected as planned (2 matcher kills, 1 empty Redis restart, "
                        "1 matcher backend terminated) and recovered",
                        not faults.errors and len(faults.log) == len(Faults.PLAN)
                        and all(f["recovered_s"] is not None for f in faults.log),
                        f"{faults.log} {faults.errors}"))
    return checks


# --------------------------------------------------------------------------- the run


def run_chaos(cfg: Config, *, database_url: str) -> tuple[bool, dict]:
    """One chaos run against ``database_url`` (Django in this process must use the same
    database). Returns (all passed, figures)."""
    from django.db import close_old_connections, connection

    from marketdata.models import Market, Trade
    from orders.models import Order
    from tests.chaos.stack import Stack

    started = time.monotonic()
    symbols, accounts = setup_world(cfg)
    stats = Stats()
    rng = random.Random(cfg.seed)
    stop = threading.Event()
    with Stack(database_url=database_url, log_dir=cfg.log_dir) as stack:
        stack.start()
        followers = [TradeFollower(ws_url=stack.ws_url, base_url=stack.base_url, market=s)
                     for s in symbols]
        ws = _ws_thread(followers, stop)
        clients = [Client(index=i, base_url=stack.base_url, account=accounts[i % len(accounts)],
                          symbols=symbols, session_auth=(i % cfg.session_every
                                                         == cfg.session_every - 1),
                          stats=stats, rng=random.Random(rng.random()))
                   for i in range(cfg.clients)]
        budget = [cfg.ops // cfg.clients + (1 if i < cfg.ops % cfg.clients else 0)
                  for i in range(cfg.clients)]
        faults = Faults(stack, stats, cfg.ops)
        deadline_stop = threading.Event()
        client_errors: list[str] = []

        def client_main(client, n):
            try:
                client.run(n, deadline_stop)
            except Exception as exc:
                client_errors.append(f"client {client.index}: {exc!r}")
            finally:
                close_old_connections()

        def deposits_job():
            from wallets.services.deposits import deposits_confirmations_advance

            last_report = time.monotonic()
            while not stop.wait(0.5):
                if time.monotonic() - last_report >= 30 and not deadline_stop.is_set():
                    last_report = time.monotonic()
                    print(f"chaos: {stats.done}/{cfg.ops} operations, "
                          f"{len(faults.log)} faults injected", flush=True)
                try:
                    deposits_confirmations_advance()
                except Exception:  # the DB is shared with the faults; try again
                    connection.close()
            close_old_connections()

        load_started = time.monotonic()
        threads = [threading.Thread(target=client_main, args=(c, n), daemon=True)
                   for c, n in zip(clients, budget, strict=True)]
        fault_thread = threading.Thread(target=faults.run, args=(deadline_stop,), daemon=True)
        dep_thread = threading.Thread(target=deposits_job, daemon=True)
        for t in (*threads, fault_thread, dep_thread):
            t.start()
        for t in threads:
            t.join(max(1.0, cfg.max_seconds - (time.monotonic() - started)))
        deadline_stop.set()
        fault_thread.join(90)
        load_seconds = time.monotonic() - load_started
        quiesce_seconds = quiesce(stack, symbols, followers, accounts)
        stop.set()
        ws.join(10)
        dep_thread.join(10)
        close_old_connections()
        checks = check_all(symbols, stats, followers, faults)
        if client_errors:
            checks.append(Check("every client finished", False, "; ".join(client_errors[:5])))
        markets = Market.objects.filter(symbol__in=symbols)
        figures = {
            "operations": stats.done, "ops_by_kind": dict(sorted(stats.ops.items())),
            "outcomes": dict(sorted(stats.outcomes.items())), "retries": stats.retries,
            "gave_up": stats.gave_up, "clients": cfg.clients, "accounts": cfg.accounts,
            "matcher_kills": stack.kills, "redis_restarts": stack.redis.restarts,
            "faults": faults.log,
            "orders": Order.objects.filter(market__in=markets).count(),
            "acknowledged_orders": len(stats.acked),
            "trades": Trade.objects.filter(market__in=markets).count(),
            "ws": [{"market": f.market, "received": len(f.view), "stream": f.via_stream,
                    "rest": f.via_rest, "connects": f.connects, "gaps": f.gaps,
                    "closes": {str(k): v for k, v in f.closes.items()}} for f in followers],
            "load_seconds": round(load_seconds, 1), "quiesce_seconds": round(quiesce_seconds, 1),
            "total_seconds": round(time.monotonic() - started, 1),
            "logs": str(stack.log_dir),
        }
    ok = all(c.ok for c in checks)
    print_report(figures, checks)
    return ok, figures


def print_report(figures: dict, checks: list[Check]) -> None:
    out = sys.stdout
    out.write("\n=== chaos run ===\n")
    for key in ("operations", "clients", "accounts", "retries", "gave_up", "matcher_kills",
                "redis_restarts", "orders", "acknowledged_orders", "trades", "load_seconds",
                "quiesce_seconds", "total_seconds", "logs"):
        out.write(f"{key:>20}: {figures[key]}\n")
    out.write(f"{'ops by kind':>20}: {figures['ops_by_kind']}\n")
    out.write(f"{'outcomes':>20}: {figures['outcomes']}\n")
    for fault in figures["faults"]:
        out.write(f"{'fault':>20}: {fault}\n")
    for ws in figures["ws"]:
        out.write(f"{'websocket':>20}: {ws}\n")
    for check in checks:
        out.write(f"{'PASS' if check.ok else 'FAIL'} {check.name}\n")
        if check.detail:
            out.write(f"     {check.detail}\n")
    summary = {k: figures[k] for k in ("operations", "matcher_kills", "redis_restarts",
                                       "trades", "orders", "total_seconds")}
    summary["passed"] = all(c.ok for c in checks)
    out.write(json.dumps(summary) + "\n")
    out.flush()


# --------------------------------------------------------------------------- CLI


def _own_database(base_url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin(base_url: str, sql: str) -> None:
    import psycopg

    from tests.chaos.stack import with_query

    url = _own_database(base_url, "postgres")
    with psycopg.connect(with_query(url), autocommit=True) as conn:
        conn.execute(sql)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--markets", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    os.environ.setdefault("BOURSE_TESTING", "1")
    from exchange import devservices

    if devservices.embedded():
        devservices.up()
    base = devservices.service_urls().database_url
    name = f"bourse_chaos_{os.getpid()}"
    _admin(base, f'CREATE DATABASE "{name}"')
    url = _own_database(base, name)
    os.environ["DATABASE_URL"] = url
    try:
        import django
        from django.core.management import call_command

        django.setup()
        print(f"chaos: database {name}; migrating", flush=True)
        call_command("migrate", verbosity=0)
        cfg = Config(ops=args.ops, clients=args.clients, accounts=args.accounts,
                     markets=args.markets, seed=args.seed, max_seconds=args.max_seconds)
        print(f"chaos: {cfg}", flush=True)
        ok, _ = run_chaos(cfg, database_url=url)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
