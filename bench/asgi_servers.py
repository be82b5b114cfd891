"""Which ASGI server should serve Bourse? Measures uvicorn, daphne and granian on the
same small Django view (/healthz, no database) over loopback with wrk.

Each server runs one worker process (this is a 2-core machine and the load generator
needs the other core). Three rounds per server, interleaved, medians reported.

    .venv/bin/python bench/asgi_servers.py [--seconds 5] [--connections 32] [--rounds 3]

Needs Debian's `wrk` (apt-get install wrk). Prints a JSON summary as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")

SERVERS = {
    "uvicorn": lambda port: [PY, "-m", "uvicorn", "exchange.asgi:application", "--host",
                             "127.0.0.1", "--port", str(port), "--no-access-log",
                             "--log-level", "warning"],
    "daphne": lambda port: [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                            "--verbosity", "0", "exchange.asgi:application"],
    "granian": lambda port: [PY, "-m", "granian", "--interface", "asgi", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--log-level", "warning", "exchange.asgi:application"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not become ready")


def parse_wrk(out: str) -> tuple[float, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def measure(name: str, seconds: int, connections: int) -> tuple[float, float]:
    port = free_port()
    env = {**os.environ, "DEBUG": "0", "BOURSE_TESTING": "1", "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(SERVERS[name](port), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        url = f"http://127.0.0.1:{port}/healthz"
        subprocess.run(["wrk", "-t1", "-c8", "-d1s", url], capture_output=True, check=True)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
            capture_output=True, text=True, check=True,
        ).stdout
        return parse_wrk(out)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # daphne waits for open connections to drain
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in SERVERS}
    for _ in range(args.rounds):
        for name in SERVERS:
            results[name].append(measure(name, args.seconds, args.connections))
    summary = {}
    for name, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        p99 = statistics.median(p for _, p in runs)
        summary[name] = {"requests_per_s": round(rps), "p99_ms": round(p99, 2)}
        print(f"{name:8s} {rps:8.0f} req/s   p99 {p99:6.2f} ms   (median of {len(runs)})")
    print("repeat: .venv/bin/python bench/asgi_servers.py "
          f"--seconds {args.seconds} --connections {args.connections} --rounds {args.rounds}")
    print(json.dumps({"bench": "asgi_servers", "view": "/healthz", **summary}))


if __name__ == "__main__":
    main()
