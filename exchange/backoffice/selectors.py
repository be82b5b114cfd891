"""Reads for the back office: dashboard figures, matcher status, the user overview."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Count, Q, Sum
from django.utils import timezone

from exchange.health import MATCHER_HEARTBEAT_KEY, redis_client


def _model(label: str):
    """A model another app may not have built yet, or None."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _field_names(model) -> set[str]:
    return {f.name for f in model._meta.get_fields()}


# --- matcher status --------------------------------------------------------------------

@dataclass
class MatcherStatus:
    symbol: str
    epoch: str | None = None
    last_sequence: str | None = None
    lag: str | None = None
    last_batch_ms: str | None = None
    heartbeat_age: float | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        from django.conf import settings

        return (self.heartbeat_age is not None
                and self.heartbeat_age <= settings.MATCHER_HEARTBEAT_MAX_AGE)


def matcher_status_for(symbols: list[str]) -> tuple[list[MatcherStatus], dict[str, float]]:
    """Read ``matcher:status:{SYMBOL}`` for each market and ``matcher:heartbeat``.

    Returns the per-market statuses and {matcher id: heartbeat age in seconds}. Redis
    being down gives empty statuses, not an error: the dashboard must still render."""
    now = time.time()
    try:
        client = redis_client()
        pipe = client.pipeline(transaction=False)
        for symbol in symbols:
            pipe.hgetall(f"matcher:status:{{{symbol}}}")
            pipe.hgetall(f"matcher:status:{symbol}")
        pipe.hgetall(MATCHER_HEARTBEAT_KEY)
        results = pipe.execute()
    except Exception:
        return [MatcherStatus(symbol=s) for s in symbols], {}
    beats = {
        k.decode(): now - float(v) for k, v in results[-1].items()
    }
    out = []
    for i, symbol in enumerate(symbols):
        # The contract names the key matcher:status:{SYMBOL}; accept it with or without
        # the Redis Cluster hash-tag braces.
        raw_bytes = results[2 * i] or results[2 * i + 1]
        raw = {k.decode(): v.decode() for k, v in raw_bytes.items()}
        age = None
        if raw.get("heartbeat"):
            try:
                age = max(0.0, now - float(raw["heartbeat"]))
            except ValueError:
                age = None
        elif raw.get("matcher") in beats:
            # No per-market heartbeat: the owning matcher's process heartbeat.
            age = max(0.0, beats[raw["matcher"]])
        out.append(MatcherStatus(
            symbol=symbol, epoch=raw.get("epoch"), last_sequence=raw.get("last_sequence"),
            lag=raw.get("lag"), last_batch_ms=raw.get("last_batch_ms"), heartbeat_age=age,
            raw=raw,
        ))
    return out, beats


# --- dashboard -------------------------------------------------------------------------

def market_volume_24h(*, now=None) -> list[dict[str, Any]]:
    """Per market over the last 24 hours: trade count, base volume, quote volume, and
    fees (buyer fees in base, seller fees in quote)."""
    from marketdata.models import Market, Trade

    since = (now or timezone.now()) - timedelta(hours=24)
    rows = {
        r["market_id"]: r
        for r in Trade.objects.filter(created_at__gte=since).values("market_id").annotate(
            trades=Count("id"), volume=Sum("quantity"), quote_volume=Sum("quote_quantity"),
            buyer_fees=Sum("buyer_fee"), seller_fees=Sum("seller_fee"),
        )
    }
    open_orders = {}
    Order = _model("orders.Order")
    if Order is not None:
        open_orders = dict(
            Order.objects.filter(status__in=["NEW", "PARTIALLY_FILLED"])
            .values_list("market_id").annotate(n=Count("id")).values_list("market_id", "n")
        )
    out = []
    for market in Market.objects.select_related("base", "quote").order_by("symbol"):
        r = rows.get(market.pk, {})
        out.append({
            "market": market,
            "trades": r.get("trades", 0),
            "volume": r.get("volume") or Decimal(0),
            "quote_volume": r.get("quote_volume") or Decimal(0),
            "fees_base": r.get("buyer_fees") or Decimal(0),
            "fees_quote": r.get("seller_fees") or Decimal(0),
            "open_orders": open_orders.get(market.pk, 0),
        })
    return out


