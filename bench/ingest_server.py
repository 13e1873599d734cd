"""The stack under bench.ingest: scratch database, the stored cloud, daphne (and a worker), their CPU and RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import orjson
import psutil  # type: ignore[import-untyped]
import requests

from bench.ingest_stats import JsonDict

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-ingest.sqlite3"
LOG_DIR = REPO / "var" / "log"


def server_env(redis_url: str, writer: str = "queue") -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{DB}",
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DASHBOARD_GRAPH_WRITER": writer,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)  # the broker is REDIS_URL's, as for bin/run
    env.pop("DASHBOARD_GRAPH_QUEUE_URL", None)
    key = REPO / "var" / "secret-key"
    if "DJANGO_SECRET_KEY" not in env and "DJANGO_SECRET_KEY_FILE" not in env and key.exists():
        env["DJANGO_SECRET_KEY_FILE"] = str(key)
    return env


def setup_django(env: dict[str, str]) -> None:
    """A fresh scratch database, migrated; this process's Django on it (same key and Redis as the server)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    subprocess.run([str(REPO / "bin" / "redis")], cwd=REPO, check=True)
    forget_queue(env["REDIS_URL"])
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env=env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
    if "DJANGO_SECRET_KEY_FILE" in env:
        os.environ["DJANGO_SECRET_KEY_FILE"] = env["DJANGO_SECRET_KEY_FILE"]
    import django

    django.setup()


def forget_queue(redis_url: str) -> None:
    """An earlier run's marks and queued writer tasks (same Redis database) are not this run's."""
    import redis

    client = redis.Redis.from_url(redis_url)
    stale = [*client.scan_iter("neutron-map:graph:*"), b"graph"]
    client.delete(*stale)


def store_cloud(cloud: JsonDict) -> int:
    """The snapshot as ``services.refresh_cloud`` stores it, then its rebuild; returns the revision."""
    from topology import services

    services.store_snapshot(cloud, "synthetic")
    return services.rebuild_graph().revision


def preload(reports: dict[str, JsonDict]) -> None:
    """--preload: every host's first report stored as the endpoint stores it, then one rebuild, in this
    process before the server starts (not through the API: to measure the stream where the first
    reports through the API do not all get in)."""
    from topology import services

    started = time.monotonic()
    for host, report in reports.items():
        services.store_report(host, report, len(orjson.dumps(report)))
    revision = services.rebuild_graph().revision
    print(
        f"preloaded (not through the API): {len(reports)} first reports stored and joined once in "
        f"{time.monotonic() - started:.1f} s, revision {revision}"
    )


def admin_session() -> str:
    """A logged-in admin's session key, as the login view makes it (tests/browser.py)."""
    from tests.browser import caller, session_for

    return session_for(caller("admin", "admin-project", admin=True, minutes=240))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} (logs in {LOG_DIR})")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


def celery_worker(*args: str) -> list[str]:
    return [str(REPO / ".venv/bin/celery"), "-A", "dashboard", "worker", "--loglevel", "INFO", *args]


@contextmanager
def stack(env: dict[str, str], port: int, worker: bool) -> Iterator[dict[str, psutil.Process]]:
    """daphne, the graph writer (DASHBOARD_GRAPH_WRITER=queue) and with ``worker`` the jobs' Celery
    worker, as bin/run starts them; yields their processes by name."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    daphne = [str(REPO / ".venv/bin/daphne"), "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"]
    commands = {"daphne": daphne}
    if env.get("DASHBOARD_GRAPH_WRITER", "queue") == "queue":
        commands["writer"] = celery_worker(
            "-Q", "graph", "--concurrency", "1", "--pool", "solo", "-n", f"bench-graph-{port}@%h"
        )
    if worker:
        commands["celery"] = celery_worker("-Q", "celery", "--concurrency", "2", "-n", f"bench-ingest-{port}@%h")
    procs = []
    for name, command in commands.items():
        with open(LOG_DIR / f"bench-ingest-{name}.log", "ab") as log:
            procs.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        wait_http(f"http://127.0.0.1:{port}/login/", procs)
        yield {name: psutil.Process(p.pid) for name, p in zip(commands, procs, strict=True)}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


class Resources:
    """The server processes' CPU seconds (with children) and peak RSS, sampled every second."""

    def __init__(self, procs: list[psutil.Process], names: list[str] | None = None) -> None:
        self.procs = procs
        self.names = names or [f"process {i}" for i in range(len(procs))]
        self.peak_rss = 0
        self.peak_by_name = dict.fromkeys(self.names, 0)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def tree(self) -> list[psutil.Process]:
        return [q for p in self.procs for q in (p, *p.children(recursive=True))]

    def cpu(self) -> float:
        total = 0.0
        for p in self.tree():
            with suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss(self) -> int:
        total = 0
        for p in self.tree():
            with suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def one(self, proc: psutil.Process) -> tuple[float, int]:
        """CPU seconds and RSS of ``proc`` with its children."""
        cpu, rss = 0.0, 0
        for p in (proc, *proc.children(recursive=True)):
            with suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                cpu += t.user + t.system
                rss += p.memory_info().rss
        return cpu, rss

    def by_name(self) -> dict[str, tuple[float, int]]:
        return {name: self.one(p) for name, p in zip(self.names, self.procs, strict=True)}

    def sample(self) -> None:
        while not self.stopping.wait(1.0):
            self.peak_rss = max(self.peak_rss, self.rss())
            for name, (_, rss) in self.by_name().items():
                self.peak_by_name[name] = max(self.peak_by_name[name], rss)


def daphne_log() -> Path:
    return LOG_DIR / "bench-ingest-daphne.log"
