from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from exchange.api import ServiceError
from wallets.ledger import EntrySpec, balance_recompute, ledger_post
from wallets.models import Balance, JournalEntry, LedgerLine
from wallets.services import adjustment_post, balance_release, balance_reserve
from wallets.testing import assert_books_clean
from wallets.tests.factories import UserFactory

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def test_adjust_reserve_release_keep_books_clean(btc, user, staff):
    # when
    adjustment_post(user=user, asset=btc, amount=D("1.5"), reason="test", staff_user=staff)
    with transaction.atomic():
        balance_reserve(user_id=user.id, asset_id=btc.id, amount=D("1"), ref="order:1")
    # then
    balance = Balance.objects.get(user=user, asset=btc)
    assert (balance.available, balance.locked) == (D("0.5"), D("1"))
    assert balance_recompute(user_id=user.id, asset_id=btc.id) == (D("0.5"), D("1"))
    with transaction.atomic():
        balance_release(user_id=user.id, asset_id=btc.id, amount=D("1"), ref="order:1")
    assert_books_clean()


def test_reserve_more_than_available_changes_nothing(btc, user, staff):
    adjustment_post(user=user, asset=btc, amount=D("1"), reason="test", staff_user=staff)
    entries = JournalEntry.objects.count()
    with pytest.raises(ServiceError) as err, transaction.atomic():
        balance_reserve(user_id=user.id, asset_id=btc.id, amount=D("1.00000001"), ref="order:1")
    assert err.value.code == "insufficient_balance"
    assert JournalEntry.objects.count() == entries
    assert Balance.objects.get(user=user, asset=btc).available == D("1")


def test_adjustment_needs_staff_and_reason(btc, user):
    with pytest.raises(ServiceError) as err:
        adjustment_post(user=user, asset=btc, amount=D("1"), reason="x", staff_user=user)
    assert err.value.code == "staff_required"
    staff = UserFactory(is_staff=True)
    with pytest.raises(ServiceError) as err:
        adjustment_post(user=user, asset=btc, amount=D("1"), reason=" ", staff_user=staff)
    assert err.value.code == "reason_required"


def test_trigger_rejects_unbalanced_entry_at_commit(btc, user):
    # given an entry whose lines do not sum to zero, written behind the services' back
    def write_unbalanced():
        with transaction.atomic():
            entry = JournalEntry.objects.create(kind="adjustment", ref_type="t", ref_id="1")
            LedgerLine.objects.create(entry=entry, account="fee", asset=btc, amount=D("1"))

    with pytest.raises(IntegrityError, match="unbalanced"):
        write_unbalanced()
    # then nothing was written
    assert not LedgerLine.objects.exists()


def test_trigger_accepts_balanced_entry_and_checks_lines_added_later(btc, user, staff):
    adjustment_post(user=user, asset=btc, amount=D("2"), reason="t", staff_user=staff)
    entry = JournalEntry.objects.get()
    # a line added to an old entry unbalances it: refused at commit
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerLine.objects.create(entry=entry, account="fee", asset=btc, amount=D("1"))


def test_ledger_lines_refuse_update_and_delete(btc, user, staff):
    adjustment_post(user=user, asset=btc, amount=D("2"), reason="t", staff_user=staff)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerLine.objects.update(amount=D("3"))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerLine.objects.all().delete()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("DELETE FROM wallets_ledgerline")
    assert LedgerLine.objects.count() == 2


def test_ledger_post_refuses_unbalanced_spec(btc, user):
    with pytest.raises(ValueError, match="unbalanced"), transaction.atomic():
        ledger_post([EntrySpec("fee", "t", "1", [("fee", None, btc.id, D("1"))])])


def test_trigger_checks_references_of_every_line(btc, user, staff):
    adjustment_post(user=user, asset=btc, amount=D("2"), reason="t", staff_user=staff)
    entry = JournalEntry.objects.get()
    for bad in ({"entry_id": entry.id + 10**6}, {"user_id": user.id + 10**6},
                {"asset_id": btc.id + 10**6}):
        row = {"entry_id": entry.id, "user_id": user.id, "asset_id": btc.id, **bad}
        with pytest.raises(IntegrityError, match="missing"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO wallets_ledgerline (entry_id, account, user_id, asset_id, amount)"
                " VALUES (%(entry_id)s, 'available', %(user_id)s, %(asset_id)s, 1),"
                "        (%(entry_id)s, 'available', %(user_id)s, %(asset_id)s, -1)", row)
    assert LedgerLine.objects.count() == 2


def test_journal_entries_are_immutable(btc, user, staff):
    adjustment_post(user=user, asset=btc, amount=D("2"), reason="t", staff_user=staff)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        JournalEntry.objects.update(kind="deposit")
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("DELETE FROM wallets_journalentry")
    assert JournalEntry.objects.get().kind == "adjustment"


def test_an_entry_written_in_two_statements_must_balance_after_each(btc):
    # the rule that makes the per-statement check sound: an entry's lines go in one
    # statement; a half-written entry is refused at once, not at commit
    entry = JournalEntry.objects.create(kind="adjustment", ref_type="t", ref_id="2")
    half = [LedgerLine(entry=entry, account="fee", asset=btc, amount=D("1"))]
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        LedgerLine.objects.bulk_create(half)
    # a balanced multi-line statement is accepted
    with transaction.atomic():
        entry = JournalEntry.objects.create(kind="adjustment", ref_type="t", ref_id="3")
        LedgerLine.objects.bulk_create([
            LedgerLine(entry=entry, account="fee", asset=btc, amount=D("1")),
            LedgerLine(entry=entry, account="adjust", asset=btc, amount=D("-1"))])
    assert_books_clean()


def test_settlement_batch_posts_in_three_queries(btc, usdt, django_assert_num_queries):
    from wallets.services import trades_settle
    from wallets.settlement import SettlementFill, SettlementRelease

    buyer, seller, staff = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    adjustment_post(user=buyer, asset=usdt, amount=D("1000"), reason="t", staff_user=staff)
    adjustment_post(user=seller, asset=btc, amount=D("1"), reason="t", staff_user=staff)
    with transaction.atomic():
        balance_reserve(user_id=buyer.id, asset_id=usdt.id, amount=D("1000"), ref="order:1")
        balance_reserve(user_id=seller.id, asset_id=btc.id, amount=D("1"), ref="order:2")
    fills = [SettlementFill(trade_id=i, buyer_id=buyer.id, seller_id=seller.id,
                            base_asset_id=btc.id, quote_asset_id=usdt.id,
                            base_qty=D("0.001"), quote_qty=D("1"), buyer_fee=D("0.000001"),
                            seller_fee=D("0.001")) for i in range(100)]
    releases = [SettlementRelease(user_id=buyer.id, asset_id=usdt.id, amount=D("1"),
                                  order_id=1)]
    with transaction.atomic(), django_assert_num_queries(3):
        trades_settle(fills=fills, releases=releases)
    assert Balance.objects.get(user=buyer, asset=btc).available == D("0.0999")
    assert Balance.objects.get(user=seller, asset=usdt).available == D("99.9")
