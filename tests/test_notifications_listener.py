"""The listener (topology/notifications/listener.py) on kombu's in-memory transport (a real kombu
transport, in this process) and against a port nothing listens on (RabbitMQ down)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from kombu import Connection

from topology.notifications.events import Lookup, Plan
from topology.notifications.listener import NotificationListener, kombu_url, notifications_queue

SAMPLES = Path(__file__).parent / "data" / "notifications" / "lab-demo-changes.json"


def wait_until(predicate: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def running() -> Iterator[Callable[[NotificationListener], None]]:
    started: list[tuple[NotificationListener, threading.Thread]] = []

    def start(listener: NotificationListener) -> None:
        thread = threading.Thread(target=listener.run, kwargs={"safety_interval": 0.1}, daemon=True)
        thread.start()
        started.append((listener, thread))

    yield start
    for listener, thread in started:
        listener.stop()
        thread.join(10)
        assert not thread.is_alive()


def publish(url: str, bodies: Sequence[object]) -> None:
    queue = notifications_queue()
    with Connection(url) as conn:
        producer = conn.Producer(serializer="json")
        for body in bodies:
            producer.publish(body, exchange=queue.exchange, routing_key="notifications.info", declare=[queue])


def test_the_transport_url_of_oslo_is_kombus() -> None:
    assert kombu_url("rabbit://u:p@127.0.0.1:5672/notifications") == "amqp://u:p@127.0.0.1:5672/notifications"
    assert kombu_url("memory://") == "memory://"
    with pytest.raises(ValueError):
        kombu_url("nothing")


def test_bad_events_are_dropped_and_the_good_ones_applied(running: Callable[[NotificationListener], None]) -> None:
    url = "memory://notif-bad"
    plans: list[Plan] = []
    listener = NotificationListener(url, plans.append)
    running(listener)
    assert wait_until(lambda: listener.state["state"] == "listening")
    good = [b for b in json.loads(SAMPLES.read_text()) if '"port.create.end"' in b["oslo.message"]]
    port = json.loads(good[0]["oslo.message"])["payload"]["port"]["id"]
    publish(
        url,
        [
            "not an envelope",
            {"oslo.version": "2.0", "oslo.message": "{broken"},
            {"oslo.version": "2.0", "oslo.message": json.dumps({"event_type": "trunk.create.end", "payload": {}})},
            {"oslo.version": "2.0", "oslo.message": json.dumps({"event_type": "port.update.end", "payload": {}})},
            *good,
        ],
    )
    assert wait_until(lambda: bool(plans))
    assert Lookup("ports", "id", port) in plans[-1].lookups
    assert listener.state["dropped"] == 4 and listener.state["events"] == 1
    assert listener.state["last_event_type"] == "port.create.end"


def test_a_burst_is_applied_as_few_plans(running: Callable[[NotificationListener], None]) -> None:
    url = "memory://notif-burst"
    plans: list[Plan] = []
    listener = NotificationListener(url, plans.append)
    running(listener)
    assert wait_until(lambda: listener.state["state"] == "listening")
    bodies = [
        {
            "oslo.version": "2.0",
            "oslo.message": json.dumps({"event_type": "port.create.end", "payload": {"port": {"id": f"p{i}"}}}),
        }
        for i in range(30)
    ]
    publish(url, bodies)
    assert wait_until(lambda: sum(len(p.lookups) for p in plans) == 30)
    assert len(plans) < 30  # coalesced (how far depends on the timing: at least once)


def test_an_apply_that_fails_does_not_stop_the_listener(running: Callable[[NotificationListener], None]) -> None:
    url = "memory://notif-fail"
    seen: list[Plan] = []

    def handle(plan: Plan) -> None:
        seen.append(plan)
        if len(seen) == 1:
            raise RuntimeError("Neutron's API is away")  # what a real apply raises when the API is down

    listener = NotificationListener(url, handle)
    running(listener)
    assert wait_until(lambda: listener.state["state"] == "listening")
    body = {
        "oslo.version": "2.0",
        "oslo.message": json.dumps({"event_type": "port.delete.end", "payload": {"port_id": "p"}}),
    }
    publish(url, [body])
    assert wait_until(lambda: listener.state["failed"] == 1)
    assert "Neutron's API is away" in listener.state["error"]
    publish(url, [body])
    assert wait_until(lambda: len(seen) == 2 and listener.state["applied"] == 1)
    assert listener.state["error"] is None


def test_rabbitmq_down_reconnects_with_backoff_and_says_so(running: Callable[[NotificationListener], None]) -> None:
    listener = NotificationListener("rabbit://guest:guest@127.0.0.1:1/", lambda plan: None)
    running(listener)
    assert wait_until(lambda: listener.state["state"] == "reconnecting")
    assert "retry in 2 s" in listener.state["error"]
    assert wait_until(lambda: "retry in 4 s" in listener.state["error"])  # the next try waits longer
