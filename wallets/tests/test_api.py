from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from wallets.models import Balance, JournalEntry, Withdrawal
from wallets.tests.helpers import ADDRESS, backup_codes, fund, usable_address

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


BAD_AMOUNTS = [
    ("-1", "amount_not_positive"), ("0", "amount_not_positive"), ("0.000", "amount_not_positive"),
    ("NaN", "amount_not_finite"), ("Infinity", "amount_not_finite"),
    ("1e2", "amount_exponent"), ("1E-3", "amount_exponent"),
    ("0.000000001", "amount_too_precise"), ("123456789012345678901", "amount_too_large"),
    ("abc", "amount_invalid"), ("", "amount_invalid"), ("1,5", "amount_invalid"),
    (True, "amount_invalid"), ([], "amount_invalid"), (None, "null"),
]


@pytest.mark.parametrize(("amount", "code"), BAD_AMOUNTS)
def test_bad_withdrawal_amounts_get_400_with_a_code_and_change_nothing(
        client, user, btc, amount, code):
    fund(user, btc, "1")
    usable_address(user, btc)
    entries = JournalEntry.objects.count()
    response = client.post("/api/v1/withdrawals", {"asset": "BTC", "address": ADDRESS,
                                                   "amount": amount, "otp_code": "x"},
                           format="json")
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["amount"]["code"] == code
    assert JournalEntry.objects.count() == entries
    assert not Withdrawal.objects.exists()


@pytest.mark.parametrize(("raw", "code"), [("1e2", "amount_exponent"),
                                            ("-0.5", "amount_not_positive"),
                                            ("0.123456789", "amount_too_precise")])
def test_json_numbers_are_judged_by_their_text(client, user, btc, raw, code):
    body = f'{{"asset": "BTC", "address": "{ADDRESS}", "amount": {raw}}}'
    response = client.generic("POST", "/api/v1/withdrawals", body,
                              content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"]["amount"]["code"] == code


def test_nan_literal_is_a_malformed_request(client, btc):
    response = client.generic("POST", "/api/v1/withdrawals",
                              '{"asset": "BTC", "address": "x", "amount": NaN}',
                              content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_withdrawal_flow_through_the_api(client, user, btc, eager_celery):
    fund(user, btc, "1")
    usable_address(user, btc)
    (code,) = backup_codes(user, 1)
    response = client.post("/api/v1/withdrawals", {"asset": "BTC", "address": ADDRESS,
                                                   "amount": "0.1", "otp_code": code},
                           format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "REQUESTED"
    assert Withdrawal.objects.get().status == "COMPLETED"  # eager payout after commit
    balances = client.get("/api/v1/balances").json()
    assert balances == [{"asset": "BTC", "available": "0.899800000000000000",
                         "locked": "0E-18"}] or balances[0]["available"].startswith("0.8998")
    ledger = client.get("/api/v1/ledger?asset=BTC&kind=withdrawal").json()
    assert [line["amount"] for line in ledger["results"]] == ["-0.100000000000000000"]
    assert Balance.objects.get(user=user, asset=btc).available == D("0.8998")


def test_another_users_withdrawal_is_404(client, btc, monkeypatch):
    from wallets.tests.factories import UserFactory

    other = UserFactory()
    fund(other, btc, "1")
    usable_address(other, btc)
    (code,) = backup_codes(other, 1)
    from wallets.services import withdrawal_request
    from wallets.services import withdrawals as w

    monkeypatch.setattr(w, "_payout_on_commit", lambda _id: None)
    withdrawal = withdrawal_request(user=other, asset=btc, address=ADDRESS, amount=D("1") -
                                    btc.withdrawal_fee - D("0.1"), otp_code=code)
    response = client.post(f"/api/v1/withdrawals/{withdrawal.id}/cancel")
    assert response.status_code == 404


def test_deposit_address_is_deterministic(client, btc):
    first = client.get("/api/v1/deposit-address?asset=BTC").json()
    assert first == client.get("/api/v1/deposit-address?asset=btc").json()
    assert first["address"].startswith("simbtc1")
