"""Binance WebSocket routes, included by ``marketdata.routing``."""

from django.urls import path, re_path

from exchange.binance.streams import BinanceStreamConsumer, CombinedStreamConsumer

websocket_urlpatterns = [
    path("stream", CombinedStreamConsumer.as_asgi()),
    path("ws", BinanceStreamConsumer.as_asgi()),
    re_path(r"^ws/(?P<streams>[A-Za-z0-9_@\-/]+)$", BinanceStreamConsumer.as_asgi()),
]
