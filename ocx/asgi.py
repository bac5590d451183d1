"""ASGI entry point: HTTP through Django, WebSocket through Channels (session or token auth)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocx.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does first

from ocx.asgi_handler import SyncChainASGIHandler  # noqa: E402

django_asgi_app = SyncChainASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from ocx.channels_auth import BrowserOriginValidator, TokenOrSessionAuthMiddlewareStack  # noqa: E402
from ocx.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(TokenOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
