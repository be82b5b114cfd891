"""Enumerations shared by commands, events and the book.

All values are strings so that they can be stored and logged as they are.
"""

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    #: Post-only: rejected (never repriced) if any part of it would take liquidity.
    LIMIT_MAKER = "LIMIT_MAKER"
    #: By base quantity (``qty``) or, for buys only, by quote amount (``quote_qty``).
    MARKET = "MARKET"
    #: A MARKET order held until the last trade price reaches ``stop_price``.
    STOP_LOSS = "STOP_LOSS"
    #: A LIMIT order held until the last trade price reaches ``stop_price``.
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class StpMode(StrEnum):
    """Self-trade prevention, with Binance's semantics: the taker's mode decides."""

    #: The taker's remaining quantity expires; the maker stays. The default.
    EXPIRE_TAKER = "EXPIRE_TAKER"
    #: The maker expires; the taker keeps matching against the next makers.
    EXPIRE_MAKER = "EXPIRE_MAKER"
    #: Both the maker and the taker's remaining quantity expire.
    EXPIRE_BOTH = "EXPIRE_BOTH"
    #: Self-trades are allowed.
    NONE = "NONE"


class BookStatus(StrEnum):
    TRADING = "TRADING"
    #: Placements and non-reducing amendments are rejected; cancels are accepted.
    HALTED = "HALTED"
    #: Same as HALTED for the engine; distinct so that operators can say why.
    CANCEL_ONLY = "CANCEL_ONLY"


class RejectReason(StrEnum):
    """Why a command was refused. The book is unchanged by a rejected command."""

    BOOK_NOT_TRADING = "BOOK_NOT_TRADING"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    #: Missing/contradictory fields, a non-positive price or quantity, and so on.
    INVALID_ORDER = "INVALID_ORDER"
    #: ``reserve`` is smaller than what the order needs (see README, reservations).
    INSUFFICIENT_RESERVE = "INSUFFICIENT_RESERVE"
    #: LIMIT_MAKER whose price would take liquidity.
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    #: A stop order whose condition already holds when it is placed (Binance rejects those too).
    STOP_WOULD_TRIGGER_IMMEDIATELY = "STOP_WOULD_TRIGGER_IMMEDIATELY"
    #: Cancel or amend of an order that is not open in this book (or belongs to another user).
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    #: An amendment to a price that would take liquidity (amendments never trade).
    AMEND_WOULD_CROSS = "AMEND_WOULD_CROSS"
    #: An amendment that changes nothing, or targets a pending stop order.
    AMEND_NOT_ALLOWED = "AMEND_NOT_ALLOWED"


class ExpireReason(StrEnum):
    """Why (the rest of) an order ended without the user asking."""

    #: IOC or MARKET remainder that found no more liquidity within its limit.
    IMMEDIATE_OR_CANCEL = "IMMEDIATE_OR_CANCEL"
    #: FOK that could not be filled entirely; nothing traded.
    FILL_OR_KILL = "FILL_OR_KILL"
    #: Matching stopped at the price band; the remainder expires (it never rests).
    PRICE_BAND = "PRICE_BAND"
    #: A market buy that ran out of ``quote_qty``/``reserve`` before its quantity.
    RESERVE_EXHAUSTED = "RESERVE_EXHAUSTED"
    STP_EXPIRE_TAKER = "STP_EXPIRE_TAKER"
    STP_EXPIRE_MAKER = "STP_EXPIRE_MAKER"
    STP_EXPIRE_BOTH = "STP_EXPIRE_BOTH"


class CancelReason(StrEnum):
    USER = "USER"
    CANCEL_ALL = "CANCEL_ALL"
