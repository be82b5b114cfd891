"""``ScopePermission``: what an API key may do. A view declares ``required_scope``
(``read`` by default, ``trade``, ``withdraw``, or ``session`` for account management that
API keys may never reach); session-authenticated requests pass."""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from accounts.models import ApiKey


class ScopeNotGranted(exceptions.PermissionDenied):
    def __init__(self, scope: str):
        super().__init__(
            detail=f"This API key does not have the '{scope}' permission.",
            code="scope_not_granted",
        )
        self.code = "scope_not_granted"
        self.binance_code = -2015


class ScopePermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        scope = getattr(view, "required_scope", "read")
        if scope != "session" and key.has_scope(scope):
            return True
        raise ScopeNotGranted(scope)
