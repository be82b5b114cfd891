"""Sign-up → verification → TOTP enrolment → login with the second factor → attempts to
skip it, through the real HTTP stack (browser pages and /api/v1)."""

import re

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import SecurityEvent, User
from accounts.tests.conftest import totp_next_code

PASSWORD = "a long and unusual passphrase 9"
pytestmark = pytest.mark.django_db(transaction=True)


def _link(message, pattern):
    match = re.search(pattern, message.body)
    assert match, message.body
    return match.group(0)


def _kinds(user):
    return list(SecurityEvent.objects.filter(user=user).order_by("id")
                .values_list("kind", flat=True))


def test_signup_verify_enrol_login_with_second_factor_and_skip_attempts(client, settings):
    # given: a visitor signs up in the browser
    response = client.post("/accounts/signup/", {"email": "Alice@Example.test",
                                                 "password": PASSWORD})
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    user = User.objects.get(email="alice@example.test")
    assert not user.email_verified
    verify = _link(mail.outbox[-1], r"http://testserver/accounts/verify-email/\S+/")

    # signing up again with the same email says the same thing and creates nothing
    again = client.post("/accounts/signup/", {"email": "alice@example.test",
                                              "password": PASSWORD})
    assert b"Check your inbox" in again.content
    assert User.objects.filter(email="alice@example.test").count() == 1
    assert mail.outbox[-1].subject.endswith("Sign-up attempt")

    # weak passwords get a field-level message and change nothing
    weak = client.post("/accounts/signup/", {"email": "bob@example.test", "password": "1234"})
    assert weak.status_code == 400 and b"error" in weak.content
    assert not User.objects.filter(email="bob@example.test").exists()

    # when: the verification link is followed
    assert client.get(verify).status_code == 200
    user.refresh_from_db()
    assert user.email_verified
    assert client.get(verify).status_code == 400  # single use

    # then: login without 2FA works, and the session key rotates
    client.get("/accounts/login/")
    before = client.cookies.get("sessionid")
    response = client.post("/accounts/login/", {"email": "alice@example.test",
                                                "password": PASSWORD})
    assert response.status_code == 302
    assert before is None or client.cookies["sessionid"].value != before.value
    assert client.get("/accounts/").status_code == 200

    # TOTP enrolment: the page shows a QR code; the first code confirms it
    page = client.get("/accounts/2fa/setup/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(rb"<code>([A-Z2-7]+)</code>", page.content).group(1).decode()
    bad = client.post("/accounts/2fa/setup/", {"code": "000000"})
    assert bad.status_code == 400
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    enrol_code = totp_next_code(secret, user)
    confirmed = client.post("/accounts/2fa/setup/", {"code": enrol_code})
    assert confirmed.status_code == 200
    codes = re.findall(rb"<li><code>([a-z2-7]+)</code></li>", confirmed.content)
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert any(m.subject.endswith("Two-factor authentication enabled") for m in mail.outbox)

    # log out (POST only) and back in: the password alone no longer authenticates
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", {"email": "alice@example.test",
                                                "password": PASSWORD})
    assert response.status_code == 302 and "/accounts/login/otp/" in response["Location"]

    # skipping the second step: pages and API endpoints still see an anonymous visitor
    assert client.get("/accounts/").status_code == 302
    assert client.get("/accounts/api-keys/").status_code == 302
    assert client.get("/api/v1/me").status_code in (401, 403)
    assert client.get("/api/v1/api-keys").status_code in (401, 403)

    # the code spent on enrolment is refused (no TOTP reuse), the next one works
    reused = client.post("/accounts/login/otp/", {"code": enrol_code})
    assert reused.status_code == 400
    session_before = client.cookies["sessionid"].value
    ok = client.post("/accounts/login/otp/", {"code": totp_next_code(secret, user)})
    assert ok.status_code == 302
    assert client.cookies["sessionid"].value != session_before
    assert client.get("/accounts/").status_code == 200
    assert client.get("/api/v1/me").json()["otp_enabled"] is True

    # a backup code works once
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"email": "alice@example.test", "password": PASSWORD})
    assert client.post("/accounts/login/otp/", {"code": codes[0].decode()}).status_code == 302
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"email": "alice@example.test", "password": PASSWORD})
    assert client.post("/accounts/login/otp/", {"code": codes[0].decode()}).status_code == 400

    # a login from a new device is recorded and emailed
    other = APIClient(HTTP_USER_AGENT="curl/8.0", REMOTE_ADDR="10.9.8.7")
    assert other.post("/api/v1/auth/login", {"email": "alice@example.test",
                                             "password": PASSWORD},
                      format="json").json() == {"status": "otp_required"}
    assert other.get("/api/v1/me").status_code in (401, 403)
    otp_ok = other.post("/api/v1/auth/login/otp", {"code": totp_next_code(secret, user)},
                        format="json")
    assert otp_ok.status_code == 200, otp_ok.json()
    assert other.get("/api/v1/me").json()["email"] == "alice@example.test"
    assert mail.outbox[-1].subject.endswith("New sign-in to your account")
    assert "10.9.8.7" in mail.outbox[-1].body

    # audit: every step left an entry
    kinds = _kinds(user)
    for kind in ("signup", "email_verified", "login_succeeded", "otp_enrolled", "otp_failed",
                 "backup_code_used", "logout", "new_device_login"):
        assert kind in kinds, (kind, kinds)


