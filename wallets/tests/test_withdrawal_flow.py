"""Withdrawal approvals, rejection and the address-book cool-down."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from exchange.api import ServiceError
from wallets.models import Balance, ChainBroadcast, Withdrawal, WithdrawalAddress
from wallets.services import (
    withdrawal_address_add,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from wallets.testing import assert_books_clean
from wallets.tests.factories import UserFactory
from wallets.tests.helpers import ADDRESS, backup_codes, fund, usable_address

D = Decimal
S = Withdrawal.Status
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def thresholds(settings):
    settings.WITHDRAWAL_APPROVAL_THRESHOLD = {"BTC": "1"}
    settings.WITHDRAWAL_DUAL_APPROVAL_THRESHOLD = {"BTC": "10"}


@pytest.fixture
def funded(btc, user):
    fund(user, btc, "50")
    usable_address(user, btc)
    return user


def _request(user, btc, amount):
    (code,) = backup_codes(user, 1)
    return withdrawal_request(user=user, asset=btc, address=ADDRESS, amount=D(amount),
                              otp_code=code)


def _balance(user, asset):
    b = Balance.objects.get(user=user, asset=asset)
    return b.available, b.locked


def test_at_or_below_the_first_threshold_needs_no_approval(
        thresholds, funded, btc, eager_celery, mailoutbox):
    withdrawal = _request(funded, btc, "1")
    assert withdrawal.approvals_required == 0
    # the payout task ran after commit (eager Celery)
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.COMPLETED
    assert [m.subject for m in mailoutbox] == ["[Bourse] BTC withdrawal requested",
                                               "[Bourse] BTC withdrawal completed"]
    assert_books_clean()


def test_above_the_first_threshold_one_staff_approval_then_paid(
        thresholds, funded, btc, staff, eager_celery, mailoutbox):
    # given a withdrawal just above the first threshold
    withdrawal = _request(funded, btc, "1.00000001")
    assert withdrawal.approvals_required == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.REQUESTED           # nothing paid before approval
    assert not ChainBroadcast.objects.exists()

    # when one staff member approves
    withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=staff)

    # then it is paid, once, and the user was told at each step
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.COMPLETED
    assert ChainBroadcast.objects.filter(withdrawal=withdrawal).count() == 1
    assert mailoutbox[-1].subject == "[Bourse] BTC withdrawal completed"
    assert mailoutbox[-1].to == [funded.email]
    assert_books_clean()


def test_above_the_second_threshold_two_different_staff_members(
        thresholds, funded, btc, eager_celery):
    first, second = UserFactory(is_staff=True), UserFactory(is_staff=True)
    withdrawal = _request(funded, btc, "10.5")
    assert withdrawal.approvals_required == 2

    withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=first)
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.REQUESTED           # one of two is not enough

    with pytest.raises(ServiceError) as err:           # the same person twice does not count
        withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=first)
    assert err.value.code == "already_approved"
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.REQUESTED

    withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=second)
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.COMPLETED
    assert withdrawal.approvals.count() == 2
    assert_books_clean()


def test_requester_cannot_approve_their_own_withdrawal(thresholds, btc, eager_celery):
    # given a staff member withdrawing their own funds
    requester = UserFactory(is_staff=True)
    fund(requester, btc, "5")
    usable_address(requester, btc)
    withdrawal = _request(requester, btc, "2")

    # when they try to approve it
    with pytest.raises(ServiceError) as err:
        withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=requester)

    # then it is refused and nothing moved
    assert err.value.code == "self_approval"
    assert err.value.http_status == 403
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.REQUESTED
    assert not withdrawal.approvals.exists()


def test_non_staff_cannot_approve_or_reject(thresholds, funded, btc):
    withdrawal = _request(funded, btc, "2")
    outsider = UserFactory()
    for call in (lambda: withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=outsider),
                 lambda: withdrawal_reject(withdrawal_id=withdrawal.id, staff_user=outsider,
                                           reason="no")):
        with pytest.raises(ServiceError) as err:
            call()
        assert err.value.code == "staff_required"
    assert Withdrawal.objects.get().status == S.REQUESTED


def test_reject_releases_the_hold_and_emails_the_user(
        thresholds, funded, btc, staff, eager_celery, mailoutbox):
    # given a pending withdrawal holding amount + fee
    withdrawal = _request(funded, btc, "2")
    assert _balance(funded, btc) == (D("50") - D("2.0002"), D("2.0002"))

    # when staff reject it
    withdrawal_reject(withdrawal_id=withdrawal.id, staff_user=staff, reason="suspicious")

    # then the hold is back in available, the state is final, and the user was told
    withdrawal.refresh_from_db()
    assert withdrawal.status == S.REJECTED
    assert withdrawal.reason == "suspicious"
    assert _balance(funded, btc) == (D("50"), D("0"))
    rejected = [m for m in mailoutbox if m.subject == "[Bourse] BTC withdrawal rejected"]
    assert len(rejected) == 1 and rejected[0].to == [funded.email]
    assert "suspicious" in rejected[0].body
    # and a rejected withdrawal can be neither approved nor rejected again, nor paid
    for call in (lambda: withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=staff),
                 lambda: withdrawal_reject(withdrawal_id=withdrawal.id, staff_user=staff,
                                           reason="again")):
        with pytest.raises(ServiceError) as err:
            call()
        assert err.value.code == "invalid_state"
    assert not ChainBroadcast.objects.exists()
    assert_books_clean()


def test_reject_after_approval_still_releases_the_hold(thresholds, funded, btc, monkeypatch):
    # given an approved withdrawal whose payout has not started yet (no Celery here)
    from wallets.services import withdrawals as withdrawals_module

    monkeypatch.setattr(withdrawals_module, "_payout_on_commit", lambda _id: None)
    staff = UserFactory(is_staff=True)
    withdrawal = _request(funded, btc, "2")
    withdrawal_approve(withdrawal_id=withdrawal.id, staff_user=staff)
    assert Withdrawal.objects.get().status == S.APPROVED

    withdrawal_reject(withdrawal_id=withdrawal.id, staff_user=UserFactory(is_staff=True),
                      reason="second look")
    assert Withdrawal.objects.get().status == S.REJECTED
    assert _balance(funded, btc) == (D("50"), D("0"))
    assert_books_clean()


def test_a_new_address_is_refused_during_its_cool_down(btc, funded, settings):
    # given an address added just now with the default 24 h cool-down
    settings.WITHDRAWAL_ADDRESS_COOLDOWN = 24 * 3600
    entry = withdrawal_address_add(user=funded, asset=btc, address="simnewaddress000000042")
    assert entry.usable_after > timezone.now() + timedelta(hours=23)
    (code,) = backup_codes(funded, 1)

    # when the user withdraws to it
    with pytest.raises(ServiceError) as err:
        withdrawal_request(user=funded, asset=btc, address="simnewaddress000000042",
                           amount=D("0.5"), otp_code=code)

    # then it is refused with a code, and nothing is held
    assert err.value.code == "address_cooling_down"
    assert err.value.http_status == 403
    assert not Withdrawal.objects.exists()
    assert _balance(funded, btc) == (D("50"), D("0"))


def test_the_address_becomes_usable_when_the_cool_down_ends(btc, funded, settings):
    settings.WITHDRAWAL_ADDRESS_COOLDOWN = 3600
    withdrawal_address_add(user=funded, asset=btc, address="simnewaddress000000043")
    codes = backup_codes(funded, 2)
    with pytest.raises(ServiceError):
        withdrawal_request(user=funded, asset=btc, address="simnewaddress000000043",
                           amount=D("0.5"), otp_code=codes[0])
    # an hour later (the entry's clock moved instead of the test's)
    WithdrawalAddress.objects.filter(address="simnewaddress000000043").update(
        usable_after=timezone.now() - timedelta(seconds=1))
    withdrawal = withdrawal_request(user=funded, asset=btc, address="simnewaddress000000043",
                                    amount=D("0.5"), otp_code=codes[1])
    assert withdrawal.status == S.REQUESTED


def test_an_address_outside_the_book_is_refused(btc, funded):
    (code,) = backup_codes(funded, 1)
    with pytest.raises(ServiceError) as err:
        withdrawal_request(user=funded, asset=btc, address="simunknownaddress0001",
                           amount=D("0.5"), otp_code=code)
    assert err.value.code == "address_not_in_book"


def test_cool_down_refusal_over_the_api(btc, funded, settings):
    from rest_framework.test import APIClient

    settings.WITHDRAWAL_ADDRESS_COOLDOWN = 24 * 3600
    client = APIClient()
    client.force_authenticate(funded)
    added = client.post("/api/v1/withdrawal-addresses",
                        {"asset": "BTC", "address": "simnewaddress000000044"}, format="json")
    assert added.status_code == 201, added.content
    (code,) = backup_codes(funded, 1)
    response = client.post("/api/v1/withdrawals", {
        "asset": "BTC", "address": "simnewaddress000000044", "amount": "0.5",
        "otp_code": code}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "address_cooling_down"
    assert not Withdrawal.objects.exists()
