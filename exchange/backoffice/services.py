"""Staff actions. Each one checks the staff member's permission, calls the service of the
app that owns the data (accounts, wallets, orders), and writes one staff audit entry
through ``staff_action_record``.

Other apps' services are entry points (``atomic(durable=True)``), so they cannot run
inside a transaction of ours: the audit entry is written right after the owning service
commits, with the "before" values read just before the call. If the process died between
the two, the action would stand without its audit entry; the owning apps' own records
(ledger entry with ``staff_user``, withdrawal approvals, security events) still name the
staff member.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.forms.models import model_to_dict

from exchange.api import ServiceError
from exchange.models import StaffAuditLog


def _client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def staff_action_record(
    *,
    staff_user,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    request=None,
) -> StaffAuditLog:
    """Append one entry to the staff audit log. Works inside the caller's transaction
    (then it commits or rolls back with the action) or on its own."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return StaffAuditLog.objects.create(
        staff_user=staff_user,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        reason=reason,
        ip_address=_client_ip(request),
    )


def _require(staff_user, perm: str) -> None:
    if not (staff_user and staff_user.is_active and staff_user.is_staff
            and staff_user.has_perm(perm)):
        raise PermissionDenied(f"missing permission {perm}")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required", "A reason is required.",
                           fields={"reason": {"code": "required", "message": "Required."}})
    return reason


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """JSON-able values of a model's concrete fields (or the given ones)."""
    data = model_to_dict(obj, fields=fields)
    out = {}
    for key, value in data.items():
        if isinstance(value, Decimal | int | float | bool | str) or value is None:
            out[key] = str(value) if isinstance(value, Decimal) else value
        elif isinstance(value, list):
            out[key] = [getattr(v, "pk", v) for v in value]
        else:
            out[key] = str(value)
    return out


def _call_service(path: str) -> Callable:
    """Import ``app.module.function`` at call time: the owning app may not be built yet."""
    module_name, _, func_name = path.rpartition(".")
    import importlib

    try:
        module = importlib.import_module(module_name)
        return getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise ServiceError("service_unavailable", f"{path} is not available yet.",
                           http_status=503) from exc


def _reload(obj: models.Model) -> models.Model:
    return type(obj)._default_manager.get(pk=obj.pk)


def _not_on_self_or_staff(*, staff_user, user, what: str) -> None:
    """Nobody acts on their own account; only a superuser acts on another staff member."""
    if user.pk == staff_user.pk:
        raise ServiceError("self_action", f"You cannot {what} your own account.",
                           http_status=403)
    if (user.is_staff or user.is_superuser) and not staff_user.is_superuser:
        raise ServiceError("staff_target", f"Only a superuser may {what} a staff account.",
                           http_status=403)


# --- users -----------------------------------------------------------------------------

USER_STATE_FIELDS = ["state", "frozen_reason", "is_active", "kyc_tier"]


def staff_user_freeze(*, staff_user, user, reason: str, request=None):
    _require(staff_user, "exchange.user_freeze")
    reason = _require_reason(reason)
    _not_on_self_or_staff(staff_user=staff_user, user=user, what="freeze")
    before = snapshot(_reload(user), USER_STATE_FIELDS)
    _call_service("accounts.services.user_freeze")(user=user, reason=reason, request=request,
                                                   staff_user=staff_user)
    user = _reload(user)
    staff_action_record(staff_user=staff_user, action="user.freeze", obj=user, before=before,
                        after=snapshot(user, USER_STATE_FIELDS), reason=reason, request=request)
    return user


def staff_user_unfreeze(*, staff_user, user, reason: str, request=None):
    _require(staff_user, "exchange.user_freeze")
    reason = _require_reason(reason)
    _not_on_self_or_staff(staff_user=staff_user, user=user, what="unfreeze")
    before = snapshot(_reload(user), USER_STATE_FIELDS)
    _call_service("accounts.services.user_unfreeze")(user=user, reason=reason, request=request,
                                                     staff_user=staff_user)
    user = _reload(user)
    staff_action_record(staff_user=staff_user, action="user.unfreeze", obj=user, before=before,
                        after=snapshot(user, USER_STATE_FIELDS), reason=reason, request=request)
    return user


# --- markets ---------------------------------------------------------------------------

MARKET_RULE_FIELDS = [
    "symbol", "base", "quote", "tick_size", "step_size", "min_qty", "max_qty", "min_notional",
    "price_band_pct", "maker_fee", "taker_fee", "reference_price", "status",
]


#: Rules the matcher's in-memory book is built with: prices and quantities of resting
#: orders are integer multiples of these, so they change only on an empty book.
BOOK_UNIT_FIELDS = ("tick_size", "step_size")


