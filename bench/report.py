"""`make bench`: runs every benchmark, collects the JSON summary each prints as its last
line, and regenerates docs/PERFORMANCE.md (machine, target, result, peers, command),
followed by each area's own analysis (docs/PERFORMANCE-*.md).

    .venv/bin/python bench/report.py [--only engine,settle,...] [--quick]

`--quick` runs each benchmark at a reduced size (for a smoke check, not for quoting).
Results of every run are kept in docs/perf-results.json; a benchmark that fails keeps
its previous result, marked stale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
RESULTS = ROOT / "docs" / "perf-results.json"
REPORT = ROOT / "docs" / "PERFORMANCE.md"


@dataclass(frozen=True)
class Bench:
    key: str
    title: str
    args: list[str]
    quick_args: list[str]
    target: str
    analysis: str  # docs file with the area's own analysis

    def command(self, quick: bool) -> str:
        return " ".join([".venv/bin/python", *(self.quick_args if quick else self.args)])


BENCHES = [
    Bench("engine", "Matching engine (pure Python) vs C++ books",
          ["bench/engine_bench.py"], ["bench/engine_bench.py", "--commands", "100000"],
          "≥ 400,000 commands/s with full events, ahead of both C++ books, p99 ≤ 10 µs",
          "PERFORMANCE-engine.md"),
    Bench("settle", "Settlement (`trades_settle`, 1,000-trade batches)",
          ["bench/settle_bench.py"], ["bench/settle_bench.py", "--batches", "3", "--runs", "1"],
          "≥ 20,000 trades/s", "PERFORMANCE-settle.md"),
    Bench("matcher", "Matcher: stream → committed, full ledger",
          ["bench/matcher_bench.py"], ["bench/matcher_bench.py", "--orders", "20000"],
          "≥ 20,000 orders/s, ≥ 6,000 trades/s, p99 commit ≤ 50 ms", "PERFORMANCE-orders.md"),
    Bench("http", "End to end over HTTP (signed keys, web + matcher + Postgres)",
          ["bench/http_bench.py"], ["bench/http_bench.py", "--seconds", "5"],
          "≥ 1,000 accepted orders/s, p99 accept ≤ 50 ms, p99 accept→fill ≤ 100 ms",
          "PERFORMANCE-orders.md"),
    Bench("ws", "WebSocket fan-out (1,000 clients)",
          ["bench/ws_bench.py"], ["bench/ws_bench.py", "--clients", "200", "--seconds", "5"],
          "≥ 20,000 deliveries/s, p99 ≤ 100 ms, no client dropped", "PERFORMANCE-ws.md"),
    Bench("rebuild", "Matcher rebuild with 100,000 resting orders",
          ["bench/rebuild_bench.py"], ["bench/rebuild_bench.py", "--orders", "20000"],
          "< 10 s to rebuild and resume", "CHAOS.md"),
    Bench("asgi", "ASGI server choice (small view)",
          ["bench/asgi_servers.py"], ["bench/asgi_servers.py", "--seconds", "2", "--rounds", "1"],
          "pick the best of uvicorn, daphne, granian", "PERFORMANCE-asgi.md"),
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def run(bench: Bench, quick: bool) -> dict | None:
    cmd = [PY, *(bench.quick_args if quick else bench.args)]
    if not (ROOT / cmd[1]).exists():
        print(f"[{bench.key}] {cmd[1]} does not exist; skipped", flush=True)
        return None
    print(f"[{bench.key}] {' '.join(cmd[1:])}", flush=True)
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        print(f"[{bench.key}] failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        return None
    try:
        summary = json.loads(lines[-1])
    except ValueError:
        print(f"[{bench.key}] last line is not JSON: {lines[-1][:200]}")
        return None
    print("\n".join(lines[-8:-1]), flush=True)
    return {"summary": summary, "command": bench.command(quick), "quick": quick,
            "seconds": round(time.time() - started, 1),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def headline(key: str, s: dict) -> str:
    """The result in one line, from the benchmark's own summary."""
    try:
        if key == "engine":
            r = s["results"]
            ours = r["bourse"]
            peers = ", ".join(f"{name} {v['commands_per_s']:,}/s (p99 {v['p99_us']} µs)"
                              for name, v in r.items() if name != "bourse"
                              and "commands_per_s" in v)
            return (f"{ours['commands_per_s']:,} commands/s, p50 {ours['p50_us']} µs, "
                    f"p99 {ours['p99_us']} µs, p99.9 {ours['p999_us']} µs; "
                    f"{s['bourse_vs_best_cpp']}× the faster C++ book. Peers: {peers}")
        if key == "settle":
            return (f"{s['trades_settled_per_second']:,} trades/s "
                    f"({s['ms_per_batch_commit_included']} ms per {s['batch_size']:,}-trade "
                    f"batch, commit included; median of {s['runs']} runs)")
        if key == "rebuild":
            return (f"rebuild {s['rebuild_ms'] / 1000:.1f} s in process; a new matcher process "
                    f"resumes after {s['resume_s']} s ({s['resting_orders']:,} resting orders)")
        if key == "matcher":
            return (f"{s['orders_per_s']:,} orders/s, {s['trades_per_s']:,} trades/s, "
                    f"p99 commit {s['commit_ms_p99']} ms ({s['orders']:,} orders, "
                    f"{s['trades']:,} trades; reconciliation ok: {s['reconciliation_ok']})")
        if key == "http":
            raw = s.get("raw_reservation_tx_per_s")
            return (f"{s['accepted_per_s']} accepted/s, accept p50 {s['accept_ms_p50']} ms / "
                    f"p99 {s['accept_ms_p99']} ms, accept→fill p99 {s['accept_to_fill_ms_p99']}"
                    f" ms; raw reservation tx/s {raw}; HTTP = {s['http_fraction_of_raw']} of raw")
        if key == "ws":
            ours = s["bourse"]
            base = s.get("channels_redis_group_send", {})
            failed = "" if base.get("complete", True) else (
                f", and it delivered only {base['deliveries']:,} of "
                f"{base['expected_deliveries']:,}: the ratio flatters it")
            return (f"{ours['deliveries_per_s']:,} deliveries/s, p50 {ours.get('latency_ms_p50')}"
                    f" ms, p99 {ours['latency_ms_p99']} ms, {ours['deliveries']:,} of "
                    f"{ours['expected_deliveries']:,} delivered, dropped "
                    f"{ours['clients_dropped']}; channels-redis group_send "
                    f"{base.get('deliveries_per_s', 'n/a')}/s in the same run (ratio "
                    f"{s.get('throughput_ratio', 'n/a')}×{failed})")
        if key == "asgi":
            return ", ".join(f"{k} {v['requests_per_s']} req/s (p99 {v['p99_ms']} ms)"
                             for k, v in s.items() if isinstance(v, dict))
    except (KeyError, TypeError, ZeroDivisionError):
        pass
    return json.dumps(s)[:400]


