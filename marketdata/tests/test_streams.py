"""Real WebSocket clients (the ``websockets`` library) against a real uvicorn process
serving exchange.asgi on the test database; batches are published with
``publish_batch`` by a synthetic matcher that commits trades first."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from marketdata.listen_keys import listen_key_create
from marketdata.models import Trade
from marketdata.publishing import publish_batch
from marketdata.tests.support import SyntheticMatcher, asgi_server, make_market, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("marketdata.tests.urls")]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), asgi_server(extra_env={
        "MARKETDATA_WS_MAX_SUBSCRIPTIONS": "5"}) as host:
        yield host


@pytest.fixture(scope="module")
def tiny_outbox_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), asgi_server(extra_env={
        "MARKETDATA_WS_OUTBOX_LIMIT": "20"}) as host:
        yield host


def rest(path: str) -> dict:
    """The market-data REST API, in process (same test database)."""
    response = Client().get(path)
    assert response.status_code == 200, response.content
    return response.json()


def rest_trades_from(symbol: str, from_id: int) -> list[dict]:
    out = []
    while from_id is not None:
        body = rest(f"/api/v1/markets/{symbol}/trades?from_id={from_id}&limit=1000")
        out += body["results"]
        from_id = body["next_from_id"]
    return out


async def recv_json(ws, timeout: float = 10) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws, streams: list[str], **extra) -> dict:
    await ws.send(json.dumps({"op": "subscribe", "id": 1, "streams": streams, **extra}))
    while True:
        message = await recv_json(ws)
        if message.get("op") in ("subscribed", "error"):
            return message


class DepthFollower:
    """A client doing what Binance documents for a local order book, plus the same for
    trades: subscribe, then fetch the REST snapshot (and missing trades), drop what the
    snapshot already contains, apply the rest checking that update ids chain."""

    def __init__(self, host: str, symbol: str, after_trade_id: int) -> None:
        self.host, self.symbol = host, symbol
        self.last_trade_id = after_trade_id
        self.trades: list[dict] = []
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last_update_id = 0
        self.sessions = 0

    def _apply(self, side: dict, levels) -> None:
        for price, qty in levels:
            if float(qty) == 0:  # comparing a decimal string to zero only
                side.pop(price, None)
            else:
                side[price] = qty

    def _take_trade(self, trade: dict) -> None:
        if trade["id"] > self.last_trade_id:
            self.trades.append(trade)
            self.last_trade_id = trade["id"]

    async def session(self, *, until) -> None:
        """One connection: sync, then follow until ``until(self)`` is true."""
        self.sessions += 1
        async with connect(f"ws://{self.host}/ws/v1", max_queue=None) as ws:
            ack = await subscribe(ws, [f"{self.symbol}@depth", f"{self.symbol}@trades"])
            assert ack["op"] == "subscribed"
            snap = await asyncio.to_thread(rest, f"/api/v1/markets/{self.symbol}/depth?limit=5000")
            for trade in await asyncio.to_thread(rest_trades_from, self.symbol,
                                                 self.last_trade_id + 1):
                self._take_trade(trade)
            self.bids = dict(snap["bids"])
            self.asks = dict(snap["asks"])
            self.last_update_id = snap["lastUpdateId"]
            first = True
            while not until(self):
                message = await recv_json(ws)
                data = message["data"]
                if message["stream"] == "trades":
                    self._take_trade(data)
                    continue
                assert message["stream"] == "depth"
                if data["u"] <= self.last_update_id:
                    continue  # already in the snapshot
                if first:
                    assert data["U"] <= self.last_update_id + 1 <= data["u"]
                    first = False
                else:
                    assert data["U"] == self.last_update_id + 1, "gap in depth diffs"
                self._apply(self.bids, data["bids"])
                self._apply(self.asks, data["asks"])
                self.last_update_id = data["u"]


def _publisher(matcher: SyntheticMatcher, stop: threading.Event, batches: int) -> None:
    try:
        for _ in range(batches):
            if stop.is_set():
                break
            matcher.step()
            time.sleep(0.002)
    finally:
        connection.close()


def test_depth_and_trades_follow_snapshot_plus_diffs_across_a_reconnect(server):
    # given a market with some history before the client arrives
    market = make_market()
    matcher = SyntheticMatcher(market=market, buyer=make_user(), seller=make_user(), seed=11)
    for _ in range(50):
        matcher.step()
    start_trade_id = Trade.objects.filter(market=market).order_by("id").first().id - 1
    stop = threading.Event()
    publisher = threading.Thread(target=_publisher, args=(matcher, stop, 600))

    # when a client follows while batches keep coming, and is cut off in the middle
    follower = DepthFollower(server, market.symbol, start_trade_id)

    async def scenario():
        publisher.start()
        received_before = 0

        def enough_for_now(f):
            return len(f.trades) >= received_before + 40

        await follower.session(until=enough_for_now)  # forced disconnect here
        await asyncio.sleep(0.3)  # batches keep flowing while the client is away
        await asyncio.to_thread(publisher.join)
        final = matcher.snapshot()["lastUpdateId"]
        last_id = await asyncio.to_thread(
            lambda: Trade.objects.filter(market=market).order_by("-id").first().id)
        await follower.session(until=lambda f: f.last_update_id >= final
                               and f.last_trade_id >= last_id)

    try:
        asyncio.run(scenario())
    finally:
        stop.set()
        publisher.join()

    # then the client's book is the REST snapshot and the engine's book
    snap = rest(f"/api/v1/markets/{market.symbol}/depth?limit=5000")
    assert follower.sessions == 2
    assert snap == {"market": market.symbol, **matcher.snapshot()}
    assert follower.last_update_id == snap["lastUpdateId"]
    assert sorted(follower.bids.items()) == sorted(map(tuple, snap["bids"]))
    assert sorted(follower.asks.items()) == sorted(map(tuple, snap["asks"]))
    # and the trades received are the trades table, exactly, in order
    table = list(Trade.objects.filter(market=market).order_by("id")
                 .values_list("id", "price", "quantity"))
    got = [(t["id"], t["price"], t["quantity"]) for t in follower.trades]
    assert [t[0] for t in got] == [t[0] for t in table]
    assert all(float(a[1]) == float(b[1]) and float(a[2]) == float(b[2])
               for a, b in zip(got, table, strict=True))


def test_depth_subscription_with_inline_snapshot(server):
    # given
    market = make_market()
    matcher = SyntheticMatcher(market=market, buyer=make_user(), seller=make_user())
    for _ in range(20):
        matcher.step(trades=0)

    async def scenario():
        async with connect(f"ws://{server}/ws/v1") as ws:
            assert (await subscribe(ws, [f"{market.symbol}@depth"], snapshot=True))["op"] \
                == "subscribed"
            snap = await recv_json(ws)
            await asyncio.to_thread(lambda: [matcher.step(trades=0) for _ in range(5)])
            diffs = [await recv_json(ws) for _ in range(5)]
            return snap, diffs

    snap, diffs = asyncio.run(scenario())
    assert snap["type"] == "snapshot"
    assert snap["data"]["lastUpdateId"] + 1 == diffs[0]["data"]["U"]
    bids, asks = dict(snap["data"]["bids"]), dict(snap["data"]["asks"])
    for d in diffs:
        for side, levels in ((bids, d["data"]["bids"]), (asks, d["data"]["asks"])):
            for p, q in levels:
                side.pop(p, None) if float(q) == 0 else side.__setitem__(p, q)
    assert sorted(bids.items()) == sorted(map(tuple, matcher.snapshot()["bids"]))
    assert sorted(asks.items()) == sorted(map(tuple, matcher.snapshot()["asks"]))


def _order_update(user_id: int, order_id: int, status: str) -> dict:
    return {"user_id": user_id, "order": {"id": order_id, "status": status}, "fill": None}


def test_private_stream_carries_only_the_users_own_updates(server):
    # given two users, one logged in by session cookie, the other by listen key
    market = make_market()
    alice, bob = make_user(), make_user()
    browser = Client()
    browser.force_login(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    bob_key = listen_key_create(user_id=bob.id)
    events = [("a", alice.id, 1), ("b", bob.id, 2), ("a", alice.id, 3), ("b", bob.id, 4)]

    async def scenario():
        async with connect(f"ws://{server}/ws/v1", additional_headers={"Cookie": cookie}) as a, \
                connect(f"ws://{server}/ws/v1?listenKey={bob_key}") as b:
            assert (await subscribe(a, ["private"]))["op"] == "subscribed"
            assert (await subscribe(b, ["private"]))["op"] == "subscribed"
            for _, user_id, order_id in events:
                await asyncio.to_thread(
                    publish_batch, market=market.symbol, trades=[], depth_update=None,
                    depth_snapshot={"lastUpdateId": 0, "bids": [], "asks": []},
                    order_updates=[_order_update(user_id, order_id, "NEW")],
                    balance_updates=[{"user_id": user_id, "asset": "USDT",
                                      "available": str(order_id), "locked": "0"}])
            got_a = [await recv_json(a) for _ in range(4)]
            got_b = [await recv_json(b) for _ in range(4)]
            with pytest.raises(TimeoutError):
                await recv_json(a, timeout=0.5)
            return got_a, got_b

    got_a, got_b = asyncio.run(scenario())
    assert [(m["type"], m["data"].get("order", {}).get("id") or m["data"]["available"])
            for m in got_a] == [("order", 1), ("balance", "1"), ("order", 3), ("balance", "3")]
    assert [(m["type"], m["data"].get("order", {}).get("id") or m["data"]["available"])
            for m in got_b] == [("order", 2), ("balance", "2"), ("order", 4), ("balance", "4")]
    assert all("user_id" not in m["data"] for m in got_a + got_b)


def test_unauthenticated_socket_cannot_join_private(server):
    async def scenario():
        async with connect(f"ws://{server}/ws/v1") as ws:
            refused = await subscribe(ws, ["private"])
            await ws.send(json.dumps({"op": "login", "listen_key": "nope"}))
            login = await recv_json(ws)
        with pytest.raises(ConnectionClosed) as closed:
            async with connect(f"ws://{server}/ws/v1?listenKey=forged") as ws:
                await recv_json(ws)
        return refused, login, closed.value.rcvd.code

    refused, login, code = asyncio.run(scenario())
    assert refused["code"] == "unauthorized"
    assert login["code"] == "invalid_listen_key"
    assert code == 4001


def test_origin_is_checked_for_browsers(server):
    async def scenario():
        with pytest.raises(InvalidStatus) as bad:
            async with connect(f"ws://{server}/ws/v1", origin="http://evil.example"):
                pass
        async with connect(f"ws://{server}/ws/v1", origin="http://127.0.0.1") as ws:
            await ws.send(json.dumps({"op": "ping", "id": 9}))
            pong = await recv_json(ws)
        return bad.value.response.status_code, pong

    status, pong = asyncio.run(scenario())
    assert status == 403
    assert pong["op"] == "pong" and pong["id"] == 9


def test_subscription_limit_and_bad_requests(server):
    market = make_market()

    async def scenario():
        async with connect(f"ws://{server}/ws/v1") as ws:
            too_many = await subscribe(ws, [f"{market.symbol}@{s}" for s in (
                "trades", "depth", "depth5", "depth10", "depth20", "ticker")])
            unknown = await subscribe(ws, ["NOPE-USDT@trades"])
            bad_stream = await subscribe(ws, [f"{market.symbol}@nonsense"])
            await ws.send("not json")
            malformed = await recv_json(ws)
            return too_many, unknown, bad_stream, malformed

    too_many, unknown, bad_stream, malformed = asyncio.run(scenario())
    assert too_many["code"] == "too_many_subscriptions"
    assert unknown["code"] == "unknown_market"
    assert bad_stream["code"] == "unknown_stream"
    assert malformed["code"] == "malformed"


def test_seed_trades_socket_all_markets_and_one(server):
    one, two = make_market(), make_market()
    m1 = SyntheticMatcher(market=one, buyer=make_user(), seller=make_user())
    m2 = SyntheticMatcher(market=two, buyer=make_user(), seller=make_user())
    for _ in range(5):  # make sure both books have asks to trade against
        m1.step(trades=0)
        m2.step(trades=0)
    while not (m1.asks and m2.asks):
        m1.step(trades=0)
        m2.step(trades=0)

    async def scenario():
        async with connect(f"ws://{server}/ws/trades") as every, \
                connect(f"ws://{server}/ws/trades?instrument={one.symbol}") as single:
            await asyncio.sleep(0.3)  # subscribed once connected
            a = await asyncio.to_thread(m1.step, trades=1)
            b = await asyncio.to_thread(m2.step, trades=1)
            got_every = [await recv_json(every) for _ in range(2)]
            got_single = [await recv_json(single)]
            with pytest.raises(TimeoutError):
                await recv_json(single, timeout=0.5)
            return a, b, got_every, got_single

    a, b, got_every, got_single = asyncio.run(scenario())
    assert [t["id"] for t in got_every] == [a["trades"][0]["id"], b["trades"][0]["id"]]
    assert got_single[0]["id"] == a["trades"][0]["id"]
    assert got_single[0]["instrument"] == one.symbol
    assert set(got_single[0]) >= {"id", "instrument", "price", "quantity", "timestamp"}


async def drain(ws) -> None:
    for _ in range(100_000):
        await asyncio.wait_for(ws.recv(), 15)


def test_slow_client_is_disconnected_with_4008(tiny_outbox_server):
    # given a client that subscribes and then stops reading
    market = make_market()
    wide = [[f"{1000 + i}.00", "1.5"] for i in range(300)]

    async def scenario():
        async with connect(f"ws://{tiny_outbox_server}/ws/v1", max_queue=1) as ws:
            assert (await subscribe(ws, [f"{market.symbol}@depth"]))["op"] == "subscribed"

            def flood():
                for i in range(1, 3001):
                    publish_batch(market=market.symbol, trades=[],
                                  depth_update={"U": i, "u": i, "bids": wide, "asks": []},
                                  depth_snapshot={"lastUpdateId": i, "bids": wide, "asks": []},
                                  order_updates=[], balance_updates=[])

            await asyncio.to_thread(flood)
            # when it reads again, it finds frames then the close code
            with pytest.raises(ConnectionClosed) as closed:
                await drain(ws)
            return closed.value.rcvd.code

    assert asyncio.run(scenario()) == 4008


def test_a_rebuilt_book_replaces_the_servers_copy(server):
    # given a process already following the market
    market = make_market()
    matcher = SyntheticMatcher(market=market, buyer=make_user(), seller=make_user())
    for _ in range(10):
        matcher.step(trades=0)
    rebuilt = {"lastUpdateId": matcher.update_id + 7, "bids": [["50.00", "1"]],
               "asks": [["60.00", "2"]]}

    async def scenario():
        async with connect(f"ws://{server}/ws/v1") as ws:
            assert (await subscribe(ws, [f"{market.symbol}@trades"]))["op"] == "subscribed"
            # when the matcher publishes a rebuilt book without a diff
            await asyncio.to_thread(
                publish_batch, market=market.symbol, trades=[], depth_update=None,
                depth_snapshot=rebuilt, order_updates=[], balance_updates=[])
            await asyncio.sleep(0.3)
            await ws.send(json.dumps({"op": "subscribe", "id": 2, "snapshot": True,
                                      "streams": [f"{market.symbol}@depth"]}))
            assert (await recv_json(ws))["op"] == "subscribed"
            return await recv_json(ws)

    # then a new depth subscriber gets the rebuilt book
    assert asyncio.run(scenario())["data"] == rebuilt


def test_a_socket_opened_with_a_listen_key_is_closed_when_the_key_is_gone(
        django_db_setup, django_db_blocker):
    # given a socket following its private stream by listen key, and one by session cookie
    from marketdata.listen_keys import listen_key_delete

    alice, bob = make_user(), make_user()
    browser = Client()
    browser.force_login(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    bob_key = listen_key_create(user_id=bob.id)

    async def scenario(host):
        async with connect(f"ws://{host}/ws/v1", additional_headers={"Cookie": cookie}) as a, \
                connect(f"ws://{host}/ws/v1?listenKey={bob_key}") as b:
            assert (await subscribe(a, ["private"]))["op"] == "subscribed"
            assert (await subscribe(b, ["private"]))["op"] == "subscribed"
            # when the key is deleted (as DELETE userDataStream does, or its TTL ends)
            await asyncio.to_thread(listen_key_delete, user_id=bob.id, listen_key=bob_key)
            with pytest.raises(ConnectionClosed) as closed:
                await recv_json(b, timeout=10)
            await a.send(json.dumps({"op": "ping", "id": 7}))
            pong = await recv_json(a)
        return closed.value.rcvd.code, pong

    with django_db_blocker.unblock(), asgi_server(extra_env={
            "MARKETDATA_LISTEN_KEY_CHECK_SECONDS": "0.2"}) as host:
        code, pong = asyncio.run(scenario(host))
    # then the key's socket is closed with the documented 4001; the session's stays open
    assert code == 4001
    assert pong["op"] == "pong"
