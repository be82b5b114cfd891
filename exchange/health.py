"""Readiness checks: each returns None when healthy or a short reason when not."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection

MATCHER_HEARTBEAT_KEY = "matcher:heartbeat"  # hash: matcher id -> unix time (float)


def check_postgres() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:200]
    return None


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def check_redis() -> str | None:
    try:
        redis_client().ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


def check_matcher() -> str | None:
    """The newest heartbeat of any matcher must be younger than the configured max age."""
    try:
        beats = redis_client().hgetall(MATCHER_HEARTBEAT_KEY)
    except Exception as exc:
        return f"cannot read heartbeat: {type(exc).__name__}"
    if not beats:
        return "no matcher heartbeat"
    newest = max(float(v) for v in beats.values())
    age = time.time() - newest
    if age > settings.MATCHER_HEARTBEAT_MAX_AGE:
        return f"matcher heartbeat is {age:.1f}s old"
    return None


def readiness() -> dict[str, str]:
    """Return {dependency: 'up' | reason} for every dependency."""
    checks = {"postgres": check_postgres, "redis": check_redis}
    if settings.READYZ_REQUIRE_MATCHER:
        checks["matcher"] = check_matcher
    return {name: (check() or "up") for name, check in checks.items()}
