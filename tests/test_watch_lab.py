"""A watched path fires for real (issue 18 item 4), against the lab (allinone).

demo watches ubuntu-01 -> outside with a webhook to a receiver this test starts on 127.0.0.1 and a
page socket on /ws/watches/ (the real ASGI app, its Redis channel layer). router1's gateway is
cleared by a job (Neutron, a real Celery worker) and set again by another; the graph refreshed as
the beat would; the revision's hook queues the watches' check on the same worker: the watch fires
twice, broken then ok, on the socket and on the receiver, each POST's signature verified with the
watch's secret. alt's socket gets nothing, alt's watches list holds nothing of demo's.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from dashboard.asgi import application
from tests.leak_check import leaks, project_secrets
from tests.test_actions_confirm_lab import Cloud, run
from tests.test_actions_confirm_lab import feed as feed  # the fixtures this module uses
from tests.test_actions_confirm_lab import restored as restored
from tests.test_actions_confirm_lab import worker as worker
from tests.test_actions_lab import call, login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_topology_lab import refresh_all
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import receiver as receiver  # the fixture this module uses
from topology.watches.webhook import signature

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"
ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver is on 127.0.0.1, refused by default: allowed here and, in the environment,
    for the Celery worker the test starts (it sends the webhooks). Autouse: set before the worker."""
    monkeypatch.setenv("DASHBOARD_WATCH_WEBHOOK_ALLOW", "127.0.0.1/32")
    settings.WATCH_WEBHOOK_ALLOW = ["127.0.0.1/32"]


def posted(count: int, timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(Receiver.got) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    return [json.loads(body) for body, _ in Receiver.got]


@pytest.mark.usefixtures("worker", "restored")
def test_a_watch_fires_broken_then_ok_on_the_socket_and_the_signed_webhook(
    lab: dict[str, Any], admin_cloud: Cloud, receiver: str
) -> None:
    demo, alt = login(lab, "demo"), login(lab, "alt")
    run(demo, "POST", f"/floating-ips/{lab['floating_ips']['cirros-01']['id']}/disassociate/")  # Neutron needs it
    refresh_all(lab["host"])
    ubuntu = "port:" + lab["vms"]["ubuntu-01"]["port_id"]
    response = call(demo, "POST", "/watches/", {"src": ubuntu, "dst": OUTSIDE, "webhook_url": receiver})
    assert response.status_code == 201, response.content[:500]
    watch = response.json()
    assert watch["last_verdict"] == "ok", watch
    router, public = lab["routers"]["router1"]["id"], lab["networks"]["public"]

    async def sockets() -> tuple[list[dict[str, Any]], bool]:
        def socket(client: Any) -> WebsocketCommunicator:
            cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
            return WebsocketCommunicator(
                application, "/ws/watches/", headers=[ORIGIN, (b"host", b"127.0.0.1"), (b"cookie", cookie)]
            )

        demo_ws, alt_ws = socket(demo), socket(alt)
        assert (await demo_ws.connect())[0] and (await alt_ws.connect())[0]
        from channels.db import database_sync_to_async

        def break_it() -> None:
            run(demo, "DELETE", f"/routers/{router}/gateway/")
            refresh_all(lab["host"])

        def restore_it() -> None:
            run(demo, "PUT", f"/routers/{router}/gateway/", {"network_id": public})
            refresh_all(lab["host"])

        got = []
        await database_sync_to_async(break_it)()
        got.append(await demo_ws.receive_json_from(120))
        await database_sync_to_async(restore_it)()
        got.append(await demo_ws.receive_json_from(120))
        quiet = await alt_ws.receive_nothing(1)
        await demo_ws.disconnect()
        await alt_ws.disconnect()
        return got, quiet

    got, alt_quiet = async_to_sync(sockets)()
    assert [(m["type"], m["watch"], m["verdict"], m["was"]) for m in got] == [
        ("watch.verdict", watch["id"], "broken", "ok"),
        ("watch.verdict", watch["id"], "ok", "broken"),
    ], got
    assert alt_quiet
    bodies = posted(2)
    assert [(b["watch"], b["verdict"]) for b in bodies] == [(watch["id"], "broken"), (watch["id"], "ok")], bodies
    for body, signed in Receiver.got:
        assert signed == signature(watch["secret"], body)
    theirs = call(alt, "GET", "/watches/")
    assert theirs.status_code == 200 and theirs.json() == {"watches": []}
    assert call(alt, "GET", f"/watches/{watch['id']}/").status_code == 404
    secrets = project_secrets(admin_cloud, lab["projects"]["demo"], lab["projects"]["alt"], {})
    assert not leaks(call(alt, "GET", f"/watches/{watch['id']}/").content.decode(), secrets)
