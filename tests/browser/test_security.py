"""2FA through the browser: enrol with a code computed from the displayed secret, log
out, log in again through the challenge."""

import re
import time

import pyotp
import pytest

from accounts.models import User

from .conftest import screenshot, url_exists

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-test-passphrase-42"


def _login(page, email):
    page.goto("/accounts/login/")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('form button[type="submit"]')


def test_totp_enrolment_then_login_through_the_challenge(browser, live_server_url):
    if not url_exists("/accounts/2fa/setup/") or not url_exists("/accounts/login/otp/"):
        pytest.skip("accounts 2FA pages are not there yet")
    # given: a verified user, logged in through the login page
    User.objects.create_user(email="carol@example.com", password=PASSWORD, email_verified=True)
    ctx = browser.new_context(base_url=live_server_url, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, "carol@example.com")
    page.wait_for_url(re.compile(r"^(?!.*login).*$"))
    # when: enrolling with a code computed from the secret shown on the page
    page.goto("/accounts/2fa/setup/")
    screenshot(page, "2fa-setup-1280")
    secret = page.locator("code").first.inner_text().strip().replace(" ", "")
    page.fill('form input[name="code"], form input[name="otp_code"]', pyotp.TOTP(secret).now())
    page.click('form button[type="submit"]')
    page.wait_for_load_state("load")
    screenshot(page, "2fa-enabled-1280")
    # and logging out, then in again
    page.locator('form[action="/accounts/logout/"] button').click()
    page.wait_for_load_state("load")
    _login(page, "carol@example.com")
    page.wait_for_url("**/login/otp/**")
    screenshot(page, "2fa-challenge-1280")
    # then: the challenge lets her in with a fresh code only
    page.fill('input[name="code"]', "000000")
    page.click('form button[type="submit"]')
    assert "/login/otp/" in page.url
    user = User.objects.get(email="carol@example.com")
    # A TOTP step is single use (replay protection): wait for the step after enrolment's.
    time.sleep(30 - time.time() % 30 + 0.5)
    page.fill('input[name="code"]', pyotp.TOTP(secret).now())
    page.click('form button[type="submit"]')
    page.wait_for_load_state("load")
    assert "/login/" not in page.url
    page.goto("/account/")
    assert user.email in page.content()
    ctx.close()
