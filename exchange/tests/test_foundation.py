"""Foundation: embedded services, fail-fast settings, health endpoints, demo data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from exchange import devservices

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "BOURSE_TESTING",
                         "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- settings


def test_production_mode_refuses_to_start_without_secrets():
    # given DEBUG off and no SECRET_KEY / ALLOWED_HOSTS / DATABASE_URL
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=_clean_env(),
        capture_output=True, text=True, timeout=60,
    )
    # then the process fails fast and names what is missing
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "ALLOWED_HOSTS" in result.stderr
    assert "DATABASE_URL" in result.stderr


def test_check_deploy_is_clean_with_a_production_environment():
    env = _clean_env(
        SECRET_KEY="x" * 64 + "production-secret-key-with-enough-entropy-!@#$%^&*()",
        ALLOWED_HOSTS="bourse.example.com",
        DATABASE_URL=os.environ.get("DATABASE_URL") or devservices.postgres_url(),
        REDIS_URL=os.environ.get("REDIS_URL") or devservices.redis_url(),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- services


@pytest.fixture
def scratch_var(tmp_path):
    """A separate var/ so the test starts, reuses and stops its own servers."""
    env = _clean_env(BOURSE_VAR_DIR=str(tmp_path / "var"))
    env.pop("REDIS_URL", None)
    yield env
    subprocess.run([sys.executable, "-m", "exchange.devservices", "down"], cwd=ROOT, env=env,
                   capture_output=True, timeout=60)


def _devservices(env, *args):
    return subprocess.run([sys.executable, "-m", "exchange.devservices", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_embedded_services_start_reuse_and_stop(scratch_var):
    # when started for the first time
    first = _devservices(scratch_var, "up")
    assert first.returncode == 0, first.stderr
    assert "started: postgres, redis" in first.stdout
    # then a second call reuses them
    second = _devservices(scratch_var, "up")
    assert "already running" in second.stdout
    status = _devservices(scratch_var, "status").stdout
    assert "postgres: up" in status and "redis: up" in status
    # and a command run through them sees working URLs, then they stop
    assert _devservices(scratch_var, "down").returncode == 0
    status = _devservices(scratch_var, "status").stdout
    assert "postgres: down" in status and "redis: down" in status


def test_run_stops_only_what_it_started(scratch_var):
    probe = (
        "import os, psycopg, redis;"
        "psycopg.connect(os.environ['DATABASE_URL']).execute('select 1');"
        "redis.Redis.from_url(os.environ['REDIS_URL']).ping(); print('reached both')"
    )
    result = _devservices(scratch_var, "run", "--", sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert "reached both" in result.stdout
    status = _devservices(scratch_var, "status").stdout
    assert "postgres: down" in status and "redis: down" in status


# --------------------------------------------------------------------------- health


def test_healthz_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_every_dependency_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"postgres": "up", "redis": "up"}


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_readyz_names_a_dependency_that_is_down(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "down"
    assert body["checks"]["postgres"] == "up"
    assert body["checks"]["redis"] != "up"


@pytest.mark.django_db
@override_settings(READYZ_REQUIRE_MATCHER=True, MATCHER_HEARTBEAT_MAX_AGE=5)
def test_readyz_requires_a_fresh_matcher_heartbeat(client):
    from exchange.health import MATCHER_HEARTBEAT_KEY, redis_client

    redis_client().delete(MATCHER_HEARTBEAT_KEY)
    assert client.get("/readyz").status_code == 503
    import time

    redis_client().hset(MATCHER_HEARTBEAT_KEY, "test-matcher", time.time())
    try:
        assert client.get("/readyz").json()["checks"]["matcher"] == "up"
    finally:
        redis_client().hdel(MATCHER_HEARTBEAT_KEY, "test-matcher")


@pytest.mark.django_db
def test_metrics_are_prometheus_text(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"bourse_http_requests_total" in response.content
    assert b"bourse_reconciliation_differences" in response.content


# --------------------------------------------------------------------------- demo data


def _snapshot():
    from accounts.models import User
    from marketdata.models import Market
    from wallets.models import Asset, Balance

    return (
        sorted(Asset.objects.values_list("symbol", "precision")),
        sorted(Market.objects.values_list("symbol", "tick_size", "step_size", "min_notional")),
        sorted(User.objects.values_list("email", "is_staff")),
        sorted(Balance.objects.values_list("user__email", "asset__symbol", "available", "locked")),
    )


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_data():
    from django.core.management import call_command

    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    first = _snapshot()
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert _snapshot() == first
    assert [m[0] for m in first[1]] == ["BTC-USDT", "ETH-BTC", "ETH-USDT"]
    assert len(first[2]) == 3
