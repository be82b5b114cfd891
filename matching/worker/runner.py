"""The matcher's main loop (``manage.py run_matcher``).

For each configured market: take the lease (with a new fencing epoch), rebuild the book
from Postgres, claim the group's pending entries, then read the market's stream in
batches, apply and commit each batch (``MarketRunner.process``), and only then XACK and
publish. A market whose commit fails is rebuilt; one whose lease or epoch is lost is
dropped and retried later. SIGTERM finishes the batch in hand and exits.

Pipelining (the default): one commit thread, with its own database connection, commits
batch N, then XACKs and publishes it, while the main thread reads, loads and matches batch
N+1 of the same market. At most one batch per market is in flight, and batch N+1 is handed
to the commit thread only once batch N is committed; if N's commit fails, N+1 (matched on a
book that is now ahead of the truth) is thrown away with the runner, and its entries,
never acknowledged, are read again after the rebuild. A batch with commands (cancel,
amend...) waits for the commit in flight before it is loaded, and so does everything that
needs the committed state (sweeps, dropping or rebuilding a market, shutdown).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import redis
from django.db import DatabaseError, close_old_connections, connection

from marketdata.publishing import publish_batch, published_through
from matching import streams
from matching.gc_tuning import tune_for_matching
from matching.worker import lease as leases
from matching.worker import metrics
from matching.worker.crash import crash_point
from matching.worker.market import MarketInfo, MarketRunner, fills_for_orders

log = logging.getLogger("matching.worker")

SWEEP_INTERVAL = 2.0  # seconds between idle sweeps of a market
SWEEP_MIN_AGE = 2.0  # only rows older than this are re-announced by the idle sweep
RENEW_INTERVAL = 2.0
RULES_INTERVAL = 1.0  # seconds between checks of the markets' rules (fees, band, units)


class Matcher:
    def __init__(self, *, markets: list[str] | None, batch_size: int = 1000,
                 block_ms: int = 100, depth_levels: int = 1000, publish: bool = True,
                 lease_ms: int = leases.LEASE_MS, exit_when_idle: bool = False,
                 stats_file: str | None = None, pipeline: bool = True):
        self.symbols = markets
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.depth_levels = depth_levels
        self.publish = publish
        self.lease_ms = lease_ms
        self.exit_when_idle = exit_when_idle
        self.stats_file = open(stats_file, "a") if stats_file else None  # noqa: SIM115
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.consumer = self.owner
        self.client = redis.Redis.from_url(_redis_url(), socket_timeout=5,
                                           socket_connect_timeout=2)
        self.runners: dict[str, MarketRunner] = {}
        self.backlog: dict[str, bool] = {}
        self.last_sweep: dict[str, float] = {}
        self.last_renew = 0.0
        self.last_acquire_try = 0.0
        self.last_heartbeat = 0.0
        self.last_rules_check = 0.0
        self.stopping = False
        self.stats: dict[str, dict] = {}
        self.recent: dict[str, deque] = {}
        self.committer = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="matcher-commit")
                          if pipeline else None)
        if pipeline and os.environ.get("BOURSE_MATCHER_SWITCH_INTERVAL") != "default":
            # The commit thread mostly waits on Postgres; each time a statement returns it
            # needs the GIL back from the matching thread, which by default keeps it up to
            # 5 ms: ~10 statements per batch could each queue that long.
            sys.setswitchinterval(0.0005)
        # symbol -> (its batch being committed, the number of stream entries it carried)
        self.inflight: dict[str, tuple[Future, int]] = {}

    # ----------------------------------------------------------------- lifecycle

    def install_signals(self) -> None:
        def stop(_signum, _frame):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def all_symbols(self) -> list[str]:
        if self.symbols:
            return list(self.symbols)
        with connection.cursor() as cursor:
            cursor.execute("SELECT symbol FROM marketdata_market ORDER BY symbol")
            return [r[0] for r in cursor.fetchall()]

    def run(self) -> int:
        log.info("matcher %s starting", self.owner)
        try:
            while not self.stopping:
                try:
                    self.housekeeping()
                    if not self.runners:
                        if self.exit_when_idle and self.stopping:
                            break
                        time.sleep(0.2)
                        continue
                    idle = self.step()
                    if idle and self.exit_when_idle and set(self.runners) >= set(
                            self.all_symbols()):
                        break
                except DatabaseError:
                    # Postgres went away outside a batch (lease bookkeeping, sweep, a
                    # rebuild): a batch failure is handled in process(); anything else
                    # used to end the process. Reconnect and carry on; books already
                    # held stay valid (nothing was committed), a half-started market is
                    # retried once its lease expires.
                    log.exception("Postgres error outside a batch; reconnecting")
                    _reset_connection()
                    time.sleep(0.5)
        finally:
            self.drain()
            if self.committer is not None:
                self.committer.shutdown(wait=True)
            for symbol in list(self.runners):
                leases.lease_release(self.client, symbol=symbol, owner=self.owner)
            with contextlib.suppress(redis.RedisError):
                self.client.hdel(streams.HEARTBEAT_KEY, self.owner)
        log.info("matcher %s stopped", self.owner)
        return 0

    # ----------------------------------------------------------------- leases

    def housekeeping(self) -> None:
        now = time.monotonic()
        if now - self.last_renew >= RENEW_INTERVAL:
            self.last_renew = now
            for symbol in list(self.runners):
                try:
                    ok = leases.lease_renew(self.client, symbol=symbol, owner=self.owner,
                                            lease_ms=self.lease_ms)
                except redis.RedisError:
                    log.warning("lease renew for %s failed (Redis)", symbol)
                    ok = False
                if not ok:
                    log.warning("lost the lease of %s; dropping its book", symbol)
                    self.settle(symbol)
                    self.drop(symbol)
        if now - self.last_acquire_try >= 1.0:
            self.last_acquire_try = now
            for symbol in self.all_symbols():
                if symbol not in self.runners:
                    self.try_acquire(symbol)
        if now - self.last_rules_check >= RULES_INTERVAL:
            self.last_rules_check = now
            self.reload_changed_rules()
        if now - self.last_heartbeat >= 1.0:
            self.last_heartbeat = now
            self.write_status()

    def reload_changed_rules(self) -> None:
        """Rebuild, under the same epoch, the book of a market whose rules staff changed
        (fees, price band, reference price, tick or step size, asset precision).

        Its book is built with them and its batches are settled with them, so a rule change
        must reach the matcher, not wait for its restart. Between batches the book holds
        exactly what Postgres holds, so rebuilding it from there loses nothing. (Status is
        not a rule here: it travels the stream as a command, in order with the orders.)
        """
        for symbol, runner in list(self.runners.items()):
            info = MarketInfo.load(symbol)
            if _rules(info) == _rules(runner.info):
                continue
            log.info("%s: market rules changed; rebuilding the book with them", symbol)
            if not self.settle(symbol):
                continue  # the batch in flight failed: the market was rebuilt (new rules)
            self.runners.pop(symbol, None)
            self.start_market(symbol, info, runner.epoch)

    def try_acquire(self, symbol: str) -> None:
        try:
            info = MarketInfo.load(symbol)
            epoch = leases.lease_acquire(self.client, symbol=symbol, market_id=info.id,
                                         owner=self.owner, lease_ms=self.lease_ms)
        except redis.RedisError:
            log.warning("cannot acquire %s: Redis unavailable", symbol)
            return
        if epoch is None:
            return
        self.start_market(symbol, info, epoch)

    def start_market(self, symbol: str, info: MarketInfo, epoch: int) -> None:
        started = time.perf_counter()
        runner = MarketRunner(info, epoch=epoch, depth_levels=self.depth_levels)
        loaded = runner.rebuild()
        # The rebuilt book is long-lived: keep the collector from re-traversing it.
        tune_for_matching()
        self.runners[symbol] = runner
        metrics.EPOCH.labels(symbol).set(epoch)
        created = self.ensure_group(symbol)
        self.claim_pending(symbol)
        self.backlog[symbol] = True
        self.last_sweep[symbol] = 0.0 if not created else time.monotonic()
        if created:
            self.sweep(symbol, min_age=0.0)
        log.info("%s: epoch %d, rebuilt %d orders in %.0f ms, sequence %d", symbol, epoch,
                 loaded, (time.perf_counter() - started) * 1000, runner.last_sequence)
        self.publish_snapshot(symbol)

    def drop(self, symbol: str) -> None:
        self.runners.pop(symbol, None)
        self.backlog.pop(symbol, None)
        leases.lease_release(self.client, symbol=symbol, owner=self.owner)

    # ----------------------------------------------------------------- streams

    def ensure_group(self, symbol: str) -> bool:
        """Create the consumer group if missing. Returns True if the stream was empty (a
        fresh start, or Redis lost it): then everything unsequenced is re-announced at once
        (with entries present, the idle sweep catches what is missing later)."""
        key = streams.commands_key(symbol)
        empty = self.client.xlen(key) == 0
        try:
            self.client.xgroup_create(key, streams.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        return empty

    def claim_pending(self, symbol: str) -> None:
        """Take over every pending entry of the market (we hold its lease, so whoever read
        them before is gone or fenced)."""
        key = streams.commands_key(symbol)
        start = "0-0"
        while True:
            reply = self.client.xautoclaim(key, streams.GROUP, self.consumer, 0,
                                           start_id=start, count=1000)
            start = reply[0]
            if start in (b"0-0", "0-0"):
                break

    def sweep(self, symbol: str, *, min_age: float) -> int:
        """Re-announce accepted orders and commands the matcher has not sequenced."""
        runner = self.runners[symbol]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM orders_order WHERE market_id = %s AND status = 'NEW' "
                "AND sequence IS NULL AND created_at < now() - %s * interval '1 second' "
                "ORDER BY id LIMIT 50000", [runner.info.id, min_age])
            places = [r[0] for r in cursor.fetchall()]
            cursor.execute(
                "SELECT id FROM orders_ordercommand WHERE market_id = %s AND sequence IS NULL "
                "AND created_at < now() - %s * interval '1 second' ORDER BY id LIMIT 50000",
                [runner.info.id, min_age])
            commands = [r[0] for r in cursor.fetchall()]
        entries = [(streams.PLACE, pk) for pk in places] + [(streams.COMMAND, pk)
                                                            for pk in commands]
        if entries:
            log.warning("%s: re-announcing %d unsequenced rows", symbol, len(entries))
            for i in range(0, len(entries), 5000):
                streams.announce_with(self.client, symbol, entries[i:i + 5000])
        return len(entries)

    def read(self) -> dict[str, list]:
        keys = {}
        for symbol in self.runners:
            keys[streams.commands_key(symbol)] = "0" if self.backlog.get(symbol) else ">"
        block = None if any(v == "0" for v in keys.values()) else self.block_ms
        try:
            reply = self.client.xreadgroup(streams.GROUP, self.consumer, keys,
                                           count=self.batch_size, block=block)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("consumer group missing (Redis restarted?): recreating, sweeping")
            for symbol in list(self.runners):
                self.ensure_group(symbol)
                self.sweep(symbol, min_age=0.0)
            return {}
        out = {}
        for key, entries in reply or []:
            key = key.decode() if isinstance(key, bytes) else key
            symbol = key[1:key.index("}")]
            out[symbol] = entries
        for symbol, mode in keys.items():
            sym = symbol[1:symbol.index("}")]
            if mode == "0" and not out.get(sym):
                self.backlog[sym] = False
        return out

    # ----------------------------------------------------------------- the cycle

    def step(self) -> bool:
        """Read one round of batches and process them. Returns True when nothing was read."""
        close_old_connections_if_needed()
        if any(self.backlog.get(symbol) for symbol in self.inflight):
            # Reading the pending list from its start would return the entries in flight.
            self.drain()
        try:
            batches = self.read()
        except redis.RedisError:
            log.exception("reading streams failed")
            self.drain()
            time.sleep(0.5)
            return False
        if not batches:
            self.drain()
            now = time.monotonic()
            for symbol in list(self.runners):
                if now - self.last_sweep.get(symbol, 0) >= SWEEP_INTERVAL:
                    self.last_sweep[symbol] = now
                    try:
                        self.sweep(symbol, min_age=SWEEP_MIN_AGE)
                    except redis.RedisError:
                        log.warning("sweep of %s failed (Redis)", symbol)
            return True
        for symbol, raw in batches.items():
            if symbol not in self.runners:
                continue
            if not raw:
                continue
            self.process(symbol, raw)
            if self.stopping:
                break
        return False

    def process(self, symbol: str, raw: list) -> None:
        runner = self.runners[symbol]
        entry_ids = []
        entries = []
        for entry_id, fields in raw:
            entry_ids.append(entry_id)
            if not fields:  # deleted entry still pending
                continue
            kind = fields.get(b"c", b"P").decode()
            entries.append((kind, int(fields[b"id"])))
        if self.committer is None:
            try:
                result = runner.process(entries)
            except Exception as exc:
                self.batch_failed(symbol, runner, exc)
                return
            self.finish(symbol, runner, result, entry_ids, self.snapshot_of(runner, result))
            self.record(symbol, result, len(entries))
            return
        if any(kind != streams.PLACE for kind, _ in entries) and not self.settle(symbol):
            return  # the batch in flight failed: the market was rebuilt or dropped
        try:
            prepared = runner.prepare(entries)
        except Exception as exc:
            if self.settle(symbol):
                self.batch_failed(symbol, runner, exc)
            return
        snapshot = self.snapshot_of(runner, prepared.result)
        if not self.settle(symbol):
            return  # prepared on a book that is now discarded; its entries are re-read
        self.inflight[symbol] = (
            self.committer.submit(self.commit_job, symbol, runner, prepared, entry_ids,
                                  snapshot), len(entries))

    def commit_job(self, symbol: str, runner: MarketRunner, prepared, entry_ids: list,
                   snapshot: dict | None):
        """In the commit thread: commit, then acknowledge and publish. Returns the result;
        raises what the commit raised (the thread's connection is closed first)."""
        try:
            runner.commit(prepared)
        except BaseException:
            _reset_connection()
            raise
        self.finish(symbol, runner, prepared.result, entry_ids, snapshot)
        return prepared.result

    def settle(self, symbol: str) -> bool:
        """Wait for the batch of ``symbol`` in flight, if any, and record it. Returns False
        if it failed (the market is then rebuilt, or dropped if fenced)."""
        item = self.inflight.pop(symbol, None)
        if item is None:
            return True
        future, entries = item
        runner = self.runners.get(symbol)
        try:
            result = future.result()
        except Exception as exc:
            if runner is not None:
                self.batch_failed(symbol, runner, exc)
            return False
        self.record(symbol, result, entries)
        return True

    def drain(self) -> None:
        for symbol in list(self.inflight):
            self.settle(symbol)

    def snapshot_of(self, runner: MarketRunner, result) -> dict | None:
        """The depth snapshot to publish with a batch, taken right after it was matched
        (the main thread moves the book on while the commit thread publishes)."""
        if not (self.publish and result.applied):
            return None
        return runner.depth_snapshot()

    def batch_failed(self, symbol: str, runner: MarketRunner, exc: Exception) -> None:
        if isinstance(exc, leases.Fenced):
            log.error("%s: fenced (epoch %d is stale); dropping the market", symbol, runner.epoch)
            self.runners.pop(symbol, None)
            self.backlog.pop(symbol, None)
            return
        log.error("%s: batch failed; discarding the book and rebuilding", symbol,
                  exc_info=exc)
        _reset_connection()
        self.runners.pop(symbol, None)
        try:
            info = MarketInfo.load(symbol)
            self.start_market(symbol, info, runner.epoch)
        except Exception:
            log.exception("%s: rebuild failed; will retry", symbol)
            self.drop(symbol)

    def finish(self, symbol: str, runner: MarketRunner, result, entry_ids: list,
               snapshot: dict | None) -> None:
        """After the commit: acknowledge the entries, then publish."""
        if result.applied:
            crash_point("after_commit")
        key = streams.commands_key(symbol)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.xack(key, streams.GROUP, *entry_ids)
            pipe.xdel(key, *entry_ids)
            if result.applied:
                pipe.publish(streams.committed_channel(symbol), result.last_sequence)
            pipe.execute()
        except redis.RedisError:
            log.warning("%s: ack failed; the entries will be skipped when redelivered", symbol)
        if result.applied and snapshot is not None:
            try:
                self.publish_result(symbol, runner, result, snapshot)
            except Exception:
                log.exception("%s: publishing failed (the batch is committed)", symbol)

    # ----------------------------------------------------------------- publishing & status

    def publish_result(self, symbol: str, runner: MarketRunner, result, snapshot: dict) -> None:
        info = runner.info
        fills = fills_for_orders(result.trades, info)
        order_updates = []
        for row in result.order_rows:
            order = _order_dict(row, symbol)
            user_fills = fills.get(row[0])
            if user_fills:
                for fill in user_fills:
                    order_updates.append({"user_id": row[1], "order": order, "fill": fill})
            else:
                order_updates.append({"user_id": row[1], "order": order, "fill": None})
        balance_updates = []
        if result.touched_balances:
            pairs = sorted(result.touched_balances)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT b.user_id, a.symbol, b.available, b.locked FROM wallets_balance b "
                    "JOIN wallets_asset a ON a.id = b.asset_id JOIN unnest(%s::bigint[], "
                    "%s::bigint[]) AS v(u, a) ON b.user_id = v.u AND b.asset_id = v.a",
                    [[p[0] for p in pairs], [p[1] for p in pairs]])
                balance_updates = [
                    {"user_id": u, "asset": a, "available": str(av), "locked": str(lo)}
                    for u, a, av, lo in cursor.fetchall()
                ]
        trades = [{k: v for k, v in t.items() if k != "_fees"} for t in result.trades]
        publish_batch(market=symbol, trades=trades, depth_update=result.depth_update,
                      depth_snapshot=snapshot, order_updates=order_updates,
                      balance_updates=balance_updates, through_sequence=result.last_sequence)

    def publish_snapshot(self, symbol: str) -> None:
        """After a (re)build: publish the book, and first whatever was committed but never
        published (a matcher killed between its commit and its publish): the trades, order
        and balance updates of those batches, read back from Postgres."""
        if not self.publish:
            return
        runner = self.runners[symbol]
        try:
            published = published_through(symbol)
            missed = None
            if published is not None and published < runner.last_sequence:
                missed = runner.committed_since(published)
                if missed is None:
                    log.warning("%s: too much left unpublished since sequence %d; readers "
                                "resync from the snapshot", symbol, published)
            if missed is not None:
                log.info("%s: publishing %d trades committed after sequence %d but never "
                         "published", symbol, len(missed.trades), published)
                self.publish_result(symbol, runner, missed, runner.depth_snapshot())
            else:
                publish_batch(market=symbol, trades=[], depth_update=None,
                              depth_snapshot=runner.depth_snapshot(), order_updates=[],
                              balance_updates=[], through_sequence=runner.last_sequence)
        except Exception:
            log.exception("%s: publishing the rebuilt snapshot failed", symbol)

    def record(self, symbol: str, result, entries: int) -> None:
        if not result.applied:
            return
        metrics.BATCH_SIZE.labels(symbol).observe(result.applied)
        metrics.MATCH_SECONDS.labels(symbol).observe(result.match_ms / 1000)
        metrics.COMMIT_SECONDS.labels(symbol).observe(result.commit_ms / 1000)
        metrics.ORDERS.labels(symbol).inc(result.placements)
        metrics.TRADES.labels(symbol).inc(len(result.trades))
        if self.stats_file is not None:
            self.stats_file.write(json.dumps({
                "t": time.time(), "market": symbol, "entries": entries,
                "applied": result.applied, "orders": result.placements,
                "trades": len(result.trades), "match_ms": round(result.match_ms, 3),
                "commit_ms": round(result.commit_ms, 3),
                "parts_ms": {k: round(v, 2) for k, v in result.timings.items()}}) + "\n")
            self.stats_file.flush()
        recent = self.recent.setdefault(symbol, deque(maxlen=200))
        recent.append((time.time(), result.placements, len(result.trades)))
        self.stats[symbol] = {"last_batch_ms": round(result.match_ms + result.commit_ms, 3),
                              "last_commit_ms": round(result.commit_ms, 3),
                              "last_batch_size": result.applied}

    def write_status(self) -> None:
        now = time.time()
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(streams.HEARTBEAT_KEY, self.owner, now)
            for symbol, runner in self.runners.items():
                lag = _group_lag(self.client, symbol)
                metrics.STREAM_LAG.labels(symbol).set(lag)
                recent = [r for r in self.recent.get(symbol, ()) if now - r[0] <= 10]
                stats = self.stats.get(symbol, {})
                pipe.hset(streams.status_key(symbol), mapping={
                    "matcher": self.owner, "epoch": runner.epoch,
                    "last_sequence": runner.last_sequence, "lag": lag,
                    "last_batch_ms": stats.get("last_batch_ms", 0),
                    "last_commit_ms": stats.get("last_commit_ms", 0),
                    "orders_per_s": round(sum(r[1] for r in recent) / 10, 1),
                    "trades_per_s": round(sum(r[2] for r in recent) / 10, 1),
                    "heartbeat": now,
                })
            pipe.execute()
        except redis.RedisError:
            log.warning("cannot write heartbeat/status")


