"""Thin page views. They render the shell of each page with the static rules it needs
(market symbols, tick and step sizes, fee rates) as JSON; live data is fetched by the
page's scripts from /api/v1 and the WebSocket streams."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from marketdata.models import Market
from wallets.models import Asset


def _market_rules(market: Market) -> dict:
    return {
        "symbol": market.symbol,
        "base": market.base.symbol,
        "quote": market.quote.symbol,
        "tick_size": str(market.tick_size.normalize()),
        "step_size": str(market.step_size.normalize()),
        "min_qty": str(market.min_qty.normalize()),
        "min_notional": str(market.min_notional.normalize()),
        "maker_fee": str(market.maker_fee.normalize()),
        "taker_fee": str(market.taker_fee.normalize()),
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


@ensure_csrf_cookie
def trade(request, symbol: str):
    market = get_object_or_404(Market.objects.select_related("base", "quote"),
                               symbol=symbol.upper())
    markets = _markets()
    return render(request, "ui/trade.html", {
        "market": market,
        "markets": markets,
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
                        "withdrawal_fee": str(a.withdrawal_fee.normalize()),
                        "min_withdrawal": str(a.min_withdrawal.normalize())} for a in assets],
            "debug": settings.DEBUG,
        },
    })


@login_required
@ensure_csrf_cookie
def account(request):
    return render(request, "ui/account.html", {
        "page_config": {"email": request.user.email},
    })
