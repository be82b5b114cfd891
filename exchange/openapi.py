"""OpenAPI declarations of our authentication schemes for drf-spectacular.

Session authentication (with CSRF) is declared by drf-spectacular's own extension for
``SessionAuthentication`` subclasses; this module adds the signed API-key scheme. It is
imported by ``exchange.binance.urls`` so it is registered before any schema is built.

It also holds what the apps' ``api/schemas.py`` share: the ``Error`` component and
``error_responses``."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class SignedRequestScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SignedRequestAuthentication"
    name = "signedApiKey"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-MBX-APIKEY",
            "description": (
                "Binance-style signed request: the API key in the X-MBX-APIKEY header, "
                "plus `timestamp` (ms), optional `recvWindow` (default 5000, at most 60000) "
                "and `signature` in the query string or form body. `signature` is the hex "
                "HMAC-SHA256, keyed with the key's secret, of the query string followed by "
                "the body (without `signature`). See docs/API.md."
            ),
        }


class CsrfSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CsrfSessionAuthentication"
    name = "session"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "Browser session (log in at /accounts/login/); unsafe methods "
                           "also need the X-CSRFToken header.",
        }


# --------------------------------------------------------------------------- /api/v1 docs
# Shared pieces of the per-app schema declarations (``<app>/api/schemas.py``): the one
# error format of /api/v1 as a component, and error responses by status.



class ErrorSerializer(serializers.Serializer):
    """``{"code", "message", "fields"}``: every /api/v1 error (codes in docs/API.md)."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `invalid`.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Per-field errors `{field: {code, message}}` (may be empty).")

    class Meta:
        ref_name = "Error"


_ERROR_TEXT = {
    400: ("Invalid request (validation or business rule)", "invalid",
          "Some fields are invalid.", {"quantity": {"code": "invalid",
                                                    "message": "Not a number."}}),
    401: ("Not authenticated", "not_authenticated",
          "Authentication credentials were not provided.", {}),
    403: ("Authenticated but not allowed (scope, CSRF, frozen account, 2FA)",
          "permission_denied", "You do not have permission to perform this action.", {}),
    404: ("Not found (or another user's object)", "not_found", "Not found.", {}),
    405: ("Method not allowed", "method_not_allowed", 'Method "PUT" not allowed.', {}),
    409: ("Conflict with the current state", "conflict", "The request conflicts.", {}),
    415: ("Unsupported media type", "unsupported_media_type",
          'Unsupported media type "text/plain" in request.', {}),
    429: ("Rate limited (see Retry-After)", "rate_limited",
          "Too much request weight; retry later.", {}),
}


def error_responses(*statuses: int) -> dict:
    """``{status: OpenApiResponse(Error)}`` for ``extend_schema(responses=...)``, each with
    an example."""
    out = {}
    for code in statuses:
        description, err, message, fields = _ERROR_TEXT[code]
        out[code] = OpenApiResponse(
            ErrorSerializer, description=description,
            examples=[OpenApiExample(f"{err}", value={"code": err, "message": message,
                                                      "fields": fields},
                                     status_codes=[str(code)], response_only=True)])
    return out


#: Errors any authenticated /api/v1 operation may answer.
AUTH_ERRORS = (401, 403, 429)
