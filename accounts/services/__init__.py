"""Writes of the accounts app. Split by subdomain; import from here."""

from accounts.audit import security_event_record
from accounts.otp import (
    backup_codes_regenerate,
    otp_disable,
    otp_step_up_verify,
    totp_enrol_confirm,
    totp_enrol_start,
)
from accounts.services.apikeys import api_key_create, api_key_revoke
from accounts.services.kyc import kyc_approve, kyc_reject, kyc_submit, user_freeze, user_unfreeze
from accounts.services.login import (
    device_seen,
    login_otp_step,
    login_password_step,
    logout_record,
)
from accounts.services.registration import (
    email_change_confirm,
    email_change_request,
    password_change,
    user_email_verify,
    user_signup,
    verification_resend,
)

__all__ = [
    "api_key_create", "api_key_revoke", "backup_codes_regenerate", "device_seen",
    "email_change_confirm", "email_change_request", "kyc_approve", "kyc_reject", "kyc_submit",
    "login_otp_step", "login_password_step", "logout_record", "otp_disable",
    "otp_step_up_verify", "password_change", "security_event_record", "totp_enrol_confirm",
    "totp_enrol_start", "user_email_verify", "user_freeze", "user_signup", "user_unfreeze",
    "verification_resend",
]
