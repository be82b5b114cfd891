"""Market data under /api/v1/ (public)."""

from django.urls import path

from marketdata.api import views

urlpatterns = [
    path("markets", views.markets, name="md-markets"),
    path("markets/<str:symbol>", views.market_detail, name="md-market"),
    path("markets/<str:symbol>/depth", views.depth, name="md-depth"),
    path("markets/<str:symbol>/trades", views.trades, name="md-trades"),
    path("markets/<str:symbol>/candles", views.candles, name="md-candles"),
    path("markets/<str:symbol>/ticker", views.ticker, name="md-ticker"),
    path("tickers", views.tickers, name="md-tickers"),
    path("orderbook", views.orderbook, name="md-orderbook"),
]
