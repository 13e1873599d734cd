"""Websocket routes; each app contributes its own."""

from __future__ import annotations

from typing import Any

from django.urls import path

from tasks.consumers import JobsConsumer
from topology.consumers import TopologyConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/topology/", TopologyConsumer.as_asgi()),
    path("ws/jobs/", JobsConsumer.as_asgi()),
]
