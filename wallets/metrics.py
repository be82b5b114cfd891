"""The wallets' Prometheus figures, read from the database at scrape time.

``bourse_reconciliation_differences`` (declared in ``exchange.metrics``) reports the
difference count of the last stored ``ReconciliationRun``, whichever process ran it (the
Celery beat job, ``manage.py reconcile``), not a value held in the memory of the process
that happened to run the job. Cost: one primary-key-ordered ``LIMIT 1`` query per scrape,
cached for ``WALLETS_METRICS_CACHE_SECONDS`` (default 5 s).
"""

from __future__ import annotations

import logging
import math
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection

log = logging.getLogger(__name__)

_cache_lock = threading.Lock()
_cache: dict[str, float] = {}


def reconciliation_differences_last() -> float:
    """Differences found by the last reconciliation run (0 if none ever ran; NaN if the
    database cannot be read). Safe to call from any thread: a connection this call had
    to open (a scrape thread of ``prometheus_client``'s own server) is closed again."""
    ttl = getattr(settings, "WALLETS_METRICS_CACHE_SECONDS", 5)
    now = time.monotonic()
    with _cache_lock:
        if ttl > 0 and _cache.get("at", -math.inf) + ttl > now:
            return _cache["value"]
    from wallets.selectors import reconciliation_last

    opened_here = connection.connection is None and not connection.in_atomic_block
    try:
        run = reconciliation_last()
        value = float(run.difference_count) if run is not None else 0.0
    except DatabaseError:
        log.exception("cannot read the last reconciliation run for /metrics")
        value = math.nan
    finally:
        if opened_here:
            connection.close()
    with _cache_lock:
        _cache.update(at=now, value=value)
    return value


def wallets_metrics_register() -> None:
    """Binds the gauge to the database (called once from ``WalletsConfig.ready``)."""
    from exchange.metrics import RECONCILIATION_DIFFERENCES

    RECONCILIATION_DIFFERENCES.set_function(reconciliation_differences_last)
