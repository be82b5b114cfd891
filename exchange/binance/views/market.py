"""Market data endpoints (Binance "Market Data endpoints" and "General endpoints"): thin
reads over ``marketdata.selectors`` rendered by ``exchange.binance.formatters``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from rest_framework.response import Response

from exchange.binance import errors as E
from exchange.binance import formatters as F
from exchange.binance.errors import BinanceError
from exchange.binance.views.base import BinanceView
from marketdata import selectors as md
from marketdata.models import Trade

KLINE_INTERVALS = {name: int(width.total_seconds() * 1000) for name, width in md.INTERVALS.items()}
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)


def _depth_weight(limit: int) -> int:
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


class Ping(BinanceView):
    def get(self, request):
        return Response({})


class ServerTime(BinanceView):
    def get(self, request):
        return Response({"serverTime": int(time.time() * 1000)})


class ExchangeInfo(BinanceView):
    rate_limit_weight = 20

    def get(self, request):
        markets = self.params().markets()
        if markets is None:
            markets = list(md.markets_list())
        limits = settings.API_RATE_LIMITS
        return Response({
            "timezone": "UTC",
            "serverTime": int(time.time() * 1000),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": limits["KEY_WEIGHT_PER_MINUTE"]},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 1,
                 "limit": limits["IP_WEIGHT_PER_MINUTE"]},
            ],
            "exchangeFilters": [],
            "symbols": [F.symbol_info(m) for m in markets],
        })


class Depth(BinanceView):
    rate_limit_weight = 5

    def get(self, request):
        p = self.params()
        market = p.market()
        limit = p.integer("limit", default=100, minimum=1, maximum=5000)
        snapshot = md.depth_snapshot(market=market.symbol, limit=limit)
        return Response(F.depth(snapshot, limit))


class RecentTrades(BinanceView):
    rate_limit_weight = 25

    def get(self, request):
        p = self.params()
        market = p.market()
        limit = p.integer("limit", default=500, minimum=1, maximum=1000)
        return Response([F.public_trade(t) for t in md.trades_recent(market=market, limit=limit)])


class HistoricalTrades(BinanceView):
    rate_limit_weight = 25

    def get(self, request):
        p = self.params()
        market = p.market()
        limit = p.integer("limit", default=500, minimum=1, maximum=1000)
        from_id = p.integer("fromId", minimum=0)
        rows = (md.trades_recent(market=market, limit=limit) if from_id is None
                else md.trades_from(market=market, from_id=from_id, limit=limit))
        return Response([F.public_trade(t) for t in rows])


class AggTrades(BinanceView):
    rate_limit_weight = 4

    def get(self, request):
        p = self.params()
        market = p.market()
        limit = p.integer("limit", default=500, minimum=1, maximum=1000)
        from_id = p.integer("fromId", minimum=0)
        start, end = p.integer("startTime", minimum=0), p.integer("endTime", minimum=0)
        if from_id is not None and (start is not None or end is not None):
            raise BinanceError(E.OPTIONAL_PARAMS_BAD_COMBO,
                               "Combination of optional parameters invalid.")
        qs = Trade.objects.filter(market=market)
        if start is not None:
            qs = qs.filter(created_at__gte=_dt(start))
        if end is not None:
            qs = qs.filter(created_at__lte=_dt(end))
        if from_id is not None or start is not None or end is not None:
            if from_id is not None:
                qs = qs.filter(id__gte=from_id)
            rows = list(qs.order_by("id")[: limit * 4])
        else:
            rows = list(qs.order_by("-id")[: limit * 4])
            rows.reverse()
        aggs = F.agg_trades(rows, limit=len(rows) or 1)
        aggs = aggs[:limit] if from_id is not None or start is not None else aggs[-limit:]
        return Response(aggs)


class Klines(BinanceView):
    rate_limit_weight = 2

    def get(self, request):
        p = self.params()
        market = p.market()
        interval = p.required("interval")
        if interval not in KLINE_INTERVALS:
            raise BinanceError(E.BAD_INTERVAL, "Invalid interval.")
        limit = p.integer("limit", default=500, minimum=1, maximum=1000)
        start, end = p.integer("startTime", minimum=0), p.integer("endTime", minimum=0)
        rows = md.candles(market=market, interval=interval,
                          start=_dt(start) if start is not None else None,
                          end=_dt(end) if end is not None else None, limit=limit)
        width = KLINE_INTERVALS[interval]
        return Response([F.kline_row(c, width) for c in rows])


class AvgPrice(BinanceView):
    rate_limit_weight = 2
    MINUTES = 5

    def get(self, request):
        market = self.params().market()
        now = datetime.now(tz=UTC)
        rows = md.candles(market=market, interval="1m", start=now - timedelta(
            minutes=self.MINUTES - 1), limit=self.MINUTES)
        volume = sum((Decimal(c["volume"]) for c in rows), Decimal(0))
        quote = sum((Decimal(c["quote_volume"]) for c in rows), Decimal(0))
        if volume:
            price = (quote / volume).quantize(market.tick_size)
        else:
            last = Trade.objects.filter(market=market).order_by("-id").first()
            price = last.price if last else (market.reference_price or Decimal(0))
        return Response({"mins": self.MINUTES, "price": F.fmt(price),
                         "closeTime": int(now.timestamp() * 1000)})


class _TickerBase(BinanceView):
    rate_limit_weight = 2

    def markets(self):
        markets = self.params().markets()
        return (markets, True) if markets is not None else (list(md.markets_list()), False)

    def respond(self, rows, single: bool):
        return Response(rows[0] if single and len(rows) == 1 and self._one() else rows)

    def _one(self) -> bool:
        return "symbol" in self.params()


class Ticker24h(_TickerBase):
    def get(self, request):
        markets, _ = self.markets()
        rows = [F.ticker_24h(m.symbol, md.ticker_24h(market=m)) for m in markets]
        return self.respond(rows, True)


class TickerPrice(_TickerBase):
    def get(self, request):
        markets, _ = self.markets()
        rows = []
        for m in markets:
            last = md.ticker_24h(market=m).get("last")
            if last is None:
                trade = Trade.objects.filter(market=m).order_by("-id").first()
                last = trade.price if trade else 0
            rows.append({"symbol": m.binance_symbol, "price": F.fmt(last)})
        return self.respond(rows, True)


class BookTicker(_TickerBase):
    def get(self, request):
        markets, _ = self.markets()
        rows = [F.book_ticker(m.symbol, md.depth_snapshot(market=m.symbol, limit=1))
                for m in markets]
        return self.respond(rows, True)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
