"""Prometheus metrics of the matcher (exported with ``--metrics-port``; the same figures
go to the Redis status hash ``matcher:status:{SYMBOL}``)."""

from prometheus_client import Counter, Gauge, Histogram

BATCH_SIZE = Histogram("bourse_matcher_batch_commands", "Commands per committed batch",
                       ["market"], buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000))
MATCH_SECONDS = Histogram("bourse_matcher_match_seconds", "Engine time per batch", ["market"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1))
COMMIT_SECONDS = Histogram("bourse_matcher_commit_seconds", "Commit time per batch",
                           ["market"],
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
ORDERS = Counter("bourse_matcher_orders_total", "Placements applied", ["market"])
TRADES = Counter("bourse_matcher_trades_total", "Trades committed", ["market"])
STREAM_LAG = Gauge("bourse_matcher_stream_lag", "Entries not yet delivered to the group",
                   ["market"])
EPOCH = Gauge("bourse_matcher_epoch", "Fencing epoch held", ["market"])
