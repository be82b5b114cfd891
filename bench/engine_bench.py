"""Benchmark: matching.engine.OrderBook against two C++ books driven from Python.

Not a test. One process, one seeded stream (default 1,000,000 commands: ~60% limit orders
near the touch, ~25% cancels of live orders, ~10% marketable limits, ~5% market orders,
1,000-30,000 resting orders), applied to:

- ``bourse``: ``OrderBook.apply`` with full events (frozen dataclass events for every
  acceptance, fill, cancel and expiry), STP NONE and no price band so that all three books
  do the same work and must produce the same fills;
- ``bourse+stp+band``: the same with the default STP (EXPIRE_TAKER) and a 10% band;
- ``orderly-chaos`` 0.2.0 (C++ via ctypes), an ``on_trade`` handler collecting trades;
- ``liquibook`` 2.0.1 (C++ via SWIG), an ``OrderListener`` collecting fills. liquibook's
  Python build leaves an IOC remainder resting, so a market order is ``add`` + ``cancel``.

Commands are built before timing (as the worker has them parsed when it calls the book).
For each book, throughput is measured in an un-instrumented pass (wall clock, and process
CPU time, which is less disturbed when other processes compete for the cores) and latency
in a separate pass timing every call with ``time.perf_counter_ns``, each on a fresh book.
Prints the figures, the command to repeat the run, and a JSON summary as the last line.

    .venv/bin/python bench/engine_bench.py [--commands N] [--seed S] [--plot PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import liquibook
from orderly_chaos import LimitOrderBook
from orderly_chaos import Side as ChaosSide

from matching.engine import (
    CancelOrder,
    OrderBook,
    OrderType,
    PlaceOrder,
    Side,
    StpMode,
    TimeInForce,
    Traded,
)
from matching.gc_tuning import MATCHING_THRESHOLDS, tune_for_matching

LIMIT, MARKETABLE, MARKET, CANCEL = "limit", "marketable", "market", "cancel"


# ---------------------------------------------------------------- the stream


def generate(n: int, seed: int) -> tuple[list[tuple], dict]:
    """A realistic seeded stream of ("limit"|"marketable", id, is_buy, price, qty),
    ("market", id, is_buy, qty) and ("cancel", id).

    A generator-side OrderBook tracks which orders are live, so that every cancel names a
    live order in every book (the three books fill identically on this stream). The mix
    is 60/25/10/5; while the book holds more than 30,000 orders a passive limit becomes a
    cancel, and below 1,000 a cancel becomes a passive limit. Taker sizes are chosen so
    that liquidity taken roughly balances liquidity added, which keeps those guards rare.
    Returns the stream and the range of resting orders after the first 5% of it.
    """
    rng = random.Random(seed)
    book = OrderBook()
    live: list[int] = []
    where: dict[int, int] = {}  # order id -> index in live

    def forget(order_id: int) -> None:
        index = where.pop(order_id)
        last = live.pop()
        if last != order_id:
            live[index] = last
            where[last] = index

    stream = []
    mid = 1_000_000
    resting_min, resting_max = None, 0
    for order_id in range(1, n + 1):
        if order_id > n // 20:
            resting = len(live)
            resting_min = resting if resting_min is None else min(resting_min, resting)
            resting_max = max(resting_max, resting)
        roll = rng.random()
        if roll < 0.25:
            kind = CANCEL if len(live) > 1_000 else LIMIT
        elif roll < 0.85:
            kind = LIMIT if len(live) < 30_000 else CANCEL
        elif roll < 0.95:
            kind = MARKETABLE
        else:
            kind = MARKET
        if kind == CANCEL:
            victim = live[rng.randrange(len(live))]
            forget(victim)
            stream.append((CANCEL, victim))
            book.apply(CancelOrder(victim))
            continue
        is_buy = rng.random() < 0.5
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            mid = (bid + ask) // 2
        if kind == LIMIT:
            # Passive, mostly within a few ticks of the touch: a geometric-ish depth.
            depth = int(rng.expovariate(0.08))
            if is_buy:
                price = (bid if bid is not None else mid - 1) - depth
                if ask is not None and price >= ask:
                    price = ask - 1
            else:
                price = (ask if ask is not None else mid + 1) + depth
                if bid is not None and price <= bid:
                    price = bid + 1
            command = (LIMIT, order_id, is_buy, price, rng.randint(1, 100))
        elif kind == MARKETABLE:
            through = rng.randint(0, 3)
            if is_buy:
                price = (ask if ask is not None else mid) + through
            else:
                price = (bid if bid is not None else mid) - through
            command = (MARKETABLE, order_id, is_buy, price, rng.randint(1, 210))
        else:
            command = (MARKET, order_id, is_buy, rng.randint(1, 210))
        stream.append(command)
        for event in book.apply(ours(command, StpMode.NONE)):
            if type(event) is Traded and event.maker_remaining == 0:
                forget(event.maker_order_id)
        if kind != MARKET and order_id in book:
            live.append(order_id)
            where[order_id] = len(live) - 1
    return stream, {"resting_min": resting_min, "resting_max": resting_max}


def ours(command: tuple, stp: StpMode):
    kind = command[0]
    if kind == CANCEL:
        return CancelOrder(command[1])
    if kind == MARKET:
        _, order_id, is_buy, qty = command
        return PlaceOrder(order_id, order_id % 1000, Side.BUY if is_buy else Side.SELL,
                          OrderType.MARKET, TimeInForce.IOC, qty=qty, stp=stp)
    _, order_id, is_buy, price, qty = command
    return PlaceOrder(order_id, order_id % 1000, Side.BUY if is_buy else Side.SELL,
                      price=price, qty=qty, stp=stp)


# ---------------------------------------------------------------- the books


class Runner:
    """Prepares one book's calls for a stream; ``run(timed)`` applies them to a new book."""

    name = ""

    cpu_seconds = 0.0  # process CPU time of the last un-instrumented pass's loop

    def run(self, latencies: array | None) -> tuple[float, int]:
        """Apply every call; fill ``latencies`` (ns) if given. Returns (seconds, fills).

        Without ``latencies`` also sets ``cpu_seconds``, measured around the same loop."""
        raise NotImplementedError


