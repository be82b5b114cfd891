"""Signed trading endpoints (Binance "Trading endpoints"): each parses Binance's
parameters, calls ONE orders service, and renders Binance's shape. Numbers are parsed by
``Params.decimal`` (Binance's decimal rule, -1100 otherwise) before any service sees them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.db.models import Q
from rest_framework.response import Response

from exchange.api import ServiceError
from exchange.binance import errors as E
from exchange.binance import formatters as F
from exchange.binance.errors import BinanceError, translate_service_error
from exchange.binance.views.base import SignedView, TradeView
from marketdata.models import Trade
from orders import services as order_services
from orders.models import Order

# Binance: FULL by default for MARKET and LIMIT, ACK for the other types.
RESP_TYPES = ("ACK", "RESULT", "FULL")
FULL_WAIT_SECONDS = 1.0
SIDE_ERROR = (E.INVALID_SIDE, "Invalid side.")
TYPE_ERROR = (E.INVALID_ORDER_TYPE, "Invalid orderType.")
TIF_ERROR = (E.INVALID_TIF, "Invalid timeInForce.")


def new_order_args(p, market) -> dict:
    """``order_place`` keyword arguments from Binance's new-order parameters."""
    if p.raw("icebergQty") not in (None, "0") or p.raw("trailingDelta") is not None:
        raise BinanceError(E.UNKNOWN_ORDER_COMPOSITION, "Unsupported order combination.")
    return {
        "market": market,
        "side": p.choice("side", Order.Side.values, required=True, error=SIDE_ERROR),
        "type": p.choice("type", Order.Type.values, required=True, error=TYPE_ERROR),
        "time_in_force": p.choice("timeInForce", Order.TimeInForce.values, error=TIF_ERROR),
        "quantity": p.decimal("quantity"),
        "quote_order_qty": p.decimal("quoteOrderQty"),
        "price": p.decimal("price"),
        "stop_price": p.decimal("stopPrice"),
        "client_order_id": p.client_order_id("newClientOrderId"),
        "stp_mode": p.choice("selfTradePreventionMode", Order.StpMode.values),
    }


def fills_of(order: Order) -> list[Trade]:
    return list(Trade.objects.filter(Q(buy_order=order) | Q(sell_order=order)).order_by("id"))


def order_response(order: Order, resp_type: str) -> dict:
    symbol = order.market.binance_symbol
    if resp_type == "ACK":
        return F.order_ack(order, symbol)
    body = F.order_result(order, symbol)
    if resp_type == "FULL":
        base, quote = order.market.base.symbol, order.market.quote.symbol
        body["fills"] = [F.order_fill(t, order, base_asset=base, quote_asset=quote)
                         for t in fills_of(order)]
    return body


def _resp_type(p, order_type: str) -> str:
    default = "FULL" if order_type in ("MARKET", "LIMIT") else "ACK"
    return p.choice("newOrderRespType", RESP_TYPES, default=default)


def _load(order: Order) -> Order:
    return Order.objects.select_related("market__base", "market__quote").get(pk=order.pk)


class NewOrder(TradeView):
    """POST place, GET query, DELETE cancel one order."""

    def post(self, request):
        p = self.params()
        market = p.market()
        args = new_order_args(p, market)
        resp_type = _resp_type(p, args["type"])
        order = order_services.order_place(user=request.user, **args)
        if resp_type != "ACK":
            order = order_services.order_wait_final(order=order, timeout=FULL_WAIT_SECONDS)
        return Response(order_response(_load(order), resp_type))

    def get(self, request):
        p = self.params()
        order = _find_order(request.user, p)
        return Response(F.order_query(order, order.market.binance_symbol))

    def delete(self, request):
        self.is_cancel = True
        p = self.params()
        market = p.market()
        order_id = p.integer("orderId", minimum=0)
        orig = p.raw("origClientOrderId")
        if order_id is None and orig is None:
            raise BinanceError(E.MANDATORY_PARAM, "Param 'origClientOrderId' or 'orderId' "
                               "must be sent, but both were empty/null!")
        order = _cancel(request.user, market, order_id=order_id, client_order_id=orig)
        return Response(F.order_cancelled(order, market.binance_symbol,
                                          orig_client_order_id=orig))

    def get_permissions(self):
        if self.request.method == "GET":
            self.required_scope = "read"
        return super().get_permissions()


def _find_order(user, p) -> Order:
    market = p.market()
    order_id = p.integer("orderId", minimum=0)
    orig = p.raw("origClientOrderId")
    qs = Order.objects.select_related("market").filter(user=user, market=market)
    if order_id is not None:
        order = qs.filter(pk=order_id).first()
    elif orig is not None:
        order = qs.filter(client_order_id=orig).order_by("-id").first()
    else:
        raise BinanceError(E.MANDATORY_PARAM, "Param 'origClientOrderId' or 'orderId' must be "
                           "sent, but both were empty/null!")
    if order is None:
        raise BinanceError(E.NO_SUCH_ORDER, "Order does not exist.")
    return order


