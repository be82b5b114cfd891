"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSocket routes are owned by ``marketdata.routing``; browser connections have their
Origin checked there (AllowedHostsOriginValidator) and authenticate by session cookie.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from marketdata.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
