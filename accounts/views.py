"""Browser pages under /accounts/ (plain; styled by the UI work). Thin: parse a form, call
one service, render; a ServiceError becomes a form error."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import forms, otp, selectors, services
from accounts.api.views import kyc_document_response
from accounts.audit import security_event_record
from accounts.lockout import LoginLocked
from accounts.models import SecurityEvent
from accounts.services.login import login_pending_user
from accounts.views_common import PasswordResetEmailForm, base_url, login_and_otp_required
from exchange.api import ServiceError


def _apply_error(form, exc: ServiceError) -> None:
    placed = False
    for field, error in exc.fields.items():
        if field in form.fields:
            form.add_error(field, error.get("message", exc.message))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _next(request, default: str = "/accounts/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def _locked(request, form, exc: LoginLocked, template: str, status: int = 429):
    form.add_error(None, exc.message)
    response = render(request, template, {"form": form, "next": _next(request)}, status=status)
    response["Retry-After"] = str(exc.retry_after)
    return response


def login_view(request):
    form = forms.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.login_password_step(request=request,
                                                   email=form.cleaned_data["email"],
                                                   password=form.cleaned_data["password"])
        except LoginLocked as exc:
            return _locked(request, form, exc, "accounts/login.html")
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            if outcome == "otp_required":
                return redirect(f"{reverse_lazy('accounts:login-otp')}?next={_next(request)}")
            return redirect(_next(request))
    status = 400 if form.errors else 200
    return render(request, "accounts/login.html", {"form": form, "next": _next(request)},
                  status=status)


def login_otp_view(request):
    if login_pending_user(request) is None:
        messages.info(request, "Sign in with your email and password first.")
        return redirect("accounts:login")
    form = forms.OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.login_otp_step(request=request, code=form.cleaned_data["code"])
        except LoginLocked as exc:
            return _locked(request, form, exc, "accounts/login_otp.html")
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            return redirect(_next(request))
    status = 400 if form.errors else 200
    return render(request, "accounts/login_otp.html", {"form": form, "next": _next(request)},
                  status=status)


@require_POST
def logout_view(request):
    services.logout_record(request=request)
    return redirect("/")


def signup_view(request):
    form = forms.SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_signup(email=form.cleaned_data["email"],
                                 password=form.cleaned_data["password"],
                                 base_url=base_url(request), request=request)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            return render(request, "accounts/signup_done.html")
    return render(request, "accounts/signup.html", {"form": form},
                  status=400 if form.errors else 200)


def verify_email_view(request, uidb64: str, token: str):
    try:
        services.user_email_verify(uidb64=uidb64, token=token, request=request)
    except ServiceError as exc:
        return render(request, "accounts/message.html",
                      {"title": "Link not valid", "text": exc.message}, status=400)
    return render(request, "accounts/message.html",
                  {"title": "Email verified", "text": "Your email address is verified."})


@login_and_otp_required
@require_POST
def verify_email_resend_view(request):
    services.verification_resend(user=request.user, base_url=base_url(request))
    messages.success(request, "We sent a new verification link.")
    return redirect("accounts:home")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetEmailForm
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        security_event_record(user=form.user, kind=SecurityEvent.Kind.PASSWORD_RESET,
                              request=self.request)
        return response


@login_and_otp_required
def home_view(request):
    context = selectors.kyc_status(user=request.user)
    context.update({
        "otp_enabled": otp.otp_enrolled(request.user),
        "backup_codes_remaining": otp.backup_codes_remaining(request.user),
    })
    return render(request, "accounts/home.html", context)


@login_and_otp_required
def password_change_view(request):
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(user=request.user, request=request, **form.cleaned_data)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, "Your password was changed.")
            return redirect("accounts:home")
    return render(request, "accounts/form_page.html",
                  {"form": form, "title": "Change password",
                   "otp_enabled": otp.otp_enrolled(request.user)},
                  status=400 if form.errors else 200)


@login_and_otp_required
def email_change_view(request):
    form = forms.EmailChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.email_change_request(user=request.user, base_url=base_url(request),
                                          request=request, **form.cleaned_data)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, "Follow the link we sent to the new address.")
            return redirect("accounts:home")
    return render(request, "accounts/form_page.html",
                  {"form": form, "title": "Change email",
                   "otp_enabled": otp.otp_enrolled(request.user)},
                  status=400 if form.errors else 200)


def email_change_confirm_view(request, token: str):
    try:
        services.email_change_confirm(token=token, request=request)
    except ServiceError as exc:
        return render(request, "accounts/message.html",
                      {"title": "Link not valid", "text": exc.message}, status=400)
    return render(request, "accounts/message.html",
                  {"title": "Email changed", "text": "Your account uses the new address."})


@login_and_otp_required
def totp_setup_view(request):
    if otp.otp_enrolled(request.user):
        return redirect("accounts:backup-codes")
    form = forms.OtpForm(request.POST or None)
    device = otp.totp_device_pending(request.user)
    if request.method == "POST" and device is not None and form.is_valid():
        try:
            codes = services.totp_enrol_confirm(user=request.user,
                                                code=form.cleaned_data["code"], request=request)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            return render(request, "accounts/backup_codes.html", {"codes": codes})
    if device is None:
        device = services.totp_enrol_start(user=request.user)
    return render(request, "accounts/totp_setup.html", {
        "form": form, "qr_svg": otp.totp_qr_svg(device), "secret": otp.totp_secret_b32(device),
    }, status=400 if form.errors else 200)


@login_and_otp_required
def backup_codes_view(request):
    form = forms.StepUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.backup_codes_regenerate(
                user=request.user, code=form.cleaned_data["otp_code"], request=request)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            return render(request, "accounts/backup_codes.html", {"codes": codes})
    return render(request, "accounts/backup_codes_manage.html", {
        "form": form, "remaining": otp.backup_codes_remaining(request.user),
        "otp_enabled": otp.otp_enrolled(request.user),
    }, status=400 if form.errors else 200)


@login_and_otp_required
def totp_disable_view(request):
    form = forms.StepUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.otp_disable(user=request.user, code=form.cleaned_data["otp_code"],
                                 request=request)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("accounts:home")
    return render(request, "accounts/form_page.html",
                  {"form": form, "title": "Turn off two-factor authentication",
                   "otp_enabled": True}, status=400 if form.errors else 200)


@login_and_otp_required
def api_keys_view(request):
    form = forms.ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.api_key_create(user=request.user, request=request,
                                              **form.cleaned_data)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            form = forms.ApiKeyForm()
    return render(request, "accounts/api_keys.html", {
        "form": form, "keys": selectors.api_keys_for_user(user=request.user),
        "created_key": created[0] if created else None,
        "created_secret": created[1] if created else None,
    }, status=400 if form.errors else (201 if created else 200))


@login_and_otp_required
@require_POST
def api_key_revoke_view(request, key_id: int):
    selectors.api_key_get_for_user(user=request.user, key_id=key_id)  # 404 if not theirs
    services.api_key_revoke(user=request.user, key_id=key_id, request=request)
    messages.success(request, "The key was revoked.")
    return redirect("accounts:api-keys")


@login_and_otp_required
def kyc_view(request):
    tier = request.POST.get("tier")
    tier1 = forms.KycTier1Form(request.POST if tier == "1" else None)
    tier2 = forms.KycTier2Form(request.POST if tier == "2" else None,
                               request.FILES if tier == "2" else None)
    form = tier1 if tier == "1" else tier2
    if request.method == "POST" and tier in ("1", "2") and form.is_valid():
        try:
            services.kyc_submit(user=request.user, tier=int(tier), request=request,
                                **form.cleaned_data)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, "Submitted. We will review it shortly.")
            return redirect("accounts:kyc")
    context = selectors.kyc_status(user=request.user)
    context.update({"tier1_form": tier1, "tier2_form": tier2,
                    "submissions": selectors.kyc_submissions_for_user(user=request.user)})
    return render(request, "accounts/kyc.html", context,
                  status=400 if form.errors else 200)


@login_and_otp_required
def kyc_document_view(request, document_id: int) -> HttpResponse:
    document = selectors.kyc_document_get_for_viewer(viewer=request.user,
                                                     document_id=document_id)
    return kyc_document_response(document)


@login_and_otp_required
def security_events_view(request):
    events = selectors.security_events_visible_to(viewer=request.user)[:200]
    return render(request, "accounts/security_events.html", {"events": events})
