"""Each role reaches exactly its pages and gets 403 for the rest, through the real admin
URLs, as staff verified by a second factor."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from accounts.models import KycDocument, KycSubmission
from exchange.backoffice.roles import COMPLIANCE, FINANCE, OPERATIONS, SUPPORT
from exchange.tests.backoffice_support import (
    make_market,
    make_staff,
    make_user,
    otp_client,
)
from wallets.models import Balance

pytestmark = pytest.mark.django_db

ROLES = [SUPPORT, COMPLIANCE, FINANCE, OPERATIONS]


@pytest.fixture
def world(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    customer = make_user()
    market = make_market()
    balance = Balance.objects.create(user=customer, asset=market.quote)
    submission = KycSubmission.objects.create(user=customer, tier=1, legal_name="A B")
    document = KycDocument(submission=submission, kind="id_document",
                           content_type="image/png", size=4, sha256="0" * 64)
    document.file.save("id.png", ContentFile(b"\x89PNG"), save=True)
    return {"user": customer, "market": market, "balance": balance,
            "submission": submission, "document": document}


# (url template, {roles that get 200}); every other role gets 403.
GET_PAGES = [
    ("/admin/dashboard/", {SUPPORT, COMPLIANCE, FINANCE, OPERATIONS}),
    ("/admin/accounts/user/", {SUPPORT, COMPLIANCE, FINANCE}),
    ("/admin/accounts/user/{user}/change/", {SUPPORT, COMPLIANCE, FINANCE}),
    ("/admin/accounts/user/{user}/freeze/", {SUPPORT}),
    ("/admin/accounts/kycsubmission/", {SUPPORT, COMPLIANCE}),
    ("/admin/accounts/kycsubmission/{submission}/change/", {SUPPORT, COMPLIANCE}),
    ("/admin/accounts/kycsubmission/{submission}/document/{document}/", {COMPLIANCE}),
    ("/admin/accounts/securityevent/", {SUPPORT, COMPLIANCE}),
    ("/admin/wallets/balance/", {SUPPORT, FINANCE}),
    ("/admin/wallets/balance/adjust/", {FINANCE}),
    ("/admin/wallets/withdrawal/", {FINANCE}),
    ("/admin/wallets/journalentry/", {FINANCE}),
    ("/admin/wallets/ledgerline/", {FINANCE}),
    ("/admin/exports/", {FINANCE}),
    ("/admin/marketdata/market/", {OPERATIONS}),
    ("/admin/marketdata/market/add/", {OPERATIONS}),
    ("/admin/marketdata/market/{market}/change/", {OPERATIONS}),
    ("/admin/orders/order/", {SUPPORT, OPERATIONS}),
    ("/admin/exchange/staffauditlog/", {COMPLIANCE}),
]


def _url(template: str, world) -> str:
    return template.format(user=world["user"].pk, submission=world["submission"].pk,
                           document=world["document"].pk, market=world["market"].pk)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_its_pages(role, world):
    client = otp_client(make_staff(role))
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "/admin/dashboard/" in index.content.decode()
    assert ("/admin/wallets/balance/adjust/" in index.content.decode()) == (role == FINANCE)
    got = {}
    for template, allowed in GET_PAGES:
        url = _url(template, world)
        status = client.get(url).status_code
        got[template] = status
        assert status == (200 if role in allowed else 403), (role, url, status)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_every_action_it_may_not_take(role, world):
    client = otp_client(make_staff(role))
    user, market, submission = world["user"], world["market"], world["submission"]
    posts = [
        (f"/admin/accounts/user/{user.pk}/freeze/", {"reason": "fraud check"}, SUPPORT),
        (f"/admin/accounts/user/{user.pk}/unfreeze/", {"reason": "cleared"}, SUPPORT),
        (f"/admin/accounts/kycsubmission/{submission.pk}/decide/",
         {"decision": "approve", "reason": "documents match"}, COMPLIANCE),
        ("/admin/wallets/balance/adjust/",
         {"user": str(user.pk), "asset": "USDT", "amount": "5", "reason": "goodwill"}, FINANCE),
        ("/admin/wallets/withdrawal/1/decide/", {"decision": "reject", "reason": "x"}, FINANCE),
        (f"/admin/marketdata/market/{market.pk}/control/", {"op": "halt", "reason": "x"},
         OPERATIONS),
    ]
    for url, data, owner in posts:
        if role == owner:
            continue
        assert client.post(url, data).status_code == 403, (role, url)
    # Nothing changed.
    user.refresh_from_db()
    market.refresh_from_db()
    submission.refresh_from_db()
    assert user.state == "ACTIVE"
    assert market.status == "TRADING"
    assert submission.status == "PENDING"
    assert world["balance"].available == Balance.objects.get(pk=world["balance"].pk).available


def test_staff_without_a_verified_second_factor_cannot_enter(world):
    superuser = make_staff(superuser=True)
    client = otp_client(superuser, verified=False)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert client.get("/admin/wallets/balance/").status_code == 302


def test_staff_without_a_role_sees_nothing(world):
    client = otp_client(make_staff())
    assert client.get("/admin/").status_code == 200
    for template, _allowed in GET_PAGES:
        assert client.get(_url(template, world)).status_code == 403, template


def test_customers_never_enter_the_admin(world):
    client = otp_client(make_user())
    assert client.get("/admin/").status_code == 302


def test_roles_exist_with_their_custom_permissions():
    from django.contrib.auth.models import Group

    def perms(name):
        return {f"{p.content_type.app_label}.{p.codename}"
                for p in Group.objects.get(name=name).permissions.all()}

    assert "exchange.user_freeze" in perms(SUPPORT)
    assert {"exchange.kyc_decide", "exchange.kyc_document_view",
            "accounts.review_kyc"} <= perms(COMPLIANCE)
    assert {"exchange.withdrawal_decide", "exchange.adjustment_post"} <= perms(FINANCE)
    assert {"exchange.market_control", "marketdata.change_market"} <= perms(OPERATIONS)
    for role in ROLES:
        assert not any(p.startswith(("wallets.change_", "wallets.add_", "wallets.delete_"))
                       for p in perms(role))


def test_staff_enter_through_the_real_login_with_a_totp_code(world):
    """Password, then a TOTP code from the staff member's confirmed device (the accounts
    login flow, which calls django_otp.login), then the admin opens."""
    from django.test import Client
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    staff = make_staff(FINANCE)
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = Client()
    # /admin/ sends an unverified visitor to the one login page.
    assert client.get("/admin/wallets/balance/").status_code == 302
    step1 = client.post("/accounts/login/?next=/admin/",
                        {"email": staff.email, "password": "pw-123456789"})
    assert step1.status_code == 302 and "otp" in step1["Location"]
    # Still not in: the password alone does not open the back office.
    assert client.get("/admin/wallets/balance/").status_code == 302
    code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    step2 = client.post(step1["Location"], {"code": f"{code:06d}"})
    assert step2.status_code == 302
    assert client.get("/admin/wallets/balance/").status_code == 200
    assert client.get("/admin/marketdata/market/").status_code == 403
