"""The order book: price-time priority matching over integer ticks and steps.

Data structures (N resting orders, L price levels, S pending stops):

- ``_orders``: order id -> resting order record (a list, layout in ``_state``).
- ``_levels``: level key -> level record ``[queue, total, count, dead]``. The key is
  ``price`` for an ask and ``-price`` for a bid, so both sides share one dict and "best"
  is always the smallest key.
- ``_ask_heap`` / ``_bid_heap``: binary heaps of level keys. A level that empties away from
  the top is deleted from ``_levels`` at once but stays in its heap until it surfaces
  (lazy deletion); ``_in_heap`` keeps each key at most once in a heap. Invariant: the top of
  a non-empty heap is always a live level, so the best price is ``heap[0]`` in O(1).
- Each level's queue is a deque in time priority; a cancelled order is marked
  (``qty = 0``) and skipped when it reaches the front, so cancel is O(1) amortised instead
  of O(level size). Dead entries are compacted away once they outnumber live ones.
- ``_stops``: order id -> :class:`PendingStop`, with two heaps in trigger order.

Costs: resting a limit order O(1), O(log L) when it opens a level; cancel O(1) amortised,
O(log L) when it empties the best level; each fill O(1), plus O(log L) per level consumed;
FOK feasibility O(L log L + orders walked); ``CancelAll`` O(N log N); snapshots O(L log L).

Performance notes (this module is the hot path; see docs/PERFORMANCE-engine.md): records
are lists indexed with literal integers, events are built through their fast record
constructors, frequently used attributes and methods are bound to locals, enum members are
compared by identity (``x in SomeEnum`` is a slow Python-level call), and the common cases
(a limit order that does not cross, a cancel) are handled inline without helper calls.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from heapq import heappop, heappush

from ._state import (
    COUNT,
    KEY,
    ORDER_ID,
    ORDER_TYPE,
    PRICE,
    PRIORITY,
    QTY,
    QUEUE,
    RESERVE,
    SIDE,
    STP,
    TOTAL,
    USER_ID,
    PendingStop,
    new_level,
)
from .commands import AmendOrder, CancelAll, CancelOrder, Command, PlaceOrder, SetStatus
from .depth import DepthChanges, DepthSnapshot
from .enums import (
    BookStatus,
    CancelReason,
    ExpireReason,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
)
from .events import (
    CommandRejected,
    DepthChanged,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    StatusChanged,
    Traded,
)

# Module-level aliases: a global lookup is cheaper than ``Enum.MEMBER`` in the hot paths.
BUY = Side.BUY
SELL = Side.SELL
LIMIT = OrderType.LIMIT
LIMIT_MAKER = OrderType.LIMIT_MAKER
MARKET = OrderType.MARKET
STOP_LOSS = OrderType.STOP_LOSS
STOP_LOSS_LIMIT = OrderType.STOP_LOSS_LIMIT
GTC = TimeInForce.GTC
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
EXPIRE_TAKER = StpMode.EXPIRE_TAKER
EXPIRE_MAKER = StpMode.EXPIRE_MAKER
EXPIRE_BOTH = StpMode.EXPIRE_BOTH
STP_NONE = StpMode.NONE
TRADING = BookStatus.TRADING
CANCELLED_BY_USER = CancelReason.USER

_LIMIT_TYPES = frozenset({LIMIT, LIMIT_MAKER, STOP_LOSS_LIMIT})
_STOP_TYPES = frozenset({STOP_LOSS, STOP_LOSS_LIMIT})
_TIFS = frozenset(TimeInForce)
_STP_MODES = frozenset(StpMode)
_STP_EXPIRY = {
    EXPIRE_TAKER: ExpireReason.STP_EXPIRE_TAKER,
    EXPIRE_MAKER: ExpireReason.STP_EXPIRE_MAKER,
    EXPIRE_BOTH: ExpireReason.STP_EXPIRE_BOTH,
}
#: A key no level can exceed: "no limit price" / "no band".
_NO_LIMIT = 1 << 126
_BPS = 10_000
_DUMP_FORMAT = 1
#: Compact a level's queue once it holds more than this many dead entries (and more dead
#: than live ones): keeps memory bounded without paying a scan on every cancel.
_COMPACT_AFTER = 32

_new_accepted = OrderAccepted._new
_new_traded = Traded._new
_new_cancelled = OrderCancelled._new
_new_expired = OrderExpired._new
_new_rejected = OrderRejected._new


@dataclass(slots=True)
class RestingOrder:
    """An open order as stored outside the engine, for :meth:`OrderBook.rebuild`.

    ``qty`` is the open quantity and ``reserve`` what is still locked for it (``None``: the
    canonical amount). A stop type with a ``stop_price`` is restored as a pending stop;
    everything else (a triggered STOP_LOSS_LIMIT has ``stop_price=None``) rests at ``price``.
    """

    order_id: int
    user_id: int
    side: Side
    price: int | None
    qty: int | None
    reserve: int | None = None
    stp: StpMode = StpMode.EXPIRE_TAKER
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    quote_qty: int | None = None
    stop_price: int | None = None


def _positive_int(value: object) -> bool:
    return type(value) is int and value > 0


class OrderBook:
    """One market's book. Not thread-safe: one writer (the matcher) per book.

    Args:
        band_bps: price band in basis points around the reference price (500 = 5%);
            ``None`` disables it.
        reference_price: the band's and stops' reference before the first trade (ticks).
        status: initial :class:`BookStatus`.
        depth_events: also emit a :class:`DepthChanged` event at the end of every command
            that changed a level.
    """

    def __init__(
        self,
        *,
        band_bps: int | None = None,
        reference_price: int | None = None,
        status: BookStatus = BookStatus.TRADING,
        depth_events: bool = False,
    ) -> None:
        if band_bps is not None and not (type(band_bps) is int and band_bps >= 0):
            raise ValueError(f"band_bps must be a non-negative int or None, got {band_bps!r}")
        if reference_price is not None and not _positive_int(reference_price):
            raise ValueError(f"reference_price must be a positive int, got {reference_price!r}")
        self._band_bps = band_bps
        self._reference_price = reference_price
        self._status = BookStatus(status)
        self._depth_events = bool(depth_events)
        self._last_price: int | None = None
        self._seq = 0  # last event sequence number issued
        self._last_command_seq: int | None = None
        self._next_priority = 0
        self._orders: dict[int, list] = {}
        self._levels: dict[int, list] = {}
        self._ask_heap: list[int] = []
        self._bid_heap: list[int] = []
        self._in_heap: set[int] = set()
        self._stops: dict[int, PendingStop] = {}
        self._buy_stops: list[tuple[int, int, int]] = []  # (stop_price, priority, order_id)
        self._sell_stops: list[tuple[int, int, int]] = []  # (-stop_price, priority, order_id)
        # Depth bookkeeping. Every level change adds its key to ``_dirty`` and sets
        # ``_depth_changed``; the end of the command turns the flag into one new update id.
        # Without depth events ``_dirty`` *is* the pending set (no per-command merge).
        self._pending_depth: set[int] = set()  # keys changed since take_depth_changes
        self._dirty: set[int] = set() if self._depth_events else self._pending_depth
        self._depth_changed = False
        self._update_id = 0
        self._taken_update_id = 0  # update id as of the last take_depth_changes()
        self._handlers = {
            CancelAll: self._cancel_all,
            AmendOrder: self._amend,
            SetStatus: self._set_status,
        }

    # ------------------------------------------------------------------ queries

    @property
    def status(self) -> BookStatus:
        return self._status

    @property
    def last_price(self) -> int | None:
        """Price of the last trade, or ``None`` before the first."""
        return self._last_price

    @property
    def seq(self) -> int:
        """The last event sequence number issued (0 before any event)."""
        return self._seq

    @property
    def last_command_seq(self) -> int | None:
        return self._last_command_seq

    @property
    def update_id(self) -> int:
        """Depth update id: grows by one per command that changed a level."""
        return self._update_id

    def best_bid(self) -> int | None:
        """O(1)."""
        heap = self._bid_heap
        return -heap[0] if heap else None

    def best_ask(self) -> int | None:
        """O(1)."""
        heap = self._ask_heap
        return heap[0] if heap else None

    def __len__(self) -> int:
        """Number of open orders (resting and pending stops)."""
        return len(self._orders) + len(self._stops)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders or order_id in self._stops

    def open_orders(self) -> list[RestingOrder]:
        """Every open order in priority order (what :meth:`rebuild` takes). O(N log N)."""
        records = [(o[PRIORITY], _resting_record(o)) for o in self._orders.values()]
        records += [(s.priority, _stop_record(s)) for s in self._stops.values()]
        records.sort(key=lambda pair: pair[0])
        return [record for _, record in records]

    # ------------------------------------------------------------------ commands

    def apply(self, command: Command) -> list[Event]:
        """Apply one command and return the events it caused, in order.

        Skips (returns ``[]``) a command whose ``seq`` is not above the last applied one.
        Invalid commands are answered with rejection events, never exceptions; an unknown
        command type raises ``TypeError``.

        The two most common commands are handled here inline, without a helper call (a
        Python call costs about as much as a dozen bytecodes): a valid GTC LIMIT order that
        does not cross (one event, one list record, O(1), O(log L) if it opens a level) and
        the cancel of a resting order. A valid GTC LIMIT order that crosses goes straight to
        :meth:`_take` (every check of :meth:`_place_general` has been made here). Anything
        else goes to :meth:`_place_general` or :meth:`_cancel`, which re-check from the
        start, so the order of rejection reasons is the same on every path.
        """
        command_seq = command.seq
        if command_seq is not None:
            last = self._last_command_seq
            if last is not None and command_seq <= last:
                return []
            self._last_command_seq = command_seq
        events: list[Event] = []
        kind = command.__class__
        if kind is PlaceOrder:
            order_id = command.order_id
            if self._status is TRADING and order_id not in self._orders \
                    and order_id not in self._stops:
                price = command.price
                qty = command.qty
                if (
                    command.order_type is LIMIT
                    and command.tif is GTC
                    and price.__class__ is int
                    and qty.__class__ is int
                    and price > 0
                    and qty > 0
                    and command.quote_qty is None
                    and command.stop_price is None
                ):
                    side = command.side
                    key = 0  # stays 0 unless the side is valid
                    if side is BUY:
                        heap = self._ask_heap
                        crosses = heap and heap[0] <= price
                        key = -price
                        required = price * qty
                    elif side is SELL:
                        heap = self._bid_heap
                        crosses = heap and heap[0] <= -price  # bid keys are -price
                        key = price
                        required = qty
                    stp = command.stp
                    reserve = command.reserve
                    if reserve is None:
                        reserve = required if key else 0
                    if key and stp in _STP_MODES and reserve.__class__ is int \
                            and reserve >= required:
                        user_id = command.user_id
                        seq = self._seq = self._seq + 1
                        events.append(_new_accepted(seq, order_id, user_id, side, LIMIT, GTC,
                                                    price, qty, None, None, reserve))
                        if crosses:  # a marketable limit: what _place_general would do
                            last_before = self._last_price
                            self._take(events, order_id, user_id, side, side is BUY, LIMIT, GTC,
                                       price, qty, None, stp, reserve)
                            if self._stops and self._last_price != last_before:
                                self._run_stops(events)
                            return self._end_command(events)
                        levels = self._levels
                        level = levels.get(key)
                        if level is None:
                            level = levels[key] = [deque(), 0, 0, 0]
                            in_heap = self._in_heap
                            if key not in in_heap:
                                in_heap.add(key)
                                heappush(self._bid_heap if key < 0 else self._ask_heap, key)
                        priority = self._next_priority = self._next_priority + 1
                        order = [qty, reserve, order_id, user_id, priority, price, key, side,
                                 stp, LIMIT]
                        level[0].append(order)  # QUEUE
                        level[1] += qty  # TOTAL
                        level[2] += 1  # COUNT
                        self._orders[order_id] = order
                        self._dirty.add(key)
                        self._update_id += 1  # this command changed a level
                        if self._depth_events:
                            self._emit_depth_changed(events)
                        return events
            self._place_general(command, events)
        elif kind is CancelOrder:
            order_id = command.order_id
            user_id = command.user_id
            order = self._orders.get(order_id)
            if order is not None and (user_id is None or order[3] == user_id):  # USER_ID
                # Inline _unlink.
                remaining = order[0]  # QTY
                key = order[6]  # KEY
                levels = self._levels
                level = levels[key]
                level[1] -= remaining  # TOTAL
                count = level[2] = level[2] - 1  # COUNT
                order[0] = 0
                del self._orders[order_id]
                self._dirty.add(key)
                if not count:
                    del levels[key]
                    heap = self._bid_heap if key < 0 else self._ask_heap
                    if heap[0] == key:
                        self._drop_stale_top(heap)
                else:
                    dead = level[3] = level[3] + 1  # DEAD
                    if dead > _COMPACT_AFTER and dead > count:
                        level[0] = deque(o for o in level[0] if o[0])
                        level[3] = 0
                seq = self._seq = self._seq + 1
                events.append(_new_cancelled(seq, order_id, order[3], CANCELLED_BY_USER,
                                             remaining, order[1]))
                self._update_id += 1  # this command changed a level
                if self._depth_events:
                    self._emit_depth_changed(events)
                return events
            self._cancel(command, events)
        else:
            try:
                handler = self._handlers[kind]
            except KeyError:
                raise TypeError(f"not a command: {command!r}") from None
            handler(command, events)
        return self._end_command(events)

    def _end_command(self, events: list) -> list:
        """A command that may have changed levels ends: one new depth update id if it did
        (and its DepthChanged event with ``depth_events``). The inline paths above, which
        know they changed exactly one level, do this themselves."""
        if self._depth_changed:
            self._depth_changed = False
            self._update_id += 1
            if self._depth_events:
                self._emit_depth_changed(events)
        return events

    def _place_general(self, cmd: PlaceOrder, events: list) -> None:
        """Validate, accept, match, rest or expire one order; then run triggered stops."""
        order_type = cmd.order_type
        order_id = cmd.order_id
        if self._status is not TRADING:
            return self._reject(cmd, RejectReason.BOOK_NOT_TRADING, events)
        if order_id in self._orders or order_id in self._stops:
            return self._reject(cmd, RejectReason.DUPLICATE_ORDER_ID, events)
        side = cmd.side
        price = cmd.price
        qty = cmd.qty
        tif = cmd.tif
        stp = cmd.stp
        if (
            order_type is LIMIT
            and type(price) is int
            and type(qty) is int
            and price > 0
            and qty > 0
            and cmd.quote_qty is None
            and cmd.stop_price is None
            and (side is BUY or side is SELL)
            and (tif is GTC or tif is IOC or tif is FOK)
            and stp in _STP_MODES
        ):
            is_buy = side is BUY
            required = price * qty if is_buy else qty
        else:
            reason = self._invalid_reason(cmd)
            if reason is not None:
                return self._reject(cmd, reason, events)
            is_buy = side is BUY
            required = self._canonical_reserve(cmd)
        reserve = cmd.reserve
        if reserve is None:
            reserve = required
        elif type(reserve) is not int or reserve < 0 or (
            required is not None and reserve < required
        ):
            return self._reject(cmd, RejectReason.INSUFFICIENT_RESERVE, events)

        if order_type is not LIMIT:
            if order_type is LIMIT_MAKER:
                heap = self._ask_heap if is_buy else self._bid_heap
                if heap and heap[0] <= (price if is_buy else -price):
                    return self._reject(cmd, RejectReason.POST_ONLY_WOULD_TAKE, events)
            elif order_type is STOP_LOSS or order_type is STOP_LOSS_LIMIT:
                return self._place_stop(cmd, reserve, events)

        user_id = cmd.user_id
        seq = self._seq = self._seq + 1
        events.append(_new_accepted(seq, order_id, user_id, side, order_type, tif, price, qty,
                                    cmd.quote_qty, None, reserve))
        last_before = self._last_price
        self._take(events, order_id, user_id, side, is_buy, order_type, tif, price, qty,
                   cmd.quote_qty, stp, reserve)
        if self._stops and self._last_price != last_before:
            self._run_stops(events)
        return None

    def _take(self, events, order_id, user_id, side, is_buy, order_type, tif, price, qty,
              quote_qty, stp, reserve) -> None:
        """Match a taker against the opposite side, then rest or expire its remainder.

        ``price`` is ``None`` for market orders. A market buy sized by ``quote_qty`` spends
        at most ``quote_qty``; one sized by ``qty`` spends at most ``reserve`` (``None``:
        uncapped). The band is computed once, from the reference before this taker.
        Complexity: O(1) per fill and per skipped cancelled order, O(log L) per level
        emptied, plus the FOK walk for FOK orders.
        """
        levels = self._levels
        is_market = price is None
        if is_buy:
            heap = self._ask_heap
            limit_key = _NO_LIMIT if is_market else price
        else:
            heap = self._bid_heap
            limit_key = _NO_LIMIT if is_market else -price
        by_quote = quote_qty is not None
        left = quote_qty if by_quote else qty  # what remains, in the sizing unit
        # A market buy by base quantity may spend at most its reserve.
        cap = reserve if (is_market and is_buy and not by_quote) else None
        improvement_base = price if (is_buy and not is_market) else 0
        reserve_left = reserve
        end_reason = None

        if heap and heap[0] <= limit_key:
            band_key = _NO_LIMIT if self._band_bps is None else self._band_key(is_buy)
            stop_key = limit_key if limit_key < band_key else band_key
            if tif is FOK and not self._fok_fillable(heap, stop_key, user_id, stp, left, cap):
                self._expire(order_id, user_id, ExpireReason.FILL_OR_KILL, left,
                             reserve_left or 0, events)
                return
            seq = self._seq
            orders = self._orders
            dirty_add = self._dirty.add
            append = events.append
            maker_side = SELL if is_buy else BUY
            last_price = None
            stp_active = stp is not STP_NONE
            while heap:
                key = heap[0]
                if key > stop_key:
                    if key <= limit_key:
                        end_reason = ExpireReason.PRICE_BAND
                    break
                fill_price = key if is_buy else -key
                level = levels[key]
                queue = level[0]  # QUEUE
                while queue:
                    maker = queue[0]
                    maker_qty = maker[0]  # QTY
                    if not maker_qty:  # cancelled earlier, lazily deleted now
                        queue.popleft()
                        level[3] -= 1  # DEAD
                        continue
                    if stp_active and maker[3] == user_id:  # USER_ID
                        if stp is EXPIRE_TAKER:
                            end_reason = ExpireReason.STP_EXPIRE_TAKER
                            break
                        queue.popleft()
                        level[1] -= maker_qty  # TOTAL
                        level[2] -= 1  # COUNT
                        del orders[maker[2]]
                        dirty_add(key)
                        seq += 1
                        append(_new_expired(seq, maker[2], maker[3], _STP_EXPIRY[stp],
                                            maker_qty, maker[1]))
                        maker[0] = 0
                        maker[1] = 0
                        if stp is EXPIRE_BOTH:
                            end_reason = ExpireReason.STP_EXPIRE_BOTH
                            break
                        continue
                    if by_quote:
                        fill_qty = left // fill_price
                        if not fill_qty:
                            end_reason = ExpireReason.RESERVE_EXHAUSTED
                            break
                        if fill_qty > maker_qty:
                            fill_qty = maker_qty
                        quote = fill_price * fill_qty
                        left -= quote
                    else:
                        fill_qty = left if left < maker_qty else maker_qty
                        if cap is not None:
                            affordable = cap // fill_price
                            if affordable < fill_qty:
                                fill_qty = affordable
                                if not fill_qty:
                                    end_reason = ExpireReason.RESERVE_EXHAUSTED
                                    break
                            cap -= fill_price * fill_qty
                        quote = fill_price * fill_qty
                        left -= fill_qty
                    maker_qty -= fill_qty
                    level[1] -= fill_qty  # TOTAL
                    if is_buy:
                        maker_consumed = fill_qty
                        taker_consumed = quote
                        taker_released = (
                            (improvement_base - fill_price) * fill_qty if improvement_base else 0
                        )
                    else:
                        maker_consumed = quote
                        taker_consumed = fill_qty
                        taker_released = 0
                    if maker_qty:
                        maker[0] = maker_qty
                        maker[1] -= maker_consumed  # RESERVE
                        maker_released = 0
                    else:
                        maker_released = maker[1] - maker_consumed
                        maker[0] = 0
                        maker[1] = 0
                        queue.popleft()
                        level[2] -= 1  # COUNT
                        del orders[maker[2]]
                    if reserve_left is not None:
                        reserve_left -= taker_consumed + taker_released
                        if not left:
                            taker_released += reserve_left
                            reserve_left = 0
                    seq += 1
                    append(_new_traded(seq, fill_price, fill_qty, quote, maker_side, maker[2],
                                       order_id, maker[3], user_id, maker_qty, left,
                                       maker_consumed, maker_released, taker_consumed,
                                       taker_released))
                    last_price = fill_price
                    if not left:
                        break
                dirty_add(key)
                if not level[2]:  # COUNT: the level is used up
                    del levels[key]
                    heappop(heap)
                    self._in_heap.discard(key)
                    if heap and heap[0] not in levels:
                        self._drop_stale_top(heap)
                if end_reason is not None or not left:
                    break
            self._seq = seq
            self._depth_changed = True
            if last_price is not None:
                self._last_price = last_price

        if not left:
            return
        if end_reason is None:
            if tif is FOK:  # nothing crossed, so the FOK walk never ran
                end_reason = ExpireReason.FILL_OR_KILL
            elif is_market or tif is not GTC:
                end_reason = ExpireReason.IMMEDIATE_OR_CANCEL
            else:
                self._rest(order_id, user_id, side, is_buy, price, left, reserve_left, stp,
                           order_type)
                return
        self._expire(order_id, user_id, end_reason, left, reserve_left or 0, events)

    def _fok_fillable(self, heap, stop_key, user_id, stp, left, cap) -> bool:
        """Whether a FOK taker would fill completely; walks the book without changing it.

        Mirrors :meth:`_take`: levels up to ``stop_key`` (limit and band), STP (a same-user
        maker ends the walk under EXPIRE_TAKER/EXPIRE_BOTH and is skipped under
        EXPIRE_MAKER), and a market buy's reserve ``cap``. O(L log L + orders walked).
        """
        levels = self._levels
        for key in sorted(key for key in heap if key <= stop_key and key in levels):
            fill_price = key if key > 0 else -key
            for maker in levels[key][QUEUE]:
                maker_qty = maker[QTY]
                if not maker_qty:
                    continue
                if stp is not STP_NONE and maker[USER_ID] == user_id:
                    if stp is EXPIRE_MAKER:
                        continue
                    return False
                fill_qty = left if left < maker_qty else maker_qty
                if cap is not None:
                    affordable = cap // fill_price
                    if affordable < fill_qty:
                        return False
                    cap -= fill_price * fill_qty
                left -= fill_qty
                if not left:
                    return True
        return False

    def _band_key(self, is_buy: bool) -> int:
        """The worst level key a taker may reach because of the band (``_NO_LIMIT``: none)."""
        band_bps = self._band_bps
        if band_bps is None:
            return _NO_LIMIT
        reference = self._last_price if self._last_price is not None else self._reference_price
        if reference is None:
            return _NO_LIMIT
        if is_buy:
            return reference * (_BPS + band_bps) // _BPS  # upper bound, rounded down
        # The lower bound rounded up is ceil(r * (1 - b)); its key is minus that.
        return (-reference * (_BPS - band_bps)) // _BPS

    def _rest(self, order_id, user_id, side, is_buy, price, qty, reserve, stp,
              order_type) -> list:
        """Append an order at the back of its level. O(1), O(log L) for a new level."""
        key = -price if is_buy else price
        levels = self._levels
        level = levels.get(key)
        if level is None:
            level = levels[key] = new_level()
            in_heap = self._in_heap
            if key not in in_heap:
                in_heap.add(key)
                heappush(self._bid_heap if is_buy else self._ask_heap, key)
        priority = self._next_priority = self._next_priority + 1
        order = [qty, reserve, order_id, user_id, priority, price, key, side, stp, order_type]
        level[QUEUE].append(order)
        level[TOTAL] += qty
        level[COUNT] += 1
        self._orders[order_id] = order
        self._dirty.add(key)
        self._depth_changed = True
        return order

    def _unlink(self, order: list) -> None:
        """Remove a resting order from the book (lazily from its queue). O(1) amortised."""
        key = order[KEY]
        levels = self._levels
        level = levels[key]
        level[TOTAL] -= order[QTY]
        level[COUNT] -= 1
        order[QTY] = 0
        del self._orders[order[ORDER_ID]]
        self._dirty.add(key)
        self._depth_changed = True
        if not level[COUNT]:
            del levels[key]
            heap = self._bid_heap if key < 0 else self._ask_heap
            if heap[0] == key:
                self._drop_stale_top(heap)
        else:
            dead = level[3] = level[3] + 1  # DEAD
            if dead > _COMPACT_AFTER and dead > level[COUNT]:
                level[QUEUE] = deque(o for o in level[QUEUE] if o[QTY])
                level[3] = 0

    def _drop_stale_top(self, heap: list[int]) -> None:
        """Pop keys of deleted levels off the top of a heap (restores the top invariant)."""
        levels = self._levels
        in_heap = self._in_heap
        while heap and heap[0] not in levels:
            in_heap.discard(heappop(heap))

    def _expire(self, order_id, user_id, reason, remaining, released, events) -> None:
        seq = self._seq = self._seq + 1
        events.append(_new_expired(seq, order_id, user_id, reason, remaining, released))

    def _reject(self, cmd: PlaceOrder, reason: RejectReason, events: list) -> None:
        released = cmd.reserve
        if released is None:
            released = self._canonical_reserve(cmd) if self._invalid_reason(cmd) is None else 0
        seq = self._seq = self._seq + 1
        events.append(_new_rejected(seq, cmd.order_id, cmd.user_id, reason, released or 0))

    def _invalid_reason(self, cmd: PlaceOrder) -> RejectReason | None:
        """Field validation for every order type (the slow path of :meth:`apply`)."""
        invalid = RejectReason.INVALID_ORDER
        order_type, side, price = cmd.order_type, cmd.side, cmd.price
        qty, quote_qty, stop_price = cmd.qty, cmd.quote_qty, cmd.stop_price
        if (
            not (side is BUY or side is SELL)
            or not isinstance(order_type, OrderType)
            or cmd.tif not in _TIFS
            or cmd.stp not in _STP_MODES
            or type(cmd.order_id) is not int
            or type(cmd.user_id) is not int
        ):
            return invalid
        if order_type in _LIMIT_TYPES:
            if not (_positive_int(price) and _positive_int(qty)) or quote_qty is not None:
                return invalid
            if order_type is LIMIT_MAKER and cmd.tif is not GTC:
                return invalid
        else:  # MARKET, STOP_LOSS
            if price is not None:
                return invalid
            if quote_qty is None:
                if not _positive_int(qty):
                    return invalid
            elif (qty is not None or side is not BUY or not _positive_int(quote_qty)
                  or cmd.tif is FOK):  # FOK "fills completely" is undefined for a quote budget
                return invalid
        if order_type in _STOP_TYPES:
            if not _positive_int(stop_price):
                return invalid
        elif stop_price is not None:
            return invalid
        return None

    def _canonical_reserve(self, cmd: PlaceOrder) -> int | None:
        """The reserve an order needs (README, "Reservations"); ``None`` when uncapped."""
        if cmd.side is SELL:
            return cmd.qty
        if cmd.order_type in _LIMIT_TYPES:
            return cmd.price * cmd.qty
        if cmd.quote_qty is not None:
            return cmd.quote_qty
        upper = self._band_key(True)
        return None if upper == _NO_LIMIT else upper * cmd.qty

    # ------------------------------------------------------------------ stops

    def _place_stop(self, cmd: PlaceOrder, reserve: int | None, events: list) -> None:
        reference = self._last_price if self._last_price is not None else self._reference_price
        stop_price = cmd.stop_price
        is_buy = cmd.side is BUY
        if reference is not None and (
            reference >= stop_price if is_buy else reference <= stop_price
        ):
            return self._reject(cmd, RejectReason.STOP_WOULD_TRIGGER_IMMEDIATELY, events)
        seq = self._seq = self._seq + 1
        events.append(_new_accepted(seq, cmd.order_id, cmd.user_id, cmd.side, cmd.order_type,
                                    cmd.tif, cmd.price, cmd.qty, cmd.quote_qty, stop_price,
                                    reserve))
        self._add_stop(PendingStop(cmd.order_id, cmd.user_id, cmd.side, cmd.order_type, cmd.tif,
                                   cmd.price, cmd.qty, cmd.quote_qty, stop_price, cmd.stp,
                                   reserve, 0))
        return None

    def _add_stop(self, stop: PendingStop, priority: int | None = None) -> None:
        if priority is None:
            priority = self._next_priority = self._next_priority + 1
        stop.priority = priority
        self._stops[stop.order_id] = stop
        if stop.side is BUY:
            heappush(self._buy_stops, (stop.stop_price, priority, stop.order_id))
        else:
            heappush(self._sell_stops, (-stop.stop_price, priority, stop.order_id))

    def _collect_triggered(self) -> list[PendingStop]:
        """Pop the stops whose condition holds at the last price, in trigger order."""
        last = self._last_price
        stops = self._stops
        triggered = []
        for heap, bound in ((self._buy_stops, last), (self._sell_stops, -last)):
            while heap and heap[0][0] <= bound:
                _, priority, order_id = heappop(heap)
                stop = stops.get(order_id)
                if stop is not None and stop.priority == priority:  # else: cancelled
                    del stops[order_id]
                    triggered.append(stop)
        return triggered

    def _run_stops(self, events: list) -> None:
        """Trigger and execute stops until none is triggered (cascades included)."""
        queue = deque(self._collect_triggered())
        while queue:
            stop = queue.popleft()
            seq = self._seq = self._seq + 1
            events.append(OrderTriggered._new(seq, stop.order_id, stop.user_id,
                                              stop.stop_price, self._last_price))
            last_before = self._last_price
            self._take(events, stop.order_id, stop.user_id, stop.side, stop.side is BUY,
                       stop.order_type, stop.tif, stop.price, stop.qty, stop.quote_qty,
                       stop.stp, stop.reserve)
            if self._stops and self._last_price != last_before:
                queue.extend(self._collect_triggered())

    # ------------------------------------------------------------------ cancel, amend, status

    def _cancel(self, cmd: CancelOrder, events: list) -> None:
        """A cancel that :meth:`apply` did not handle inline: a pending stop, or an order
        that is not open in this book (or belongs to another user)."""
        order_id = cmd.order_id
        user_id = cmd.user_id
        stop = self._stops.get(order_id)
        if stop is not None and (user_id is None or stop.user_id == user_id):
            self._cancel_stop(stop, CancelReason.USER, events)
            return
        seq = self._seq = self._seq + 1
        events.append(CommandRejected._new(seq, "CANCEL", order_id, user_id,
                                           RejectReason.UNKNOWN_ORDER))

    def _cancel_stop(self, stop: PendingStop, reason: CancelReason, events: list) -> None:
        del self._stops[stop.order_id]  # its heap entry is skipped when it surfaces
        remaining = stop.qty if stop.quote_qty is None else stop.quote_qty
        seq = self._seq = self._seq + 1
        events.append(_new_cancelled(seq, stop.order_id, stop.user_id, reason, remaining,
                                     stop.reserve or 0))

    def _cancel_all(self, cmd: CancelAll, events: list) -> None:
        """Cancel a user's open orders, oldest first. O(N log N): a full scan, kept off the
        hot paths (no per-user index to maintain on every placement and fill)."""
        user_id = cmd.user_id
        mine = [(o[PRIORITY], o) for o in self._orders.values() if o[USER_ID] == user_id]
        mine += [(s.priority, s) for s in self._stops.values() if s.user_id == user_id]
        mine.sort(key=lambda pair: pair[0])
        for _, order in mine:
            if isinstance(order, PendingStop):
                self._cancel_stop(order, CancelReason.CANCEL_ALL, events)
                continue
            remaining, released = order[QTY], order[RESERVE]
            self._unlink(order)
            seq = self._seq = self._seq + 1
            events.append(_new_cancelled(seq, order[ORDER_ID], user_id, CancelReason.CANCEL_ALL,
                                         remaining, released))

    def _amend(self, cmd: AmendOrder, events: list) -> None:
        order_id, user_id = cmd.order_id, cmd.user_id
        order = self._orders.get(order_id)
        if order is None or (user_id is not None and order[USER_ID] != user_id):
            stop = self._stops.get(order_id)
            known_stop = stop is not None and (user_id is None or stop.user_id == user_id)
            reason = RejectReason.AMEND_NOT_ALLOWED if known_stop else RejectReason.UNKNOWN_ORDER
            return self._reject_amend(cmd, reason, events)
        price, qty, reserve = order[PRICE], order[QTY], order[RESERVE]
        new_price = price if cmd.new_price is None else cmd.new_price
        new_qty = qty if cmd.new_qty is None else cmd.new_qty
        extra = cmd.extra_reserve
        if not (_positive_int(new_price) and _positive_int(new_qty)) or type(extra) is not int \
                or extra < 0:
            return self._reject_amend(cmd, RejectReason.AMEND_NOT_ALLOWED, events)
        if new_price == price and new_qty == qty:
            return self._reject_amend(cmd, RejectReason.AMEND_NOT_ALLOWED, events)
        keeps_priority = new_price == price and new_qty < qty
        if self._status is not TRADING and not keeps_priority:
            return self._reject_amend(cmd, RejectReason.BOOK_NOT_TRADING, events)
        is_buy = order[SIDE] is BUY
        if new_price != price:
            heap = self._ask_heap if is_buy else self._bid_heap
            if heap and heap[0] <= (new_price if is_buy else -new_price):
                return self._reject_amend(cmd, RejectReason.AMEND_WOULD_CROSS, events)
        # The reserve above the canonical amount (e.g. fee headroom) is kept.
        headroom = reserve - (price * qty if is_buy else qty)
        required = (new_price * new_qty if is_buy else new_qty) + headroom
        available = reserve + extra
        if required > available:
            return self._reject_amend(cmd, RejectReason.INSUFFICIENT_RESERVE, events)
        if keeps_priority:
            self._levels[order[KEY]][TOTAL] -= qty - new_qty
            order[QTY] = new_qty
            order[RESERVE] = required
            self._dirty.add(order[KEY])
            self._depth_changed = True
        else:
            self._unlink(order)
            self._rest(order_id, order[USER_ID], order[SIDE], is_buy, new_price, new_qty,
                       required, order[STP], order[ORDER_TYPE])
        seq = self._seq = self._seq + 1
        events.append(OrderAmended._new(seq, order_id, order[USER_ID], new_price, new_qty,
                                        keeps_priority, available - required))
        return None

    def _reject_amend(self, cmd: AmendOrder, reason: RejectReason, events: list) -> None:
        seq = self._seq = self._seq + 1
        events.append(CommandRejected._new(seq, "AMEND", cmd.order_id, cmd.user_id, reason))

    def _set_status(self, cmd: SetStatus, events: list) -> None:
        self._status = BookStatus(cmd.status)
        seq = self._seq = self._seq + 1
        events.append(StatusChanged._new(seq, self._status))

    # ------------------------------------------------------------------ depth

    def _level_total(self, key: int) -> int:
        level = self._levels.get(key)
        return level[TOTAL] if level is not None else 0

    def _emit_depth_changed(self, events: list) -> None:
        """The DepthChanged event of one command (``depth_events=True`` only)."""
        dirty = self._dirty
        keys = sorted(dirty)  # bids (negative keys) best first, then asks best first
        total = self._level_total
        bids = tuple((-key, total(key)) for key in keys if key < 0)
        asks = tuple((key, total(key)) for key in keys if key > 0)
        seq = self._seq = self._seq + 1
        events.append(DepthChanged._new(seq, self._update_id, bids, asks))
        self._pending_depth |= dirty
        dirty.clear()

    def take_depth_changes(self) -> DepthChanges | None:
        """Levels changed since the previous call (totals now, 0 = gone), or ``None``.

        O(C log C) for C changed levels.
        """
        if self._update_id == self._taken_update_id:
            return None
        keys = sorted(self._pending_depth)
        total = self._level_total
        changes = DepthChanges(
            first_update_id=self._taken_update_id + 1,
            last_update_id=self._update_id,
            bids=[(-key, total(key)) for key in keys if key < 0],
            asks=[(key, total(key)) for key in keys if key > 0],
        )
        self._pending_depth.clear()  # the same set object as _dirty without depth events
        self._taken_update_id = self._update_id
        return changes

    def depth_snapshot(self, limit: int | None = None) -> DepthSnapshot:
        """The best ``limit`` levels per side (all when ``None``). O(L log L)."""
        keys = sorted(self._levels)
        levels = self._levels
        bids = [(-key, levels[key][TOTAL]) for key in keys if key < 0]
        asks = [(key, levels[key][TOTAL]) for key in keys if key > 0]
        if limit is not None:
            bids, asks = bids[:limit], asks[:limit]
        return DepthSnapshot(update_id=self._update_id, bids=bids, asks=asks)

    # ------------------------------------------------------------------ state

    def dump(self) -> dict:
        """The whole state as plain data (JSON-compatible). O(N log N).

        ``OrderBook.restore(book.dump())`` behaves identically to ``book`` for any commands.
        """
        orders = sorted(self._orders.values(), key=lambda o: o[PRIORITY])
        stops = sorted(self._stops.values(), key=lambda s: s.priority)
        return {
            "format": _DUMP_FORMAT,
            "band_bps": self._band_bps,
            "reference_price": self._reference_price,
            "status": self._status.value,
            "depth_events": self._depth_events,
            "last_price": self._last_price,
            "seq": self._seq,
            "last_command_seq": self._last_command_seq,
            "next_priority": self._next_priority,
            "update_id": self._update_id,
            "taken_update_id": self._taken_update_id,
            "pending_depth": sorted(self._pending_depth),
            "orders": [
                [o[ORDER_ID], o[USER_ID], o[SIDE].value, o[PRICE], o[QTY], o[RESERVE],
                 o[STP].value, o[PRIORITY], o[ORDER_TYPE].value]
                for o in orders
            ],
            "stops": [
                [s.order_id, s.user_id, s.side.value, s.order_type.value, s.tif.value, s.price,
                 s.qty, s.quote_qty, s.stop_price, s.stp.value, s.reserve, s.priority]
                for s in stops
            ],
        }

    @classmethod
    def restore(cls, state: dict) -> "OrderBook":
        """Rebuild a book from :meth:`dump` output. O(N log N)."""
        if state.get("format") != _DUMP_FORMAT:
            raise ValueError(f"unsupported dump format {state.get('format')!r}")
        book = cls(band_bps=state["band_bps"], reference_price=state["reference_price"],
                   status=BookStatus(state["status"]), depth_events=state["depth_events"])
        book._last_price = state["last_price"]
        book._seq = state["seq"]
        book._last_command_seq = state["last_command_seq"]
        for (order_id, user_id, side, price, qty, reserve, stp, priority,
             order_type) in state["orders"]:
            side = Side(side)
            order = book._rest(order_id, user_id, side, side is BUY, price, qty, reserve,
                               StpMode(stp), OrderType(order_type))
            order[PRIORITY] = priority
        for (order_id, user_id, side, order_type, tif, price, qty, quote_qty, stop_price, stp,
             reserve, priority) in state["stops"]:
            book._add_stop(PendingStop(order_id, user_id, Side(side), OrderType(order_type),
                                       TimeInForce(tif), price, qty, quote_qty, stop_price,
                                       StpMode(stp), reserve, 0), priority)
        book._next_priority = state["next_priority"]
        # Depth bookkeeping last: _rest above marked every level as changed.
        book._update_id = state["update_id"]
        book._taken_update_id = state["taken_update_id"]
        book._dirty.clear()
        book._pending_depth.clear()
        book._pending_depth.update(state["pending_depth"])
        book._depth_changed = False
        book.check_invariants()
        return book

    @classmethod
    def rebuild(
        cls,
        orders: Iterable[RestingOrder],
        *,
        last_price: int | None = None,
        last_command_seq: int | None = None,
        seq: int = 0,
        **options,
    ) -> "OrderBook":
        """A book holding ``orders`` (open orders in sequence order) and nothing else.

        ``options`` are the constructor's. Resting orders must not cross (they never do in
        a consistent store); ``AssertionError`` otherwise. No events are produced, and the
        rebuilt levels are not reported as depth changes. O(N log L).
        """
        book = cls(**options)
        book._last_price = last_price
        book._last_command_seq = last_command_seq
        book._seq = seq
        for order in orders:
            side = Side(order.side)
            order_type = OrderType(order.order_type)
            stp = StpMode(order.stp)
            if order_type in _STOP_TYPES and order.stop_price is not None:
                book._add_stop(PendingStop(order.order_id, order.user_id, side, order_type,
                                           TimeInForce(order.tif), order.price, order.qty,
                                           order.quote_qty, order.stop_price, stp,
                                           order.reserve, 0))
                continue
            is_buy = side is BUY
            reserve = order.reserve
            if reserve is None:
                reserve = order.price * order.qty if is_buy else order.qty
            book._rest(order.order_id, order.user_id, side, is_buy, order.price, order.qty,
                       reserve, stp, order_type)
        book._dirty.clear()
        book._pending_depth.clear()
        book._depth_changed = False
        book.check_invariants()
        return book

    # ------------------------------------------------------------------ invariants

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if any internal invariant does not hold. O(N + L log L).

        Checked: the book is not crossed; each level's queue is in priority (FIFO) order
        and its total/count/dead figures match its orders; every resting order is indexed
        once, at its level, with a positive quantity and a reserve that covers it; the
        heaps hold each live level exactly once and their tops are live; every pending stop
        has a heap entry; no depth change is left half-recorded between commands.
        """

        def check(condition: bool, message: str) -> None:
            if not condition:
                raise AssertionError(message)

        levels, orders = self._levels, self._orders
        live_seen = 0
        for key, level in levels.items():
            check(key != 0, "level key 0")
            queue, total, count, dead = level
            live = [o for o in queue if o[QTY]]
            check(len(live) == count and count > 0, f"level {key}: count")
            check(len(queue) - len(live) == dead, f"level {key}: dead count")
            check(sum(o[QTY] for o in live) == total, f"level {key}: total")
            priorities = [o[PRIORITY] for o in live]
            check(priorities == sorted(priorities) and len(set(priorities)) == len(priorities),
                  f"level {key}: not FIFO")
            for order in live:
                order_id = order[ORDER_ID]
                is_buy = order[SIDE] is BUY
                check(orders.get(order_id) is order, f"order {order_id}: index")
                check(order[KEY] == key, f"order {order_id}: key")
                check(key == (-order[PRICE] if is_buy else order[PRICE]),
                      f"order {order_id}: side/price")
                check(order[QTY] > 0, f"order {order_id}: zero quantity")
                needed = order[PRICE] * order[QTY] if is_buy else order[QTY]
                check(order[RESERVE] >= needed, f"order {order_id}: reserve too small")
            live_seen += len(live)
        check(live_seen == len(orders), "index holds orders that are not in a level")
        for heap, sign in ((self._ask_heap, 1), (self._bid_heap, -1)):
            check(len(heap) == len(set(heap)), "duplicate heap keys")
            check(all(key * sign > 0 for key in heap), "heap key on the wrong side")
            check(all(heap[i] <= heap[c] for i in range(len(heap))
                      for c in (2 * i + 1, 2 * i + 2) if c < len(heap)), "heap order")
            check(not heap or heap[0] in levels, "heap top is not a live level")
            check({key for key in levels if key * sign > 0} <= set(heap), "level not in heap")
        check(set(self._ask_heap) | set(self._bid_heap) == self._in_heap, "_in_heap mismatch")
        bid, ask = self.best_bid(), self.best_ask()
        check(bid is None or ask is None or bid < ask, f"crossed book: {bid} >= {ask}")
        entries = {(priority, order_id) for _, priority, order_id in self._buy_stops}
        entries |= {(priority, order_id) for _, priority, order_id in self._sell_stops}
        for order_id, stop in self._stops.items():
            check((stop.priority, order_id) in entries, f"stop {order_id}: no heap entry")
            check(order_id not in orders, f"stop {order_id} also rests")
        check(not self._depth_changed, "depth change not closed by its command")
        if self._depth_events:
            check(not self._dirty, "per-command dirty levels left over")


def _resting_record(order: list) -> RestingOrder:
    return RestingOrder(order[ORDER_ID], order[USER_ID], order[SIDE], order[PRICE], order[QTY],
                        order[RESERVE], order[STP], order[ORDER_TYPE])


def _stop_record(stop: PendingStop) -> RestingOrder:
    return RestingOrder(stop.order_id, stop.user_id, stop.side, stop.price, stop.qty,
                        stop.reserve, stop.stp, stop.order_type, stop.tif, stop.quote_qty,
                        stop.stop_price)
