"""A Redis of the test's own, started by bin/redis (the same config the dashboard runs with).

The shared Redis on 6379 is never stopped: other engineers' workers and the
Channels layer use it. A test that needs Redis down, restarted or crashed
starts its own on a free loopback port, with its append-only file in a
directory of its own, and points this process's Celery app and Channels
layer at it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import redis
from django.test import override_settings

from tests.conftest import REPO, free_port


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.dir = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        env = {**os.environ, "REDIS_PORT": str(self.port), "REDIS_DIR": str(self.dir)}
        subprocess.run([str(REPO / "bin" / "redis")], env=env, check=True, timeout=30)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def pid(self) -> int:
        return int((self.dir / "redis.pid").read_text())

    def stop(self) -> None:
        """A clean stop (SHUTDOWN); the append-only file is flushed."""
        pid = self.pid()
        with suppress(redis.ConnectionError):  # SHUTDOWN closes the connection before answering
            self.client().shutdown(nosave=True)
        self.wait_gone(pid)

    def crash(self) -> None:
        """SIGKILL: what a crash or an OOM kill does; whatever the AOF holds is what survives."""
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        self.wait_gone(pid)

    def wait_gone(self, pid: int) -> None:
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"redis-server {pid} did not stop")

    def up(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False


def forget_connections(app: Any) -> None:
    """Drop the Celery app's connection pool and the producer pool built on it."""
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def started_redis(directory: Path) -> Iterator[OwnRedis]:
    """A Redis of this test's own in ``directory`` (made here), stopped afterwards if still up."""
    server = OwnRedis(directory)
    server.dir.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        if server.up():
            server.stop()


@contextmanager
def own_redis(directory: Path) -> Iterator[OwnRedis]:
    """A started Redis of this test's own, this process's broker and Channels layer pointed at it."""
    from dashboard.celery import app

    with started_redis(directory) as server:
        saved = app.conf.broker_url
        layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [server.url]}}}
        try:
            with override_settings(CHANNEL_LAYERS=layers, CELERY_BROKER_URL=server.url):
                app.conf.broker_url = server.url
                forget_connections(app)
                yield server
        finally:
            app.conf.broker_url = saved
            forget_connections(app)
