"""CSV exports of trades and ledger lines over a date range, streamed row by row
(``StreamingHttpResponse`` over a server-side cursor: memory stays flat for any range)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q
from django.http import StreamingHttpResponse

from exchange.api import ServiceError

MAX_RANGE_DAYS = 366
KINDS = ("trades", "ledger")


class _Echo:
    def write(self, value: str) -> str:
        return value


def date_range_parse(*, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """``start``/``end`` as YYYY-MM-DD (UTC days, both inclusive) → [from, to) datetimes."""
    try:
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
    except ValueError as exc:
        raise ServiceError("invalid_date", "Dates are YYYY-MM-DD.") from exc
    if first is None or last is None:
        raise ServiceError("date_range_required", "Give both start and end (YYYY-MM-DD).")
    if last < first:
        raise ServiceError("invalid_date_range", "end is before start.")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise ServiceError("date_range_too_long", f"At most {MAX_RANGE_DAYS} days per export.")
    since = datetime.combine(first, time.min, tzinfo=UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    return since, until


TRADE_COLUMNS = [
    "trade_id", "time", "market", "side", "price", "quantity", "quote_quantity", "fee",
    "fee_asset", "buy_order_id", "sell_order_id", "buyer_id", "seller_id", "taker_side",
]


def trade_rows(*, since: datetime, until: datetime, user=None) -> Iterator[list]:
    """Trades in [since, until). For a user, one row per side they took (a self-trade
    gives two rows) with their side and their fee; for staff, one row per trade with both
    fees. Reads tuples (no model instances) over a server-side cursor."""
    from marketdata.models import Market, Trade

    markets = {m.pk: (m.symbol, m.base.symbol, m.quote.symbol)
               for m in Market.objects.select_related("base", "quote")}
    qs = Trade.objects.filter(created_at__gte=since, created_at__lt=until)
    if user is not None:
        qs = qs.filter(Q(buyer=user) | Q(seller=user))
    qs = qs.order_by("id").values_list(
        "id", "created_at", "market_id", "price", "quantity", "quote_quantity", "buyer_fee",
        "seller_fee", "buy_order_id", "sell_order_id", "buyer_id", "seller_id", "taker_side")
    for (pk, created, market_id, price, qty, quote_qty, buyer_fee, seller_fee, buy_order,
         sell_order, buyer_id, seller_id, taker_side) in qs.iterator(chunk_size=5000):
        symbol, base, quote = markets[market_id]
        head = [pk, created.isoformat(), symbol]
        tail = [buy_order, sell_order]
        if user is None:
            fee = f"buyer {buyer_fee} {base}; seller {seller_fee} {quote}"
            yield [*head, "", price, qty, quote_qty, fee, "", *tail, buyer_id, seller_id,
                   taker_side]
            continue
        if buyer_id == user.pk:
            yield [*head, "BUY", price, qty, quote_qty, buyer_fee, base, *tail, "", "",
                   taker_side]
        if seller_id == user.pk:
            yield [*head, "SELL", price, qty, quote_qty, seller_fee, quote, *tail, "", "",
                   taker_side]


LEDGER_COLUMNS = ["time", "entry_id", "kind", "ref", "account", "user_id", "asset", "amount",
                  "created_by"]


def ledger_rows(*, since: datetime, until: datetime, user=None) -> Iterator[list]:
    """Ledger lines whose journal entry falls in [since, until), oldest first. For a user
    only their own accounts' lines (available and locked) and no staff id."""
    from wallets.models import LedgerLine

    qs = LedgerLine.objects.filter(entry__created_at__gte=since, entry__created_at__lt=until)
    if user is not None:
        qs = qs.filter(user=user)
    qs = qs.select_related("entry", "asset").order_by("entry_id", "id")
    for line in qs.iterator(chunk_size=2000):
        entry = line.entry
        yield [entry.created_at.isoformat(), entry.pk, entry.kind,
               f"{entry.ref_type}:{entry.ref_id}", line.account, line.user_id or "",
               line.asset.symbol, line.amount,
               (entry.created_by_id or "") if user is None else ""]


#: A text cell starting with one of these is a formula to Excel, LibreOffice and Sheets
#: (OWASP "CSV injection"). Numbers (Decimal, int) are written as they are.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """``value`` safe to open in a spreadsheet: a text cell that would be read as a formula
    gets a leading apostrophe, which spreadsheets show as text and hide."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_stream(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def export_response(*, kind: str, since: datetime, until: datetime, user=None,
                    filename_prefix: str = "bourse") -> StreamingHttpResponse:
    if kind == "trades":
        header, rows = TRADE_COLUMNS, trade_rows(since=since, until=until, user=user)
    elif kind == "ledger":
        header, rows = LEDGER_COLUMNS, ledger_rows(since=since, until=until, user=user)
    else:
        raise ServiceError("invalid_export_kind", f"kind is one of {', '.join(KINDS)}.")
    response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv")
    name = f"{filename_prefix}-{kind}-{since:%Y%m%d}-{(until - timedelta(days=1)):%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
