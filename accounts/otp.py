"""Second factor (django-otp): TOTP enrolment with a QR code, ten single-use backup codes,
verification at login and step-up for sensitive operations.

A TOTP code is accepted once: django-otp's ``TOTPDevice.verify_token`` refuses a time step
not after ``last_t``; we verify under ``SELECT ... FOR UPDATE`` so two concurrent requests
cannot both spend the same code. Backup codes are deleted by the statement that checks
them, so each works once."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import lockout
from accounts.audit import security_event_record
from accounts.models import SecurityEvent, User
from accounts.notifications import email_on_commit
from exchange.api import ServiceError

BACKUP_CODE_COUNT = 10
BACKUP_DEVICE_NAME = "backup"


def otp_enrolled(user: User) -> bool:
    return user_has_device(user, confirmed=True)


def totp_device_pending(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def totp_secret_b32(device: TOTPDevice) -> str:
    """The secret as authenticator apps (and pyotp) take it: base32, no padding."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_qr_svg(device: TOTPDevice) -> str:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def totp_enrol_start(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed TOTP device (replacing an earlier unconfirmed one)."""
    with transaction.atomic(durable=True):
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise ServiceError("otp_already_enrolled",
                               "Two-factor authentication is already enabled.", http_status=409)
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def _backup_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def totp_enrol_confirm(*, user: User, code: str, request=None) -> list[str]:
    """Confirms the pending device with its first code; returns the ten backup codes
    (shown once)."""
    with transaction.atomic(durable=True):
        device = (TOTPDevice.objects.select_for_update()
                  .filter(user=user, confirmed=False).order_by("-pk").first())
        if device is None:
            raise ServiceError("otp_not_started", "Start the set-up first.", http_status=409)
        if not _normalise(code).isdigit() or not device.verify_token(_normalise(code)):
            raise ServiceError("otp_invalid", "That code is not valid. Check the clock of "
                               "your device and try the current code.",
                               fields={"code": {"code": "otp_invalid",
                                                "message": "Invalid code."}})
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _backup_codes_replace(user)
        security_event_record(user=user, kind=SecurityEvent.Kind.OTP_ENROLLED, request=request)
        email_on_commit(to=user.email, subject="Two-factor authentication enabled",
                        body="Two-factor authentication was enabled on your Bourse account. "
                             "If this was not you, contact support immediately.")
    if request is not None:
        from django_otp import login as otp_login

        otp_login(request, device)
    return codes


def otp_verify(*, user: User, code: str, request=None):
    """The device that accepts ``code`` (TOTP first, then backup codes), spending it; or
    None. Must not be trusted twice for the same code."""
    code = _normalise(code or "")
    if not code or len(code) > 16:
        return None
    with transaction.atomic():
        if code.isdigit():
            devices = list(TOTPDevice.objects.select_for_update()
                           .filter(user=user, confirmed=True).order_by("pk"))
            for device in devices:
                if device.verify_token(code):
                    return device
        static = StaticDevice.objects.filter(user=user, confirmed=True).first()
        if static is not None:
            deleted, _ = StaticToken.objects.filter(device=static, token=code).delete()
            if deleted:
                remaining = static.token_set.count()
                security_event_record(user=user, kind=SecurityEvent.Kind.BACKUP_CODE_USED,
                                      request=request, detail={"remaining": remaining})
                return static
    return None


def otp_step_up_verify(*, user: User, code: str, request=None) -> None:
    """Checks a fresh TOTP or backup code (single use) for a sensitive operation.

    Raises ``ServiceError("otp_required", 403)`` when 2FA is not enabled or no code was
    given, ``ServiceError("otp_invalid", 400)`` for a wrong or reused code, and
    ``LoginLocked`` (429) after too many failures."""
    if not otp_enrolled(user):
        raise ServiceError("otp_required",
                           "Enable two-factor authentication first: this operation needs it.",
                           http_status=403)
    if not code:
        raise ServiceError("otp_required", "Enter a code from your authenticator app.",
                           fields={"otp_code": {"code": "required",
                                                "message": "A 2FA code is required."}},
                           http_status=403)
    from accounts.netutils import client_ip

    ip = client_ip(request) if request is not None else None
    lockout.lockout_check(email=user.email, ip=ip)
    if otp_verify(user=user, code=code, request=request) is None:
        security_event_record(user=user, kind=SecurityEvent.Kind.OTP_FAILED, request=request,
                              detail={"step": "step_up"})
        locked_for = lockout.failure_register(email=user.email, ip=ip)
        if locked_for:
            raise lockout.LoginLocked(locked_for)
        raise ServiceError("otp_invalid", "That code is not valid or was already used.",
                           fields={"otp_code": {"code": "otp_invalid",
                                                "message": "Invalid code."}})


def otp_disable(*, user: User, code: str, request=None) -> None:
    """Turns 2FA off after a fresh code; removes every device and backup code."""
    otp_step_up_verify(user=user, code=code, request=request)
    with transaction.atomic(durable=True):
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        security_event_record(user=user, kind=SecurityEvent.Kind.OTP_REMOVED, request=request)
        email_on_commit(to=user.email, subject="Two-factor authentication disabled",
                        body="Two-factor authentication was turned off on your Bourse "
                             "account. If this was not you, contact support immediately.")


def backup_codes_regenerate(*, user: User, code: str, request=None) -> list[str]:
    otp_step_up_verify(user=user, code=code, request=request)
    with transaction.atomic(durable=True):
        codes = _backup_codes_replace(user)
        security_event_record(user=user, kind=SecurityEvent.Kind.BACKUP_CODES_REGENERATED,
                              request=request)
        email_on_commit(to=user.email, subject="New backup codes",
                        body="New 2FA backup codes were generated; the old ones no longer "
                             "work.")
    return codes


def backup_codes_remaining(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