def test_step_up_for_password_and_email_change_and_2fa_off(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    api = APIClient()
    api.post("/api/v1/auth/signup", {"email": "carol@example.test", "password": PASSWORD},
             format="json")
    user = User.objects.get(email="carol@example.test")
    api.post("/api/v1/auth/login", {"email": "carol@example.test", "password": PASSWORD},
             format="json")
    secret = api.post("/api/v1/2fa/totp").json()["secret"]
    codes = api.post("/api/v1/2fa/totp/confirm", {"code": totp_next_code(secret, user)},
                     format="json").json()["backup_codes"]
    assert len(codes) == 10

    # password change: wrong current password, then missing code, then both right
    new = "another long passphrase 77"
    wrong = api.post("/api/v1/me/password", {"current_password": "nope",
                                             "new_password": new}, format="json")
    assert wrong.status_code == 400 and wrong.json()["code"] == "password_incorrect"
    no_code = api.post("/api/v1/me/password", {"current_password": PASSWORD,
                                               "new_password": new}, format="json")
    assert no_code.status_code == 403 and no_code.json()["code"] == "otp_required"
    ok = api.post("/api/v1/me/password", {"current_password": PASSWORD, "new_password": new,
                                          "otp_code": totp_next_code(secret, user)},
                  format="json")
    assert ok.status_code == 200
    assert api.get("/api/v1/me").status_code == 200  # session kept

    # email change: a link to the new address; the change happens when followed
    response = api.post("/api/v1/me/email", {"new_email": "carol2@example.test",
                                             "current_password": new,
                                             "otp_code": totp_next_code(secret, user)},
                        format="json")
    assert response.status_code == 202
    confirm = next(m for m in mail.outbox if m.to == ["carol2@example.test"])
    link = _link(confirm, r"http://testserver/accounts/email/confirm/\S+/")
    assert client.get(link).status_code == 200
    user.refresh_from_db()
    assert user.email == "carol2@example.test"

    # turning 2FA off needs a fresh code
    assert api.post("/api/v1/2fa/totp/disable", {}, format="json").status_code == 403
    off = api.post("/api/v1/2fa/totp/disable", {"otp_code": codes[3]}, format="json")
    assert off.status_code == 204
    assert api.get("/api/v1/me").json()["otp_enabled"] is False
    kinds = _kinds(user)
    for kind in ("password_changed", "email_change_requested", "email_changed",
                 "backup_code_used", "otp_removed"):
        assert kind in kinds


def test_password_reset_through_django_views(client):
    User.objects.create_user(email="dora@example.test", password=PASSWORD)
    response = client.post("/accounts/password-reset/", {"email": "dora@example.test"})
    assert response.status_code == 302
    unknown = client.post("/accounts/password-reset/", {"email": "nobody@example.test"})
    assert unknown.status_code == 302  # same answer for an unknown address
    assert len(mail.outbox) == 1
    link = _link(mail.outbox[0], r"http://testserver/accounts/reset/\S+/")
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    new = "brand new passphrase 321"
    done = client.post(form_page.redirect_chain[-1][0],
                       {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert User.objects.get(email="dora@example.test").check_password(new)
    assert "password_reset" in _kinds(User.objects.get(email="dora@example.test"))


def test_admin_needs_a_verified_second_factor(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    staff = User.objects.create_user(email="staff@example.test", password=PASSWORD,
                                     is_staff=True, is_superuser=True, email_verified=True)
    client.post("/accounts/login/", {"email": "staff@example.test", "password": PASSWORD})
    response = client.get("/admin/")
    assert response.status_code == 302  # logged in, but without 2FA: not in the admin
    follow = client.get(response["Location"])
    assert follow.status_code == 302 and follow["Location"].startswith("/accounts/login/")

    page = client.get("/accounts/2fa/setup/")
    secret = re.search(rb"<code>([A-Z2-7]+)</code>", page.content).group(1).decode()
    client.post("/accounts/2fa/setup/", {"code": totp_next_code(secret, staff)})
    assert client.get("/admin/").status_code == 200
