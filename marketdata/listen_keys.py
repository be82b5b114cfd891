"""Listen keys: a bearer token for the private WebSocket stream, obtained with an API key
(the API layer exposes ``POST/PUT/DELETE userDataStream``). Kept in Redis with a TTL of
60 minutes, extended by keepalive, as Binance does."""

from __future__ import annotations

import secrets

from marketdata import keys
from marketdata.redis_conn import async_client, sync_client

LISTEN_KEY_TTL_SECONDS = 60 * 60


def listen_key_create(*, user_id: int) -> str:
    """A new 64-character key valid for LISTEN_KEY_TTL_SECONDS."""
    key = secrets.token_urlsafe(48)[:64]
    sync_client().set(keys.listen_key_key(key), str(user_id), ex=LISTEN_KEY_TTL_SECONDS)
    return key


def listen_key_keepalive(*, user_id: int, listen_key: str) -> bool:
    """Extends the key's validity; False if it does not exist or is another user's."""
    client = sync_client()
    owner = client.get(keys.listen_key_key(listen_key))
    if owner is None or int(owner) != user_id:
        return False
    return bool(client.expire(keys.listen_key_key(listen_key), LISTEN_KEY_TTL_SECONDS))


def listen_key_delete(*, user_id: int, listen_key: str) -> bool:
    client = sync_client()
    owner = client.get(keys.listen_key_key(listen_key))
    if owner is None or int(owner) != user_id:
        return False
    client.delete(keys.listen_key_key(listen_key))
    return True


def listen_key_user_id(*, listen_key: str) -> int | None:
    owner = sync_client().get(keys.listen_key_key(listen_key))
    return None if owner is None else int(owner)


async def listen_key_user_id_async(*, listen_key: str) -> int | None:
    if not listen_key or len(listen_key) > 128:
        return None
    owner = await async_client().get(keys.listen_key_key(listen_key))
    return None if owner is None else int(owner)
