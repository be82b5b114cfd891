"""The matcher's durable state: its checkpoint and fencing epoch per market.

Both are written in the same transaction as a batch's effects (DESIGN §2, §3)."""

from django.db import models

from marketdata.models import Market


class MarketCheckpoint(models.Model):
    market = models.OneToOneField(Market, on_delete=models.PROTECT, primary_key=True,
                                  related_name="checkpoint")
    last_sequence = models.BigIntegerField(default=0)
    epoch = models.BigIntegerField(default=0)
    # Last depth update id published for the market, so update ids keep chaining across
    # matcher restarts and rebuilds (the engine's own counter restarts with the book).
    depth_update_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.market_id}: seq {self.last_sequence} epoch {self.epoch}"


class CommandLog(models.Model):
    """The commands the matcher applied, in sequence order, written in the batch's
    transaction: one row per committed batch (``sequence`` .. ``last_sequence``) whose
    ``payload`` is ``[[sequence, command], ...]`` (``matching.worker.payloads``). Replaying
    the rows of a market in order through a fresh engine reproduces its trades. One row per
    batch rather than per command: the log costs the hot path one insert, not thousands."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+",
                               db_index=False)  # the unique (market, sequence) covers it
    sequence = models.BigIntegerField(help_text="First sequence of the batch.")
    last_sequence = models.BigIntegerField(default=0)
    payload = models.JSONField()

    class Meta:
        ordering = ["market", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["market", "sequence"], name="commandlog_market_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.market_id}#{self.sequence}..{self.last_sequence}"

    def commands(self):
        """``(sequence, payload)`` of each command of the batch, in order."""
        return [(seq, payload) for seq, payload in self.payload]