class BourseRunner(Runner):
    def __init__(self, stream, name="bourse", stp=StpMode.NONE, **options):
        self.name = name
        self.options = options
        self.commands = [ours(command, stp) for command in stream]

    def run(self, latencies):
        book = OrderBook(**self.options)
        apply = book.apply
        fills = 0
        if latencies is None:
            cpu_start = time.process_time()
            start = time.perf_counter()
            for command in self.commands:
                apply(command)
            elapsed = time.perf_counter() - start
            self.cpu_seconds = time.process_time() - cpu_start
        else:
            clock = time.perf_counter_ns
            start = time.perf_counter()
            for index, command in enumerate(self.commands):
                before = clock()
                apply(command)
                latencies[index] = clock() - before
            elapsed = time.perf_counter() - start
        book.check_invariants()
        fills = book.seq  # events; fills counted separately below
        self.last_book = book
        return elapsed, fills


class ChaosRunner(Runner):
    name = "orderly-chaos"

    def __init__(self, stream):
        buy, sell = ChaosSide.BUY, ChaosSide.SELL
        self.stream = stream
        self.calls = []
        for command in stream:
            kind = command[0]
            if kind == CANCEL:
                self.calls.append(("cancel", (command[1],)))
            elif kind == MARKET:
                _, order_id, is_buy, qty = command
                self.calls.append(("market", (buy if is_buy else sell, order_id, qty)))
            else:
                _, order_id, is_buy, price, qty = command
                self.calls.append(("limit", (buy if is_buy else sell, order_id, qty, price)))

    def run(self, latencies):
        trades = []
        book = LimitOrderBook(on_trade=trades.append)
        methods = {"cancel": book.cancel, "market": book.market, "limit": book.limit}
        calls = [(methods[name], args) for name, args in self.calls]
        if latencies is None:
            cpu_start = time.process_time()
            start = time.perf_counter()
            for method, args in calls:
                method(*args)
            elapsed = time.perf_counter() - start
            self.cpu_seconds = time.process_time() - cpu_start
        else:
            clock = time.perf_counter_ns
            start = time.perf_counter()
            for index, (method, args) in enumerate(calls):
                before = clock()
                method(*args)
                latencies[index] = clock() - before
            elapsed = time.perf_counter() - start
        self.fills = [(t.maker_id, t.taker_id, t.price, t.quantity) for t in trades]
        book.close()
        return elapsed, len(trades)


class _Fills(liquibook.OrderListener):
    def __init__(self):
        liquibook.OrderListener.__init__(self)
        self.fills = []

    def on_fill(self, inbound, resting, qty, price):
        self.fills.append((resting.order_id_, inbound.order_id_, price, qty))

    def on_accept(self, order):
        pass

    def on_reject(self, order, reason):
        pass

    def on_cancel(self, order):
        pass

    def on_cancel_reject(self, order, reason):
        pass

    def on_replace(self, order, size_delta, new_price):
        pass

    def on_replace_reject(self, order, reason):
        pass

    def on_trigger_stop(self, order):
        pass


