"""Schemathesis against /api/v1/schema/ in-process (WSGI, the pytest test database): for
every operation, a bounded number of generated requests (10 for reads, 25 for writes),
logged in with a session; no 5xx and no response that breaks the schema (every documented
status, errors included, has a schema)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from exchange.demo import seed_demo

# Reads are cheap to cover (few parameters); writes get more examples.
READ_EXAMPLES = 10
WRITE_EXAMPLES = 25

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.fixture
def session_cookie(transactional_db):
    from accounts.models import User

    seed_demo()
    client = Client()
    client.force_login(User.objects.get(email="alice@bourse.local"))
    return f"sessionid={client.cookies['sessionid'].value}"


def _check(case, session_cookie):
    response = case.call(headers={"Cookie": session_cookie})
    case.validate_response(response, checks=[not_a_server_error,
                                             response_schema_conformance])


@schema.include(method="GET").parametrize()
@settings(max_examples=READ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_v1_fuzz_reads(case, session_cookie):
    _check(case, session_cookie)


@schema.exclude(method="GET").parametrize()
@settings(max_examples=WRITE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_v1_fuzz_writes(case, session_cookie):
    _check(case, session_cookie)
