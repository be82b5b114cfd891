"""Thin page views. They render the shell of each page with the static rules it needs
(market symbols, tick and step sizes, fee rates) as JSON; live data is fetched by the
page's scripts from /api/v1 and the WebSocket streams."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django_otp import user_has_device

from marketdata.models import Market
from wallets.models import Asset


def _plain(value) -> str:
    """A Decimal as a plain string without trailing zeros or exponent ("10", "0.001")."""
    return format(value.normalize(), "f")


def _market_rules(market: Market) -> dict:
    return {
        "symbol": market.symbol,
        "base": market.base.symbol,
        "quote": market.quote.symbol,
        "tick_size": _plain(market.tick_size),
        "step_size": _plain(market.step_size),
        "min_qty": _plain(market.min_qty),
        "min_notional": _plain(market.min_notional),
        "maker_fee": _plain(market.maker_fee),
        "taker_fee": _plain(market.taker_fee),
        "status": market.status,
    }


def _markets():
    return list(Market.objects.select_related("base", "quote").order_by("symbol"))


def landing(request):
    markets = _markets()
    return render(request, "ui/landing.html", {
        "markets": markets,
        "page_config": {"markets": [_market_rules(m) for m in markets]},
    })


def trade_default(request):
    first = Market.objects.order_by("symbol").first()
    if first is None:
        return render(request, "ui/no_markets.html", status=404)
    return redirect("trade", symbol=first.symbol)


def _trade_prefetch(symbol: str, authenticated: bool) -> list[str]:
    """The GETs of the trading page's first data, started by an inline script as soon as
    the HTML is parsed instead of after the modules load (~150 ms earlier on loopback).
    They must be exactly the paths static/js/lib.js ``API`` builds (a mismatch only costs
    a wasted request: the page fetches anything not prefetched itself)."""
    paths = [f"/api/v1/markets/{symbol}/depth?limit=100",
             f"/api/v1/markets/{symbol}/trades?limit=60",
             f"/api/v1/markets/{symbol}/ticker",
             f"/api/v1/markets/{symbol}/candles?interval=1m&limit=300"]
    if authenticated:
        paths += ["/api/v1/balances", f"/api/v1/orders/open?market={symbol}",
                  f"/api/v1/orders?market={symbol}", f"/api/v1/trades?market={symbol}"]
    return paths


@ensure_csrf_cookie
def trade(request, symbol: str):
    market = get_object_or_404(Market.objects.select_related("base", "quote"),
                               symbol=symbol.upper())
    markets = _markets()
    return render(request, "ui/trade.html", {
        "market": market,
        "markets": markets,
        "prefetch": _trade_prefetch(market.symbol, request.user.is_authenticated),
        "page_config": {
            "market": _market_rules(market),
            "markets": [m.symbol for m in markets],
            "authenticated": request.user.is_authenticated,
        },
    })


@login_required
@ensure_csrf_cookie
def wallet(request):
    assets = list(Asset.objects.order_by("symbol"))
    return render(request, "ui/wallet.html", {
        "assets": assets,
        "page_config": {
            "assets": [{"symbol": a.symbol, "name": a.name, "precision": a.precision,
                        "withdrawal_fee": _plain(a.withdrawal_fee),
                        "min_withdrawal": _plain(a.min_withdrawal)} for a in assets],
            "debug": settings.DEBUG,
        },
    })


@login_required
@ensure_csrf_cookie
def account(request):
    return render(request, "ui/account.html", {
        "otp_enabled": user_has_device(request.user, confirmed=True),
        "page_config": {"email": request.user.email},
    })
