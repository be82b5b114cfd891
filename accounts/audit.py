from __future__ import annotations

from accounts.models import SecurityEvent, User
from accounts.netutils import client_ip, user_agent


def security_event_record(*, user: User | None, kind: str, request=None,
                          detail: dict | None = None) -> SecurityEvent:
    """Appends one entry to the security audit log (in the caller's transaction)."""
    if user is not None and not getattr(user, "pk", None):
        user = None
    return SecurityEvent.objects.create(
        user=user,
        kind=str(kind),
        ip=client_ip(request) if request is not None else None,
        user_agent=user_agent(request) if request is not None else "",
        detail=detail or {},
    )
