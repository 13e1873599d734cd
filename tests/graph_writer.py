"""The queue mode's real parts: a Redis of the test's own and the graph writer (a Celery worker on ``-Q graph``)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import override_settings

from tests.conftest import ARTIFACTS
from tests.lab_jobs import spawn_celery_worker, stop_worker
from tests.redis_server import OwnRedis, own_redis
from topology import ingest_queue, services
from topology.models import GraphState

JsonDict = dict[str, Any]


def writer_env(redis_url: str, **extra: str) -> dict[str, str]:
    """What bin/run's writer has, on the test database and the test's Redis."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "DASHBOARD_GRAPH_QUEUE_URL": redis_url,
        "DASHBOARD_GRAPH_WRITER": "queue",
        **extra,
    }


@contextmanager
def graph_writer(redis_url: str, log_name: str = "graph-writer.log") -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A dashboard worker -Q graph --concurrency 1 --pool solo``, as bin/run starts it."""
    log = ARTIFACTS / "ingest-queue" / log_name
    proc = spawn_celery_worker("graph", log, writer_env(redis_url), "-Q", "graph", "--concurrency", "1")
    try:
        yield proc
    finally:
        stop_worker(proc)


@contextmanager
def queue_mode(directory: Path, **settings: Any) -> Iterator[OwnRedis]:
    """This process answers reports in the queue mode, on a Redis of its own (broker, layer, work list)."""
    with own_redis(directory) as server:
        values = {"GRAPH_WRITER": "queue", "GRAPH_QUEUE_URL": server.url, "GRAPH_MAX_LAG_SECONDS": 600.0, **settings}
        with override_settings(**values):
            yield server


def store_cloud(cloud: JsonDict) -> None:
    """The snapshot as refresh_cloud stores it, and its rebuild (the graph before any report)."""
    services.store_snapshot(cloud, "synthetic")
    services.rebuild_graph()


def node_ids() -> set[str]:
    state = GraphState.objects.filter(id=1).first()
    return {n["id"] for n in (state.graph or {}).get("nodes", [])} if state else set()


def wait_until(what: str, holds: Callable[[], bool], timeout: float = 180) -> None:
    """Poll ``holds`` (the writer is another process); a generous bound, never a timed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if holds():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not so after {timeout:.0f} s")


def drained() -> bool:
    return ingest_queue.backlog().pending == 0
