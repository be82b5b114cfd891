"""Reads of the accounts app, including the questions order entry and withdrawals ask:
``user_trading_check`` and ``kyc_daily_withdrawal_limit``."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import ApiKey, KycDocument, KycSubmission, SecurityEvent, User
from exchange.api import ServiceError

COMPLIANCE_GROUP = "compliance"


def kyc_tier_capabilities(tier: int) -> dict:
    """The configured capabilities of a KYC tier (settings.KYC_TIERS)."""
    tiers = settings.KYC_TIERS
    return tiers.get(tier) or tiers[max(t for t in tiers if t <= tier)]


def _frozen_check(user: User) -> None:
    if user.is_frozen:
        raise ServiceError("account_frozen",
                           "Your account is frozen: you can sign in and read, but not trade or "
                           "withdraw. Contact support.", http_status=403)


def user_trading_check(*, user: User) -> None:
    """Raises ``account_frozen`` or ``kyc_required`` (403) unless the user may trade."""
    _frozen_check(user)
    if not user.email_verified:
        raise ServiceError("kyc_required", "Verify your email address before trading.",
                           http_status=403)
    if not kyc_tier_capabilities(user.kyc_tier).get("can_trade"):
        raise ServiceError("kyc_required", "Complete identity verification (KYC tier 1) to "
                           "trade.", http_status=403)


def kyc_daily_withdrawal_limit(*, user: User, asset) -> Decimal | None:
    """The user's daily withdrawal limit for ``asset`` (an Asset or a symbol) by KYC tier:
    None = unlimited, 0 = may not withdraw. Frozen accounts raise ``account_frozen``."""
    _frozen_check(user)
    if not user.email_verified:
        return Decimal(0)
    symbol = getattr(asset, "symbol", asset)
    limits = kyc_tier_capabilities(user.kyc_tier).get("daily_withdrawal_limits", {})
    value = limits.get(symbol, limits.get("*", "0"))
    return None if value is None else Decimal(str(value))


def is_compliance(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return (user.has_perm("accounts.review_kyc")
            or user.groups.filter(name=COMPLIANCE_GROUP).exists())


def security_events_visible_to(*, viewer: User) -> QuerySet[SecurityEvent]:
    """A user sees their own entries; staff see everyone's."""
    events = SecurityEvent.objects.select_related("user")
    return events if viewer.is_staff else events.filter(user=viewer)


def security_event_get(*, viewer: User, event_id: int) -> SecurityEvent:
    event = security_events_visible_to(viewer=viewer).filter(pk=event_id).first()
    if event is None:
        raise Http404
    return event


def api_keys_for_user(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created", "-id")


def api_key_get_for_user(*, user: User, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(user=user, pk=key_id).first()
    if key is None:
        raise Http404
    return key


def kyc_submissions_for_user(*, user: User) -> QuerySet[KycSubmission]:
    return KycSubmission.objects.filter(user=user).prefetch_related("documents")


def kyc_status(*, user: User) -> dict:
    latest = kyc_submissions_for_user(user=user).first()
    caps = kyc_tier_capabilities(user.kyc_tier)
    return {
        "tier": user.kyc_tier,
        "email_verified": user.email_verified,
        "state": user.state,
        "can_trade": bool(caps.get("can_trade")) and user.email_verified and not user.is_frozen,
        "daily_withdrawal_limits": caps.get("daily_withdrawal_limits", {}),
        "latest_submission": latest,
    }


def kyc_submissions_pending() -> QuerySet[KycSubmission]:
    return KycSubmission.objects.filter(status="PENDING").order_by("created", "id")


def kyc_document_get_for_viewer(*, viewer: User, document_id: int) -> KycDocument:
    """The document if the viewer owns it or is compliance staff; 404 otherwise."""
    document = KycDocument.objects.select_related("submission").filter(pk=document_id).first()
    if document is None:
        raise Http404
    if document.submission.user_id != viewer.pk and not is_compliance(viewer):
        raise Http404
    return document
