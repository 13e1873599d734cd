"""Hosts whose stored report the graph does not show yet: the graph writer's work list, in Redis.

``POST /api/v1/agents/report/`` stores a host's report and then *marks* the host
here; the graph writer (``tasks/graph.py``, one process on the Celery queue
``graph``) drains the marks: one rebuild applies every host marked before it
started, however many reports each host sent meanwhile (latest wins: the
rebuild reads the stored reports, which are always each host's latest).

Three Redis keys, all times from Redis's own clock (``TIME``: one clock for every
web server and the writer, wherever they run):

* ``dirty`` (zset host -> time of its *latest* mark): a host is applied by a
  rebuild that began after that time; the writer removes exactly those;
* ``since`` (zset host -> time of its *oldest* unapplied mark): the lag, which
  the web side turns into a 503 when the writer is behind;
* ``scheduled`` (a flag with a time to live): one writer task in the queue at
  a time; a report arriving while one is pending only marks its host.

A mark lost with Redis (a crash without its AOF) is caught by the periodic
rebuilds: the beat's cloud refresh re-joins every stored report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from celery import current_app
from django.conf import settings
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

PREFIX = "neutron-map:graph:"
DIRTY, SINCE, SCHEDULED, REBUILDS = (PREFIX + k for k in ("dirty", "since", "scheduled", "rebuilds"))
WRITER_TASK = "graph.apply_reports"
WRITER_QUEUE = "graph"
# The mark of a cloud refresh (the snapshot, and every host's stored report and freshness compared,
# services.apply_cloud): no host is named so (host names have no ':', topology/report).
CLOUD_MARK = ":cloud"
QueueDown = (redis.RedisError, OSError, OperationalError)  # Redis (the work list or the broker) away

# KEYS: dirty, since, scheduled; ARGV: host, flag ttl. Returns 1 if the caller must schedule the writer.
MARK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZADD', KEYS[2], 'NX', now, ARGV[1])
if redis.call('SET', KEYS[3], now, 'NX', 'EX', tonumber(ARGV[2])) then return 1 end
return 0
"""
# KEYS: dirty, since; ARGV: the time the rebuild began. Removes the hosts it applied; returns how many.
APPLIED = """
local hosts = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, host in ipairs(hosts) do
  redis.call('ZREM', KEYS[1], host)
  redis.call('ZREM', KEYS[2], host)
end
return #hosts
"""
# KEYS: since. Returns {redis time, oldest unapplied mark or false, pending hosts}.
LAG = """
local t = redis.call('TIME')
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {t[1] .. '.' .. string.format('%06d', tonumber(t[2])), oldest[2] or false, redis.call('ZCARD', KEYS[1])}
"""


@lru_cache(maxsize=8)
def client_for(url: str) -> redis.Redis:
    # Short timeouts: a report must get its answer (503) quickly when Redis is away.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def client() -> redis.Redis:
    return client_for(settings.GRAPH_QUEUE_URL)


def _script(source: str) -> Any:
    return client().register_script(source)


@dataclass(frozen=True)
class Backlog:
    """What the writer has not applied yet."""

    pending: int  # hosts marked and not applied
    lag: float  # seconds since the oldest unapplied mark (0 when none)
    rebuilds: int  # rebuilds the writer made so far (since Redis's data began)


def redis_now() -> float:
    seconds, micros = client().time()
    return float(seconds) + micros / 1e6


def mark(host: str) -> bool:
    """Note that ``host``'s stored report is not applied; True if no writer task was pending."""
    return bool(_script(MARK)(keys=[DIRTY, SINCE, SCHEDULED], args=[host, settings.GRAPH_SCHEDULED_TTL_SECONDS]))


def schedule_writer() -> None:
    """Queue one writer task (on the queue ``graph``); on failure the flag is dropped so the next mark retries."""
    try:
        current_app.send_task(WRITER_TASK, queue=WRITER_QUEUE, retry=False)
    except Exception:
        client().delete(SCHEDULED)
        raise


def mark_and_schedule(host: str) -> None:
    if mark(host):
        schedule_writer()


def backlog() -> Backlog:
    pending, lag = pending_and_lag()
    rebuilds = client().get(REBUILDS)
    return Backlog(pending=pending, lag=lag, rebuilds=int(rebuilds or 0))


def pending_and_lag() -> tuple[int, float]:
    """Hosts marked and not applied, and the seconds since the oldest such mark: one round trip
    (what a report's POST asks before it is taken)."""
    now, oldest, pending = _script(LAG)(keys=[SINCE])
    return int(pending), max(0.0, float(now) - float(oldest)) if oldest else 0.0


def pending_hosts() -> list[str]:
    return [h.decode() if isinstance(h, bytes) else str(h) for h in client().zrange(DIRTY, 0, -1)]


def applied(started: float) -> int:
    """Unmark the hosts whose latest mark is older than ``started`` (a rebuild that began then read them)."""
    client().incr(REBUILDS)
    return int(_script(APPLIED)(keys=[DIRTY, SINCE], args=[repr(started)]))


def release() -> None:
    client().delete(SCHEDULED)


def claim() -> bool:
    """Take the writer's flag again (marks arrived after the queue looked empty); False if another task has it."""
    return bool(client().set(SCHEDULED, "1", nx=True, ex=settings.GRAPH_SCHEDULED_TTL_SECONDS))


def pending() -> bool:
    return bool(client().zcard(DIRTY))


def drain(rebuild: Callable[[list[str]], object]) -> int:
    """The writer's loop: rebuild while hosts are marked; each rebuild applies every host marked before it.

    ``rebuild`` is given the hosts marked when it starts (read after its start time, so every
    host that :func:`applied` unmarks is among them).

    Returns the number of rebuilds. Reports that arrive during a rebuild only mark
    their hosts: the next turn applies them all at once.
    """
    rebuilds = 0
    try:
        while True:
            if not pending():
                release()
                # A mark between the look and the release found the flag set and queued nothing: take it again.
                if not pending() or not claim():
                    return rebuilds
                continue
            started = redis_now()
            rebuild(pending_hosts())
            applied(started)
            rebuilds += 1
    except BaseException:
        # The flag goes, so that the next report (or the beat's sweep) queues the writer again.
        with suppress(*QueueDown):
            release()
        raise
