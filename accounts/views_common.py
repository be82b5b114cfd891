"""Pieces shared by the browser pages and the API views."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import redirect_to_login
from django.template import loader
from django_otp import user_has_device

from accounts.notifications import email_on_commit


def base_url(request) -> str:
    return request.build_absolute_uri("/")


class PasswordResetEmailForm(PasswordResetForm):
    """Django's reset form (which never reveals whether the email exists), sending through
    Celery after commit."""

    def save(self, **kwargs):
        kwargs.setdefault("subject_template_name", "accounts/email/password_reset_subject.txt")
        kwargs.setdefault("email_template_name", "accounts/email/password_reset.txt")
        return super().save(**kwargs)

    def send_mail(self, subject_template_name, email_template_name, context, from_email,
                  to_email, html_email_template_name=None):
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        email_on_commit(to=to_email, subject=subject, body=body)


def login_and_otp_required(view):
    """``login_required`` that also refuses a session of a 2FA-enrolled user whose second
    factor was not verified (defence in depth: such a session is never logged in)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated or (not user.is_verified() and user_has_device(user)):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper
