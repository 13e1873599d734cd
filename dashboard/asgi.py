"""ASGI entry point: Django for HTTP, Channels for websockets."""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from topology import path_warm  # noqa: E402

path_warm.start()  # the explainer's graph and token count made before a user asks (PATH_WARM_UP)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from dashboard.routing import AGENT_CHANNEL_PATH, agent_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402

browser_websockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
agent_websockets = URLRouter(agent_websocket_urlpatterns)


async def websockets(scope: Any, receive: Any, send: Any) -> None:
    """Node agents (host token, no Origin) on /ws/agents/; browsers (session, same origin) elsewhere."""
    app = agent_websockets if scope.get("path") == AGENT_CHANNEL_PATH else browser_websockets
    await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        # Static files (d3 among them) are served by WhiteNoise's middleware (settings): one
        # process to run, no web server needed in front on a lab machine, cache headers in production.
        "http": django_asgi_app,
        "websocket": websockets,
    }
)
