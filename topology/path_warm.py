"""The path explainer's per-process state made before a user asks: the web process's warm-up.

The first path question of a process pays the explainer's graph built from the stored parts
(topology/path_graph.py, ~1 s at 1,000 hosts) and, for a project's member, every logical object's
tokens counted once (~1 s): docs/benchmarks.md. A served process (dashboard/asgi.py) starts one
daemon thread that makes both at once, then looks at the graph's revision every
``PATH_WARM_UP_POLL_SECONDS`` and moves them on when it changes, so a question finds them made.

Safe by construction: the thread holds its own database connection (Django's are per thread) and
closes it after every pass; any exception is logged and the requests build what they need as before
(path_graph's lock makes a request wait for a build under way rather than build a second one). Off
unless ``PATH_WARM_UP`` (``DASHBOARD_PATH_WARM_UP``, on by default; the test suite turns it off) and
only started by the ASGI entry point, not by management commands or the test client.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)
_started: dict[int, threading.Thread] = {}  # by pid: a forked child has no thread of its parent's
first_pass = threading.Event()  # set once the thread's first pass ended (made or failed)


def warm_once() -> bool:
    """The current revision's indexed graph and its token count made (or moved on); False on failure."""
    from topology.path_graph import current_indexed

    try:
        current_indexed().tokens()
        return True
    except Exception:  # a failed warm-up must never break a request: they build it themselves
        log.exception("path warm-up failed; requests will build the explainer's graph themselves")
        return False
    finally:
        connections.close_all()  # this thread's connections only


def keep_warm(poll: float, stop: threading.Event) -> None:
    """Warm now, then whenever the graph's revision changes (checked every ``poll`` s; 0: once)."""
    from topology.path_graph import graph_key

    seen = None
    while not stop.is_set():
        try:
            key = graph_key()
        except Exception:
            log.exception("path warm-up could not read the graph's revision")
            key = None
        finally:
            connections.close_all()
        if key is not None and key != seen and warm_once():
            seen = key
        first_pass.set()
        if poll <= 0:
            return
        stop.wait(poll)


def start(stop: threading.Event | None = None) -> threading.Thread | None:
    """Start the warm-up thread of this process (once), when ``settings.PATH_WARM_UP``."""
    if not getattr(settings, "PATH_WARM_UP", False):
        return None
    pid = os.getpid()
    if pid in _started and _started[pid].is_alive():
        return _started[pid]
    poll = float(getattr(settings, "PATH_WARM_UP_POLL_SECONDS", 5))
    thread = threading.Thread(
        target=keep_warm, args=(poll, stop or threading.Event()), name="path-warm-up", daemon=True
    )
    thread.start()
    _started[pid] = thread
    return thread


def wait_warm(timeout: float = 120.0) -> float:
    """Wait for this process's first warm-up pass (the benchmark); the seconds waited."""
    started = time.perf_counter()
    first_pass.wait(timeout)
    return time.perf_counter() - started


__all__ = ["keep_warm", "start", "wait_warm", "warm_once"]
