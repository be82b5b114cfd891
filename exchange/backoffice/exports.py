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
    gives two rows) with their side and their fee; for staff, one row per trade."""
    from marketdata.models import Trade

    qs = Trade.objects.filter(created_at__gte=since, created_at__lt=until)
    if user is not None:
        qs = qs.filter(Q(buyer=user) | Q(seller=user))
    qs = qs.select_related("market__base", "market__quote").order_by("id")
    for t in qs.iterator(chunk_size=2000):
        common = [t.market.symbol]
        sides = []
        if user is None:
            sides.append(("", "", ""))
        else:
            if t.buyer_id == user.pk:
                sides.append(("BUY", t.buyer_fee, t.market.base.symbol))
            if t.seller_id == user.pk:
                sides.append(("SELL", t.seller_fee, t.market.quote.symbol))
        for side, fee, fee_asset in sides:
            if user is None:
                fee = f"buyer {t.buyer_fee} {t.market.base.symbol}; " \
                      f"seller {t.seller_fee} {t.market.quote.symbol}"
            yield [t.pk, t.created_at.isoformat(), *common, side, t.price, t.quantity,
                   t.quote_quantity, fee, fee_asset, t.buy_order_id, t.sell_order_id,
                   t.buyer_id if user is None else "", t.seller_id if user is None else "",
                   t.taker_side]


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


def csv_stream(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


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
