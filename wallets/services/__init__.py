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

__all__ = [
    "adjustment_post",
    "balance_release",
    "balance_reserve",
    "demo_topup",
    "trades_settle",
]
