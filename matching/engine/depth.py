"""Market-depth views returned by the book (plain frozen data, prices and totals as ints)."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DepthChanges:
    """Levels changed since the previous ``take_depth_changes()`` call.

    Each level is ``(price, total_qty)`` with the total *after* the changes; 0 means the
    level is gone. ``first_update_id``..``last_update_id`` are the update ids covered (the
    Binance diff-depth ``U``/``u``): applying these to a snapshot whose ``update_id`` is
    ``first_update_id - 1`` gives the snapshot at ``last_update_id``. Bids best (highest)
    first, asks best (lowest) first.
    """

    first_update_id: int
    last_update_id: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """Aggregated levels, best first, as of ``update_id``."""

    update_id: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
