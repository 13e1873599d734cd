"""A logical change through Neutron's API -> the websocket delta, with and without notifications.

    LAB_DIR=/work/main/var/lab flock /tmp/neutron-lab.lock .venv/bin/python -m bench.notify_latency [N]

On the lab (allinone): demo renames a port of its own N times per mode through Neutron's API;
an admin's websocket (/ws/topology/, the real consumer, in this process) waits for the delta
that shows the new name. Two modes, interleaved change by change in one run:

* ``notifications``: the listener (topology/notifications/) applies what Neutron emits;
* ``refresh``: the listener's plans are dropped: only the periodic refresh (what Celery beat
  runs every DASHBOARD_CLOUD_REFRESH_SECONDS, 30 s by default) brings the change.

The periodic refresh runs in both modes (it stays the safety net). The latency is from the
moment the rename is sent to the delta's arrival. One process, the writer inline, a scratch
SQLite database and Redis database 6. Prints p50/p95/max per mode.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-notify.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ["DASHBOARD_GRAPH_WRITER"] = "inline"
# Its own Redis database: the deltas it publishes must not reach dashboards or test servers.
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
MODES = ("notifications", "refresh")
WAIT = 120.0  # a delta not there by then is counted missed


def setup_django() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env=os.environ)
    import django

    django.setup()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


class Refresher(threading.Thread):
    """What Celery beat does: a full refresh every ``period`` seconds."""

    def __init__(self, period: float) -> None:
        super().__init__(daemon=True)
        self.period, self.stop = period, threading.Event()

    def run(self) -> None:
        from django.db import connections

        from topology import services

        try:
            while not self.stop.wait(self.period):
                try:
                    services.refresh_cloud()
                except Exception as exc:  # a refresh that failed: beat's next one comes anyway
                    print(f"refresh failed: {exc!r}", flush=True)
        finally:
            connections.close_all()


async def one_change(net: Any, port_id: str, ws: Any, name: str) -> float:
    from asgiref.sync import sync_to_async

    from topology import graph as g

    node = g.port_id(port_id)
    started = time.perf_counter()
    await sync_to_async(net.update_port)(port_id, name=name)
    while True:
        message = await ws.receive_json_from(WAIT)
        for changed in (message.get("changed") or {}).get("nodes") or []:
            if isinstance(changed, dict) and changed.get("id") == node and name in str(changed):
                return time.perf_counter() - started


async def measure(
    n: int, conn: Any, port_id: str, admin_key: str, modes: dict[str, bool], period: float
) -> dict[str, list[float]]:
    from channels.testing import WebsocketCommunicator

    from dashboard.asgi import application

    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={admin_key}".encode()),
    ]
    ws = WebsocketCommunicator(application, "/ws/topology/", headers=headers)
    assert (await ws.connect())[0]
    seen: dict[str, list[float]] = {mode: [] for mode in MODES}
    for i in range(n * len(MODES)):
        mode = MODES[i % len(MODES)]
        modes["on"] = mode == "notifications"
        await asyncio.sleep(0.3)  # the previous change's stragglers (a refresh's) in before the next
        while not await ws.receive_nothing(timeout=0.2):
            await ws.receive_output()
        # At a random point of the refresh's period: the refresh-only wait is not phase-locked to it.
        await asyncio.sleep(random.uniform(0, period))
        try:
            took = await one_change(conn.network, port_id, ws, f"bench-{uuid.uuid4().hex[:8]}")
        except TimeoutError:
            took = float("inf")  # missed: shows as inf in the percentiles
        seen[mode].append(took)
        print(f"{mode:13s} {took:6.2f} s", flush=True)
    await ws.disconnect()
    return seen


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    setup_django()
    import openstack.connection
    from asgiref.sync import async_to_sync
    from django.conf import settings
    from openstack.config import loader

    from lab import neutron, paths
    from tests.browser import caller, session_for
    from topology import services
    from topology.notifications.apply import apply_plan
    from topology.notifications.events import Plan
    from topology.notifications.listener import NotificationListener, notifications_queue

    neutron.enable_notifications()
    config = loader.OpenStackConfig(config_files=[str(paths.CLOUDS_YAML)], load_envvars=False)
    demo = openstack.connection.Connection(config=config.get_one(cloud="lab-demo"))
    private = next(demo.network.networks(name="private")).id
    port = demo.network.create_port(network_id=private, name="bench-notify")
    modes = {"on": True}

    def handle(plan: Plan) -> None:
        if modes["on"]:
            apply_plan(plan)

    # A queue of its own: a dashboard's listener running on this machine must not share out its events.
    listener = NotificationListener(
        settings.DASHBOARD_NOTIFICATIONS, handle, notifications_queue(f"neutron-map.test-{uuid.uuid4().hex[:8]}")
    )
    listening = threading.Thread(target=listener.run, kwargs={"safety_interval": 0.2}, daemon=True)
    refresher = Refresher(float(settings.CLOUD_REFRESH_SECONDS))
    try:
        services.refresh_cloud()
        listening.start()
        refresher.start()
        while listener.state["state"] != "listening":
            time.sleep(0.1)
        admin_key = session_for(caller("admin", "admin-p", admin=True))
        seen = async_to_sync(measure)(n, demo, port.id, admin_key, modes, refresher.period)
    finally:
        listener.stop()
        refresher.stop.set()
        demo.network.delete_port(port.id, ignore_missing=True)
    print(f"\n{n} changes per mode, interleaved; refresh every {settings.CLOUD_REFRESH_SECONDS} s in both modes")
    print("mode            p50      p95      max")
    for mode, values in seen.items():
        print(f"{mode:13s} {percentile(values, 0.5):6.2f} s {percentile(values, 0.95):6.2f} s {max(values):6.2f} s")


if __name__ == "__main__":
    main()
