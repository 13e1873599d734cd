"""A watched path's verdict change (topology/watches/check.py, tasks.py, webhook.py), off the lab.

On the synthetic cloud stored and joined for real: demo watches its VM's path; the VM's port
goes DOWN in Neutron (a cloud refresh, a real revision recorded), the revision's check (what
the Celery task runs, here eagerly) re-explains the watch: one event "broken", pushed to the
user's websocket group and POSTed to a real HTTP receiver on 127.0.0.1 whose signature the test
verifies with the watch's secret; back ACTIVE: "ok", both on the timeline. A webhook that
refuses is retried and then shown as failed. The Channels layer is the in-memory one (a real
Channels layer; the lab's Redis one is what the websocket tests use).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from bench.path import add_gateways_and_fips
from dashboard.asgi import application
from dashboard.celery import app
from tests.browser import caller, session_for
from tests.history_inputs import Inputs, rebuild
from tests.map_fixtures import project_of
from tests.test_history import logged_in
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import receiver as receiver  # the fixture this module uses
from topology.watches.check import check_revision, user_group
from topology.watches.models import WatchEvent
from topology.watches.webhook import signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings: Any) -> Iterator[None]:
    settings.WATCH_WEBHOOK_ALLOW = ["127.0.0.1/32"]  # the receiver's loopback, refused by default
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager = False


def vms_of(inputs: Inputs, project: str) -> list[dict[str, Any]]:
    return [p for p in inputs.cloud["ports"] if p["project_id"] == project and p["device_owner"] == "compute:nova"]


def port_status(inputs: Inputs, port_id: str, status: str) -> int:
    next(p for p in inputs.cloud["ports"] if p["id"] == port_id)["status"] = status
    inputs.store_cloud()
    revision, _ = rebuild()
    return revision


def routed_cloud() -> tuple[Inputs, str]:
    """The synthetic cloud of two projects with its routers' gateways (a path that works), stored and built;
    and demo's project (project 0)."""
    inputs = Inputs(hosts=3, ports=12, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports)
    inputs.store_all()
    rebuild()
    return inputs, project_of(0)


@pytest.mark.usefixtures("eager")
def test_a_verdict_change_is_an_event_pushed_and_posted_signed(receiver: str) -> None:
    inputs, demo = routed_cloud()
    port, other = vms_of(inputs, demo)[:2]
    who = caller("member-demo", demo)
    client = logged_in(Client(), who)
    made = client.post(
        "/api/v1/watches/",
        {"src": "port:" + port["id"], "dst": "port:" + other["id"], "webhook_url": receiver},
        "application/json",
    ).json()
    first = made["last_verdict"]
    assert first == "ok", made
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(who.user_id), channel)
    down = port_status(inputs, port["id"], "DOWN")
    (broken,) = check_revision(down)
    assert (broken.verdict, broken.was, broken.revision) == ("broken", first, down)
    pushed = async_to_sync(layer.receive)(channel)
    assert pushed["type"] == "watch.verdict" and pushed["verdict"] == "broken" and pushed["watch"] == made["id"]
    up = port_status(inputs, port["id"], "ACTIVE")
    (ok,) = check_revision(up)
    assert (ok.verdict, ok.was) == (first, "broken")
    assert async_to_sync(layer.receive)(channel)["verdict"] == first
    assert [json.loads(body)["verdict"] for body, _ in Receiver.got] == ["broken", first]
    for body, signed in Receiver.got:
        assert signed == signature(made["secret"], body)
        assert signed != signature("another secret", body)
    assert [e.webhook_state for e in WatchEvent.objects.order_by("id")] == ["sent", "sent"]
    assert check_revision(up) == []  # the same revision again: no change, no event


@pytest.mark.usefixtures("eager")
def test_a_refused_webhook_is_retried_then_shown_failed() -> None:
    inputs, demo = routed_cloud()
    port, other = vms_of(inputs, demo)[:2]
    client = logged_in(Client(), caller("member-demo", demo))
    closed = "http://127.0.0.1:9/hook"  # the discard port: nothing listens on loopback
    response = client.post(
        "/api/v1/watches/",
        {"src": "port:" + port["id"], "dst": "port:" + other["id"], "webhook_url": closed},
        "application/json",
    )
    assert response.status_code == 201
    (event,) = check_revision(port_status(inputs, port["id"], "DOWN"))
    event.refresh_from_db()
    assert event.webhook_state == "failed" and event.webhook_attempts == 5, event.__dict__
    assert "refused" in event.webhook_error.lower() or "error" in event.webhook_error.lower()
    assert "failed after 5 attempts" in client.get("/watches/").content.decode()  # shown on the Watches page


@pytest.mark.usefixtures("eager")
def test_a_recorded_revision_queues_the_check_of_the_watches_it_touches(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The hook where a revision is recorded: on commit, the Celery task (eager here) re-explains."""
    inputs, demo = routed_cloud()
    port, other = vms_of(inputs, demo)[:2]
    client = logged_in(Client(), caller("member-demo", demo))
    body = {"src": "port:" + port["id"], "dst": "port:" + other["id"]}
    assert client.post("/api/v1/watches/", body, "application/json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        down = port_status(inputs, port["id"], "DOWN")
    (event,) = WatchEvent.objects.all()
    assert (event.verdict, event.was, event.revision, event.webhook_state) == ("broken", "ok", down, "")


ORIGIN = (b"origin", b"http://127.0.0.1")


async def watch_socket(session_key: str) -> WebsocketCommunicator:
    headers = [ORIGIN, (b"host", b"127.0.0.1"), (b"cookie", f"sessionid={session_key}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/watches/", headers=headers)
    connected, code = await communicator.connect()
    assert connected, code
    return communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager")
def test_the_users_pages_get_the_verdict_change_and_others_nothing() -> None:
    """Through the real ASGI app (session, origin check, routing) to /ws/watches/: demo's socket gets
    its watch's changes (the hook's eager task), alt's gets nothing; the Watches page lists the timeline."""
    inputs = Inputs(hosts=3, ports=12, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports)
    inputs.store_all()
    rebuild()
    demo, alt = project_of(0), project_of(1)
    port, other = vms_of(inputs, demo)[:2]
    demo_caller, alt_caller = caller("member-demo", demo), caller("member-alt", alt)
    client = logged_in(Client(), demo_caller)
    body = {"src": "port:" + port["id"], "dst": "port:" + other["id"]}
    made = client.post("/api/v1/watches/", body, "application/json").json()
    demo_key, alt_key = session_for(demo_caller), session_for(alt_caller)

    async def run() -> None:
        demo_ws, alt_ws = await watch_socket(demo_key), await watch_socket(alt_key)
        await database_sync_to_async(port_status)(inputs, port["id"], "DOWN")
        message = await demo_ws.receive_json_from(10)
        assert message["type"] == "watch.verdict" and message["watch"] == made["id"]
        assert (message["verdict"], message["was"]) == ("broken", "ok")
        await database_sync_to_async(port_status)(inputs, port["id"], "ACTIVE")
        assert (await demo_ws.receive_json_from(10))["verdict"] == "ok"
        assert await alt_ws.receive_nothing(0.5)
        await demo_ws.disconnect()
        await alt_ws.disconnect()

    async_to_sync(run)()
    page = client.get("/watches/").content.decode()
    assert f'id="watch-{made["id"]}"' in page and page.count('<tr class="verdict-') == 2
    assert "js/watch-toast.js" in page  # the toast's module on every logged-in page
    assert "port:" + port["id"] not in logged_in(Client(), alt_caller).get("/watches/").content.decode()
