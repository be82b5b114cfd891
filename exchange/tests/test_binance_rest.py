"""/api/v3 in-process: Binance shapes, error codes, parameters from query or form body,
signed requests, and that a rejected request changes nothing."""

import hashlib
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.crypto import secret_encrypt
from accounts.models import ApiKey, User
from accounts.signing import signed_query
from exchange.demo import seed_demo
from orders.models import Order
from wallets.models import Balance

SECRET = "s" * 64


@pytest.fixture
def seeded(db):
    seed_demo()


def make_key(email: str, scopes=("read", "trade"), key: str = "") -> ApiKey:
    user = User.objects.get(email=email)
    return ApiKey.objects.create(user=user, name="test", key=key or _key_for(email),
                                 secret_encrypted=secret_encrypt(SECRET), scopes=list(scopes))


def _key_for(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


@pytest.fixture
def alice_key(seeded):
    return make_key("alice@bourse.local")


@pytest.fixture
def client():
    return APIClient()


def signed(client, method, path, key, params=None, *, body=False):
    query = signed_query(SECRET, params or {})
    headers = {"HTTP_X_MBX_APIKEY": key.key}
    call = getattr(client, method)
    if body:
        return call(f"/api/v3/{path}", data=query,
                    content_type="application/x-www-form-urlencoded", **headers)
    return call(f"/api/v3/{path}?{query}", **headers)


def snapshot(email):
    user = User.objects.get(email=email)
    return (sorted((b.asset_id, b.available, b.locked) for b in Balance.objects.filter(user=user)),
            Order.objects.filter(user=user).count())


def test_ping_time_and_weight_header(client, seeded):
    # when
    ping = client.get("/api/v3/ping")
    server_time = client.get("/api/v3/time")
    # then
    assert ping.status_code == 200 and ping.json() == {}
    assert isinstance(server_time.json()["serverTime"], int)
    assert int(ping["X-MBX-USED-WEIGHT-1M"]) >= 1


def test_exchange_info_symbols_and_filters(client, seeded):
    body = client.get("/api/v3/exchangeInfo").json()
    symbols = {s["symbol"]: s for s in body["symbols"]}
    assert set(symbols) >= {"BTCUSDT", "ETHUSDT", "ETHBTC"}
    btc = symbols["BTCUSDT"]
    assert btc["status"] == "TRADING" and btc["baseAsset"] == "BTC" and btc["quoteAsset"] == "USDT"
    assert btc["baseAssetPrecision"] == 8
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["MARKET_LOT_SIZE"]["minQty"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert filters["MIN_NOTIONAL"]["minNotional"] == "5.00000000"
    assert "bidMultiplierUp" in filters["PERCENT_PRICE_BY_SIDE"]
    one = client.get("/api/v3/exchangeInfo", {"symbols": '["ETHBTC"]'}).json()
    assert [s["symbol"] for s in one["symbols"]] == ["ETHBTC"]


@pytest.mark.parametrize("path", ["depth", "trades", "aggTrades", "avgPrice", "klines"])
def test_unknown_symbol_is_1121(client, seeded, path):
    response = client.get(f"/api/v3/{path}", {"symbol": "DOGEUSDT", "interval": "1m"})
    assert response.status_code == 400
    assert response.json() == {"code": -1121, "msg": "Invalid symbol."}


def test_missing_symbol_and_bad_interval(client, seeded):
    assert client.get("/api/v3/depth").json()["code"] == -1102
    assert client.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "7m"}).json()[
        "code"] == -1120
    assert client.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "x"}).json()[
        "code"] == -1100


def test_market_data_empty_book(client, seeded):
    depth = client.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5}).json()
    assert set(depth) == {"lastUpdateId", "bids", "asks"}
    assert client.get("/api/v3/trades", {"symbol": "BTCUSDT"}).json() == []
    assert client.get("/api/v3/aggTrades", {"symbol": "BTCUSDT"}).json() == []
    assert client.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m"}).json() == []
    avg = client.get("/api/v3/avgPrice", {"symbol": "BTCUSDT"}).json()
    assert avg["mins"] == 5 and Decimal(avg["price"]) == Decimal("60000")
    ticker = client.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}).json()
    assert ticker["symbol"] == "BTCUSDT" and ticker["count"] == 0
    assert len(client.get("/api/v3/ticker/price").json()) >= 3
    book = client.get("/api/v3/ticker/bookTicker", {"symbol": "ETHBTC"}).json()
    assert book["symbol"] == "ETHBTC"


