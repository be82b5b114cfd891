"""One market in the matcher: its book, rebuild from Postgres, and the batch cycle
(load rows → apply to the engine → commit everything in one transaction).

Contract of :meth:`MarketRunner.process`: given stream entries in stream order, every
entry whose row is not yet sequenced is applied exactly once, in that order, and all of
its effects are committed in ONE transaction together with the checkpoint and the epoch;
rows already sequenced are skipped (a redelivered entry can never act twice). If the
commit fails the in-memory book is ahead of the truth: the caller discards this runner and
builds a new one.
"""

from __future__ import annotations

import time
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection, transaction

from matching.engine import (
    AmendOrder,
    BookStatus,
    CancelAll,
    CancelOrder,
    CommandRejected,
    MarketSpec,
    OrderAccepted,
    OrderAmended,
    OrderBook,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    OrderType,
    PlaceOrder,
    RestingOrder,
    SetStatus,
    Side,
    StpMode,
    TimeInForce,
    Traded,
)
from matching.worker import payloads
from matching.worker.crash import crash_point
from matching.worker.lease import Fenced
from orders.funds import SettlementFill, SettlementRelease, fee_compute, funds_settle

PRIORITY_SCALE = 10_000


def _lap(marks: dict, key, since: float) -> float:
    """Accumulate the time since ``since`` under ``key``; returns now."""
    now = time.perf_counter()
    marks[key] = marks.get(key, 0.0) + (now - since) * 1000
    return now


def _array(values) -> str:
    """A Postgres array literal for ints, Decimals, bools, None and plain words (statuses,
    reasons): psycopg's per-element array adaptation costs ~2 us per value, this ~0.2 us."""
    return "{" + ",".join(map(_element, values)) + "}"


def _element(value) -> str:
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "t" if value else "f"
    return str(value)

_ORDER_TYPES = {m.value: m for m in OrderType}
_TIFS = {m.value: m for m in TimeInForce}
_STP_MODES = {m.value: m for m in StpMode}


def _memo(convert, limit: int = 100_000):
    """``convert`` with a bounded cache (cleared when full). Only successful conversions
    are cached: a value that is not a multiple raises every time."""
    cache: dict = {}

    def cached(value):
        result = cache.get(value)
        if result is None:
            result = convert(value)
            if len(cache) >= limit:
                cache.clear()
            cache[value] = result
        return result

    return cached


# A bound on a batch transaction left open by a matcher that stopped running in the middle
# of it (SIGSTOP, a VM pause, a hung process): its row locks (the market's checkpoint,
# traders' balance rows shared with every market) would block the matcher that took its
# leases over, on every market, for as long as the pause lasts. A batch never waits
# seconds between two statements, so after this long Postgres ends the session; the paused
# matcher, if it wakes up, finds its commit failed and is fenced. Set per transaction
# (SET LOCAL), so it never outlives the batch on a connection shared with other code.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 5000
_tuned_connections: weakref.WeakSet = weakref.WeakSet()


