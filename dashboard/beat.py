"""Exactly one Celery beat sends the schedule, however many are started: a lease in Redis.

The installation runs one beat (README "Running on more than one machine"). A second
one, its unit enabled on another machine by mistake or as a standby, would send every
schedule twice. ``celery -A dashboard beat`` (and ``worker --beat``) uses
:class:`SingleBeatScheduler` (``CELERY_BEAT_SCHEDULER``): before each tick it takes or
renews the lease ``neutron-map:beat`` (``DASHBOARD_BEAT_LEASE_KEY``) in the broker's Redis, and sends nothing while
another beat holds it (a *standby*, asking again every third of the lease's time).

* Taken with ``SET NX PX`` under a token naming the process (``host:pid:random``),
  renewed each tick only while the value is still its own (one Lua script), so a beat
  that was paused past its lease and lost it to another stands by instead of sending.
* A holder killed (SIGKILL, the machine gone) leaves a lease that lapses after
  ``DASHBOARD_BEAT_LEASE_SECONDS``; a standby takes over then.
* Redis away: the beat could not send through a Redis broker anyway; it ticks without
  the lease (logged) rather than stop a beat whose broker is elsewhere.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

import redis
from celery.beat import PersistentScheduler
from django.conf import settings

log = logging.getLogger(__name__)

# KEYS: the lease; ARGV: token, ttl in ms. 1 when this token holds the lease afterwards.
HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
# KEYS: the lease; ARGV: token. Deletes it only if it is still this token's.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_url() -> str:
    """The broker's Redis when the broker is Redis, else the dashboard's (REDIS_URL)."""
    broker = str(settings.CELERY_BROKER_URL)
    return broker if broker.startswith(("redis://", "rediss://", "unix://")) else str(settings.REDIS_URL)


class BeatLease:
    """Whether this beat may send now: the lease held (taken or renewed) under this process's token."""

    def __init__(self, client: redis.Redis, ttl: float, key: str) -> None:
        self.client = client
        self.ttl = ttl
        self.key = key
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held: bool | None = None  # None: not asked yet (the first answer is logged either way)
        self.reachable = True

    def hold(self) -> bool:
        try:
            held = bool(self.client.eval(HOLD, 1, self.key, self.token, int(self.ttl * 1000)))
        except (redis.RedisError, OSError) as exc:
            if self.reachable:
                log.warning("beat lease %s unreachable (%s): sending without it", self.key, exc)
            self.reachable = False
            return True
        self.reachable = True
        if held != self.held:
            self.said(held)
        self.held = held
        return held

    def said(self, held: bool) -> None:
        if held:
            log.info("beat %s holds the lease %s: it sends the schedule", self.token, self.key)
        else:
            log.warning("beat %s stands by: the lease %s is held by %s", self.token, self.key, self.holder())

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    def release(self) -> None:
        try:
            self.client.eval(RELEASE, 1, self.key, self.token)
        except (redis.RedisError, OSError) as exc:
            log.warning("beat lease %s not released (%s): it lapses in %g s", self.key, exc, self.ttl)
        self.held = False


class SingleBeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler, sending only while it holds the beat lease."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        ttl = float(settings.BEAT_LEASE_SECONDS)
        client = redis.Redis.from_url(lease_url(), socket_timeout=5, socket_connect_timeout=2)
        self.lease = BeatLease(client, ttl, settings.BEAT_LEASE_KEY)
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Seconds until the next tick: a standby's third of the lease; the holder's, at most that too."""
        renew_every = self.lease.ttl / 3
        if not self.lease.hold():
            return renew_every
        return min(float(super().tick(*args, **kwargs)), renew_every)

    def close(self) -> None:
        super().close()
        if self.lease.held:
            self.lease.release()  # a standby takes over at its next ask, not after the lease lapses
