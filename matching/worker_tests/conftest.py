"""Fixtures for the matcher's integration tests: real Postgres (a database of its own,
suffix ``_orders``) and a Redis database of its own (index 9, flushed per test), the
matcher run as a real subprocess."""

import pytest
import redis

TEST_REDIS_DB = 9


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    from pytest_django.fixtures import _set_suffix_to_test_databases

    _set_suffix_to_test_databases("orders")


@pytest.fixture
def redis_url(settings):
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    url = f"{base}/{TEST_REDIS_DB}"
    settings.REDIS_URL = url
    from matching import streams

    streams._client = None
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    streams._client = None
