"""OpenAPI declarations of the public market-data endpoints of /api/v1 (drf-spectacular).
Schema only; each view function carries one ``@schemas.<NAME>`` decorator above its
``@api_view`` wrapper. Prices and quantities are decimal strings, times Unix ms."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers

from exchange.openapi import error_responses
from marketdata import selectors

TAG = "market data"
INTERVALS = list(selectors.INTERVALS)


class LevelField(serializers.ListField):
    """``[price, quantity]`` as two decimal strings."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(), min_length=2, max_length=2, **kwargs)


class MarketOut(serializers.Serializer):
    """What ``marketdata.api.views.MarketSerializer`` renders (decimals as strings)."""

    symbol = serializers.CharField(help_text="e.g. BTC-USDT")
    base = serializers.CharField()
    quote = serializers.CharField()
    status = serializers.CharField(help_text="TRADING, HALTED or CANCEL_ONLY.")
    tick_size = serializers.CharField()
    step_size = serializers.CharField()
    min_qty = serializers.CharField()
    max_qty = serializers.CharField()
    min_notional = serializers.CharField()
    price_band_pct = serializers.CharField()
    maker_fee = serializers.CharField()
    taker_fee = serializers.CharField()
    base_precision = serializers.IntegerField()
    quote_precision = serializers.IntegerField()


class DepthOut(serializers.Serializer):
    market = serializers.CharField()
    lastUpdateId = serializers.IntegerField(
        help_text="`u` of the last diff applied: sync `@depth` diffs from it.")
    bids = serializers.ListField(child=LevelField(), help_text="Best first.")
    asks = serializers.ListField(child=LevelField(), help_text="Best first.")


class PublicTradeOut(serializers.Serializer):
    id = serializers.IntegerField()
    market = serializers.CharField()
    price = serializers.CharField()
    quantity = serializers.CharField()
    quote_quantity = serializers.CharField()
    taker_side = serializers.ChoiceField(choices=["BUY", "SELL"])
    time = serializers.IntegerField()


class TradesOut(serializers.Serializer):
    results = PublicTradeOut(many=True, help_text="Oldest first.")
    next_from_id = serializers.IntegerField(
        allow_null=True, required=False,
        help_text="With `from_id` only: where the next page starts (null at the end).")


class CandleOut(serializers.Serializer):
    interval = serializers.CharField()
    open_time = serializers.IntegerField()
    close_time = serializers.IntegerField()
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField()
    quote_volume = serializers.CharField()
    trade_count = serializers.IntegerField()


class CandlesOut(serializers.Serializer):
    market = serializers.CharField()
    interval = serializers.CharField()
    results = CandleOut(many=True, help_text="Oldest first.")


class TickerOut(serializers.Serializer):
    market = serializers.CharField()
    open = serializers.CharField(allow_null=True)
    high = serializers.CharField(allow_null=True)
    low = serializers.CharField(allow_null=True)
    last = serializers.CharField(allow_null=True)
    volume = serializers.CharField()
    quote_volume = serializers.CharField()
    price_change = serializers.CharField()
    price_change_percent = serializers.CharField()
    trade_count = serializers.IntegerField()
    best_bid = LevelField(allow_null=True)
    best_ask = LevelField(allow_null=True)
    open_time = serializers.IntegerField()
    close_time = serializers.IntegerField()


class BookLevelOut(serializers.Serializer):
    price = serializers.CharField()
    quantity = serializers.CharField()


class OrderbookOut(serializers.Serializer):
    instrument = serializers.CharField()
    lastUpdateId = serializers.IntegerField()
    bids = BookLevelOut(many=True)
    asks = BookLevelOut(many=True)


def _example(name: str, value):
    return OpenApiExample(name, value=value, response_only=True, status_codes=["200"])


_MARKET = {"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "status": "TRADING",
           "tick_size": "0.01", "step_size": "0.0001", "min_qty": "0.0001", "max_qty": "1000",
           "min_notional": "10", "price_band_pct": "10", "maker_fee": "0.001",
           "taker_fee": "0.001", "base_precision": 8, "quote_precision": 6}
_TICKER = {"market": "BTC-USDT", "open": "59000.00", "high": "61000.00", "low": "58500.00",
           "last": "60000.00", "volume": "12.5000", "quote_volume": "747500.00",
           "price_change": "1000.00", "price_change_percent": "1.69", "trade_count": 420,
           "best_bid": ["59999.99", "0.5000"], "best_ask": ["60000.01", "0.2500"],
           "open_time": 1735700645000, "close_time": 1735787045000}
