"""Binance WebSocket streams on the market-data hub: ``/ws/<stream>`` (raw payloads),
``/stream?streams=a/b`` (combined: ``{"stream": name, "data": payload}``) and the user
data stream ``/ws/<listenKey>`` (``executionReport``, ``outboundAccountPosition``,
``balanceUpdate``).

Only formatting and stream-name parsing live here; fan-out, ordering, back-pressure and
gap handling are the hub's (``marketdata.streaming``). Each Binance stream name becomes a
hub topic plus a registered wire format, so the hub still encodes each event once per
format, whatever the number of sockets.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs

from exchange.binance import formatters as F
from marketdata.listen_keys import listen_key_user_id_async
from marketdata.streaming.consumers import (
    CLOSE_UNAUTHORIZED,
    CLOSE_UNKNOWN_MARKET,
    StreamConsumer,
    known_markets,
)
from marketdata.streaming.formats import dumps, register
from marketdata.streaming.hub import KLINE_WIDTH_MS, get_hub

# Binance stream suffix -> (hub kind, hub parameter, variant)
_FIXED = {
    "trade": ("trade", "", "trade"),
    "aggTrade": ("trade", "", "aggTrade"),
    "depth": ("depth", "", "depth"),
    "depth@100ms": ("depth@100ms", "", "depth"),
    "depth@1000ms": ("depth", "", "depth"),
    "bookTicker": ("bookticker", "", "bookTicker"),
    "ticker": ("ticker", "", "ticker"),
}
_PARTIAL = re.compile(r"^depth(5|10|20)(@100ms|@1000ms)?$")


def binance_event(variant: str, kind: str, market: str, event: dict) -> dict | None:
    """The Binance payload of one hub event, or None if this variant does not carry it."""
    now = int(event.get("E") or time.time() * 1000)
    if kind == "trade":
        trade = {**event, "market": market}
        if variant == "aggTrade":
            return F.ws_agg_trade(trade, event_time=now)
        return F.ws_trade(trade, event_time=now)
    if kind in ("depth", "depth@100ms"):
        return F.ws_depth_update(market, event, event_time=now)
    if kind == "depthN":
        return F.ws_partial_depth(event, int(event.get("levels") or 20))
    if kind == "bookticker":
        bid, ask = event.get("bid") or (0, 0), event.get("ask") or (0, 0)
        return F.ws_book_ticker(market, {"lastUpdateId": event.get("u", 0),
                                         "bids": [bid], "asks": [ask]})
    if kind == "kline":
        interval = event["interval"]
        return F.ws_kline(market, interval, event, interval_ms=KLINE_WIDTH_MS[interval],
                          closed=now > int(event["close_time"]), event_time=now)
    if kind == "ticker":
        return F.ws_ticker(market, event, event_time=now)
    if kind == "private":
        if event.get("type") == "order":
            return F.execution_report({"order": {**event["order"], "market": event["market"]},
                                       "fill": event.get("fill")}, event_time=now)
        if event.get("type") == "balance":
            return F.account_position([event], event_time=now)
        if event.get("type") == "balance_delta":
            return F.balance_update(asset=event["asset"], delta=event["delta"],
                                    clear_time=int(event.get("time") or now), event_time=now)
    return None


def stream_name(variant: str, kind: str, market: str, event: dict) -> str:
    symbol = F.binance_symbol(market).lower()
    if kind == "depthN":
        return f"{symbol}@depth{event.get('levels')}"
    if kind == "kline":
        return f"{symbol}@kline_{event['interval']}"
    if kind == "depth@100ms":
        return f"{symbol}@depth@100ms"
    return f"{symbol}@{variant}"


class BinanceFormat:
    """One registered format per (variant, combined?)."""

    def __init__(self, variant: str, combined: bool):
        self.variant = variant
        self.combined = combined
        self.name = f"binance{'-combined' if combined else ''}:{variant}"

    def encode(self, kind: str, market: str, event: dict) -> str | None:
        if kind == "depth_snapshot":
            return None
        payload = binance_event(self.variant, kind, market, event)
        if payload is None:
            return None
        if self.combined:
            return dumps({"stream": stream_name(self.variant, kind, market, event),
                          "data": payload})
        return dumps(payload)


VARIANTS = ("trade", "aggTrade", "depth", "depthN", "bookTicker", "kline", "ticker", "user")
for _variant in VARIANTS:
    for _combined in (False, True):
        register(BinanceFormat(_variant, _combined))


def parse_stream(name: str, symbols: dict[str, str]) -> tuple[tuple[str, str, str], str] | None:
    """``btcusdt@depth5`` -> ((kind, market, parameter), variant); None when unknown.
    ``symbols`` maps lower-case Binance symbols to our market symbols."""
    symbol, sep, suffix = name.partition("@")
    market = symbols.get(symbol.lower())
    if not sep or market is None:
        return None
    if suffix in _FIXED:
        kind, param, variant = _FIXED[suffix]
        return (kind, market, param), variant
    partial = _PARTIAL.match(suffix)
    if partial:
        return ("depthN", market, partial.group(1)), "depthN"
    if suffix.startswith("kline_") and suffix[6:] in KLINE_WIDTH_MS:
        return ("kline", market, suffix[6:]), "kline"
    return None


class _Route:
    """A subscriber on the hub for one (topic, format) of a connection: it forwards the
    frames into the connection's single bounded outbox (order and back-pressure kept)."""

    __slots__ = ("format_name", "owner")

    def __init__(self, owner: StreamConsumer, format_name: str):
        self.owner = owner
        self.format_name = format_name

    def push(self, frame: str) -> None:
        self.owner.push(frame)

    def close_soon(self, code: int) -> None:
        self.owner.close_soon(code)


