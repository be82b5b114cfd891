"""Until the ledger exists this writes balances directly; the wallets issue replaces it
with an adjustment posted through ``wallets.services`` so the ledger explains it."""

from wallets.models import Balance


def fund_to_target(*, user, asset, target) -> None:
    balance, _ = Balance.objects.get_or_create(user=user, asset=asset)
    total = balance.available + balance.locked
    if total < target:
        balance.available += target - total
        balance.save(update_fields=["available", "updated_at"])
