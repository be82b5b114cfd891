"""WebSocket routes. Browser connections must come from an allowed Origin; the session
cookie authenticates (AuthMiddlewareStack). Other formats (the Binance streams of
``/ws/<stream>`` and ``/stream``) add their routes here, on the same hub."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from marketdata.streaming.consumers import MarketDataConsumer, SeedTradesConsumer

websocket_urlpatterns: list = [
    path("ws/v1", MarketDataConsumer.as_asgi()),
    path("ws/trades", SeedTradesConsumer.as_asgi()),
]

websocket_application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
)
