"""Ask a connected agent for one probe and wait for its answer, bounded.

``run_on_host`` checks presence first (one Redis GET: a host whose agent is
not connected is answered at once, nothing is queued), sends the request to
the host's group with a fresh reply channel, and waits at most the probe's
timeout plus ANSWER_MARGIN_S (the agent kills the command at its timeout and
answers; the margin covers the trip). No answer by then: ProbeTimeout.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from topology.probes.presence import group_of, is_connected

ANSWER_MARGIN_S = 5.0


class NotConnected(Exception):
    """The host's agent has no channel open to this dashboard now."""


class ProbeTimeout(Exception):
    """No answer within the bound."""


async def _ask(host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    layer = get_channel_layer()
    assert layer is not None
    reply = await layer.new_channel("probe-reply.")
    request_id = uuid.uuid4().hex
    await layer.group_send(group_of(host), {"type": "probe.request", "id": request_id, "kind": kind,
                                            "args": args, "timeout": timeout, "reply": reply})
    try:
        async with asyncio.timeout(timeout + ANSWER_MARGIN_S):
            while True:
                message = await layer.receive(reply)
                if message.get("id") == request_id:
                    result = message.get("result")
                    return result if isinstance(result, dict) else {"ok": False, "error": "no result"}
    except TimeoutError:
        raise ProbeTimeout(f"no answer from {host}'s agent within {timeout + ANSWER_MARGIN_S:g} s") from None


def run_on_host(host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The agent's result dict; raises NotConnected at once or ProbeTimeout after the bound."""
    if not is_connected(host):
        raise NotConnected(f"the agent of host {host!r} is not connected to the dashboard")
    return async_to_sync(_ask)(host, kind, args, timeout)
