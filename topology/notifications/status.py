"""The listener's state, in Redis (the graph queue's), for the status API of every web process."""

from __future__ import annotations

import json
import logging
from typing import Any

from topology import ingest_queue

log = logging.getLogger(__name__)
KEY = ingest_queue.PREFIX + "notifications"
# The listener rewrites its state at least this often; older, it is not running.
HEARTBEAT_SECONDS = 10
TTL_SECONDS = 3 * HEARTBEAT_SECONDS


def write(state: dict[str, Any]) -> None:
    try:
        ingest_queue.client().set(KEY, json.dumps(state), ex=TTL_SECONDS)
    except ingest_queue.QueueDown as exc:
        log.warning("could not record the listener's state: %s", exc)


def read() -> dict[str, Any] | None:
    """The listener's last state; None when no listener runs (or Redis is away)."""
    try:
        raw = ingest_queue.client().get(KEY)
    except ingest_queue.QueueDown:
        return None
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None
