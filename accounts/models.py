import os

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.files.storage import FileSystemStorage
from django.db import models


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person: trader or staff. Logs in with email; no username."""

    class State(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        FROZEN = "FROZEN", "Frozen"

    username = None
    email = models.EmailField("email address", unique=True)
    email_verified = models.BooleanField(default=False)
    kyc_tier = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    frozen_reason = models.CharField(max_length=500, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    @property
    def is_frozen(self) -> bool:
        return self.state == self.State.FROZEN


class SecurityEvent(models.Model):
    """Append-only security audit log. Rows are never updated or deleted (a database
    trigger enforces it, see migration 0002); users see their own, staff see all."""

    class Kind(models.TextChoices):
        SIGNUP = "signup", "Signed up"
        EMAIL_VERIFIED = "email_verified", "Email verified"
        LOGIN_SUCCEEDED = "login_succeeded", "Login succeeded"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGIN_LOCKED = "login_locked", "Login locked out"
        LOGOUT = "logout", "Logged out"
        NEW_DEVICE_LOGIN = "new_device_login", "Login from a new device"
        OTP_FAILED = "otp_failed", "Second-factor code rejected"
        OTP_ENROLLED = "otp_enrolled", "Two-factor authentication enabled"
        OTP_REMOVED = "otp_removed", "Two-factor authentication disabled"
        BACKUP_CODE_USED = "backup_code_used", "Backup code used"
        BACKUP_CODES_REGENERATED = "backup_codes_regenerated", "Backup codes regenerated"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset"
        EMAIL_CHANGE_REQUESTED = "email_change_requested", "Email change requested"
        EMAIL_CHANGED = "email_changed", "Email changed"
        API_KEY_CREATED = "api_key_created", "API key created"
        API_KEY_REVOKED = "api_key_revoked", "API key revoked"
        KYC_SUBMITTED = "kyc_submitted", "KYC submitted"
        KYC_APPROVED = "kyc_approved", "KYC approved"
        KYC_REJECTED = "kyc_rejected", "KYC rejected"
        ACCOUNT_FROZEN = "account_frozen", "Account frozen"
        ACCOUNT_UNFROZEN = "account_unfrozen", "Account unfrozen"

    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT,
        related_name="security_events",
    )
    kind = models.CharField(max_length=40, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "-created"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.user_id} {self.created:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Security events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Security events are append-only.")


class KnownDevice(models.Model):
    """An (IP, user agent) pair a user has logged in from; a login from an unseen pair is
    recorded and emailed."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="devices")
    fingerprint = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "fingerprint"], name="known_device_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.ip}"


class KycSubmission(models.Model):
    """A request to reach a KYC tier. PENDING until staff approve or reject it (a rejection
    carries a reason the user sees); the user may resubmit after a rejection."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending review"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="kyc_submissions"
    )
    tier = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    legal_name = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    address = models.CharField(max_length=500, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    reviewed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [("review_kyc", "Can review KYC submissions and documents")]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(status="PENDING"),
                name="kyc_one_pending_per_user",
            ),
            models.CheckConstraint(
                condition=models.Q(tier__in=[1, 2]), name="kyc_submission_tier_1_or_2"
            ),
        ]

    def __str__(self) -> str:
        return f"KYC tier {self.tier} {self.status} ({self.user_id})"


class PrivateStorage(FileSystemStorage):
    """Files under ``settings.PRIVATE_MEDIA_ROOT`` (read at use, so tests can move it);
    no URL: they are served only through permission-checking views."""

    @property
    def base_location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Private files have no public URL.")


def _private_storage():
    return PrivateStorage()


class KycDocument(models.Model):
    """An uploaded identity document or selfie, stored under PRIVATE_MEDIA_ROOT (never
    under static or media URLs) and served only by a view that checks permissions."""

    class Kind(models.TextChoices):
        ID_DOCUMENT = "id_document", "Identity document"
        SELFIE = "selfie", "Selfie"

    submission = models.ForeignKey(
        KycSubmission, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file = models.FileField(storage=_private_storage, upload_to="kyc/%Y/%m/", max_length=300)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} of submission {self.submission_id}"


class ApiKey(models.Model):
    """A user's API key. The secret is stored encrypted (Fernet, accounts.crypto) because
    HMAC verification needs it in clear; it is shown once at creation."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        TRADE = "trade", "Trade"
        WITHDRAW = "withdraw", "Withdraw"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=64)
    key = models.CharField(max_length=64, unique=True)
    secret_encrypted = models.TextField()
    scopes = models.JSONField(default=list)
    ip_allowlist = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key[:8]}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
