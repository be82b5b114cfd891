"""Each staff action changes what it should, through the owning app's service, and writes
its audit entry; money and the audit log cannot be edited by hand."""

from __future__ import annotations

import csv
import io
import time
import uuid
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import KycDocument, KycSubmission, User
from exchange.backoffice.roles import COMPLIANCE, FINANCE, OPERATIONS, SUPPORT
from exchange.health import redis_client
from exchange.models import StaffAuditLog
from exchange.tests.backoffice_support import (
    make_asset,
    make_market,
    make_staff,
    make_user,
    otp_client,
)
from marketdata.models import Market, Trade
from orders.models import Order, OrderCommand
from wallets.models import Balance, JournalEntry, LedgerLine, Withdrawal, WithdrawalApproval

pytestmark = pytest.mark.django_db


def _audit(action: str, **filters) -> StaffAuditLog:
    entries = list(StaffAuditLog.objects.filter(action=action, **filters))
    assert len(entries) == 1, (action, entries)
    return entries[0]


# --- users -----------------------------------------------------------------------------

def test_support_freezes_and_unfreezes_with_a_reason():
    # given
    staff = make_staff(SUPPORT)
    client = otp_client(staff)
    customer = make_user()
    # when
    response = client.post(f"/admin/accounts/user/{customer.pk}/freeze/",
                           {"reason": "chargeback investigation"})
    # then
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.state == User.State.FROZEN
    assert customer.frozen_reason == "chargeback investigation"
    entry = _audit("user.freeze", object_id=str(customer.pk))
    assert entry.staff_user == staff
    assert entry.object_type == "accounts.user"
    assert entry.before["state"] == "ACTIVE"
    assert entry.after["state"] == "FROZEN"
    assert entry.reason == "chargeback investigation"

    client.post(f"/admin/accounts/user/{customer.pk}/unfreeze/", {"reason": "cleared"})
    customer.refresh_from_db()
    assert customer.state == User.State.ACTIVE
    assert _audit("user.unfreeze").after["state"] == "ACTIVE"


def test_freeze_without_a_reason_changes_nothing():
    client = otp_client(make_staff(SUPPORT))
    customer = make_user()
    response = client.post(f"/admin/accounts/user/{customer.pk}/freeze/", {"reason": "  "})
    assert response.status_code == 200  # the form again, with its error
    customer.refresh_from_db()
    assert customer.state == User.State.ACTIVE
    assert not StaffAuditLog.objects.exists()


def test_user_search_by_email_or_id_and_one_page_overview():
    client = otp_client(make_staff(SUPPORT))
    customer = make_user(email=f"needle-{uuid.uuid4().hex[:6]}@example.com")
    asset = make_asset()
    Balance.objects.create(user=customer, asset=asset)
    by_email = client.get("/admin/accounts/user/", {"q": customer.email.split("@")[0]})
    by_id = client.get("/admin/accounts/user/", {"q": str(customer.pk)})
    assert customer.email in by_email.content.decode()
    assert customer.email in by_id.content.decode()
    page = client.get(f"/admin/accounts/user/{customer.pk}/change/").content.decode()
    for section in ("user-balances", "user-open-orders", "user-trades", "user-ledger",
                    "user-kyc", "user-api-keys", "user-security-events"):
        assert f'id="{section}"' in page
    assert asset.symbol in page


# --- KYC -------------------------------------------------------------------------------

