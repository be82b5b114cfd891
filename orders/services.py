"""Order entry: the one service behind every front door (DESIGN §1).

``order_place`` validates against the market's rules, then in ONE durable transaction
inserts the order and reserves its funds (DESIGN §5); only after the commit is the order
announced on the market's stream. Cancels, cancel-all, amendments and market status
changes are persisted as ``OrderCommand`` rows first and announced the same way, so every
book sees one totally ordered sequence of commands and the matcher's sweep can re-announce
anything Redis lost.
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_delete, post_save

from accounts.selectors import user_trading_check
from exchange.api import ServiceError
from marketdata.models import Market, Trade
from matching import streams
from orders import validation
from orders.errors import order_error
from orders.funds import funds_reserve, uses_ledger
from orders.models import Order, OrderCommand
from wallets.services.balances import balance_reserve_with_insert

OPEN = (Order.Status.NEW, Order.Status.PARTIALLY_FILLED)
# A market's rules and last trade price are reused for this long per process (two queries
# fewer per placement). Safe because the insert statement re-reads the market's status
# (a halt rejects at once, in every process) and the reference price only feeds the loose
# x5 / /5 percent-price filter of limit orders; market orders, whose reservation depends on
# it, read it fresh. Rule edits (tick size...) in the admin reach other processes within
# this time; saves in this process (admin, halts, tests) clear the cache at once.
MARKET_CACHE_SECONDS = 0.5
_market_cache: dict[str, tuple[float, Market, Decimal | None]] = {}


def market_cache_clear(**_kwargs) -> None:
    _market_cache.clear()


post_save.connect(market_cache_clear, sender=Market, dispatch_uid="orders-market-cache-save")
post_delete.connect(market_cache_clear, sender=Market, dispatch_uid="orders-market-cache-del")
post_save.connect(market_cache_clear, sender=Trade, dispatch_uid="orders-market-cache-trade")


def _trading_check(user) -> None:
    user_trading_check(user=user)


def _market(market) -> Market:
    if isinstance(market, Market):
        return market
    found = Market.objects.select_related("base", "quote").filter(symbol=str(market)).first()
    if found is None:
        raise order_error("unknown_market", f"Unknown market {market!r}.", market="unknown")
    return found


def _market_for_entry(market) -> tuple[Market, object]:
    """The market and its reference price for validating a placement: from the
    per-process cache (``MARKET_CACHE_SECONDS``) when named by symbol; a Market instance
    passed by the caller is used as is (reference read fresh)."""
    if isinstance(market, Market):
        return market, validation.FETCH
    symbol = str(market)
    now = time.monotonic()
    hit = _market_cache.get(symbol)
    if hit is not None and hit[0] > now:
        return hit[1], hit[2]
    found = _market(symbol)
    ref = validation.reference_price(found)
    _market_cache[symbol] = (now + MARKET_CACHE_SECONDS, found, ref)
    return found, ref


def _announce_on_commit(symbol: str, entries: list[tuple[str, int]]) -> None:
    transaction.on_commit(lambda: streams.announce(symbol, entries))


def _same_request(order: Order, spec: validation.OrderSpec) -> bool:
    return (order.market_id == spec.market.id and order.side == spec.side
            and order.type == spec.type and order.price == spec.price
            and order.quantity == spec.quantity and order.stop_price == spec.stop_price
            and order.quote_order_qty == spec.quote_order_qty)


def _existing(user, client_order_id: str | None, idempotency_key: str | None) -> Order | None:
    if idempotency_key:
        found = Order.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if found is not None:
            return found
    if client_order_id:
        return Order.objects.filter(user=user, client_order_id=client_order_id,
                                    status__in=OPEN).first()
    return None


def _replay(existing: Order, spec: validation.OrderSpec, idempotency_key: str | None) -> Order:
    """A retried request gets the order it created; a different request reusing the same
    client order id or idempotency key is refused."""
    if _same_request(existing, spec):
        return existing
    if idempotency_key and existing.idempotency_key == idempotency_key:
        raise order_error("idempotency_key_reused",
                          "This Idempotency-Key was used for a different order.")
    raise order_error("duplicate_client_order_id",
                      "An open order already uses this client order id.",
                      client_order_id="duplicate")


def order_place(*, user, market, side: str, type: str, quantity: Decimal | None = None,
                price: Decimal | None = None, stop_price: Decimal | None = None,
                quote_order_qty: Decimal | None = None, time_in_force: str | None = "GTC",
                client_order_id: str | None = None, idempotency_key: str | None = None,
                stp_mode: str | None = None) -> Order:
    """Validate, reserve and insert an order; announce it after commit.

    Returns the new order (status NEW, not yet sequenced), or the existing one for a
    retried request (same client order id among open orders, or same idempotency key).
    Raises ``ServiceError`` with a code of ``orders.errors.ORDER_ERRORS``; nothing changes
    then. One durable transaction: the order insert and the balance row locked FOR UPDATE.
    """
    market, reference = _market_for_entry(market)
    _trading_check(user)
    spec = validation.order_spec(
        market=market, side=side, type=type, quantity=quantity, price=price,
        stop_price=stop_price, quote_order_qty=quote_order_qty, time_in_force=time_in_force,
        stp_mode=stp_mode, client_order_id=client_order_id, reference=reference,
    )
    # A client order id we just generated cannot name an existing order: skip the lookup
    # (one round trip per anonymous placement); the unique constraint still holds.
    given_client_id = spec.client_order_id if (client_order_id or "").strip() else None
    existing = _existing(user, given_client_id, idempotency_key)
    if existing is not None:
        return _replay(existing, spec, idempotency_key)
    try:
        order = _insert_and_reserve(user=user, spec=spec, idempotency_key=idempotency_key)
    except IntegrityError:
        # A concurrent request with the same client order id / idempotency key won.
        existing = _existing(user, spec.client_order_id, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, spec, idempotency_key)
    return order


def _insert_and_reserve(*, user, spec: validation.OrderSpec,
                        idempotency_key: str | None) -> Order:
    market = spec.market
    order = Order(
        user=user, market=market, client_order_id=spec.client_order_id,
        idempotency_key=idempotency_key or None, side=spec.side, type=spec.type,
        time_in_force=spec.time_in_force, stp_mode=spec.stp_mode, price=spec.price,
        stop_price=spec.stop_price, quantity=spec.quantity,
        quote_order_qty=spec.quote_order_qty, reserved_asset_id=spec.reserve_asset_id,
        reserved_amount=spec.reserve, reserve_remaining=spec.reserve,
    )
    if not uses_ledger():  # pragma: no cover - TODO(wallets): remove with the fallbacks
        with transaction.atomic(durable=True):
            order.save(force_insert=True)
            funds_reserve(user_id=user.pk, asset_id=spec.reserve_asset_id,
                          amount=spec.reserve, ref=f"order:{order.pk}")
            _announce_on_commit(market.symbol, [(streams.PLACE, order.pk)])
        return order
    if connection.in_atomic_block or not connection.get_autocommit():
        # Inside a caller's transaction only in tests (durable raises otherwise, as it
        # always did): announce when that transaction commits.
        with transaction.atomic(durable=True):
            _insert_reserving(order, spec)
            _announce_on_commit(market.symbol, [(streams.PLACE, order.pk)])
    else:
        # One statement in autocommit is its own transaction: committed on return.
        _insert_reserving(order, spec)
        streams.announce(market.symbol, [(streams.PLACE, order.pk)])
    return order


@functools.cache
def _order_insert_template() -> tuple[str, tuple]:
    """``INSERT INTO orders_order (...) SELECT %s::type, ... FROM reserved RETURNING id``
    over every concrete field of the model but the id (built once per process)."""
    fields = tuple(f for f in Order._meta.local_concrete_fields if not f.primary_key)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)
    table = connection.ops.quote_name(Order._meta.db_table)
    sql = (f"INSERT INTO {table} ({columns}) "  # noqa: S608 - model metadata
           f"SELECT {values} FROM reserved RETURNING id")
    return sql, fields


def _order_insert_sql(order: Order) -> tuple[str, list]:
    """The insert of ``order`` with every field prepared as Django's own save would
    (defaults, auto_now timestamps, database preparation)."""
    sql, fields = _order_insert_template()
    return sql, [f.get_db_prep_save(f.pre_save(order, True), connection) for f in fields]


def _insert_reserving(order: Order, spec: validation.OrderSpec) -> None:
    """The order row, its reservation and the ledger entry in one statement; the market
    must still be TRADING in the statement's snapshot (a halt applies at once, whatever
    the market cache says). Raises market_closed / insufficient_balance, nothing
    written."""
    sql, params = _order_insert_sql(order)
    row, gate_passed = balance_reserve_with_insert(
        user_id=order.user_id, asset_id=spec.reserve_asset_id, amount=spec.reserve,
        ref_type="order", insert_sql=sql, insert_params=params,
        gate_sql=(f"SELECT 1 FROM {Market._meta.db_table} "  # noqa: S608
                  "WHERE id = %s AND status = %s"),
        gate_params=[spec.market.pk, Market.Status.TRADING],
    )
    if not gate_passed:
        _market_cache.pop(spec.market.symbol, None)
        raise order_error("market_closed", f"{spec.market.symbol} is not trading.")
    if row is None:
        raise ServiceError("insufficient_balance", "Insufficient available balance.",
                           fields={"amount": {"code": "insufficient_balance",
                                              "message": "Insufficient available balance."}})
    order.pk = row[0]
    order._state.adding = False
    order._state.db = "default"


def _order_for_user(*, user, order_id=None, client_order_id=None, for_update=False) -> Order:
    qs = Order.objects.select_related("market")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    if order_id is not None:
        order = qs.filter(user=user, pk=order_id).first()
    elif client_order_id:
        order = (qs.filter(user=user, client_order_id=client_order_id)
                 .order_by("-id").first())
    else:
        raise order_error("missing_parameter", "Give an order id or a client order id.")
    if order is None:
        raise order_error("order_not_found", "Order not found.")
    return order


def order_cancel(*, user, order_id: int | None = None,
                 client_order_id: str | None = None) -> Order:
    """Ask the matcher to cancel an open order of ``user``. Returns the order as it is now
    (still open until the matcher applies the cancel; use ``order_wait_final``)."""
    with transaction.atomic(durable=True):
        order = _order_for_user(user=user, order_id=order_id, client_order_id=client_order_id,
                                for_update=True)
        if not order.is_open:
            raise order_error("order_not_open", f"Order is already {order.status}.")
        command = OrderCommand.objects.create(market_id=order.market_id, user=user,
                                              kind=OrderCommand.Kind.CANCEL, order=order)
        if not order.cancel_requested:
            order.cancel_requested = True
            order.save(update_fields=["cancel_requested", "updated_at"])
        _announce_on_commit(order.market.symbol, [(streams.COMMAND, command.pk)])
    return order


def order_cancel_all(*, user, market=None) -> list[Order]:
    """Cancel every open order of ``user`` (in one market, or all): one CANCEL_ALL command
    per market that has open orders. Returns the orders open at the time of the request."""
    market_obj = _market(market) if market is not None else None
    with transaction.atomic(durable=True):
        qs = Order.objects.select_related("market").filter(user=user, status__in=OPEN)
        if market_obj is not None:
            qs = qs.filter(market=market_obj)
        orders = list(qs.order_by("id"))
        markets = {o.market_id: o.market for o in orders}
        for market_id, mkt in sorted(markets.items()):
            command = OrderCommand.objects.create(market_id=market_id, user=user,
                                                  kind=OrderCommand.Kind.CANCEL_ALL)
            _announce_on_commit(mkt.symbol, [(streams.COMMAND, command.pk)])
        Order.objects.filter(pk__in=[o.pk for o in orders]).update(cancel_requested=True)
    return orders


def order_amend(*, user, order_id: int, quantity: Decimal | None = None,
                price: Decimal | None = None) -> Order:
    """Amend a resting limit order. ``quantity`` is the new TOTAL quantity (Binance
    semantics: it must exceed what is already filled). Reducing it keeps time priority; a
    new price or a larger quantity loses it. A buy that needs more quote (or a sell more
    base) reserves the difference now; the matcher releases what turns out unneeded."""
    with transaction.atomic(durable=True):
        order = _order_for_user(user=user, order_id=order_id, for_update=True)
        if OrderCommand.objects.filter(order=order, kind=OrderCommand.Kind.AMEND,
                                       sequence__isnull=True).exists():
            # Its reservation depends on the pending one's outcome: one at a time.
            raise order_error("amend_pending", "An amendment of this order is still pending.")
        market = Market.objects.select_related("base", "quote").get(pk=order.market_id)
        extra = validation.amend_extra_reserve(market=market, order=order, quantity=quantity,
                                               price=price)
        if extra > 0:
            funds_reserve(user_id=user.pk, asset_id=order.reserved_asset_id, amount=extra,
                          ref=f"order:{order.pk}:amend")
            order.reserve_remaining += extra
            order.save(update_fields=["reserve_remaining", "updated_at"])
        command = OrderCommand.objects.create(
            market=market, user=user, kind=OrderCommand.Kind.AMEND, order=order,
            new_price=price, new_quantity=quantity, extra_reserve=extra,
        )
        _announce_on_commit(market.symbol, [(streams.COMMAND, command.pk)])
    return order


def market_status_set(*, market, status: str, staff_user=None) -> Market:
    """Halt, resume or set cancel-only. Stored on the market (entry rejects placements at
    once) and sent down the market's stream as a control command (the running book follows
    within a batch)."""
    if status not in Market.Status.values:
        raise order_error("missing_parameter", f"Unknown market status {status!r}.")
    with transaction.atomic(durable=True):
        market = Market.objects.select_for_update().get(pk=_market(market).pk)
        market.status = status
        market.save(update_fields=["status"])
        command = OrderCommand.objects.create(market=market, user=staff_user,
                                              kind=OrderCommand.Kind.STATUS, status=status)
        _announce_on_commit(market.symbol, [(streams.COMMAND, command.pk)])
    market_cache_clear()
    return market


def market_cancel_all_orders(*, market, staff_user=None) -> int:
    """Cancel every open order of a market (staff). Returns how many were asked to cancel."""
    market = _market(market)
    with transaction.atomic(durable=True):
        ids = list(Order.objects.filter(market=market, status__in=OPEN)
                   .order_by("id").values_list("id", flat=True))
        commands = OrderCommand.objects.bulk_create([
            OrderCommand(market=market, user=staff_user, kind=OrderCommand.Kind.CANCEL,
                         order_id=pk) for pk in ids
        ])
        Order.objects.filter(pk__in=ids).update(cancel_requested=True)
        _announce_on_commit(market.symbol, [(streams.COMMAND, c.pk) for c in commands])
    return len(ids)


def order_wait_final(*, order: Order, timeout: float) -> Order:
    """Wait up to ``timeout`` seconds for the matcher to have applied ``order`` (it has a
    sequence: it rests, or it ended), then return it fresh from Postgres.

    Listens on the market's commit channel (the matcher publishes after each commit) and
    re-reads the row on each message, so the wait costs one query per committed batch."""
    deadline = time.monotonic() + max(0.0, min(timeout, 5.0))
    symbol = order.market.symbol
    pubsub = None
    try:
        try:
            pubsub = streams.client().pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(streams.committed_channel(symbol))
        except Exception:
            pubsub = None
        while True:
            fresh = Order.objects.select_related("market").get(pk=order.pk)
            # Done: the matcher applied it and no cancel of it is still pending.
            if not fresh.is_open or (fresh.sequence is not None and not fresh.cancel_requested):
                return fresh
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return fresh
            if pubsub is not None:
                try:
                    pubsub.get_message(timeout=min(remaining, 0.25))
                except Exception:
                    pubsub = None
            else:
                time.sleep(min(remaining, 0.02))
    finally:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()


def new_client_order_id() -> str:
    return uuid.uuid4().hex[:22]
