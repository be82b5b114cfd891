"""OpenAPI declarations of the accounts endpoints of /api/v1 (drf-spectacular): what each
operation takes and answers, with examples. Schema only: no behaviour lives here; each
view carries one ``@schemas.<NAME>`` decorator."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from accounts.api import serializers as s
from exchange.openapi import AUTH_ERRORS, error_responses

TAG_AUTH = "auth"
TAG_ACCOUNT = "account"
TAG_KEYS = "api-keys"
TAG_KYC = "kyc"

SESSION_ONLY = (" Browser session only: an API key is refused (403 `scope_not_granted`), "
                "and unsafe methods need the `X-CSRFToken` header.")


class DetailOut(serializers.Serializer):
    detail = serializers.CharField()


LOGIN_STATUSES = ["authenticated", "otp_required"]


class LoginOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=LOGIN_STATUSES)


class MeOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
    kyc_tier = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["ACTIVE", "FROZEN"])
    frozen_reason = serializers.CharField(allow_blank=True)
    otp_enabled = serializers.BooleanField()
    backup_codes_remaining = serializers.IntegerField()


class TotpOut(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 TOTP secret.")
    otpauth_url = serializers.CharField()
    qr_svg = serializers.CharField(help_text="The otpauth URL as an SVG QR code.")


class BackupCodesOut(serializers.Serializer):
    backup_codes = serializers.ListField(child=serializers.CharField())


class BackupCodesRemainingOut(serializers.Serializer):
    remaining = serializers.IntegerField()


class ApiKeyCreatedOut(s.ApiKeyOut):
    secret = serializers.CharField(help_text="Shown once; store it now.")

    class Meta(s.ApiKeyOut.Meta):
        fields = [*s.ApiKeyOut.Meta.fields, "secret"]


class KycStatusOut(serializers.Serializer):
    tier = serializers.IntegerField()
    email_verified = serializers.BooleanField()
    state = serializers.ChoiceField(choices=["ACTIVE", "FROZEN"])
    can_trade = serializers.BooleanField()
    daily_withdrawal_limits = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        help_text="Per asset symbol (`*` = others); null = unlimited, \"0\" = may not.")
    latest_submission = s.KycSubmissionOut(allow_null=True)
    submissions = s.KycSubmissionOut(many=True)


def _detail(text: str, code: int = 200) -> OpenApiResponse:
    return OpenApiResponse(DetailOut, examples=[OpenApiExample(
        "ok", value={"detail": text}, status_codes=[str(code)], response_only=True)])


_NO_CONTENT = OpenApiResponse(description="Done; no body.")
_KEY_EXAMPLE = {"id": 7, "name": "bot", "key": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy",
                "scopes": ["read", "trade"], "ip_allowlist": ["203.0.113.7"],
                "expires_at": None, "revoked": False, "revoked_at": None,
                "last_used_at": None, "created": "2025-01-02T03:04:05Z"}
_EVENT_EXAMPLE = {"id": 42, "user_id": 3, "kind": "login", "ip": "203.0.113.7",
                  "user_agent": "curl/8.5", "detail": {}, "created": "2025-01-02T03:04:05Z"}
_SUBMISSION_EXAMPLE = {"id": 5, "tier": 1, "status": "PENDING", "reason": "",
                       "legal_name": "Alice Martin", "date_of_birth": "1990-04-01",
                       "country": "FR", "created": "2025-01-02T03:04:05Z",
                       "reviewed_at": None, "documents": []}


def _example(name: str, value, *, request: bool = False, status: int = 200):
    if request:
        return OpenApiExample(name, value=value, request_only=True)
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


CSRF = extend_schema_view(get=extend_schema(
    tags=[TAG_AUTH], summary="Get a CSRF cookie",
    description="Sets the `csrftoken` cookie a browser client echoes in `X-CSRFToken`.",
    responses={200: _detail("CSRF cookie set."), **error_responses(429)}))

SIGNUP = extend_schema_view(post=extend_schema(
    tags=[TAG_AUTH], summary="Sign up",
    description="Registers an email and password and sends a verification link. The answer "
                "is the same whether or not the email is already registered. Needs CSRF.",
    request=s.SignupIn,
    responses={202: _detail("If this email can be registered, we sent a link to verify it. "
                            "Check your inbox.", 202), **error_responses(400, 403, 429)},
    examples=[_example("signup", {"email": "alice@example.com",
                                  "password": "correct horse battery staple"}, request=True)]))

VERIFY_EMAIL = extend_schema_view(post=extend_schema(
    tags=[TAG_AUTH], summary="Verify an email address",
    description="Consumes the `uid` and `token` of the link sent at sign-up.",
    request=s.VerifyEmailIn,
    responses={200: _detail("Email verified."), **error_responses(400, 429)},
    examples=[_example("verify", {"uid": "Mw", "token": "c0ffee-1a2b3c"}, request=True)]))

LOGIN = extend_schema_view(post=extend_schema(
    tags=[TAG_AUTH], summary="Log in (password step)",
    description="Starts a session. `otp_required`: finish with `/auth/login/otp`. Too many "
                "failures lock the account or IP (429 `login_locked` with Retry-After). "
                "Needs CSRF.",
    request=s.LoginIn,
    responses={200: LoginOut, **error_responses(400, 403, 429)},
    examples=[_example("login", {"email": "alice@example.com", "password": "secret"},
                       request=True),
              _example("authenticated", {"status": "authenticated"})]))

LOGIN_OTP = extend_schema_view(post=extend_schema(
    tags=[TAG_AUTH], summary="Log in (second factor)",
    description="A TOTP or backup code after `otp_required`. Needs CSRF.",
    request=s.OtpCodeIn,
    responses={200: LoginOut, **error_responses(400, 403, 429)},
    examples=[_example("code", {"code": "123456"}, request=True),
              _example("authenticated", {"status": "authenticated"})]))

LOGOUT = extend_schema_view(post=extend_schema(
    tags=[TAG_AUTH], summary="Log out", description="Ends the session." + SESSION_ONLY,
    request=None, responses={204: _NO_CONTENT, **error_responses(*AUTH_ERRORS)}))

PASSWORD_RESET = extend_schema_view(post=extend_schema(
    tags=[TAG_AUTH], summary="Request a password reset",
    description="Emails a reset link if an account uses this address (same answer either "
                "way). Needs CSRF.",
    request=s.PasswordResetIn,
    responses={202: _detail("If an account uses this email, we sent a reset link.", 202),
               **error_responses(400, 403, 429)},
    examples=[_example("reset", {"email": "alice@example.com"}, request=True)]))

ME = extend_schema_view(get=extend_schema(
    tags=[TAG_ACCOUNT], summary="The current user",
    description="Profile, KYC tier, state and 2FA status. Session or key with `read` scope.",
    responses={200: MeOut, **error_responses(*AUTH_ERRORS)},
    examples=[_example("me", {"id": 3, "email": "alice@example.com", "email_verified": True,
                              "kyc_tier": 1, "state": "ACTIVE", "frozen_reason": "",
                              "otp_enabled": True, "backup_codes_remaining": 10})]))

PASSWORD_CHANGE = extend_schema_view(post=extend_schema(
    tags=[TAG_ACCOUNT], summary="Change the password",
    description="Needs the current password, and `otp_code` when 2FA is on." + SESSION_ONLY,
    request=s.PasswordChangeIn,
    responses={200: _detail("Password changed."), **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("change", {"current_password": "old", "new_password": "new and long",
                                  "otp_code": "123456"}, request=True)]))

EMAIL_CHANGE = extend_schema_view(post=extend_schema(
    tags=[TAG_ACCOUNT], summary="Change the email address",
    description="Sends a confirmation link to the new address." + SESSION_ONLY,
    request=s.EmailChangeIn,
    responses={202: _detail("Follow the link we sent to the new address.", 202),
               **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("change", {"new_email": "alice@new.example", "current_password": "pw",
                                  "otp_code": "123456"}, request=True)]))

TOTP = extend_schema_view(post=extend_schema(
    tags=[TAG_ACCOUNT], summary="Start TOTP enrolment",
    description="Returns a new secret; confirm it with a code at `/2fa/totp/confirm`."
                + SESSION_ONLY,
    request=None, responses={201: TotpOut, **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("totp", {"secret": "JBSWY3DPEHPK3PXP",
                                "otpauth_url": "otpauth://totp/Bourse:alice?secret=JBSWY3DPEHPK3PXP",
                                "qr_svg": "<svg ...>"}, status=201)]))

TOTP_CONFIRM = extend_schema_view(post=extend_schema(
    tags=[TAG_ACCOUNT], summary="Confirm TOTP enrolment",
    description="Turns 2FA on and returns single-use backup codes (shown once)."
                + SESSION_ONLY,
    request=s.OtpCodeIn, responses={200: BackupCodesOut, **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("code", {"code": "123456"}, request=True),
              _example("codes", {"backup_codes": ["a1b2-c3d4", "e5f6-a7b8"]})]))

TOTP_DISABLE = extend_schema_view(post=extend_schema(
    tags=[TAG_ACCOUNT], summary="Turn 2FA off",
    description="Needs a current TOTP or backup code." + SESSION_ONLY,
    request=s.StepUpIn, responses={204: _NO_CONTENT, **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("code", {"otp_code": "123456"}, request=True)]))

BACKUP_CODES = extend_schema_view(
    get=extend_schema(
        tags=[TAG_ACCOUNT], summary="Count the unused backup codes",
        description="How many backup codes are left." + SESSION_ONLY,
        responses={200: BackupCodesRemainingOut, **error_responses(*AUTH_ERRORS)},
        examples=[_example("remaining", {"remaining": 8})]),
    post=extend_schema(
        tags=[TAG_ACCOUNT], summary="Regenerate the backup codes",
        description="Replaces every backup code; needs a current code." + SESSION_ONLY,
        request=s.StepUpIn,
        responses={200: BackupCodesOut, **error_responses(400, *AUTH_ERRORS)},
        examples=[_example("code", {"otp_code": "123456"}, request=True),
                  _example("codes", {"backup_codes": ["a1b2-c3d4", "e5f6-a7b8"]})]),
)

API_KEYS = extend_schema_view(
    get=extend_schema(
        operation_id="v1_api_keys_list", tags=[TAG_KEYS], summary="List my API keys",
        description="Every key, revoked ones included; secrets are never shown again."
                    + SESSION_ONLY,
        responses={200: s.ApiKeyOut(many=True), **error_responses(*AUTH_ERRORS)},
        examples=[_example("keys", [_KEY_EXAMPLE])]),
    post=extend_schema(
        operation_id="v1_api_keys_create", tags=[TAG_KEYS], summary="Create an API key",
        description="Scopes `read`, `trade`, `withdraw` (withdraw needs an IP allow-list); "
                    "`otp_code` when 2FA is on. The `secret` is returned once." + SESSION_ONLY,
        request=s.ApiKeyIn,
        responses={201: ApiKeyCreatedOut, **error_responses(400, *AUTH_ERRORS)},
        examples=[_example("create", {"name": "bot", "scopes": ["read", "trade"],
                                      "ip_allowlist": ["203.0.113.7"], "otp_code": "123456"},
                           request=True),
                  _example("created", {**_KEY_EXAMPLE, "secret": "hex-secret-shown-once"},
                           status=201)]),
)

API_KEY_DETAIL = extend_schema_view(
    get=extend_schema(
        operation_id="v1_api_keys_retrieve", tags=[TAG_KEYS], summary="One of my API keys",
        description="Another user's key is 404." + SESSION_ONLY,
        responses={200: s.ApiKeyOut, **error_responses(*AUTH_ERRORS, 404)},
        examples=[_example("key", _KEY_EXAMPLE)]),
    delete=extend_schema(
        operation_id="v1_api_keys_destroy", tags=[TAG_KEYS], summary="Revoke an API key",
        description="Same as `POST .../revoke` without a body in the answer." + SESSION_ONLY,
        responses={204: _NO_CONTENT, **error_responses(*AUTH_ERRORS, 404)}),
)

API_KEY_REVOKE = extend_schema_view(post=extend_schema(
    tags=[TAG_KEYS], summary="Revoke an API key",
    description="The key stops working at once; it stays listed as revoked." + SESSION_ONLY,
    request=None, responses={200: s.ApiKeyOut, **error_responses(*AUTH_ERRORS, 404)},
    examples=[_example("revoked", {**_KEY_EXAMPLE, "revoked": True,
                                   "revoked_at": "2025-01-03T00:00:00Z"})]))

KYC_STATUS = extend_schema_view(get=extend_schema(
    tags=[TAG_KYC], summary="My KYC tier and submissions",
    description="The tier, what it allows, and the submissions made." + SESSION_ONLY,
    responses={200: KycStatusOut, **error_responses(*AUTH_ERRORS)},
    examples=[_example("status", {
        "tier": 1, "email_verified": True, "state": "ACTIVE", "can_trade": True,
        "daily_withdrawal_limits": {"BTC": "2", "*": "50000"},
        "latest_submission": _SUBMISSION_EXAMPLE, "submissions": [_SUBMISSION_EXAMPLE]})]))

KYC_SUBMIT = extend_schema_view(post=extend_schema(
    tags=[TAG_KYC], summary="Submit KYC for a tier",
    description="Multipart form with identity fields and the documents (each at most "
                "`KYC_UPLOAD_MAX_BYTES`); compliance staff decide." + SESSION_ONLY,
    request={"multipart/form-data": s.KycSubmitIn},
    responses={201: s.KycSubmissionOut, **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("submitted", _SUBMISSION_EXAMPLE, status=201)]))

KYC_DOCUMENT = extend_schema_view(get=extend_schema(
    tags=[TAG_KYC], summary="Download a KYC document",
    description="The file as uploaded (owner or compliance staff; others 404)." + SESSION_ONLY,
    responses={(200, "application/octet-stream"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The document (its own content type)."),
        **error_responses(*AUTH_ERRORS, 404)}))

SECURITY_EVENTS = extend_schema_view(get=extend_schema(
    operation_id="v1_security_events_list", tags=[TAG_ACCOUNT], summary="My security events",
    description="Logins, 2FA and key changes, newest first (compliance staff see everyone's)."
                + SESSION_ONLY,
    parameters=[
        OpenApiParameter("limit", int, description="1-500, default 50."),
        OpenApiParameter("before_id", int, description="Only events with a smaller id."),
    ],
    responses={200: s.SecurityEventOut(many=True), **error_responses(400, *AUTH_ERRORS)},
    examples=[_example("events", [_EVENT_EXAMPLE])]))

SECURITY_EVENT = extend_schema_view(get=extend_schema(
    operation_id="v1_security_events_retrieve", tags=[TAG_ACCOUNT],
    summary="One security event",
    description="Another user's event is 404." + SESSION_ONLY,
    responses={200: s.SecurityEventOut, **error_responses(*AUTH_ERRORS, 404)},
    examples=[_example("event", _EVENT_EXAMPLE)]))
