"""Reads of market data. Depth comes from what the matcher last committed (Redis, written
by ``publishing.publish_batch``), never from the orders table; trades and candles from
Postgres (rows the matcher committed); tickers from the 1-minute candles, cached 1 s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet

from exchange.api import ServiceError
from marketdata import keys
from marketdata.models import Candle, Market, Trade
from marketdata.redis_conn import sync_client

INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
MAX_DEPTH_LIMIT = 5000
MAX_TRADES_LIMIT = 1000
MAX_CANDLES_LIMIT = 1000
TICKER_CACHE_SECONDS = 1


def markets_list() -> QuerySet[Market]:
    return Market.objects.select_related("base", "quote").order_by("symbol")


def market_get(*, symbol: str) -> Market:
    """The market ``symbol`` (``BTC-USDT``); raises ``ServiceError("unknown_market", 404)``."""
    try:
        return markets_list().get(symbol=symbol.upper())
    except Market.DoesNotExist:
        raise ServiceError("unknown_market", f"No market {symbol!r}.", http_status=404) from None


def depth_snapshot(*, market: str, limit: int = 100) -> dict:
    """``{"lastUpdateId", "bids", "asks"}`` (best first, ``limit`` levels a side) as the
    matcher last committed it. A market that never published has an empty book at id 0.
    One Redis round trip; O(levels) JSON decode."""
    raw = sync_client().hget(keys.depth_key(market), "snapshot")
    if raw is None:
        return {"lastUpdateId": 0, "bids": [], "asks": []}
    snap = json.loads(raw)
    limit = max(1, min(int(limit), MAX_DEPTH_LIMIT))
    return {"lastUpdateId": snap["lastUpdateId"], "bids": snap["bids"][:limit],
            "asks": snap["asks"][:limit]}


def trade_public(trade: Trade) -> dict:
    return {
        "id": trade.id,
        "market": trade.market.symbol,
        "price": str(trade.price),
        "quantity": str(trade.quantity),
        "quote_quantity": str(trade.quote_quantity),
        "taker_side": trade.taker_side,
        "time": int(trade.created_at.timestamp() * 1000),
    }


def trades_recent(*, market: Market, limit: int = 500) -> list[Trade]:
    """The newest ``limit`` trades, oldest first (index ``(market, -id)``)."""
    limit = max(1, min(int(limit), MAX_TRADES_LIMIT))
    rows = list(Trade.objects.filter(market=market).select_related("market")
                .order_by("-id")[:limit])
    rows.reverse()
    return rows


def trades_from(*, market: Market, from_id: int, limit: int = 500) -> list[Trade]:
    """Trades with ``id >= from_id``, oldest first: historical paging, and how a stream
    client fills the hole left by a reconnect."""
    limit = max(1, min(int(limit), MAX_TRADES_LIMIT))
    return list(Trade.objects.filter(market=market, id__gte=from_id).select_related("market")
                .order_by("id")[:limit])


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def candles(*, market: Market, interval: str, start: datetime | None = None,
            end: datetime | None = None, limit: int = 500) -> list[dict]:
    """OHLCV candles, oldest first. ``1m`` rows are the matcher's; longer intervals are
    aggregated from them in SQL (``date_bin`` from the Unix epoch, UTC). ``start``/``end``
    bound the candle open times (inclusive); without ``start`` the newest ``limit``."""
    if interval not in INTERVALS:
        raise ServiceError("invalid_interval", f"Interval must be one of {', '.join(INTERVALS)}.",
                           fields={"interval": {"code": "invalid", "message": "Unknown."}})
    limit = max(1, min(int(limit), MAX_CANDLES_LIMIT))
    width = INTERVALS[interval]
    where = ["market_id = %s"]
    params: list = [width, market.id]
    if start is not None:
        where.append("open_time >= date_bin(%s, %s, TIMESTAMPTZ 'epoch')")
        params += [width, start]
    if end is not None:
        where.append("open_time < date_bin(%s, %s, TIMESTAMPTZ 'epoch') + %s")
        params += [width, end, width]
    order = "ASC" if start is not None else "DESC"
    sql = f"""
        SELECT bucket, (array_agg(open ORDER BY open_time))[1], max(high), min(low),
               (array_agg(close ORDER BY open_time DESC))[1], sum(volume), sum(quote_volume),
               sum(trade_count)
        FROM (SELECT date_bin(%s, open_time, TIMESTAMPTZ 'epoch') AS bucket, *
              FROM {Candle._meta.db_table} WHERE {' AND '.join(where)}) c
        GROUP BY bucket ORDER BY bucket {order} LIMIT %s
    """  # noqa: S608 (identifiers are ours; every value is a parameter)
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if order == "DESC":
        rows.reverse()
    step = _ms(datetime(1970, 1, 1, tzinfo=UTC) + width)
    return [
        {
            "interval": interval,
            "open_time": _ms(bucket),
            "close_time": _ms(bucket) + step - 1,
            "open": str(o), "high": str(h), "low": str(lo), "close": str(c),
            "volume": str(v), "quote_volume": str(qv), "trade_count": int(n),
        }
        for bucket, o, h, lo, c, v, qv, n in rows
    ]


def _pct(change: Decimal, base: Decimal) -> str:
    if not base:
        return "0.00"
    return str((change * 100 / base).quantize(Decimal("0.01")))


def ticker_24h(*, market: Market, now: datetime | None = None) -> dict:
    """Rolling 24 h statistics from the 1-minute candles (minute granularity) plus the
    best bid and ask of the committed depth. Cached ``TICKER_CACHE_SECONDS`` unless
    ``now`` is given. ``open``/``last`` are null before the first trade of the window."""
    cache_key = keys.ticker_cache_key(market.symbol)
    if now is None:
        cached = cache.get(cache_key)
        if cached is not None:
            return cached
    current = now or datetime.now(tz=UTC)
    since = current - timedelta(hours=24)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT (array_agg(open ORDER BY open_time))[1],
                       (array_agg(close ORDER BY open_time DESC))[1],
                       max(high), min(low), coalesce(sum(volume), 0),
                       coalesce(sum(quote_volume), 0), coalesce(sum(trade_count), 0)
                FROM {Candle._meta.db_table}
                WHERE market_id = %s AND open_time >= date_trunc('minute', %s::timestamptz)
                  AND open_time <= %s""",  # noqa: S608
            [market.id, since, current],
        )
        open_, last, high, low, volume, quote_volume, count = cursor.fetchone()
    book = depth_snapshot(market=market.symbol, limit=1)
    change = (last - open_) if open_ is not None else Decimal(0)
    data = {
        "market": market.symbol,
        "open": None if open_ is None else str(open_),
        "high": None if high is None else str(high),
        "low": None if low is None else str(low),
        "last": None if last is None else str(last),
        "volume": str(volume),
        "quote_volume": str(quote_volume),
        "price_change": str(change),
        "price_change_percent": _pct(change, open_ or Decimal(0)),
        "trade_count": int(count),
        "best_bid": book["bids"][0] if book["bids"] else None,
        "best_ask": book["asks"][0] if book["asks"] else None,
        "open_time": _ms(since),
        "close_time": _ms(current),
    }
    if now is None:
        cache.set(cache_key, data, TICKER_CACHE_SECONDS)
    return data


def tickers_all() -> list[dict]:
    return [ticker_24h(market=m) for m in markets_list()]
