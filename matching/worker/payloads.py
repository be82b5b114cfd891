"""Engine commands as the compact JSON stored in ``matching_commandlog``: replaying the
log of a market through a fresh ``OrderBook`` reproduces its committed trades."""

from __future__ import annotations

import json

from matching.engine import (
    AmendOrder,
    BookStatus,
    CancelAll,
    CancelOrder,
    OrderType,
    PlaceOrder,
    SetStatus,
    Side,
    StpMode,
    TimeInForce,
)


def encode(command) -> dict:
    cls = command.__class__
    if cls is PlaceOrder:
        return {"t": "P", "o": command.order_id, "u": command.user_id, "s": command.side.value,
                "ot": command.order_type.value, "tif": command.tif.value, "p": command.price,
                "q": command.qty, "qq": command.quote_qty, "sp": command.stop_price,
                "stp": command.stp.value, "r": command.reserve}
    if cls is CancelOrder:
        return {"t": "C", "o": command.order_id, "u": command.user_id}
    if cls is CancelAll:
        return {"t": "CA", "u": command.user_id}
    if cls is AmendOrder:
        return {"t": "A", "o": command.order_id, "u": command.user_id, "p": command.new_price,
                "q": command.new_qty, "x": command.extra_reserve}
    if cls is SetStatus:
        return {"t": "S", "st": command.status.value}
    raise TypeError(f"not a command: {command!r}")


def decode(payload: dict):
    """The engine command of a log row, or None for a command refused before the engine."""
    kind = payload["t"]
    if kind == "P":
        return PlaceOrder(order_id=payload["o"], user_id=payload["u"], side=Side(payload["s"]),
                          order_type=OrderType(payload["ot"]), tif=TimeInForce(payload["tif"]),
                          price=payload["p"], qty=payload["q"], quote_qty=payload["qq"],
                          stop_price=payload["sp"], stp=StpMode(payload["stp"]),
                          reserve=payload["r"])
    if kind == "C":
        return CancelOrder(order_id=payload["o"], user_id=payload["u"])
    if kind == "CA":
        return CancelAll(user_id=payload["u"])
    if kind == "A":
        return AmendOrder(order_id=payload["o"], user_id=payload["u"], new_price=payload["p"],
                          new_qty=payload["q"], extra_reserve=payload["x"])
    if kind == "S":
        return SetStatus(status=BookStatus(payload["st"]))
    return None


def dumps(payload) -> str:
    return json.dumps(payload, separators=(",", ":"))
