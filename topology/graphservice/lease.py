"""One graph writer applies at a time, whatever runs where: a lease in Redis (queue mode).

The installation has exactly one graph writer (the Celery worker on the queue ``graph``,
README "Running on more than one machine"). Should a second be started by mistake (the
writer's unit enabled on two machines), or a web process, the notification listener or
``manage.py refresh_cloud`` apply at the same time, they must not apply at once: each
:func:`topology.graphservice.apply` in the queue mode runs holding the lease
``neutron-map:graph:writer`` in the work list's Redis (``DASHBOARD_GRAPH_QUEUE_URL``).

* Taken with ``SET NX PX`` (redis-py's :class:`redis.lock.Lock`) under a token naming
  the process (``host:pid:random``); the holder renews it every third of its time to
  live from a thread while it applies, and releases it only if it is still its own.
* Anyone else asking **waits** (it logs once who holds it), then applies: the two take
  turns, each turn syncing from the database first (the writer notices a revision it did
  not write): slower, never two applying at once.
* A holder killed (SIGKILL, OOM) leaves a lease that lapses after
  ``DASHBOARD_GRAPH_WRITER_LEASE_SECONDS``; the next applier takes it then.
* Redis away: applied without the lease (the database's revision check stays: a writer
  whose stored revision moved under it syncs and joins again), as ``services.apply_cloud``
  joins in place when the queue is away.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from redis.exceptions import LockError
from redis.lock import Lock

from topology import ingest_queue

log = logging.getLogger(__name__)

LEASE_KEY = ingest_queue.PREFIX + "writer"
WAIT_POLL_SECONDS = 0.2


def holder_token() -> str:
    """Who holds the lease: this process, readable in Redis and in the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder() -> str | None:
    """The token of the lease's holder now (None: nobody holds it)."""
    value = ingest_queue.client().get(LEASE_KEY)
    return value.decode() if isinstance(value, bytes) else value


def renew_until(lease: Lock, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            lease.reacquire()
        except (LockError, *ingest_queue.QueueDown) as exc:
            log.error("graph writer lease %s not renewed (%s): another writer may apply meanwhile", LEASE_KEY, exc)
            return


def take(lease: Lock, token: str) -> bool:
    """The lease taken under ``token``, waiting as long as another holds it."""
    if not lease.acquire(blocking=False, token=token):
        started = time.monotonic()
        log.info("graph writer %s waits: the lease is held by %s", token, holder())
        lease.acquire(blocking=True, token=token)
        log.info("graph writer %s waited %.1f s for the lease", token, time.monotonic() - started)
    return True


@contextmanager
def writer_lease() -> Iterator[str | None]:
    """Hold the writer's lease while the body applies (waiting for another holder to end); yields the
    token, or None when Redis is unreachable (applied without the lease)."""
    ttl = float(settings.GRAPH_WRITER_LEASE_SECONDS)
    token = holder_token()
    lease = ingest_queue.client().lock(LEASE_KEY, timeout=ttl, sleep=WAIT_POLL_SECONDS, thread_local=False)
    try:
        taken = take(lease, token)
    except ingest_queue.QueueDown as exc:
        log.warning("the graph writer's lease is unreachable (%s): applying without it", exc)
        taken = False
    if not taken:
        yield None
        return
    log.info("graph writer lease taken by %s at %.6f", token, time.time())
    stop = threading.Event()
    renewer = threading.Thread(target=renew_until, args=(lease, stop, ttl / 3), name="writer-lease", daemon=True)
    renewer.start()
    try:
        yield token
    finally:
        stop.set()
        renewer.join()
        log.info("graph writer lease released by %s at %.6f", token, time.time())
        try:
            lease.release()
        except (LockError, *ingest_queue.QueueDown) as exc:
            log.error("graph writer lease %s not released cleanly (%s)", LEASE_KEY, exc)
