"""Weighted request limits in Redis, per IP (every API request, in middleware) and per API
key (DRF throttle, after authentication). Fixed one-minute windows, as Binance counts
``X-MBX-USED-WEIGHT-1M``. A view sets ``rate_limit_weight = N`` (default 1)."""

from __future__ import annotations

import time
from functools import cache

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey

WINDOW_SECONDS = 60


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def weight_add(bucket: str, weight: int) -> tuple[int, int]:
    """Adds ``weight`` to ``bucket`` in the current minute. Returns (used weight this
    minute, seconds until the window resets)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"ratelimit:{bucket}:{window}"
    pipe = redis_client().pipeline(transaction=True)
    pipe.incrby(key, weight)
    pipe.expire(key, WINDOW_SECONDS + 5)
    used, _ = pipe.execute()
    reset_in = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
    return int(used), reset_in


def view_weight(view) -> int:
    return int(getattr(view, "rate_limit_weight", 1))


class ApiKeyWeightThrottle(BaseThrottle):
    """Per-key weight limit for key-authenticated requests."""

    def __init__(self):
        self._wait: int | None = None

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        used, reset_in = weight_add(f"key:{key.pk}", view_weight(view))
        request._request.api_key_used_weight = used
        if used > settings.API_RATE_LIMITS["KEY_WEIGHT_PER_MINUTE"]:
            self._wait = reset_in
            return False
        return True

    def wait(self):
        return self._wait
