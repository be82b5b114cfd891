"""One-time links: email verification (invalidated once the address is verified or
changed) and email change confirmation (signed, time-limited)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{user.pk}{user.email}{user.email_verified}{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()

EMAIL_CHANGE_SALT = "accounts.email-change"


def email_change_token(*, user_id: int, old_email: str, new_email: str) -> str:
    return signing.dumps({"u": user_id, "old": old_email, "new": new_email},
                         salt=EMAIL_CHANGE_SALT, compress=True)


def email_change_token_read(token: str) -> dict:
    """Raises ``signing.BadSignature`` (or ``SignatureExpired``)."""
    return signing.loads(token, salt=EMAIL_CHANGE_SALT,
                         max_age=settings.EMAIL_VERIFICATION_MAX_AGE_SECONDS)