def _pending_count(label: str, status_values: tuple[str, ...]) -> int | None:
    model = _model(label)
    if model is None or "status" not in _field_names(model):
        return None
    return model.objects.filter(status__in=status_values).count()


def last_reconciliation() -> Any | None:
    model = _model("wallets.ReconciliationRun")
    if model is None:
        return None
    order = "-pk"
    return model.objects.order_by(order).first()


def dashboard_summary() -> dict[str, Any]:
    markets = market_volume_24h()
    statuses, beats = matcher_status_for([m["market"].symbol for m in markets])
    for row, status in zip(markets, statuses, strict=True):
        row["matcher"] = status
    return {
        "markets": markets,
        "open_orders_total": sum(m["open_orders"] for m in markets),
        "heartbeats": sorted(beats.items()),
        "reconciliation": last_reconciliation(),
        "pending_kyc": kyc_pending_count(),
        "pending_withdrawals": withdrawal_pending_count(),
        "generated_at": timezone.now(),
    }


KYC_PENDING = ("PENDING",)
WITHDRAWAL_PENDING = ("REQUESTED",)  # awaiting staff approval (wallets.Withdrawal.Status)


def kyc_pending_count() -> int | None:
    for label in ("accounts.KycSubmission", "accounts.KycApplication", "accounts.Kyc"):
        if _model(label) is not None:
            return _pending_count(label, KYC_PENDING)
    return None


def withdrawal_pending_count() -> int | None:
    return _pending_count("wallets.Withdrawal", WITHDRAWAL_PENDING)


# --- one user --------------------------------------------------------------------------

def _optional_selector(path: str):
    module_name, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None


def _rows_for_user(label: str, user, *, limit: int, user_field: str = "user",
                   extra: Q | None = None, order: str = "-pk"):
    model = _model(label)
    if model is None or user_field not in _field_names(model):
        return None
    qs = model.objects.filter(**{user_field: user})
    if extra is not None:
        qs = qs.filter(extra)
    return list(qs.order_by(order)[:limit])


def user_overview(*, user, limit: int = 50) -> dict[str, Any]:
    """Everything the user page shows. Sections whose models do not exist are None."""
    from marketdata.models import Trade
    from wallets.models import Balance

    trades = list(
        Trade.objects.filter(Q(buyer=user) | Q(seller=user)).select_related("market")
        .order_by("-id")[:limit]
    )
    ledger = None
    LedgerLine = _model("wallets.LedgerLine")
    if LedgerLine is not None:
        names = _field_names(LedgerLine)
        if "user" in names:
            ledger = list(LedgerLine.objects.filter(user=user).order_by("-pk")[:limit])
        elif "account" in names:
            ledger = list(LedgerLine.objects.filter(account__user=user).order_by("-pk")[:limit])
    return {
        "balances": list(Balance.objects.filter(user=user).select_related("asset")
                         .order_by("asset__symbol")),
        "open_orders": _rows_for_user("orders.Order", user, limit=limit,
                                      extra=Q(status__in=["NEW", "PARTIALLY_FILLED"])),
        "trades": trades,
        "ledger": ledger,
        "kyc": (_rows_for_user("accounts.KycSubmission", user, limit=limit)
                or _rows_for_user("accounts.KycApplication", user, limit=limit)),
        "api_keys": _rows_for_user("accounts.ApiKey", user, limit=limit),
        "security_events": _rows_for_user("accounts.SecurityEvent", user, limit=limit),
        "withdrawals": _rows_for_user("wallets.Withdrawal", user, limit=limit),
        "audit": list(
            _model("exchange.StaffAuditLog").objects.filter(
                object_type="accounts.user", object_id=str(user.pk)
            ).select_related("staff_user")[:limit]
        ),
    }
