"""The rest of the back office: secrets never shown, superuser edits audited, and the
two-person rule under concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from accounts.services import api_key_create
from exchange.backoffice.roles import FINANCE, SUPPORT
from exchange.models import StaffAuditLog
from exchange.tests.backoffice_support import make_asset, make_staff, make_user, otp_client
from wallets.models import Withdrawal, WithdrawalApproval


@pytest.mark.django_db
def test_api_keys_are_shown_without_their_secret():
    customer = make_user()
    key, secret = api_key_create(user=customer, name="bot", scopes=["read"])
    client = otp_client(make_staff(SUPPORT))
    pages = [client.get(f"/admin/accounts/apikey/{key.pk}/change/"),
             client.get("/admin/accounts/apikey/"),
             client.get(f"/admin/accounts/user/{customer.pk}/change/")]
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert secret not in body
        assert key.secret_encrypted not in body
    assert key.key[:8] in pages[2].content.decode()


@pytest.mark.django_db
def test_superuser_changes_to_staff_access_and_assets_are_audited():
    root = make_staff(superuser=True)
    client = otp_client(root)
    newcomer = make_staff()
    finance = Group.objects.get(name=FINANCE)
    response = client.post(f"/admin/accounts/user/{newcomer.pk}/change/", {
        "is_active": "on", "is_staff": "on", "groups": [str(finance.pk)]})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(newcomer.groups.all()) == [finance]
    entry = StaffAuditLog.objects.get(action="user.access")
    assert entry.before["groups"] == [] and entry.after["groups"] == [finance.pk]

    asset = make_asset(precision=8)
    response = client.post(f"/admin/wallets/asset/{asset.pk}/change/", {
        "name": asset.name, "deposits_enabled": "on", "confirmations_required": "3",
        "withdrawal_fee": "0.0005", "min_withdrawal": "0.01"})
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = StaffAuditLog.objects.get(action="asset.change")
    assert entry.before["withdrawals_enabled"] is True
    assert entry.after["withdrawals_enabled"] is False
    assert entry.after["confirmations_required"] == 3


@pytest.mark.django_db(transaction=True)
def test_same_approver_racing_twice_records_one_approval():
    """Two simultaneous approvals by one person (double click, two tabs) → one approval,
    the withdrawal still waits for a second person."""
    from django.db import transaction

    from wallets.services import adjustment_post, balance_reserve

    customer = make_user()
    asset = make_asset("RACE")
    adjustment_post(user=customer, asset=asset, amount=Decimal("100"), reason="fixture",
                    staff_user=make_staff(superuser=True))
    with transaction.atomic():
        withdrawal = Withdrawal.objects.create(user=customer, asset=asset,
                                               address="bc1qraceaddress00001",
                                               amount=Decimal("100"), approvals_required=2)
        balance_reserve(user_id=customer.pk, asset_id=asset.pk, amount=Decimal("100"),
                        ref=f"withdrawal:{withdrawal.pk}")
    approver = make_staff(FINANCE)
    clients = [otp_client(approver), otp_client(approver)]
    barrier = threading.Barrier(2)
    statuses = []

    def approve(client):
        try:
            barrier.wait()
            statuses.append(client.post(f"/admin/wallets/withdrawal/{withdrawal.pk}/decide/",
                                        {"decision": "approve"}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [302, 302]
    assert WithdrawalApproval.objects.filter(withdrawal=withdrawal).count() == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.REQUESTED
    assert StaffAuditLog.objects.filter(action="withdrawal.approve").count() == 1


@pytest.mark.django_db
def test_operations_creates_a_market_audited():
    from exchange.backoffice.roles import OPERATIONS
    from marketdata.models import Market

    base, quote = make_asset(), make_asset("USDT", 6)
    client = otp_client(make_staff(OPERATIONS))
    symbol = f"{base.symbol}-USDT"
    response = client.post("/admin/marketdata/market/add/", {
        "symbol": symbol, "base": base.pk, "quote": quote.pk, "tick_size": "0.01",
        "step_size": "0.001", "min_qty": "0.001", "max_qty": "100", "min_notional": "5",
        "price_band_pct": "10", "maker_fee": "0.001", "taker_fee": "0.002",
        "reference_price": "100"})
    assert response.status_code == 302, response.content.decode()[:3000]
    market = Market.objects.get(symbol=symbol)
    assert market.status == "TRADING"
    entry = StaffAuditLog.objects.get(action="market.create", object_id=str(market.pk))
    assert entry.before is None and Decimal(entry.after["min_notional"]) == 5


@pytest.mark.django_db
def test_user_export_with_a_signed_api_key_request():
    from django.test import Client
    from django.utils import timezone

    from accounts.signing import signed_query
    from wallets.services import adjustment_post

    customer = make_user()
    adjustment_post(user=customer, asset=make_asset(), amount=Decimal("2"), reason="fixture",
                    staff_user=make_staff(superuser=True))
    key, secret = api_key_create(user=customer, name="tax", scopes=["read"])
    today = timezone.now().date().isoformat()
    query = signed_query(secret, {"start": today, "end": today})
    response = Client().get(f"/api/v1/exports/ledger.csv?{query}",
                            HTTP_X_MBX_APIKEY=key.key)
    assert response.status_code == 200, response.content[:500]
    body = b"".join(response.streaming_content).decode()
    assert body.count("\n") == 2  # header + the user's one ledger line
    unsigned = Client().get(f"/api/v1/exports/ledger.csv?start={today}&end={today}")
    assert unsigned.status_code in (401, 403)


@pytest.mark.django_db
def test_staff_trade_export_streams_in_a_constant_number_of_queries(
        django_assert_max_num_queries):
    import time as _time

    from django.utils import timezone

    from exchange.backoffice import exports
    from exchange.tests.backoffice_support import make_market
    from marketdata.models import Trade
    from orders.models import Order

    market = make_market()
    buyer, seller = make_user(), make_user()
    orders = [Order.objects.create(user=u, market=market, client_order_id=f"x{u.pk}", side=s,
                                   type="LIMIT", price=Decimal(1), quantity=Decimal(1),
                                   reserved_asset=market.quote, reserved_amount=0,
                                   reserve_remaining=0)
              for u, s in ((buyer, "BUY"), (seller, "SELL"))]
    now = timezone.now()
    n = 20_000
    Trade.objects.bulk_create([
        Trade(market=market, sequence=i, price=Decimal("100.5"), quantity=Decimal("0.01"),
              quote_quantity=Decimal("1.005"), buy_order=orders[0], sell_order=orders[1],
              buyer=buyer, seller=seller, taker_side="BUY", created_at=now)
        for i in range(n)], batch_size=5000)
    since, until = exports.date_range_parse(start=now.date().isoformat(),
                                            end=now.date().isoformat())
    started = _time.perf_counter()
    with django_assert_max_num_queries(5):
        response = exports.export_response(kind="trades", since=since, until=until)
        size = sum(len(chunk) for chunk in response.streaming_content)
    elapsed = _time.perf_counter() - started
    print(f"staff trade export: {n} rows, {size / 1e6:.1f} MB in {elapsed * 1000:.0f} ms")
    assert size > n * 50


@pytest.mark.django_db
def test_staff_cannot_freeze_or_adjust_themselves_or_other_staff():
    from exchange.backoffice.roles import FINANCE as FIN
    from wallets.models import Balance

    support = make_staff(SUPPORT)
    colleague = make_staff(FINANCE)
    client = otp_client(support)
    for target in (support, colleague):
        response = client.post(f"/admin/accounts/user/{target.pk}/freeze/",
                               {"reason": "testing"}, follow=True)
        assert "self_action" in response.content.decode() or \
            "staff_target" in response.content.decode()
        target.refresh_from_db()
        assert target.state == "ACTIVE"
    finance = make_staff(FIN)
    asset = make_asset()
    response = otp_client(finance).post("/admin/wallets/balance/adjust/", {
        "user": str(finance.pk), "asset": asset.symbol, "amount": "100", "reason": "bonus"})
    assert "self_action" in response.content.decode()
    assert not Balance.objects.filter(user=finance, available__gt=0).exists()
    assert not StaffAuditLog.objects.exists()


@pytest.fixture
def eager_celery():
    from exchange.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_rejected_withdrawal_notifies_the_user(eager_celery, mailoutbox,
                                               django_capture_on_commit_callbacks):
    from exchange.tests.test_backoffice_actions import _withdrawal

    withdrawal = _withdrawal(amount=Decimal("2"), approvals_required=1)
    client = otp_client(make_staff(FINANCE))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/wallets/withdrawal/{withdrawal.pk}/decide/",
                    {"decision": "reject", "reason": "address flagged"})
    withdrawal.refresh_from_db()
    assert withdrawal.status == "REJECTED"
    mails = [m for m in mailoutbox if m.to == [withdrawal.user.email]]
    assert len(mails) == 1 and "address flagged" in mails[0].body


@pytest.mark.django_db
def test_decision_pages_render_their_controls_for_the_right_role(settings, tmp_path):
    from accounts.models import KycSubmission
    from exchange.backoffice.roles import COMPLIANCE, OPERATIONS
    from exchange.tests.backoffice_support import make_market
    from exchange.tests.test_backoffice_actions import _withdrawal

    withdrawal = _withdrawal(amount=Decimal("50"), approvals_required=2)
    first = make_staff(FINANCE)
    c1 = otp_client(first)
    page = c1.get(f"/admin/wallets/withdrawal/{withdrawal.pk}/change/").content.decode()
    assert 'value="approve"' in page and "Approvals (0/2)" in page
    c1.post(f"/admin/wallets/withdrawal/{withdrawal.pk}/decide/", {"decision": "approve"})
    page = c1.get(f"/admin/wallets/withdrawal/{withdrawal.pk}/change/").content.decode()
    assert 'value="approve"' not in page and "You approved this withdrawal already" in page
    assert first.email in page

    submission = KycSubmission.objects.create(user=make_user(), tier=1)
    url = f"/admin/accounts/kycsubmission/{submission.pk}/change/"
    assert 'value="approve"' in otp_client(make_staff(COMPLIANCE)).get(url).content.decode()
    support_page = otp_client(make_staff(SUPPORT)).get(url).content.decode()
    assert 'value="approve"' not in support_page
    assert "previews are for compliance only" in support_page

    market = make_market()
    url = f"/admin/marketdata/market/{market.pk}/change/"
    page = otp_client(make_staff(OPERATIONS)).get(url).content.decode()
    for op in ("halt", "resume", "cancel_only", "cancel_all"):
        assert f'value="{op}"' in page


@pytest.mark.django_db
def test_journal_entry_page_shows_its_lines_read_only():
    from wallets.models import JournalEntry
    from wallets.services import adjustment_post

    customer = make_user()
    entry = adjustment_post(user=customer, asset=make_asset(), amount=Decimal("7.25"),
                            reason="fixture", staff_user=make_staff(superuser=True))
    entry = JournalEntry.objects.get(pk=entry.pk)
    page = otp_client(make_staff(FINANCE)).get(f"/admin/wallets/journalentry/{entry.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "7.25" in body and "-7.25" in body
    assert 'name="_save"' not in body and "lines-0-amount" not in body


def test_csv_export_neutralises_formula_cells_but_keeps_numbers():
    from exchange.backoffice.exports import csv_stream

    rows = [["=HYPERLINK(\"http://evil\")", "+1", "@SUM(A1)", "-2+3", Decimal("-1.50"), 7,
             "plain"]]
    body = "".join(csv_stream(["a", "b", "c", "d", "e", "f", "g"], rows))
    line = body.splitlines()[1]
    assert line.startswith('"\'=HYPERLINK(""http://evil"")",\'+1,\'@SUM(A1),\'-2+3,')
    assert line.endswith(",-1.50,7,plain")  # numbers stay numbers