def test_signed_account(client, alice_key):
    response = signed(client, "get", "account", alice_key)
    assert response.status_code == 200, response.json()
    balances = {b["asset"]: b for b in response.json()["balances"]}
    assert Decimal(balances["USDT"]["free"]) == Decimal("100000")
    assert response.json()["canTrade"] is True


def test_bad_signature_and_unknown_key(client, alice_key):
    query = signed_query("wrong" * 10, {})
    response = client.get(f"/api/v3/account?{query}", HTTP_X_MBX_APIKEY=alice_key.key)
    assert response.status_code == 400 and response.json()["code"] == -1022
    query = signed_query(SECRET, {}, timestamp_ms=1)
    response = client.get(f"/api/v3/account?{query}", HTTP_X_MBX_APIKEY=alice_key.key)
    assert response.json()["code"] == -1021
    response = client.get(f"/api/v3/account?{query}", HTTP_X_MBX_APIKEY="Z" * 64)
    assert response.status_code == 401 and response.json()["code"] == -2015


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("body", [False, True])
def test_place_query_cancel_order(client, body):
    seed_demo()
    key = make_key("alice@bourse.local")
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.01000", "price": "50000.00", "newOrderRespType": "ACK",
              "newClientOrderId": "my-order-1"}
    placed = signed(client, "post", "order", key, params, body=body)
    assert placed.status_code == 200, placed.json()
    assert placed.json()["clientOrderId"] == "my-order-1"
    assert "X-MBX-ORDER-COUNT-10S" in placed
    order_id = placed.json()["orderId"]
    got = signed(client, "get", "order", key, {"symbol": "BTCUSDT", "orderId": order_id})
    assert got.json()["status"] == "NEW" and got.json()["price"] == "50000.00000000"
    open_orders = signed(client, "get", "openOrders", key, {"symbol": "BTCUSDT"}).json()
    assert [o["orderId"] for o in open_orders] == [order_id]
    cancelled = signed(client, "delete", "order", key, {"symbol": "BTCUSDT", "orderId": order_id})
    assert cancelled.status_code == 200, cancelled.json()
    assert cancelled.json()["orderId"] == order_id
    assert signed(client, "get", "allOrders", key, {"symbol": "BTCUSDT"}).json()[0][
        "orderId"] == order_id


@pytest.mark.parametrize(("params", "code"), [
    ({"quantity": "0.000001"}, -1013),        # not a multiple of the step
    ({"price": "50000.001"}, -1013),          # not a multiple of the tick
    ({"quantity": "1e-2"}, -1100),
    ({"quantity": "-0.01"}, -1100),
    ({"quantity": "NaN"}, -1100),
    ({"price": "Infinity"}, -1100),
    ({"quantity": "100"}, -2010),             # insufficient balance
    ({"side": "UP"}, -1117),
    ({"type": "ICEBERG"}, -1116),
    ({"timeInForce": "DAY"}, -1115),
    ({"symbol": "NOPE"}, -1121),
])
def test_order_rejections_change_nothing(client, alice_key, params, code):
    before = snapshot("alice@bourse.local")
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01", "price": "50000"}
    response = signed(client, "post", "order", alice_key, {**base, **params})
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "msg"}
    assert snapshot("alice@bourse.local") == before


def test_read_only_key_cannot_trade(client, seeded):
    key = make_key("bob@bourse.local", scopes=("read",))
    response = signed(client, "post", "order", key, {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01", "price": "50000"})
    assert response.status_code == 401 and response.json()["code"] == -2015


def test_order_test_places_nothing(client, alice_key):
    before = snapshot("alice@bourse.local")
    response = signed(client, "post", "order/test", alice_key, {
        "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01", "price": "61000"})
    assert response.status_code == 200 and response.json() == {}
    assert snapshot("alice@bourse.local") == before


def test_unknown_order_codes(client, alice_key):
    got = signed(client, "get", "order", alice_key, {"symbol": "BTCUSDT", "orderId": 999999})
    assert got.json() == {"code": -2013, "msg": "Order does not exist."}
    cancel = signed(client, "delete", "order", alice_key, {"symbol": "BTCUSDT", "orderId": 999999})
    assert cancel.json() == {"code": -2011, "msg": "Unknown order sent."}
    limits = signed(client, "get", "rateLimit/order", alice_key).json()
    assert {row["interval"] for row in limits} == {"SECOND", "DAY"}
    assert signed(client, "get", "myTrades", alice_key, {"symbol": "BTCUSDT"}).json() == []
