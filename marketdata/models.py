"""Markets (instrument rules), trades and 1-minute candles.

Trades and candles are written only by the matcher, in the transaction that commits the
batch that made them (DESIGN §1.4); everything else reads them."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from wallets.models import AmountField, Asset


class Market(models.Model):
    class Status(models.TextChoices):
        TRADING = "TRADING", "Trading"
        HALTED = "HALTED", "Halted"
        CANCEL_ONLY = "CANCEL_ONLY", "Cancel only"

    symbol = models.CharField(max_length=25, unique=True, help_text="BASE-QUOTE, e.g. BTC-USDT")
    base = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="base_markets")
    quote = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="quote_markets")
    tick_size = AmountField(help_text="Price increment")
    step_size = AmountField(help_text="Quantity increment")
    min_qty = AmountField()
    max_qty = AmountField()
    min_notional = AmountField()
    price_band_pct = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("10"),
        help_text="Orders never trade further than this % from the reference price.",
    )
    maker_fee = models.DecimalField(max_digits=8, decimal_places=6, default=Decimal("0.001"))
    taker_fee = models.DecimalField(max_digits=8, decimal_places=6, default=Decimal("0.001"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.TRADING)
    reference_price = AmountField(
        null=True, blank=True, help_text="Band reference before the first trade."
    )

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(condition=Q(tick_size__gt=0), name="market_tick_gt_0"),
            models.CheckConstraint(condition=Q(step_size__gt=0), name="market_step_gt_0"),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def binance_symbol(self) -> str:
        return self.symbol.replace("-", "")


class Trade(models.Model):
    """One fill between a resting maker and an incoming taker, at the maker's price."""

    # FK indexes on market/buyer/seller are covered by the composite indexes below; each
    # index costs the matcher's batch INSERT a write per trade.
    # No database FK constraints (db_constraint=False): only the matcher inserts trades, in
    # the transaction that has just loaded and updated both orders (and so their users and
    # market), and none of these rows is ever deleted (PROTECT still guards ORM deletes).
    # Five deferred checks per trade, each taking a FOR KEY SHARE row lock on an order or a
    # user that order entry also locks, cost ~30 ms of every 1,000-order batch's COMMIT
    # (docs/PERFORMANCE-orders.md).
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="trades",
                               db_index=False, db_constraint=False)
    # Engine sequence of the command that produced it plus its index within that command:
    # unique, so a redelivered command can never insert the same trade twice.
    sequence = models.BigIntegerField()
    match_index = models.PositiveIntegerField(default=0)
    price = AmountField()
    quantity = AmountField()
    quote_quantity = AmountField()
    buy_order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+",
                                  db_constraint=False)
    sell_order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              db_index=False, db_constraint=False)
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+", db_index=False, db_constraint=False)
    taker_side = models.CharField(max_length=4)  # BUY or SELL
    buyer_fee = AmountField(default=Decimal(0))  # in base asset
    seller_fee = AmountField(default=Decimal(0))  # in quote asset
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "sequence", "match_index"], name="trade_market_seq_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["market", "-id"]),
            models.Index(fields=["buyer", "-id"]),
            models.Index(fields=["seller", "-id"]),
        ]

    def __str__(self) -> str:
        return f"trade {self.pk} {self.quantity} @ {self.price}"


class Candle(models.Model):
    """1-minute OHLCV, upserted by the matcher with each batch; longer intervals are
    aggregated from these."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="candles")
    open_time = models.DateTimeField()
    open = AmountField()
    high = AmountField()
    low = AmountField()
    close = AmountField()
    volume = AmountField(default=Decimal(0))
    quote_volume = AmountField(default=Decimal(0))
    trade_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["market", "open_time"], name="candle_market_minute"),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.open_time:%Y-%m-%d %H:%M}"
