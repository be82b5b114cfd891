"""The fee rule.

A trade fee is charged in the asset the party *receives* (the buyer pays in base, the
seller in quote), at the market's maker or taker rate:

    fee = ceil(amount × rate, to the asset's precision)      (the exchange's favour)
    fee = min(fee, amount)                                   (never more than received)

Dust: on a tiny trade ``amount × rate`` is below one unit of the asset's precision. It
then rounds *up* to one unit (e.g. 0.00000001 BTC), not down to zero, so splitting an
order into dust cannot dodge fees; if the amount received is itself smaller than that
one unit the fee is the whole amount and the party receives nothing (min(fee, amount)).
A zero rate gives a zero fee. Markets set their rates in ``Market.maker_fee`` /
``taker_fee``; optional 30-day volume tiers (``settings.FEE_TIERS``) lower them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, Context, Decimal, localcontext

from django.conf import settings


def fee_compute(*, amount: Decimal, rate: Decimal, precision: int) -> Decimal:
    """The fee on ``amount`` received: ``amount × rate`` rounded UP to ``precision``
    decimal places, never more than ``amount``, never negative. Pure; O(1)."""
    if amount <= 0 or rate <= 0:
        return Decimal(0)
    with localcontext(Context(prec=80)):  # NUMERIC(38, 18) needs > 28 digits
        quantum = Decimal(1).scaleb(-precision)
        fee = (amount * rate).quantize(quantum, rounding=ROUND_CEILING)
        return min(fee, amount)


def fee_rate_for(*, maker_rate: Decimal, taker_rate: Decimal, is_maker: bool,
                 volume_30d: Decimal = Decimal(0),
                 tiers: Sequence[tuple[Decimal, Decimal, Decimal]] | None = None) -> Decimal:
    """The rate that applies. ``tiers`` (default ``settings.FEE_TIERS``) is a list of
    ``(min_30d_quote_volume, maker_rate, taker_rate)``; the highest tier whose minimum is
    reached wins if its rate is lower than the market's own. Without tiers: the market's."""
    rate = maker_rate if is_maker else taker_rate
    tiers = tiers if tiers is not None else getattr(settings, "FEE_TIERS", ())
    best = None
    for minimum, tier_maker, tier_taker in sorted(tiers, key=lambda t: Decimal(t[0])):
        if volume_30d >= Decimal(minimum):
            best = Decimal(tier_maker) if is_maker else Decimal(tier_taker)
    return min(rate, best) if best is not None else rate
