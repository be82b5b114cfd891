"""The chaos tests use a test database of their own (suffix ``_chaos``): other sessions
running transactional tests on the shared test database flush it at the end of each test,
which would wipe a long chaos run's rows from under it."""

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    from pytest_django.fixtures import _set_suffix_to_test_databases

    _set_suffix_to_test_databases("chaos")