_LIMIT = "1-{}, default {}."
_PUBLIC = " Public: no authentication."
_ERRORS_404 = error_responses(400, 404, 429)


def _limit(maximum: int, default: int) -> OpenApiParameter:
    return OpenApiParameter("limit", int, description=_LIMIT.format(maximum, default))


MARKETS = extend_schema(
    operation_id="v1_markets_list", tags=[TAG], summary="Markets and their trading rules",
    description="Tick and step sizes, quantity bounds, minimum notional, price band and "
                "fees of every market." + _PUBLIC,
    responses={200: MarketOut(many=True), **error_responses(429)},
    examples=[_example("markets", [_MARKET])])

MARKET = extend_schema(
    tags=[TAG], summary="One market",
    description="Its trading rules; an unknown symbol is 404 `unknown_market`." + _PUBLIC,
    responses={200: MarketOut, **error_responses(404, 429)}, examples=[_example("market", _MARKET)])

DEPTH = extend_schema(
    tags=[TAG], summary="Order book snapshot",
    description="What the matcher last committed, with `lastUpdateId` for the diff-depth "
                "sync procedure." + _PUBLIC,
    parameters=[_limit(selectors.MAX_DEPTH_LIMIT, 100)],
    responses={200: DepthOut, **_ERRORS_404},
    examples=[_example("depth", {"market": "BTC-USDT", "lastUpdateId": 1027024,
                                 "bids": [["59999.99", "0.5000"]],
                                 "asks": [["60000.01", "0.2500"]]})])

TRADES = extend_schema(
    tags=[TAG], summary="Recent public trades",
    description="The newest `limit` trades, or from `from_id` upwards (with "
                "`next_from_id`)." + _PUBLIC,
    parameters=[_limit(selectors.MAX_TRADES_LIMIT, 500),
                OpenApiParameter("from_id", int, description="First trade id to return.")],
    responses={200: TradesOut, **_ERRORS_404},
    examples=[_example("trades", {"results": [
        {"id": 5001, "market": "BTC-USDT", "price": "60000.00", "quantity": "0.0100",
         "quote_quantity": "600.0000", "taker_side": "BUY", "time": 1735787045020}]})])

CANDLES = extend_schema(
    tags=[TAG], summary="Candles (OHLCV)",
    description="1-minute candles from committed fills; longer intervals aggregated from "
                "them (UTC). `start`/`end` bound the open times (inclusive)." + _PUBLIC,
    parameters=[OpenApiParameter("interval", str, enum=INTERVALS, description="Default 1m."),
                OpenApiParameter("start", int, description="Unix ms."),
                OpenApiParameter("end", int, description="Unix ms."),
                _limit(selectors.MAX_CANDLES_LIMIT, 500)],
    responses={200: CandlesOut, **_ERRORS_404},
    examples=[_example("candles", {"market": "BTC-USDT", "interval": "1m", "results": [
        {"interval": "1m", "open_time": 1735787040000, "close_time": 1735787099999,
         "open": "60000.00", "high": "60010.00", "low": "59990.00", "close": "60005.00",
         "volume": "0.5000", "quote_volume": "30001.00", "trade_count": 12}]})])

TICKER = extend_schema(
    tags=[TAG], summary="24-hour ticker of one market",
    description="Rolling 24 h statistics (minute granularity) plus best bid and ask; "
                "`open`/`last` are null before the first trade of the window." + _PUBLIC,
    responses={200: TickerOut, **error_responses(404, 429)},
    examples=[_example("ticker", _TICKER)])

TICKERS = extend_schema(
    tags=[TAG], summary="24-hour tickers of every market", description=_PUBLIC.strip(),
    responses={200: TickerOut(many=True), **error_responses(429)},
    examples=[_example("tickers", [_TICKER])])

ORDERBOOK = extend_schema(
    tags=[TAG], summary="Order book (TradeOrders reference shape)",
    description="`GET /api/v1/orderbook?instrument=BTC-USDT`: levels as objects." + _PUBLIC,
    parameters=[OpenApiParameter("instrument", str, required=True, description="BTC-USDT"),
                _limit(selectors.MAX_DEPTH_LIMIT, 100)],
    responses={200: OrderbookOut, **_ERRORS_404},
    examples=[_example("book", {"instrument": "BTC-USDT", "lastUpdateId": 1027024,
                                "bids": [{"price": "59999.99", "quantity": "0.5000"}],
                                "asks": [{"price": "60000.01", "quantity": "0.2500"}]})])
