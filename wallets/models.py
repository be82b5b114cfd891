"""Assets and balances. The ledger (journal entries and lines) is the truth; ``Balance``
is its cached projection, changed only by ``wallets.services`` in the same transaction
as the ledger lines that justify the change."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

# NUMERIC(38, 18): 18 decimals covers the most precise supported asset (ETH-like).
AMOUNT_DIGITS = 38
AMOUNT_PLACES = 18


def AmountField(**kwargs):
    kwargs.setdefault("max_digits", AMOUNT_DIGITS)
    kwargs.setdefault("decimal_places", AMOUNT_PLACES)
    return models.DecimalField(**kwargs)


class Asset(models.Model):
    symbol = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=64)
    precision = models.PositiveSmallIntegerField(help_text="Decimal places, at most 18.")
    deposits_enabled = models.BooleanField(default=True)
    withdrawals_enabled = models.BooleanField(default=True)
    confirmations_required = models.PositiveSmallIntegerField(default=2)
    withdrawal_fee = AmountField(default=Decimal(0))
    min_withdrawal = AmountField(default=Decimal(0))

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(condition=Q(precision__lte=18), name="asset_precision_max_18"),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.precision)


class Balance(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="balances")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="balances")
    available = AmountField(default=Decimal(0))
    locked = AmountField(default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "asset"], name="balance_user_asset_unique"),
            models.CheckConstraint(condition=Q(available__gte=0), name="balance_available_gte_0"),
            models.CheckConstraint(condition=Q(locked__gte=0), name="balance_locked_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.asset_id} {self.available}/{self.locked}"
