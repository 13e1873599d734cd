"""Exactly one Celery beat sends the schedule (dashboard/beat.py): real ``celery beat`` processes, their own Redis.

The messages the beats send stay in the broker's lists (no worker runs here); each carries the
``origin`` of the process that sent it (``gen<pid>@host``), so the test reads who sent what.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import ARTIFACTS, REPO
from tests.lab_jobs import stop_worker
from tests.redis_server import OwnRedis, started_redis

LEASE_SECONDS = 3
LEASE_KEY = settings.BEAT_LEASE_KEY  # this run's (tests/settings.py), in the beats' environment too


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[OwnRedis]:
    with started_redis(tmp_path / "redis") as server:
        yield server


def start_beat(server: OwnRedis, schedule: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": server.url,
        "CELERY_BROKER_URL": server.url,
        "DASHBOARD_BEAT_LEASE_SECONDS": str(LEASE_SECONDS),
        "DASHBOARD_GRAPH_SWEEP_SECONDS": "1",  # the writer's sweep, every second: something to send
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        celery = str(Path(sys.executable).parent / "celery")
        command = [celery, "-A", "dashboard", "beat", "--schedule", str(schedule), "--loglevel", "INFO"]
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def senders(server: OwnRedis) -> list[int]:
    """The pid of the sender of every message in the queue ``graph``, oldest first."""
    pids = []
    for raw in reversed(server.client().lrange("graph", 0, -1)):  # LPUSHed: the newest first
        origin = json.loads(raw)["headers"]["origin"]  # gen<pid>@host
        pids.append(int(origin[3:].split("@")[0]))
    assert all(isinstance(pid, int) for pid in pids)
    return pids


def wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.2)


def holder_pid(server: OwnRedis) -> int | None:
    value = server.client().get(LEASE_KEY)
    text = value.decode() if isinstance(value, bytes) else value
    return int(text.split(":")[1]) if text else None


def test_a_second_beat_stands_by_and_takes_over_when_the_first_is_killed(
    redis_server: OwnRedis, tmp_path: Path
) -> None:
    logs = ARTIFACTS / "beat-lease"
    first = start_beat(redis_server, tmp_path / "first-schedule", logs / "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        wait(lambda: holder_pid(redis_server) == first.pid, "the first beat holds the lease")
        wait(lambda: len(senders(redis_server)) >= 2, "the first beat sends the sweep")
        second = start_beat(redis_server, tmp_path / "second-schedule", logs / "second.log")
        # Both run, the second's ticks asking for the lease every second: only the first sends.
        time.sleep(3 * LEASE_SECONDS)
        assert second.poll() is None and first.poll() is None
        both_ran = senders(redis_server)
        assert set(both_ran) == {first.pid}, both_ran
        assert holder_pid(redis_server) == first.pid
        first.send_signal(signal.SIGKILL)  # no release: the lease must lapse
        first.wait(10)
        wait(lambda: holder_pid(redis_server) == second.pid, "the second beat takes the lapsed lease", timeout=30)
        wait(lambda: second.pid in senders(redis_server), "the second beat sends the sweep")
        after = senders(redis_server)[len(both_ran) :]
        assert after and after[-1] == second.pid
        assert after.count(first.pid) <= 1, after  # at most one tick the first had sent before it died
        stop_worker(second)  # SIGTERM: the scheduler closes and releases its lease
        assert redis_server.client().get(LEASE_KEY) is None
    finally:
        stop_worker(first)
        if second is not None:
            stop_worker(second)


def test_the_beats_standby_says_who_holds_the_lease(redis_server: OwnRedis, tmp_path: Path) -> None:
    redis_server.client().set(LEASE_KEY, "elsewhere:4242:cafe", px=60_000)  # another machine's beat
    log = ARTIFACTS / "beat-lease" / "standby.log"
    start = log.stat().st_size if log.exists() else 0
    beat = start_beat(redis_server, tmp_path / "schedule", log)
    try:
        wait(lambda: b"stands by" in log.read_bytes()[start:], "the standby's log line")
        assert b"held by elsewhere:4242:cafe" in log.read_bytes()[start:]
        time.sleep(2)
        assert senders(redis_server) == []
    finally:
        stop_worker(beat)
    assert redis_server.client().get(LEASE_KEY) == b"elsewhere:4242:cafe"  # a standby releases nothing it never held
