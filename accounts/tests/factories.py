"""Factories other apps' tests may use: ``UserFactory`` (verified email, KYC tier 1 by
default) and ``ApiKeyFactory`` (returns ``(key, secret)``)."""

from __future__ import annotations

import factory

from accounts.crypto import secret_encrypt
from accounts.models import ApiKey, User
from accounts.services.apikeys import _random

PASSWORD = "correct horse battery staple 42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    email_verified = True
    kyc_tier = 1
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


class ApiKeyFactory:
    """``ApiKeyFactory(user=..., scopes=["read", "trade"], ip_allowlist=[...])`` →
    ``(ApiKey, secret)``. Bypasses the 2FA step-up of ``api_key_create`` (tests only)."""

    def __new__(cls, *, user: User | None = None, name: str = "test key",
                scopes=("read",), ip_allowlist=(), expires_at=None) -> tuple[ApiKey, str]:
        user = user or UserFactory()
        secret = _random()
        key = ApiKey.objects.create(user=user, name=name, key=_random(),
                                    secret_encrypted=secret_encrypt(secret),
                                    scopes=list(scopes), ip_allowlist=list(ip_allowlist),
                                    expires_at=expires_at)
        return key, secret