def met(key: str, s: dict) -> str:
    """Whether the issue's target was met in this run ("" when the row has none)."""
    try:
        if key == "engine":
            ours = s["results"]["bourse"]
            ok = (ours["commands_per_s"] >= 400_000 and ours["p99_us"] <= 10
                  and s["bourse_vs_best_cpp"] > 1)
        elif key == "settle":
            ok = s["trades_settled_per_second"] >= 20_000
        elif key == "matcher":
            ok = (s["orders_per_s"] >= 20_000 and s["trades_per_s"] >= 6_000
                  and s["commit_ms_p99"] <= 50 and s["reconciliation_ok"])
        elif key == "http":
            ok = (s["accepted_per_s"] >= 1_000 and s["accept_ms_p99"] <= 50
                  and 0 <= s["accept_to_fill_ms_p99"] <= 100)
        elif key == "ws":
            ours = s["bourse"]
            ok = (ours["deliveries_per_s"] >= 20_000 and ours["latency_ms_p99"] <= 100
                  and ours["clients_dropped"] == 0
                  and ours["deliveries"] == ours["expected_deliveries"])
        elif key == "rebuild":
            ok = bool(s["pass"])
        else:
            return ""
    except (KeyError, TypeError):
        return "?"
    return "yes" if ok else "**no**"


def render(results: dict) -> str:
    out = [
        "# Performance",
        "",
        "Generated by `make bench` (`bench/report.py`); each row's command repeats it. These",
        "machines are shared and noisy: quote medians and ratios, and read the load average",
        "recorded with each run. Raw summaries: `docs/perf-results.json`. Each row is ONE",
        "run (the last `make bench`); the sections below give medians of repeated runs and",
        "the spread, which on this shared VM is ±25% between back-to-back runs.",
        "",
        f"Machine: {machine()}.",
        "",
        "| benchmark | target | result | met? | measured | command |",
        "|---|---|---|---|---|---|",
    ]
    for bench in BENCHES:
        entry = results.get(bench.key)
        if entry is None:
            out.append(f"| {bench.title} | {bench.target} | not measured | | | |")
            continue
        stale = " (stale: last run failed)" if entry.get("stale") else ""
        quick = " (quick size)" if entry.get("quick") else ""
        out.append(f"| {bench.title} | {bench.target} | "
                   f"{headline(bench.key, entry['summary'])}{quick}{stale} | "
                   f"{met(bench.key, entry['summary'])} | {entry['when']}, load {entry['load_avg_1m']} | `{entry['command']}` |")
    out.append("")
    seen = set()
    for bench in BENCHES:
        if bench.analysis in seen:
            continue
        seen.add(bench.analysis)
        path = ROOT / "docs" / bench.analysis
        if path.exists() and bench.analysis.startswith("PERFORMANCE-"):
            text = path.read_text().strip()
            out += ["", "---", "", text.replace("\n# ", "\n## "), ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated keys: "
                        + ",".join(b.key for b in BENCHES))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    wanted = set(filter(None, args.only.split(","))) or {b.key for b in BENCHES}
    if not args.render_only:
        for bench in BENCHES:
            if bench.key not in wanted:
                continue
            entry = run(bench, args.quick)
            if entry is not None:
                results[bench.key] = entry
            elif bench.key in results:
                results[bench.key]["stale"] = True
        RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    REPORT.write_text(render(results))
    print(f"wrote {REPORT.relative_to(ROOT)}")
    print(json.dumps({"benchmarks": sorted(results), "report": str(REPORT.relative_to(ROOT))}))


if __name__ == "__main__":
    sys.exit(main())
