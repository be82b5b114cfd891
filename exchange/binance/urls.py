"""The Binance Spot-compatible front door (/api/v3): a thin layer over our services.
Paths and parameter names are Binance's (docs/API.md lists what is supported)."""

from django.urls import path

import exchange.openapi  # noqa: F401 - registers the signed-key OpenAPI scheme
from exchange.binance.views import market, trading, userstream

urlpatterns = [
    path("ping", market.Ping.as_view(), name="binance-ping"),
    path("time", market.ServerTime.as_view(), name="binance-time"),
    path("exchangeInfo", market.ExchangeInfo.as_view(), name="binance-exchange-info"),
    path("depth", market.Depth.as_view(), name="binance-depth"),
    path("trades", market.RecentTrades.as_view(), name="binance-trades"),
    path("historicalTrades", market.HistoricalTrades.as_view(), name="binance-historical-trades"),
    path("aggTrades", market.AggTrades.as_view(), name="binance-agg-trades"),
    path("klines", market.Klines.as_view(), name="binance-klines"),
    path("uiKlines", market.Klines.as_view(), name="binance-ui-klines"),
    path("avgPrice", market.AvgPrice.as_view(), name="binance-avg-price"),
    path("ticker/24hr", market.Ticker24h.as_view(), name="binance-ticker-24hr"),
    path("ticker/price", market.TickerPrice.as_view(), name="binance-ticker-price"),
    path("ticker/bookTicker", market.BookTicker.as_view(), name="binance-book-ticker"),
    path("order", trading.NewOrder.as_view(), name="binance-order"),
    path("order/test", trading.TestOrder.as_view(), name="binance-order-test"),
    path("order/cancelReplace", trading.CancelReplace.as_view(), name="binance-cancel-replace"),
    path("openOrders", trading.OpenOrders.as_view(), name="binance-open-orders"),
    path("allOrders", trading.AllOrders.as_view(), name="binance-all-orders"),
    path("account", trading.Account.as_view(), name="binance-account"),
    path("myTrades", trading.MyTrades.as_view(), name="binance-my-trades"),
    path("userDataStream", userstream.UserDataStream.as_view(), name="binance-user-stream"),
    path("rateLimit/order", trading.OrderRateLimit.as_view(), name="binance-rate-limit-order"),
]
