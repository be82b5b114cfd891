"""KYC: submissions for tier 1 (identity details) and tier 2 (document and selfie
uploads), reviewed by compliance staff."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import security_event_record
from accounts.models import KycDocument, KycSubmission, SecurityEvent, User
from accounts.notifications import email_on_commit
from accounts.selectors import is_compliance
from exchange.api import ServiceError

# Magic bytes of the accepted formats; the declared content type and name are ignored.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MIN_AGE_YEARS = 18


def _field_error(field: str, code: str, message: str) -> ServiceError:
    return ServiceError(code, message, fields={field: {"code": code, "message": message}})


def kyc_upload_sniff(*, upload: UploadedFile, field: str) -> tuple[str, str]:
    """(content type, extension) from the file's first bytes; rejects other formats and
    files over ``KYC_UPLOAD_MAX_BYTES``."""
    limit = settings.KYC_UPLOAD_MAX_BYTES
    if upload.size is None or upload.size > limit:
        raise _field_error(field, "file_too_large",
                           f"The file is larger than {limit // (1024 * 1024)} MB.")
    if upload.size == 0:
        raise _field_error(field, "file_empty", "The file is empty.")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for magic, content_type, extension in _SIGNATURES:
        if head.startswith(magic):
            return content_type, extension
    raise _field_error(field, "file_type_not_allowed",
                       "Upload a JPEG, PNG or PDF file.")


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _tier1_validate(*, legal_name: str, date_of_birth, country: str, address: str) -> dict:
    legal_name = " ".join((legal_name or "").split())
    if not 2 <= len(legal_name) <= 200:
        raise _field_error("legal_name", "invalid", "Enter your full legal name.")
    if isinstance(date_of_birth, str):
        try:
            date_of_birth = dt.date.fromisoformat(date_of_birth)
        except ValueError:
            raise _field_error("date_of_birth", "invalid",
                               "Enter a date as YYYY-MM-DD.") from None
    if not isinstance(date_of_birth, dt.date):
        raise _field_error("date_of_birth", "required", "Enter your date of birth.")
    today = timezone.now().date()
    age = today.year - date_of_birth.year - (
        (today.month, today.day) < (date_of_birth.month, date_of_birth.day))
    if age < MIN_AGE_YEARS or age > 130:
        raise _field_error("date_of_birth", "out_of_range",
                           f"You must be at least {MIN_AGE_YEARS} years old.")
    country = (country or "").strip().upper()
    if not _COUNTRY.match(country):
        raise _field_error("country", "invalid", "Enter a two-letter ISO country code.")
    address = " ".join((address or "").split())
    if not 5 <= len(address) <= 500:
        raise _field_error("address", "invalid", "Enter your residential address.")
    return {"legal_name": legal_name, "date_of_birth": date_of_birth, "country": country,
            "address": address}


def kyc_submit(*, user: User, tier: int, legal_name: str = "", date_of_birth=None,
               country: str = "", address: str = "", id_document: UploadedFile | None = None,
               selfie: UploadedFile | None = None, request=None) -> KycSubmission:
    """Submits for ``tier`` (1: identity details; 2: document and selfie, after tier 1).
    One submission may be pending at a time."""
    if tier not in (1, 2):
        raise _field_error("tier", "invalid", "Choose tier 1 or 2.")
    if not user.email_verified:
        raise ServiceError("email_unverified", "Verify your email address first.",
                           http_status=403)
    if user.kyc_tier >= tier:
        raise _field_error("tier", "kyc_tier_reached", f"You already have tier {tier}.")
    fields: dict = {}
    uploads: list[tuple[str, UploadedFile, str, str]] = []
    if tier == 1:
        fields = _tier1_validate(legal_name=legal_name, date_of_birth=date_of_birth,
                                 country=country, address=address)
    else:
        if user.kyc_tier < 1:
            raise _field_error("tier", "kyc_tier_1_required", "Complete tier 1 first.")
        for name, upload in (("id_document", id_document), ("selfie", selfie)):
            if upload is None:
                raise _field_error(name, "required", "This file is required.")
            content_type, extension = kyc_upload_sniff(upload=upload, field=name)
            uploads.append((name, upload, content_type, extension))
    try:
        with transaction.atomic(durable=True):
            User.objects.select_for_update().filter(pk=user.pk).first()
            if KycSubmission.objects.filter(user=user, status="PENDING").exists():
                raise ServiceError("kyc_pending",
                                   "A submission is already waiting for review.",
                                   http_status=409)
            submission = KycSubmission.objects.create(user=user, tier=tier, **fields)
            for kind, upload, content_type, extension in uploads:
                document = KycDocument(submission=submission, kind=kind,
                                       content_type=content_type, size=upload.size,
                                       sha256=_sha256(upload))
                # A random name: the uploaded file name is never used on disk.
                upload.name = f"{submission.pk}-{kind}.{extension}"
                document.file = upload
                document.save()
            security_event_record(user=user, kind=SecurityEvent.Kind.KYC_SUBMITTED,
                                  request=request,
                                  detail={"submission": submission.pk, "tier": tier})
    except IntegrityError:
        raise ServiceError("kyc_pending", "A submission is already waiting for review.",
                           http_status=409) from None
    return submission


def _decision_lock(*, submission_id: int, staff_user: User) -> KycSubmission:
    if not is_compliance(staff_user):
        raise ServiceError("permission_denied", "Only compliance staff review KYC.",
                           http_status=403)
    submission = (KycSubmission.objects.select_for_update()
                  .filter(pk=submission_id).first())
    if submission is None:
        raise ServiceError("not_found", "No such submission.", http_status=404)
    if submission.status != KycSubmission.Status.PENDING:
        raise ServiceError("kyc_not_pending", "This submission was already decided.",
                           http_status=409)
    if submission.user_id == staff_user.pk:
        raise ServiceError("kyc_self_review", "You cannot review your own submission.",
                           http_status=403)
    return submission


def kyc_approve(*, submission_id: int, staff_user: User, request=None) -> KycSubmission:
    with transaction.atomic(durable=True):
        submission = _decision_lock(submission_id=submission_id, staff_user=staff_user)
        user = User.objects.select_for_update().get(pk=submission.user_id)
        submission.status = KycSubmission.Status.APPROVED
        submission.reviewed_by = staff_user
        submission.reviewed_at = timezone.now()
        submission.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        if user.kyc_tier < submission.tier:
            user.kyc_tier = submission.tier
            user.save(update_fields=["kyc_tier"])
        security_event_record(user=user, kind=SecurityEvent.Kind.KYC_APPROVED, request=request,
                              detail={"submission": submission.pk, "tier": submission.tier,
                                      "reviewer": staff_user.pk})
        email_on_commit(to=user.email, subject="Verification approved",
                        body=f"Your verification for tier {submission.tier} was approved.")
    return submission


def kyc_reject(*, submission_id: int, staff_user: User, reason: str,
               request=None) -> KycSubmission:
    reason = " ".join((reason or "").split())
    if not 3 <= len(reason) <= 500:
        raise _field_error("reason", "reason_required",
                           "Give the user a reason (3 to 500 characters).")
    with transaction.atomic(durable=True):
        submission = _decision_lock(submission_id=submission_id, staff_user=staff_user)
        submission.status = KycSubmission.Status.REJECTED
        submission.reason = reason
        submission.reviewed_by = staff_user
        submission.reviewed_at = timezone.now()
        submission.save(update_fields=["status", "reason", "reviewed_by", "reviewed_at"])
        user = submission.user
        security_event_record(user=user, kind=SecurityEvent.Kind.KYC_REJECTED, request=request,
                              detail={"submission": submission.pk, "tier": submission.tier,
                                      "reason": reason, "reviewer": staff_user.pk})
        email_on_commit(to=user.email, subject="Verification needs attention",
                        body=f"Your verification for tier {submission.tier} was not approved:"
                             f"\n\n{reason}\n\nYou can correct it and submit again.")
    return submission


def user_freeze(*, user: User, staff_user: User, reason: str, request=None) -> User:
    """Freezes an account: it can log in and read, not trade or withdraw."""
    reason = " ".join((reason or "").split())
    if not 3 <= len(reason) <= 500:
        raise _field_error("reason", "reason_required", "Give a reason (3 to 500 characters).")
    with transaction.atomic(durable=True):
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.state = User.State.FROZEN
        locked.frozen_reason = reason
        locked.save(update_fields=["state", "frozen_reason"])
        security_event_record(user=locked, kind=SecurityEvent.Kind.ACCOUNT_FROZEN,
                              request=request, detail={"reason": reason,
                                                       "staff": staff_user.pk})
    return locked


def user_unfreeze(*, user: User, staff_user: User, reason: str, request=None) -> User:
    reason = " ".join((reason or "").split())
    if not 3 <= len(reason) <= 500:
        raise _field_error("reason", "reason_required", "Give a reason (3 to 500 characters).")
    with transaction.atomic(durable=True):
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.state = User.State.ACTIVE
        locked.frozen_reason = ""
        locked.save(update_fields=["state", "frozen_reason"])
        security_event_record(user=locked, kind=SecurityEvent.Kind.ACCOUNT_UNFROZEN,
                              request=request, detail={"reason": reason,
                                                       "staff": staff_user.pk})
    return locked
