"""Sign-up, email verification, password and email changes."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.audit import security_event_record
from accounts.models import SecurityEvent, User
from accounts.notifications import email_on_commit
from accounts.otp import otp_enrolled, otp_step_up_verify
from accounts.tokens import email_change_token, email_change_token_read, email_verification_token
from exchange.api import ServiceError


def _field_error(field: str, code: str, message: str, http_status: int = 400) -> ServiceError:
    return ServiceError(code, message, fields={field: {"code": code, "message": message}},
                        http_status=http_status)


def email_normalise(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254:
        raise _field_error("email", "invalid", "Enter a valid email address.")
    try:
        validate_email(email)
    except ValidationError:
        raise _field_error("email", "invalid", "Enter a valid email address.") from None
    return email


def _password_validate(password: str, user: User, field: str = "password") -> None:
    if not password or len(password) > 256:
        raise _field_error(field, "password_invalid", "Enter a password of at most 256 "
                           "characters.")
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ServiceError("password_invalid", " ".join(exc.messages),
                           fields={field: {"code": "password_invalid",
                                           "message": " ".join(exc.messages)}}) from None


def verification_link(*, user: User, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = email_verification_token.make_token(user)
    return f"{base_url.rstrip('/')}/accounts/verify-email/{uid}/{token}/"


def user_signup(*, email: str, password: str, base_url: str, request=None) -> User | None:
    """Creates an unverified user and emails a verification link. For an email already
    registered, nothing is created and the owner is told by email; the caller answers the
    same either way, so sign-up never reveals which emails exist. Returns the new user or
    None."""
    email = email_normalise(email)
    _password_validate(password, User(email=email))
    try:
        with transaction.atomic(durable=True):
            if User.objects.filter(email__iexact=email).exists():
                email_on_commit(
                    to=email, subject="Sign-up attempt",
                    body="Someone tried to create a Bourse account with this email address, "
                         "which already has one. If it was you, log in or reset your "
                         f"password at {base_url.rstrip('/')}/accounts/password-reset/.")
                return None
            user = User.objects.create_user(email=email, password=password)
            security_event_record(user=user, kind=SecurityEvent.Kind.SIGNUP, request=request)
            link = verification_link(user=user, base_url=base_url)
            email_on_commit(to=email, subject="Verify your email address",
                            body=f"Welcome to Bourse. Confirm your email address:\n\n{link}\n")
            return user
    except IntegrityError:  # a concurrent sign-up with the same email won
        return None


def user_email_verify(*, uidb64: str, token: str, request=None) -> User:
    invalid = ServiceError("verification_link_invalid",
                           "This verification link is invalid or has expired.")
    try:
        user_id = int(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError):
        raise invalid from None
    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None or not email_verification_token.check_token(user, token):
            raise invalid
        user.email_verified = True
        user.save(update_fields=["email_verified"])
        security_event_record(user=user, kind=SecurityEvent.Kind.EMAIL_VERIFIED,
                              request=request)
    return user


def verification_resend(*, user: User, base_url: str) -> None:
    if user.email_verified:
        return
    link = verification_link(user=user, base_url=base_url)
    email_on_commit(to=user.email, subject="Verify your email address",
                    body=f"Confirm your email address:\n\n{link}\n")


def _reauthenticate(*, user: User, password: str, otp_code: str | None, request) -> None:
    """Re-entering the password (and a fresh 2FA code when enrolled) for sensitive
    changes."""
    if not password or not user.check_password(password):
        raise _field_error("current_password", "password_incorrect",
                           "Your current password is incorrect.")
    if otp_enrolled(user):
        otp_step_up_verify(user=user, code=otp_code or "", request=request)


def password_change(*, user: User, current_password: str, new_password: str,
                    otp_code: str | None = None, request=None) -> None:
    _reauthenticate(user=user, password=current_password, otp_code=otp_code, request=request)
    _password_validate(new_password, user, field="new_password")
    with transaction.atomic(durable=True):
        user.set_password(new_password)
        user.save(update_fields=["password"])
        security_event_record(user=user, kind=SecurityEvent.Kind.PASSWORD_CHANGED,
                              request=request)
        email_on_commit(to=user.email, subject="Your password was changed",
                        body="The password of your Bourse account was changed. If this was "
                             "not you, reset your password and contact support.")


def email_change_request(*, user: User, new_email: str, current_password: str,
                         otp_code: str | None = None, base_url: str, request=None) -> None:
    """Emails a confirmation link to the new address (the change happens when it is
    followed). Answers the same whether or not the new address is taken."""
    new_email = email_normalise(new_email)
    _reauthenticate(user=user, password=current_password, otp_code=otp_code, request=request)
    if new_email == user.email:
        raise _field_error("new_email", "email_unchanged", "That is already your email.")
    with transaction.atomic(durable=True):
        security_event_record(user=user, kind=SecurityEvent.Kind.EMAIL_CHANGE_REQUESTED,
                              request=request)
        if User.objects.filter(email__iexact=new_email).exists():
            email_on_commit(to=new_email, subject="Email change attempt",
                            body="Someone asked to move a Bourse account to this address, "
                                 "which already has an account. Nothing was changed.")
            return
        token = email_change_token(user_id=user.pk, old_email=user.email, new_email=new_email)
        link = f"{base_url.rstrip('/')}/accounts/email/confirm/{token}/"
        email_on_commit(to=new_email, subject="Confirm your new email address",
                        body=f"Confirm the new address of your Bourse account:\n\n{link}\n")
        email_on_commit(to=user.email, subject="Email change requested",
                        body=f"A change of your account email to {new_email} was requested. "
                             "If this was not you, change your password now.")


def email_change_confirm(*, token: str, request=None) -> User:
    invalid = ServiceError("email_change_link_invalid",
                           "This confirmation link is invalid or has expired.")
    try:
        data = email_change_token_read(token)
    except signing.BadSignature:
        raise invalid from None
    try:
        with transaction.atomic(durable=True):
            user = User.objects.select_for_update().filter(pk=data["u"]).first()
            if user is None or user.email != data["old"]:
                raise invalid
            user.email = data["new"]
            user.email_verified = True
            user.save(update_fields=["email", "email_verified"])
            security_event_record(user=user, kind=SecurityEvent.Kind.EMAIL_CHANGED,
                                  request=request, detail={"old": data["old"]})
            email_on_commit(to=data["old"], subject="Your account email was changed",
                            body=f"Your Bourse account now uses {data['new']}. If this was "
                                 "not you, contact support immediately.")
    except IntegrityError:
        raise ServiceError("email_change_link_invalid",
                           "That address is no longer available.") from None
    return user
