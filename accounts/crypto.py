"""Encryption at rest of API-key secrets (Fernet). The key comes from
``settings.API_KEY_ENCRYPTION_KEY`` (a Fernet key) or, if unset, is derived from
``SECRET_KEY`` with HKDF, so rotating SECRET_KEY without setting it invalidates keys."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@cache
def _fernet(configured: str, secret_key: str) -> Fernet:
    if configured:
        return Fernet(configured.encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"bourse-api-key-secrets", info=b"fernet"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def fernet() -> Fernet:
    return _fernet(settings.API_KEY_ENCRYPTION_KEY, settings.SECRET_KEY)


def secret_encrypt(secret: str) -> str:
    return fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()
