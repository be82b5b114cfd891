"""The /api/v1 OpenAPI schema is complete: generated without a warning, every operation
has a summary, a description, a success response with a schema, at least one example, and
its error responses use the one ``Error`` component; both auth schemes are declared."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors (run " \
        "manage.py spectacular --validate --fail-on-warn)"
    validate_schema(generated)
    return generated


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield f"{method.upper()} {path}", op


def _has_example(op) -> bool:
    bodies = [*op.get("requestBody", {}).get("content", {}).values()]
    for response in op["responses"].values():
        bodies += response.get("content", {}).values()
    return any(body.get("examples") or body.get("example") for body in bodies)


def test_every_operation_is_documented(schema):
    problems = []
    for name, op in _operations(schema):
        if not op.get("summary") or not op.get("description"):
            problems.append(f"{name}: no summary/description")
        success = [c for c in op["responses"] if c.startswith("2")]
        if not success:
            problems.append(f"{name}: no success response")
        for code in success:
            if code != "204" and not op["responses"][code].get("content"):
                problems.append(f"{name}: {code} has no schema")
        if not _has_example(op):
            problems.append(f"{name}: no example")
        errors = [c for c in op["responses"] if c[0] in "45"]
        if not errors:
            problems.append(f"{name}: no error response")
        for code in errors:
            ref = op["responses"][code]["content"]["application/json"]["schema"].get("$ref")
            if ref != ERROR_REF:
                problems.append(f"{name}: {code} is not an Error")
    assert not problems, "\n".join(problems)


def test_error_component_and_auth_schemes(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "fields"}
    assert set(error["required"]) == {"code", "message", "fields"}
    schemes = schema["components"]["securitySchemes"]
    assert schemes["signedApiKey"]["name"] == "X-MBX-APIKEY"
    assert schemes["session"]["in"] == "cookie"


def test_only_api_v1_is_in_the_schema(schema):
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert len(list(_operations(schema))) > 50
