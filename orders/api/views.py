"""Native REST API for traders under /api/v1 (session or signed API key). Thin: parse,
call one service or selector, render. Amounts are decimal strings on the wire."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange.api import ServiceError
from orders import selectors, services
from orders.api import schemas
from orders.api.render import order_json, page, trade_json

WAIT_SECONDS = 1.0
RESPONSE_TYPES = ("ACK", "RESULT", "FULL")


def _first(data, *names):
    for name in names:
        value = data.get(name)
        if value not in (None, ""):
            return value
    return None


def _int(value, name: str) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise ServiceError("invalid", f"{name} must be an integer.",
                           fields={name: {"code": "invalid", "message": "Not an integer."}}
                           ) from None


@schemas.ORDERS
class OrdersView(APIView):
    """GET: the user's orders, newest first (``?market&status&limit&page``).
    POST: place an order. Body ``{market|instrument, side, type, quantity, price,
    stop_price, quote_order_qty, time_in_force, client_order_id|client_id, stp_mode,
    response_type}``; header ``Idempotency-Key``. ``response_type`` ACK returns at once;
    RESULT/FULL (default FULL) wait up to 1 s for the matcher so the answer can carry the
    outcome (and, FULL, the fills)."""

    @property
    def required_scope(self):
        return "trade" if self.request.method == "POST" else "read"

    def get(self, request):
        qs = selectors.orders_history_for_user(user=request.user,
                                               market=request.query_params.get("market"),
                                               status=request.query_params.get("status"))
        return Response(page(request, qs, order_json))

    def post(self, request):
        data = request.data
        response_type = str(data.get("response_type") or data.get("newOrderRespType")
                            or "FULL").upper()
        if response_type not in RESPONSE_TYPES:
            raise ServiceError("invalid", "response_type must be ACK, RESULT or FULL.")
        order = services.order_place(
            user=request.user, market=_first(data, "market", "instrument", "symbol"),
            side=data.get("side"), type=data.get("type"),
            quantity=_first(data, "quantity"), price=_first(data, "price"),
            stop_price=_first(data, "stop_price"),
            quote_order_qty=_first(data, "quote_order_qty"),
            time_in_force=_first(data, "time_in_force"),
            client_order_id=_first(data, "client_order_id", "client_id"),
            idempotency_key=request.headers.get("Idempotency-Key"),
            stp_mode=_first(data, "stp_mode"),
        )
        if response_type != "ACK":
            order = services.order_wait_final(order=order, timeout=WAIT_SECONDS)
        body = order_json(order)
        if response_type == "FULL":
            body["fills"] = [trade_json(t, request.user) for t in
                             selectors.trades_for_user(user=request.user, order_id=order.pk)
                             .order_by("id")]
        return Response(body, status=status.HTTP_201_CREATED)


@schemas.OPEN_ORDERS
class OpenOrdersView(APIView):
    required_scope = "read"

    def get(self, request):
        qs = selectors.orders_open_for_user(user=request.user,
                                            market=request.query_params.get("market"))
        return Response(page(request, qs, order_json))


@schemas.ORDER_DETAIL
class OrderDetailView(APIView):
    """GET one order (by id, or ``by-client-id/<id>``); DELETE cancels it."""

    @property
    def required_scope(self):
        return "read" if self.request.method == "GET" else "trade"

    def _key(self, kwargs):
        if "client_order_id" in kwargs:
            return {"client_order_id": kwargs["client_order_id"]}
        return {"order_id": kwargs["order_id"]}

    def get(self, request, **kwargs):
        order = selectors.order_get_for_user(user=request.user, **self._key(kwargs))
        return Response(order_json(order))

    def delete(self, request, **kwargs):
        order = services.order_cancel(user=request.user, **self._key(kwargs))
        if request.query_params.get("wait", "1") != "0":
            order = services.order_wait_final(order=order, timeout=WAIT_SECONDS)
        return Response(order_json(order))


@schemas.ORDER_AMEND
class OrderAmendView(APIView):
    """POST ``{quantity?, price?}``: quantity is the new total quantity; a reduction keeps
    time priority, a new price or a larger quantity loses it."""

    required_scope = "trade"

    def post(self, request, order_id: int):
        order = services.order_amend(user=request.user, order_id=order_id,
                                     quantity=_first(request.data, "quantity"),
                                     price=_first(request.data, "price"))
        return Response(order_json(order), status=status.HTTP_202_ACCEPTED)


@schemas.CANCEL_ALL
class CancelAllView(APIView):
    required_scope = "trade"

    def post(self, request):
        market = _first(request.data, "market", "instrument") or request.query_params.get(
            "market")
        orders = services.order_cancel_all(user=request.user, market=market)
        return Response({"count": len(orders), "orders": [order_json(o) for o in orders]},
                        status=status.HTTP_202_ACCEPTED)


@schemas.MY_TRADES
class MyTradesView(APIView):
    required_scope = "read"

    def get(self, request):
        order_id = request.query_params.get("order_id")
        qs = selectors.trades_for_user(
            user=request.user, market=request.query_params.get("market"),
            order_id=_int(order_id, "order_id") if order_id else None)
        return Response(page(request, qs, lambda t: trade_json(t, request.user)))