def market_unit_change_problem(*, market_id: int | None, tick_size, step_size) -> str | None:
    """Why a market may not take these units, or ``None``.

    Changing the tick or step size of a market with open orders would leave resting prices
    and quantities that are not multiples of the new units: the matcher could neither keep
    matching them at the old units nor rebuild its book at the new ones. Halt the market and
    cancel its orders first.
    """
    if market_id is None:
        return None
    from marketdata.models import Market
    from orders.models import Order

    saved = Market.objects.filter(pk=market_id).values(*BOOK_UNIT_FIELDS).first()
    if saved is None or (saved["tick_size"] == tick_size and saved["step_size"] == step_size):
        return None
    if Order.objects.filter(market_id=market_id, status__in=Order.OPEN_STATUSES).exists():
        return ("Tick and step size change only while the market has no open orders: halt it "
                "and cancel all its orders first.")
    return None


def staff_market_rules_save(*, staff_user, market, changed: bool, reason: str = "",
                            request=None):
    """Create or edit a market's rules (not its status: that goes through the matcher's
    path, ``staff_market_status_set``). ``market`` is the unsaved form instance."""
    _require(staff_user, "marketdata.change_market" if changed else "marketdata.add_market")
    # Called from ModelAdmin.save_model, which Django already runs inside an atomic block.
    with transaction.atomic():
        before = None
        if changed and market.pk:
            before = snapshot(type(market).objects.select_for_update().get(pk=market.pk),
                              MARKET_RULE_FIELDS)
            problem = market_unit_change_problem(
                market_id=market.pk, tick_size=market.tick_size, step_size=market.step_size)
            if problem:
                raise ServiceError("market_has_open_orders", problem)
            # Status only changes through market_status_set.
            market.status = before["status"]
        market.save()
        staff_action_record(
            staff_user=staff_user, action="market.change" if changed else "market.create",
            obj=market, before=before, after=snapshot(_reload(market), MARKET_RULE_FIELDS),
            reason=reason, request=request,
        )
    return market


def staff_market_status_set(*, staff_user, market, status: str, reason: str = "",
                            request=None):
    _require(staff_user, "exchange.market_control")
    before = {"status": market.status}
    _call_service("orders.services.market_status_set")(
        market=market, status=status, staff_user=staff_user
    )
    market = _reload(market)
    staff_action_record(staff_user=staff_user, action=f"market.status.{status.lower()}",
                        obj=market, before=before, after={"status": market.status},
                        reason=reason, request=request)
    return market


def staff_market_cancel_all_orders(*, staff_user, market, reason: str, request=None) -> int:
    _require(staff_user, "exchange.market_control")
    reason = _require_reason(reason)
    count = _call_service("orders.services.market_cancel_all_orders")(
        market=market, staff_user=staff_user
    )
    staff_action_record(staff_user=staff_user, action="market.cancel_all_orders", obj=market,
                        before={"status": market.status}, after={"cancel_requested": count},
                        reason=reason, request=request)
    return count


USER_ACCESS_FIELDS = ["is_active", "is_staff", "is_superuser", "groups"]


def staff_user_access_save(*, staff_user, user, form, request=None):
    """A superuser changes a staff member's access (active, staff, superuser, roles)."""
    if not staff_user.is_superuser:
        raise PermissionDenied("only a superuser changes staff access")
    with transaction.atomic():  # inside the admin's changeform transaction
        before = snapshot(type(user).objects.select_for_update().get(pk=user.pk),
                          USER_ACCESS_FIELDS)
        user.save()
        form.save_m2m()
        after = snapshot(_reload(user), USER_ACCESS_FIELDS)
        if after != before:
            staff_action_record(staff_user=staff_user, action="user.access", obj=user,
                                before=before, after=after, request=request)
    return user


# --- KYC -------------------------------------------------------------------------------

KYC_FIELDS = ["status", "tier", "reason", "reviewed_by", "reviewed_at"]


def _kyc_decide(*, staff_user, submission, reason: str, approve: bool, request=None):
    _require(staff_user, "exchange.kyc_decide")
    reason = _require_reason(reason)
    submission = _reload(submission)
    before = snapshot(submission, KYC_FIELDS)
    user_before = snapshot(submission.user, USER_STATE_FIELDS)
    if approve:
        _call_service("accounts.services.kyc_approve")(
            submission_id=submission.pk, staff_user=staff_user, request=request)
    else:
        _call_service("accounts.services.kyc_reject")(
            submission_id=submission.pk, staff_user=staff_user, reason=reason, request=request)
    submission = _reload(submission)
    after = snapshot(submission, KYC_FIELDS)
    after["user"] = snapshot(submission.user, USER_STATE_FIELDS)
    before["user"] = user_before
    staff_action_record(staff_user=staff_user, action=f"kyc.{'approve' if approve else 'reject'}",
                        obj=submission, before=before, after=after, reason=reason,
                        request=request)
    return submission


