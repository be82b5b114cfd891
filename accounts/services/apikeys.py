"""API keys: created with scopes, an optional IP allow-list and expiry; the secret is
returned once and stored encrypted."""

from __future__ import annotations

import ipaddress
import secrets
import string
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.audit import security_event_record
from accounts.crypto import secret_encrypt
from accounts.models import ApiKey, SecurityEvent, User
from accounts.notifications import email_on_commit
from accounts.otp import otp_step_up_verify
from exchange.api import ServiceError

MAX_ACTIVE_KEYS = 30
MAX_ALLOWLIST = 30
_ALPHABET = string.ascii_letters + string.digits
SCOPES = ("read", "trade", "withdraw")


def _field_error(field: str, code: str, message: str) -> ServiceError:
    return ServiceError(code, message, fields={field: {"code": code, "message": message}})


def _random(length: int = 64) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _allowlist_normalise(entries) -> list[str]:
    if isinstance(entries, str):
        entries = entries.replace(",", " ").split()
    out: list[str] = []
    for entry in entries or []:
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            raise _field_error("ip_allowlist", "invalid_ip",
                               f"'{str(entry)[:50]}' is not an IP address or network.") from None
        if str(network) not in out:
            out.append(str(network))
    if len(out) > MAX_ALLOWLIST:
        raise _field_error("ip_allowlist", "too_many", f"At most {MAX_ALLOWLIST} entries.")
    return out


def api_key_create(*, user: User, name: str, scopes, ip_allowlist=(),
                   expires_at: datetime | None = None, otp_code: str | None = None,
                   request=None) -> tuple[ApiKey, str]:
    """Returns the key and its secret (the only time the secret is shown). ``read`` is
    always granted; ``trade`` and ``withdraw`` need a fresh 2FA code; ``withdraw`` needs
    an IP allow-list."""
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 64:
        raise _field_error("name", "invalid", "Name the key (1 to 64 characters).")
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    requested = set(scopes or [])
    unknown = requested - set(SCOPES)
    if unknown:
        raise _field_error("scopes", "invalid_scope",
                           f"Unknown scope(s): {', '.join(sorted(unknown))[:100]}.")
    granted = [s for s in SCOPES if s in requested | {"read"}]
    allowlist = _allowlist_normalise(ip_allowlist)
    if "withdraw" in granted and not allowlist:
        raise _field_error("ip_allowlist", "ip_allowlist_required",
                           "A key with the withdraw scope needs an IP allow-list.")
    if expires_at is not None and expires_at <= timezone.now():
        raise _field_error("expires_at", "out_of_range", "The expiry must be in the future.")
    if {"trade", "withdraw"} & set(granted):
        otp_step_up_verify(user=user, code=otp_code or "", request=request)
    secret = _random()
    with transaction.atomic(durable=True):
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = ApiKey.objects.filter(user=user, revoked_at__isnull=True).count()
        if active >= MAX_ACTIVE_KEYS:
            raise ServiceError("too_many_keys", f"At most {MAX_ACTIVE_KEYS} active keys.",
                               http_status=409)
        key = ApiKey.objects.create(user=user, name=name, key=_random(),
                                    secret_encrypted=secret_encrypt(secret), scopes=granted,
                                    ip_allowlist=allowlist, expires_at=expires_at)
        security_event_record(user=user, kind=SecurityEvent.Kind.API_KEY_CREATED,
                              request=request,
                              detail={"key_id": key.pk, "name": name, "scopes": granted})
        email_on_commit(to=user.email, subject="New API key",
                        body=f"An API key named '{name}' with scopes {', '.join(granted)} was "
                             "created on your account. If this was not you, revoke it and "
                             "change your password.")
    return key, secret


def api_key_revoke(*, user: User, key_id: int, request=None) -> ApiKey:
    with transaction.atomic(durable=True):
        key = ApiKey.objects.select_for_update().filter(pk=key_id, user=user).first()
        if key is None:
            raise ServiceError("not_found", "No such API key.", http_status=404)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            security_event_record(user=user, kind=SecurityEvent.Kind.API_KEY_REVOKED,
                                  request=request, detail={"key_id": key.pk, "name": key.name})
    return key
