"""``/ws/agents/``: the websocket a node agent opens to the dashboard to take probe requests.

Authenticated by the host token in ``Authorization: Bearer`` (the one the
agent reports with; no session, no Origin: it is not a browser). The token
names the host: the socket joins that host's group only, so an agent can
neither receive another host's requests nor answer them (a result is
forwarded only for a request id this socket was sent). Refused handshakes
close with 4401 (no or unknown token).

Messages: see topology/agent/channel.py; the requester's side is
topology/probes/request.py.
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from topology import services
from topology.probes.presence import Presence, group_of

CLOSE_UNAUTHENTICATED = 4401
MAX_PENDING = 64


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"authorization":
            return services.bearer(value.decode("latin1"))
    return ""


class AgentChannelConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        token = bearer_token(self.scope.get("headers", []))
        host = await database_sync_to_async(services.host_for_token)(token) if token else None
        if host is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.host: str | None = host
        self.group = group_of(host)
        self.pending: dict[str, tuple[str, float]] = {}  # request id -> (reply key, deadline)
        self.presence = Presence(host, self.channel_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.presence.mark()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "host", None) is None:
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.presence.clear()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.presence.mark()
            return
        if content.get("type") != "probe.result":
            return
        request_id = content.get("id")
        entry = self.pending.pop(request_id, None) if isinstance(request_id, str) else None
        if entry is None:
            return  # not a request of this socket's host, or answered already, or too late
        result = content.get("result")
        if not isinstance(result, dict):
            result = {"ok": False, "error": "the agent's answer is not an object"}
        await self.presence.reply(entry[0], result)

    async def probe_request(self, event: dict[str, Any]) -> None:
        """From the group: forward the request to the agent, remember who waits for it."""
        now = time.monotonic()
        for request_id in [k for k, (_, deadline) in self.pending.items() if deadline < now]:
            del self.pending[request_id]
        if len(self.pending) >= MAX_PENDING:
            await self.presence.reply(event["reply"], {"ok": False, "error": f"busy: {MAX_PENDING} probes waiting"})
            return
        self.pending[event["id"]] = (event["reply"], now + float(event["timeout"]) + 5)
        await self.send_json(
            {
                "type": "probe.request",
                "id": event["id"],
                "kind": event["kind"],
                "args": event["args"],
                "timeout": event["timeout"],
            }
        )