class LiquibookRunner(Runner):
    name = "liquibook"

    def __init__(self, stream):
        self.stream = stream

    def _prepare(self, book):
        """SimpleOrders are stateful, so each pass builds its own (outside the timing)."""
        orders, calls, our_id = {}, [], {}
        add, cancel = book.add, book.cancel
        for command in self.stream:
            kind = command[0]
            if kind == CANCEL:
                calls.append((cancel, orders.pop(command[1]), None))
                continue
            if kind == MARKET:
                _, order_id, is_buy, qty = command
                order = liquibook.SimpleOrder(is_buy, 0, qty)
                calls.append((add, order, cancel))  # IOC emulated: add, then cancel
            else:
                _, order_id, is_buy, price, qty = command
                order = liquibook.SimpleOrder(is_buy, price, qty)
                orders[order_id] = order
                calls.append((add, order, None))
            our_id[order.order_id_] = order_id
        return calls, our_id

    def run(self, latencies):
        listener = _Fills()
        book = liquibook.liquibook_book_OrderBook()
        book.set_order_listener(listener)
        calls, our_id = self._prepare(book)
        gc.collect()
        if latencies is None:
            cpu_start = time.process_time()
            start = time.perf_counter()
            for method, order, then in calls:
                method(order)
                if then is not None:
                    then(order)
            elapsed = time.perf_counter() - start
            self.cpu_seconds = time.process_time() - cpu_start
        else:
            clock = time.perf_counter_ns
            start = time.perf_counter()
            for index, (method, order, then) in enumerate(calls):
                before = clock()
                method(order)
                if then is not None:
                    then(order)
                latencies[index] = clock() - before
            elapsed = time.perf_counter() - start
        self.fills = [(our_id[m], our_id[t], p, q) for m, t, p, q in listener.fills]
        return elapsed, len(listener.fills)


# ---------------------------------------------------------------- measuring


def percentile(sorted_values: list[int], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index] / 1000.0  # microseconds


def measure(runner: Runner, n: int, collector: bool, tuned: bool = False) -> dict:
    """Warm-up pass, throughput pass (wall and CPU time), then a latency pass, each on a
    fresh book.

    With ``collector`` the garbage collector runs as in a long-lived worker: the
    prebuilt stream and commands are frozen (``gc.freeze()``) so that full collections do
    not keep re-scanning a million objects the benchmark itself created. With ``tuned``
    (our books) it is set up exactly as the matcher sets it up after a rebuild,
    ``matching.gc_tuning.tune_for_matching()``: frozen and a gen0 threshold of 50,000.
    Without ``collector`` the collector is off during both passes.
    """
    latencies = array("q", bytes(8 * n))
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    if tuned:
        tune_for_matching()
    if not collector:
        gc.disable()
    try:
        # An untimed warm-up pass first: whichever book is measured first would otherwise
        # also pay for first-touch page faults and allocator growth.
        runner.run(None)
        gc.collect()
        # CPU time around exactly the timed loop (each runner measures it next to the wall
        # clock): setup such as building liquibook's SimpleOrders must not count.
        seconds, _ = runner.run(None)
        cpu_seconds = runner.cpu_seconds
        gc.collect()
        runner.run(latencies)
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    ordered = sorted(latencies)
    return {
        "commands_per_s": round(n / seconds),
        "commands_per_cpu_s": round(n / cpu_seconds),
        "seconds": round(seconds, 3),
        "p50_us": percentile(ordered, 0.50),
        "p99_us": percentile(ordered, 0.99),
        "p999_us": percentile(ordered, 0.999),
        "max_us": ordered[-1] / 1000.0,
    }


