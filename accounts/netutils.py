"""Who is calling: client IP (proxy-aware by configuration) and user agent."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    """The caller's IP. ``X-Forwarded-For`` is trusted only for the configured number of
    proxies in front of us (``TRUSTED_PROXY_COUNT``); otherwise ``REMOTE_ADDR``."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104


def user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:300]
