"""/ws/agents/ and POST /api/v1/hosts/<host>/probes/ against the real ASGI app, Redis channel layer and DB.

The agent's side of the socket is played here by a WebsocketCommunicator
speaking the channel's messages (the real agent process against a real
daphne is tests/test_probes_lab.py): that is what lets these tests send what
a real agent never would (an answer to another host's request).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from dashboard.asgi import application
from tests.browser import caller, session_for
from topology.models import HostReport
from topology.probes.presence import is_connected, presence_key, sync_client
from topology.services import issue_agent_token

pytestmark = [pytest.mark.django_db(transaction=True)]
QROUTER = "qrouter-1"
REPORT: dict[str, Any] = {
    "version": 1,
    "host": "node-a",
    "collected_at": "2026-12-02T18:00:00Z",
    "tunnel_ip": None,
    "interfaces": [{"name": "eth0"}],
    "namespaces": [{"name": QROUTER, "interfaces": [{"name": "qr-1"}, {"name": "qg-1"}]}],
    "ovs": {
        "bridges": [{"name": "br-int", "ports": [{"name": "tap1", "interfaces": [{"name": "tap1", "ofport": 3}]}]}],
        "flows": {},
    },
}
PROBE: dict[str, Any] = {"kind": "route_get", "args": {"namespace": QROUTER, "dst": "192.168.1.1"}, "timeout": 1}


def url(host: str) -> str:
    return f"/api/v1/hosts/{host}/probes/"


def stored(host: str) -> None:
    HostReport.objects.update_or_create(
        host=host,
        defaults={
            "collected_at": timezone.now(),
            "received_at": timezone.now(),
            "size": 1,
            "report": {**REPORT, "host": host},
        },
    )


@pytest.fixture
def hosts(transactional_db: None) -> dict[str, str]:
    """Two hosts with a report and a token each (and no presence left by an earlier, interrupted run)."""
    client = sync_client()
    for host in ("node-a", "node-b"):
        stored(host)
        client.delete(presence_key(host))
    client.close()
    return {host: issue_agent_token(host) for host in ("node-a", "node-b")}


def as_user(admin: bool, project: str | None = "p-demo") -> Client:
    client = Client()
    client.cookies["sessionid"] = session_for(caller("admin" if admin else "demo", project, admin=admin))
    return client


@pytest.fixture
def admin() -> Client:
    return as_user(True)


def agent_socket(token: str | None) -> WebsocketCommunicator:
    headers = [(b"host", b"127.0.0.1")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application, "/ws/agents/", headers=headers)


def post(client: Client, host: str, body: dict[str, Any]) -> Any:
    return client.post(url(host), body, content_type="application/json")


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_an_agent_without_a_valid_token_is_refused(hosts: dict[str, str], token: str | None) -> None:
    async def run() -> tuple[bool, Any]:
        communicator = agent_socket(token)
        connected, code = await communicator.connect()
        await communicator.disconnect(timeout=10)
        return connected, code

    assert async_to_sync(run)() == (False, 4401)
    assert not is_connected("node-a")


def test_presence_follows_the_socket(hosts: dict[str, str]) -> None:
    async def run() -> tuple[bool, bool]:
        communicator = agent_socket(hosts["node-a"])
        connected, _ = await communicator.connect()
        assert connected
        during = await database_sync_to_async(is_connected)("node-a")
        await communicator.disconnect(timeout=10)
        return during, await database_sync_to_async(is_connected)("node-a")

    assert async_to_sync(run)() == (True, False)


def test_a_host_not_connected_is_answered_at_once(hosts: dict[str, str], admin: Client) -> None:
    started = time.monotonic()
    response = post(admin, "node-a", PROBE)
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.content
    assert response.json()["connected"] is False and "not connected" in response.json()["detail"]
    assert elapsed < PROBE["timeout"]  # nothing was waited for: presence said no (no timing bound beyond that)


def test_unknown_host_invalid_arguments_and_tenants(hosts: dict[str, str], admin: Client) -> None:
    assert post(admin, "node-z", PROBE).status_code == 404
    hostile: list[dict[str, Any]] = [
        {"kind": "ofproto_trace", "args": {"bridge": "br-int;id", "in_port": 3}},
        {"kind": "ofproto_trace", "args": {"bridge": "br-ex", "in_port": 3}},
        {"kind": "ofproto_trace", "args": {"bridge": "br-int", "in_port": 99999}},
        {"kind": "route_get", "args": {"namespace": QROUTER, "dst": "$(reboot)"}},
        {"kind": "route_get", "args": {"namespace": "x" * 300, "dst": "10.0.0.1"}},
        {"kind": "route_get", "args": {"namespace": QROUTER, "dst": "10.0.0.1"}, "timeout": 3600},
        {"kind": "shell", "args": {"cmd": "id"}},
        {"kind": "route_get", "args": "ip route get 1.1.1.1"},
    ]
    for body in hostile:
        response = post(admin, "node-a", body)
        assert response.status_code == 400, (body, response.content)
        assert response.json()["detail"]
    for client in (as_user(False), as_user(False, "p-alt")):
        response = post(client, "node-a", PROBE)
        assert response.status_code == 403 and "admin" in response.json()["detail"]
    assert Client().post(url("node-a"), PROBE, content_type="application/json").status_code in (401, 403)


async def serve_one(communicator: WebsocketCommunicator, result: dict[str, Any]) -> dict[str, Any]:
    request = await communicator.receive_json_from(timeout=20)
    await communicator.send_json_to({"type": "probe.result", "id": request["id"], "result": result})
    return dict(request)


def test_a_request_reaches_its_hosts_agent_and_the_answer_comes_back(hosts: dict[str, str], admin: Client) -> None:
    async def run() -> tuple[dict[str, Any], Any]:
        agent_a, agent_b = agent_socket(hosts["node-a"]), agent_socket(hosts["node-b"])
        assert (await agent_a.connect())[0] and (await agent_b.connect())[0]
        answered = asyncio.ensure_future(serve_one(agent_a, {"ok": True, "parsed": {"dev": "qg-1"}}))
        response = await asyncio.to_thread(post, admin, "node-a", PROBE)
        request = await answered
        assert await agent_b.receive_nothing(timeout=0.5)  # node-b's agent never saw node-a's request
        await agent_a.disconnect(timeout=10)
        await agent_b.disconnect(timeout=10)
        return request, response

    request, response = async_to_sync(run)()
    assert request["kind"] == "route_get" and request["args"] == {"namespace": QROUTER, "dst": "192.168.1.1"}
    assert response.status_code == 200, response.content
    assert response.json()["result"] == {"ok": True, "parsed": {"dev": "qg-1"}}


def test_an_agent_cannot_answer_for_another_host(hosts: dict[str, str], admin: Client) -> None:
    async def run() -> Any:
        agent_a, agent_b = agent_socket(hosts["node-a"]), agent_socket(hosts["node-b"])
        assert (await agent_a.connect())[0] and (await agent_b.connect())[0]
        pending = asyncio.ensure_future(asyncio.to_thread(post, admin, "node-a", PROBE))
        request = await agent_a.receive_json_from(timeout=20)
        # node-b's agent answers node-a's request first: dropped, the requester keeps waiting for node-a's
        await agent_b.send_json_to({"type": "probe.result", "id": request["id"], "result": {"ok": True, "forged": 1}})
        await asyncio.sleep(0.5)
        assert not pending.done()
        await agent_a.send_json_to({"type": "probe.result", "id": request["id"], "result": {"ok": True, "real": 1}})
        response = await pending
        await agent_a.disconnect(timeout=10)
        await agent_b.disconnect(timeout=10)
        return response

    response = async_to_sync(run)()
    assert response.status_code == 200, response.content
    assert response.json()["result"] == {"ok": True, "real": 1}


def test_the_agents_timeout_answer_is_a_504_with_its_result(hosts: dict[str, str], admin: Client) -> None:
    timed_out = {"ok": False, "timed_out": True, "error": "ovs-appctl did not answer within 1 s"}

    async def run() -> Any:
        agent_a = agent_socket(hosts["node-a"])
        assert (await agent_a.connect())[0]
        answered = asyncio.ensure_future(serve_one(agent_a, timed_out))
        response = await asyncio.to_thread(post, admin, "node-a", PROBE)
        await answered
        await agent_a.disconnect(timeout=10)
        return response

    response = async_to_sync(run)()
    assert response.status_code == 504 and response.json()["result"] == timed_out


@pytest.fixture(autouse=True)
def no_presence_left() -> Iterator[None]:
    yield
    for host in ("node-a", "node-b"):
        assert not is_connected(host), f"{host}'s presence outlived its socket"
