from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/csrf", views.CsrfView.as_view(), name="api-auth-csrf"),
    path("auth/signup", views.SignupView.as_view(), name="api-auth-signup"),
    path("auth/verify-email", views.VerifyEmailView.as_view(), name="api-auth-verify-email"),
    path("auth/login", views.LoginView.as_view(), name="api-auth-login"),
    path("auth/login/otp", views.LoginOtpView.as_view(), name="api-auth-login-otp"),
    path("auth/logout", views.LogoutView.as_view(), name="api-auth-logout"),
    path("auth/password-reset", views.PasswordResetView.as_view(), name="api-password-reset"),
    path("me", views.MeView.as_view(), name="api-me"),
    path("me/password", views.PasswordChangeView.as_view(), name="api-me-password"),
    path("me/email", views.EmailChangeView.as_view(), name="api-me-email"),
    path("2fa/totp", views.TotpView.as_view(), name="api-2fa-totp"),
    path("2fa/totp/confirm", views.TotpConfirmView.as_view(), name="api-2fa-totp-confirm"),
    path("2fa/totp/disable", views.TotpDisableView.as_view(), name="api-2fa-totp-disable"),
    path("2fa/backup-codes", views.BackupCodesView.as_view(), name="api-2fa-backup-codes"),
    path("api-keys", views.ApiKeysView.as_view(), name="api-keys"),
    path("api-keys/<int:key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path("api-keys/<int:key_id>/revoke", views.ApiKeyRevokeView.as_view(),
         name="api-key-revoke"),
    path("kyc", views.KycStatusView.as_view(), name="api-kyc"),
    path("kyc/submit", views.KycSubmitView.as_view(), name="api-kyc-submit"),
    path("kyc/documents/<int:document_id>", views.KycDocumentView.as_view(),
         name="api-kyc-document"),
    path("security-events", views.SecurityEventsView.as_view(), name="api-security-events"),
    path("security-events/<int:event_id>", views.SecurityEventDetailView.as_view(),
         name="api-security-event"),
]
