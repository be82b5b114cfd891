"""/api/v1 endpoints of the accounts app: thin, each parses, calls one service, renders.

Account management (2FA, keys, KYC, password/email) is for browser sessions only
(``required_scope = "session"``): an API key can never create keys or turn 2FA off."""

from __future__ import annotations

from django.http import FileResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import otp, selectors, services
from accounts.api import schemas
from accounts.api import serializers as s
from accounts.lockout import LoginLocked
from accounts.views_common import PasswordResetEmailForm, base_url


def _validated(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _locked(exc: LoginLocked) -> Response:
    response = Response({"code": exc.code, "message": exc.message, "fields": {}},
                        status=exc.http_status)
    response["Retry-After"] = str(exc.retry_after)
    return response


class SessionOnlyView(APIView):
    required_scope = "session"


class PublicView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


@schemas.CSRF
@method_decorator(ensure_csrf_cookie, name="get")
class CsrfView(PublicView):
    def get(self, request):
        return Response({"detail": "CSRF cookie set."})


@schemas.SIGNUP
@method_decorator(csrf_protect, name="post")
class SignupView(PublicView):
    rate_limit_weight = 5

    def post(self, request):
        data = _validated(s.SignupIn, request)
        services.user_signup(email=data["email"], password=data["password"],
                             base_url=base_url(request), request=request)
        return Response({"detail": "If this email can be registered, we sent a link to "
                         "verify it. Check your inbox."}, status=status.HTTP_202_ACCEPTED)


@schemas.VERIFY_EMAIL
class VerifyEmailView(PublicView):
    def post(self, request):
        data = _validated(s.VerifyEmailIn, request)
        services.user_email_verify(uidb64=data["uid"], token=data["token"], request=request)
        return Response({"detail": "Email verified."})


@schemas.LOGIN
@method_decorator(csrf_protect, name="post")
class LoginView(PublicView):
    rate_limit_weight = 5

    def post(self, request):
        data = _validated(s.LoginIn, request)
        try:
            outcome = services.login_password_step(request=request, email=data["email"],
                                                   password=data["password"])
        except LoginLocked as exc:
            return _locked(exc)
        return Response({"status": outcome})


@schemas.LOGIN_OTP
@method_decorator(csrf_protect, name="post")
class LoginOtpView(PublicView):
    rate_limit_weight = 5

    def post(self, request):
        data = _validated(s.OtpCodeIn, request)
        try:
            services.login_otp_step(request=request, code=data["code"])
        except LoginLocked as exc:
            return _locked(exc)
        return Response({"status": "authenticated"})


@schemas.LOGOUT
class LogoutView(SessionOnlyView):
    def post(self, request):
        services.logout_record(request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@schemas.PASSWORD_RESET
@method_decorator(csrf_protect, name="post")
class PasswordResetView(PublicView):
    rate_limit_weight = 5

    def post(self, request):
        data = _validated(s.PasswordResetIn, request)
        form = PasswordResetEmailForm(data={"email": data["email"]})
        if form.is_valid():
            form.save(request=request, use_https=request.is_secure())
        return Response({"detail": "If an account uses this email, we sent a reset link."},
                        status=status.HTTP_202_ACCEPTED)


@schemas.ME
class MeView(APIView):
    required_scope = "read"

    def get(self, request):
        user = request.user
        return Response({
            "id": user.pk, "email": user.email, "email_verified": user.email_verified,
            "kyc_tier": user.kyc_tier, "state": user.state, "frozen_reason": user.frozen_reason,
            "otp_enabled": otp.otp_enrolled(user),
            "backup_codes_remaining": otp.backup_codes_remaining(user),
        })


@schemas.PASSWORD_CHANGE
class PasswordChangeView(SessionOnlyView):
    def post(self, request):
        from django.contrib.auth import update_session_auth_hash

        data = _validated(s.PasswordChangeIn, request)
        services.password_change(user=request.user, current_password=data["current_password"],
                                 new_password=data["new_password"],
                                 otp_code=data.get("otp_code"), request=request)
        update_session_auth_hash(request, request.user)
        return Response({"detail": "Password changed."})


@schemas.EMAIL_CHANGE
class EmailChangeView(SessionOnlyView):
    def post(self, request):
        data = _validated(s.EmailChangeIn, request)
        services.email_change_request(user=request.user, new_email=data["new_email"],
                                      current_password=data["current_password"],
                                      otp_code=data.get("otp_code"),
                                      base_url=base_url(request), request=request)
        return Response({"detail": "Follow the link we sent to the new address."},
                        status=status.HTTP_202_ACCEPTED)


@schemas.TOTP
class TotpView(SessionOnlyView):
    def post(self, request):
        device = services.totp_enrol_start(user=request.user)
        return Response({"secret": otp.totp_secret_b32(device),
                         "otpauth_url": device.config_url,
                         "qr_svg": otp.totp_qr_svg(device)}, status=status.HTTP_201_CREATED)


@schemas.TOTP_CONFIRM
class TotpConfirmView(SessionOnlyView):
    def post(self, request):
        data = _validated(s.OtpCodeIn, request)
        codes = services.totp_enrol_confirm(user=request.user, code=data["code"],
                                            request=request)
        return Response({"backup_codes": codes})


@schemas.TOTP_DISABLE
class TotpDisableView(SessionOnlyView):
    def post(self, request):
        data = _validated(s.StepUpIn, request)
        services.otp_disable(user=request.user, code=data.get("otp_code", ""), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@schemas.BACKUP_CODES
class BackupCodesView(SessionOnlyView):
    def get(self, request):
        return Response({"remaining": otp.backup_codes_remaining(request.user)})

    def post(self, request):
        data = _validated(s.StepUpIn, request)
        codes = services.backup_codes_regenerate(user=request.user,
                                                 code=data.get("otp_code", ""), request=request)
        return Response({"backup_codes": codes})


@schemas.API_KEYS
class ApiKeysView(SessionOnlyView):
    def get(self, request):
        keys = selectors.api_keys_for_user(user=request.user)
        return Response(s.ApiKeyOut(keys, many=True).data)

    def post(self, request):
        data = _validated(s.ApiKeyIn, request)
        key, secret = services.api_key_create(
            user=request.user, name=data["name"], scopes=data["scopes"],
            ip_allowlist=data["ip_allowlist"], expires_at=data.get("expires_at"),
            otp_code=data.get("otp_code"), request=request)
        body = s.ApiKeyOut(key).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


@schemas.API_KEY_DETAIL
class ApiKeyDetailView(SessionOnlyView):
    def get(self, request, key_id: int):
        return Response(s.ApiKeyOut(selectors.api_key_get_for_user(user=request.user,
                                                                   key_id=key_id)).data)

    def delete(self, request, key_id: int):
        services.api_key_revoke(user=request.user, key_id=key_id, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@schemas.API_KEY_REVOKE
class ApiKeyRevokeView(SessionOnlyView):
    def post(self, request, key_id: int):
        key = services.api_key_revoke(user=request.user, key_id=key_id, request=request)
        return Response(s.ApiKeyOut(key).data)


@schemas.KYC_STATUS
class KycStatusView(SessionOnlyView):
    def get(self, request):
        info = selectors.kyc_status(user=request.user)
        latest = info.pop("latest_submission")
        info["latest_submission"] = s.KycSubmissionOut(latest).data if latest else None
        info["submissions"] = s.KycSubmissionOut(
            selectors.kyc_submissions_for_user(user=request.user), many=True).data
        return Response(info)


@schemas.KYC_SUBMIT
class KycSubmitView(SessionOnlyView):
    rate_limit_weight = 10

    def post(self, request):
        data = _validated(s.KycSubmitIn, request)
        submission = services.kyc_submit(user=request.user, request=request, **data)
        return Response(s.KycSubmissionOut(submission).data, status=status.HTTP_201_CREATED)


@schemas.KYC_DOCUMENT
class KycDocumentView(SessionOnlyView):
    def get(self, request, document_id: int):
        document = selectors.kyc_document_get_for_viewer(viewer=request.user,
                                                         document_id=document_id)
        return kyc_document_response(document)


def kyc_document_response(document) -> FileResponse:
    response = FileResponse(document.file.open("rb"), content_type=document.content_type)
    response["Content-Disposition"] = f'attachment; filename="kyc-{document.pk}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@schemas.SECURITY_EVENTS
class SecurityEventsView(SessionOnlyView):
    def get(self, request):
        events = selectors.security_events_visible_to(viewer=request.user)
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 500)
            before = request.query_params.get("before_id")
            if before is not None:
                events = events.filter(pk__lt=int(before))
        except ValueError:
            return Response({"code": "invalid", "message": "limit and before_id are integers.",
                             "fields": {}}, status=400)
        return Response(s.SecurityEventOut(events[:limit], many=True).data)


@schemas.SECURITY_EVENT
class SecurityEventDetailView(SessionOnlyView):
    def get(self, request, event_id: int):
        return Response(s.SecurityEventOut(
            selectors.security_event_get(viewer=request.user, event_id=event_id)).data)
