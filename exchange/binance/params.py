"""Request parameters as Binance accepts them: from the query string or a form body (or
both, as signed requests often split them), with Binance's validation messages.

Numbers follow Binance's rule for decimal parameters, ``^([0-9]{1,20})(\\.[0-9]{1,20})?$``:
no sign, no exponent, no NaN or Infinity, at most 20 digits either side. Anything else is
-1100 (illegal characters) and never reaches a service. Values are ``Decimal`` straight
from the text, never through float.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from exchange.binance import errors as E
from exchange.binance.errors import BinanceError
from marketdata.models import Market

DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
INT_RE = re.compile(r"^-?[0-9]{1,19}$")
SYMBOL_RE = re.compile(r"^[A-Z0-9\-_.]{1,20}$")
CLIENT_ID_RE = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")


class Params:
    """Merged query string and body. Query string wins on a clash, as it does for
    signature computation (the query string is signed first)."""

    def __init__(self, request):
        merged: dict[str, str] = {}
        data = getattr(request, "data", None)
        if hasattr(data, "items"):
            for key, value in data.items():
                merged[key] = value if isinstance(value, str) else _to_text(value)
        for key, value in request.query_params.items():
            merged[key] = value
        self._values = merged

    def __contains__(self, name: str) -> bool:
        return self._values.get(name, "") != ""

    def raw(self, name: str) -> str | None:
        value = self._values.get(name)
        return None if value in (None, "") else value

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise BinanceError(
                E.MANDATORY_PARAM,
                f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
            )
        return value

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        if self._values.get(name) == "":
            raise BinanceError(E.PARAM_EMPTY, f"Parameter '{name}' was empty.")
        value = self.required(name) if required else self.raw(name)
        if value is None:
            return None
        if not DECIMAL_RE.match(value):
            raise BinanceError(
                E.ILLEGAL_CHARS,
                f"Illegal characters found in parameter '{name}'; legal range is "
                f"'{DECIMAL_RE.pattern}'.",
            )
        return Decimal(value)

    def integer(self, name: str, *, required: bool = False, default: int | None = None,
                minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self.required(name) if required else self.raw(name)
        if value is None:
            return default
        if not INT_RE.match(value):
            raise BinanceError(
                E.ILLEGAL_CHARS,
                f"Illegal characters found in parameter '{name}'; legal range is "
                f"'{INT_RE.pattern}'.",
            )
        number = int(value)
        if (minimum is not None and number < minimum) or (
            maximum is not None and number > maximum
        ):
            raise BinanceError(E.INVALID_PARAMETER,
                               f"Invalid data sent for a parameter '{name}'.")
        return number

    def choice(self, name: str, choices, *, required: bool = False, default: str | None = None,
               error: tuple[int, str] | None = None) -> str | None:
        value = self.required(name) if required else self.raw(name)
        if value is None:
            return default
        if value not in choices:
            code, msg = error or (E.INVALID_PARAMETER,
                                  f"Invalid data sent for a parameter '{name}'.")
            raise BinanceError(code, msg)
        return value

    def boolean(self, name: str, *, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise BinanceError(E.INVALID_PARAMETER,
                               f"Invalid data sent for a parameter '{name}'.")
        return value.lower() == "true"

    def client_order_id(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if not CLIENT_ID_RE.match(value):
            raise BinanceError(
                E.ILLEGAL_CHARS,
                f"Illegal characters found in parameter '{name}'; legal range is "
                f"'{CLIENT_ID_RE.pattern}'.",
            )
        return value

    # -- symbols ---------------------------------------------------------------------
    def market(self, *, required: bool = True) -> Market | None:
        value = self.required("symbol") if required else self.raw("symbol")
        if value is None:
            return None
        return market_for_symbol(value)

    def markets(self) -> list[Market] | None:
        """``symbol=BTCUSDT`` or ``symbols=["BTCUSDT","ETHUSDT"]``; None means all."""
        if "symbol" in self and "symbols" in self:
            raise BinanceError(E.OPTIONAL_PARAMS_BAD_COMBO,
                               "Combination of optional parameters invalid.")
        if "symbol" in self:
            return [market_for_symbol(self.required("symbol"))]
        if "symbols" in self:
            try:
                names = json.loads(self.required("symbols"))
            except ValueError:
                names = None
            if not isinstance(names, list) or not names or not all(
                isinstance(n, str) for n in names
            ):
                raise BinanceError(E.ILLEGAL_CHARS,
                                   "Illegal characters found in parameter 'symbols'.")
            return [market_for_symbol(name) for name in names]
        return None


def _to_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def market_for_symbol(symbol: str) -> Market:
    """``BTCUSDT`` (or ``BTC-USDT``) -> Market; -1121 when there is none."""
    if not SYMBOL_RE.match(symbol.upper()) or symbol != symbol.upper():
        raise BinanceError(E.BAD_SYMBOL, "Invalid symbol.")
    market = _markets_by_binance_symbol().get(symbol.replace("-", ""))
    if market is None:
        raise BinanceError(E.BAD_SYMBOL, "Invalid symbol.")
    return market


def _markets_by_binance_symbol() -> dict[str, Market]:
    return {
        m.binance_symbol: m for m in Market.objects.select_related("base", "quote")
    }


def to_binance_symbol(symbol: str) -> str:
    return symbol.replace("-", "")
