"""/ws/topology/ with WebsocketCommunicator against the real ASGI app (sessions, Redis channel layer)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore

from dashboard.asgi import application
from dashboard.auth import SESSION_KEY
from tests.browser import caller, session_for
from tests.map_fixtures import project_of, publish_graph, synthetic_graph, with_network
from topology import services

pytestmark = [pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://127.0.0.1")


def communicator_for(session_key: str | None) -> WebsocketCommunicator:
    headers = [ORIGIN, (b"host", b"127.0.0.1")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    return WebsocketCommunicator(application, "/ws/topology/", headers=headers)


async def connect(session_key: str | None) -> WebsocketCommunicator:
    communicator = communicator_for(session_key)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def publish(graph: dict[str, Any]) -> int:
    return await database_sync_to_async(publish_graph)(graph)


async def sync(communicator: WebsocketCommunicator, revision: int) -> None:
    await communicator.send_json_to({"type": "topology.sync", "revision": revision})
    await asyncio.sleep(0.2)  # let the consumer take it before the next event


def ids(message: dict[str, Any], part: str) -> set[str]:
    return {n if isinstance(n, str) else n["id"] for n in message[part]["nodes"]}


@pytest.fixture
def base_graph(transactional_db: None) -> dict[str, Any]:
    graph = synthetic_graph()
    publish_graph(graph)
    return graph


def test_it_closes_without_a_login(base_graph: dict[str, Any]) -> None:
    async_to_sync(_test_it_closes_without_a_login)(base_graph)


async def _test_it_closes_without_a_login(base_graph: dict[str, Any]) -> None:
    connected, code = await communicator_for(None).connect()
    assert (connected, code) == (False, 4401)


def test_it_forwards_the_whole_delta_to_an_admin(base_graph: dict[str, Any]) -> None:
    async_to_sync(_test_it_forwards_the_whole_delta_to_an_admin)(base_graph)


async def _test_it_forwards_the_whole_delta_to_an_admin(base_graph: dict[str, Any]) -> None:
    key = await database_sync_to_async(session_for)(caller("admin", "admin-p", admin=True))
    communicator = await connect(key)
    revision = await publish(with_network(base_graph, "n1", "other-projects-net", project_of(1)))
    message = await communicator.receive_json_from(5)
    assert message["type"] == "topology.delta"
    assert (message["revision"], message["base"]) == (revision, revision - 1)
    assert ids(message, "added") == {"network:n1"}
    await communicator.disconnect()


def test_a_tenant_gets_only_what_its_project_may_see(base_graph: dict[str, Any]) -> None:
    async_to_sync(_test_a_tenant_gets_only_what_its_project_may_see)(base_graph)


async def _test_a_tenant_gets_only_what_its_project_may_see(base_graph: dict[str, Any]) -> None:
    key = await database_sync_to_async(session_for)(caller("demo", project_of(0)))
    communicator = await connect(key)
    await sync(communicator, 1)
    # another project's network: nothing at all reaches this tenant
    await publish(with_network(base_graph, "theirs", "theirs", project_of(1)))
    assert await communicator.receive_nothing(0.5)
    # its own network: exactly that, chained on the revision it has
    revision = await publish(
        with_network(with_network(base_graph, "theirs", "theirs", project_of(1)), "mine", "mine", project_of(0))
    )
    message = await communicator.receive_json_from(5)
    assert ids(message, "added") == {"network:mine"}
    assert (message["revision"], message["base"]) == (revision, 1)
    assert "theirs" not in str(message)
    await communicator.disconnect()


def test_it_rechecks_the_session_on_every_event(base_graph: dict[str, Any]) -> None:
    async_to_sync(_test_it_rechecks_the_session_on_every_event)(base_graph)


async def _test_it_rechecks_the_session_on_every_event(base_graph: dict[str, Any]) -> None:
    key = await database_sync_to_async(session_for)(caller("demo", project_of(0)))
    communicator = await connect(key)
    await sync(communicator, 1)
    await database_sync_to_async(SessionStore(key).delete)()  # logged out elsewhere
    await publish(with_network(base_graph, "mine", "mine", project_of(0)))
    output = await communicator.receive_output(5)
    assert output == {"type": "websocket.close", "code": 4401}


def test_a_project_switch_asks_the_page_to_resync(base_graph: dict[str, Any]) -> None:
    async_to_sync(_test_a_project_switch_asks_the_page_to_resync)(base_graph)


async def _test_a_project_switch_asks_the_page_to_resync(base_graph: dict[str, Any]) -> None:
    key = await database_sync_to_async(session_for)(caller("demo", project_of(0)))
    communicator = await connect(key)
    await sync(communicator, 1)

    def switch() -> None:
        store = SessionStore(key)
        data = copy.deepcopy(store.load())
        data[SESSION_KEY]["project_id"] = project_of(1)
        for k, v in data.items():
            store[k] = v
        store.save()

    await database_sync_to_async(switch)()
    await publish(with_network(base_graph, "mine", "mine", project_of(0)))
    message = await communicator.receive_json_from(5)
    assert message["type"] == "topology.resync"
    await communicator.disconnect()


def test_a_sync_behind_the_graph_asks_for_a_resync(base_graph: dict[str, Any]) -> None:
    async_to_sync(_test_a_sync_behind_the_graph_asks_for_a_resync)(base_graph)


async def _test_a_sync_behind_the_graph_asks_for_a_resync(base_graph: dict[str, Any]) -> None:
    key = await database_sync_to_async(session_for)(caller("demo", project_of(0)))
    communicator = await connect(key)
    await publish(with_network(base_graph, "mine", "mine", project_of(0)))
    await communicator.send_json_to({"type": "topology.sync", "revision": 1})
    message = await communicator.receive_json_from(5)
    assert message == {"type": "topology.resync", "reason": "revision moved"}
    await communicator.disconnect()


def test_a_reset_asks_every_page_to_resync(base_graph: dict[str, Any]) -> None:
    async_to_sync(_test_a_reset_asks_every_page_to_resync)(base_graph)


async def _test_a_reset_asks_every_page_to_resync(base_graph: dict[str, Any]) -> None:
    """The graph written whole (services.publish_reset, no delta): admin and member pages are asked to load
    it again; a member's socket forwards nothing more until the page's next sync (its view is diffed anew)."""
    admin = await connect(await database_sync_to_async(session_for)(caller("admin", "admin-p", admin=True)))
    member = await connect(await database_sync_to_async(session_for)(caller("demo", project_of(0))))
    await sync(member, 1)
    await database_sync_to_async(services.publish_reset)(2)
    for communicator in (admin, member):
        message = await communicator.receive_json_from(5)
        assert message == {"type": "topology.resync", "reason": "reset", "revision": 2}
    await publish(with_network(base_graph, "mine", "mine", project_of(0)))  # revision 2 in this graph state
    assert (await admin.receive_json_from(5))["type"] == "topology.delta"
    assert await member.receive_nothing(0.5)  # not synced since the reset
    await sync(member, 2)
    revision = await publish(
        with_network(with_network(base_graph, "mine", "mine", project_of(0)), "m2", "m2", project_of(0))
    )
    message = await member.receive_json_from(5)
    assert ids(message, "added") == {"network:m2"} and (message["revision"], message["base"]) == (revision, 2)
    await admin.disconnect()
    await member.disconnect()
