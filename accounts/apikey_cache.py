"""Per-process cache of API keys for signed requests: the key row, its user and the
decrypted secret, so a signed request needs no SELECT and no Fernet decryption.

Revocation and every other change stay effective at once, in every process: a save or
delete of any ``ApiKey`` or ``User`` increments a generation counter in Redis after its
transaction commits (``GENERATION_KEY``), each signed request reads that counter in the
same Redis round trip as its rate-limit weights (``ApiWeightMiddleware``), and a cached
entry is used only while the generation it was read under is still current. Changes made
without ``save()`` (a raw ``UPDATE``), or while Redis could not be told, are picked up
within ``CACHE_SECONDS``. Without a generation (no middleware ran) nothing is cached."""

from __future__ import annotations

import copy
import logging
import time

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from accounts.models import ApiKey, User

GENERATION_KEY = "apikey:generation"
CACHE_SECONDS = 5.0
log = logging.getLogger(__name__)

# header -> (expires at (monotonic), generation read, ApiKey with its user, secret)
_cache: dict[str, tuple[float, bytes, ApiKey, str]] = {}


def cached_key(header: str, generation: bytes | None) -> tuple[ApiKey, str] | None:
    """The cached key (a copy: requests never share model instances) and its secret, if
    cached under ``generation`` less than ``CACHE_SECONDS`` ago."""
    entry = _cache.get(header)
    if entry is None or generation is None:
        return None
    expires, cached_generation, key, secret = entry
    if cached_generation != generation or expires < time.monotonic():
        _cache.pop(header, None)
        return None
    fresh = copy.copy(key)
    fresh.user = copy.copy(key.user)
    return fresh, secret


def cache_store(header: str, generation: bytes | None, key: ApiKey, secret: str) -> None:
    if generation is None:
        return
    if len(_cache) > 10_000:  # bounded: many distinct keys simply miss
        _cache.clear()
    stored = copy.copy(key)
    stored.user = copy.copy(key.user)
    _cache[header] = (time.monotonic() + CACHE_SECONDS, generation, stored, secret)


def last_used_seen(header: str, when) -> None:
    entry = _cache.get(header)
    if entry is not None:
        entry[2].last_used_at = when


def _bump() -> None:
    from accounts.ratelimit import redis_client

    _cache.clear()
    try:
        redis_client().incr(GENERATION_KEY)
    except Exception:  # other processes then see the change within CACHE_SECONDS
        log.warning("API-key cache generation not bumped (Redis unavailable)", exc_info=True)


def generation_bump(**_kwargs) -> None:
    """Invalidate every process's cache once the current transaction commits (before
    that, another process re-reading the row would cache the old version)."""
    _cache.clear()
    transaction.on_commit(_bump)


for _model in (ApiKey, User):
    post_save.connect(generation_bump, sender=_model, dispatch_uid=f"apikey-cache-save-{_model}")
    post_delete.connect(generation_bump, sender=_model,
                        dispatch_uid=f"apikey-cache-delete-{_model}")
