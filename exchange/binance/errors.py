"""Binance error shape (``{"code": -1121, "msg": "Invalid symbol."}``) and the mapping
from our machine-readable ``ServiceError`` codes to Binance's numeric codes.

Binance answers request problems with HTTP 400, an unknown or refused API key with 401,
rate limits with 429 (-1003 for weight, -1015 for orders), and its own faults with 5xx.
Nothing here decides a business rule: services decide, this module only translates.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.response import Response

from exchange.api import ServiceError
from orders.errors import ORDER_ERRORS


class BinanceError(Exception):
    """An error rendered in Binance's shape. Raised by the /api/v3 views themselves for
    request-level problems (missing or malformed parameters, unknown symbol)."""

    def __init__(self, code: int, msg: str, *, http_status: int = 400):
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status


# Binance codes used by this layer, with their standard messages (docs/API.md lists them).
UNKNOWN = -1000
UNAUTHORIZED = -1002
TOO_MANY_REQUESTS = -1003
INVALID_MESSAGE = -1013
UNKNOWN_ORDER_COMPOSITION = -1014
TOO_MANY_ORDERS = -1015
UNSUPPORTED_OPERATION = -1020
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM = -1102
PARAM_EMPTY = -1105
PARAM_NOT_REQUIRED = -1106
BAD_PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
INVALID_LISTEN_KEY = -1125
OPTIONAL_PARAMS_BAD_COMBO = -1128
INVALID_PARAMETER = -1130
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
ORDER_ARCHIVED = -2026
CANCEL_REPLACE_PARTIAL = -2021

# ServiceError code -> (Binance code, HTTP status, message or None to keep ours), for the
# codes of other apps. Order-entry codes are mapped once, in ``orders.errors.ORDER_ERRORS``,
# and a ServiceError may also carry ``binance_code`` itself, which wins.
SERVICE_CODES: dict[str, tuple[int, int, str | None]] = {
    # accounts
    "authentication_failed": (REJECTED_MBX_KEY, 401,
                              "Invalid API-key, IP, or permissions for action."),
    "not_authenticated": (REJECTED_MBX_KEY, 401,
                          "Invalid API-key, IP, or permissions for action."),
    "invalid_api_key": (REJECTED_MBX_KEY, 401, "Invalid API-key, IP, or permissions for action."),
    "api_key_format": (BAD_API_KEY_FMT, 401, "API-key format invalid."),
    "api_key_revoked": (REJECTED_MBX_KEY, 401, "Invalid API-key, IP, or permissions for action."),
    "ip_not_allowed": (REJECTED_MBX_KEY, 401, "Invalid API-key, IP, or permissions for action."),
    "scope_not_granted": (REJECTED_MBX_KEY, 401,
                          "Invalid API-key, IP, or permissions for action."),
    "permission_denied": (UNAUTHORIZED, 401, "You are not authorized to execute this request."),
    "invalid_signature": (INVALID_SIGNATURE, 400, "Signature for this request is not valid."),
    "signature_invalid": (INVALID_SIGNATURE, 400, "Signature for this request is not valid."),
    "timestamp_outside_recv_window": (INVALID_TIMESTAMP, 400,
                                      "Timestamp for this request is outside of the recvWindow."),
    "invalid_timestamp": (INVALID_TIMESTAMP, 400,
                          "Timestamp for this request is outside of the recvWindow."),
    "timestamp_ahead": (INVALID_TIMESTAMP, 400,
                        "Timestamp for this request was 1000ms ahead of the server's time."),
    "rate_limited": (TOO_MANY_REQUESTS, 429, None),
    "order_rate_limited": (TOO_MANY_ORDERS, 429, None),
    # wallets / orders
    "market_not_found": (BAD_SYMBOL, 400, "Invalid symbol."),
    "market_halted": (NEW_ORDER_REJECTED, 400, "Market is closed."),
    "market_cancel_only": (NEW_ORDER_REJECTED, 400, "Market is closed."),
    "tick_size": (INVALID_MESSAGE, 400, "Filter failure: PRICE_FILTER"),
    "price_tick": (INVALID_MESSAGE, 400, "Filter failure: PRICE_FILTER"),
    "step_size": (INVALID_MESSAGE, 400, "Filter failure: LOT_SIZE"),
    "quantity_step": (INVALID_MESSAGE, 400, "Filter failure: LOT_SIZE"),
    "min_qty": (INVALID_MESSAGE, 400, "Filter failure: LOT_SIZE"),
    "max_qty": (INVALID_MESSAGE, 400, "Filter failure: LOT_SIZE"),
    "quantity_out_of_range": (INVALID_MESSAGE, 400, "Filter failure: LOT_SIZE"),
    "price_band": (INVALID_MESSAGE, 400, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    "invalid_price": (INVALID_MESSAGE, 400, "Invalid price."),
    "invalid_quantity": (INVALID_MESSAGE, 400, "Invalid quantity."),
    "invalid_order_type": (INVALID_ORDER_TYPE, 400, "Invalid orderType."),
    "unsupported_order_combination": (UNKNOWN_ORDER_COMPOSITION, 400,
                                      "Unsupported order combination."),
    "would_take": (NEW_ORDER_REJECTED, 400, "Order would immediately match and take."),
    "post_only_would_take": (NEW_ORDER_REJECTED, 400, "Order would immediately match and take."),
    "not_found": (NO_SUCH_ORDER, 400, "Order does not exist."),
    "order_already_closed": (CANCEL_REJECTED, 400, "Unknown order sent."),
    "listen_key_not_found": (INVALID_LISTEN_KEY, 400, "This listenKey does not exist."),
    "invalid": (INVALID_PARAMETER, 400, None),
    "malformed_request": (ILLEGAL_CHARS, 400, None),
}

_GENERIC_REJECT = (NEW_ORDER_REJECTED, 400, None)


def translate_service_error(exc: ServiceError, *, cancel: bool = False) -> BinanceError:
    """Our ServiceError as a Binance error. Unknown codes of an order endpoint become
    -2010 (new order rejected) or -2011 (cancel rejected), as Binance reports any other
    refusal by its matching engine; elsewhere -1000 with our message."""
    explicit = getattr(exc, "binance_code", None)
    if explicit is not None:
        return BinanceError(int(explicit), exc.message, http_status=_status_for(int(explicit)))
    spec = ORDER_ERRORS.get(exc.code)
    if spec is not None:
        if cancel and exc.code in ("order_not_found", "order_not_open"):
            return BinanceError(CANCEL_REJECTED, "Unknown order sent.")
        code = spec.binance_code
        return BinanceError(code, spec.binance_msg, http_status=_status_for(code))
    code, status, msg = SERVICE_CODES.get(exc.code, (None, None, None))
    if code is None:
        code, status, msg = (CANCEL_REJECTED, 400, None) if cancel else _GENERIC_REJECT
    return BinanceError(code, msg or exc.message, http_status=status)


def _status_for(code: int) -> int:
    if code in (TOO_MANY_REQUESTS, TOO_MANY_ORDERS):
        return 429
    if code in (UNAUTHORIZED, BAD_API_KEY_FMT, REJECTED_MBX_KEY):
        return 401
    return 400


def _from_drf(exc: exceptions.APIException) -> BinanceError:
    explicit = getattr(exc, "binance_code", None)
    if explicit is not None:  # accounts' signed-request and scope errors carry it
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        status = 401 if int(explicit) in (BAD_API_KEY_FMT, REJECTED_MBX_KEY) else exc.status_code
        return BinanceError(int(explicit), detail, http_status=status)
    code_str = exc.get_codes() if isinstance(exc.get_codes(), str) else None
    if code_str and code_str in SERVICE_CODES and code_str not in ("invalid", "not_found"):
        code, status, msg = SERVICE_CODES[code_str]
        return BinanceError(code, msg or str(exc.detail), http_status=status)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        return BinanceError(TOO_MANY_REQUESTS, f"Too much request weight used. {detail}",
                            http_status=429)
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        # The accounts layer says why; signature and timestamp problems keep their codes.
        low = detail.lower()
        if "signature" in low:
            return BinanceError(INVALID_SIGNATURE, "Signature for this request is not valid.")
        if "recvwindow" in low or "timestamp" in low:
            return BinanceError(INVALID_TIMESTAMP,
                                "Timestamp for this request is outside of the recvWindow.")
        if "format" in low:
            return BinanceError(BAD_API_KEY_FMT, "API-key format invalid.", http_status=401)
        return BinanceError(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.",
                            http_status=401)
    if isinstance(exc, exceptions.PermissionDenied):
        return BinanceError(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.",
                            http_status=401)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return BinanceError(UNSUPPORTED_OPERATION, "This operation is not supported.",
                            http_status=405)
    if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        return BinanceError(ILLEGAL_CHARS, f"Illegal characters found in a parameter. {detail}")
    if isinstance(exc, exceptions.NotFound):
        return BinanceError(UNSUPPORTED_OPERATION, "This operation is not supported.",
                            http_status=404)
    return BinanceError(UNKNOWN, detail, http_status=exc.status_code)


def binance_exception_handler(exc, context):
    """DRF exception handler of the /api/v3 views: every error in Binance's shape."""
    if isinstance(exc, ServiceError):
        exc = translate_service_error(exc, cancel=getattr(context.get("view"), "is_cancel", False))
    elif isinstance(exc, exceptions.APIException):
        wait = getattr(exc, "wait", None)
        exc = _from_drf(exc)
        response = Response({"code": exc.code, "msg": exc.msg}, status=exc.http_status)
        if wait:
            response["Retry-After"] = str(int(wait) + 1)
        return response
    if isinstance(exc, BinanceError):
        return Response({"code": exc.code, "msg": exc.msg}, status=exc.http_status)
    return None
