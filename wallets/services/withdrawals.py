"""Withdrawals: address book, request (2FA, KYC daily limit, minimum, hold), staff
approval, rejection/cancellation, and the exactly-once payout to the simulated chain.

States: REQUESTED → (APPROVED) → PROCESSING → COMPLETED, or REJECTED / CANCELLED.
``amount + fee`` is locked from the request until it completes (then it leaves through
the outside-world and fee accounts) or is rejected/cancelled (then it is released).

Lock order: the withdrawal row FOR UPDATE first, then balance rows through
``balances_select_for_update``. Every transition re-reads the state under that lock, so
a retried, duplicated or killed task can never apply one twice."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from exchange.api import ServiceError
from wallets.ledger import EntrySpec, balances_select_for_update, ledger_post
from wallets.models import (
    Account,
    Asset,
    ChainBroadcast,
    Withdrawal,
    WithdrawalAddress,
    WithdrawalApproval,
)
from wallets.notify import (
    balance_delta_publish_on_commit,
    task_on_commit,
    wallet_email_on_commit,
)

S = Withdrawal.Status
AVAILABLE, LOCKED = Account.AVAILABLE.value, Account.LOCKED.value
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9]{10,100}$")


def _not_found() -> ServiceError:
    return ServiceError("not_found", "No such withdrawal.", http_status=404)


def _threshold(setting: str, symbol: str) -> Decimal | None:
    table = getattr(settings, setting, {}) or {}
    value = table.get(symbol, table.get("*"))
    return None if value is None else Decimal(str(value))


def approvals_required_for(*, asset: Asset, amount: Decimal) -> int:
    """0, 1 or 2 staff approvals: above ``WITHDRAWAL_APPROVAL_THRESHOLD[symbol]`` one,
    above ``WITHDRAWAL_DUAL_APPROVAL_THRESHOLD[symbol]`` two different staff members."""
    dual = _threshold("WITHDRAWAL_DUAL_APPROVAL_THRESHOLD", asset.symbol)
    single = _threshold("WITHDRAWAL_APPROVAL_THRESHOLD", asset.symbol)
    if dual is not None and amount > dual:
        return 2
    if single is not None and amount > single:
        return 1
    return 0


def withdrawal_address_add(*, user, asset: Asset, address: str,
                           label: str = "") -> WithdrawalAddress:
    """Adds an address-book entry, usable after ``WITHDRAWAL_ADDRESS_COOLDOWN`` seconds."""
    address = (address or "").strip()
    if not _ADDRESS_RE.match(address):
        raise ServiceError("invalid_address", "Addresses are 10-100 letters and digits.",
                           fields={"address": {"code": "invalid_address",
                                               "message": "Not a valid address."}})
    cooldown = timedelta(seconds=getattr(settings, "WITHDRAWAL_ADDRESS_COOLDOWN", 86400))
    try:
        with transaction.atomic(durable=True):
            return WithdrawalAddress.objects.create(
                user=user, asset=asset, address=address, label=(label or "")[:64],
                usable_after=timezone.now() + cooldown)
    except IntegrityError:
        raise ServiceError("address_exists", "This address is already in your book.") from None


def withdrawal_address_remove(*, user, address_id: int) -> None:
    deleted, _ = WithdrawalAddress.objects.filter(user=user, pk=address_id).delete()
    if not deleted:
        raise ServiceError("not_found", "No such address.", http_status=404)


def _validate_request(*, user, asset: Asset, address: str, amount: Decimal) -> None:
    if not asset.withdrawals_enabled:
        raise ServiceError("withdrawals_disabled", f"{asset.symbol} withdrawals are suspended.")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ServiceError("invalid_amount", "The amount must be positive.")
    if amount != amount.quantize(asset.quantum):
        raise ServiceError("too_many_decimals",
                           f"{asset.symbol} has {asset.precision} decimal places.")
    if amount < asset.min_withdrawal:
        raise ServiceError("below_minimum",
                           f"The minimum withdrawal is {asset.min_withdrawal} {asset.symbol}.")
    entry = WithdrawalAddress.objects.filter(user=user, asset=asset, address=address).first()
    if entry is None:
        raise ServiceError("address_not_in_book",
                           "Withdrawals go only to addresses in your address book.")
    if entry.usable_after > timezone.now():
        raise ServiceError("address_cooling_down",
                           f"This address becomes usable at {entry.usable_after:%Y-%m-%d %H:%M} "
                           "UTC.", http_status=403)


def withdrawal_request(*, user, asset: Asset, address: str, amount: Decimal, otp_code: str,
                       request=None) -> Withdrawal:
    """Requests a withdrawal of ``amount`` (plus the asset's fee) to a usable address-book
    entry, after a fresh 2FA code.

    Checks, in order: account not frozen (``account_frozen``), asset switch, amount
    (positive, asset precision, minimum), address book and cool-down, the 2FA code
    (consumed), then — under the lock of the (user, asset) balance row, which serialises
    the user's withdrawals of that asset — the KYC daily limit (Σ of today's non-
    rejected/cancelled withdrawals + amount, ``daily_limit_exceeded``) and the available
    balance (``insufficient_balance``). Moves amount + fee into the hold (ledger entry
    ``reserve``). Entry point (durable). After commit: email, and the payout task if no
    approval is needed."""
    from accounts.otp import otp_step_up_verify
    from accounts.selectors import kyc_daily_withdrawal_limit

    limit = kyc_daily_withdrawal_limit(user=user, asset=asset)
    _validate_request(user=user, asset=asset, address=address, amount=amount)
    otp_step_up_verify(user=user, code=otp_code, request=request)
    fee = asset.withdrawal_fee
    hold = amount + fee
    with transaction.atomic(durable=True):
        row = balances_select_for_update([(user.id, asset.id)])[(user.id, asset.id)]
        if limit is not None:
            day_start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
            used = (Withdrawal.objects.filter(user=user, asset=asset, created_at__gte=day_start)
                    .exclude(status__in=[S.REJECTED, S.CANCELLED])
                    .aggregate(s=Sum("amount"))["s"] or Decimal(0))
            if used + amount > limit:
                raise ServiceError(
                    "daily_limit_exceeded",
                    f"Your daily {asset.symbol} withdrawal limit is {limit}; "
                    f"{max(limit - used, Decimal(0))} remains today.", http_status=403)
        if row.available < hold:
            raise ServiceError("insufficient_balance",
                               f"Amount plus the {fee} {asset.symbol} fee exceeds your "
                               "available balance.")
        withdrawal = Withdrawal.objects.create(
            user=user, asset=asset, address=address, amount=amount, fee=fee,
            approvals_required=approvals_required_for(asset=asset, amount=amount))
        ledger_post([EntrySpec("reserve", "withdrawal", str(withdrawal.id), [
            (AVAILABLE, user.id, asset.id, -hold), (LOCKED, user.id, asset.id, hold)])])
        balance_delta_publish_on_commit(user_id=user.id, asset=asset.symbol, delta=-hold)
        wallet_email_on_commit(
            user=user, subject=f"{asset.symbol} withdrawal requested",
            body=f"You requested a withdrawal of {amount} {asset.symbol} (fee {fee}) to "
                 f"{address}. If this was not you, contact support immediately.")
        if withdrawal.approvals_required == 0:
            _payout_on_commit(withdrawal.id)
    return withdrawal


def _payout_on_commit(withdrawal_id: int) -> None:
    from wallets.tasks import withdrawal_payout_task

    task_on_commit(withdrawal_payout_task, withdrawal_id)


def _locked(withdrawal_id: int, **filters) -> Withdrawal:
    withdrawal = (Withdrawal.objects.select_for_update(of=("self",))
                  .select_related("asset", "user").filter(pk=withdrawal_id, **filters).first())
    if withdrawal is None:
        raise _not_found()
    return withdrawal


def _staff_check(staff_user) -> None:
    if staff_user is None or not staff_user.is_staff:
        raise ServiceError("staff_required", "Only staff may do this.", http_status=403)


def _invalid_state(withdrawal: Withdrawal) -> ServiceError:
    return ServiceError("invalid_state", f"The withdrawal is {withdrawal.status}.",
                        http_status=409)


def withdrawal_approve(*, withdrawal_id: int, staff_user) -> Withdrawal:
    """Records ``staff_user``'s approval (not the requester's own; once per staff member);
    when the required number is reached the state becomes APPROVED and the payout task
    is queued after commit. Entry point (durable); locks the withdrawal row."""
    _staff_check(staff_user)
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status != S.REQUESTED or withdrawal.approvals_required == 0:
            raise _invalid_state(withdrawal)
        if withdrawal.user_id == staff_user.id:
            raise ServiceError("self_approval", "You cannot approve your own withdrawal.",
                               http_status=403)
        if WithdrawalApproval.objects.filter(withdrawal=withdrawal,
                                             staff_user=staff_user).exists():
            raise ServiceError("already_approved", "You have already approved it; a "
                               "different staff member must approve too.", http_status=409)
        WithdrawalApproval.objects.create(withdrawal=withdrawal, staff_user=staff_user)
        if withdrawal.approvals.count() >= withdrawal.approvals_required:
            withdrawal.status = S.APPROVED
            withdrawal.save(update_fields=["status", "updated_at"])
            _payout_on_commit(withdrawal.id)
    return withdrawal


def _release_hold(withdrawal: Withdrawal, new_status: str, reason: str) -> None:
    balances_select_for_update([(withdrawal.user_id, withdrawal.asset_id)])
    ledger_post([EntrySpec("release", "withdrawal", str(withdrawal.id), [
        (LOCKED, withdrawal.user_id, withdrawal.asset_id, -withdrawal.hold),
        (AVAILABLE, withdrawal.user_id, withdrawal.asset_id, withdrawal.hold)])])
    balance_delta_publish_on_commit(user_id=withdrawal.user_id, asset=withdrawal.asset.symbol,
                                    delta=withdrawal.hold)
    withdrawal.status = new_status
    withdrawal.reason = reason[:500]
    withdrawal.save(update_fields=["status", "reason", "updated_at"])


def withdrawal_reject(*, withdrawal_id: int, staff_user, reason: str) -> Withdrawal:
    """Staff refuse a REQUESTED or APPROVED withdrawal; the hold is released and the user
    emailed after commit. Entry point (durable); locks the withdrawal, then the balance."""
    _staff_check(staff_user)
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status not in (S.REQUESTED, S.APPROVED):
            raise _invalid_state(withdrawal)
        _release_hold(withdrawal, S.REJECTED, reason or "rejected by staff")
        wallet_email_on_commit(
            user=withdrawal.user, subject=f"{withdrawal.asset.symbol} withdrawal rejected",
            body=f"Your withdrawal of {withdrawal.amount} {withdrawal.asset.symbol} was "
                 f"rejected: {withdrawal.reason}. The funds are available again.")
    return withdrawal


def withdrawal_cancel(*, user, withdrawal_id: int) -> Withdrawal:
    """The owner cancels a withdrawal not yet processing; the hold is released. Another
    user's withdrawal is 404. Entry point (durable); locks withdrawal then balance."""
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id, user=user)
        if withdrawal.status not in (S.REQUESTED, S.APPROVED):
            raise _invalid_state(withdrawal)
        _release_hold(withdrawal, S.CANCELLED, "cancelled by user")
    return withdrawal


