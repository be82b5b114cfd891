"""The bounded chaos run inside ``make test``: real web, matcher and Redis processes, a few
hundred operations, and every fault once (two matcher kills, Redis restarted empty, the
matcher's Postgres backend terminated); every invariant must hold."""

import os
import time

import pytest

from marketdata.tests import support
from tests.chaos.harness import Config, run_chaos

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_chaos_smoke():
    # given a bounded run (CHAOS_SMOKE_OPS to scale it)
    cfg = Config(ops=int(os.environ.get("CHAOS_SMOKE_OPS", "600")), clients=10, accounts=6,
                 max_seconds=90)
    started = time.monotonic()
    # when the clients trade while the faults are injected
    ok, figures = run_chaos(cfg, database_url=support.test_database_url())
    # then every invariant held, within the time bound
    assert ok, figures
    assert figures["matcher_kills"] == 2 and figures["redis_restarts"] == 1
    assert figures["trades"] > 0
    assert time.monotonic() - started < 180
