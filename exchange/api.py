"""Shared API plumbing: exact JSON parsing and the one error format of /api/v1.

Every error of the native API has the shape ``{"code": "...", "message": "...",
"fields": {...}}``; codes are listed in docs/API.md. Services raise ``ServiceError``
(or a subclass) with a machine-readable code; views never build errors by hand.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response


class ServiceError(Exception):
    """A business rule said no. ``code`` is machine-readable, ``message`` for humans."""

    http_status = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, *, fields: dict | None = None,
                 http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}
        if http_status is not None:
            self.http_status = http_status


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


class DecimalJSONParser(JSONParser):
    """Parses JSON numbers as ``Decimal`` straight from the text, never through float;
    rejects ``NaN`` and ``Infinity`` literals."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(
                text, parse_float=Decimal, parse_int=int, parse_constant=_reject_constant
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


_DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid",
}


def _flatten_field_errors(detail) -> dict:
    if not isinstance(detail, dict):
        return {}
    out = {}
    for field, errors in detail.items():
        if isinstance(errors, list) and errors:
            first = errors[0]
            out[field] = {"code": getattr(first, "code", "invalid"), "message": str(first)}
        elif isinstance(errors, dict):
            out[field] = _flatten_field_errors(errors)
        else:
            out[field] = {"code": getattr(errors, "code", "invalid"), "message": str(errors)}
    return out


def exception_handler(exc, context):
    """DRF exception handler producing ``{"code", "message", "fields"}`` for every error."""
    # Imported here: rest_framework.views reads the parser classes from settings at import
    # time, and those live in this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ServiceError):
        body = {"code": exc.code, "message": exc.message, "fields": exc.fields}
        return Response(body, status=exc.http_status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.APIException) and not isinstance(exc, exceptions.ValidationError):
        explicit = exc.get_codes()
        if isinstance(explicit, str) and explicit not in {"error", exc.default_code}:
            code = explicit
    is_validation = isinstance(exc, exceptions.ValidationError)
    fields = _flatten_field_errors(exc.detail) if is_validation else {}
    if fields:
        message = "Some fields are invalid."
    elif isinstance(response.data, dict) and "detail" in response.data:
        message = str(response.data["detail"])
    elif isinstance(response.data, list) and response.data:
        message = str(response.data[0])
    else:
        message = "The request was rejected."
    response.data = {"code": code, "message": message, "fields": fields}
    return response
