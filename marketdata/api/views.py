"""Public market-data endpoints of /api/v1 (no authentication). Thin: parse, call one
selector, render."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from exchange.api import ServiceError
from marketdata import selectors
from marketdata.api import schemas
from marketdata.models import Market


def _int_param(request: Request, name: str, default: int | None, *, minimum: int = 0,
               maximum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServiceError("invalid", f"'{name}' must be an integer.",
                           fields={name: {"code": "invalid", "message": "Not an integer."}}
                           ) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ServiceError("invalid", f"'{name}' is out of range.",
                           fields={name: {"code": "out_of_range",
                                          "message": f"Between {minimum} and {maximum}."}})
    return value


def _time_param(request: Request, name: str) -> datetime | None:
    ms = _int_param(request, name, None, maximum=253402300799999)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class MarketSerializer(serializers.ModelSerializer):
    base = serializers.CharField(source="base.symbol")
    quote = serializers.CharField(source="quote.symbol")
    base_precision = serializers.IntegerField(source="base.precision")
    quote_precision = serializers.IntegerField(source="quote.precision")

    class Meta:
        model = Market
        fields = ["symbol", "base", "quote", "status", "tick_size", "step_size", "min_qty",
                  "max_qty", "min_notional", "price_band_pct", "maker_fee", "taker_fee",
                  "base_precision", "quote_precision"]


def _public(view):
    return api_view(["GET"])(authentication_classes([])(permission_classes([AllowAny])(view)))


@schemas.MARKETS
@_public
def markets(request: Request) -> Response:
    """Every market with its trading rules."""
    return Response(MarketSerializer(selectors.markets_list(), many=True).data)


@schemas.MARKET
@_public
def market_detail(request: Request, symbol: str) -> Response:
    return Response(MarketSerializer(selectors.market_get(symbol=symbol)).data)


@schemas.DEPTH
@_public
def depth(request: Request, symbol: str) -> Response:
    """Committed depth with ``lastUpdateId`` (Binance sync procedure), ``limit`` levels."""
    market = selectors.market_get(symbol=symbol)
    limit = _int_param(request, "limit", 100, minimum=1, maximum=selectors.MAX_DEPTH_LIMIT)
    return Response({"market": market.symbol,
                     **selectors.depth_snapshot(market=market.symbol, limit=limit)})


@schemas.TRADES
@_public
def trades(request: Request, symbol: str) -> Response:
    """Newest trades (``limit``), or from ``from_id`` upwards with ``next_from_id``."""
    market = selectors.market_get(symbol=symbol)
    limit = _int_param(request, "limit", 500, minimum=1, maximum=selectors.MAX_TRADES_LIMIT)
    from_id = _int_param(request, "from_id", None, minimum=0)
    if from_id is None:
        rows = selectors.trades_recent(market=market, limit=limit)
        return Response({"results": [selectors.trade_public(t) for t in rows]})
    rows = selectors.trades_from(market=market, from_id=from_id, limit=limit)
    next_from_id = rows[-1].id + 1 if len(rows) == limit else None
    return Response({"results": [selectors.trade_public(t) for t in rows],
                     "next_from_id": next_from_id})


@schemas.CANDLES
@_public
def candles(request: Request, symbol: str) -> Response:
    market = selectors.market_get(symbol=symbol)
    interval = request.query_params.get("interval", "1m")
    limit = _int_param(request, "limit", 500, minimum=1, maximum=selectors.MAX_CANDLES_LIMIT)
    rows = selectors.candles(market=market, interval=interval,
                             start=_time_param(request, "start"),
                             end=_time_param(request, "end"), limit=limit)
    return Response({"market": market.symbol, "interval": interval, "results": rows})


@schemas.TICKER
@_public
def ticker(request: Request, symbol: str) -> Response:
    return Response(selectors.ticker_24h(market=selectors.market_get(symbol=symbol)))


@schemas.TICKERS
@_public
def tickers(request: Request) -> Response:
    return Response(selectors.tickers_all())


@schemas.ORDERBOOK
@_public
def orderbook(request: Request) -> Response:
    """TradeOrders reference: ``GET /api/v1/orderbook?instrument=BTC-USDT``."""
    instrument = request.query_params.get("instrument")
    if not instrument:
        raise ServiceError("invalid", "'instrument' is required.",
                           fields={"instrument": {"code": "required", "message": "Required."}})
    market = selectors.market_get(symbol=instrument)
    limit = _int_param(request, "limit", 100, minimum=1, maximum=selectors.MAX_DEPTH_LIMIT)
    snap = selectors.depth_snapshot(market=market.symbol, limit=limit)
    return Response({
        "instrument": market.symbol,
        "lastUpdateId": snap["lastUpdateId"],
        "bids": [{"price": p, "quantity": q} for p, q in snap["bids"]],
        "asks": [{"price": p, "quantity": q} for p, q in snap["asks"]],
    })
