"""Fixtures for the matcher's integration tests: real Postgres (a database of its own,
suffix ``_orders``) and a Redis database of its own, the matcher run as a real subprocess.

Several test sessions may run at once on one machine (and one Redis): each session claims a
free Redis database index (8..15) with a lock key, so sessions never read each other's
streams; the database is flushed before and after each test."""

import os

import pytest
import redis
from django.conf import settings

REDIS_DBS = range(8, 16)
LOCK_KEY = "bourse:test-session-lock"


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    from pytest_django.fixtures import _set_suffix_to_test_databases

    _set_suffix_to_test_databases("orders")


@pytest.fixture(scope="session")
def redis_db_index():
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    token = f"{os.getpid()}"
    for index in REDIS_DBS:
        client = redis.Redis.from_url(f"{base}/{index}")
        if client.set(LOCK_KEY, token, nx=True, ex=6 * 3600):
            yield index
            if client.get(LOCK_KEY) == token.encode():
                client.delete(LOCK_KEY)
            return
    pytest.skip("no free Redis database for the matcher tests")


@pytest.fixture
def redis_url(settings, redis_db_index):
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    url = f"{base}/{redis_db_index}"
    settings.REDIS_URL = url
    from matching import streams

    streams._client = None
    client = redis.Redis.from_url(url)
    _flush(client)
    yield url
    _flush(client)
    streams._client = None


def _flush(client: redis.Redis) -> None:
    """Empty the session's database but keep its lock."""
    token = client.get(LOCK_KEY)
    client.flushdb()
    if token is not None:
        client.set(LOCK_KEY, token, ex=6 * 3600)
