"""Reads of wallet data for one user (another user's rows are never returned)."""

from wallets.models import (
    Balance,
    Deposit,
    LedgerLine,
    ReconciliationRun,
    Withdrawal,
    WithdrawalAddress,
)


def balances_for_user(*, user):
    return Balance.objects.filter(user=user).select_related("asset").order_by("asset__symbol")


def ledger_lines_for_user(*, user, asset: str | None = None, kind: str | None = None):
    qs = LedgerLine.objects.filter(user=user).select_related("entry", "asset")
    if asset:
        qs = qs.filter(asset__symbol=asset.upper())
    if kind:
        qs = qs.filter(entry__kind=kind)
    return qs


def deposits_for_user(*, user, limit: int = 100):
    return Deposit.objects.filter(user=user).select_related("asset")[:limit]


def withdrawals_for_user(*, user, limit: int = 100):
    return Withdrawal.objects.filter(user=user).select_related("asset")[:limit]


def withdrawal_addresses_for_user(*, user):
    return WithdrawalAddress.objects.filter(user=user).select_related("asset")


def reconciliation_last() -> ReconciliationRun | None:
    """The most recent stored reconciliation run (one index probe on the primary key)."""
    return ReconciliationRun.objects.order_by("-id").only("id", "difference_count").first()
