"""/metrics reports the last stored reconciliation run, whichever process ran it."""

import os
import re
import subprocess
import sys
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from django.test import Client

from wallets.models import Balance, ReconciliationRun
from wallets.tests.helpers import fund

pytestmark = pytest.mark.django_db(transaction=True)


def _gauge() -> float:
    body = Client().get("/metrics").content.decode()
    match = re.search(r"^bourse_reconciliation_differences (\S+)$", body, re.MULTILINE)
    assert match, body[:500]
    return float(match.group(1))


def _reconcile_in_another_process() -> int:
    from django.conf import settings

    url = urlsplit(settings.DATABASE_URL)._replace(path="/" + connection.settings_dict["NAME"])
    env = dict(os.environ, DATABASE_URL=urlunsplit(url),
               DJANGO_SETTINGS_MODULE="exchange.settings", BOURSE_TESTING="1")
    done = subprocess.run([sys.executable, "manage.py", "reconcile"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode


def test_gauge_reads_the_last_run_written_by_another_process(btc, user, settings):
    settings.WALLETS_METRICS_CACHE_SECONDS = 0
    # given no run yet
    assert _gauge() == 0
    # when the books are broken behind the services' back and another process reconciles
    fund(user, btc, "1")
    Balance.objects.filter(user=user, asset=btc).update(available=Decimal("2"))
    assert _reconcile_in_another_process() == 1
    # then this process's /metrics shows that run's differences
    run = ReconciliationRun.objects.latest()
    assert not run.ok and run.difference_count >= 1
    assert _gauge() == run.difference_count
    # and a later clean run brings it back to zero
    Balance.objects.filter(user=user, asset=btc).update(available=Decimal("1"))
    assert _reconcile_in_another_process() == 0
    assert _gauge() == 0


def test_gauge_is_cached_briefly(settings):
    settings.WALLETS_METRICS_CACHE_SECONDS = 60
    from wallets import metrics

    metrics._cache.clear()
    first = _gauge()
    ReconciliationRun.objects.create(started_at="2026-01-01T00:00Z",
                                     finished_at="2026-01-01T00:00Z", ok=False,
                                     difference_count=7)
    assert _gauge() == first            # within the cache window: no query
    metrics._cache.clear()
    assert _gauge() == 7
