"""Which hosts' agents are connected now: a Redis key per host with an expiry, and a channel group per host.

The agent's consumer sets ``<prefix>:<host>`` to its channel name when the
agent connects and again on every ping (every 10 s; the key expires after
PRESENCE_TTL_S without one), and deletes it when the socket closes (only if
it is still its own: a reconnected agent's newer socket keeps it). So "is
this host's agent connected?" is one GET, answered at once.

Dashboards sharing one Redis (several checkouts on a lab machine) do not see
each other's agents: the prefix and the group names carry a tag of the
database the dashboard runs on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

PRESENCE_TTL_S = 30
REPLY_TTL_S = 120  # an answer nobody waits for any more goes away


def instance_tag() -> str:
    name = str(settings.DATABASES["default"]["NAME"])
    return hashlib.sha256(name.encode()).hexdigest()[:10]


def host_digest(host: str) -> str:
    # Group names are ASCII letters, digits, - _ . and < 100 characters: a host name may not be.
    return hashlib.sha256(host.encode()).hexdigest()[:32]


def group_of(host: str) -> str:
    return f"agent-probes.{instance_tag()}.{host_digest(host)}"


def presence_key(host: str) -> str:
    return f"neutron-map:{instance_tag()}:agent-channel:{host_digest(host)}"


def sync_client(socket_timeout: float = 5) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=socket_timeout)


def is_connected(host: str) -> bool:
    client = sync_client()
    try:
        return bool(client.exists(presence_key(host)))
    finally:
        client.close()


class Presence:
    """The consumer's side: mark, refresh and clear one host's presence."""

    def __init__(self, host: str, channel_name: str) -> None:
        self.key = presence_key(host)
        self.channel_name = channel_name
        self.client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)

    async def mark(self) -> None:
        await self.client.set(self.key, self.channel_name, ex=PRESENCE_TTL_S)

    async def reply(self, key: str, result: dict[str, Any]) -> None:
        """Hand an answer to the requester waiting on ``key`` (topology/probes/request.py)."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(result))
            pipe.expire(key, REPLY_TTL_S)
            await pipe.execute()

    async def clear(self) -> None:
        try:
            if (await self.client.get(self.key)) == self.channel_name.encode():
                await self.client.delete(self.key)
        finally:
            await self.client.aclose()
