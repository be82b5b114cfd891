"""WebSocket routes. Browser connections must come from an allowed Origin; the session
cookie authenticates (AuthMiddlewareStack). Other formats (the Binance streams of
``/ws/<stream>`` and ``/stream``) add their routes here, on the same hub."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from marketdata.streaming.consumers import MarketDataConsumer, SeedTradesConsumer

websocket_urlpatterns: list = [
    path("ws/v1", MarketDataConsumer.as_asgi()),
    path("ws/trades", SeedTradesConsumer.as_asgi()),
]

from exchange.binance.routing import websocket_urlpatterns as _binance_routes  # noqa: E402

websocket_urlpatterns += _binance_routes


class BrowserOriginValidator(OriginValidator):
    """Refuses a browser whose Origin is not one of ALLOWED_HOSTS (cross-site WebSocket
    hijacking with the session cookie), like Channels' AllowedHostsOriginValidator. A
    connection without Origin is not a browser (bots, Binance clients): it is let
    through and authenticates on its own (listen key)."""

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or self.validate_origin(parsed_origin)


websocket_application = BrowserOriginValidator(
    AuthMiddlewareStack(URLRouter(websocket_urlpatterns)), settings.ALLOWED_HOSTS
)
