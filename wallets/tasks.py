"""Celery tasks: each fetches its arguments and calls one service, nothing more."""

from celery import shared_task


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=10)
def withdrawal_payout_task(withdrawal_id: int) -> str | None:
    from wallets.services.withdrawals import withdrawal_payout

    withdrawal = withdrawal_payout(withdrawal_id=withdrawal_id)
    return None if withdrawal is None else withdrawal.status


@shared_task
def withdrawals_payout_sweep_task() -> int:
    from wallets.services.withdrawals import withdrawals_payout_sweep

    return withdrawals_payout_sweep()


@shared_task
def deposits_confirmations_advance_task() -> int:
    from wallets.services.deposits import deposits_confirmations_advance

    return deposits_confirmations_advance()


@shared_task
def reconciliation_run_task() -> bool:
    from wallets.reconciliation import reconciliation_run

    return reconciliation_run().ok
