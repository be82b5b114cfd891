"""The Binance signing scheme, for clients, tests and documentation.

``signature = hex(HMAC-SHA256(secret, totalParams))`` where ``totalParams`` is the query
string followed directly by the request body (both exactly as sent, without the
``signature`` parameter itself)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode


def sign_params(secret: str, query_string: str, body: str = "") -> str:
    """Hex HMAC-SHA256 of ``query_string + body`` keyed with ``secret``."""
    payload = (query_string + body).encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signed_query(secret: str, params: dict | None = None, *, timestamp_ms: int | None = None,
                 recv_window: int | None = None, body: str = "") -> str:
    """A complete signed query string: ``params`` + ``timestamp`` (+ ``recvWindow``) +
    ``signature``. Pass ``body`` when the request also carries a form body."""
    items = dict(params or {})
    items["timestamp"] = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    if recv_window is not None:
        items["recvWindow"] = recv_window
    query = urlencode(items)
    return f"{query}&signature={sign_params(secret, query, body)}"
