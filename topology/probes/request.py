"""Ask a connected agent for one probe and wait for its answer, bounded.

``run_on_host`` checks presence first (one Redis GET: a host whose agent is
not connected is answered at once, nothing is queued), sends the request to
the host's channel group, and waits on a Redis list of its own (BLPOP) at
most the probe's timeout plus ANSWER_MARGIN_S: the agent kills the command
at its timeout and answers; the margin covers the trip. No answer by then:
ProbeTimeout. The consumer pushes the agent's answer onto that list
(topology/probes/consumer.py). A Redis list rather than a reply channel: a
channel layer must not be received on from the several event loops sync
views' async_to_sync may run in, and BLPOP's bound needs no cancellation.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from topology.probes.presence import group_of, instance_tag, is_connected, sync_client

ANSWER_MARGIN_S = 5.0


class NotConnected(Exception):
    """The host's agent has no channel open to this dashboard now."""


class ProbeTimeout(Exception):
    """No answer within the bound."""


def reply_key(request_id: str) -> str:
    return f"neutron-map:{instance_tag()}:probe-reply:{request_id}"


def run_on_host(host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The agent's result dict; raises NotConnected at once or ProbeTimeout after the bound."""
    if not is_connected(host):
        raise NotConnected(f"the agent of host {host!r} is not connected to the dashboard")
    request_id = uuid.uuid4().hex
    layer = get_channel_layer()
    assert layer is not None
    async_to_sync(layer.group_send)(
        group_of(host),
        {
            "type": "probe.request",
            "id": request_id,
            "kind": kind,
            "args": args,
            "timeout": timeout,
            "reply": reply_key(request_id),
        },
    )
    bound = timeout + ANSWER_MARGIN_S
    client = sync_client(socket_timeout=bound + 5)
    try:
        popped = client.blpop([reply_key(request_id)], timeout=bound)
    finally:
        client.close()
    if popped is None:
        raise ProbeTimeout(f"no answer from {host}'s agent within {bound:g} s")
    result = json.loads(popped[1])
    return result if isinstance(result, dict) else {"ok": False, "error": "no result"}