def _rules(info: MarketInfo) -> MarketInfo:
    return dataclasses.replace(info, status="")


def _group_lag(client: redis.Redis, symbol: str) -> int:
    try:
        for group in client.xinfo_groups(streams.commands_key(symbol)):
            name = group.get("name")
            if name in (streams.GROUP, streams.GROUP.encode()):
                lag = group.get("lag")
                return int(lag) if lag is not None else 0
    except redis.RedisError:
        return -1
    return 0


def _order_dict(row, symbol: str) -> dict:
    """The contract's order record from a row of the batch's order UPDATE (amounts come
    back as text, times as epoch milliseconds: ``market._ORDER_UPDATE_RETURNING``)."""
    (oid, _uid, coid, side, otype, tif, status, price, stop, qty, qqty, filled, cumq, reason,
     created_ms, updated_ms) = row
    return {"id": oid, "client_order_id": coid, "market": symbol, "side": side, "type": otype,
            "time_in_force": tif, "status": status, "price": price, "stop_price": stop,
            "quantity": qty, "quote_order_qty": qqty, "filled_quantity": filled,
            "cumulative_quote": cumq, "reason": reason, "created": created_ms,
            "updated": updated_ms}


def _redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL


def _reset_connection() -> None:
    with contextlib.suppress(Exception):  # the connection may already be broken
        connection.close()


_last_conn_check = [0.0]


def close_old_connections_if_needed() -> None:
    now = time.monotonic()
    if now - _last_conn_check[0] > 5:
        _last_conn_check[0] = now
        close_old_connections()
