"""Demo funding through the ledger: ``fund_to_target`` tops a demo balance up with an
adjustment entry posted by ``wallets.services.demo_topup``, so the books explain every
unit (and reconcile) from the first ``make run``."""

from decimal import Decimal


def fund_to_target(*, user, asset, target) -> None:
    from wallets.services import demo_topup

    demo_topup(user=user, asset=asset, target=Decimal(target))
