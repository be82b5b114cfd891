"""Reads of orders and the user's trades (never another user's: callers pass ``user``)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from marketdata.models import Trade
from orders.errors import order_error
from orders.models import Order

OPEN = (Order.Status.NEW, Order.Status.PARTIALLY_FILLED)


def order_get_for_user(*, user, order_id: int | None = None,
                       client_order_id: str | None = None) -> Order:
    """The user's order by id, or by client order id (the newest with that id). Another
    user's order is "not found" (404)."""
    qs = Order.objects.select_related("market__base", "market__quote").filter(user=user)
    if order_id is not None:
        order = qs.filter(pk=order_id).first()
    elif client_order_id:
        order = qs.filter(client_order_id=client_order_id).order_by("-id").first()
    else:
        order = None
    if order is None:
        raise order_error("order_not_found", "Order not found.")
    return order


def orders_open_for_user(*, user, market: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.select_related("market__base", "market__quote").filter(
        user=user, status__in=OPEN)
    if market:
        qs = qs.filter(market__symbol=market)
    return qs.order_by("-id")


def orders_history_for_user(*, user, market: str | None = None,
                            status: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.select_related("market__base", "market__quote").filter(user=user)
    if market:
        qs = qs.filter(market__symbol=market)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def trades_for_user(*, user, market: str | None = None,
                    order_id: int | None = None) -> QuerySet[Trade]:
    qs = Trade.objects.select_related("market__base", "market__quote").filter(
        Q(buyer=user) | Q(seller=user))
    if market:
        qs = qs.filter(market__symbol=market)
    if order_id is not None:
        qs = qs.filter(Q(buy_order_id=order_id) | Q(sell_order_id=order_id))
    return qs.order_by("-id")
