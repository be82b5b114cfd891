"""The only code that changes money. Every service states its locking contract; they all
lock balance rows through ``wallets.ledger.balances_select_for_update`` (one query,
primary-key order) and write balances only together with the ledger lines that explain
them, in the same transaction."""

from wallets.services.balances import (
    adjustment_post,
    balance_release,
    balance_reserve,
    demo_topup,
    trades_settle,
)
from wallets.services.deposits import (
    chain_deposit_simulate,
    deposit_address_get,
    deposit_credit,
    deposits_confirmations_advance,
)
from wallets.services.withdrawals import (
    withdrawal_address_add,
    withdrawal_address_remove,
    withdrawal_approve,
    withdrawal_cancel,
    withdrawal_complete,
    withdrawal_payout,
    withdrawal_reject,
    withdrawal_request,
)

__all__ = [
    "adjustment_post",
    "balance_release",
    "balance_reserve",
    "chain_deposit_simulate",
    "demo_topup",
    "deposit_address_get",
    "deposit_credit",
    "deposits_confirmations_advance",
    "trades_settle",
    "withdrawal_address_add",
    "withdrawal_address_remove",
    "withdrawal_approve",
    "withdrawal_cancel",
    "withdrawal_complete",
    "withdrawal_payout",
    "withdrawal_reject",
    "withdrawal_request",
]
