"""Garbage-collector settings for a long-lived matcher process (no Django import).

A matcher holds tens of thousands of long-lived containers (resting order records, level
queues, the rebuilt book's indexes) and allocates a few short-lived ones per command (the
command, its event list, the events). With CPython's default thresholds (700, 10, 10) the
young generation is collected every ~250 commands and the older generations keep
re-traversing the long-lived records: on the engine benchmark that was up to a quarter of
the CPU time and the largest pauses (86 ms). See docs/PERFORMANCE-engine.md.

The collector stays enabled (a reference cycle somewhere in the process must still be
freed); this only makes its work proportional to what is new:

- ``gc.freeze()`` after a book is built moves every object alive at that point (the book,
  Django's and the process's import-time objects) to the permanent generation, which no
  collection traverses. Objects frozen and later dropped are still freed by reference
  counting; only cyclic garbage among them would stay, which the engine does not create.
- A larger generation-0 threshold collects the young generation less often; almost all
  of it is garbage by then (events already handed to the worker), so a collection costs
  about the same whatever the threshold and runs ~70x less often.
"""

import gc

#: (gen0, gen1, gen2). gen0 50,000 allocations net of deallocations; the older thresholds
#: keep full collections rare (CPython also skips a full collection unless the objects
#: that survived since the last one exceed 25% of the long-lived ones).
MATCHING_THRESHOLDS = (50_000, 20, 100)


def tune_for_matching(thresholds: tuple[int, int, int] = MATCHING_THRESHOLDS) -> None:
    """Collect once, freeze what is alive now and raise the thresholds. Idempotent; call it
    after building or rebuilding a book (the rebuilt records are then never traversed)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    if not gc.isenabled():  # never leave the process without a collector
        gc.enable()
