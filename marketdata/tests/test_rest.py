from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketdata import selectors
from marketdata.models import Candle
from marketdata.tests.support import SyntheticMatcher, make_market, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.urls("marketdata.tests.urls")]


@pytest.fixture
def market():
    return make_market()


@pytest.fixture
def matcher(market):
    return SyntheticMatcher(market=market, buyer=make_user(), seller=make_user())


def test_markets_list_and_rules(client, market):
    body = client.get("/api/v1/markets").json()
    row = next(m for m in body if m["symbol"] == market.symbol)
    assert row["tick_size"] == "0.010000000000000000"
    assert {"base", "quote", "step_size", "min_qty", "max_qty", "min_notional", "status",
            "base_precision", "quote_precision"} <= set(row)
    assert client.get(f"/api/v1/markets/{market.symbol}").json()["symbol"] == market.symbol
    missing = client.get("/api/v1/markets/NOPE-USDT")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_market"


def test_depth_is_the_published_snapshot(client, matcher, market):
    # given
    for _ in range(20):
        matcher.step(trades=0)
    # when
    body = client.get(f"/api/v1/markets/{market.symbol}/depth?limit=3").json()
    # then
    snap = matcher.snapshot()
    assert body["lastUpdateId"] == snap["lastUpdateId"]
    assert body["bids"] == snap["bids"][:3]
    assert body["asks"] == snap["asks"][:3]
    ref = client.get(f"/api/v1/orderbook?instrument={market.symbol}").json()
    assert ref["instrument"] == market.symbol
    assert ref["bids"][0] == {"price": snap["bids"][0][0], "quantity": snap["bids"][0][1]}
    assert client.get("/api/v1/orderbook").status_code == 400


def test_depth_of_a_market_never_published_is_empty(client, market):
    body = client.get(f"/api/v1/markets/{market.symbol}/depth").json()
    assert body == {"market": market.symbol, "lastUpdateId": 0, "bids": [], "asks": []}


def test_depth_limit_is_validated(client, market):
    response = client.get(f"/api/v1/markets/{market.symbol}/depth?limit=abc")
    assert response.status_code == 400
    assert response.json()["fields"]["limit"]["code"] == "invalid"


def test_recent_and_paginated_trades(client, matcher, market):
    # given
    ids = []
    for _ in range(30):
        ids += [t["id"] for t in matcher.step(trades=1)["trades"]]
    # when
    recent = client.get(f"/api/v1/markets/{market.symbol}/trades?limit=5").json()["results"]
    pages, from_id = [], ids[0]
    while from_id is not None:
        body = client.get(f"/api/v1/markets/{market.symbol}/trades?from_id={from_id}&limit=7"
                          ).json()
        pages += [t["id"] for t in body["results"]]
        from_id = body["next_from_id"]
    # then
    assert [t["id"] for t in recent] == ids[-5:]
    assert set(recent[0]) == {"id", "market", "price", "quantity", "quote_quantity",
                              "taker_side", "time"}
    assert pages == ids


def _candle(market, minute, o, h, lo, c, v):
    Candle.objects.create(market=market, open_time=minute, open=Decimal(o), high=Decimal(h),
                          low=Decimal(lo), close=Decimal(c), volume=Decimal(v),
                          quote_volume=Decimal(v) * Decimal(c), trade_count=1)


def test_candles_aggregate_from_one_minute_rows(client, market):
    # given: 1m candles over 10:00-10:14 and 11:00
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    for i in range(15):
        _candle(market, t0 + timedelta(minutes=i), 100 + i, 101 + i, 99 + i, 100.5 + i, 1)
    _candle(market, t0 + timedelta(hours=1), 50, 500, 5, 60, 2)
    # when
    five = selectors.candles(market=market, interval="5m", start=t0)
    hour = selectors.candles(market=market, interval="1h", start=t0)
    day = selectors.candles(market=market, interval="1d", start=t0)
    # then
    assert [c["open_time"] for c in five] == [int((t0 + timedelta(minutes=m)).timestamp() * 1000)
                                              for m in (0, 5, 10)] + [
        int((t0 + timedelta(hours=1)).timestamp() * 1000)]
    assert (Decimal(five[1]["open"]), Decimal(five[1]["high"]), Decimal(five[1]["low"]),
            Decimal(five[1]["close"]), Decimal(five[1]["volume"])) == (
        105, 110, 104, Decimal("109.5"), 5)
    assert five[0]["close_time"] - five[0]["open_time"] == 300_000 - 1
    assert len(hour) == 2
    assert Decimal(hour[0]["high"]) == 115 and Decimal(hour[0]["close"]) == Decimal("114.5")
    assert hour[0]["trade_count"] == 15
    assert len(day) == 1 and Decimal(day[0]["high"]) == 500 and Decimal(day[0]["low"]) == 5
    assert Decimal(day[0]["volume"]) == 17
    # newest-limit mode and REST
    body = client.get(f"/api/v1/markets/{market.symbol}/candles?interval=15m&limit=1").json()
    assert [Decimal(c["open"]) for c in body["results"]] == [50]
    bad = client.get(f"/api/v1/markets/{market.symbol}/candles?interval=7m")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_interval"


def test_ticker_24h(client, matcher, market):
    # given
    now = datetime.now(tz=UTC).replace(second=30, microsecond=0)
    _candle(market, now.replace(second=0) - timedelta(hours=25), 1, 1000, 1, 1, 100)  # outside
    _candle(market, now.replace(second=0) - timedelta(hours=2), 100, 120, 90, 110, 3)
    _candle(market, now.replace(second=0) - timedelta(minutes=1), 110, 130, 105, 125, 2)
    while not (matcher.bids and matcher.asks):
        matcher.step(trades=0)
    # when
    ticker = selectors.ticker_24h(market=market, now=now)
    # then
    assert Decimal(ticker["open"]) == 100 and Decimal(ticker["last"]) == 125
    assert Decimal(ticker["high"]) == 130 and Decimal(ticker["low"]) == 90
    assert Decimal(ticker["volume"]) == 5
    assert ticker["price_change_percent"] == "25.00"
    assert ticker["best_bid"] == matcher.snapshot()["bids"][0]
    assert ticker["best_ask"] == matcher.snapshot()["asks"][0]
    all_tickers = client.get("/api/v1/tickers").json()
    assert market.symbol in {t["market"] for t in all_tickers}
    assert client.get(f"/api/v1/markets/{market.symbol}/ticker").status_code == 200
