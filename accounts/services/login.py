"""Sign-in: password, then (when enrolled) the second factor, then the session.

The user is logged in (``django.contrib.auth.login``, which rotates the session key) only
after every factor passed; between the two steps the session holds just the pending user
id, so no authenticated page or endpoint can be reached by skipping the second step."""

from __future__ import annotations

import hashlib
import time

from django.contrib.auth import authenticate, login
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp import login as otp_login

from accounts import lockout
from accounts.audit import security_event_record
from accounts.models import KnownDevice, SecurityEvent, User
from accounts.netutils import client_ip, user_agent
from accounts.notifications import email_on_commit
from accounts.otp import otp_enrolled, otp_verify
from exchange.api import ServiceError

PENDING_USER_KEY = "accounts_otp_pending_user"
PENDING_AT_KEY = "accounts_otp_pending_at"
PENDING_MAX_AGE_SECONDS = 300


def _invalid_credentials() -> ServiceError:
    return ServiceError("invalid_credentials", "Invalid email or password.", http_status=400)


def login_password_step(*, request, email: str, password: str) -> str:
    """Checks email and password under the lock-out. Returns ``"authenticated"`` (the
    session is logged in) or ``"otp_required"`` (the session waits for the second
    factor)."""
    email = (email or "").strip().lower()[:254]
    ip = client_ip(request)
    try:
        lockout.lockout_check(email=email, ip=ip)
    except lockout.LoginLocked:
        security_event_record(user=User.objects.filter(email=email).first(),
                              kind=SecurityEvent.Kind.LOGIN_LOCKED, request=request)
        raise
    user = None
    if email and password and len(password) <= 256:
        user = authenticate(request, username=email, password=password)
    if user is None:
        security_event_record(user=User.objects.filter(email=email).first(),
                              kind=SecurityEvent.Kind.LOGIN_FAILED, request=request,
                              detail={"step": "password"})
        locked_for = lockout.failure_register(email=email, ip=ip)
        if locked_for:
            raise lockout.LoginLocked(locked_for)
        raise _invalid_credentials()
    if otp_enrolled(user):
        request.session.cycle_key()
        request.session[PENDING_USER_KEY] = user.pk
        request.session[PENDING_AT_KEY] = int(time.time())
        return "otp_required"
    _login_complete(request=request, user=user, device=None)
    return "authenticated"


def login_pending_user(request) -> User | None:
    user_id = request.session.get(PENDING_USER_KEY)
    started = request.session.get(PENDING_AT_KEY, 0)
    if not user_id or time.time() - started > PENDING_MAX_AGE_SECONDS:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def login_otp_step(*, request, code: str) -> User:
    """Second step: a TOTP or backup code for the user who passed the password step."""
    user = login_pending_user(request)
    if user is None:
        raise ServiceError("otp_session_expired",
                           "Your sign-in expired. Enter your email and password again.",
                           http_status=400)
    ip = client_ip(request)
    lockout.lockout_check(email=user.email, ip=ip)
    device = otp_verify(user=user, code=code, request=request)
    if device is None:
        security_event_record(user=user, kind=SecurityEvent.Kind.OTP_FAILED, request=request,
                              detail={"step": "login"})
        locked_for = lockout.failure_register(email=user.email, ip=ip)
        if locked_for:
            request.session.pop(PENDING_USER_KEY, None)
            raise lockout.LoginLocked(locked_for)
        raise ServiceError("otp_invalid", "That code is not valid or was already used.",
                           fields={"code": {"code": "otp_invalid", "message": "Invalid code."}})
    _login_complete(request=request, user=user, device=device)
    return user


def _login_complete(*, request, user: User, device) -> None:
    request.session.pop(PENDING_USER_KEY, None)
    request.session.pop(PENDING_AT_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
    lockout.success_register(email=user.email)
    security_event_record(user=user, kind=SecurityEvent.Kind.LOGIN_SUCCEEDED, request=request,
                          detail={"second_factor": device is not None})
    device_seen(user=user, request=request)


def device_seen(*, user: User, request) -> bool:
    """Records the (IP, user agent) of a login; a pair never seen before (for a user who
    has logged in before) is audited and emailed. Returns True for a new device."""
    ip, agent = client_ip(request), user_agent(request)
    fingerprint = hashlib.sha256(f"{ip}|{agent}".encode()).hexdigest()
    with transaction.atomic(durable=True):
        had_devices = KnownDevice.objects.filter(user=user).exists()
        updated = KnownDevice.objects.filter(user=user, fingerprint=fingerprint).update(
            last_seen=timezone.now())
        if updated:
            return False
        try:
            with transaction.atomic():
                KnownDevice.objects.create(user=user, fingerprint=fingerprint, ip=ip or None,
                                           user_agent=agent)
        except IntegrityError:
            return False
        if had_devices:
            security_event_record(user=user, kind=SecurityEvent.Kind.NEW_DEVICE_LOGIN,
                                  request=request, detail={"ip": ip, "user_agent": agent})
            email_on_commit(
                to=user.email, subject="New sign-in to your account",
                body=f"Your Bourse account was signed in to from a new device.\n\nIP: {ip}\n"
                     f"Browser: {agent or 'unknown'}\nTime: {timezone.now():%Y-%m-%d %H:%M} "
                     "UTC\n\nIf this was not you, change your password and contact support.")
        return had_devices


def logout_record(*, request) -> None:
    from django.contrib.auth import logout

    user = request.user if request.user.is_authenticated else None
    if user is not None:
        security_event_record(user=user, kind=SecurityEvent.Kind.LOGOUT, request=request)
    logout(request)