def _cancel(user, market, *, order_id=None, client_order_id=None) -> Order:
    """Cancel through the service, then wait (bounded) for the matcher to apply it so the
    response reports the final status as Binance's does."""
    if order_id is not None and not Order.objects.filter(
        pk=order_id, user=user, market=market
    ).exists():
        raise BinanceError(E.CANCEL_REJECTED, "Unknown order sent.")
    order = order_services.order_cancel(user=user, order_id=order_id,
                                        client_order_id=client_order_id)
    if order.market_id != market.id:
        raise BinanceError(E.CANCEL_REJECTED, "Unknown order sent.")
    return _load(order_services.order_wait_final(order=order, timeout=FULL_WAIT_SECONDS))


class TestOrder(TradeView):
    """``order/test``: validates like a new order (filters, account state) and places
    nothing."""

    counts_orders = False

    def post(self, request):
        from orders import validation

        p = self.params()
        market = p.market()
        args = new_order_args(p, market)
        _resp_type(p, args["type"])
        order_services._trading_check(request.user)
        validation.order_spec(
            market=market, side=args["side"], type=args["type"], quantity=args["quantity"],
            price=args["price"], stop_price=args["stop_price"],
            quote_order_qty=args["quote_order_qty"], time_in_force=args["time_in_force"],
            stp_mode=args["stp_mode"], client_order_id=args["client_order_id"],
        )
        if p.boolean("computeCommissionRates"):
            return Response({
                "standardCommissionForOrder": {"maker": F.fmt(market.maker_fee),
                                               "taker": F.fmt(market.taker_fee)},
                "taxCommissionForOrder": {"maker": F.ZERO, "taker": F.ZERO},
                "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                             "discountAsset": None, "discount": F.ZERO},
            })
        return Response({})


class OpenOrders(TradeView):
    """GET the open orders (one symbol or all); DELETE cancels all of one symbol."""

    def get_permissions(self):
        if self.request.method == "GET":
            self.required_scope = "read"
        return super().get_permissions()

    def get(self, request):
        p = self.params()
        market = p.market(required=False)
        qs = Order.objects.select_related("market").filter(
            user=request.user, status__in=Order.OPEN_STATUSES)
        if market is not None:
            qs = qs.filter(market=market)
        return Response([F.order_query(o, o.market.binance_symbol) for o in qs.order_by("id")])

    def delete(self, request):
        self.is_cancel = True
        market = self.params().market()
        orders = order_services.order_cancel_all(user=request.user, market=market)
        if not orders:
            raise BinanceError(E.CANCEL_REJECTED, "Unknown order sent.")
        deadline = time.monotonic() + FULL_WAIT_SECONDS
        out = []
        for order in orders:
            final = order_services.order_wait_final(
                order=order, timeout=max(0.0, deadline - time.monotonic()))
            out.append(F.order_cancelled(_load(final), market.binance_symbol))
        return Response(out)


class AllOrders(SignedView):
    rate_limit_weight = 20

    def get(self, request):
        p = self.params()
        market = p.market()
        order_id = p.integer("orderId", minimum=0)
        start, end = p.integer("startTime", minimum=0), p.integer("endTime", minimum=0)
        limit = p.integer("limit", default=500, minimum=1, maximum=1000)
        qs = Order.objects.select_related("market").filter(user=request.user, market=market)
        if order_id is not None:
            qs = qs.filter(pk__gte=order_id)
        if start is not None:
            qs = qs.filter(created_at__gte=_dt(start))
        if end is not None:
            qs = qs.filter(created_at__lte=_dt(end))
        if order_id is None and start is None:
            rows = list(qs.order_by("-id")[:limit])
            rows.reverse()
        else:
            rows = list(qs.order_by("id")[:limit])
        return Response([F.order_query(o, market.binance_symbol) for o in rows])


