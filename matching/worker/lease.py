"""Per-market leases with fencing epochs (DESIGN §3).

The lease is a Redis key (``SET NX PX``, renewed while held). The epoch is a Redis counter
forced above the epoch stored in Postgres, then written to the market's checkpoint in its
own transaction *before* the book is rebuilt: from then on any commit of an older holder
fails (``UPDATE ... WHERE epoch <= mine``), and the new holder rebuilds from a state no
older holder can change any more.
"""

from __future__ import annotations

import contextlib

import redis
from django.db import connection, transaction

from matching import streams

LEASE_MS = 10_000
# Renew: extend our lease, or take it again if it expired with nobody else holding it (a
# rebuild longer than the lease, a Redis restart). Re-taking is safe because the epoch in
# Postgres fences us: if another matcher held the market meanwhile, its epoch is higher and
# our next commit raises Fenced. Without this a book whose rebuild outlasts the lease is
# dropped and rebuilt forever.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Fenced(Exception):
    """A newer epoch owns the market: this matcher must not commit."""


def _db_epoch(market_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO matching_marketcheckpoint "
                       "(market_id, last_sequence, epoch, depth_update_id, updated_at) "
                       "VALUES (%s, 0, 0, 0, now()) ON CONFLICT (market_id) DO NOTHING",
                       [market_id])
        cursor.execute("SELECT epoch FROM matching_marketcheckpoint WHERE market_id = %s",
                       [market_id])
        return cursor.fetchone()[0]


def lease_acquire(client: redis.Redis, *, symbol: str, market_id: int, owner: str,
                  lease_ms: int = LEASE_MS) -> int | None:
    """Take the market's lease if free; return the new fencing epoch (already stored in the
    checkpoint), or None if another matcher holds it."""
    if not client.set(streams.lease_key(symbol), owner, nx=True, px=lease_ms):
        return None
    for _ in range(5):
        epoch = int(client.incr(streams.epoch_key(symbol)))
        db_epoch = _db_epoch(market_id)
        if epoch <= db_epoch:  # Redis lost its counter: jump past the durable epoch
            epoch = int(client.incrby(streams.epoch_key(symbol), db_epoch - epoch + 1))
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute("UPDATE matching_marketcheckpoint SET epoch = %s, updated_at = now() "
                           "WHERE market_id = %s AND epoch < %s", [epoch, market_id, epoch])
            if cursor.rowcount == 1:
                return epoch
    lease_release(client, symbol=symbol, owner=owner)
    return None


def lease_renew(client: redis.Redis, *, symbol: str, owner: str,
                lease_ms: int = LEASE_MS) -> bool:
    return bool(client.eval(_RENEW, 1, streams.lease_key(symbol), owner, lease_ms))


def lease_release(client: redis.Redis, *, symbol: str, owner: str) -> None:
    with contextlib.suppress(redis.RedisError):
        client.eval(_RELEASE, 1, streams.lease_key(symbol), owner)
