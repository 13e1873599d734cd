"""ISO 8601 times as Keystone and the node agent write them."""

from __future__ import annotations

from datetime import datetime


def parse_time(value: str) -> datetime:
    """An aware datetime from ISO 8601 text; a trailing ``Z`` (Keystone, the agent report) is UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
