"""Real, unmodified third-party Binance clients against a running Bourse: only their base
URL changes. python-binance, binance-connector and ccxt each load markets, read depth,
trades and klines, place, query and cancel orders, read balances and own trades; the
user-data stream is followed with binance-connector's WebSocket client."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest

pytestmark = [pytest.mark.slow]


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_python_binance(bourse):
    from binance.client import Client

    def client(trader):
        c = Client(trader.key, trader.secret, ping=False)
        c.API_URL = f"{bourse.base_url}/api"
        return c

    alice, bob = client(bourse.alice), client(bourse.bob)
    # markets and public data
    alice.ping()
    info = alice.get_symbol_info(bourse.symbol)
    assert info["status"] == "TRADING"
    assert {f["filterType"] for f in info["filters"]} >= {"PRICE_FILTER", "LOT_SIZE"}
    # bob rests a sell; alice takes it with a market buy and gets the fills (FULL)
    sell = bob.create_order(symbol=bourse.symbol, side="SELL", type="LIMIT",
                            timeInForce="GTC", quantity="1.000", price="100.00")
    assert sell["status"] in ("NEW", "PARTIALLY_FILLED")
    book = _wait(lambda: alice.get_order_book(symbol=bourse.symbol)["asks"])
    assert book[0][0] == "100.00000000"
    buy = alice.order_market_buy(symbol=bourse.symbol, quantity="0.400")
    assert buy["status"] == "FILLED", buy
    assert buy["fills"] and Decimal(buy["fills"][0]["qty"]) == Decimal("0.4")
    trades = _wait(lambda: alice.get_recent_trades(symbol=bourse.symbol))
    assert Decimal(trades[-1]["price"]) == Decimal("100")
    klines = _wait(lambda: alice.get_klines(symbol=bourse.symbol,
                                            interval=Client.KLINE_INTERVAL_1MINUTE))
    assert Decimal(klines[-1][5]) >= Decimal("0.4")
    mine = alice.get_my_trades(symbol=bourse.symbol)
    assert mine[0]["isBuyer"] is True and mine[0]["isMaker"] is False
    balance = alice.get_asset_balance(asset=bourse.market.base.symbol)
    assert Decimal(balance["free"]) > Decimal("50")
    # query and cancel what is left of bob's order
    status = bob.get_order(symbol=bourse.symbol, orderId=sell["orderId"])
    assert status["status"] == "PARTIALLY_FILLED"
    cancelled = bob.cancel_order(symbol=bourse.symbol, orderId=sell["orderId"])
    assert cancelled["status"] == "CANCELED"
    assert bob.get_open_orders(symbol=bourse.symbol) == []
    assert alice.stream_get_listen_key()


def test_binance_connector_and_user_stream(bourse):
    from binance.spot import Spot
    from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

    alice = Spot(api_key=bourse.alice.key, api_secret=bourse.alice.secret,
                 base_url=bourse.base_url)
    bob = Spot(api_key=bourse.bob.key, api_secret=bourse.bob.secret, base_url=bourse.base_url)
    assert alice.exchange_info(symbol=bourse.symbol)["symbols"][0]["symbol"] == bourse.symbol
    listen_key = alice.new_listen_key()["listenKey"]
    events: list[dict] = []
    got = threading.Event()

    def on_message(_, message):
        data = json.loads(message)
        if isinstance(data, dict) and data.get("e"):
            events.append(data)
            got.set()

    stream = SpotWebsocketStreamClient(stream_url=bourse.ws_url, on_message=on_message)
    try:
        stream.user_data(listen_key=listen_key, id=1)
        time.sleep(0.5)
        order = alice.new_order(symbol=bourse.symbol, side="BUY", type="LIMIT",
                                timeInForce="GTC", quantity="0.500", price="99.00")
        assert alice.get_order(bourse.symbol, orderId=order["orderId"])["side"] == "BUY"
        bob.new_order(symbol=bourse.symbol, side="SELL", type="LIMIT", timeInForce="IOC",
                      quantity="0.200", price="99.00", newOrderRespType="RESULT")
        assert _wait(lambda: any(e["e"] == "executionReport" and e["x"] == "TRADE"
                                 for e in events))
        assert any(e["e"] == "outboundAccountPosition" for e in events)
        depth = alice.depth(bourse.symbol, limit=5)
        assert depth["bids"][0] == ["99.00000000", "0.30000000"]
        assert alice.trades(bourse.symbol)[-1]["qty"] == "0.20000000"
        assert alice.klines(bourse.symbol, "1m")
        assert alice.my_trades(bourse.symbol)[0]["isMaker"] is True
        cancelled = alice.cancel_order(bourse.symbol, orderId=order["orderId"])
        assert cancelled["status"] == "CANCELED"
        assert _wait(lambda: any(e["e"] == "executionReport" and e["X"] == "CANCELED"
                                 for e in events))
        balances = {b["asset"]: b for b in alice.account()["balances"]}
        assert Decimal(balances[bourse.market.quote.symbol]["locked"]) == 0
        alice.renew_listen_key(listen_key)
        alice.close_listen_key(listen_key)
    finally:
        stream.stop()


def test_ccxt(bourse):
    import ccxt

    def exchange(trader):
        ex = ccxt.binance({"apiKey": trader.key, "secret": trader.secret,
                           "options": {"fetchMarkets": ["spot"], "fetchCurrencies": False,
                                       "fetchMargins": False, "defaultType": "spot"}})
        api = f"{bourse.base_url}/api/v3"
        ex.urls["api"] = {**ex.urls["api"], "public": api, "private": api}
        return ex

    alice, bob = exchange(bourse.alice), exchange(bourse.bob)
    markets = alice.load_markets()
    pair = f"{bourse.market.base.symbol}/{bourse.market.quote.symbol}"
    assert pair in markets and markets[pair]["active"]
    resting = bob.create_limit_sell_order(pair, 1, 101)
    assert resting["status"] == "open"
    book = _wait(lambda: alice.fetch_order_book(pair)["asks"])
    assert book[0] == [101.0, 1.0]
    taken = alice.create_market_buy_order(pair, 0.25)
    assert taken["status"] == "closed" and taken["filled"] == 0.25
    assert _wait(lambda: alice.fetch_trades(pair))[-1]["price"] == 101.0
    assert alice.fetch_ohlcv(pair, "1m")
    assert alice.fetch_my_trades(pair)[-1]["side"] == "buy"
    fetched = bob.fetch_order(resting["id"], pair)
    assert fetched["filled"] == 0.25
    bob.cancel_order(resting["id"], pair)
    assert _wait(lambda: bob.fetch_order(resting["id"], pair)["status"] == "canceled")
    balance = alice.fetch_balance()
    assert balance[bourse.market.base.symbol]["free"] > 50
