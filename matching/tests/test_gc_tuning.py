"""matching.gc_tuning: the matcher's collector settings keep the collector on."""

import gc

from matching.engine import OrderBook, PlaceOrder, Side
from matching.gc_tuning import MATCHING_THRESHOLDS, tune_for_matching


def test_tune_for_matching_freezes_the_book_and_keeps_the_collector_enabled():
    before = gc.get_threshold()
    was_enabled = gc.isenabled()
    gc.disable()  # even a process that had switched it off gets it back
    try:
        book = OrderBook()
        book.apply(PlaceOrder(1, 1, Side.BUY, price=100, qty=1))
        tune_for_matching()
        assert gc.isenabled()
        assert gc.get_threshold() == MATCHING_THRESHOLDS
        assert gc.get_freeze_count() > 0
        book.apply(PlaceOrder(2, 1, Side.SELL, price=100, qty=1))  # the book keeps working
        book.check_invariants()
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        if not was_enabled:
            gc.disable()
