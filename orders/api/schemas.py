"""OpenAPI declarations of the order and trade endpoints of /api/v1 (drf-spectacular),
including the TradeOrders reference API (``POST /orders`` with ``Idempotency-Key``,
``GET /orders?limit&page``, ``GET /orders/{id}``, ``GET /trades?limit&page``). Schema only;
each view carries one ``@schemas.<NAME>`` decorator. Refusal codes are in docs/API.md."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from exchange.openapi import AUTH_ERRORS, error_responses

TAG = "orders"
SIDES = ["BUY", "SELL"]
TYPES = ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "LIMIT_MAKER"]
TIFS = ["GTC", "IOC", "FOK"]
STATUSES = ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "REJECTED"]
STP_MODES = ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "NONE"]
AMOUNT = "Decimal string, a multiple of the market's tick/step size (never rounded)."


def _dec(help_text: str = "Decimal string.", **kwargs):
    return serializers.CharField(help_text=help_text, **kwargs)


class OrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    market = serializers.CharField(help_text="e.g. BTC-USDT")
    side = serializers.ChoiceField(choices=SIDES)
    type = serializers.ChoiceField(choices=TYPES)
    time_in_force = serializers.ChoiceField(choices=TIFS)
    stp_mode = serializers.ChoiceField(choices=STP_MODES)
    status = serializers.ChoiceField(choices=STATUSES)
    reason = serializers.CharField(allow_blank=True, help_text="Why it was rejected/expired.")
    price = _dec(allow_null=True)
    stop_price = _dec(allow_null=True)
    quantity = _dec(allow_null=True)
    quote_order_qty = _dec(allow_null=True)
    filled_quantity = _dec()
    cumulative_quote = _dec()
    reserved_amount = _dec(help_text="What was reserved when the order was accepted.")
    cancel_requested = serializers.BooleanField()
    sequence = serializers.IntegerField(allow_null=True,
                                        help_text="Matcher sequence; null until sequenced.")
    created = serializers.IntegerField(help_text="Unix time, ms.")
    updated = serializers.IntegerField(help_text="Unix time, ms.")


class TradeOut(serializers.Serializer):
    id = serializers.IntegerField()
    market = serializers.CharField()
    price = _dec()
    quantity = _dec()
    quote_quantity = _dec()
    side = serializers.ChoiceField(choices=SIDES, help_text="My side in this trade.")
    order_id = serializers.IntegerField()
    fee = _dec()
    fee_asset = serializers.CharField()
    is_maker = serializers.BooleanField()
    time = serializers.IntegerField(help_text="Unix time, ms.")


class OrderPlacedOut(OrderOut):
    fills = TradeOut(many=True, required=False, help_text="With response_type FULL only.")


class _Page(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()


class OrderPageOut(_Page):
    results = OrderOut(many=True)


class TradePageOut(_Page):
    results = TradeOut(many=True)


class CancelAllOut(serializers.Serializer):
    count = serializers.IntegerField()
    orders = OrderOut(many=True)


class OrderIn(serializers.Serializer):
    market = serializers.CharField(required=False, help_text="e.g. BTC-USDT (or `instrument`)")
    instrument = serializers.CharField(required=False, help_text="Alias of `market`.")
    side = serializers.ChoiceField(choices=SIDES)
    type = serializers.ChoiceField(choices=TYPES)
    price = _dec(AMOUNT, required=False)
    quantity = _dec(AMOUNT, required=False)
    stop_price = _dec(AMOUNT, required=False)
    quote_order_qty = _dec("MARKET buys by quote amount instead of quantity.", required=False)
    time_in_force = serializers.ChoiceField(choices=TIFS, required=False)
    client_order_id = serializers.CharField(required=False, max_length=64,
                                            help_text="Unique per user; generated if absent.")
    client_id = serializers.CharField(required=False, help_text="Alias of client_order_id.")
    stp_mode = serializers.ChoiceField(choices=STP_MODES, required=False,
                                       help_text="Self-trade prevention; default EXPIRE_TAKER.")
    response_type = serializers.ChoiceField(
        choices=["ACK", "RESULT", "FULL"], required=False,
        help_text="ACK answers at once; RESULT/FULL (default) wait up to 1 s for the matcher.")


class AmendIn(serializers.Serializer):
    quantity = _dec("New total quantity.", required=False)
    price = _dec("New price.", required=False)


class CancelAllIn(serializers.Serializer):
    market = serializers.CharField(required=False, help_text="Only this market.")


def _example(name: str, value, *, request: bool = False, status: int = 200):
    if request:
        return OpenApiExample(name, value=value, request_only=True)
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


_ORDER = {"id": 1042, "client_order_id": "my-1", "market": "BTC-USDT", "side": "BUY",
          "type": "LIMIT", "time_in_force": "GTC", "stp_mode": "EXPIRE_TAKER",
          "status": "NEW", "reason": "", "price": "60000.00", "stop_price": None,
          "quantity": "0.0100", "quote_order_qty": None, "filled_quantity": "0.0000",
          "cumulative_quote": "0.00", "reserved_amount": "600.00",
          "cancel_requested": False, "sequence": 88, "created": 1735787045000,
          "updated": 1735787045010}
_TRADE = {"id": 5001, "market": "BTC-USDT", "price": "60000.00", "quantity": "0.0100",
          "quote_quantity": "600.0000", "side": "BUY", "order_id": 1042, "fee": "0.00001",
          "fee_asset": "BTC", "is_maker": False, "time": 1735787045020}
_PAGE = [OpenApiParameter("limit", int, description="1-500, default 100."),
         OpenApiParameter("page", int, description="1-based page number, default 1.")]
_MARKET = OpenApiParameter("market", str, description="Only this market, e.g. BTC-USDT.")
_SCOPE = " Session, or an API key with the `{}` scope."

ORDERS = extend_schema_view(
    get=extend_schema(
        operation_id="v1_orders_list", tags=[TAG], summary="My orders",
        description="Newest first, all states; page with `limit` and `page`."
                    + _SCOPE.format("read"),
        parameters=[_MARKET, OpenApiParameter("status", str, enum=STATUSES), *_PAGE],
        responses={200: OrderPageOut, **error_responses(400, *AUTH_ERRORS)},
        examples=[_example("page", {"page": 1, "limit": 100, "has_more": False,
                                    "results": [_ORDER]})]),
    post=extend_schema(
        operation_id="v1_orders_create", tags=[TAG], summary="Place an order",
        description="Validated against the market's rules, funds reserved, then matched. "
                    "A retried request with the same `Idempotency-Key` or client order id "
                    "returns 409 instead of a second order. Refusals: `price_filter`, "
                    "`lot_size`, `min_notional`, `percent_price`, `insufficient_balance`, "
                    "`market_closed`, `kyc_required`, ... (docs/API.md)." + _SCOPE.format("trade"),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                     description="Makes a retry safe.")],
        request=OrderIn,
        responses={201: OrderPlacedOut, **error_responses(400, *AUTH_ERRORS, 404, 409)},
        examples=[_example("limit buy", {"instrument": "BTC-USDT", "side": "BUY",
                                         "type": "LIMIT", "price": "60000.00",
                                         "quantity": "0.0100", "client_id": "my-1"},
                           request=True),
                  _example("placed", {**_ORDER, "fills": []}, status=201)]),
)

OPEN_ORDERS = extend_schema_view(get=extend_schema(
    tags=[TAG], summary="My open orders",
    description="NEW and PARTIALLY_FILLED orders." + _SCOPE.format("read"),
    parameters=[_MARKET, *_PAGE],
    responses={200: OrderPageOut, **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("page", {"page": 1, "limit": 100, "has_more": False,
                                "results": [_ORDER]})]))

ORDER_DETAIL = extend_schema_view(
    get=extend_schema(
        tags=[TAG], summary="One of my orders",
        description="By id or by client order id; another user's order is 404."
                    + _SCOPE.format("read"),
        responses={200: OrderOut, **error_responses(*AUTH_ERRORS, 404)},
        examples=[_example("order", _ORDER)]),
    delete=extend_schema(
        tags=[TAG], summary="Cancel an order",
        description="Waits up to 1 s for the matcher's outcome unless `wait=0`."
                    + _SCOPE.format("trade"),
        parameters=[OpenApiParameter("wait", str, enum=["0", "1"],
                                     description="0: answer without waiting.")],
        responses={200: OrderOut, **error_responses(400, *AUTH_ERRORS, 404)},
        examples=[_example("canceled", {**_ORDER, "status": "CANCELED"})]),
)

ORDER_AMEND = extend_schema_view(post=extend_schema(
    tags=[TAG], summary="Amend an order",
    description="`quantity` is the new total; a reduction keeps time priority, a new price "
                "or a larger quantity loses it." + _SCOPE.format("trade"),
    request=AmendIn,
    responses={202: OrderOut, **error_responses(400, *AUTH_ERRORS, 404, 409)},
    examples=[_example("reduce", {"quantity": "0.0050"}, request=True),
              _example("amended", {**_ORDER, "quantity": "0.0050"}, status=202)]))

CANCEL_ALL = extend_schema_view(post=extend_schema(
    tags=[TAG], summary="Cancel all my open orders",
    description="Optionally in one market (body or query `market`)." + _SCOPE.format("trade"),
    parameters=[_MARKET], request=CancelAllIn,
    responses={202: CancelAllOut, **error_responses(400, *AUTH_ERRORS, 404)},
    examples=[_example("all", {"market": "BTC-USDT"}, request=True),
              _example("canceled", {"count": 1, "orders": [_ORDER]}, status=202)]))

MY_TRADES = extend_schema_view(get=extend_schema(
    tags=[TAG], summary="My trades",
    description="Newest first, with my side, fee and maker flag." + _SCOPE.format("read"),
    parameters=[_MARKET, OpenApiParameter("order_id", int, description="Only this order's."),
                *_PAGE],
    responses={200: TradePageOut, **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("page", {"page": 1, "limit": 100, "has_more": False,
                                "results": [_TRADE]})]))