def _txid_for(withdrawal_id: int) -> str:
    return hashlib.sha256(f"bourse-withdrawal:{withdrawal_id}".encode()).hexdigest()


def withdrawal_processing_start(*, withdrawal_id: int) -> Withdrawal | None:
    """REQUESTED (no approval needed) or APPROVED → PROCESSING with its deterministic
    txid; PROCESSING stays as is. Returns None when there is nothing to pay (awaiting
    approval, rejected, cancelled, completed). Entry point (durable)."""
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        ready = (withdrawal.status == S.APPROVED
                 or (withdrawal.status == S.REQUESTED and withdrawal.approvals_required == 0))
        if ready:
            withdrawal.status = S.PROCESSING
            withdrawal.txid = _txid_for(withdrawal.id)
            withdrawal.save(update_fields=["status", "txid", "updated_at"])
        elif withdrawal.status != S.PROCESSING:
            return None
    return withdrawal


def chain_broadcast(*, withdrawal: Withdrawal) -> ChainBroadcast:
    """The simulated chain accepts the signed transaction. Like a real chain it accepts a
    given txid once: broadcasting again (a retried task) returns the same transaction."""
    with transaction.atomic(durable=True):
        broadcast, _ = ChainBroadcast.objects.get_or_create(
            withdrawal_id=withdrawal.id,
            defaults={"txid": withdrawal.txid, "address": withdrawal.address,
                      "amount": withdrawal.amount})
    return broadcast


