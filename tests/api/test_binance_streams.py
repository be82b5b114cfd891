"""Binance market streams end to end: a real uvicorn process (exchange.asgi), batches
published after commit through ``marketdata.publishing.publish_batch`` (the synthetic
matcher commits trades and candles first, as the matcher does), and a real WebSocket
client (``websockets``) reading Binance's stream names and payloads."""

from __future__ import annotations

import json
import time
import urllib.request
from decimal import Decimal

import pytest
from websockets.sync.client import connect

from marketdata.tests.support import SyntheticMatcher, asgi_server, make_market, make_user


@pytest.fixture
def feed(transactional_db):
    market = make_market()
    matcher = SyntheticMatcher(market=market, buyer=make_user(), seller=make_user())
    while not (matcher.bids and matcher.asks):  # a book with both sides, so trades happen
        matcher.step(trades=0)
    with asgi_server() as host:
        yield host, market.binance_symbol, matcher


def recv(ws, timeout: float = 10.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws, predicate, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = recv(ws, max(0.1, deadline - time.monotonic()))
        if predicate(frame):
            return frame


def book(levels) -> dict[Decimal, Decimal]:
    return {Decimal(p): Decimal(q) for p, q in levels}


def test_trade_stream(feed):
    host, symbol, matcher = feed
    with connect(f"ws://{host}/ws/{symbol.lower()}@trade") as ws:
        time.sleep(0.3)  # the subscription reaches the hub
        trade = matcher.step(trades=1)["trades"][0]
        frame = recv(ws)
    assert frame["e"] == "trade" and frame["s"] == symbol
    assert frame["t"] == trade["id"]
    assert Decimal(frame["p"]) == Decimal(trade["price"])
    assert Decimal(frame["q"]) == Decimal(trade["quantity"])
    assert frame["m"] is False  # the taker bought: the buyer is not the maker


def test_diff_depth_syncs_with_the_rest_snapshot(feed):
    """Binance's procedure: buffer the stream, get /api/v3/depth, drop events with
    u <= lastUpdateId, the first kept has U <= lastUpdateId + 1 <= u, then each U is the
    previous u + 1; the local book then equals the published one."""
    host, symbol, matcher = feed
    with connect(f"ws://{host}/ws/{symbol.lower()}@depth") as ws:
        time.sleep(0.3)
        for _ in range(5):
            matcher.step()
        url = f"http://{host}/api/v3/depth?symbol={symbol}&limit=5000"
        with urllib.request.urlopen(url, timeout=10) as response:
            snapshot = json.load(response)
        for _ in range(10):
            matcher.step()
        final_id = matcher.update_id
        events = []
        while not events or events[-1]["u"] < final_id:
            events.append(recv(ws))
    assert all(e["e"] == "depthUpdate" and e["s"] == symbol for e in events)
    last = snapshot["lastUpdateId"]
    kept = [e for e in events if e["u"] > last]
    assert kept[0]["U"] <= last + 1 <= kept[0]["u"]
    bids, asks = book(snapshot["bids"]), book(snapshot["asks"])
    previous = None
    for event in kept:
        if previous is not None:
            assert event["U"] == previous + 1
        previous = event["u"]
        for side, levels in ((bids, event["b"]), (asks, event["a"])):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(qty)
    expected = matcher.snapshot()
    assert bids == book(expected["bids"]) and asks == book(expected["asks"])


def test_partial_depth_stream(feed):
    host, symbol, matcher = feed
    for _ in range(8):
        matcher.step(trades=0)
    with connect(f"ws://{host}/ws/{symbol.lower()}@depth5") as ws:
        time.sleep(0.3)
        matcher.step(trades=0)
        target = matcher.update_id
        frame = recv_until(ws, lambda f: f["lastUpdateId"] >= target)
    expected = matcher.snapshot()
    assert len(frame["bids"]) <= 5 and len(frame["asks"]) <= 5
    assert [[Decimal(p), Decimal(q)] for p, q in frame["bids"]] == \
        [[Decimal(p), Decimal(q)] for p, q in expected["bids"][:5]]
    assert [[Decimal(p), Decimal(q)] for p, q in frame["asks"]] == \
        [[Decimal(p), Decimal(q)] for p, q in expected["asks"][:5]]


def test_kline_stream(feed):
    host, symbol, matcher = feed
    with connect(f"ws://{host}/ws/{symbol.lower()}@kline_1m") as ws:
        time.sleep(0.3)
        trade = matcher.step(trades=1)["trades"][0]
        frame = recv(ws)
    assert frame["e"] == "kline" and frame["s"] == symbol
    k = frame["k"]
    assert k["i"] == "1m" and k["s"] == symbol and k["T"] == k["t"] + 60_000 - 1
    assert k["t"] <= trade["time"] <= k["T"]
    assert Decimal(k["c"]) == Decimal(trade["price"]) and k["n"] >= 1
    assert k["x"] is False


def test_ticker_and_book_ticker_streams(feed):
    host, symbol, matcher = feed
    name = symbol.lower()
    with connect(f"ws://{host}/ws/{name}@ticker") as ticker_ws, \
            connect(f"ws://{host}/ws/{name}@bookTicker") as book_ws:
        time.sleep(0.3)
        trade = matcher.step(trades=1)["trades"][0]
        book_frame = recv(book_ws)
        ticker = recv_until(ticker_ws, lambda f: f["n"] >= 1)
    expected = matcher.snapshot()
    assert book_frame["s"] == symbol and book_frame["u"] == matcher.update_id
    assert [Decimal(book_frame["b"]), Decimal(book_frame["B"])] == \
        [Decimal(x) for x in expected["bids"][0]]
    assert [Decimal(book_frame["a"]), Decimal(book_frame["A"])] == \
        [Decimal(x) for x in expected["asks"][0]]
    assert ticker["e"] == "24hrTicker" and ticker["s"] == symbol
    assert Decimal(ticker["c"]) == Decimal(trade["price"])


def test_combined_stream_envelope(feed):
    host, symbol, matcher = feed
    name = symbol.lower()
    with connect(f"ws://{host}/stream?streams={name}@trade/{name}@depth") as ws:
        time.sleep(0.3)
        matcher.step(trades=1)
        frames = [recv(ws), recv(ws)]
    by_stream = {f["stream"]: f["data"] for f in frames}
    assert set(by_stream) == {f"{name}@trade", f"{name}@depth"}
    assert by_stream[f"{name}@trade"]["e"] == "trade"
    assert by_stream[f"{name}@depth"]["e"] == "depthUpdate"


def test_live_subscribe_unsubscribe_and_list(feed):
    host, symbol, matcher = feed
    stream = f"{symbol.lower()}@trade"
    with connect(f"ws://{host}/ws") as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": [stream], "id": 1}))
        assert recv(ws) == {"result": None, "id": 1}
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert recv(ws) == {"result": [stream], "id": 2}
        trade = matcher.step(trades=1)["trades"][0]
        assert recv(ws)["t"] == trade["id"]
        ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": [stream], "id": 3}))
        assert recv(ws) == {"result": None, "id": 3}
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 4}))
        assert recv(ws) == {"result": [], "id": 4}
        matcher.step(trades=1)
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["nosuch@trade"], "id": 5}))
        # no trade frame arrives after UNSUBSCRIBE: the next frame is the error reply
        assert recv(ws) == {"error": {"code": 2, "msg": "Invalid stream 'nosuch@trade'"},
                            "id": 5}
        ws.send("not json")
        assert recv(ws) == {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}


def test_user_data_stream_says_listen_key_expired_and_stops(transactional_db):
    from marketdata.listen_keys import listen_key_create, listen_key_delete

    user = make_user()
    key = listen_key_create(user_id=user.id)
    with asgi_server(extra_env={"MARKETDATA_LISTEN_KEY_CHECK_SECONDS": "0.2"}) as host, \
            connect(f"ws://{host}/stream?streams={key}") as ws:
        time.sleep(0.3)  # the subscription reaches the hub
        listen_key_delete(user_id=user.id, listen_key=key)
        frame = recv(ws)
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
        listed = recv(ws)
    assert frame["stream"] == key
    assert frame["data"]["e"] == "listenKeyExpired" and frame["data"]["listenKey"] == key
    assert listed == {"result": [], "id": 3}
