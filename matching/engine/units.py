"""Conversion between wire/database Decimals and the engine's integers.

The engine counts prices in ticks, quantities in steps, and quote amounts in units of
``tick_size * step_size`` (so that ``price_ticks * qty_steps`` is a quote amount with no
rounding). Conversion happens only here, at the edge, and never rounds: a value that is not
an exact multiple raises :class:`NotAMultipleError`.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class NotAMultipleError(ValueError):
    """A price, quantity or amount is not an exact multiple of its increment."""


def _to_decimal(value: Decimal | str | int, what: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"{what} must be a Decimal, str or int, never a float: {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{what} must be finite: {value!r}")
    return result


def _exact_multiple(value: Decimal | str | int, increment: Decimal, what: str) -> int:
    amount = _to_decimal(value, what)
    try:
        count, remainder = divmod(amount, increment)
    except InvalidOperation as error:  # the quotient does not fit the context's precision
        raise NotAMultipleError(f"{what} {amount} is out of range for {increment}") from error
    if remainder != 0:
        raise NotAMultipleError(f"{what} {amount} is not a multiple of {increment}")
    return int(count)


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A market's increments; the only place where Decimals meet engine integers.

    Every method is O(1). ``*_to_*`` methods taking a Decimal raise
    :class:`NotAMultipleError` on a value that is not an exact multiple; they never round.
    Floats are refused (``TypeError``).
    """

    tick_size: Decimal
    step_size: Decimal

    def __post_init__(self) -> None:
        for name in ("tick_size", "step_size"):
            value = _to_decimal(getattr(self, name), name)
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
            object.__setattr__(self, name, value)

    @property
    def quote_unit(self) -> Decimal:
        """The value of one engine quote unit: ``tick_size * step_size``."""
        return self.tick_size * self.step_size

    def price_to_ticks(self, price: Decimal | str | int) -> int:
        return _exact_multiple(price, self.tick_size, "price")

    def qty_to_steps(self, qty: Decimal | str | int) -> int:
        return _exact_multiple(qty, self.step_size, "quantity")

    def quote_to_units(self, amount: Decimal | str | int) -> int:
        """A quote-asset amount (``quote_qty``, a buy's reservation) in engine quote units."""
        return _exact_multiple(amount, self.quote_unit, "quote amount")

    def ticks_to_price(self, ticks: int) -> Decimal:
        return ticks * self.tick_size

    def steps_to_qty(self, steps: int) -> Decimal:
        return steps * self.step_size

    def units_to_quote(self, units: int) -> Decimal:
        return units * self.quote_unit
