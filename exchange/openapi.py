"""OpenAPI declarations of our authentication schemes for drf-spectacular.

Session authentication (with CSRF) is declared by drf-spectacular's own extension for
``SessionAuthentication`` subclasses; this module adds the signed API-key scheme. It is
imported by ``exchange.binance.urls`` so it is registered before any schema is built."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
