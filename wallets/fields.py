"""``StrictAmountField``: a DRF field for money amounts that anyone can reuse.

Accepts a plain decimal string (``"0.0015"``) or a JSON number, and returns a
``Decimal``. Rejects with a machine-readable code (400 via the exception handler):

- ``amount_invalid``: not a number at all (``"abc"``, ``true``, ``[]``, ``""``);
- ``amount_not_finite``: ``NaN``, ``Infinity``;
- ``amount_exponent``: exponent forms (``"1e5"``, ``1E-3``);
- ``amount_not_positive``: zero or negative (unless ``allow_zero``);
- ``amount_too_precise``: more decimals than ``max_decimal_places`` (pass the asset's
  precision, or call ``check_precision`` once the asset is known);
- ``amount_too_large``: more than ``max_whole_digits`` integer digits or above ``max_value``.

With ``wallets.parsers.RawNumberJSONParser`` on the view, JSON numbers reach the field
as their original text, so ``1e5`` and ``0.0000001`` are told apart exactly. With the
project's ``DecimalJSONParser`` they arrive as ``Decimal``; exponent forms that parse
to a positive exponent are still refused."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from rest_framework import serializers

_PLAIN = re.compile(r"^-?\d+(\.\d+)?$")


class StrictAmountField(serializers.Field):
    default_error_messages = {
        "amount_invalid": "A decimal amount such as \"0.0015\" is required.",
        "amount_not_finite": "NaN and Infinity are not amounts.",
        "amount_exponent": "Write the amount without an exponent, e.g. \"0.0015\".",
        "amount_not_positive": "The amount must be greater than zero.",
        "amount_too_precise": "At most {places} decimal places.",
        "amount_too_large": "The amount is too large.",
    }

    def __init__(self, *, max_decimal_places: int = 18, max_whole_digits: int = 20,
                 max_value: Decimal | None = None, allow_zero: bool = False, **kwargs):
        self.max_decimal_places = max_decimal_places
        self.max_whole_digits = max_whole_digits
        self.max_value = max_value
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def _text(self, data) -> str:
        if isinstance(data, bool) or data is None:
            self.fail("amount_invalid")
        if isinstance(data, Decimal):
            if not data.is_finite():
                self.fail("amount_not_finite")
            if data.as_tuple().exponent > 0:
                self.fail("amount_exponent")
            return format(data, "f")
        if isinstance(data, int):
            return str(data)
        if not isinstance(data, str):
            self.fail("amount_invalid")
        text = data.strip()
        if len(text) > 64:
            self.fail("amount_too_large")
        lowered = text.lower().lstrip("+-")
        if lowered in {"nan", "snan", "inf", "infinity"}:
            self.fail("amount_not_finite")
        if "e" in lowered and re.match(r"^[\d.]+e[+-]?\d+$", lowered):
            self.fail("amount_exponent")
        if not _PLAIN.match(text):
            self.fail("amount_invalid")
        return text

    def to_internal_value(self, data) -> Decimal:
        text = self._text(data)
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.fail("amount_invalid")
        if value < 0 or (value == 0 and not self.allow_zero):
            self.fail("amount_not_positive")
        whole, _, fraction = text.lstrip("-").partition(".")
        if len(whole.lstrip("0")) > self.max_whole_digits or (
                self.max_value is not None and value > self.max_value):
            self.fail("amount_too_large")
        self.check_precision(value, self.max_decimal_places, fraction=fraction)
        return value

    def check_precision(self, value: Decimal, places: int, *, fraction: str | None = None):
        """Raises ``amount_too_precise`` if ``value`` has more than ``places`` decimals
        (trailing zeros count as written: ``"1.50"`` has two)."""
        digits = len(fraction) if fraction is not None else max(0, -value.as_tuple().exponent)
        if digits > places:
            self.fail("amount_too_precise", places=places)

    def to_representation(self, value) -> str:
        return format(Decimal(value), "f")