def bourse_fills(stream, **options) -> list[tuple]:
    book = OrderBook(**options)
    fills = []
    for command in stream:
        for event in book.apply(ours(command, StpMode.NONE)):
            if type(event) is Traded:
                fills.append((event.maker_order_id, event.taker_order_id, event.price,
                              event.qty))
    return fills


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    colours = ["#2b7bba" if name.startswith("bourse") else "#999999" for name in names]
    left.bar(names, [results[name]["commands_per_s"] / 1000 for name in names], color=colours)
    left.axhline(400, color="#c0392b", linestyle="--", linewidth=1, label="target 400k/s")
    left.legend()
    left.set_ylabel("thousand commands / s (wall clock)")
    left.set_title("Throughput (higher is better)")
    width = 0.25
    for offset, (key, label) in enumerate((("p50_us", "p50"), ("p99_us", "p99"),
                                           ("p999_us", "p99.9"))):
        right.bar([i + (offset - 1) * width for i in range(len(names))],
                  [results[name][key] for name in names], width, label=label)
    right.axhline(10, color="#c0392b", linestyle="--", linewidth=1, label="p99 target 10 us")
    right.set_xticks(range(len(names)), names)
    right.set_yscale("log")
    right.set_ylabel("microseconds per command (log)")
    right.set_title("Latency per command (lower is better)")
    right.legend()
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=15)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plot", default="", help="write a PNG bar/latency plot here")
    parser.add_argument("--no-gc", action="store_true",
                        help="disable the garbage collector while measuring")
    parser.add_argument("--gc-default", action="store_true",
                        help="run our books with CPython's default collector settings too "
                             "(no tune_for_matching), to see what the tuning does")
    parser.add_argument("--skip-check", action="store_true",
                        help="do not cross-check the fills of the three books")
    args = parser.parse_args()
    n = args.commands

    started = time.perf_counter()
    stream, resting = generate(n, args.seed)
    mix = {kind: sum(1 for c in stream if c[0] == kind) / n
           for kind in (LIMIT, CANCEL, MARKETABLE, MARKET)}
    print(f"stream: {n:,} commands (seed {args.seed}) generated in "
          f"{time.perf_counter() - started:.1f}s; mix "
          + ", ".join(f"{kind} {share:.1%}" for kind, share in mix.items())
          + f"; {resting['resting_min']:,} to {resting['resting_max']:,} resting orders")

    tune_ours = not args.gc_default
    if not args.no_gc and tune_ours:
        print("gc: our books run with matching.gc_tuning.tune_for_matching() (gc.freeze() and "
              f"thresholds {MATCHING_THRESHOLDS}, as the matcher after a rebuild); the C++ "
              "books with CPython's defaults, the benchmark's own objects frozen")
    runners = [
        BourseRunner(stream),
        BourseRunner(stream, name="bourse+stp+band", stp=StpMode.EXPIRE_TAKER, band_bps=1000,
                     reference_price=1_000_000),
        ChaosRunner(stream),
        LiquibookRunner(stream),
    ]
    results = {}
    for runner in runners:
        results[runner.name] = measure(runner, n, collector=not args.no_gc,
                                       tuned=tune_ours and isinstance(runner, BourseRunner))
        book = getattr(runner, "last_book", None)
        if book is not None:
            results[runner.name]["resting_at_end"] = len(book)
        figures = results[runner.name]
        print(f"{runner.name:>16}: {figures['commands_per_s']:>9,} commands/s "
              f"({figures['commands_per_cpu_s']:>9,}/CPU-s)   "
              f"p50 {figures['p50_us']:6.2f} us   p99 {figures['p99_us']:7.2f} us   "
              f"p99.9 {figures['p999_us']:7.2f} us   max {figures['max_us']:9.1f} us")

    fills_identical = None
    if not args.skip_check:
        reference = bourse_fills(stream)
        chaos, liquibook_fills = runners[2].fills, runners[3].fills
        fills_identical = reference == chaos == liquibook_fills
        print(f"fills: bourse {len(reference):,}, orderly-chaos {len(chaos):,}, "
              f"liquibook {len(liquibook_fills):,}; identical: {fills_identical}")

    best_cpp = max(results["orderly-chaos"]["commands_per_s"],
                   results["liquibook"]["commands_per_s"])
    ratio = results["bourse"]["commands_per_s"] / best_cpp
    print(f"bourse vs the faster C++ book: {ratio:.2f}x")
    if args.plot:
        plot(results, args.plot)
        print(f"plot written to {args.plot}")
    command = f".venv/bin/python bench/engine_bench.py --commands {n} --seed {args.seed}"
    if args.no_gc:
        command += " --no-gc"
    if args.gc_default:
        command += " --gc-default"
    print(f"repeat with: {command}")
    summary = {
        "commands": n,
        "seed": args.seed,
        "mix": {kind: round(share, 4) for kind, share in mix.items()},
        "resting_orders": resting,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "gc": "off" if args.no_gc else
              "on (stream frozen; defaults)" if args.gc_default else
              f"on (stream frozen; bourse rows tune_for_matching {MATCHING_THRESHOLDS})",
        "fills_identical": fills_identical,
        "results": results,
        "bourse_vs_best_cpp": round(ratio, 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
