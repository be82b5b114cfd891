"""The per-process fan-out hub.

One hub per event loop (per web process). For each market someone in this process
follows, one task reads the market's Redis stream (``XREAD BLOCK`` from the id of the
snapshot it loaded), keeps a local copy of the book, and hands every event to the local
subscribers: each event is encoded once per wire format, then appended to each
subscriber's bounded outbox (``Subscriber.push``, O(1), never awaits). Redis cost is one
blocking read per market per process, whatever the number of sockets; every web process
(on any machine) does the same independently, so they scale out without coordination.

Conflated streams (top-N depth, merged 100 ms diffs, candles, ticker) are produced by a
timer per market from the local state, at most every ``CONFLATE_INTERVAL``.

If a reader finds a hole in a stream (the per-market ``seq`` jumps: the reader fell more
than the stream's MAXLEN behind, or Redis lost data) it cannot tell what was lost, so it
closes every subscriber of that market with ``CLOSE_STREAM_GAP`` and resynchronises;
clients reconnect and resync by the documented procedure. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

import redis
from asgiref.sync import sync_to_async
from sortedcontainers import SortedDict

from marketdata import keys
from marketdata.redis_conn import async_client
from marketdata.streaming.formats import FORMATS, frame_of

logger = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
CLOSE_STREAM_GAP = 4009
CONFLATE_INTERVAL = 0.1
TICKER_INTERVAL = 1.0
KLINE_INTERVAL = 0.25
XREAD_BLOCK_MS = 5000
XREAD_COUNT = 1000
YIELD_AFTER = 0.02  # seconds of fan-out before a reader lets the loop run others
KLINE_WIDTH_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000,
                  "4h": 14_400_000, "1d": 86_400_000}
DEPTH_LEVELS = (5, 10, 20)

# A topic: (kind, market, parameter). kind is a formats.EVENT_KINDS key; parameter is
# the depth level count of "depthN", the interval of "kline", the user id of "private".
Topic = tuple[str, str, str]


class Subscriber(Protocol):
    format_name: str

    def push(self, frame: str) -> None:
        """Queue ``frame`` for sending; never blocks. On overflow the subscriber closes
        itself with CLOSE_SLOW_CONSUMER."""

    def close_soon(self, code: int) -> None: ...


def _bytes_fields(fields: dict) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in fields.items()}


class Hub:
    def __init__(self) -> None:
        self.subs: dict[Topic, dict[str, set[Subscriber]]] = {}
        self.feeds: dict[str, MarketFeed] = {}
        self.private: PrivateFeed | None = None

    # -- subscriptions (called from consumers, in the loop) ---------------------------
    async def subscribe(self, topic: Topic, sub: Subscriber) -> None:
        """Registers ``sub``; when this returns, every event published after the state
        of the snapshot this process holds reaches ``sub`` in order."""
        kind, market, _ = topic
        if kind == "private":
            if self.private is None:
                self.private = PrivateFeed(self)
            await self.private.started()
        else:
            feed = self.feeds.get(market)
            if feed is None:
                feed = self.feeds[market] = MarketFeed(self, market)
            await feed.started()
        self.subs.setdefault(topic, {}).setdefault(sub.format_name, set()).add(sub)

    def unsubscribe(self, topic: Topic, sub: Subscriber) -> None:
        by_format = self.subs.get(topic)
        if not by_format:
            return
        members = by_format.get(sub.format_name)
        if members is not None:
            members.discard(sub)
            if not members:
                del by_format[sub.format_name]
        if not by_format:
            del self.subs[topic]

    def has_subscribers(self, topic: Topic) -> bool:
        return topic in self.subs

    def topics_of_market(self, market: str) -> list[Topic]:
        return [t for t in self.subs if t[1] == market and t[0] != "private"]

    # -- delivery ---------------------------------------------------------------------
    def emit(self, topic: Topic, event: dict) -> int:
        """Encode ``event`` once per format in use and push it to every subscriber of
        ``topic``. O(subscribers). Returns the number of pushes."""
        by_format = self.subs.get(topic)
        if not by_format:
            return 0
        kind, market, _ = topic
        pushed = 0
        for format_name, members in list(by_format.items()):
            text = FORMATS[format_name].encode(kind, market, event)
            if text is None:
                continue
            frame = frame_of(text)
            for sub in tuple(members):
                sub.push(frame)
                pushed += 1
        return pushed

    def close_topics(self, topics: Iterable[Topic], code: int) -> None:
        for topic in list(topics):
            for members in list(self.subs.get(topic, {}).values()):
                for sub in tuple(members):
                    sub.close_soon(code)


_hubs: dict[int, Hub] = {}


def get_hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(id(loop))
    if hub is None:
        hub = _hubs[id(loop)] = Hub()
    return hub


class _Side:
    """One side of the local book: SortedDict keyed so that iteration is best first."""

    def __init__(self, descending: bool) -> None:
        self.sign = -1 if descending else 1
        self.levels: SortedDict = SortedDict()

    def load(self, levels: list) -> None:
        self.levels.clear()
        for price, qty in levels:
            self.levels[self.sign * Decimal(price)] = (price, qty)

    def apply(self, levels: list) -> None:
        for price, qty in levels:
            key = self.sign * Decimal(price)
            if Decimal(qty) == 0:
                self.levels.pop(key, None)
            else:
                self.levels[key] = (price, qty)

    def top(self, n: int | None = None) -> list[list[str]]:
        values = self.levels.values()
        if n is not None:
            values = values[:n]
        return [[p, q] for p, q in values]

    def best(self) -> list[str] | None:
        if not self.levels:
            return None
        p, q = self.levels.peekitem(0)[1]
        return [p, q]


class _Feed:
    """A task reading one Redis stream from a known id, with gap detection by ``seq``."""

    stream: str

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.last_id = "0-0"
        self.seq = 0
        # True until loaded, and again after a gap: _load starts from a fresh snapshot.
        # After a mere Redis error it stays False and the read resumes from last_id.
        self._need_load = True
        self._ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def started(self) -> None:
        await self._ready.wait()

    async def _load(self) -> None:
        raise NotImplementedError

    def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        raise NotImplementedError

    def _gap(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        client = async_client()
        while True:
            try:
                await self._load()
                self._ready.set()
                while True:
                    response = await client.xread({self.stream: self.last_id},
                                                  block=XREAD_BLOCK_MS, count=XREAD_COUNT)
                    if not response:
                        continue
                    gap = False
                    turn_started = time.monotonic()
                    for entry_id, raw in response[0][1]:
                        fields = _bytes_fields(raw)
                        seq = int(fields["seq"])
                        if seq != self.seq + 1:
                            logger.warning("%s: seq %s after %s: gap, resync", self.stream,
                                           seq, self.seq)
                            gap = True
                            break
                        self.seq = seq
                        self.last_id = entry_id.decode()
                        self._handle(self.last_id, fields)
                        if time.monotonic() - turn_started > YIELD_AFTER:
                            # A reader catching up (up to XREAD_COUNT entries, each fanned
                            # out to every socket) lets the loop write and serve others
                            # between entries; the hub's state is consistent at entry
                            # boundaries, so a subscribe in between stays exact.
                            await asyncio.sleep(0)
                            turn_started = time.monotonic()
                    if gap:
                        self._gap()
                        self._need_load = True
                        break
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError):
                # Resume from last_id: nothing is lost unless trimmed (then seq jumps).
                logger.warning("%s: Redis error, retrying", self.stream, exc_info=True)
                await asyncio.sleep(0.5)
            except Exception:
                logger.exception("%s: reader failed, resyncing", self.stream)
                self._gap()
                self._need_load = True
                await asyncio.sleep(0.5)


class MarketFeed(_Feed):
    def __init__(self, hub: Hub, market: str) -> None:
        self.market = market
        self.stream = keys.stream_key(market)
        self.bids = _Side(descending=True)
        self.asks = _Side(descending=False)
        self.last_update_id = 0
        self._pending: dict[str, dict[str, str]] = {"bids": {}, "asks": {}}
        self._pending_first = 0
        self._book_changed = True
        self._best: tuple = (None, None)
        self._minutes: dict[int, dict] = {}  # open_time ms -> 1m candle
        self._kline_dirty = False
        self._kline_loaded: set[tuple[str, int]] = set()
        super().__init__(hub)
        self._timers = [asyncio.get_running_loop().create_task(self._conflate())]

    async def _load(self) -> None:
        """Snapshot, its seq and stream id, read together (the publish script writes them
        atomically).

        After a Redis error (reconnecting) the read resumes from ``last_id`` instead,
        unless Redis has gone back in time: restarted empty or from an older save, its
        sequence is below what this process already delivered. Then the subscribers'
        books and trade ids may not match anything Redis will publish, and nothing would
        reveal it (the sequence restarts at 1, which looks like no gap to a fresh
        reader), so they are closed with CLOSE_STREAM_GAP before reloading."""
        if not self._need_load:
            stored = await async_client().hget(keys.depth_key(self.market), "seq")
            if int(stored or 0) >= self.seq:
                return
            logger.warning("%s: Redis holds seq %s after %s (restarted or restored): "
                           "closing subscribers, resync", self.stream, stored, self.seq)
            self._gap()
            self._need_load = True
        raw = await async_client().hgetall(keys.depth_key(self.market))
        data = _bytes_fields(raw) if raw else {}
        snap = json.loads(data["snapshot"]) if data else {"lastUpdateId": 0, "bids": [],
                                                           "asks": []}
        self.seq = int(data.get("seq", 0))
        self.last_id = data.get("id", "0-0")
        self.last_update_id = int(snap["lastUpdateId"])
        self.bids.load(snap["bids"])
        self.asks.load(snap["asks"])
        self._pending = {"bids": {}, "asks": {}}
        self._pending_first = 0
        self._book_changed = True
        self._need_load = False

    def _gap(self) -> None:
        self.hub.close_topics(self.hub.topics_of_market(self.market), CLOSE_STREAM_GAP)

    def snapshot(self) -> dict:
        return {"lastUpdateId": self.last_update_id, "bids": self.bids.top(),
                "asks": self.asks.top()}

    def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        hub, market = self.hub, self.market
        published = int(fields["E"])
        if "t" in fields and hub.has_subscribers(("trade", market, "")):
            topic = ("trade", market, "")
            for trade in json.loads(fields["t"]):
                trade["E"] = published
                hub.emit(topic, trade)
        if "d" in fields:
            diff = json.loads(fields["d"])
            self.bids.apply(diff["bids"])
            self.asks.apply(diff["asks"])
            if not self._pending_first:
                self._pending_first = diff["U"]
            for side in ("bids", "asks"):
                pending = self._pending[side]
                for price, qty in diff[side]:
                    pending[price] = qty
            self.last_update_id = diff["u"]
            self._book_changed = True
            diff["E"] = published
            hub.emit(("depth", market, ""), diff)
            best = (self.bids.best(), self.asks.best())
            if best != self._best:
                self._best = best
                hub.emit(("bookticker", market, ""),
                         {"E": published, "u": diff["u"], "bid": best[0], "ask": best[1]})
        if "s" in fields:  # the book was replaced (matcher rebuild): no diff to give
            snap = json.loads(fields["s"])
            self.bids.load(snap["bids"])
            self.asks.load(snap["asks"])
            self.last_update_id = int(snap["lastUpdateId"])
            self._pending = {"bids": {}, "asks": {}}
            self._pending_first = 0
            self._book_changed = True
        if "k" in fields:
            for candle in json.loads(fields["k"]):
                self._minutes[candle["open_time"]] = candle
            self._kline_dirty = True

    async def _conflate(self) -> None:
        """Timer: top-N snapshots and merged diffs every 100 ms, candles every 250 ms,
        ticker every second, each only when someone listens and something changed."""
        hub, market = self.hub, self.market
        last_kline = last_ticker = 0.0
        while True:
            await asyncio.sleep(CONFLATE_INTERVAL)
            try:
                now = time.time()
                now_ms = int(now * 1000)
                if self._pending_first:
                    hub.emit(("depth@100ms", market, ""), {
                        "E": now_ms, "U": self._pending_first, "u": self.last_update_id,
                        "bids": list(map(list, self._pending["bids"].items())),
                        "asks": list(map(list, self._pending["asks"].items())),
                    })
                    self._pending = {"bids": {}, "asks": {}}
                    self._pending_first = 0
                if self._book_changed:
                    self._book_changed = False
                    for n in DEPTH_LEVELS:
                        topic = ("depthN", market, str(n))
                        if hub.has_subscribers(topic):
                            hub.emit(topic, {"E": now_ms, "lastUpdateId": self.last_update_id,
                                             "bids": self.bids.top(n), "asks": self.asks.top(n),
                                             "levels": n})
                if now - last_kline >= KLINE_INTERVAL and self._kline_dirty:
                    last_kline = now
                    self._kline_dirty = False
                    await self._emit_klines(now_ms)
                if now - last_ticker >= TICKER_INTERVAL and hub.has_subscribers(
                        ("ticker", market, "")):
                    last_ticker = now
                    await self._emit_ticker(now_ms)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: conflation timer failed", market)

    async def ensure_kline_history(self, interval: str) -> None:
        """Loads the committed 1-minute candles of the current ``interval`` bucket, so the
        live candle of a long interval starts complete. Stream updates win over it."""
        width = KLINE_WIDTH_MS[interval]
        bucket = int(time.time() * 1000) // width * width
        if (interval, bucket) in self._kline_loaded:
            return
        self._kline_loaded.add((interval, bucket))
        rows = await sync_to_async(_minutes_since)(market=self.market, start_ms=bucket)
        for row in rows:
            self._minutes.setdefault(row["open_time"], row)
        self._kline_dirty = True

    async def _emit_klines(self, now_ms: int) -> None:
        hub, market = self.hub, self.market
        if not self._minutes:
            return
        latest = max(self._minutes)
        for interval, width in KLINE_WIDTH_MS.items():
            topic = ("kline", market, interval)
            if not hub.has_subscribers(topic):
                continue
            bucket = latest // width * width
            if (interval, bucket) not in self._kline_loaded and interval != "1m":
                await self.ensure_kline_history(interval)
            rows = [self._minutes[m] for m in sorted(self._minutes) if bucket <= m < bucket + width]
            hub.emit(topic, {
                "E": now_ms, "interval": interval, "open_time": bucket,
                "close_time": bucket + width - 1, "open": rows[0]["open"],
                "high": str(max(Decimal(r["high"]) for r in rows)),
                "low": str(min(Decimal(r["low"]) for r in rows)),
                "close": rows[-1]["close"],
                "volume": str(sum(Decimal(r["volume"]) for r in rows)),
                "quote_volume": str(sum(Decimal(r["quote_volume"]) for r in rows)),
                "trade_count": sum(int(r["trade_count"]) for r in rows),
            })
        horizon = latest - KLINE_WIDTH_MS["1d"]
        for m in [m for m in self._minutes if m < horizon]:
            del self._minutes[m]

    async def _emit_ticker(self, now_ms: int) -> None:
        data = await sync_to_async(_ticker)(market=self.market)
        if data is not None:
            self.hub.emit(("ticker", self.market, ""), {**data, "E": now_ms})


def _minutes_since(*, market: str, start_ms: int) -> list[dict]:
    from datetime import UTC, datetime

    from marketdata import selectors

    found = selectors.markets_list().filter(symbol=market).first()
    if found is None:
        return []
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    return selectors.candles(market=found, interval="1m", start=start, limit=1440)


def _ticker(*, market: str) -> dict | None:
    from marketdata import selectors

    found = selectors.markets_list().filter(symbol=market).first()
    return None if found is None else selectors.ticker_24h(market=found)


class PrivateFeed(_Feed):
    """Reads the private stream; each event goes to the subscribers of its user only."""

    stream = keys.PRIVATE_STREAM

    async def _load(self) -> None:
        if self.seq:  # a reconnect: resume from last_id, unless Redis went back in time
            stored = await async_client().get(keys.PRIVATE_SEQ)
            if int(stored or 0) >= self.seq:
                return
            logger.warning("%s: Redis holds seq %s after %s (restarted or restored): "
                           "closing subscribers, resync", self.stream, stored, self.seq)
            self._gap()
        last = await async_client().xrevrange(self.stream, count=1)
        if last:
            entry_id, fields = last[0]
            self.last_id = entry_id.decode()
            self.seq = int(fields[b"seq"])
        else:  # empty (or emptied) stream: read from its first entry
            self.last_id, self.seq = "0-0", 0

    def _gap(self) -> None:
        self.hub.close_topics([t for t in self.hub.subs if t[0] == "private"], CLOSE_STREAM_GAP)
        self.seq = 0

    def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        hub = self.hub
        published = int(fields["E"])
        for event in json.loads(fields["ev"]):
            topic = ("private", "", str(event.pop("user_id")))
            if hub.has_subscribers(topic):
                event["E"] = published
                hub.emit(topic, event)


async def close_hub_tasks() -> None:
    """For tests: stop every reader and timer of this loop's hub."""
    hub = _hubs.pop(id(asyncio.get_running_loop()), None)
    if hub is None:
        return
    tasks = [f._task for f in hub.feeds.values()] + [t for f in hub.feeds.values()
                                                      for t in f._timers]
    if hub.private is not None:
        tasks.append(hub.private._task)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task
