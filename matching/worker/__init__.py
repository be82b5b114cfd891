"""The matcher worker (``manage.py run_matcher``): wraps ``matching.engine`` with leases,
Redis Streams, Postgres commits and publishing. See docs/ORDERS.md."""
