"""Races against the real Postgres: threads with their own connections, no TestCase."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection, transaction

from exchange.api import ServiceError
from wallets.models import Balance, ChainBroadcast, Deposit, JournalEntry, Withdrawal
from wallets.services import (
    chain_deposit_simulate,
    deposit_credit,
    deposits_confirmations_advance,
    withdrawal_payout,
    withdrawal_request,
)
from wallets.services import withdrawals as withdrawals_module
from wallets.testing import assert_books_clean
from wallets.tests.helpers import (
    ADDRESS,
    backup_codes,
    fund,
    order_with_hold,
    run_concurrently,
    usable_address,
)

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def test_100_concurrent_withdrawals_of_the_full_balance_exactly_one_succeeds(
        btc, user, eager_celery):
    # given 0.5 BTC, withdrawable in full as 0.4998 + 0.0002 fee (no approval needed)
    fund(user, btc, "0.5")
    usable_address(user, btc)
    codes = backup_codes(user, 100)

    # when 100 requests race for it
    results = run_concurrently([
        (lambda c=c: withdrawal_request(user=user, asset=btc, address=ADDRESS,
                                        amount=D("0.4998"), otp_code=c))
        for c in codes])

    # then exactly one wins, every other one is refused for lack of funds
    wins = [r for r in results if isinstance(r, Withdrawal)]
    errors = [r for r in results if not isinstance(r, Withdrawal)]
    assert len(wins) == 1, errors[:3]
    assert {getattr(e, "code", repr(e)) for e in errors} == {"insufficient_balance"}
    balance = Balance.objects.get(user=user, asset=btc)
    assert balance.available == 0
    assert Withdrawal.objects.count() == 1
    assert Withdrawal.objects.get().status == Withdrawal.Status.COMPLETED  # eager payout
    assert_books_clean()


def test_reservation_racing_a_withdrawal_never_both_never_negative(btc, user, market):
    usable_address(user, btc)
    codes = iter(backup_codes(user, 40))
    for _round in range(15):
        # given exactly enough for either of them
        fund(user, btc, "1.0002")

        def reserve():
            return order_with_hold(user=user, market=market, asset=btc, amount=D("1.0002"))

        code = next(codes)

        def withdraw(code=code):
            return withdrawal_request(user=user, asset=btc, address=ADDRESS,
                                      amount=D("1"), otp_code=code)

        # when they race
        results = run_concurrently([reserve, withdraw], workers=2)

        # then exactly one of them got the funds
        succeeded = [r for r in results if not isinstance(r, Exception)]
        failed = [r for r in results if isinstance(r, Exception)]
        assert len(succeeded) == 1, results
        assert isinstance(failed[0], ServiceError)
        assert failed[0].code == "insufficient_balance"
        balance = Balance.objects.get(user=user, asset=btc)
        assert balance.available == 0 and balance.locked >= 0
        assert_books_clean()


def test_deposit_job_run_twice_and_concurrently_credits_once(btc, user):
    # given a deposit that reaches its 2 confirmations, seen twice by the chain
    deposit = chain_deposit_simulate(user=user, asset=btc, amount=D("0.3"), txid="ab" * 32)
    again = chain_deposit_simulate(user=user, asset=btc, amount=D("0.3"), txid="ab" * 32)
    assert again.pk == deposit.pk
    deposits_confirmations_advance()

    # when the job runs again, several times at once, then the credit is retried
    run_concurrently([deposits_confirmations_advance] * 8, workers=8)
    deposits_confirmations_advance()
    retried = run_concurrently([lambda: deposit_credit(deposit_id=deposit.pk)] * 8, workers=8)

    # then it was credited exactly once
    assert retried == [False] * 8
    assert Deposit.objects.get().status == Deposit.Status.CREDITED
    assert Balance.objects.get(user=user, asset=btc).available == D("0.3")
    assert JournalEntry.objects.filter(kind="deposit").count() == 1
    assert_books_clean()


def test_unconfirmed_deposit_is_not_credited(btc, user):
    deposit = chain_deposit_simulate(user=user, asset=btc, amount=D("0.3"))
    with pytest.raises(ServiceError) as err:
        deposit_credit(deposit_id=deposit.pk)
    assert err.value.code == "deposit_unconfirmed"
    assert not Balance.objects.filter(user=user, asset=btc, available__gt=0).exists()


@pytest.fixture
def pending_withdrawal(btc, user, monkeypatch):
    monkeypatch.setattr(withdrawals_module, "_payout_on_commit", lambda _id: None)
    fund(user, btc, "1")
    usable_address(user, btc)
    (code,) = backup_codes(user, 1)
    return withdrawal_request(user=user, asset=btc, address=ADDRESS, amount=D("0.5"),
                              otp_code=code)


def _assert_paid_once(withdrawal):
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.COMPLETED
    assert ChainBroadcast.objects.filter(withdrawal=withdrawal).count() == 1
    assert JournalEntry.objects.filter(kind="withdrawal").count() == 1
    assert JournalEntry.objects.filter(kind="withdrawal_fee").count() == 1
    assert Balance.objects.get(user=withdrawal.user, asset=withdrawal.asset).available == \
        D("0.4998")
    assert_books_clean()


def test_payout_failing_between_broadcast_and_completion_then_retried_pays_once(
        pending_withdrawal, monkeypatch):
    # given a worker that dies right after broadcasting
    real_complete = withdrawals_module.withdrawal_complete

    def crash(**kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(withdrawals_module, "withdrawal_complete", crash)
    with pytest.raises(RuntimeError):
        withdrawal_payout(withdrawal_id=pending_withdrawal.pk)
    assert Withdrawal.objects.get().status == Withdrawal.Status.PROCESSING

    # when the task is retried (twice, concurrently, then once more)
    monkeypatch.setattr(withdrawals_module, "withdrawal_complete", real_complete)
    run_concurrently([lambda: withdrawal_payout(withdrawal_id=pending_withdrawal.pk)] * 2, 2)
    withdrawal_payout(withdrawal_id=pending_withdrawal.pk)

    # then it was paid exactly once
    _assert_paid_once(pending_withdrawal)


def test_payout_process_killed_with_sigkill_mid_task_then_retried_pays_once(
        pending_withdrawal):
    # given a real worker process that broadcasts and is then killed before completing
    from django.conf import settings

    url = urlsplit(settings.DATABASE_URL)._replace(path="/" + connection.settings_dict["NAME"])
    env = dict(os.environ, DATABASE_URL=urlunsplit(url),
               DJANGO_SETTINGS_MODULE="exchange.settings", BOURSE_TESTING="1")
    script = textwrap.dedent(f"""
        import sys, time, django
        django.setup()
        from wallets.services import withdrawals as w
        real = w.chain_broadcast
        def broadcast_then_hang(**kwargs):
            result = real(**kwargs)
            print("BROADCAST", flush=True)
            time.sleep(120)
            return result
        w.chain_broadcast = broadcast_then_hang
        w.withdrawal_payout(withdrawal_id={pending_withdrawal.pk})
    """)
    worker = subprocess.Popen([sys.executable, "-c", script], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=str(os.getcwd()))
    try:
        line = worker.stdout.readline()
        assert line.strip() == "BROADCAST", worker.stderr.read()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert Withdrawal.objects.get().status == Withdrawal.Status.PROCESSING
    time.sleep(0.1)

    # when the task is retried
    withdrawal_payout(withdrawal_id=pending_withdrawal.pk)
    withdrawal_payout(withdrawal_id=pending_withdrawal.pk)

    # then it was paid exactly once
    _assert_paid_once(pending_withdrawal)


def test_cancel_releases_the_hold_and_a_cancelled_withdrawal_is_never_paid(
        pending_withdrawal, user):
    from wallets.services import withdrawal_cancel

    withdrawal_cancel(user=user, withdrawal_id=pending_withdrawal.pk)
    assert withdrawal_payout(withdrawal_id=pending_withdrawal.pk) is None
    balance = Balance.objects.get(user=user, asset=pending_withdrawal.asset)
    assert (balance.available, balance.locked) == (D("1"), D("0"))
    assert not ChainBroadcast.objects.exists()
    with transaction.atomic():
        assert_books_clean()
