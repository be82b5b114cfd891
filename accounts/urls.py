from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.home_view, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/otp/", views.login_otp_view, name="login-otp"),
    path("logout/", views.logout_view, name="logout"),
    path("signup/", views.signup_view, name="signup"),
    path("verify-email/<str:uidb64>/<str:token>/", views.verify_email_view,
         name="verify-email"),
    path("verify-email/resend/", views.verify_email_resend_view, name="verify-email-resend"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/done/", auth_views.PasswordResetDoneView.as_view(
        template_name="accounts/password_reset_done.html"), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"),
         name="password_reset_complete"),
    path("password/", views.password_change_view, name="password-change"),
    path("email/", views.email_change_view, name="email-change"),
    path("email/confirm/<str:token>/", views.email_change_confirm_view,
         name="email-change-confirm"),
    path("2fa/setup/", views.totp_setup_view, name="totp-setup"),
    path("2fa/backup-codes/", views.backup_codes_view, name="backup-codes"),
    path("2fa/disable/", views.totp_disable_view, name="totp-disable"),
    path("api-keys/", views.api_keys_view, name="api-keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="api-key-revoke"),
    path("kyc/", views.kyc_view, name="kyc"),
    path("kyc/documents/<int:document_id>/", views.kyc_document_view, name="kyc-document"),
    path("security/", views.security_events_view, name="security-events"),
]
