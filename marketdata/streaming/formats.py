"""Wire formats. The hub hands each event to a format once per message, whatever the
number of subscribers, and sends the returned text to every subscriber of that format.

A format is an object with ``name`` and ``encode(kind, market, event) -> str | None``
(``None``: this format does not carry that event). ``kind`` is one of ``EVENT_KINDS``;
``event`` is a dict described there. Register another format (for example the Binance
streams of ``/ws/<stream>``) with ``register(format)``: adding stream names is only a
formatter plus a topic parser in its consumer.
"""

from __future__ import annotations

import json
from typing import Protocol

# kind -> event dict given to encode()
EVENT_KINDS = {
    # one per trade: {"id", "market", "price", "quantity", "quote_quantity", "taker_side",
    #                 "buy_order_id", "sell_order_id", "time", "E"}
    "trade": "trade",
    # one per batch that changed depth: {"E", "U", "u", "bids", "asks"}
    "depth": "depth diff",
    # diffs merged over 100 ms: same shape as depth
    "depth@100ms": "conflated depth diff",
    # top-N snapshot at most every 100 ms: {"E", "lastUpdateId", "bids", "asks", "levels"}
    "depthN": "partial book",
    # {"E", "u", "bid": [p, q] | None, "ask": [p, q] | None}
    "bookticker": "best bid/ask",
    # {"E", "interval", "open_time", "close_time", "open", "high", "low", "close",
    #  "volume", "quote_volume", "trade_count"}
    "kline": "current candle",
    # selectors.ticker_24h(...) plus "E"
    "ticker": "24h ticker",
    # private, to one user: {"E", "type": "order", "market", "order", "fill"} or
    #                       {"E", "type": "balance", "asset", "available", "locked"}
    "private": "user event",
    # a depth snapshot sent to one connection that asked for it: {"lastUpdateId", ...}
    "depth_snapshot": "depth snapshot",
}


class Format(Protocol):
    name: str

    def encode(self, kind: str, market: str, event: dict) -> str | None: ...


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class NativeFormat:
    """The /ws/v1 and /ws/trades format: ``{"stream", "market", "data"}``."""

    name = "native"
    _streams = {
        "trade": "trades", "depth": "depth", "depth@100ms": "depth@100ms",
        "bookticker": "bookTicker", "kline": "candles", "ticker": "ticker",
        "depth_snapshot": "depth",
    }

    def encode(self, kind: str, market: str, event: dict) -> str | None:
        if kind == "private":
            return dumps({"stream": "private", "type": event["type"], "data": event})
        if kind == "depthN":
            return dumps({"stream": f"depth{event['levels']}", "market": market, "data": event})
        if kind == "kline":
            return dumps({"stream": "candles", "market": market,
                          "interval": event["interval"], "data": event})
        if kind == "depth_snapshot":
            return dumps({"stream": "depth", "type": "snapshot", "market": market,
                          "data": event})
        return dumps({"stream": self._streams[kind], "market": market, "data": event})


class SeedTradesFormat:
    """``/ws/trades`` of the TradeOrders reference design: bare trade objects."""

    name = "seed"

    def encode(self, kind: str, market: str, event: dict) -> str | None:
        if kind != "trade":
            return None
        return dumps({
            "id": event["id"], "instrument": market, "price": event["price"],
            "quantity": event["quantity"], "taker_side": event["taker_side"],
            "timestamp": event["time"], "E": event["E"],
        })


class Frame(str):
    """An encoded message: its text, plus ``wire``, the whole WebSocket frame carrying it
    from the server (FIN, text opcode, unmasked, uncompressed), built once per message so
    that a socket with direct transport access only writes bytes (consumers.py)."""

    wire: bytes


def ws_text_frame(text: str) -> bytes:
    """RFC 6455 §5.2 server-to-client text frame. Not compressed: permessage-deflate with
    context takeover would have to compress again per socket; RSV1 unset says so, which
    RFC 7692 §6 allows even when the extension was negotiated."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = b"\x81\x7e" + n.to_bytes(2, "big")
    else:
        header = b"\x81\x7f" + n.to_bytes(8, "big")
    return header + payload


def frame_of(text: str) -> Frame:
    frame = Frame(text)
    frame.wire = ws_text_frame(text)
    return frame


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


register(NativeFormat())
register(SeedTradesFormat())