def staff_kyc_approve(*, staff_user, submission, reason: str, request=None):
    return _kyc_decide(staff_user=staff_user, submission=submission, reason=reason,
                       approve=True, request=request)


def staff_kyc_reject(*, staff_user, submission, reason: str, request=None):
    return _kyc_decide(staff_user=staff_user, submission=submission, reason=reason,
                       approve=False, request=request)


# --- money -----------------------------------------------------------------------------

def _balance_snapshot(user, asset) -> dict[str, str]:
    from wallets.models import Balance

    row = Balance.objects.filter(user=user, asset=asset).first()
    if row is None:
        return {"available": "0", "locked": "0"}
    return {"available": str(row.available), "locked": str(row.locked)}


def staff_adjustment_post(*, staff_user, user, asset, amount: Decimal, reason: str,
                          request=None):
    """A signed correction of ``user``'s available ``asset`` balance, posted as a journal
    entry by ``wallets.services.adjustment_post`` (the only way staff change money)."""
    _require(staff_user, "exchange.adjustment_post")
    reason = _require_reason(reason)
    _not_on_self_or_staff(staff_user=staff_user, user=user, what="adjust the balance of")
    before = _balance_snapshot(user, asset)
    entry = _call_service("wallets.services.adjustment_post")(
        user=user, asset=asset, amount=amount, reason=reason, staff_user=staff_user
    )
    after = {**_balance_snapshot(user, asset), "journal_entry": entry.pk,
             "amount": str(amount), "asset": asset.symbol}
    staff_action_record(staff_user=staff_user, action="balance.adjust", obj=user,
                        before={**before, "asset": asset.symbol}, after=after, reason=reason,
                        request=request)
    return entry


WITHDRAWAL_FIELDS = ["status", "amount", "fee", "approvals_required", "reason", "txid"]


def _withdrawal_snapshot(withdrawal) -> dict[str, Any]:
    data = snapshot(withdrawal, WITHDRAWAL_FIELDS)
    approvals = getattr(withdrawal, "approvals", None)
    if approvals is not None:
        data["approved_by"] = sorted(approvals.values_list("staff_user_id", flat=True))
    return data


def staff_withdrawal_approve(*, staff_user, withdrawal, reason: str = "", request=None):
    """One approval. Above the second threshold the withdrawal needs two different
    approvers; ``wallets.services.withdrawal_approve`` enforces that (one approval per
    staff member, a unique constraint backs it) and notifies the user."""
    _require(staff_user, "exchange.withdrawal_decide")
    withdrawal = _reload(withdrawal)
    before = _withdrawal_snapshot(withdrawal)
    _call_service("wallets.services.withdrawal_approve")(
        withdrawal_id=withdrawal.pk, staff_user=staff_user
    )
    withdrawal = _reload(withdrawal)
    staff_action_record(staff_user=staff_user, action="withdrawal.approve", obj=withdrawal,
                        before=before, after=_withdrawal_snapshot(withdrawal),
                        reason=reason.strip(), request=request)
    return withdrawal


def staff_withdrawal_reject(*, staff_user, withdrawal, reason: str, request=None):
    _require(staff_user, "exchange.withdrawal_decide")
    reason = _require_reason(reason)
    withdrawal = _reload(withdrawal)
    before = _withdrawal_snapshot(withdrawal)
    _call_service("wallets.services.withdrawal_reject")(
        withdrawal_id=withdrawal.pk, staff_user=staff_user, reason=reason
    )
    withdrawal = _reload(withdrawal)
    staff_action_record(staff_user=staff_user, action="withdrawal.reject", obj=withdrawal,
                        before=before, after=_withdrawal_snapshot(withdrawal), reason=reason,
                        request=request)
    return withdrawal


def staff_object_save(*, staff_user, obj, changed: bool, fields: list[str], request=None):
    """Generic audited save for reference data edited in the admin (assets). Runs inside
    the admin's changeform transaction."""
    with transaction.atomic():
        before = None
        if changed and obj.pk:
            before = snapshot(type(obj).objects.select_for_update().get(pk=obj.pk), fields)
        obj.save()
        staff_action_record(staff_user=staff_user,
                            action=f"{obj._meta.model_name}.{'change' if changed else 'create'}",
                            obj=obj, before=before, after=snapshot(_reload(obj), fields),
                            request=request)
    return obj