class BinanceStreamConsumer(StreamConsumer):
    """``/ws/<stream>`` and ``/ws/<listenKey>`` (raw), ``/stream?streams=`` (combined).
    Accepts Binance's live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS``."""

    combined = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.routes: dict[str, tuple[tuple[str, str, str], _Route]] = {}

    async def _symbols(self) -> dict[str, str]:
        return {F.binance_symbol(m).lower(): m for m in await known_markets()}

    def _names(self) -> list[str]:
        path = self.scope["url_route"]["kwargs"].get("streams", "")
        if self.combined:
            query = parse_qs(self.scope.get("query_string", b"").decode())
            path = (query.get("streams") or [""])[0]
        return [n for n in path.split("/") if n]

    async def connect(self):
        names = self._names()
        symbols = await self._symbols()
        parsed = []
        for name in names:
            topic = parse_stream(name, symbols)
            if topic is None:
                user_id = await listen_key_user_id_async(listen_key=name)
                if user_id is None:
                    await self.close(code=CLOSE_UNKNOWN_MARKET if "@" in name
                                     else CLOSE_UNAUTHORIZED)
                    return
                topic = (("private", "", str(user_id)), "user")
            parsed.append((name, topic))
        for name, (topic, variant) in parsed:
            await self._route(name, topic, variant)
        await self.start()
        for name, (topic, _variant) in parsed:
            if topic[0] == "private":
                self.watch_listen_key(name)

    async def _route(self, name: str, topic, variant: str) -> None:
        if name in self.routes:
            return
        fmt = f"binance{'-combined' if self.combined else ''}:{variant}"
        route = _Route(self, fmt)
        await get_hub().subscribe(topic, route)
        self.routes[name] = (topic, route)

    def _unsubscribe_all(self) -> None:
        hub = get_hub()
        for topic, route in self.routes.values():
            hub.unsubscribe(topic, route)
        self.routes.clear()
        super()._unsubscribe_all()

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
            method, request_id = message["method"], message.get("id")
            params = message.get("params") or []
        except (ValueError, KeyError, TypeError):
            self.reply({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})
            return
        if method == "LIST_SUBSCRIPTIONS":
            self.reply({"result": sorted(self.routes), "id": request_id})
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            self.reply({"error": {"code": 2, "msg": "Invalid request"}, "id": request_id})
            return
        symbols = await self._symbols()
        for name in params:
            parsed = parse_stream(str(name), symbols)
            if parsed is None and "@" not in str(name):  # a listen key (user data stream)
                user_id = await listen_key_user_id_async(listen_key=str(name))
                parsed = None if user_id is None else (("private", "", str(user_id)), "user")
            if parsed is None:
                self.reply({"error": {"code": 2, "msg": f"Invalid stream {name!r}"},
                            "id": request_id})
                return
            if method == "SUBSCRIBE":
                await self._route(name, *parsed)
                if parsed[0][0] == "private":
                    self.watch_listen_key(str(name))
            elif name in self.routes:
                topic, route = self.routes.pop(name)
                get_hub().unsubscribe(topic, route)
        self.reply({"result": None, "id": request_id})


    def listen_key_expired(self, listen_key: str) -> None:
        """Binance's user data stream: a ``listenKeyExpired`` event, then nothing more from
        that key (the socket stays open for its other streams)."""
        item = self.routes.pop(listen_key, None)
        if item is None:
            return
        topic, route = item
        get_hub().unsubscribe(topic, route)
        event = {"e": "listenKeyExpired", "E": int(time.time() * 1000), "listenKey": listen_key}
        if self.combined:
            event = {"stream": listen_key, "data": event}
        self.push(json.dumps(event, separators=(",", ":")))


class CombinedStreamConsumer(BinanceStreamConsumer):
    combined = True
