"""More than one machine (issue 13 item 6): two ASGI servers, two jobs workers, one graph writer, one
beat, one PostgreSQL, one Redis, all started for real on loopback (tests/multinode_stack.py).

Machine "a" runs web, jobs, the graph writer and beat; machine "b" runs web and jobs: the units'
own commands (deploy/dashboard/), the environment file's template with each machine's state
directory and port and what they share (the database, Redis, the secret key, the Channels prefix).
Agents' reports (the synthetic cloud of bench/synthetic.py, a marker interface per report) go to
both servers; an admin's websocket on each server must see every delta, whichever server took the
report; the stored graph must converge to each host's latest report and be a cold join of the
stored inputs. Then: the writer SIGKILLed mid-stream and started again resumes from the stored
inputs; a lease held by another (the test) makes the writer wait; a second writer started while
one runs never applies at the same time (their leases, from their logs, never overlap).

No lab cloud: LAB_DIR points nowhere and the cloud refresh is an hour away. Every wait is a
condition with a generous deadline; nothing asserts a time.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import requests
from websockets.sync.client import ClientConnection, connect

from bench.ingest_stats import MARKER_ID, marker_name, markers_in, with_marker
from bench.synthetic import synthetic_cloud
from tests.deploy_stack import free_port
from tests.multinode_check import SHAPE
from tests.multinode_stack import (
    Cluster,
    OwnPostgres,
    check,
    lease_intervals,
    machine_env,
    manage,
    overlapping,
    wait_for,
)
from tests.redis_server import OwnRedis
from topology.graphservice.lease import LEASE_KEY
from topology.ingest_queue import DIRTY

pytestmark = pytest.mark.skipif(
    not any(Path("/usr/lib/postgresql").glob("*/bin/initdb")), reason="PostgreSQL is not installed (bin/setup)"
)
PROXY = {"X-Forwarded-Proto": "https"}  # as nginx sends it from 127.0.0.1 (DASHBOARD_TRUSTED_PROXIES)
CONVERGE = 420.0  # seconds: a loaded 2-core machine, a writer re-syncing after a restart


@dataclass
class Stack:
    cluster: Cluster
    redis_url: str
    ports: dict[str, int]
    tokens: dict[str, str]
    cookie: str
    reports: dict[str, dict[str, Any]]
    seq: int = 0
    latest: dict[str, str] = field(default_factory=dict)  # host -> marker of its latest accepted report

    def env(self, machine: str) -> dict[str, str]:
        return self.cluster.envs[f"web-{machine}"]

    def url(self, machine: str) -> str:
        return f"http://127.0.0.1:{self.ports[machine]}"

    def queue(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_timeout=10)


def parse_tokens(out: str, hosts: list[str]) -> dict[str, str]:
    tokens = [line.strip() for line in out.splitlines() if line.strip()]
    assert len(tokens) == len(hosts), out
    return dict(zip(hosts, tokens, strict=True))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("multinode")
    postgres, own_redis = OwnPostgres(), OwnRedis(root / "redis")
    own_redis.dir.mkdir()
    cluster = Cluster(root / "logs")
    try:
        postgres.start()
        own_redis.start()
        key = root / "secret-key"
        key.write_text("multinode-" + os.urandom(24).hex())
        shared = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": own_redis.url,
            "DJANGO_SECRET_KEY_FILE": str(key),
            "DASHBOARD_CHANNEL_PREFIX": f"multinode-{os.getpid()}",
            "LAB_DIR": str(root / "no-lab"),  # no cloud: the synthetic snapshot stays the cloud
            "DASHBOARD_NOTIFICATIONS": "",
            "DASHBOARD_CLOUD_REFRESH_SECONDS": "3600",
            "DASHBOARD_GRAPH_SWEEP_SECONDS": "5",
            "DASHBOARD_GRAPH_WRITER_LEASE_SECONDS": "15",
            "DASHBOARD_HOST_STALE_INTERVALS": "1000",  # the test outlives 3 agent intervals
            "DASHBOARD_WEB_WORKERS": "1",
        }
        ports = {"a": free_port(), "b": free_port()}
        envs = {m: machine_env(root / f"var-{m}", ports[m], shared) for m in ports}
        manage(envs["a"], "migrate", "--noinput", "-v", "0")  # once: the database is shared
        for env in envs.values():  # each machine serves its own copy of the static files
            manage(env, "collectstatic", "--noinput", "-v", "0")
        check(envs["a"], "seed")
        _, reports = synthetic_cloud(**SHAPE)
        hosts = sorted(reports)
        tokens = parse_tokens(manage(envs["b"], "agent_token", *hosts), hosts)
        session = check(envs["a"], "admin_session")
        for m in ports:
            cluster.start(f"web-{m}", "neutron-map-web", envs[m])
            cluster.start(f"jobs-{m}", "neutron-map-jobs", envs[m])
        cluster.start("graph-a", "neutron-map-graph", envs["a"])
        cluster.start("beat-a", "neutron-map-beat", envs["a"])
        for m in ports:
            cluster.wait_log(f"web-{m}", r"Uvicorn running on")
        cluster.wait_log("graph-a", r"graph-a@\S+ ready")
        yield Stack(cluster, own_redis.url, ports, tokens, f"{session['cookie']}={session['key']}", reports)
    finally:
        cluster.stop_all()
        if (own_redis.dir / "redis.pid").exists() and own_redis.up():
            own_redis.stop()
        postgres.stop()


class Watcher:
    """An admin's websocket on one server's /ws/topology/ (the map page's, with its session and Origin):
    every topology delta's revision and base, and the markers it adds."""

    def __init__(self, stack: Stack, machine: str) -> None:
        origin = stack.url(machine)
        self.closing = ExitStack()
        self.ws: ClientConnection = self.closing.enter_context(
            connect(
                f"ws://127.0.0.1:{stack.ports[machine]}/ws/topology/",
                additional_headers={"Cookie": stack.cookie, "Origin": origin},
                open_timeout=120,
                max_size=1 << 26,
            )
        )
        self.revisions: list[tuple[int, int]] = []
        self.markers: set[str] = set()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        while not self.stopping.is_set():
            try:
                message = orjson.loads(self.ws.recv(timeout=1))
            except TimeoutError:
                continue
            except Exception:  # closed
                return
            if message.get("type") == "topology.delta":
                self.revisions.append((int(message["revision"]), int(message["base"])))
                self.markers.update(markers_in(message))

    def close(self) -> None:
        self.stopping.set()
        self.closing.close()
        self.thread.join(10)


def post(stack: Stack, machine: str, host: str) -> str:
    """One report of ``host`` with a new marker to ``machine``'s server, as the agent sends it (again
    after Retry-After on 429/503, after a pause on a dropped connection); returns its marker."""
    stack.seq += 1
    seq = stack.seq
    body = orjson.dumps(with_marker(stack.reports[host], seq, datetime.now(UTC).isoformat()))
    headers = {"Authorization": f"Bearer {stack.tokens[host]}", "Content-Type": "application/json", **PROXY}
    for _ in range(60):
        try:
            answer = requests.post(
                f"{stack.url(machine)}/api/v1/agents/report/", data=body, headers=headers, timeout=120
            )
        except requests.ConnectionError:
            time.sleep(2)
            continue
        if answer.status_code == 202:
            stack.latest[host] = marker_name(seq)
            return marker_name(seq)
        assert answer.status_code in (429, 503), (answer.status_code, answer.text[:500])
        time.sleep(float(answer.headers.get("Retry-After", "2")))
    raise AssertionError(f"{host}'s report was never accepted by {machine}")


def stream(stack: Stack, rounds: int, between: Any = None) -> None:
    """``rounds`` reports of every host, each host's in order, alternately to server a and b (one
    thread per host); ``between(round)`` runs after each round."""
    hosts = sorted(stack.reports)
    with ThreadPoolExecutor(len(hosts)) as pool:
        for r in range(rounds):
            futures = [pool.submit(post, stack, "ab"[(r + i) % 2], host) for i, host in enumerate(hosts)]
            for future in futures:
                future.result()
            if between is not None:
                between(r)


def converged(stack: Stack) -> dict[str, Any]:
    """Until the stored graph shows each host's latest marker (and only it); returns the state then."""
    found: dict[str, Any] = {}

    def holds() -> bool:
        found.update(check(stack.env("a"), "state"))
        wanted = {host: [marker] for host, marker in stack.latest.items()}
        return found["reported"] == wanted and found["shown"] == wanted

    wait_for("the stored graph shows every host's latest report", holds, CONVERGE, every=3)
    return found


def saw_latest(stack: Stack, watcher: Watcher) -> bool:
    return set(stack.latest.values()) <= watcher.markers


def gaps(revisions: list[tuple[int, int]]) -> int:
    return sum(base != previous for (previous, _), (_, base) in itertools.pairwise(revisions))


def topology(stack: Stack, machine: str) -> dict[str, Any]:
    """The admin's full view from ``machine``'s REST API, as the map page loads it."""
    answer = requests.get(
        f"{stack.url(machine)}/api/v1/topology/?view=full", headers={**PROXY, "Cookie": stack.cookie}, timeout=120
    )
    assert answer.status_code == 200, answer.text[:300]
    body: dict[str, Any] = answer.json()
    return body


def shown_markers(body: dict[str, Any]) -> set[str]:
    return {m.group(2) for n in body["nodes"] if (m := MARKER_ID.match(str(n["id"])))}


def chained(revisions: list[tuple[int, int]]) -> bool:
    """Each delta applies to the revision of the one before (none missed, none twice)."""
    return all(base == previous for (previous, _), (_, base) in itertools.pairwise(revisions))


def test_both_servers_serve_the_same_database(stack: Stack) -> None:
    for machine in stack.ports:
        login = requests.get(f"{stack.url(machine)}/login/", headers=PROXY, timeout=60)
        assert login.status_code == 200
        assert "/static/css/" in login.text  # each machine's own collected static files, hashed
        assert any(n["id"].startswith("host:compute") for n in topology(stack, machine)["nodes"])
    # A page from one server names static files the other serves: the same release, the same hashed names.
    page = requests.get(f"{stack.url('a')}/login/", headers=PROXY, timeout=60).text
    hashed = sorted(set(re.findall(r'/static/[^"]+\.[0-9a-f]{12}\.(?:css|js)', page)))
    assert hashed, page[:500]
    for path in hashed:
        assert requests.get(f"{stack.url('b')}{path}", headers=PROXY, timeout=60).status_code == 200, path


def test_a_server_with_another_secret_key_knows_no_session(stack: Stack) -> None:
    """What goes wrong when one machine's SECRET_KEY differs: the sessions the others made are not its own."""
    other = stack.cluster.log_dir.parent / "other-key"
    other.write_text("another-" + os.urandom(24).hex())
    port = free_port()
    env = stack.env("b") | {"DASHBOARD_PORT": str(port), "DJANGO_SECRET_KEY_FILE": str(other)}
    stack.cluster.start("web-c", "neutron-map-web", env)
    try:
        stack.cluster.wait_log("web-c", r"Uvicorn running on")
        answer = requests.get(
            f"http://127.0.0.1:{port}/api/v1/topology/?view=full",
            headers={**PROXY, "Cookie": stack.cookie},
            timeout=120,
        )
        assert answer.status_code in (401, 403), answer.status_code
        assert topology(stack, "b")["nodes"]  # the same cookie on a server with the shared key
    finally:
        stack.cluster.kill("web-c")


def test_both_jobs_workers_answer(stack: Stack) -> None:
    for machine in stack.ports:
        stack.cluster.wait_log(f"jobs-{machine}", rf"jobs-{machine}@\S+ ready")
    done = manage(stack.env("a"), "shell", "-c", PING)
    assert "jobs-a@" in done and "jobs-b@" in done, done


PING = (
    "from dashboard.celery import app; import time\n"
    "for _ in range(20):\n"
    "    names = sorted(name for reply in (app.control.ping(timeout=5) or []) for name in reply)\n"
    "    if sum(n.startswith('jobs-') for n in names) == 2: break\n"
    "    time.sleep(2)\n"
    "print(names)"
)


def test_reports_to_both_servers_reach_websockets_on_both(stack: Stack) -> None:
    watchers = {m: Watcher(stack, m) for m in stack.ports}
    try:
        stream(stack, rounds=5)
        state = converged(stack)
        assert state["cold"], "the stored graph is not a cold join of the stored inputs"
        for machine, watcher in watchers.items():
            wait_for(f"server {machine}'s websocket sees every latest marker", partial(saw_latest, stack, watcher))
        wait_for(
            "both websockets at the stored revision",
            lambda: all(w.revisions and w.revisions[-1][0] == state["revision"] for w in watchers.values()),
            CONVERGE,
        )
        a, b = (watchers[m].revisions for m in "ab")
        assert a == b and chained(a), (a, b)  # the same deltas on both servers, none missed
        assert a[0][1] < a[-1][0] and len(a) >= 2
    finally:
        for watcher in watchers.values():
            watcher.close()


def test_the_writer_killed_mid_stream_resumes_from_the_stored_inputs(stack: Stack) -> None:
    restarted: list[int] = []

    def kill_then_restart(round_no: int) -> None:
        if round_no == 1:
            stack.cluster.kill("graph-a")
        if round_no == 3:
            behind = check(stack.env("a"), "state")  # no writer: the reports of rounds 2-3 stored, not shown
            assert all(behind["reported"][h] == [m] for h, m in stack.latest.items())
            assert not any(m in behind["shown"][h] for h, m in stack.latest.items()), behind
            log_before = len(stack.cluster.log("graph-a"))
            stack.cluster.start("graph-a", "neutron-map-graph", stack.env("a"))
            stack.cluster.wait_log("graph-a", r"graph-a@\S+ ready", after=log_before)
            restarted.append(log_before)

    watcher = Watcher(stack, "b")
    try:
        stream(stack, rounds=5, between=kill_then_restart)
        assert restarted and stack.cluster.procs["graph-a"].poll() is None
        state = converged(stack)
        assert state["cold"], "after the restart the stored graph is not a cold join of the stored inputs"
        wait_for("the websocket sees every latest marker", partial(saw_latest, stack, watcher))
        # A writer killed between its commit and its publish loses that one delta: the page sees the
        # base jump and reloads from the REST API (docs/design.md), which both servers answer in full.
        assert gaps(watcher.revisions) <= 1, watcher.revisions
        for machine in stack.ports:
            body = topology(stack, machine)
            assert body["revision"] == state["revision"]
            assert set(stack.latest.values()) <= shown_markers(body)
        # The restarted writer (a new process: nothing in memory) applied them from the database.
        assert "succeeded" in stack.cluster.log("graph-a")[restarted[0] :]
    finally:
        watcher.close()


def test_a_writer_waits_while_another_holds_the_lease(stack: Stack) -> None:
    queue = stack.queue()
    # Taken as a writer takes it (SET NX PX), once the writer's own apply (a sweep) has let it go.
    wait_for("the lease taken by the test", lambda: bool(queue.set(LEASE_KEY, "the-test:0:held", nx=True, px=600_000)))
    try:
        before = check(stack.env("a"), "state")["revision"]
        log_before = len(stack.cluster.log("graph-a"))
        host = sorted(stack.reports)[0]
        marker = post(stack, "b", host)
        stack.cluster.wait_log("graph-a", r"waits: the lease is held by the-test:0:held", after=log_before)
        waiting = check(stack.env("a"), "state")
        assert waiting["reported"][host] == [marker]  # stored by the server...
        assert waiting["revision"] == before and marker not in waiting["shown"][host]  # ...not applied
    finally:
        queue.delete(LEASE_KEY)
    converged(stack)


def test_a_second_writer_never_applies_at_the_same_time(stack: Stack) -> None:
    marks = {name: len(stack.cluster.log(name)) for name in ("graph-a",)}
    stack.cluster.start("graph-b", "neutron-map-graph", stack.env("a"))
    try:
        stack.cluster.wait_log("graph-b", r"graph-b@\S+ ready")
        took = {}

        def both_took() -> bool:
            for name in ("graph-a", "graph-b"):
                text = stack.cluster.log(name)[marks.get(name, 0) :]
                took[name] = text.count("graph writer lease taken")
            return all(took.values())

        rounds = 0
        queue = stack.queue()
        while not both_took():
            assert rounds < 40, f"one writer never applied: {took}"
            stream(stack, rounds=2)
            rounds += 2
            # Drained before the next round: a writer slower than the stream (a loaded machine) keeps
            # draining in one task and the other never gets one; once the list is empty the holder's
            # task ends, and the next report queues a task either worker may take.
            wait_for("the writer drained its work list", lambda: not queue.zcard(DIRTY), CONVERGE)
        state = converged(stack)
        assert state["cold"]
        intervals = lease_intervals([stack.cluster.log(n)[marks.get(n, 0) :] for n in ("graph-a", "graph-b")])
        holders = {token.rsplit(":", 1)[0] for token, _, _ in intervals}
        assert len(holders) >= 2, holders  # two processes applied...
        assert overlapping(intervals) == [], overlapping(intervals)  # ...never at the same time
    finally:
        stack.cluster.kill("graph-b")
