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
    # Settlement updates hundreds of these rows per batch: the table keeps free space in
    # its pages (fillfactor 70, migration 0005) so new row versions stay on their page
    # (HOT updates, no index writes), and user_id has no index of its own (the unique
    # (user, asset) index serves it).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="balances", db_index=False)
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


class Account(models.TextChoices):
    """Ledger accounts. ``AVAILABLE``/``LOCKED`` belong to a user; the others are the
    exchange's own, one per asset (``user`` is null)."""

    AVAILABLE = "available", "User available"
    LOCKED = "locked", "User locked"
    FEE = "fee", "Fee income"
    WORLD = "world", "Outside world (deposits/withdrawals)"
    ADJUST = "adjust", "Adjustments"


USER_ACCOUNTS = (Account.AVAILABLE, Account.LOCKED)


class JournalEntry(models.Model):
    """One movement of money. Its lines sum to zero per asset (enforced by a
    statement-level trigger on the lines, see migration 0004)."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        WITHDRAWAL_FEE = "withdrawal_fee"
        TRADE = "trade"
        FEE = "fee"
        ADJUSTMENT = "adjustment"
        RESERVE = "reserve"
        RELEASE = "release"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    ref_type = models.CharField(max_length=32, help_text="Business object, e.g. order, "
                                "withdrawal, deposit, trade_batch")
    ref_id = models.CharField(max_length=64)
    detail = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=models.functions.Now(), db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"
        constraints = [
            # A deposit, withdrawal or its fee is booked once per business object.
            models.UniqueConstraint(
                fields=["kind", "ref_type", "ref_id"],
                condition=Q(kind__in=["deposit", "withdrawal", "withdrawal_fee"]),
                name="journal_once_per_object",
            ),
        ]
        indexes = [models.Index(fields=["ref_type", "ref_id"], name="journal_ref")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.ref_type}:{self.ref_id}"


class LedgerLine(models.Model):
    """Append-only (UPDATE/DELETE are refused by a trigger). ``amount`` is signed:
    positive increases the account. Each INSERT statement must leave every entry it
    touches balanced per asset (statement-level trigger, see migration 0004): write an
    entry's lines in one statement."""

    # The references are checked once per INSERT statement, set-based, by the ledger
    # trigger (migration 0004) instead of by per-row foreign-key triggers, which cost
    # three deferred checks per line at COMMIT on the settlement hot path
    # (docs/PERFORMANCE-settle.md). Entries are immutable (trigger), users and assets
    # are never deleted (PROTECT here, and real FKs from Balance).
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines",
                              db_constraint=False)
    account = models.CharField(max_length=10, choices=Account.choices)
    # No single-column indexes on user/asset: the composite indexes below cover them.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+", db_index=False,
                             db_constraint=False)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+",
                              db_index=False, db_constraint=False)
    amount = AmountField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledgerline_amount_nonzero"),
            models.CheckConstraint(
                condition=(Q(account__in=["available", "locked"], user__isnull=False)
                           | (~Q(account__in=["available", "locked"]) & Q(user__isnull=True))),
                name="ledgerline_user_iff_user_account",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "asset", "entry"], name="ledgerline_user_asset"),
            # The exchange's own accounts (fee, world, adjust) only: a few lines per
            # batch instead of every user line.
            models.Index(fields=["asset", "account"], name="ledgerline_house_accounts",
                         condition=Q(user__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.account}:{self.user_id}:{self.asset_id} {self.amount}"


class DepositAddress(models.Model):
    """The user's (simulated, deterministic) deposit address for an asset."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="deposit_addresses")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "asset"], name="deposit_address_user_asset"),
        ]

    def __str__(self) -> str:
        return self.address


class Deposit(models.Model):
    """An incoming transaction of the simulated chain. The same (txid, output) seen twice
    is one row, and it is credited at most once (``status`` + the journal's unique ref)."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        CREDITED = "CREDITED"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="deposits")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=100)
    txid = models.CharField(max_length=100)
    output_index = models.PositiveIntegerField(default=0)
    amount = AmountField()
    confirmations = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["txid", "output_index"], name="deposit_tx_output"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["status"], name="deposit_status")]

    def __str__(self) -> str:
        return f"{self.txid}:{self.output_index} {self.amount} {self.status}"


class WithdrawalAddress(models.Model):
    """An address-book entry; usable for withdrawals only after ``usable_after``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="withdrawal_addresses")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=100)
    label = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    usable_after = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "asset", "address"],
                                    name="withdrawal_address_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id}:{self.address}"


class Withdrawal(models.Model):
    """REQUESTED → (APPROVED) → PROCESSING → COMPLETED, or REJECTED / CANCELLED.
    While pending (REQUESTED, APPROVED, PROCESSING) ``amount + fee`` is locked."""

    class Status(models.TextChoices):
        REQUESTED = "REQUESTED"
        APPROVED = "APPROVED"
        PROCESSING = "PROCESSING"
        COMPLETED = "COMPLETED"
        REJECTED = "REJECTED"
        CANCELLED = "CANCELLED"

    PENDING_STATUSES = (Status.REQUESTED, Status.APPROVED, Status.PROCESSING)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="withdrawals")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=100)
    amount = AmountField()
    fee = AmountField(default=Decimal(0))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    approvals_required = models.PositiveSmallIntegerField(default=0)
    txid = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_gt_0"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="withdrawal_fee_gte_0"),
        ]
        indexes = [models.Index(fields=["user", "asset", "status"], name="withdrawal_user_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount} {self.asset_id} {self.status}"

    @property
    def hold(self) -> Decimal:
        return self.amount + self.fee


class WithdrawalApproval(models.Model):
    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.PROTECT, related_name="approvals")
    staff_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["withdrawal", "staff_user"],
                                    name="withdrawal_approval_once_per_staff"),
        ]

    def __str__(self) -> str:
        return f"{self.withdrawal_id} approved by {self.staff_user_id}"


class ChainBroadcast(models.Model):
    """An outgoing transaction of the simulated chain: one per withdrawal, ever."""

    withdrawal = models.OneToOneField(Withdrawal, on_delete=models.PROTECT,
                                      related_name="broadcast")
    txid = models.CharField(max_length=100, unique=True)
    address = models.CharField(max_length=100)
    amount = AmountField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.txid


class ReconciliationRun(models.Model):
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    difference_count = models.PositiveIntegerField(default=0)
    differences = models.JSONField(default=list)

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M} {'ok' if self.ok else self.difference_count}"
