"""``USER_STREAM`` security: Binance's listen-key endpoints take the API key header only,
no signature. The key checks (format, existence, revocation, expiry, IP allow-list) are
accounts'; this class only skips the signature, as Binance does for these endpoints."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication

from accounts.authentication import api_key_from_header


class ApiKeyHeaderAuthentication(BaseAuthentication):
    def authenticate_header(self, request):
        return "X-MBX-APIKEY"

    def authenticate(self, request):
        key = api_key_from_header(request)
        return None if key is None else (key.user, key)
