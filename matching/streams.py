"""Redis names and the announce helper shared by order entry and the matcher.

Every key of one market shares the hash tag ``{SYMBOL}`` so that the market's keys live
together in a Redis Cluster (DESIGN §9). The stream is a doorbell (DESIGN §2): an entry
only names a row in Postgres (``c`` = command kind, ``id`` = its primary key); the matcher
reads the row, so a lost entry loses nothing that the sweep cannot re-announce.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings

log = logging.getLogger(__name__)

GROUP = "matcher"
# Entry kinds: a placement names an orders_order row; the others an orders_ordercommand row.
PLACE = "P"
COMMAND = "C"
# Approximate cap on a stream's length; trimmed entries are re-announced by the sweep.
STREAM_MAXLEN = 2_000_000


def commands_key(symbol: str) -> str:
    return f"{{{symbol}}}:commands"


def lease_key(symbol: str) -> str:
    return f"{{{symbol}}}:lease"


def epoch_key(symbol: str) -> str:
    return f"{{{symbol}}}:epoch"


def committed_channel(symbol: str) -> str:
    """Pub/sub channel: the matcher publishes its last sequence after each commit."""
    return f"{{{symbol}}}:committed"


def status_key(symbol: str) -> str:
    return f"matcher:status:{symbol}"


HEARTBEAT_KEY = "matcher:heartbeat"

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """A process-wide client (connection pool); short timeouts so a Redis outage never
    blocks order entry for long."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2,
                                       socket_connect_timeout=2)
    return _client


def announce_with(redis_client: redis.Redis, symbol: str, entries: list[tuple[str, int]]) -> None:
    """XADD ``(kind, id)`` entries, pipelined; raises ``redis.RedisError``."""
    pipe = redis_client.pipeline(transaction=False)
    key = commands_key(symbol)
    for kind, pk in entries:
        pipe.xadd(key, {"c": kind, "id": pk}, maxlen=STREAM_MAXLEN, approximate=True)
    pipe.execute()


def announce(symbol: str, entries: list[tuple[str, int]]) -> None:
    """XADD ``(kind, id)`` entries to the market's stream, pipelined.

    Called after commit only. A failure is logged and swallowed: the row is in Postgres and
    the matcher's sweep re-announces what it has not sequenced."""
    if not entries:
        return
    try:
        announce_with(client(), symbol, entries)
    except redis.RedisError:
        log.exception("announce to %s failed; the matcher's sweep will re-announce", symbol)
