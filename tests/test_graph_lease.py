"""The graph writer's lease (topology/graphservice/lease.py) on a real Redis of the test's own.

One applier at a time: a second waits while the first holds it; a holder that stopped renewing
(killed) lets its lease lapse; a holder renews it while it applies; without Redis the apply goes on
without the lease. tests/test_multinode.py shows the same with real writer processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from tests.conftest import free_port
from tests.multinode_stack import wait_for
from tests.redis_server import started_redis
from topology.graphservice.lease import LEASE_KEY, holder, writer_lease


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with (
        started_redis(tmp_path / "redis") as server,
        override_settings(GRAPH_QUEUE_URL=server.url, GRAPH_WRITER_LEASE_SECONDS=6),
    ):
        yield server.url


class Applier(threading.Thread):
    """Holds the lease (as graphservice.apply does) until ``release`` is set; notes what it saw."""

    def __init__(self, name: str, events: list[str]) -> None:
        super().__init__(name=name, daemon=True)
        self.events, self.release, self.entered = events, threading.Event(), threading.Event()
        self.token: str | None = None

    def run(self) -> None:
        with writer_lease() as token:
            self.token = token
            self.events.append(f"{self.name} in")
            self.entered.set()
            self.release.wait(120)
            self.events.append(f"{self.name} out")


def test_a_second_applier_waits_until_the_first_releases(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="topology.graphservice.lease")
    events: list[str] = []
    first, second = Applier("first", events), Applier("second", events)
    first.start()
    assert first.entered.wait(60)
    second.start()
    wait_for("the second waits", lambda: f"waits: the lease is held by {first.token}" in caplog.text)
    assert holder() == first.token
    assert not second.entered.is_set()  # the first still holds it: the second cannot be in
    first.release.set()
    assert second.entered.wait(60)
    assert holder() == second.token != first.token
    second.release.set()
    second.join(60)
    assert events == ["first in", "first out", "second in", "second out"]
    assert holder() is None


def test_a_killed_holders_lease_lapses_and_the_next_takes_it(redis_url: str) -> None:
    from topology import ingest_queue

    ingest_queue.client().set(LEASE_KEY, "gone-host:4242:dead", px=2000)  # held, never renewed, never released
    applier = Applier("next", [])
    applier.start()
    assert applier.entered.wait(60)
    assert holder() == applier.token and applier.token is not None and "gone-host" not in applier.token
    applier.release.set()
    applier.join(60)


def test_the_holder_renews_its_lease_while_it_applies(redis_url: str) -> None:
    from topology import ingest_queue

    client = ingest_queue.client()
    with writer_lease() as token:
        lowest = [client.pttl(LEASE_KEY)]
        assert 0 < lowest[0] <= 6000

        def renewed() -> bool:  # its time to live went up again: set back to 6 s while ticking down (every 2 s)
            left = client.pttl(LEASE_KEY)
            assert left > 0, "the lease lapsed while held"
            lowest[0] = min(lowest[0], left)
            return left > lowest[0] + 300

        for _ in range(3):  # three renewals in a row: longer than the lease's 6 s
            wait_for("the lease renewed", renewed, 60, every=0.05)
            lowest[0] = client.pttl(LEASE_KEY)
        assert holder() == token
    assert client.get(LEASE_KEY) is None


def test_without_redis_the_apply_goes_on_without_the_lease() -> None:
    with override_settings(GRAPH_QUEUE_URL=f"redis://127.0.0.1:{free_port()}/0"), writer_lease() as token:
        assert token is None
