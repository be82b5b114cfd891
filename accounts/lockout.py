"""Brute-force protection: failed logins and failed second-factor codes are counted in
Redis per account (normalised email) and per IP. Past the configured number of failures
within the window, the account or IP is locked for ``LOCKOUT_SECONDS``.

Counting by email (not user id) means an unknown email locks the same way, so lock-outs
reveal nothing about which emails are registered."""

from __future__ import annotations

import hashlib
import math

from django.conf import settings

from accounts.ratelimit import redis_client
from exchange.api import ServiceError


class LoginLocked(ServiceError):
    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            "login_locked",
            f"Too many failed attempts. Sign-in is locked for {minutes} minute"
            f"{'s' if minutes != 1 else ''}; try again later.",
            http_status=429,
        )
        self.retry_after = retry_after


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _keys(email: str, ip: str | None) -> list[tuple[str, str, int]]:
    conf = settings.LOGIN_LOCKOUT
    keys = [
        (f"lockout:fail:acct:{_account(email)}", f"lockout:lock:acct:{_account(email)}",
         conf["ACCOUNT_FAILURES"]),
    ]
    if ip:
        keys.append((f"lockout:fail:ip:{ip}", f"lockout:lock:ip:{ip}", conf["IP_FAILURES"]))
    return keys


def lockout_remaining(*, email: str, ip: str | None) -> int:
    """Seconds until sign-in is allowed again for this account or IP (0 = not locked)."""
    client = redis_client()
    ttls = [client.ttl(lock) for _, lock, _ in _keys(email, ip)]
    return max([t for t in ttls if t and t > 0], default=0)


def lockout_check(*, email: str, ip: str | None) -> None:
    remaining = lockout_remaining(email=email, ip=ip)
    if remaining:
        raise LoginLocked(remaining)


def failure_register(*, email: str, ip: str | None) -> int:
    """Counts one failure; returns the lock-out in seconds if this failure locked."""
    conf = settings.LOGIN_LOCKOUT
    client = redis_client()
    locked_for = 0
    for fail_key, lock_key, limit in _keys(email, ip):
        pipe = client.pipeline(transaction=True)
        pipe.incr(fail_key)
        pipe.ttl(fail_key)
        count, ttl = pipe.execute()
        if ttl < 0:  # the window starts at the first failure (EXPIRE NX needs Redis 7)
            client.expire(fail_key, conf["WINDOW_SECONDS"])
        if count >= limit:
            client.set(lock_key, 1, ex=conf["LOCKOUT_SECONDS"])
            client.delete(fail_key)
            locked_for = conf["LOCKOUT_SECONDS"]
    return locked_for


def success_register(*, email: str) -> None:
    """A successful sign-in clears the account's failure count (not the IP's)."""
    redis_client().delete(f"lockout:fail:acct:{_account(email)}")


def lockout_clear(*, email: str, ip: str | None = None) -> None:
    """Staff/test helper: lifts the lock-out of an account (and an IP)."""
    redis_client().delete(*[k for triple in _keys(email, ip) for k in triple[:2]])