@pytest.fixture
def kyc(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    customer = make_user(kyc_tier=0)
    submission = KycSubmission.objects.create(user=customer, tier=1, legal_name="Ada L")
    document = KycDocument(submission=submission, kind="id_document",
                           content_type="image/png", size=8, sha256="0" * 64)
    document.file.save("id.png", ContentFile(b"\x89PNGdata"), save=True)
    return submission, document


def test_compliance_approves_kyc_with_a_reason(kyc):
    submission, _ = kyc
    staff = make_staff(COMPLIANCE)
    client = otp_client(staff)
    response = client.post(f"/admin/accounts/kycsubmission/{submission.pk}/decide/",
                           {"decision": "approve", "reason": "passport and selfie match"})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.APPROVED
    assert submission.reviewed_by == staff
    assert submission.user.kyc_tier == 1
    entry = _audit("kyc.approve", object_id=str(submission.pk))
    assert entry.before["status"] == "PENDING"
    assert entry.after["status"] == "APPROVED"
    assert entry.after["user"]["kyc_tier"] == 1
    assert entry.reason == "passport and selfie match"


def test_kyc_decision_needs_a_reason(kyc):
    submission, _ = kyc
    client = otp_client(make_staff(COMPLIANCE))
    client.post(f"/admin/accounts/kycsubmission/{submission.pk}/decide/",
                {"decision": "reject", "reason": ""})
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.PENDING
    client.post(f"/admin/accounts/kycsubmission/{submission.pk}/decide/",
                {"decision": "reject", "reason": "document expired"})
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.REJECTED
    assert submission.reason == "document expired"
    assert _audit("kyc.reject").reason == "document expired"


def test_kyc_queue_pending_first_with_age_and_documents_for_compliance_only(kyc):
    submission, document = kyc
    old = KycSubmission.objects.create(user=make_user(), tier=1, status="REJECTED",
                                       reason="blurry")
    client = otp_client(make_staff(COMPLIANCE))
    page = client.get("/admin/accounts/kycsubmission/").content.decode()
    assert page.index(f"/{submission.pk}/change/") < page.index(f"/{old.pk}/change/")
    assert "minute" in page  # the age column
    url = f"/admin/accounts/kycsubmission/{submission.pk}/document/{document.pk}/"
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNGdata"
    assert "no-store" in response["Cache-Control"]
    assert otp_client(make_staff(SUPPORT)).get(url).status_code == 403


# --- money -----------------------------------------------------------------------------

def test_finance_posts_an_adjustment_through_the_ledger():
    staff = make_staff(FINANCE)
    client = otp_client(staff)
    customer = make_user()
    asset = make_asset(precision=6)
    response = client.post("/admin/wallets/balance/adjust/", {
        "user": customer.email, "asset": asset.symbol, "amount": "12.5",
        "reason": "refund of a double fee"})
    assert response.status_code == 302
    balance = Balance.objects.get(user=customer, asset=asset)
    assert balance.available == Decimal("12.5")
    entry = JournalEntry.objects.get(kind="adjustment", ref_id=str(customer.pk))
    assert entry.created_by == staff
    assert sorted(line.amount for line in entry.lines.all()) == [Decimal("-12.5"),
                                                                 Decimal("12.5")]
    audit = _audit("balance.adjust", object_id=str(customer.pk))
    assert audit.before["available"] == "0"
    assert Decimal(audit.after["available"]) == Decimal("12.5")
    assert audit.after["journal_entry"] == entry.pk
    assert audit.reason == "refund of a double fee"

    # A debit that would go negative is refused and changes nothing.
    response = client.post("/admin/wallets/balance/adjust/", {
        "user": str(customer.pk), "asset": asset.symbol, "amount": "-20",
        "reason": "clawback"})
    assert response.status_code == 200
    assert "insufficient_balance" in response.content.decode()
    assert Balance.objects.get(pk=balance.pk).available == Decimal("12.5")
    assert StaffAuditLog.objects.filter(action="balance.adjust").count() == 1


def test_adjustment_requires_reason_and_exact_decimal():
    client = otp_client(make_staff(FINANCE))
    customer = make_user()
    asset = make_asset(precision=2)
    for amount, reason in [("1", ""), ("abc", "x"), ("0", "x"), ("0.001", "too precise")]:
        client.post("/admin/wallets/balance/adjust/", {
            "user": str(customer.pk), "asset": asset.symbol, "amount": amount,
            "reason": reason})
    assert not Balance.objects.filter(user=customer, available__gt=0).exists()
    assert not StaffAuditLog.objects.exists()


@pytest.mark.parametrize("model", [Balance, LedgerLine, JournalEntry, StaffAuditLog])
def test_nobody_edits_money_or_the_audit_log_in_the_admin(model):
    superuser = make_staff(superuser=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    model_admin = admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_superuser_cannot_change_a_balance_through_admin_urls():
    superuser = make_staff(superuser=True)
    client = otp_client(superuser)
    customer = make_user()
    asset = make_asset()
    balance = Balance.objects.create(user=customer, asset=asset)
    base = f"/admin/wallets/balance/{balance.pk}"
    assert client.get(f"{base}/change/").status_code == 200  # view only
    response = client.post(f"{base}/change/", {"user": customer.pk, "asset": asset.pk,
                                               "available": "1000000", "locked": "0"})
    assert response.status_code == 403
    assert client.post("/admin/wallets/balance/add/", {
        "user": customer.pk, "asset": asset.pk, "available": "5", "locked": "0"},
    ).status_code == 403
    assert client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    balance.refresh_from_db()
    assert balance.available == 0
    assert "Save" not in client.get(f"{base}/change/").content.decode().split("submit-row")[-1]


def test_audit_log_cannot_be_changed_or_deleted():
    staff = make_staff(superuser=True)
    from exchange.backoffice.services import staff_action_record

    entry = staff_action_record(staff_user=staff, action="test.action", object_type="x",
                                object_id=1, reason="r")
    client = otp_client(staff)
    assert client.get(f"/admin/exchange/staffauditlog/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/exchange/staffauditlog/{entry.pk}/delete/",
                       {"post": "yes"}).status_code == 403
    for attempt in (lambda: StaffAuditLog.objects.filter(pk=entry.pk).update(reason="x"),
                    lambda: StaffAuditLog.objects.filter(pk=entry.pk).delete()):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    entry.refresh_from_db()
    assert entry.reason == "r"
    # Filterable.
    page = client.get("/admin/exchange/staffauditlog/", {"action": "test.action"})
    assert page.status_code == 200
    assert "test.action" in page.content.decode()


# --- withdrawals -----------------------------------------------------------------------

def _withdrawal(*, amount: Decimal, approvals_required: int) -> Withdrawal:
    from wallets.services import adjustment_post, balance_reserve

    customer = make_user()
    asset = make_asset(f"W{uuid.uuid4().hex[:5].upper()}")
    adjustment_post(user=customer, asset=asset, amount=amount, reason="fixture funding",
                    staff_user=make_staff(superuser=True))
    with transaction.atomic():
        withdrawal = Withdrawal.objects.create(
            user=customer, asset=asset, address="bc1qfixtureaddress0001", amount=amount,
            approvals_required=approvals_required)
        balance_reserve(user_id=customer.pk, asset_id=asset.pk, amount=amount,
                        ref=f"withdrawal:{withdrawal.pk}")
    return withdrawal


def test_two_person_withdrawal_cannot_be_approved_twice_by_the_same_person():
    withdrawal = _withdrawal(amount=Decimal("50"), approvals_required=2)
    first, second = make_staff(FINANCE), make_staff(FINANCE)
    url = f"/admin/wallets/withdrawal/{withdrawal.pk}/decide/"
    c1, c2 = otp_client(first), otp_client(second)
    c1.post(url, {"decision": "approve"})
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.REQUESTED
    # The same approver again: refused, nothing recorded.
    response = c1.post(url, {"decision": "approve"}, follow=True)
    assert "already_approved" in response.content.decode()
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.REQUESTED
    assert WithdrawalApproval.objects.filter(withdrawal=withdrawal).count() == 1
    assert StaffAuditLog.objects.filter(action="withdrawal.approve").count() == 1
    # A different approver completes it.
    c2.post(url, {"decision": "approve"})
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.APPROVED
    entries = list(StaffAuditLog.objects.filter(action="withdrawal.approve").order_by("id"))
    assert [e.staff_user for e in entries] == [first, second]
    assert entries[1].after["status"] == "APPROVED"
    assert entries[1].after["approved_by"] == sorted([first.pk, second.pk])


def test_withdrawal_reject_needs_a_reason_and_releases_the_hold():
    withdrawal = _withdrawal(amount=Decimal("3"), approvals_required=1)
    client = otp_client(make_staff(FINANCE))
    url = f"/admin/wallets/withdrawal/{withdrawal.pk}/decide/"
    client.post(url, {"decision": "reject", "reason": ""})
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.REQUESTED
    client.post(url, {"decision": "reject", "reason": "address on a sanctions list"})
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.REJECTED
    balance = Balance.objects.get(user=withdrawal.user, asset=withdrawal.asset)
    assert (balance.available, balance.locked) == (Decimal("3"), Decimal("0"))
    assert _audit("withdrawal.reject").reason == "address on a sanctions list"


def test_withdrawal_queue_lists_pending_first():
    done = _withdrawal(amount=Decimal("1"), approvals_required=1)
    Withdrawal.objects.filter(pk=done.pk).update(status="COMPLETED")
    pending = _withdrawal(amount=Decimal("1"), approvals_required=1)
    page = otp_client(make_staff(FINANCE)).get("/admin/wallets/withdrawal/").content.decode()
    assert page.index(f"/{pending.pk}/change/") < page.index(f"/{done.pk}/change/")
    assert "0/1" in page


# --- markets ---------------------------------------------------------------------------

def _market_form(market: Market, **changes) -> dict:
    data = {f: getattr(market, f) for f in (
        "tick_size", "step_size", "min_qty", "max_qty", "min_notional", "price_band_pct",
        "maker_fee", "taker_fee")}
    data["reference_price"] = ""
    data.update(changes)
    return {k: str(v) for k, v in data.items()}


def test_operations_edits_market_rules_audited_and_status_untouchable():
    staff = make_staff(OPERATIONS)
    client = otp_client(staff)
    market = make_market()
    response = client.post(f"/admin/marketdata/market/{market.pk}/change/",
                           _market_form(market, tick_size="0.1", status="HALTED"))
    assert response.status_code == 302, response.content.decode()[:2000]
    market.refresh_from_db()
    assert market.tick_size == Decimal("0.1")
    assert market.status == "TRADING"
    entry = _audit("market.change", object_id=str(market.pk))
    assert Decimal(entry.before["tick_size"]) == Decimal("0.01")
    assert Decimal(entry.after["tick_size"]) == Decimal("0.1")


def test_halt_resume_cancel_only_go_through_the_order_stream():
    client = otp_client(make_staff(OPERATIONS))
    market = make_market()
    url = f"/admin/marketdata/market/{market.pk}/control/"
    for op, status in [("halt", "HALTED"), ("cancel_only", "CANCEL_ONLY"),
                       ("resume", "TRADING")]:
        client.post(url, {"op": op, "reason": f"drill {op}"})
        market.refresh_from_db()
        assert market.status == status
        command = OrderCommand.objects.filter(market=market, kind="STATUS").latest("id")
        assert command.status == status
        entry = _audit(f"market.status.{status.lower()}", object_id=str(market.pk))
        assert entry.after == {"status": status}


def test_halt_as_an_admin_action_on_selected_markets():
    client = otp_client(make_staff(OPERATIONS))
    markets = [make_market(), make_market()]
    ids = [str(m.pk) for m in markets]
    confirm = client.post("/admin/marketdata/market/",
                          {"action": "market_halt", "_selected_action": ids})
    assert confirm.status_code == 200 and b"confirm" in confirm.content
    client.post("/admin/marketdata/market/", {"action": "market_halt",
                                              "_selected_action": ids, "apply": "1",
                                              "reason": "exchange-wide halt"})
    assert set(Market.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "HALTED"}
    assert StaffAuditLog.objects.filter(action="market.status.halted").count() == 2


def _open_order(*, user, market) -> Order:
    return Order.objects.create(
        user=user, market=market, client_order_id=uuid.uuid4().hex, side="BUY", type="LIMIT",
        price=Decimal("100"), quantity=Decimal("1"), reserved_asset=market.quote,
        reserved_amount=Decimal(0), reserve_remaining=Decimal(0))


def test_cancel_all_orders_of_a_market_needs_a_reason():
    client = otp_client(make_staff(OPERATIONS))
    market = make_market()
    orders = [_open_order(user=make_user(), market=market) for _ in range(3)]
    url = f"/admin/marketdata/market/{market.pk}/control/"
    client.post(url, {"op": "cancel_all", "reason": ""})
    assert not OrderCommand.objects.filter(market=market).exists()
    client.post(url, {"op": "cancel_all", "reason": "bad reference price"})
    assert OrderCommand.objects.filter(market=market, kind="CANCEL").count() == 3
    assert all(Order.objects.get(pk=o.pk).cancel_requested for o in orders)
    assert _audit("market.cancel_all_orders").after == {"cancel_requested": 3}


# --- dashboard and exports -------------------------------------------------------------

def test_dashboard_shows_volume_fees_matcher_status_and_queues():
    market = make_market()
    buyer, seller = make_user(), make_user()
    buy, sell = _open_order(user=buyer, market=market), _open_order(user=seller, market=market)
    Trade.objects.create(market=market, sequence=1, price=Decimal("100"),
                         quantity=Decimal("2"), quote_quantity=Decimal("200"), buy_order=buy,
                         sell_order=sell, buyer=buyer, seller=seller, taker_side="BUY",
                         buyer_fee=Decimal("0.002"), seller_fee=Decimal("0.2"),
                         created_at=timezone.now())
    KycSubmission.objects.create(user=buyer, tier=1)
    _withdrawal(amount=Decimal("5"), approvals_required=1)
    from wallets.models import ReconciliationRun

    ReconciliationRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(),
                                     ok=False, difference_count=1, differences=[{"x": 1}])
    client = redis_client()
    key = f"matcher:status:{{{market.symbol}}}"
    client.hset(key, mapping={"epoch": "7", "last_sequence": "42", "lag": "3",
                              "last_batch_ms": "1.5", "heartbeat": str(time.time())})
    try:
        page = otp_client(make_staff(OPERATIONS)).get("/admin/dashboard/").content.decode()
    finally:
        client.delete(key)
    row = page[page.index(f'data-symbol="{market.symbol}"'):]
    row = row[:row.index("</tr>")]
    for expected in ("<td>1</td>", "<td>2</td>", "<td>200</td>", "0.002", "0.2", "<td>7</td>",
                     "<td>42</td>", "<td>3</td>", "1.5"):
        assert expected in row, (expected, row)
    assert "no matcher" not in row
    flat = page.replace("</strong>", "<")
    assert 'id="pending-kyc">1<' in flat
    assert 'id="pending-withdrawals">1<' in flat
    assert 'id="open-orders">' in page
    assert "1 difference(s)" in page


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_user_exports_only_their_own_trades_and_ledger():
    market = make_market()
    me, other, third = make_user(), make_user(), make_user()
    mine = Trade.objects.create(
        market=market, sequence=1, price=Decimal("100"), quantity=Decimal("1"),
        quote_quantity=Decimal("100"), buy_order=_open_order(user=me, market=market),
        sell_order=_open_order(user=other, market=market), buyer=me, seller=other,
        taker_side="BUY", buyer_fee=Decimal("0.001"), created_at=timezone.now())
    Trade.objects.create(
        market=market, sequence=2, price=Decimal("100"), quantity=Decimal("1"),
        quote_quantity=Decimal("100"), buy_order=_open_order(user=third, market=market),
        sell_order=_open_order(user=other, market=market), buyer=third, seller=other,
        taker_side="BUY", created_at=timezone.now())
    from wallets.services import adjustment_post

    adjustment_post(user=me, asset=market.quote, amount=Decimal("5"), reason="fixture",
                    staff_user=make_staff(superuser=True))
    client = otp_client(me, verified=False)
    today = timezone.now().date().isoformat()
    response = client.get("/api/v1/exports/trades.csv", {"start": today, "end": today})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = _csv(response)
    assert rows[0][0] == "trade_id"
    assert [r[0] for r in rows[1:]] == [str(mine.pk)]
    assert rows[1][3] == "BUY"
    ledger = _csv(client.get("/api/v1/exports/ledger.csv", {"start": today, "end": today}))
    assert len(ledger) == 2 and Decimal(ledger[1][7]) == 5 and ledger[1][2] == "adjustment"
    bad = client.get("/api/v1/exports/trades.csv", {"start": today})
    assert bad.status_code == 400 and bad.json()["code"] == "date_range_required"


def test_staff_export_for_a_date_range_is_audited():
    staff = make_staff(FINANCE)
    client = otp_client(staff)
    customer = make_user()
    from wallets.services import adjustment_post

    adjustment_post(user=customer, asset=make_asset(), amount=Decimal("1"), reason="fixture",
                    staff_user=make_staff(superuser=True))
    today = timezone.now().date().isoformat()
    response = client.get("/admin/exports/", {"kind": "ledger", "start": today, "end": today})
    assert response.status_code == 200
    assert len(_csv(response)) >= 3  # header + the two lines of the entry
    assert _audit("export.ledger").staff_user == staff


def test_tick_size_cannot_change_while_the_market_has_open_orders():
    staff = make_staff(OPERATIONS)
    client = otp_client(staff)
    market = make_market()
    trader = make_user()
    Order.objects.create(user=trader, market=market, client_order_id="resting", side="BUY",
                         type="LIMIT", price=Decimal("100.01"), quantity=Decimal("1"),
                         status="NEW", reserved_asset=market.quote,
                         reserved_amount=Decimal("100.01"),
                         reserve_remaining=Decimal("100.01"))
    response = client.post(f"/admin/marketdata/market/{market.pk}/change/",
                           _market_form(market, tick_size="0.1"))
    assert response.status_code == 200  # the form again, with the error
    assert "no open orders" in response.content.decode()
    market.refresh_from_db()
    assert market.tick_size == Decimal("0.01")
    # Fees still change with orders resting.
    response = client.post(f"/admin/marketdata/market/{market.pk}/change/",
                           _market_form(market, taker_fee="0.002"))
    assert response.status_code == 302, response.content.decode()[:2000]
    market.refresh_from_db()
    assert market.taker_fee == Decimal("0.002")
