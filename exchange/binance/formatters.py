"""Pure functions rendering our objects in Binance's JSON shapes (REST and streams).

They take model instances or the dicts of the market-data contract (docs/CONTRACTS.md,
``publish_batch``) and return plain JSON-ready values: amounts as decimal strings, times
as epoch milliseconds, symbols concatenated (``BTCUSDT``). No I/O, no rules.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

PLACES = 8
ZERO = "0.00000000"


def fmt(value, places: int = PLACES) -> str:
    """A decimal string padded to ``places`` decimals (Binance pads to 8), never rounding
    away a significant digit and never in exponent notation."""
    if value is None or value == "":
        value = 0
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    with localcontext() as ctx:
        ctx.prec = 80
        normal = number.normalize()
        if normal.as_tuple().exponent >= -places:
            return f"{number.quantize(Decimal(1).scaleb(-places)):f}"
        return f"{normal:f}"


def ms(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int | float):
        return int(value)
    return int(value.timestamp() * 1000)


def binance_symbol(symbol: str) -> str:
    return symbol.replace("-", "")


MARKET_STATUS = {"TRADING": "TRADING", "HALTED": "HALT", "CANCEL_ONLY": "BREAK"}
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
DEFAULT_STP = "EXPIRE_TAKER"


# -- exchangeInfo ---------------------------------------------------------------------

def symbol_info(market) -> dict[str, Any]:
    """One entry of ``exchangeInfo.symbols`` from a ``marketdata.Market``."""
    # Entry accepts limit prices within [ref × down, ref × up] (orders.validation); the
    # tighter trading band (Market.price_band_pct) is the engine's.
    from orders.validation import PERCENT_PRICE_DOWN, PERCENT_PRICE_UP

    up, down = fmt(PERCENT_PRICE_UP, 4), fmt(PERCENT_PRICE_DOWN, 4)
    tick_places = _places(market.tick_size)
    return {
        "symbol": market.binance_symbol,
        "status": MARKET_STATUS.get(market.status, "BREAK"),
        "baseAsset": market.base.symbol,
        "baseAssetPrecision": market.base.precision,
        "quoteAsset": market.quote.symbol,
        "quotePrecision": market.quote.precision,
        "quoteAssetPrecision": market.quote.precision,
        "baseCommissionPrecision": market.base.precision,
        "quoteCommissionPrecision": market.quote.precision,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(market.tick_size),
             "maxPrice": "0.00000000", "tickSize": fmt(market.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt(market.min_qty),
             "maxQty": fmt(market.max_qty), "stepSize": fmt(market.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(market.min_qty),
             "maxQty": fmt(market.max_qty), "stepSize": fmt(market.step_size)},
            {"filterType": "NOTIONAL", "minNotional": fmt(market.min_notional),
             "applyMinToMarket": True, "maxNotional": "0.00000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MIN_NOTIONAL", "minNotional": fmt(market.min_notional),
             "applyToMarket": True, "avgPriceMins": 5},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": up,
             "bidMultiplierDown": down, "askMultiplierUp": up, "askMultiplierDown": down,
             "avgPriceMins": 5},
        ],
        "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": DEFAULT_STP,
        "allowedSelfTradePreventionModes": STP_MODES,
        "pricePrecision": tick_places,
    }


def _places(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)


# -- market data (REST) ---------------------------------------------------------------

def public_trade(trade) -> dict[str, Any]:
    return {
        "id": trade.id,
        "price": fmt(trade.price),
        "qty": fmt(trade.quantity),
        "quoteQty": fmt(trade.quote_quantity),
        "time": ms(trade.created_at),
        "isBuyerMaker": trade.taker_side == "SELL",
        "isBestMatch": True,
    }


def agg_trades(trades, limit: int) -> list[dict[str, Any]]:
    """Groups consecutive fills of one taker command at one price (same ``sequence``,
    price and taker side) into Binance aggregate trades; the aggregate id is the id of
    its first trade, so ``fromId`` pages through them."""
    out: list[dict[str, Any]] = []
    key = None
    for trade in trades:
        this = (trade.sequence, trade.price, trade.taker_side)
        if out and this == key:
            agg = out[-1]
            agg["q"] = fmt(Decimal(agg["q"]) + trade.quantity)
            agg["l"] = trade.id
            continue
        if len(out) == limit:
            break
        key = this
        out.append({"a": trade.id, "p": fmt(trade.price), "q": fmt(trade.quantity),
                    "f": trade.id, "l": trade.id, "T": ms(trade.created_at),
                    "m": trade.taker_side == "SELL", "M": True})
    return out


def kline_row(candle: dict, interval_ms: int) -> list:
    """``[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades,
    takerBuyBase, takerBuyQuote, ignore]``. Taker-buy volumes are not kept per candle."""
    open_ms = ms(candle["open_time"])
    close_ms = candle.get("close_time") or open_ms + interval_ms - 1
    return [
        open_ms, fmt(candle["open"]), fmt(candle["high"]), fmt(candle["low"]),
        fmt(candle["close"]), fmt(candle["volume"]), close_ms,
        fmt(candle.get("quote_volume", 0)), int(candle.get("trade_count", 0)),
        fmt(candle.get("taker_buy_volume", 0)), fmt(candle.get("taker_buy_quote_volume", 0)),
        "0",
    ]


def depth(snapshot: dict, limit: int) -> dict[str, Any]:
    return {
        "lastUpdateId": int(snapshot.get("lastUpdateId", 0)),
        "bids": [[fmt(p), fmt(q)] for p, q in snapshot.get("bids", [])[:limit]],
        "asks": [[fmt(p), fmt(q)] for p, q in snapshot.get("asks", [])[:limit]],
    }


# -- orders and account ---------------------------------------------------------------

def _order_core(order, symbol: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "orderId": order.id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": fmt(order.price),
        "origQty": fmt(order.quantity),
        "executedQty": fmt(order.filled_quantity),
        "cummulativeQuoteQty": fmt(order.cumulative_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }


def order_ack(order, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "orderId": order.id, "orderListId": -1,
            "clientOrderId": order.client_order_id, "transactTime": ms(order.created_at)}


def order_result(order, symbol: str) -> dict[str, Any]:
    out = _order_core(order, symbol)
    out["transactTime"] = ms(order.created_at)
    out["origQuoteOrderQty"] = fmt(order.quote_order_qty)
    out["workingTime"] = ms(order.created_at)
    out["selfTradePreventionMode"] = order.stp_mode
    if order.stop_price is not None:
        out["stopPrice"] = fmt(order.stop_price)
    return out


def order_fill(trade, order, *, base_asset: str, quote_asset: str) -> dict[str, Any]:
    buyer = trade.buy_order_id == order.id
    return {
        "price": fmt(trade.price),
        "qty": fmt(trade.quantity),
        "commission": fmt(trade.buyer_fee if buyer else trade.seller_fee),
        "commissionAsset": base_asset if buyer else quote_asset,
        "tradeId": trade.id,
    }


def order_query(order, symbol: str) -> dict[str, Any]:
    out = _order_core(order, symbol)
    out.update({
        "stopPrice": fmt(order.stop_price),
        "icebergQty": ZERO,
        "time": ms(order.created_at),
        "updateTime": ms(order.updated_at),
        "isWorking": order.type not in ("STOP_LOSS", "STOP_LOSS_LIMIT") or order.sequence
        is not None,
        "workingTime": ms(order.created_at),
        "origQuoteOrderQty": fmt(order.quote_order_qty),
        "selfTradePreventionMode": order.stp_mode,
    })
    return out


def order_cancelled(order, symbol: str, *, orig_client_order_id: str | None = None
                    ) -> dict[str, Any]:
    out = _order_core(order, symbol)
    out.update({
        "origClientOrderId": orig_client_order_id or order.client_order_id,
        "transactTime": ms(order.updated_at),
        "selfTradePreventionMode": order.stp_mode,
    })
    return out


def my_trade(trade, *, user_id: int, symbol: str, base_asset: str, quote_asset: str
             ) -> dict[str, Any]:
    is_buyer = trade.buyer_id == user_id
    return {
        "symbol": symbol,
        "id": trade.id,
        "orderId": trade.buy_order_id if is_buyer else trade.sell_order_id,
        "orderListId": -1,
        "price": fmt(trade.price),
        "qty": fmt(trade.quantity),
        "quoteQty": fmt(trade.quote_quantity),
        "commission": fmt(trade.buyer_fee if is_buyer else trade.seller_fee),
        "commissionAsset": base_asset if is_buyer else quote_asset,
        "time": ms(trade.created_at),
        "isBuyer": is_buyer,
        "isMaker": (trade.taker_side == "SELL") == is_buyer,
        "isBestMatch": True,
    }


def balance(asset: str, available, locked) -> dict[str, str]:
    return {"asset": asset, "free": fmt(available), "locked": fmt(locked)}


# -- streams --------------------------------------------------------------------------

def ws_trade(trade: dict, *, event_time: int) -> dict[str, Any]:
    """``<symbol>@trade`` from a contract trade dict."""
    return {
        "e": "trade", "E": event_time, "s": binance_symbol(trade["market"]),
        "t": int(trade["id"]), "p": fmt(trade["price"]), "q": fmt(trade["quantity"]),
        "T": int(trade["time"]), "m": trade["taker_side"] == "SELL", "M": True,
    }


def ws_agg_trade(trade: dict, *, event_time: int) -> dict[str, Any]:
    """``<symbol>@aggTrade``: each committed fill as its own aggregate (a = f = l)."""
    return {
        "e": "aggTrade", "E": event_time, "s": binance_symbol(trade["market"]),
        "a": int(trade["id"]), "p": fmt(trade["price"]), "q": fmt(trade["quantity"]),
        "f": int(trade["id"]), "l": int(trade["id"]), "T": int(trade["time"]),
        "m": trade["taker_side"] == "SELL", "M": True,
    }


def ws_depth_update(market: str, update: dict, *, event_time: int) -> dict[str, Any]:
    return {
        "e": "depthUpdate", "E": event_time, "s": binance_symbol(market),
        "U": int(update["U"]), "u": int(update["u"]),
        "b": [[fmt(p), fmt(q)] for p, q in update.get("bids", [])],
        "a": [[fmt(p), fmt(q)] for p, q in update.get("asks", [])],
    }


def ws_partial_depth(snapshot: dict, levels: int) -> dict[str, Any]:
    return depth(snapshot, levels)


def ws_kline(market: str, interval: str, candle: dict, *, interval_ms: int, closed: bool,
             event_time: int) -> dict[str, Any]:
    open_ms = ms(candle["open_time"])
    return {
        "e": "kline", "E": event_time, "s": binance_symbol(market),
        "k": {
            "t": open_ms, "T": open_ms + interval_ms - 1, "s": binance_symbol(market),
            "i": interval, "f": int(candle.get("first_trade_id") or -1),
            "L": int(candle.get("last_trade_id") or -1),
            "o": fmt(candle["open"]), "c": fmt(candle["close"]), "h": fmt(candle["high"]),
            "l": fmt(candle["low"]), "v": fmt(candle.get("volume", 0)),
            "n": int(candle.get("trade_count", 0)), "x": closed,
            "q": fmt(candle.get("quote_volume", 0)), "V": ZERO, "Q": ZERO, "B": "0",
        },
    }


def ticker_24h(market: str, t: dict) -> dict[str, Any]:
    """REST ``ticker/24hr`` (FULL) from ``marketdata.selectors.ticker_24h``."""
    bid = t.get("best_bid") or (0, 0)
    ask = t.get("best_ask") or (0, 0)
    volume, quote_volume = Decimal(str(t.get("volume") or 0)), Decimal(
        str(t.get("quote_volume") or 0))
    weighted = quote_volume / volume if volume else Decimal(0)
    count = int(t.get("trade_count") or 0)
    return {
        "symbol": binance_symbol(market),
        "priceChange": fmt(t.get("price_change")),
        "priceChangePercent": fmt(t.get("price_change_percent"), 3),
        "weightedAvgPrice": fmt(weighted.quantize(Decimal("1e-8")) if volume else 0),
        "prevClosePrice": fmt(t.get("open")),
        "lastPrice": fmt(t.get("last")),
        "lastQty": fmt(t.get("last_qty")),
        "bidPrice": fmt(bid[0]),
        "bidQty": fmt(bid[1]),
        "askPrice": fmt(ask[0]),
        "askQty": fmt(ask[1]),
        "openPrice": fmt(t.get("open")),
        "highPrice": fmt(t.get("high")),
        "lowPrice": fmt(t.get("low")),
        "volume": fmt(volume),
        "quoteVolume": fmt(quote_volume),
        "openTime": ms(t.get("open_time")),
        "closeTime": ms(t.get("close_time")),
        "firstId": int(t.get("first_id") or -1),
        "lastId": int(t.get("last_id") or -1),
        "count": count,
    }


def ws_ticker(market: str, t: dict, *, event_time: int) -> dict[str, Any]:
    r = ticker_24h(market, t)
    return {
        "e": "24hrTicker", "E": event_time, "s": r["symbol"], "p": r["priceChange"],
        "P": r["priceChangePercent"], "w": r["weightedAvgPrice"], "x": r["prevClosePrice"],
        "c": r["lastPrice"], "Q": r["lastQty"], "b": r["bidPrice"], "B": r["bidQty"],
        "a": r["askPrice"], "A": r["askQty"], "o": r["openPrice"], "h": r["highPrice"],
        "l": r["lowPrice"], "v": r["volume"], "q": r["quoteVolume"], "O": r["openTime"],
        "C": r["closeTime"], "F": r["firstId"], "L": r["lastId"], "n": r["count"],
    }


def book_ticker(market: str, snapshot: dict) -> dict[str, Any]:
    bids, asks = snapshot.get("bids") or [], snapshot.get("asks") or []
    bid = bids[0] if bids else (0, 0)
    ask = asks[0] if asks else (0, 0)
    return {"symbol": binance_symbol(market), "bidPrice": fmt(bid[0]), "bidQty": fmt(bid[1]),
            "askPrice": fmt(ask[0]), "askQty": fmt(ask[1])}


def ws_book_ticker(market: str, snapshot: dict) -> dict[str, Any]:
    r = book_ticker(market, snapshot)
    return {"u": int(snapshot.get("lastUpdateId", 0)), "s": r["symbol"], "b": r["bidPrice"],
            "B": r["bidQty"], "a": r["askPrice"], "A": r["askQty"]}


_EXEC_TYPE = {"NEW": "NEW", "PARTIALLY_FILLED": "TRADE", "FILLED": "TRADE",
              "CANCELED": "CANCELED", "EXPIRED": "EXPIRED", "REJECTED": "REJECTED"}


def execution_report(update: dict, *, event_time: int) -> dict[str, Any]:
    """``executionReport`` from a contract order update (``{"user_id", "order", "fill"}``)."""
    order, fill = update["order"], update.get("fill")
    if fill:
        exec_type = "TRADE"
    elif order["status"] == "EXPIRED" and order.get("reason", "").startswith("stp"):
        exec_type = "TRADE_PREVENTION"
    else:
        exec_type = _EXEC_TYPE.get(order["status"], "NEW")
        if exec_type == "TRADE":  # a status change without a fill in this update
            exec_type = "NEW"
    created, updated = ms(_as_ms(order.get("created"))), ms(_as_ms(order.get("updated")))
    return {
        "e": "executionReport", "E": event_time, "s": binance_symbol(order["market"]),
        "c": order["client_order_id"], "S": order["side"], "o": order["type"],
        "f": order.get("time_in_force") or "GTC", "q": fmt(order.get("quantity")),
        "p": fmt(order.get("price")), "P": fmt(order.get("stop_price")), "F": ZERO,
        "g": -1, "C": order["client_order_id"] if exec_type == "CANCELED" else "",
        "x": exec_type, "X": order["status"], "r": "NONE", "i": int(order["id"]),
        "l": fmt(fill["quantity"] if fill else 0), "z": fmt(order.get("filled_quantity")),
        "L": fmt(fill["price"] if fill else 0), "n": fmt(fill["fee"] if fill else 0),
        "N": fill.get("fee_asset") if fill else None, "T": updated or event_time,
        "t": int(fill["trade_id"]) if fill else -1, "I": int(order["id"]),
        "w": order["status"] in ("NEW", "PARTIALLY_FILLED"),
        "m": bool(fill and fill.get("is_maker")), "M": False, "O": created,
        "Z": fmt(order.get("cumulative_quote")),
        "Y": fmt(Decimal(str(fill["price"])) * Decimal(str(fill["quantity"]))) if fill else ZERO,
        "Q": fmt(order.get("quote_order_qty")), "W": created, "V": DEFAULT_STP,
    }


def account_position(balances: list[dict], *, event_time: int) -> dict[str, Any]:
    """``outboundAccountPosition`` from contract balance updates of one user."""
    return {"e": "outboundAccountPosition", "E": event_time, "u": event_time,
            "B": [{"a": b["asset"], "f": fmt(b["available"]), "l": fmt(b["locked"])}
                  for b in balances]}


def balance_update(*, asset: str, delta, clear_time: int, event_time: int) -> dict[str, Any]:
    """``balanceUpdate`` (deposits, withdrawals, adjustments): the signed delta."""
    return {"e": "balanceUpdate", "E": event_time, "a": asset, "d": fmt(delta),
            "T": clear_time}


def _as_ms(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return int(value) if value.isdigit() else 0
    return value
