"""Browser tests: a real ASGI server (uvicorn) and, when it exists, the matcher, both as
subprocesses on the pytest test database, driven by Playwright through Debian's chromium.

Tests that use these fixtures must be ``django_db(transaction=True)``: the server is
another process and only sees committed rows."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOC_SHOTS = ROOT / "docs" / "screenshots"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - requirements-dev installs it
    sync_playwright = None


def pytest_collection_modifyitems(config, items):
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing: run scripts/ci_browser_deps.sh (apt-get install chromium)"
    elif sync_playwright is None:
        reason = "playwright is not installed (pip install -r requirements-dev.txt)"
    for item in items:
        if "browser" in item.keywords and reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = user + (f":{password}" if password else "")
    host = settings_dict.get("HOST") or (settings_dict.get("OPTIONS") or {}).get("host") or ""
    port = settings_dict.get("PORT") or ""
    name = settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgresql://{auth}@/{name}?host={host}" + (f"&port={port}" if port else "")
    return f"postgresql://{auth}@{host}{f':{port}' if port else ''}/{name}"


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - loopback
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {timeout}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def server_env(django_db_setup, django_db_blocker):
    from django.db import connection

    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "1",  # serves static files through the finders, shows "simulate deposit"
        "BOURSE_TESTING": "1",
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        "CELERY_TASK_ALWAYS_EAGER": "1",
    })
    return env


@pytest.fixture(scope="session")
def live_server_url(server_env):
    port = _free_port()
    ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS.parent / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "exchange.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--ws", "websockets"],
        cwd=ROOT, env={**server_env, "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}"},
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/healthz", proc)
        yield url
    finally:
        _stop(proc)
        log.close()


def matcher_available() -> bool:
    return (ROOT / "orders" / "management" / "commands" / "run_matcher.py").exists() or (
        ROOT / "matching" / "management" / "commands" / "run_matcher.py").exists()


@pytest.fixture
def matcher(server_env):
    """``manage.py run_matcher`` on the test database, for one test (markets must exist
    before it starts)."""
    if not matcher_available():
        pytest.skip("manage.py run_matcher does not exist yet")
    ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS.parent / "matcher.log"
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "manage.py", "run_matcher"], cwd=ROOT,
                            env=server_env, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(1.5)
    if proc.poll() is not None:
        log.close()
        pytest.fail(f"run_matcher exited with {proc.returncode}: "
                    f"{log_path.read_text()[-2000:]}")
    yield proc
    _stop(proc)
    log.close()


@pytest.fixture(scope="module")
def browser():
    """Playwright's sync API keeps an event loop running in the test thread while the
    browser lives; the ORM calls the tests make between browser steps are still plain
    synchronous code. So async-unsafe calls are allowed exactly while a browser runs (one
    per test module), never for the rest of the session (Django reads the variable at each call)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch_browser()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _launch_browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def login_context(browser, base_url: str, user, *, width: int = 1280, height: int = 900,
                  otp_device=None):
    """A browser context already logged in as ``user`` (session cookie made by the test
    client against the same database and cache as the server). With ``otp_device`` the
    session is also 2FA-verified, as after the login challenge (django-otp keeps the
    verifying device's persistent id in the session)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    client = Client()
    client.force_login(user)
    if otp_device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = otp_device.persistent_id
        session.save()
    ctx = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value,
                      "url": base_url}])
    return ctx


def screenshot(page, name: str) -> Path:
    """Full-page screenshot into test-artifacts/screenshots/; with UPDATE_DOC_SCREENSHOTS=1
    also into docs/screenshots/ (so an ordinary test run leaves the work tree clean)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SHOTS / path.name)
    return path


def url_exists(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.url_name not in {"home"} or path == "/"


def place_order(user, *, side: str, price: str, quantity: str, market: str = "BTC-USDT",
                type: str = "LIMIT") -> dict:
    """An order through the public REST API (as the page does), for seeding books."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    body = {"market": market, "side": side, "type": type, "quantity": quantity,
            "response_type": "ACK"}
    if type == "LIMIT":
        body.update(price=price, time_in_force="GTC")
    r = client.post("/api/v1/orders", body, content_type="application/json")
    assert r.status_code in (200, 201), r.content
    return r.json()
