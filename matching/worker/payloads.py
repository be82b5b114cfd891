"""Engine commands as the compact JSON stored in ``matching_commandlog``: replaying the
log of a market through a fresh ``OrderBook`` reproduces its committed trades.

A command is a positional list (``["P", order_id, user_id, ...]``): the batch's payload is
written on the matcher's hot path, and lists are about half the size of the keyed objects
the first rows used (less to encode, parse into jsonb, compress and write to the WAL).
``decode`` reads both forms, so older rows still replay."""

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


def encode(command) -> list:
    cls = command.__class__
    if cls is PlaceOrder:
        return ["P", command.order_id, command.user_id, command.side.value,
                command.order_type.value, command.tif.value, command.price, command.qty,
                command.quote_qty, command.stop_price, command.stp.value, command.reserve]
    if cls is CancelOrder:
        return ["C", command.order_id, command.user_id]
    if cls is CancelAll:
        return ["CA", command.user_id]
    if cls is AmendOrder:
        return ["A", command.order_id, command.user_id, command.new_price, command.new_qty,
                command.extra_reserve]
    if cls is SetStatus:
        return ["S", command.status.value]
    raise TypeError(f"not a command: {command!r}")


REFUSED = "X"  # a command refused before the engine (an amend below the filled quantity)


def refused(command_id: int) -> list:
    return [REFUSED, command_id]


def decode(payload: list | dict):
    """The engine command of a log row, or None for a command refused before the engine."""
    if isinstance(payload, list):
        return _decode_list(payload)
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


def _decode_list(payload: list):
    kind = payload[0]
    if kind == "P":
        (_, order_id, user_id, side, otype, tif, price, qty, quote_qty, stop, stp,
         reserve) = payload
        return PlaceOrder(order_id=order_id, user_id=user_id, side=Side(side),
                          order_type=OrderType(otype), tif=TimeInForce(tif), price=price,
                          qty=qty, quote_qty=quote_qty, stop_price=stop, stp=StpMode(stp),
                          reserve=reserve)
    if kind == "C":
        return CancelOrder(order_id=payload[1], user_id=payload[2])
    if kind == "CA":
        return CancelAll(user_id=payload[1])
    if kind == "A":
        return AmendOrder(order_id=payload[1], user_id=payload[2], new_price=payload[3],
                          new_qty=payload[4], extra_reserve=payload[5])
    if kind == "S":
        return SetStatus(status=BookStatus(payload[1]))
    return None


def dumps(payload) -> str:
    return json.dumps(payload, separators=(",", ":"))
