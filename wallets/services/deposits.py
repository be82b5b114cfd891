"""Deposits from the simulated chain: addresses, incoming transactions, crediting.

Lock order (shared with withdrawals): the business row (deposit) first, then balance
rows through ``balances_select_for_update``."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from exchange.api import ServiceError
from wallets.ledger import EntrySpec, balances_select_for_update, ledger_post
from wallets.models import Account, Asset, Deposit, DepositAddress
from wallets.notify import balance_delta_publish_on_commit, wallet_email_on_commit


def deposit_address_for(*, user_id: int, symbol: str) -> str:
    """Deterministic simulated address: the same user and asset always get the same one."""
    digest = hashlib.sha256(f"bourse-deposit:{user_id}:{symbol}".encode()).hexdigest()
    return f"sim{symbol.lower()}1{digest[:38]}"


def deposit_address_get(*, user, asset: Asset) -> DepositAddress:
    """The user's deposit address for ``asset``, created on first use. Idempotent and
    safe under concurrency (unique (user, asset) + retry on conflict)."""
    address = deposit_address_for(user_id=user.id, symbol=asset.symbol)
    try:
        with transaction.atomic():
            obj, _ = DepositAddress.objects.get_or_create(
                user=user, asset=asset, defaults={"address": address})
    except IntegrityError:
        obj = DepositAddress.objects.get(user=user, asset=asset)
    return obj


def chain_deposit_simulate(*, user, asset: Asset, amount: Decimal, txid: str | None = None,
                           output_index: int = 0) -> Deposit:
    """Development only: the simulated chain sees a transaction paying ``amount`` to the
    user's deposit address. The same (txid, output_index) twice is the same deposit.

    Entry point (durable); no balance changes here (``deposit_credit`` does that once
    the confirmations are reached)."""
    if not asset.deposits_enabled:
        raise ServiceError("deposits_disabled", f"{asset.symbol} deposits are suspended.")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ServiceError("invalid_amount", "The amount must be positive.")
    if amount != amount.quantize(asset.quantum):
        raise ServiceError("too_many_decimals",
                           f"{asset.symbol} has {asset.precision} decimal places.")
    address = deposit_address_get(user=user, asset=asset).address
    txid = txid or secrets.token_hex(32)
    with transaction.atomic(durable=True):
        deposit, _ = Deposit.objects.get_or_create(
            txid=txid, output_index=output_index,
            defaults={"user": user, "asset": asset, "address": address, "amount": amount})
    return deposit


def deposit_credit(*, deposit_id: int) -> bool:
    """Credits a confirmed deposit to the user's available balance, exactly once: returns
    True if it credited now, False if it had been credited before.

    Entry point (durable). Locks the deposit row FOR UPDATE, then the balance row; the
    journal's unique (kind, ref) is a second guard against double credit. Raises
    ``deposit_unconfirmed`` before the asset's confirmation count. Emails after commit."""
    with transaction.atomic(durable=True):
        deposit = (Deposit.objects.select_for_update(of=("self",))
                   .select_related("asset", "user").get(pk=deposit_id))
        if deposit.status == Deposit.Status.CREDITED:
            return False
        if deposit.confirmations < deposit.asset.confirmations_required:
            raise ServiceError("deposit_unconfirmed", "Not enough confirmations yet.")
        balances_select_for_update([(deposit.user_id, deposit.asset_id)])
        ledger_post([EntrySpec("deposit", "deposit", str(deposit.id), [
            (Account.WORLD.value, None, deposit.asset_id, -deposit.amount),
            (Account.AVAILABLE.value, deposit.user_id, deposit.asset_id, deposit.amount),
        ], detail={"txid": deposit.txid, "output_index": deposit.output_index})])
        deposit.status = Deposit.Status.CREDITED
        deposit.credited_at = timezone.now()
        deposit.save(update_fields=["status", "credited_at"])
        balance_delta_publish_on_commit(user_id=deposit.user_id, asset=deposit.asset.symbol,
                                        delta=deposit.amount)
        wallet_email_on_commit(
            user=deposit.user, subject=f"{deposit.asset.symbol} deposit credited",
            body=f"{deposit.amount} {deposit.asset.symbol} from transaction {deposit.txid} "
                 "has been credited to your account.")
    return True


def deposits_confirmations_advance() -> int:
    """The beat job: the simulated chain mines a block (every pending deposit gains a
    confirmation), then every pending deposit that has reached its asset's count is
    credited through ``deposit_credit`` (once each, however often this runs, also
    concurrently). Returns how many were credited by this call."""
    with transaction.atomic(durable=True):
        Deposit.objects.filter(status=Deposit.Status.PENDING).update(
            confirmations=F("confirmations") + 1)
    ready = (Deposit.objects.filter(status=Deposit.Status.PENDING,
                                    confirmations__gte=F("asset__confirmations_required"))
             .order_by("id").values_list("id", flat=True))
    return sum(deposit_credit(deposit_id=deposit_id) for deposit_id in list(ready))
