"""KYC tiers through approval and rejection, API key management, lock-out, freeze and the
audit log, through the HTTP stack."""

import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from rest_framework.test import APIClient

from accounts import selectors, services
from accounts.models import ApiKey, KycSubmission, SecurityEvent
from accounts.tests.conftest import totp_next_code
from accounts.tests.factories import PASSWORD, UserFactory
from exchange.api import ServiceError

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


def _login(user) -> APIClient:
    client = APIClient()
    response = client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD},
                           format="json")
    assert response.json() == {"status": "authenticated"}, response.json()
    return client


def _compliance_officer():
    officer = UserFactory(is_staff=True)
    officer.groups.add(Group.objects.get_or_create(name="compliance")[0])
    return officer


def test_kyc_tiers_through_approval_and_rejection(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    user = UserFactory(kyc_tier=0)
    client = _login(user)
    officer = _compliance_officer()

    # tier 0: may not trade or withdraw
    with pytest.raises(ServiceError) as caught:
        selectors.user_trading_check(user=user)
    assert caught.value.code == "kyc_required"
    assert selectors.kyc_daily_withdrawal_limit(user=user, asset="BTC") == Decimal(0)

    # tier 1: bad input changes nothing
    bad = client.post("/api/v1/kyc/submit", {"tier": 1, "legal_name": "A",
                                             "date_of_birth": "2020-01-01", "country": "FR",
                                             "address": "1 rue de la Paix, Paris"},
                      format="multipart")
    assert bad.status_code == 400 and "legal_name" in bad.json()["fields"]
    minor = client.post("/api/v1/kyc/submit", {"tier": 1, "legal_name": "Ada Lovelace",
                                               "date_of_birth": "2020-01-01", "country": "FR",
                                               "address": "1 rue de la Paix, Paris"},
                        format="multipart")
    assert minor.json()["fields"]["date_of_birth"]["code"] == "out_of_range"
    assert not KycSubmission.objects.exists()

    details = {"tier": 1, "legal_name": "Ada Lovelace", "date_of_birth": "1990-12-10",
               "country": "gb", "address": "12 St James's Square, London"}
    submitted = client.post("/api/v1/kyc/submit", details, format="multipart")
    assert submitted.status_code == 201 and submitted.json()["status"] == "PENDING"
    again = client.post("/api/v1/kyc/submit", details, format="multipart")
    assert again.status_code == 409 and again.json()["code"] == "kyc_pending"

    # approval by compliance staff raises the tier
    services.kyc_approve(submission_id=submitted.json()["id"], staff_user=officer)
    user.refresh_from_db()
    assert user.kyc_tier == 1
    selectors.user_trading_check(user=user)
    assert selectors.kyc_daily_withdrawal_limit(user=user, asset="BTC") == Decimal("2")
    assert client.get("/api/v1/kyc").json()["tier"] == 1

    # tier 2: uploads are checked by content and size
    fake_jpeg = SimpleUploadedFile("id.jpg", b"<?php echo 1; ?>", content_type="image/jpeg")
    response = client.post("/api/v1/kyc/submit", {
        "tier": 2, "id_document": fake_jpeg,
        "selfie": SimpleUploadedFile("me.png", PNG, content_type="image/png")},
        format="multipart")
    assert response.status_code == 400
    assert response.json()["fields"]["id_document"]["code"] == "file_type_not_allowed"
    settings.KYC_UPLOAD_MAX_BYTES = 100
    big = client.post("/api/v1/kyc/submit", {
        "tier": 2, "id_document": SimpleUploadedFile("id.pdf", PDF + b"0" * 200),
        "selfie": SimpleUploadedFile("me.png", PNG)}, format="multipart")
    assert big.status_code == 400 and big.json()["fields"]["id_document"]["code"] == \
        "file_too_large"
    settings.KYC_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    assert KycSubmission.objects.filter(tier=2).count() == 0

    tier2 = client.post("/api/v1/kyc/submit", {
        "tier": 2, "id_document": SimpleUploadedFile("passport.exe", PDF),
        "selfie": SimpleUploadedFile("me.png", PNG)}, format="multipart")
    assert tier2.status_code == 201, tier2.json()
    documents = tier2.json()["documents"]
    assert {d["content_type"] for d in documents} == {"application/pdf", "image/png"}
    stored = list(tmp_path.rglob("*"))
    assert any(p.suffix == ".pdf" for p in stored)  # under PRIVATE_MEDIA_ROOT, renamed

    # the owner and compliance can read the files; another user gets 404
    doc_url = documents[0]["url"]
    owner_file = client.get(doc_url)
    assert owner_file.status_code == 200
    assert b"".join(owner_file.streaming_content).startswith((b"%PDF", b"\x89PNG"))
    stranger = _login(UserFactory())
    assert stranger.get(doc_url).status_code == 404
    staff_client = APIClient()
    staff_client.force_login(officer)
    assert staff_client.get(doc_url).status_code == 200

    # a rejection needs a reason, which the user sees; then they can resubmit
    with pytest.raises(ServiceError) as caught:
        services.kyc_reject(submission_id=tier2.json()["id"], staff_user=officer, reason=" ")
    assert caught.value.code == "reason_required"
    with pytest.raises(ServiceError) as caught:
        services.kyc_approve(submission_id=tier2.json()["id"], staff_user=user)
    assert caught.value.code == "permission_denied"
    services.kyc_reject(submission_id=tier2.json()["id"], staff_user=officer,
                        reason="The selfie is blurred.")
    status = client.get("/api/v1/kyc").json()
    assert status["tier"] == 1
    assert status["latest_submission"]["status"] == "REJECTED"
    assert status["latest_submission"]["reason"] == "The selfie is blurred."
    assert any("The selfie is blurred." in m.body for m in mail.outbox)
    resubmitted = client.post("/api/v1/kyc/submit", {
        "tier": 2, "id_document": SimpleUploadedFile("id.png", PNG),
        "selfie": SimpleUploadedFile("me.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32)},
        format="multipart")
    assert resubmitted.status_code == 201
    services.kyc_approve(submission_id=resubmitted.json()["id"], staff_user=officer)
    user.refresh_from_db()
    assert user.kyc_tier == 2
    assert selectors.kyc_daily_withdrawal_limit(user=user, asset="BTC") == Decimal("100")

    kinds = set(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert {"kyc_submitted", "kyc_approved", "kyc_rejected"} <= kinds


def test_kyc_browser_page_uploads(client, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    user = UserFactory(kyc_tier=1)
    client.post("/accounts/login/", {"email": user.email, "password": PASSWORD})
    page = client.get("/accounts/kyc/")
    assert page.status_code == 200 and b"Tier 2" in page.content
    response = client.post("/accounts/kyc/", {"tier": "2",
                                              "id_document": io.BytesIO(b"GIF89a....."),
                                              "selfie": io.BytesIO(PNG)})
    assert response.status_code == 400 and b"JPEG, PNG or PDF" in response.content
    id_doc = SimpleUploadedFile("id.pdf", PDF)
    selfie = SimpleUploadedFile("me.png", PNG)
    ok = client.post("/accounts/kyc/", {"tier": "2", "id_document": id_doc, "selfie": selfie})
    assert ok.status_code == 302
    assert KycSubmission.objects.get(user=user, tier=2).documents.count() == 2


def test_freeze_blocks_trading_but_not_reading():
    user = UserFactory(kyc_tier=2)
    staff = UserFactory(is_staff=True)
    client = _login(user)
    with pytest.raises(ServiceError) as caught:
        services.user_freeze(user=user, staff_user=staff, reason="")
    assert caught.value.code == "reason_required"
    services.user_freeze(user=user, staff_user=staff, reason="Chargeback investigation")
    user.refresh_from_db()
    with pytest.raises(ServiceError) as caught:
        selectors.user_trading_check(user=user)
    assert caught.value.code == "account_frozen" and caught.value.http_status == 403
    with pytest.raises(ServiceError):
        selectors.kyc_daily_withdrawal_limit(user=user, asset="BTC")
    me = client.get("/api/v1/me").json()
    assert me["state"] == "FROZEN" and me["frozen_reason"] == "Chargeback investigation"
    services.user_unfreeze(user=user, staff_user=staff, reason="Resolved")
    user.refresh_from_db()
    selectors.user_trading_check(user=user)
    kinds = list(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert "account_frozen" in kinds and "account_unfrozen" in kinds


def test_api_key_management_and_step_up(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = UserFactory()
    client = _login(user)

    created = client.post("/api/v1/api-keys", {"name": "bot", "scopes": []}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["scopes"] == ["read"] and len(body["secret"]) == 64
    assert mail.outbox[-1].subject.endswith("New API key")
    listing = client.get("/api/v1/api-keys").json()
    assert "secret" not in listing[0] and "secret_encrypted" not in listing[0]

    # trade scope needs 2FA (step-up); withdraw needs an allow-list
    trade = client.post("/api/v1/api-keys", {"name": "t", "scopes": ["trade"]}, format="json")
    assert trade.status_code == 403 and trade.json()["code"] == "otp_required"
    secret = client.post("/api/v1/2fa/totp").json()["secret"]
    client.post("/api/v1/2fa/totp/confirm", {"code": totp_next_code(secret, user)},
                format="json")
    wrong = client.post("/api/v1/api-keys", {"name": "t", "scopes": ["trade"],
                                             "otp_code": "123456"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["code"] == "otp_invalid"
    withdraw = client.post("/api/v1/api-keys", {"name": "w", "scopes": ["withdraw"],
                                                "otp_code": totp_next_code(secret, user)},
                           format="json")
    assert withdraw.json()["fields"]["ip_allowlist"]["code"] == "ip_allowlist_required"
    bad_ip = client.post("/api/v1/api-keys", {"name": "w", "scopes": ["withdraw"],
                                              "ip_allowlist": ["300.1.1.1"]}, format="json")
    assert bad_ip.json()["fields"]["ip_allowlist"]["code"] == "invalid_ip"
    ok = client.post("/api/v1/api-keys", {"name": "w", "scopes": ["trade", "withdraw"],
                                          "ip_allowlist": ["203.0.113.0/24"],
                                          "otp_code": totp_next_code(secret, user)},
                     format="json")
    assert ok.status_code == 201, ok.json()
    assert ok.json()["scopes"] == ["read", "trade", "withdraw"]
    assert ApiKey.objects.filter(user=user).count() == 2

    # another user's key answers 404; revoking records an event
    stranger = _login(UserFactory())
    key_id = body["id"]
    assert stranger.get(f"/api/v1/api-keys/{key_id}").status_code == 404
    assert stranger.post(f"/api/v1/api-keys/{key_id}/revoke").status_code == 404
    assert not ApiKey.objects.get(pk=key_id).is_revoked
    assert client.post(f"/api/v1/api-keys/{key_id}/revoke").json()["revoked"] is True
    kinds = list(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert kinds.count("api_key_created") == 2 and "api_key_revoked" in kinds


def test_browser_api_key_page_shows_secret_once(client):
    user = UserFactory()
    client.post("/accounts/login/", {"email": user.email, "password": PASSWORD})
    response = client.post("/accounts/api-keys/", {"name": "pages", "scopes": ["read"]})
    assert response.status_code == 201
    key = ApiKey.objects.get(user=user)
    assert b"api-secret" in response.content and key.key.encode() in response.content
    listing = client.get("/accounts/api-keys/")
    assert b"api-secret" not in listing.content
    other = UserFactory()
    other_key = services.api_key_create(user=other, name="x", scopes=["read"])[0]
    assert client.post(f"/accounts/api-keys/{other_key.pk}/revoke/").status_code == 404


def test_lock_out_after_configured_failures(settings):
    settings.LOGIN_LOCKOUT = {"ACCOUNT_FAILURES": 3, "IP_FAILURES": 100,
                              "WINDOW_SECONDS": 60, "LOCKOUT_SECONDS": 120}
    user = UserFactory()
    client = APIClient()
    for _ in range(2):
        response = client.post("/api/v1/auth/login", {"email": user.email,
                                                      "password": "wrong"}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_credentials"
    third = client.post("/api/v1/auth/login", {"email": user.email, "password": "wrong"},
                        format="json")
    assert third.status_code == 429 and third.json()["code"] == "login_locked"
    assert "2 minutes" in third.json()["message"]
    assert int(third["Retry-After"]) == 120
    # even the right password is refused while locked, in the browser too
    right = client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD},
                        format="json")
    assert right.status_code == 429
    page = APIClient().post("/accounts/login/", {"email": user.email, "password": PASSWORD})
    assert page.status_code == 429 and b"locked" in page.content

    # an unknown email locks the same way (nothing reveals which emails exist)
    for _ in range(3):
        last = client.post("/api/v1/auth/login", {"email": "ghost@example.test",
                                                  "password": "x"}, format="json")
    assert last.status_code == 429

    kinds = list(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert kinds.count("login_failed") == 3 and "login_locked" in kinds


def test_failed_second_factor_codes_lock_out_too(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.LOGIN_LOCKOUT = {"ACCOUNT_FAILURES": 3, "IP_FAILURES": 100,
                              "WINDOW_SECONDS": 60, "LOCKOUT_SECONDS": 60}
    user = UserFactory()
    client = _login(user)
    secret = client.post("/api/v1/2fa/totp").json()["secret"]
    client.post("/api/v1/2fa/totp/confirm", {"code": totp_next_code(secret, user)},
                format="json")
    client.post("/api/v1/auth/logout")
    assert client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD},
                       format="json").json() == {"status": "otp_required"}
    codes = [client.post("/api/v1/auth/login/otp", {"code": "000000"}, format="json")
             for _ in range(3)]
    assert [c.status_code for c in codes] == [400, 400, 429]
    assert client.get("/api/v1/me").status_code in (401, 403)


def test_audit_log_is_private_append_only_and_visible_to_staff():
    alice, bob = UserFactory(), UserFactory()
    alice_client, bob_client = _login(alice), _login(bob)
    alice_events = alice_client.get("/api/v1/security-events").json()
    assert alice_events and {e["user_id"] for e in alice_events} == {alice.pk}
    event_id = alice_events[0]["id"]
    assert bob_client.get(f"/api/v1/security-events/{event_id}").status_code == 404
    assert alice_client.get(f"/api/v1/security-events/{event_id}").status_code == 200
    assert alice_client.get("/api/v1/security-events?limit=x").status_code == 400

    staff = APIClient()
    staff.force_login(UserFactory(is_staff=True))
    seen = {e["user_id"] for e in staff.get("/api/v1/security-events").json()}
    assert {alice.pk, bob.pk} <= seen
    page = staff.get("/accounts/security/")
    assert page.status_code == 200

    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=event_id).update(kind="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=event_id).delete()
    assert SecurityEvent.objects.get(pk=event_id).kind == alice_events[0]["kind"]
