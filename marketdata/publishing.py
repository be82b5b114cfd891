"""Publishing what the matcher committed: ``publish_batch`` (docs/CONTRACTS.md).

Called by the matcher after each committed batch, never before (DESIGN §1.5). Per call:

* one Lua script, atomic on the market's hash slot, increments the market's publish
  sequence, appends one entry to the market's public stream ``{M}:md`` (trades, depth
  diff, touched 1-minute candles) and stores the full depth snapshot in ``{M}:depth``
  together with that entry's id and sequence. A reader that loads the snapshot and then
  reads the stream after its id sees every later change exactly once, and detects a
  trimmed or lost entry because the sequence jumps;
* one entry on the private stream ``{private}:events`` carrying the batch's order and
  balance updates, each tagged with its user id (never on the public stream).

Payloads are JSON-encoded once here; the web processes decode each entry once and encode
each outgoing frame once per wire format, whatever the number of subscribers.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import redis

from marketdata import keys
from marketdata.models import Candle
from marketdata.redis_conn import sync_client

logger = logging.getLogger(__name__)

# Approximate stream lengths kept in Redis: how far a web process may fall behind (or be
# down) and still resume without a gap. At 100 batches/s that is ~100 s of history.
PUBLIC_STREAM_MAXLEN = 10_000
PRIVATE_STREAM_MAXLEN = 100_000

# Public trade fields: the buyer and seller ids are private and never leave this module
# on the public stream.
PUBLIC_TRADE_FIELDS = ("id", "market", "price", "quantity", "quote_quantity", "taker_side",
                       "buy_order_id", "sell_order_id", "time")

_PUBLISH_PUBLIC = """
local seq = redis.call('INCR', KEYS[2])
local args = {'XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'seq', tostring(seq)}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.call(unpack(args))
redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'seq', tostring(seq), 'id', id)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'through', ARGV[3]) end
return {seq, id}
"""

_PUBLISH_PRIVATE = """
local seq = redis.call('INCR', KEYS[2])
local args = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'seq', tostring(seq)}
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
return redis.call(unpack(args))
"""

_scripts: dict[str, redis.commands.core.Script] = {}
# Per publishing process: the lastUpdateId last published for each market.
_last_update_ids: dict[str, int] = {}


def _script(name: str, source: str):
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = sync_client().register_script(source)
    return script


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _touched_candles(market: str, trades: list[dict]) -> list[dict]:
    """The committed 1-minute candles of the minutes these trades fall in (the matcher
    upserted them in the same transaction), for the live candle stream."""
    if not trades:
        return []
    minutes = {int(t["time"]) // 60_000 * 60 for t in trades}
    starts = [datetime.fromtimestamp(m, tz=UTC) for m in minutes]
    rows = Candle.objects.filter(market__symbol=market, open_time__in=starts).order_by(
        "open_time"
    ).values("open_time", "open", "high", "low", "close", "volume", "quote_volume",
             "trade_count")
    return [
        {
            "interval": "1m",
            "open_time": int(r["open_time"].timestamp() * 1000),
            "close_time": int(r["open_time"].timestamp() * 1000) + 59_999,
            "open": str(r["open"]), "high": str(r["high"]), "low": str(r["low"]),
            "close": str(r["close"]), "volume": str(r["volume"]),
            "quote_volume": str(r["quote_volume"]), "trade_count": r["trade_count"],
        }
        for r in rows
    ]


def publish_batch(
    *,
    market: str,
    trades: list[dict],
    depth_update: dict | None,
    depth_snapshot: dict,
    order_updates: list[dict],
    balance_updates: list[dict],
    through_sequence: int | None = None,
) -> None:
    """Publish one committed batch of ``market``. Precondition: the batch is committed.

    ``through_sequence``: the matcher's checkpoint (last command sequence) this batch
    brings the published state to; stored with the snapshot (:func:`published_through`)
    so that a restarted matcher can publish what a crash left unpublished.

    Shapes are those of docs/CONTRACTS.md. Consecutive ``depth_update``s of a market must
    chain (``U == previous u + 1``) and ``depth_snapshot["lastUpdateId"]`` must be the
    ``u`` of the last update included. Raises ``redis.RedisError`` if Redis refused after
    retries: the truth is in Postgres, and readers detect the missing entry as a gap.
    """
    now_ms = int(time.time() * 1000)
    fields: list[str] = ["E", str(now_ms)]
    if trades:
        public = [{k: t[k] for k in PUBLIC_TRADE_FIELDS if k in t} for t in trades]
        fields += ["t", _dumps(public)]
    snapshot = _dumps(depth_snapshot)
    if depth_update is not None:
        fields += ["d", _dumps(depth_update)]
    elif _last_update_ids.get(market) != depth_snapshot["lastUpdateId"]:
        # The book changed without a diff (the matcher rebuilt it, e.g. after a restart):
        # readers replace their copy; diff followers see the id jump and resync.
        fields += ["s", snapshot]
    _last_update_ids[market] = depth_snapshot["lastUpdateId"]
    candles = _touched_candles(market, trades)
    if candles:
        fields += ["k", _dumps(candles)]

    private_events = [
        {"user_id": u["user_id"], "type": "order", "market": market,
         "order": u["order"], "fill": u.get("fill")}
        for u in order_updates
    ] + [
        {"user_id": b["user_id"], "type": "balance", "asset": b["asset"],
         "available": b["available"], "locked": b["locked"]}
        for b in balance_updates
    ]

    _with_retries(lambda: _script("public", _PUBLISH_PUBLIC)(
        keys=[keys.depth_key(market), keys.seq_key(market), keys.stream_key(market)],
        args=[snapshot, PUBLIC_STREAM_MAXLEN,
              "" if through_sequence is None else str(through_sequence), *fields],
    ))
    if private_events:
        _with_retries(lambda: _script("private", _PUBLISH_PRIVATE)(
            keys=[keys.PRIVATE_STREAM, keys.PRIVATE_SEQ],
            args=[PRIVATE_STREAM_MAXLEN, "E", str(now_ms), "ev", _dumps(private_events)],
        ))


def published_through(market: str) -> int | None:
    """The matcher checkpoint the last published batch of ``market`` brought readers to
    (``None``: unknown, e.g. Redis restarted empty)."""
    value = sync_client().hget(keys.depth_key(market), "through")
    return None if value is None else int(value)


def publish_private(*, events: list[dict]) -> None:
    """Publish private events that no matcher batch carries (e.g. wallets' deposit and
    withdrawal balance changes) on the private stream, after their commit. Each event is
    ``{"user_id", "type", ...}``; raises ``redis.RedisError`` after retries."""
    if not events:
        return
    now_ms = int(time.time() * 1000)
    _with_retries(lambda: _script("private", _PUBLISH_PRIVATE)(
        keys=[keys.PRIVATE_STREAM, keys.PRIVATE_SEQ],
        args=[PRIVATE_STREAM_MAXLEN, "E", str(now_ms), "ev", _dumps(events)],
    ))


def _with_retries(call, attempts: int = 3):
    for attempt in range(attempts):
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError):
            if attempt == attempts - 1:
                raise
            logger.warning("publish_batch: Redis unavailable, retrying", exc_info=True)
            time.sleep(0.05 * (attempt + 1))
    return None
