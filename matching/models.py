"""The matcher's durable state: its checkpoint and fencing epoch per market.

Both are written in the same transaction as a batch's effects (DESIGN §2, §3)."""

from django.db import models

from marketdata.models import Market


class MarketCheckpoint(models.Model):
    market = models.OneToOneField(Market, on_delete=models.PROTECT, primary_key=True,
                                  related_name="checkpoint")
    last_sequence = models.BigIntegerField(default=0)
    epoch = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.market_id}: seq {self.last_sequence} epoch {self.epoch}"
