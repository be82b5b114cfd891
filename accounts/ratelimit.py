"""Weighted request limits in Redis, per IP (every API request, in middleware) and per API
key (DRF throttle, after authentication). Fixed one-minute windows, as Binance counts
``X-MBX-USED-WEIGHT-1M``. A view sets ``rate_limit_weight = N`` (default 1)."""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings
from redis.maint_notifications import MaintNotificationsConfig
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey

WINDOW_SECONDS = 60
log = logging.getLogger(__name__)


@cache
def _client(url: str) -> redis.Redis:
    # No maintenance-notifications handshake on connect (redis-py 8, RESP3): it is for
    # managed Redis clusters, and against our Redis it failed new connections opened
    # under load ("Bad file descriptor" while reading its reply: 500s in the HTTP bench).
    return redis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=2,
        maint_notifications_config=MaintNotificationsConfig(enabled=False))


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def weight_add(bucket: str, weight: int) -> tuple[int, int]:
    """Adds ``weight`` to ``bucket`` in the current minute. Returns (used weight this
    minute, seconds until the window resets)."""
    (used,), reset_in, _ = weights_add([(bucket, weight)])
    return used, reset_in


def weights_add(buckets: list[tuple[str, int]], *, read: str | None = None,
                ) -> tuple[list[int], int, bytes | None]:
    """``weight_add`` for several buckets, plus a GET of ``read`` if given, in ONE Redis
    round trip (the IP and key weights and the API-key cache generation of a signed
    request). Returns (used weight per bucket, seconds until the window resets, the value
    read)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    try:
        replies = _count(buckets, window, read)
    except redis.ConnectionError:
        # Seen under load in the HTTP bench: a connection the pool had to open failed its
        # handshake ("Bad file descriptor"), so nothing was counted on it. One more try on
        # another connection instead of a 500; if the first try did reach Redis after
        # all, the weight is counted twice, which only errs on the strict side.
        log.warning("rate limit: Redis connection failed, retrying once", exc_info=True)
        replies = _count(buckets, window, read)
    used = [int(v) for v in replies[0:2 * len(buckets):2]]
    reset_in = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
    return used, reset_in, (replies[-1] if read is not None else None)


def _count(buckets: list[tuple[str, int]], window: int, read: str | None) -> list:
    pipe = redis_client().pipeline(transaction=True)
    for bucket, weight in buckets:
        key = f"ratelimit:{bucket}:{window}"
        pipe.incrby(key, weight)
        pipe.expire(key, WINDOW_SECONDS + 5)
    if read is not None:
        pipe.get(read)
    return pipe.execute()


def key_bucket(api_key: str) -> str:
    return f"key:{api_key}"


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
        counted = getattr(request._request, "api_key_weight_counted", None)
        if counted is not None and counted[0] == key.key:
            # Counted with the IP weight in one round trip (ApiWeightMiddleware).
            used, reset_in = counted[1], counted[2]
        else:
            used, reset_in = weight_add(key_bucket(key.key), view_weight(view))
        request._request.api_key_used_weight = used
        if used > settings.API_RATE_LIMITS["KEY_WEIGHT_PER_MINUTE"]:
            self._wait = reset_in
            return False
        return True

    def wait(self):
        return self._wait
