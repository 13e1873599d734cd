"""Websocket routes; each app contributes its own."""

from __future__ import annotations

from typing import Any

from django.urls import path

from tasks.consumers import JobsConsumer
from topology.consumers import TopologyConsumer
from topology.probes.consumer import AgentChannelConsumer
from topology.watches.consumer import WatchConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/topology/", TopologyConsumer.as_asgi()),
    path("ws/jobs/", JobsConsumer.as_asgi()),
    path("ws/watches/", WatchConsumer.as_asgi()),
]

# Node agents' probe channel: authenticated by the host token, not a browser (no session, no Origin):
# routed outside the browsers' origin check and session middleware (dashboard/asgi.py).
AGENT_CHANNEL_PATH = "/ws/agents/"
agent_websocket_urlpatterns: list[Any] = [
    path("ws/agents/", AgentChannelConsumer.as_asgi()),
]
