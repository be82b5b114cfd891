"""``USER_STREAM`` security: Binance's listen-key endpoints take the API key header only,
no signature. The key checks (format, existence, revocation, expiry, IP allow-list) are
accounts'; this class only skips the signature, as Binance does for these endpoints."""

from __future__ import annotations

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from accounts.authentication import _KEY_FORMAT, API_KEY_HEADER, _fail, ip_allowed
from accounts.models import ApiKey
from accounts.netutils import client_ip


class ApiKeyHeaderAuthentication(BaseAuthentication):
    def authenticate_header(self, request):
        return "X-MBX-APIKEY"

    def authenticate(self, request):
        header = request.META.get(API_KEY_HEADER)
        if header is None:
            return None
        if not _KEY_FORMAT.match(header):
            raise _fail("api_key_format_invalid", "API-key format invalid.")
        key = ApiKey.objects.select_related("user").filter(key=header).first()
        if key is None or not key.user.is_active:
            raise _fail("api_key_invalid", "Invalid API-key, IP, or permissions for action.")
        if key.is_revoked:
            raise _fail("api_key_revoked", "This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= timezone.now():
            raise _fail("api_key_expired", "This API key has expired.")
        if not ip_allowed(key, client_ip(request)):
            raise _fail("ip_not_allowed", "Requests from this IP are not allowed for this key.")
        return key.user, key
