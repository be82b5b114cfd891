"""Machine-readable order-entry error codes, modelled on Binance's filter failures.

``ORDER_ERRORS[code]`` gives the HTTP status of the native API and the Binance numeric
code and message the ``/api/v3`` layer should render for the same refusal, so both front
doors say the same thing (Binance "Error codes" and "Filters" documentation).
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.api import ServiceError


@dataclass(frozen=True)
class OrderErrorSpec:
    http_status: int
    binance_code: int
    binance_msg: str


ORDER_ERRORS: dict[str, OrderErrorSpec] = {
    "price_filter": OrderErrorSpec(400, -1013, "Filter failure: PRICE_FILTER"),
    "lot_size": OrderErrorSpec(400, -1013, "Filter failure: LOT_SIZE"),
    "min_notional": OrderErrorSpec(400, -1013, "Filter failure: NOTIONAL"),
    "percent_price": OrderErrorSpec(400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    "quote_qty_precision": OrderErrorSpec(
        400, -1111, "Precision is over the maximum defined for this asset."
    ),
    "market_closed": OrderErrorSpec(400, -2010, "Market is closed."),
    "unknown_market": OrderErrorSpec(400, -1121, "Invalid symbol."),
    "insufficient_balance": OrderErrorSpec(
        400, -2010, "Account has insufficient balance for requested action."
    ),
    "kyc_required": OrderErrorSpec(403, -2010, "This action is disabled on this account."),
    "account_frozen": OrderErrorSpec(403, -2010, "This action is disabled on this account."),
    "duplicate_client_order_id": OrderErrorSpec(409, -2010, "Duplicate order sent."),
    "idempotency_key_reused": OrderErrorSpec(409, -2010, "Duplicate order sent."),
    "unsupported_order_type": OrderErrorSpec(400, -1116, "Invalid orderType."),
    "invalid_time_in_force": OrderErrorSpec(400, -1115, "Invalid timeInForce."),
    "invalid_side": OrderErrorSpec(400, -1117, "Invalid side."),
    "invalid_stp_mode": OrderErrorSpec(
        400, -1102, "Mandatory parameter 'selfTradePreventionMode' was not sent, was empty/null, "
        "or malformed."
    ),
    "missing_parameter": OrderErrorSpec(
        400, -1102, "Mandatory parameter was not sent, was empty/null, or malformed."
    ),
    "parameter_not_required": OrderErrorSpec(400, -1106, "Parameter sent when not required."),
    "invalid_amount": OrderErrorSpec(400, -1100, "Illegal characters found in a parameter."),
    "no_reference_price": OrderErrorSpec(400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    "order_not_found": OrderErrorSpec(404, -2013, "Order does not exist."),
    "order_not_open": OrderErrorSpec(400, -2011, "Unknown order sent."),
    "amend_not_allowed": OrderErrorSpec(400, -2038, "Order amend rejected."),
    "amend_pending": OrderErrorSpec(409, -2038, "Order amend rejected."),
}


def order_error(code: str, message: str, **fields) -> ServiceError:
    """The ``ServiceError`` for ``code`` with its documented HTTP status."""
    spec = ORDER_ERRORS[code]
    return ServiceError(code, message, fields=fields or None, http_status=spec.http_status)


# What the matcher reports in Order.reason for an order it rejected or expired; the engine's
# reasons are kept verbatim (see matching/README.md).
