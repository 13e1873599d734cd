"""Neutron's notifications on the lab (scenario allinone): a change made through Neutron's API as demo
reaches the stored graph and demo's websocket by the listener alone, never alt's.

Nothing refreshes the cloud periodically here (no Celery beat runs in the suite; the one refresh is
the test's, before the listener starts, and ``services.refresh_cloud`` is made to fail afterwards):
whatever the graph shows of the new port and router came through a notification.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack.connection
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections

from dashboard.asgi import application
from tests.lab_jobs import login
from tests.test_notifications_listener import wait_until
from tests.test_topology_lab import refresh_all
from topology import graph as g
from topology import services
from topology.notifications.apply import apply_plan
from topology.notifications.events import Plan
from topology.notifications.listener import NotificationListener, notifications_queue

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
WAIT = 90.0  # seconds a delta may take at most here (the 2 s target is bench/notify_latency.py's)


@pytest.fixture
def listening(lab: dict[str, Any], transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Plan]]:
    from lab import neutron

    neutron.enable_notifications()  # a lab up since before they were: the API restarted once
    refresh_all(lab["host"])

    def no_refresh() -> None:
        raise AssertionError("the periodic refresh must not run in this test")

    monkeypatch.setattr(services, "refresh_cloud", no_refresh)
    applied: list[Plan] = []

    def handle(plan: Plan) -> None:
        apply_plan(plan)
        applied.append(plan)

    # A queue of its own: a dashboard's listener running on this machine must not share out its events.
    listener = NotificationListener(
        settings.DASHBOARD_NOTIFICATIONS, handle, notifications_queue(f"neutron-map.test-{uuid.uuid4().hex[:8]}")
    )

    def run() -> None:
        try:
            listener.run(safety_interval=0.2)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert wait_until(lambda: listener.state["state"] == "listening", 30), listener.state
    yield applied
    listener.stop()
    thread.join(15)
    assert not thread.is_alive()
    assert listener.state["dropped"] == 0, listener.state


def communicator(session_key: str) -> WebsocketCommunicator:
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={session_key}".encode()),
    ]
    return WebsocketCommunicator(application, "/ws/topology/", headers=headers)


def ids(message: dict[str, Any], part: str) -> set[str]:
    return {n if isinstance(n, str) else n["id"] for n in (message.get(part) or {}).get("nodes") or []}


async def delta_with(ws: WebsocketCommunicator, part: str, node: str, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """The first delta whose ``part`` (added/changed/removed) has ``node`` (the others kept in ``seen``)."""
    while True:
        message: dict[str, Any] = await ws.receive_json_from(WAIT)
        seen.append(message)
        if message.get("type") == "topology.delta" and node in ids(message, part):
            return message


def stored_node(node: str) -> dict[str, Any] | None:
    return next((n for n in services.graph_state().graph["nodes"] if n["id"] == node), None)


def test_demos_port_and_router_reach_the_graph_and_demos_websocket_only(
    lab: dict[str, Any], listening: list[Plan], demo_cloud: openstack.connection.Connection
) -> None:
    demo, alt = (login(lab, user).cookies["sessionid"].value for user in ("demo", "alt"))
    name = f"notif-{uuid.uuid4().hex[:6]}"
    made: list[Callable[[], object]] = []
    try:
        async_to_sync(_scenario)(lab, demo_cloud, demo, alt, name, made)
    finally:
        for undo in reversed(made):
            undo()
    assert listening  # every change above came through an applied notification


async def _scenario(
    lab: dict[str, Any],
    demo_cloud: openstack.connection.Connection,
    demo_key: str,
    alt_key: str,
    name: str,
    made: list[Callable[[], object]],
) -> None:
    net = demo_cloud.network
    demo_ws, alt_ws = communicator(demo_key), communicator(alt_key)
    assert (await demo_ws.connect())[0] and (await alt_ws.connect())[0]
    # As the map page does after its REST load: a project member's socket forwards deltas once synced.
    revision = await database_sync_to_async(services.current_revision)()
    for ws in (demo_ws, alt_ws):
        await ws.send_json_to({"type": "topology.sync", "revision": revision})
    await asyncio.sleep(0.5)  # let the consumers take it before the first change
    demo_seen: list[dict[str, Any]] = []
    node_of = database_sync_to_async(stored_node)

    port = await sync_to_async(net.create_port)(network_id=lab["networks"]["private"], name=f"{name}-port")
    made.append(lambda: net.delete_port(port.id, ignore_missing=True))
    port_node = g.port_id(port.id)
    await delta_with(demo_ws, "added", port_node, demo_seen)
    assert (await node_of(port_node)) is not None

    await sync_to_async(net.update_port)(port.id, name=f"{name}-port-renamed")
    await delta_with(demo_ws, "changed", port_node, demo_seen)
    stored = await node_of(port_node)
    assert stored is not None and f"{name}-port-renamed" in str(stored)

    router = await sync_to_async(net.create_router)(name=f"{name}-router")
    made.append(lambda: net.delete_router(router.id, ignore_missing=True))
    router_node = g.router_id(router.id)
    await delta_with(demo_ws, "added", router_node, demo_seen)
    await sync_to_async(net.update_router)(router.id, name=f"{name}-router-renamed")
    await delta_with(demo_ws, "changed", router_node, demo_seen)
    stored = await node_of(router_node)
    assert stored is not None and f"{name}-router-renamed" in str(stored)

    # Deleted: gone from the snapshot (the admin's re-read finds nothing) and from the graph.
    await sync_to_async(net.delete_router)(router.id)
    await delta_with(demo_ws, "removed", router_node, demo_seen)
    await sync_to_async(net.delete_port)(port.id)
    await delta_with(demo_ws, "removed", port_node, demo_seen)
    assert (await node_of(router_node)) is None and (await node_of(port_node)) is None
    snapshot = await database_sync_to_async(lambda: services.CloudSnapshot.objects.latest_snapshot())()
    assert snapshot is not None
    assert port.id not in {p["id"] for p in snapshot.data["ports"]}
    assert router.id not in {r["id"] for r in snapshot.data["routers"]}

    # Tenant isolation: alt's socket got none of demo's objects.
    alt_seen: list[dict[str, Any]] = []
    while not await alt_ws.receive_nothing(timeout=1):
        alt_seen.append(await alt_ws.receive_json_from())
    text = str(alt_seen)
    assert port.id not in text and router.id not in text and name not in text
    assert port.id in str(demo_seen)
    await demo_ws.disconnect()
    await alt_ws.disconnect()
