"""Demo data for ``make run``: realistic rules for three markets and funded traders.

Running it twice gives the same data: rows are matched by natural keys, and demo
balances are topped up to their target through the wallet service (so the ledger
explains every unit), never overwritten."""

from decimal import Decimal

from django.db import transaction

from accounts.models import User
from marketdata.models import Market
from wallets.models import Asset

D = Decimal

ASSETS = [
    # symbol, name, precision, withdrawal fee, min withdrawal, confirmations
    ("USDT", "Tether USD", 8, D("1"), D("10"), 2),
    ("BTC", "Bitcoin", 8, D("0.0002"), D("0.001"), 2),
    ("ETH", "Ether", 8, D("0.002"), D("0.01"), 3),
]

MARKETS = [
    # symbol, base, quote, tick, step, min qty, max qty, min notional, reference price
    ("BTC-USDT", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"), D("1000"), D("5"),
     D("60000")),
    ("ETH-USDT", "ETH", "USDT", D("0.01"), D("0.0001"), D("0.0001"), D("10000"), D("5"),
     D("3000")),
    ("ETH-BTC", "ETH", "BTC", D("0.00001"), D("0.001"), D("0.001"), D("10000"), D("0.0001"),
     D("0.05")),
]

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - published demo credential
DEMO_LOGINS = [
    ("staff", "staff@bourse.local", DEMO_PASSWORD),
    ("trader", "alice@bourse.local", DEMO_PASSWORD),
    ("trader", "bob@bourse.local", DEMO_PASSWORD),
]
DEMO_FUNDS = {"USDT": D("100000"), "BTC": D("2"), "ETH": D("20")}


@transaction.atomic
def seed_demo() -> None:
    assets = {}
    for symbol, name, precision, fee, min_wd, confs in ASSETS:
        assets[symbol], _ = Asset.objects.update_or_create(
            symbol=symbol,
            defaults={"name": name, "precision": precision, "withdrawal_fee": fee,
                      "min_withdrawal": min_wd, "confirmations_required": confs},
        )
    for symbol, base, quote, tick, step, min_qty, max_qty, min_notional, ref in MARKETS:
        Market.objects.update_or_create(
            symbol=symbol,
            defaults={"base": assets[base], "quote": assets[quote], "tick_size": tick,
                      "step_size": step, "min_qty": min_qty, "max_qty": max_qty,
                      "min_notional": min_notional, "reference_price": ref},
        )
    for role, email, password in DEMO_LOGINS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password)
        user.email_verified = True
        user.kyc_tier = 2
        user.is_staff = user.is_superuser = role == "staff"
        user.save()
        if role == "trader":
            _fund(user, assets)


def _fund(user, assets) -> None:
    """Top demo balances up to their target (hook for the wallet service's ledger)."""
    from exchange.demo_funding import fund_to_target

    for symbol, target in DEMO_FUNDS.items():
        fund_to_target(user=user, asset=assets[symbol], target=target)