def _session_tune() -> None:
    """Once per database connection: plan the batch's set-based statements for a table
    that is in memory. With the default ``random_page_cost`` (4, a spinning disk) the
    planner joins ``unnest(<1,000 ids>)`` to orders_order by hashing a sequential scan of
    the WHOLE table: 79 ms for a 1,000-row batch against a 50,000-order table, growing
    with the table, where the primary-key nested loop takes 27 ms and does not grow
    (EXPLAIN ANALYZE in docs/PERFORMANCE-orders.md). 1.1 is the usual SSD setting; the
    embedded server is started with it too (exchange/devservices.py)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw not in _tuned_connections:
        with connection.cursor() as cursor:
            cursor.execute("SET random_page_cost = 1.1")
        _tuned_connections.add(raw)


_ORDER_COLUMNS = ("id, user_id, side, type, time_in_force, stp_mode, price, stop_price, "
                  "quantity, quote_order_qty, filled_quantity, reserve_remaining, sequence, "
                  "status, market_id, triggered, priority")


# What the publisher needs of each changed order, already in its wire form: amounts as
# text and times as epoch milliseconds. Loading ~1,000 rows × 6 NUMERIC into Decimals and
# 2 timestamps into datetimes, only to turn them into strings and ints again, cost more
# than the UPDATE's own work on every batch.
_ORDER_UPDATE_RETURNING = (
    "o.id, o.user_id, o.client_order_id, o.side, o.type, o.time_in_force, o.status, "
    "o.price::text, o.stop_price::text, o.quantity::text, o.quote_order_qty::text, "
    "o.filled_quantity::text, o.cumulative_quote::text, o.reason, "
    "floor(extract(epoch FROM o.created_at) * 1000)::bigint, "
    "floor(extract(epoch FROM o.updated_at) * 1000)::bigint")


@dataclass(slots=True)
class OrderDelta:
    """What one batch does to one order (engine units; converted at commit)."""

    user_id: int
    is_buy: bool
    seq: int | None = None
    priority: int | None = None
    triggered: bool = False
    fill: int = 0  # steps
    quote: int = 0  # quote units
    reserve: int = 0  # consumed + released (quote units for a buy, steps for a sell)
    released: int = 0
    status: str | None = None
    reason: str | None = None
    price: int | None = None
    quantity: Decimal | None = None


@dataclass
class BatchResult:
    applied: int = 0
    placements: int = 0
    trades: list[dict] = field(default_factory=list)
    order_rows: list[tuple] = field(default_factory=list)
    fills_by_order: dict = field(default_factory=dict)
    touched_balances: set = field(default_factory=set)
    depth_update: dict | None = None
    match_ms: float = 0.0
    commit_ms: float = 0.0
    last_sequence: int = 0
    timings: dict = field(default_factory=dict)


@dataclass
class PreparedBatch:
    """A batch applied to the book and waiting for its commit (``MarketRunner.prepare``)."""

    result: BatchResult
    prev_seq: int  # the checkpoint this batch follows (fencing: it must still be there)
    seq: int
    depth_id: int
    deltas: dict
    fills: list
    log: list
    command_updates: list
    now: float
    keys: set  # (kind, row id) of the entries it applied or skipped


@dataclass(frozen=True)
class MarketInfo:
    id: int
    symbol: str
    base_id: int
    quote_id: int
    base_symbol: str
    quote_symbol: str
    base_precision: int
    quote_precision: int
    maker_fee: Decimal
    taker_fee: Decimal
    tick: Decimal
    step: Decimal
    band_bps: int | None
    reference_price: Decimal | None
    status: str

    @classmethod
    def load(cls, symbol: str) -> MarketInfo:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT m.id, m.symbol, m.base_id, m.quote_id, b.symbol, q.symbol, b.precision, "
                "q.precision, m.maker_fee, m.taker_fee, m.tick_size, m.step_size, "
                "m.price_band_pct, m.reference_price, m.status FROM marketdata_market m "
                "JOIN wallets_asset b ON b.id = m.base_id "
                "JOIN wallets_asset q ON q.id = m.quote_id WHERE m.symbol = %s", [symbol])
            row = cursor.fetchone()
        if row is None:
            raise LookupError(f"unknown market {symbol}")
        band = row[12]
        band_bps = int(band * 100) if band is not None and band > 0 else None
        return cls(*row[:12], band_bps, row[13], row[14])


class MarketRunner:
    """The book of one market and everything needed to commit its batches. Not
    thread-safe; one per market per matcher process, valid for one epoch."""

    def __init__(self, info: MarketInfo, *, epoch: int, depth_levels: int = 1000):
        self.info = info
        self.epoch = epoch
        self.depth_levels = depth_levels
        self.spec = MarketSpec(tick_size=info.tick, step_size=info.step)
        self.quote_unit = self.spec.quote_unit
        self.book: OrderBook | None = None
        self.last_sequence = 0
        self.depth_offset = 0
        self.depth_update_id = 0
        # order id -> is a buy, for every order the book may still report on (rebuilt and
        # placed ones), so cancel-all and stop events need no query
        self.sides: dict[int, bool] = {}
        # Conversions at the engine's edge, memoised: a book sees the same few thousand
        # prices and quantities over and over, and an exact Decimal division costs ~6 us.
        self._ticks = _memo(self.spec.price_to_ticks)
        self._steps = _memo(self.spec.qty_to_steps)
        self._quote_units = _memo(self.spec.quote_to_units)
        # (kind, row id) of the entries of batches prepared but not committed yet
        self.inflight_keys: set[tuple[str, int]] = set()

    # ----------------------------------------------------------------- rebuild

    def rebuild(self) -> int:
        """Build the book from Postgres: open, sequenced orders in priority order (pending
        stops included). Returns the number of orders loaded."""
        info = self.info
        spec = self.spec
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_sequence, depth_update_id FROM matching_marketcheckpoint "
                           "WHERE market_id = %s", [info.id])
            row = cursor.fetchone()
            self.last_sequence, self.depth_update_id = row if row else (0, 0)
            cursor.execute("SELECT price FROM marketdata_trade WHERE market_id = %s "
                           "ORDER BY id DESC LIMIT 1", [info.id])
            last = cursor.fetchone()
            cursor.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders_order WHERE market_id = %s "  # noqa: S608
                "AND status IN ('NEW', 'PARTIALLY_FILLED') AND sequence IS NOT NULL "
                "ORDER BY priority, id", [info.id])
            rows = cursor.fetchall()
            # An amendment accepted but not yet sequenced has already added its extra
            # reserve to reserve_remaining; the AMEND command brings it to the engine again
            # (extra_reserve) when it is applied, so the rebuilt book must not count it
            # twice (it would release it twice and drive reserve_remaining negative).
            cursor.execute(
                "SELECT order_id, SUM(extra_reserve) FROM orders_ordercommand "
                "WHERE market_id = %s AND kind = 'AMEND' AND sequence IS NULL "
                "AND extra_reserve > 0 GROUP BY order_id", [info.id])
            pending_extra = dict(cursor.fetchall())
        resting = []
        self.sides = {}
        for (oid, uid, side, otype, tif, stp, price, stop, qty, qqty, filled, rr, _seq,
             _status, _m, triggered, _prio) in rows:
            is_buy = side == "BUY"
            self.sides[oid] = is_buy
            is_stop = otype in ("STOP_LOSS", "STOP_LOSS_LIMIT") and not triggered
            if otype == "STOP_LOSS_LIMIT" and triggered:
                otype = "LIMIT"
            rr -= pending_extra.get(oid, 0)
            resting.append(RestingOrder(
                order_id=oid, user_id=uid, side=Side.BUY if is_buy else Side.SELL,
                price=spec.price_to_ticks(price) if price is not None else None,
                qty=spec.qty_to_steps(qty - filled) if qty is not None else None,
                reserve=(spec.quote_to_units(rr) if is_buy else spec.qty_to_steps(rr)),
                stp=StpMode(stp), order_type=OrderType(otype), tif=TimeInForce(tif),
                quote_qty=spec.quote_to_units(qqty) if qqty is not None else None,
                stop_price=spec.price_to_ticks(stop) if is_stop and stop is not None else None,
            ))
        ref = last[0] if last else info.reference_price
        self.book = OrderBook.rebuild(
            resting, band_bps=info.band_bps,
            reference_price=spec.price_to_ticks(ref) if ref is not None else None,
            status=BookStatus(info.status),
        )
        self.book.take_depth_changes()  # the rebuild itself is not a published change
        snapshot = self.book.depth_snapshot(limit=1)
        self.depth_offset = self.depth_update_id - snapshot.update_id
        return len(resting)

    # ----------------------------------------------------------------- batch

    def _load(self, place_ids: list[int], command_ids: list[int]):
        orders, commands = {}, {}
        _session_tune()
        with connection.cursor() as cursor:
            if place_ids:
                cursor.execute(f"SELECT {_ORDER_COLUMNS} FROM orders_order "  # noqa: S608
                               "WHERE id = ANY(%s)", [place_ids])
                orders = {row[0]: row for row in cursor.fetchall()}
            if command_ids:
                cursor.execute(
                    "SELECT c.id, c.kind, c.order_id, c.user_id, c.new_price, c.new_quantity, "
                    "c.extra_reserve, c.status, c.sequence, c.market_id, o.filled_quantity, "
                    "o.side FROM orders_ordercommand c LEFT JOIN orders_order o "
                    "ON o.id = c.order_id WHERE c.id = ANY(%s)", [command_ids])
                commands = {row[0]: row for row in cursor.fetchall()}
        return orders, commands

    def process(self, entries: list[tuple[str, int]], *, now: float | None = None) -> BatchResult:
        """Apply ``entries`` ((kind, row id) in stream order) and commit. Raises
        :class:`Fenced` if a newer epoch owns the market, anything else on a failed commit
        (the book is then stale and must be discarded)."""
        prepared = self.prepare(entries, now=now)
        self.commit(prepared)
        return prepared.result

    def prepare(self, entries: list[tuple[str, int]], *, now: float | None = None,
                ) -> PreparedBatch:
        """Load and apply ``entries`` to the book (the first half of :meth:`process`); the
        book, sequence and depth update id move on in memory. :meth:`commit` must then
        commit the returned batch before the next prepared batch is committed; if it
        fails, the runner is stale and must be discarded (with any batch prepared after).

        Entries of batches prepared but not yet committed (``inflight_keys``) are skipped
        like already-sequenced rows: the database cannot tell yet that they are applied.
        A batch with commands needs the database state its predecessors committed (an
        amendment reads the order's filled quantity), so the caller commits those first.
        """
        from matching import streams

        info, spec, book = self.info, self.spec, self.book
        result = BatchResult()
        inflight = self.inflight_keys
        place_ids = list(dict.fromkeys(pk for kind, pk in entries
                                       if kind == streams.PLACE and (kind, pk) not in inflight))
        command_ids = list(dict.fromkeys(pk for kind, pk in entries
                                         if kind != streams.PLACE and (kind, pk) not in inflight))
        orders, commands = self._load(place_ids, command_ids)
        seen: set[tuple[str, int]] = set(inflight)
        deltas: dict[int, OrderDelta] = {}
        fills: list[tuple] = []  # (seq, index, Traded)
        log: list[tuple[int, dict]] = []
        command_updates: list[tuple[int, int, str]] = []
        seq = self.last_sequence
        started = time.perf_counter()
        ptick, sstep, qunits = self._ticks, self._steps, self._quote_units

        def delta(order_id: int, user_id: int, is_buy: bool) -> OrderDelta:
            d = deltas.get(order_id)
            if d is None:
                d = deltas[order_id] = OrderDelta(user_id=user_id, is_buy=is_buy)
            return d

        for kind, pk in entries:
            if (kind, pk) in seen:
                continue
            seen.add((kind, pk))
            if kind == streams.PLACE:
                row = orders.get(pk)
                if row is None or row[12] is not None or row[13] != "NEW" or row[14] != info.id:
                    continue  # unknown, already sequenced, or not this market's
                (oid, uid, side, otype, tif, stp, price, stop, qty, qqty, _f, rr, *_rest) = row
                is_buy = side == "BUY"
                command = PlaceOrder(
                    order_id=oid, user_id=uid, side=Side.BUY if is_buy else Side.SELL,
                    order_type=_ORDER_TYPES[otype], tif=_TIFS[tif],
                    price=ptick(price) if price is not None else None,
                    qty=sstep(qty) if qty is not None else None,
                    quote_qty=qunits(qqty) if qqty is not None else None,
                    stop_price=ptick(stop) if stop is not None else None,
                    stp=_STP_MODES[stp],
                    reserve=qunits(rr) if is_buy else sstep(rr),
                )
                seq += 1
                self.sides[oid] = is_buy
                d = delta(oid, uid, is_buy)
                d.seq = seq
                d.priority = seq * PRIORITY_SCALE
                result.placements += 1
            else:
                row = commands.get(pk)
                if row is None or row[8] is not None or row[9] != info.id:
                    continue
                (cid, ckind, order_id, uid, new_price, new_qty, extra, status, _s, _m,
                 filled, oside) = row
                extra_units = 0
                if ckind == "CANCEL":
                    command = CancelOrder(order_id=order_id, user_id=None)
                elif ckind == "CANCEL_ALL":
                    command = CancelAll(user_id=uid)
                elif ckind == "STATUS":
                    command = SetStatus(status=BookStatus(status))
                else:  # AMEND: quantity is the new total; the engine wants the open quantity
                    is_buy = oside == "BUY"
                    extra_units = (spec.quote_to_units(extra) if is_buy else sstep(extra))
                    new_open = None
                    if new_qty is not None:
                        done = deltas[order_id].fill if order_id in deltas else 0
                        new_open = sstep(new_qty) - sstep(filled) - done
                    if new_open is not None and new_open <= 0:
                        command = None
                    else:
                        command = AmendOrder(
                            order_id=order_id, user_id=uid,
                            new_price=ptick(new_price) if new_price is not None else None,
                            new_qty=new_open, extra_reserve=extra_units)
                seq += 1
                if command is None:  # amend below the filled quantity: refused here
                    payload = payloads.refused(cid)
                    events = [CommandRejected(seq=0, command="AMEND", order_id=order_id,
                                              user_id=uid, reason="AMEND_NOT_ALLOWED")]
                    log.append((seq, payload))
                else:
                    events = None
                command_updates.append((cid, seq, "APPLIED"))
            if command is not None:
                log.append((seq, payloads.encode(command)))
                events = book.apply(command)
            outcome = "APPLIED"
            index = 0
            for index, event in enumerate(events):
                cls = event.__class__
                if cls is Traded:
                    fills.append((seq, index, event))
                    maker_buy = event.maker_side is Side.BUY
                    m = delta(event.maker_order_id, event.maker_user_id, maker_buy)
                    t = delta(event.taker_order_id, event.taker_user_id, not maker_buy)
                    m.fill += event.qty
                    t.fill += event.qty
                    m.quote += event.quote_qty
                    t.quote += event.quote_qty
                    m.reserve += event.maker_consumed + event.maker_released
                    t.reserve += event.taker_consumed + event.taker_released
                    m.released += event.maker_released
                    t.released += event.taker_released
                    if event.maker_remaining == 0:
                        m.status = "FILLED"
                    if event.taker_remaining == 0:
                        t.status = "FILLED"
                elif cls is OrderAccepted:
                    pass
                elif cls is OrderCancelled or cls is OrderExpired or cls is OrderRejected:
                    d = deltas.get(event.order_id)
                    if d is None:
                        d = delta(event.order_id, event.user_id,
                                  self._is_buy(event.order_id, orders))
                    d.reserve += event.released
                    d.released += event.released
                    d.status = ("CANCELED" if cls is OrderCancelled else
                                "EXPIRED" if cls is OrderExpired else "REJECTED")
                    d.reason = event.reason.value if hasattr(event.reason, "value") else str(
                        event.reason)
                elif cls is OrderTriggered:
                    d = deltas.get(event.order_id) or delta(
                        event.order_id, event.user_id, self._is_buy(event.order_id, orders))
                    d.triggered = True
                    d.priority = seq * PRIORITY_SCALE + index
                elif cls is OrderAmended:
                    d = deltas.get(event.order_id) or delta(event.order_id, event.user_id,
                                                             oside == "BUY")
                    d.reserve += event.released
                    d.released += event.released
                    d.price = event.price
                    if new_qty is not None:
                        d.quantity = new_qty
                    if not event.priority_kept:
                        d.priority = seq * PRIORITY_SCALE
                elif cls is CommandRejected:
                    outcome = event.reason.value if hasattr(event.reason, "value") else str(
                        event.reason)
                    if event.command == "AMEND" and extra_units:
                        d = deltas.get(order_id) or delta(order_id, uid, oside == "BUY")
                        d.reserve += extra_units
                        d.released += extra_units
            if kind != streams.PLACE and outcome != "APPLIED":
                command_updates[-1] = (command_updates[-1][0], seq, outcome)
        result.applied = seq - self.last_sequence
        changes = book.take_depth_changes()
        depth_id = self.depth_update_id
        if changes is not None:
            tick, step = info.tick, info.step
            first = changes.first_update_id + self.depth_offset
            depth_id = changes.last_update_id + self.depth_offset
            result.depth_update = {
                "U": first, "u": depth_id,
                "bids": [[str(p * tick), str(q * step)] for p, q in changes.bids],
                "asks": [[str(p * tick), str(q * step)] for p, q in changes.asks],
            }
        keys = seen - inflight
        prepared = PreparedBatch(result=result, prev_seq=self.last_sequence, seq=seq,
                                 depth_id=depth_id, deltas=deltas, fills=fills, log=log,
                                 command_updates=command_updates,
                                 now=now if now is not None else time.time(), keys=keys)
        result.match_ms = (time.perf_counter() - started) * 1000
        if result.applied:
            inflight |= keys
            self.last_sequence = seq
            self.depth_update_id = depth_id
            result.last_sequence = seq
            crash_point("after_read")
        return prepared

    def commit(self, prepared: PreparedBatch) -> None:
        """Commit a prepared batch in one transaction (nothing to do for a batch that
        applied nothing). Raises :class:`Fenced` if a newer epoch owns the market or the
        checkpoint is not the one this batch follows; anything else on a failed commit."""
        result = prepared.result
        if not result.applied:
            return
        started = time.perf_counter()
        self._commit(prepared)
        result.commit_ms = (time.perf_counter() - started) * 1000
        self.inflight_keys -= prepared.keys

    def _is_buy(self, order_id: int, orders: dict) -> bool:
        known = self.sides.get(order_id)
        if known is not None:
            return known
        row = orders.get(order_id)
        if row is not None:
            return row[2] == "BUY"
        with connection.cursor() as cursor:
            cursor.execute("SELECT side FROM orders_order WHERE id = %s", [order_id])
            return cursor.fetchone()[0] == "BUY"

    # ----------------------------------------------------------------- commit

    def _commit(self, prepared: PreparedBatch) -> None:
        info = self.info
        qunit, step, tick = self.quote_unit, info.step, info.tick
        result, seq, depth_id = prepared.result, prepared.seq, prepared.depth_id
        deltas, fills, log = prepared.deltas, prepared.fills, prepared.log
        command_updates, now = prepared.command_updates, prepared.now
        now_dt = datetime.fromtimestamp(now, tz=UTC)
        now_ms = int(now * 1000)
        _session_tune()

        # Trades with fees (fee in the asset received, maker or taker rate).
        trade_cols = [[] for _ in range(12)]
        trade_meta = []
        for tseq, index, ev in fills:
            maker_buy = ev.maker_side is Side.BUY
            base_qty = ev.qty * step
            quote_qty = ev.quote_qty * qunit
            buyer_rate = info.maker_fee if maker_buy else info.taker_fee
            seller_rate = info.taker_fee if maker_buy else info.maker_fee
            buyer_fee = fee_compute(amount=base_qty, rate=buyer_rate,
                                    precision=info.base_precision)
            seller_fee = fee_compute(amount=quote_qty, rate=seller_rate,
                                     precision=info.quote_precision)
            if maker_buy:
                buy_o, sell_o = ev.maker_order_id, ev.taker_order_id
                buyer, seller = ev.maker_user_id, ev.taker_user_id
            else:
                buy_o, sell_o = ev.taker_order_id, ev.maker_order_id
                buyer, seller = ev.taker_user_id, ev.maker_user_id
            price = ev.price * tick
            for col, value in zip(trade_cols, (
                    tseq, index, price, base_qty, quote_qty, buy_o, sell_o, buyer, seller,
                    "SELL" if maker_buy else "BUY", buyer_fee, seller_fee), strict=True):
                col.append(value)
            trade_meta.append((price, base_qty, quote_qty, buyer_fee, seller_fee, maker_buy,
                               buy_o, sell_o, buyer, seller))

        # The order columns are built before BEGIN: the less Python runs inside the batch
        # transaction, the shorter its row locks are held (the commit thread shares the GIL
        # with the matching thread).
        order_ids = sorted(deltas)
        marks = result.timings
        mark = time.perf_counter()
        cols = [[] for _ in range(12)]
        for oid in order_ids:
            d = deltas[oid]
            unit = qunit if d.is_buy else step
            for col, value in zip(cols, (
                    oid, d.seq, d.priority, d.triggered, d.fill * step, d.quote * qunit,
                    d.reserve * unit, d.status, d.reason,
                    d.price * tick if d.price is not None else None, d.quantity,
                    "PARTIALLY_FILLED" if d.fill else None), strict=True):
                col.append(value)
        order_arrays = list(map(_array, cols))
        releases = []
        for oid in order_ids:
            d = deltas[oid]
            if d.released:
                releases.append(SettlementRelease(
                    user_id=d.user_id, asset_id=info.quote_id if d.is_buy else info.base_id,
                    amount=d.released * (qunit if d.is_buy else step), order_id=oid))
        trade_arrays = list(map(_array, trade_cols))
        log_payload = payloads.dumps(log)
        mark = _lap(marks, 'order_columns', mark)
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = "
                           f"{IDLE_IN_TRANSACTION_TIMEOUT_MS}")
            mark = _lap(marks, 'begin', mark)
            cursor.execute(
                "UPDATE matching_marketcheckpoint SET epoch = %s, last_sequence = %s, "
                "depth_update_id = %s, updated_at = now() "
                "WHERE market_id = %s AND epoch <= %s AND last_sequence = %s",
                [self.epoch, seq, depth_id, info.id, self.epoch, prepared.prev_seq])
            if cursor.rowcount != 1:
                raise Fenced(f"{info.symbol}: epoch {self.epoch} no longer owns the market")
            mark = _lap(marks, 'checkpoint', mark)
            trade_ids: list[int] = []
            if fills:
                cursor.execute(
                    "INSERT INTO marketdata_trade (market_id, sequence, match_index, price, "
                    "quantity, quote_quantity, buy_order_id, sell_order_id, buyer_id, seller_id, "
                    "taker_side, buyer_fee, seller_fee, created_at) "
                    "SELECT %s, s, i, p, q, qq, bo, so, b, sl, ts, bf, sf, %s "
                    "FROM unnest(%s::bigint[], %s::int[], %s::numeric[], "
                    "%s::numeric[], %s::numeric[], %s::bigint[], %s::bigint[], %s::bigint[], "
                    "%s::bigint[], %s::text[], %s::numeric[], %s::numeric[]) WITH ORDINALITY "
                    "AS v(s, i, p, q, qq, bo, so, b, sl, ts, bf, sf, n) ORDER BY n "
                    "RETURNING id, sequence, match_index",
                    [info.id, now_dt, *trade_arrays])
                by_key = {(s, i): tid for tid, s, i in cursor.fetchall()}
                trade_ids = [by_key[(s, i)] for s, i in zip(trade_cols[0], trade_cols[1],
                                                              strict=True)]
            mark = _lap(marks, 'trades_insert', mark)
            crash_point("in_commit")
            if order_ids:
                cursor.execute(
                    "UPDATE orders_order o SET sequence = COALESCE(o.sequence, v.seq), "  # noqa: S608
                    "priority = COALESCE(v.prio, o.priority), triggered = o.triggered OR v.trig, "
                    "filled_quantity = o.filled_quantity + v.dfill, "
                    "cumulative_quote = o.cumulative_quote + v.dquote, "
                    "reserve_remaining = o.reserve_remaining - v.dres, "
                    "status = COALESCE(v.status, v.partial, o.status), "
                    "reason = COALESCE(v.reason, o.reason), price = COALESCE(v.price, o.price), "
                    "quantity = COALESCE(v.qty, o.quantity), updated_at = %s "
                    "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bool[], "
                    "%s::numeric[], %s::numeric[], %s::numeric[], %s::text[], %s::text[], "
                    "%s::numeric[], %s::numeric[], %s::text[]) "
                    "AS v(id, seq, prio, trig, dfill, dquote, dres, status, reason, price, qty, "
                    "partial) WHERE o.id = v.id RETURNING "
                    + _ORDER_UPDATE_RETURNING,
                    [now_dt, *order_arrays])
                result.order_rows = cursor.fetchall()
                mark = _lap(marks, 'orders_update', mark)
            if command_updates:
                cursor.execute(
                    "UPDATE orders_ordercommand c SET sequence = v.seq, outcome = v.outcome "
                    "FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS v(id, seq, outcome) "
                    "WHERE c.id = v.id",
                    [_array(c[0] for c in command_updates),
                     _array(c[1] for c in command_updates), _array(c[2] for c in command_updates)])
            mark = _lap(marks, 'commands_update', mark)
            cursor.execute(
                "INSERT INTO matching_commandlog (market_id, sequence, last_sequence, payload) "
                "VALUES (%s, %s, %s, %s::jsonb)",
                [info.id, log[0][0], log[-1][0], log_payload])
            mark = _lap(marks, 'command_log', mark)
            if fills:
                self._upsert_candles(cursor, trade_meta, now_dt)
                mark = _lap(marks, 'candles', mark)
            settle_fills = [
                SettlementFill(trade_id=tid, buyer_id=m[8], seller_id=m[9],
                               base_asset_id=info.base_id, quote_asset_id=info.quote_id,
                               base_qty=m[1], quote_qty=m[2], buyer_fee=m[3], seller_fee=m[4])
                for tid, m in zip(trade_ids, trade_meta, strict=True)
            ]
            mark = _lap(marks, 'settle_args', mark)
            funds_settle(fills=settle_fills, releases=releases)
            mark = _lap(marks, "settle", mark)
        _lap(marks, 'commit', mark)

        # What the publisher needs, built outside the transaction.
        for tid, m in zip(trade_ids, trade_meta, strict=True):
            price, base_qty, quote_qty, buyer_fee, seller_fee, maker_buy, bo, so, b, s = m
            result.trades.append({
                "id": tid, "market": info.symbol, "price": str(price), "quantity": str(base_qty),
                "quote_quantity": str(quote_qty), "taker_side": "SELL" if maker_buy else "BUY",
                "buy_order_id": bo, "sell_order_id": so, "buyer_id": b, "seller_id": s,
                "time": now_ms,
                "_fees": (buyer_fee, seller_fee, maker_buy),
            })
        for d in deltas.values():
            result.touched_balances.add((d.user_id, info.base_id))
            result.touched_balances.add((d.user_id, info.quote_id))

    def _upsert_candles(self, cursor, trade_meta, now_dt) -> None:
        minute = now_dt.replace(second=0, microsecond=0)
        o = h = lo = c = None
        vol = Decimal(0)
        qvol = Decimal(0)
        for price, base_qty, quote_qty, *_ in trade_meta:
            if o is None:
                o = h = lo = price
            h = max(h, price)
            lo = min(lo, price)
            c = price
            vol += base_qty
            qvol += quote_qty
        cursor.execute(
            "INSERT INTO marketdata_candle (market_id, open_time, open, high, low, close, volume, "
            "quote_volume, trade_count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (market_id, open_time) DO UPDATE SET "
            "high = GREATEST(marketdata_candle.high, EXCLUDED.high), "
            "low = LEAST(marketdata_candle.low, EXCLUDED.low), close = EXCLUDED.close, "
            "volume = marketdata_candle.volume + EXCLUDED.volume, "
            "quote_volume = marketdata_candle.quote_volume + EXCLUDED.quote_volume, "
            "trade_count = marketdata_candle.trade_count + EXCLUDED.trade_count",
            [self.info.id, minute, o, h, lo, c, vol, qvol, len(trade_meta)])

    # ----------------------------------------------------------------- recovery

    def committed_since(self, sequence: int, *, max_trades: int = 10_000) -> BatchResult | None:
        """What the batches committed after ``sequence`` (up to the checkpoint) did, read
        back from Postgres in the shape :meth:`process` returns, so that it can be
        published: a matcher killed between a commit and its publish never published it.
        ``None`` if there are more than ``max_trades`` trades (readers then resync from the
        snapshot rather than receive a flood)."""
        info = self.info
        result = BatchResult(last_sequence=self.last_sequence)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, price::text, quantity::text, quote_quantity::text, taker_side, "
                "buy_order_id, sell_order_id, buyer_id, seller_id, buyer_fee, seller_fee, "
                "floor(extract(epoch FROM created_at) * 1000)::bigint FROM marketdata_trade "
                "WHERE market_id = %s AND sequence > %s ORDER BY sequence, match_index "
                "LIMIT %s", [info.id, sequence, max_trades + 1])
            rows = cursor.fetchall()
            if len(rows) > max_trades:
                return None
            for (tid, price, qty, quote, taker_side, bo, so, buyer, seller, buyer_fee,
                 seller_fee, time_ms) in rows:
                result.trades.append({
                    "id": tid, "market": info.symbol, "price": price, "quantity": qty,
                    "quote_quantity": quote, "taker_side": taker_side, "buy_order_id": bo,
                    "sell_order_id": so, "buyer_id": buyer, "seller_id": seller,
                    "time": time_ms, "_fees": (buyer_fee, seller_fee, taker_side == "SELL"),
                })
            traded = sorted({t["buy_order_id"] for t in result.trades}
                            | {t["sell_order_id"] for t in result.trades})
            # Orders those batches changed: placed (sequenced) in them, named by a cancel,
            # amend or cancel-all applied in them (its user's orders), or traded.
            cursor.execute(
                f"SELECT {_ORDER_UPDATE_RETURNING} FROM orders_order o "  # noqa: S608
                "WHERE o.market_id = %s AND (o.sequence > %s OR o.id = ANY(%s) "
                "OR o.id IN (SELECT c.order_id FROM orders_ordercommand c WHERE "
                "c.market_id = %s AND c.sequence > %s AND c.order_id IS NOT NULL) "
                "OR (o.user_id IN (SELECT c.user_id FROM orders_ordercommand c WHERE "
                "c.market_id = %s AND c.sequence > %s AND c.kind = 'CANCEL_ALL') "
                "AND o.updated_at >= (SELECT min(c.created_at) FROM orders_ordercommand c "
                "WHERE c.market_id = %s AND c.sequence > %s))) ORDER BY o.id",
                [info.id, sequence, traded, info.id, sequence, info.id, sequence, info.id,
                 sequence])
            result.order_rows = cursor.fetchall()
        for row in result.order_rows:
            result.touched_balances.add((row[1], info.base_id))
            result.touched_balances.add((row[1], info.quote_id))
        result.applied = self.last_sequence - sequence
        return result

    # ----------------------------------------------------------------- views

    def depth_snapshot(self) -> dict:
        snap = self.book.depth_snapshot(limit=self.depth_levels)
        tick, step = self.info.tick, self.info.step
        return {
            "lastUpdateId": snap.update_id + self.depth_offset,
            "bids": [[str(p * tick), str(q * step)] for p, q in snap.bids],
            "asks": [[str(p * tick), str(q * step)] for p, q in snap.asks],
        }


def fills_for_orders(trades: list[dict], info: MarketInfo) -> dict[int, list[dict]]:
    """Per order id, the fill records of the contract's private order updates."""
    out: dict[int, list[dict]] = defaultdict(list)
    for t in trades:
        buyer_fee, seller_fee, maker_buy = t["_fees"]
        base = {"trade_id": t["id"], "price": t["price"], "quantity": t["quantity"]}
        out[t["buy_order_id"]].append({**base, "fee": str(buyer_fee),
                                       "fee_asset": info.base_symbol, "is_maker": maker_buy})
        out[t["sell_order_id"]].append({**base, "fee": str(seller_fee),
                                        "fee_asset": info.quote_symbol,
                                        "is_maker": not maker_buy})
    return out
