"""Redis clients for market data: one synchronous client per process (publishers,
selectors) and one asyncio client per event loop (the streaming hub)."""

from __future__ import annotations

import asyncio
import functools

import redis
import redis.asyncio as aioredis
from django.conf import settings


@functools.cache
def sync_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, health_check_interval=30)


_async_clients: dict[int, aioredis.Redis] = {}


def async_client() -> aioredis.Redis:
    """A client bound to the running loop (redis.asyncio connections cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(id(loop))
    if client is None:
        # socket_timeout above the hub's XREAD BLOCK (5 s), so a blocking read is not
        # mistaken for a dead connection.
        client = aioredis.Redis.from_url(settings.REDIS_URL, health_check_interval=30,
                                         socket_timeout=30, socket_connect_timeout=5)
        _async_clients[id(loop)] = client
    return client