class CancelReplace(TradeView):
    """``order/cancelReplace``: cancel an order (waiting for the matcher to release its
    funds), then place the new one. ``cancelReplaceMode`` STOP_ON_FAILURE does not place
    when the cancel failed; ALLOW_FAILURE does."""

    def post(self, request):
        p = self.params()
        market = p.market()
        mode = p.choice("cancelReplaceMode", ("STOP_ON_FAILURE", "ALLOW_FAILURE"),
                        required=True)
        cancel_id = p.integer("cancelOrderId", minimum=0)
        cancel_orig = p.raw("cancelOrigClientOrderId")
        if cancel_id is None and cancel_orig is None:
            raise BinanceError(E.MANDATORY_PARAM, "Param 'cancelOrigClientOrderId' or "
                               "'cancelOrderId' must be sent, but both were empty/null!")
        args = new_order_args(p, market)
        resp_type = _resp_type(p, args["type"])
        result = {"cancelResult": "SUCCESS", "newOrderResult": "NOT_ATTEMPTED",
                  "cancelResponse": None, "newOrderResponse": None}
        try:
            cancelled = _cancel(request.user, market, order_id=cancel_id,
                                client_order_id=cancel_orig)
            result["cancelResponse"] = F.order_cancelled(cancelled, market.binance_symbol,
                                                         orig_client_order_id=cancel_orig)
        except (BinanceError, ServiceError) as exc:
            err = exc if isinstance(exc, BinanceError) else translate_service_error(
                exc, cancel=True)
            result["cancelResult"] = "FAILURE"
            result["cancelResponse"] = {"code": err.code, "msg": err.msg}
            if mode == "STOP_ON_FAILURE":
                return _cancel_replace_failed(result, partial=False)
        try:
            order = order_services.order_place(user=request.user, **args)
            if resp_type != "ACK":
                order = order_services.order_wait_final(order=order, timeout=FULL_WAIT_SECONDS)
            result["newOrderResult"] = "SUCCESS"
            result["newOrderResponse"] = order_response(_load(order), resp_type)
        except ServiceError as exc:
            err = translate_service_error(exc)
            result["newOrderResult"] = "FAILURE"
            result["newOrderResponse"] = {"code": err.code, "msg": err.msg}
        if result["cancelResult"] == "FAILURE" or result["newOrderResult"] == "FAILURE":
            both = result["cancelResult"] == "FAILURE" and result["newOrderResult"] == "FAILURE"
            return _cancel_replace_failed(result, partial=not both)
        return Response(result)


def _cancel_replace_failed(result: dict, *, partial: bool) -> Response:
    if partial:
        body = {"code": E.CANCEL_REPLACE_PARTIAL, "msg": "Order cancel-replace partially failed.",
                "data": result}
    else:
        body = {"code": -2022, "msg": "Order cancel-replace failed.", "data": result}
    return Response(body, status=409 if partial else 400)


class Account(SignedView):
    rate_limit_weight = 20

    def get(self, request):
        from marketdata.models import Market
        from wallets.models import Balance

        p = self.params()
        omit_zero = p.boolean("omitZeroBalances")
        rows = Balance.objects.filter(user=request.user).select_related("asset").order_by(
            "asset__symbol")
        balances = [F.balance(b.asset.symbol, b.available, b.locked) for b in rows
                    if not (omit_zero and not b.available and not b.locked)]
        market = Market.objects.order_by("id").first()
        maker = market.maker_fee if market else 0
        taker = market.taker_fee if market else 0
        user = request.user
        can_trade = not user.is_frozen and user.kyc_tier >= 1
        return Response({
            "makerCommission": int(maker * 10000), "takerCommission": int(taker * 10000),
            "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": F.fmt(maker), "taker": F.fmt(taker),
                                "buyer": F.ZERO, "seller": F.ZERO},
            "canTrade": can_trade and request.auth.has_scope("trade"),
            "canWithdraw": can_trade and request.auth.has_scope("withdraw"),
            "canDeposit": True, "brokered": False, "requireSelfTradePrevention": False,
            "preventSor": False, "updateTime": int(time.time() * 1000),
            "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"],
            "uid": user.pk,
        })


class MyTrades(SignedView):
    rate_limit_weight = 20

    def get(self, request):
        p = self.params()
        market = p.market()
        order_id = p.integer("orderId", minimum=0)
        from_id = p.integer("fromId", minimum=0)
        start, end = p.integer("startTime", minimum=0), p.integer("endTime", minimum=0)
        limit = p.integer("limit", default=500, minimum=1, maximum=1000)
        user = request.user
        qs = Trade.objects.filter(Q(buyer=user) | Q(seller=user), market=market)
        if order_id is not None:
            qs = qs.filter(Q(buy_order_id=order_id, buyer=user)
                           | Q(sell_order_id=order_id, seller=user))
        if from_id is not None:
            qs = qs.filter(id__gte=from_id)
        if start is not None:
            qs = qs.filter(created_at__gte=_dt(start))
        if end is not None:
            qs = qs.filter(created_at__lte=_dt(end))
        if from_id is None and start is None:
            rows = list(qs.order_by("-id")[:limit])
            rows.reverse()
        else:
            rows = list(qs.order_by("id")[:limit])
        base, quote = market.base.symbol, market.quote.symbol
        return Response([F.my_trade(t, user_id=user.pk, symbol=market.binance_symbol,
                                    base_asset=base, quote_asset=quote) for t in rows])


class OrderRateLimit(SignedView):
    rate_limit_weight = 40
    counts_orders = True

    def get(self, request):
        from datetime import timedelta

        from django.conf import settings
        from django.utils import timezone

        now = timezone.now()
        qs = Order.objects.filter(user=request.user)
        limits = getattr(settings, "API_ORDER_LIMITS", {}) or {}
        return Response([
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": int(limits.get("PER_10S", 100)),
             "count": qs.filter(created_at__gte=now - timedelta(seconds=10)).count()},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
             "limit": int(limits.get("PER_DAY", 200000)),
             "count": qs.filter(created_at__gte=now - timedelta(days=1)).count()},
        ])


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
