"""Prometheus metrics shared by the web tier. The matcher exports its own on a port
(see matching) and publishes its status in Redis, which /metrics also reports."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "bourse_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "bourse_http_request_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
RECONCILIATION_DIFFERENCES = Gauge(
    "bourse_reconciliation_differences", "Differences found by the last reconciliation"
)