def withdrawal_complete(*, withdrawal_id: int) -> Withdrawal:
    """PROCESSING and broadcast → COMPLETED: the hold leaves through the outside-world
    account (``withdrawal`` entry) and the fee account (``withdrawal_fee`` entry); email
    after commit. Already COMPLETED: no-op. Entry point (durable); locks the withdrawal,
    then the balance; the journal's unique (kind, ref) forbids a second booking."""
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status == S.COMPLETED:
            return withdrawal
        if withdrawal.status != S.PROCESSING or not ChainBroadcast.objects.filter(
                withdrawal=withdrawal).exists():
            raise _invalid_state(withdrawal)
        user_id, asset_id = withdrawal.user_id, withdrawal.asset_id
        balances_select_for_update([(user_id, asset_id)])
        specs = [EntrySpec("withdrawal", "withdrawal", str(withdrawal.id), [
            (LOCKED, user_id, asset_id, -withdrawal.amount),
            (Account.WORLD.value, None, asset_id, withdrawal.amount)],
            detail={"txid": withdrawal.txid})]
        if withdrawal.fee:
            specs.append(EntrySpec("withdrawal_fee", "withdrawal", str(withdrawal.id), [
                (LOCKED, user_id, asset_id, -withdrawal.fee),
                (Account.FEE.value, None, asset_id, withdrawal.fee)]))
        ledger_post(specs)
        withdrawal.status = S.COMPLETED
        withdrawal.completed_at = timezone.now()
        withdrawal.save(update_fields=["status", "completed_at", "updated_at"])
        wallet_email_on_commit(
            user=withdrawal.user, subject=f"{withdrawal.asset.symbol} withdrawal completed",
            body=f"{withdrawal.amount} {withdrawal.asset.symbol} was sent to "
                 f"{withdrawal.address} in transaction {withdrawal.txid}.")
    return withdrawal


def withdrawal_payout(*, withdrawal_id: int) -> Withdrawal | None:
    """The payout task's body: start processing, broadcast, complete — three steps, each
    its own transaction and each idempotent, so running it again after a crash between
    any two of them (or concurrently) pays exactly once."""
    withdrawal = withdrawal_processing_start(withdrawal_id=withdrawal_id)
    if withdrawal is None:
        return None
    chain_broadcast(withdrawal=withdrawal)
    return withdrawal_complete(withdrawal_id=withdrawal_id)


def withdrawals_payout_sweep() -> int:
    """Beat job: pays out withdrawals whose task was lost (ready or stuck in PROCESSING
    for over a minute). Returns how many it completed."""
    cutoff = timezone.now() - timedelta(minutes=1)
    ids = list(Withdrawal.objects.filter(updated_at__lt=cutoff, status__in=[
        S.APPROVED, S.PROCESSING]).values_list("id", flat=True)) + list(
        Withdrawal.objects.filter(updated_at__lt=cutoff, status=S.REQUESTED,
                                  approvals_required=0).values_list("id", flat=True))
    return sum(withdrawal_payout(withdrawal_id=i) is not None for i in sorted(ids))
