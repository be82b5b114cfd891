"""DRF authentication for every API (/api/v1 and the Binance-compatible /api/v3).

``SignedRequestAuthentication`` implements the Binance scheme: the key in the
``X-MBX-APIKEY`` header; ``timestamp`` (ms), optional ``recvWindow`` (default 5000, at
most 60000) and ``signature`` in the query string or form body; ``signature`` is the hex
HMAC-SHA256, keyed with the key's secret, of the query string followed by the body, both
without the ``signature`` parameter. Every rejection carries a stable ``code`` string and
the Binance numeric code as ``binance_code`` so /api/v3 can render Binance's error shape.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
from datetime import timedelta
from urllib.parse import parse_qsl

from django.http.request import RawPostDataException
from django.utils import timezone
from django_otp import user_has_device
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication

from accounts import apikey_cache
from accounts.models import ApiKey
from accounts.netutils import client_ip
from accounts.signing import sign_params

API_KEY_HEADER = "HTTP_X_MBX_APIKEY"
RECV_WINDOW_DEFAULT_MS = 5000
RECV_WINDOW_MAX_MS = 60000
FUTURE_TOLERANCE_MS = 1000
LAST_USED_RESOLUTION = timedelta(seconds=10)
KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{16,64}$")


class SignedRequestError(exceptions.AuthenticationFailed):
    """A signed request was rejected. ``code`` is ours; ``binance_code`` is Binance's."""

    def __init__(self, code: str, message: str, *, binance_code: int, status_code: int = 401):
        super().__init__(detail=message, code=code)
        self.code = code
        self.binance_code = binance_code
        self.status_code = status_code


# Stable codes (docs/ACCOUNTS.md) → (Binance code, HTTP status).
ERRORS = {
    "api_key_format_invalid": (-2014, 401),
    "api_key_invalid": (-2015, 401),
    "api_key_revoked": (-2015, 401),
    "api_key_expired": (-2015, 401),
    "ip_not_allowed": (-2015, 401),
    "timestamp_required": (-1102, 400),
    "signature_required": (-1102, 400),
    "invalid_recv_window": (-1131, 400),
    "signature_invalid": (-1022, 400),
    "timestamp_outside_recv_window": (-1021, 400),
}


def _fail(code: str, message: str) -> SignedRequestError:
    binance_code, status_code = ERRORS[code]
    return SignedRequestError(code, message, binance_code=binance_code, status_code=status_code)


def _without_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` with its ``signature=`` component removed (as sent, not re-encoded), and the
    signature value if there was one."""
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), signature


def _raw_body(request) -> str:
    django_request = request._request
    content_type = django_request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("multipart/"):
        return ""  # uploads are not part of the signed payload
    try:
        return django_request.body.decode("utf-8")
    except (RawPostDataException, UnicodeDecodeError):
        return ""


def ip_allowed(key: ApiKey, ip: str) -> bool:
    if not key.ip_allowlist:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in key.ip_allowlist)



def api_key_from_header(request) -> ApiKey | None:
    """The usable ``ApiKey`` named by the ``X-MBX-APIKEY`` header, or None without one.

    Raises the key's own failure (format, unknown or inactive user, revoked, expired, IP
    not allowed). Shared by signed requests and by Binance's key-only listen-key endpoints,
    so both refuse exactly the same keys."""
    key, _secret = _api_key_and_secret(request, need_secret=False)
    return key


def _api_key_and_secret(request, *, need_secret: bool) -> tuple[ApiKey | None, str | None]:
    """``api_key_from_header`` and the key's decrypted secret (None unless
    ``need_secret``). The key, its user and secret come from ``accounts.apikey_cache``
    when the request carries a current cache generation (read by ApiWeightMiddleware);
    every check below runs on every request either way."""
    header = request.META.get(API_KEY_HEADER)
    if header is None:
        return None, None
    if not KEY_FORMAT.match(header):
        raise _fail("api_key_format_invalid", "API-key format invalid.")
    generation = getattr(request, "api_key_generation", None)
    cached = apikey_cache.cached_key(header, generation)
    if cached is not None:
        key, secret = cached
    else:
        key = ApiKey.objects.select_related("user").filter(key=header).first()
        secret = None
        if key is not None and (need_secret or generation is not None):
            secret = key_secret(key)
            apikey_cache.cache_store(header, generation, key, secret)
    if key is None or not key.user.is_active:
        raise _fail("api_key_invalid", "Invalid API-key, IP, or permissions for action.")
    if key.is_revoked:
        raise _fail("api_key_revoked", "This API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise _fail("api_key_expired", "This API key has expired.")
    if not ip_allowed(key, client_ip(request)):
        raise _fail("ip_not_allowed", "Requests from this IP are not allowed for this key.")
    return key, secret


class SignedRequestAuthentication(BaseAuthentication):
    """Authenticates ``X-MBX-APIKEY`` + HMAC-signed requests; sets ``request.auth`` to the
    ``ApiKey``. Requests without the header are left to the next authenticator."""

    def authenticate_header(self, request):
        return "X-MBX-APIKEY"

    def authenticate(self, request):
        key, secret = _api_key_and_secret(request, need_secret=True)
        if key is None:
            return None

        query, query_signature = _without_signature(request.META.get("QUERY_STRING", ""))
        body, body_signature = _without_signature(_raw_body(request))
        signature = query_signature or body_signature
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        if "timestamp" not in params:
            raise _fail("timestamp_required", "Mandatory parameter 'timestamp' was not sent.")
        if not signature:
            raise _fail("signature_required", "Mandatory parameter 'signature' was not sent.")
        recv_window = self._recv_window(params.get("recvWindow"))
        try:
            timestamp = int(params["timestamp"])
        except ValueError:
            raise _fail("timestamp_outside_recv_window", "timestamp is not an integer.") from None

        expected = sign_params(secret, query, body)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode("ascii", "replace")):
            raise _fail("signature_invalid", "Signature for this request is not valid.")

        server_ms = int(time.time() * 1000)
        if timestamp - server_ms > FUTURE_TOLERANCE_MS:
            raise _fail("timestamp_outside_recv_window",
                        "Timestamp for this request was 1000ms ahead of the server's time.")
        if server_ms - timestamp > recv_window:
            raise _fail("timestamp_outside_recv_window",
                        "Timestamp for this request is outside of the recvWindow.")

        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            apikey_cache.last_used_seen(key.key, now)
        request._request.api_key = key
        return key.user, key

    @staticmethod
    def _recv_window(raw: str | None) -> int:
        if raw is None or raw == "":
            return RECV_WINDOW_DEFAULT_MS
        try:
            value = int(raw)
        except ValueError:
            raise _fail("invalid_recv_window", "recvWindow must be an integer.") from None
        if not 0 < value <= RECV_WINDOW_MAX_MS:
            raise _fail("invalid_recv_window",
                        f"recvWindow must be between 1 and {RECV_WINDOW_MAX_MS}.")
        return value


def key_secret(key: ApiKey) -> str:
    from accounts.crypto import secret_decrypt

    return secret_decrypt(key.secret_encrypted)


class CsrfSessionAuthentication(SessionAuthentication):
    """Browser sessions on the API, with Django's CSRF check for unsafe methods. A session
    of a user enrolled in 2FA counts only once the second factor was verified."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        is_verified = getattr(user, "is_verified", None)
        if is_verified is not None and not is_verified() and user_has_device(user):
            return None
        return result
