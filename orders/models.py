"""Orders as accepted by ``orders.services.order_place``.

An order row is written, with its reservation, before the matcher ever sees it; the
matcher fills in ``sequence`` when it applies the order, and owns every later change
of state, filled quantity and reservation."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketdata.models import Market
from wallets.models import AmountField, Asset


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "BUY"
        SELL = "SELL"

    class Type(models.TextChoices):
        LIMIT = "LIMIT"
        MARKET = "MARKET"
        STOP_LOSS = "STOP_LOSS"
        STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
        LIMIT_MAKER = "LIMIT_MAKER"

    class TimeInForce(models.TextChoices):
        GTC = "GTC"
        IOC = "IOC"
        FOK = "FOK"

    class Status(models.TextChoices):
        NEW = "NEW"
        PARTIALLY_FILLED = "PARTIALLY_FILLED"
        FILLED = "FILLED"
        CANCELED = "CANCELED"
        EXPIRED = "EXPIRED"
        REJECTED = "REJECTED"

    class StpMode(models.TextChoices):
        EXPIRE_TAKER = "EXPIRE_TAKER"
        EXPIRE_MAKER = "EXPIRE_MAKER"
        EXPIRE_BOTH = "EXPIRE_BOTH"
        NONE = "NONE"

    OPEN_STATUSES = (Status.NEW, Status.PARTIALLY_FILLED)

    # No single-column FK indexes: (user, status) and (market, status, sequence) cover those
    # lookups, and every index costs the matcher's batch UPDATE an insert per row.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="orders", db_index=False)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders",
                               db_index=False)
    client_order_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=16, choices=Type.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default="GTC")
    stp_mode = models.CharField(max_length=12, choices=StpMode.choices,
                                default=StpMode.EXPIRE_TAKER)
    price = AmountField(null=True, blank=True)
    stop_price = AmountField(null=True, blank=True)
    quantity = AmountField(null=True, blank=True)
    quote_order_qty = AmountField(null=True, blank=True)
    filled_quantity = AmountField(default=Decimal(0))
    cumulative_quote = AmountField(default=Decimal(0))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    reason = models.CharField(max_length=64, blank=True, help_text="Why it was rejected, "
                              "expired or cancelled (machine-readable).")
    reserved_asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+",
                                       db_index=False)
    reserved_amount = AmountField(help_text="Reserved at entry.")
    reserve_remaining = AmountField(help_text="Still locked for this order.")
    # The matcher's sequence of the command that placed it (null until applied).
    sequence = models.BigIntegerField(null=True, blank=True)
    # Time priority in the book: the sequence of the command that made it rest at its
    # current price (placement, stop trigger, or a priority-losing amendment). Rebuilds sort
    # resting orders by it.
    priority = models.BigIntegerField(null=True, blank=True)
    # A stop order whose condition held: it now rests (or ended) as a limit/market order.
    triggered = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=Q(status__in=["NEW", "PARTIALLY_FILLED"]),
                name="order_open_client_id_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=Q(reserve_remaining__gte=0),
                                   name="order_reserve_remaining_gte_0"),
            models.CheckConstraint(condition=Q(filled_quantity__gte=0),
                                   name="order_filled_gte_0"),
        ]
        indexes = [
            # Not on sequence/priority: placing a resting order then changes no indexed
            # column, so the matcher's UPDATE can be HOT (no index writes; fillfactor 70,
            # migration 0004).
            models.Index(fields=["market", "status"], name="order_market_status"),
            models.Index(fields=["user", "status"], name="order_user_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.side} {self.quantity} {self.market_id} @ {self.price}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class OrderCommand(models.Model):
    """A cancel, cancel-all, amendment or market status change, persisted before it is
    announced on the market's stream so the sweep can re-announce it (DESIGN §2).

    ``sequence`` is set by the matcher in the batch transaction that applied it."""

    class Kind(models.TextChoices):
        CANCEL = "CANCEL"
        CANCEL_ALL = "CANCEL_ALL"
        AMEND = "AMEND"
        STATUS = "STATUS"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+",
                               db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+", null=True, blank=True, db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="commands",
                              null=True, blank=True)
    new_price = AmountField(null=True, blank=True)
    new_quantity = AmountField(null=True, blank=True, help_text="New open quantity.")
    extra_reserve = AmountField(default=Decimal(0),
                                help_text="Additionally locked at entry for the amendment.")
    status = models.CharField(max_length=12, blank=True, help_text="For STATUS commands.")
    sequence = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["market", "sequence"], name="ordercmd_market_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.market_id} order={self.order_id} seq={self.sequence}"
