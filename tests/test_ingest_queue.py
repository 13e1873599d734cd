"""DASHBOARD_GRAPH_WRITER=queue: the report endpoint stores and answers 202 at once, one writer joins.

Real parts: a Redis of the test's own (tests/redis_server.py), the graph writer as bin/run starts
it (a Celery worker on ``-Q graph``, tests/graph_writer.py) on the test database, the endpoint
in this process (Django's test client) or in a real daphne, the node agent's sender. The writer
is "behind" because it is really stopped (not running), never because of a mock.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from bench.ingest_stats import marker_name, with_marker
from bench.report_strategies import CLOUD, FUZZ_HOST, REPORTS, STEADY_HOST
from bench.synthetic import synthetic_cloud
from tests.browser import daphne_server
from tests.graph_writer import drained, graph_writer, node_ids, queue_mode, store_cloud, wait_until
from tests.test_ingest_fuzz import deep_route_report
from topology import graph as g
from topology import ingest_queue, services
from topology.agent.send import SendFailed, Target, post_report
from topology.join import JoinCache
from topology.models import GraphState, HostReport

URL = "/api/v1/agents/report/"
pytestmark = pytest.mark.django_db(transaction=True)


def post(client: Client, report: dict[str, Any], token: str) -> Any:
    return client.post(URL, json.dumps(report), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def revision() -> int:
    return services.current_revision()


def marker_id(host: str, seq: int) -> str:
    return g.iface_id(host, None, marker_name(seq))


@pytest.fixture
def small_cloud() -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    """Four hosts' cloud stored and joined; their reports (as the agent sends them) and tokens."""
    services.JOIN_CACHE = JoinCache()
    cloud, reports = synthetic_cloud(hosts=4, ports=12, projects=2, network_nodes=1)
    store_cloud(cloud)
    return cloud, reports, {host: services.issue_agent_token(host) for host in reports}


def test_a_report_is_answered_202_without_a_join_and_the_writer_applies_it(
    client: Client, tmp_path: Path, small_cloud: Any
) -> None:
    _, reports, tokens = small_cloud
    host = sorted(reports)[0]
    with queue_mode(tmp_path / "redis") as server:
        before = revision()
        response = post(client, reports[host], tokens[host])
        assert response.status_code == 202, response.content
        assert response.json() == {"host": host, "revision": before, "queued": True}
        assert HostReport.objects.get(host=host).report == reports[host]  # stored ...
        assert revision() == before and g.bridge_id(host, "br-int") not in node_ids()  # ... not joined
        assert ingest_queue.pending_hosts() == [host]
        with graph_writer(server.url, "applies.log"):
            wait_until("the writer applied the report", lambda: g.bridge_id(host, "br-int") in node_ids())
            wait_until("the mark is gone", drained)
        assert revision() > before
        assert ingest_queue.backlog().rebuilds >= 1


def test_a_burst_from_several_hosts_coalesces_and_converges_to_each_hosts_latest_report(
    client: Client, tmp_path: Path, small_cloud: Any
) -> None:
    _, reports, tokens = small_cloud
    hosts = sorted(reports)
    latest: dict[str, int] = {}
    seq = 0

    def burst(rounds: int) -> int:
        nonlocal seq
        sent = 0
        for _ in range(rounds):
            for host in hosts:
                seq += 1
                marked = with_marker(reports[host], seq, reports[host]["collected_at"])
                assert post(client, marked, tokens[host]).status_code == 202
                latest[host] = seq
                sent += 1
        return sent

    def converged() -> bool:
        ids = node_ids()
        wanted = {marker_id(h, s) for h, s in latest.items()}
        markers = {i for i in ids if ":mk" in i}
        return drained() and markers == wanted

    with queue_mode(tmp_path / "redis") as server:
        # The writer stopped: 20 reports only mark 4 hosts; started, it applies them in one rebuild.
        start = revision()
        sent = burst(5)
        assert sorted(ingest_queue.pending_hosts()) == hosts
        with graph_writer(server.url, "burst.log"):
            wait_until("the graph shows each host's latest marker", converged)
            first = ingest_queue.backlog().rebuilds
            assert 1 <= first < sent
            assert revision() - start < sent
            # The writer running: a burst while it rebuilds still ends at each host's latest report.
            sent2 = burst(10)
            wait_until("the graph shows each host's latest marker again", converged)
            assert ingest_queue.backlog().rebuilds - first <= sent2
        for host, s in latest.items():
            assert HostReport.objects.get(host=host).report["interfaces"][-1]["name"] == marker_name(s)
            assert marker_id(host, s - len(hosts)) not in node_ids()  # an earlier report's marker is gone


def test_a_writer_behind_gets_503_with_retry_after_and_the_report_is_not_taken(
    client: Client, tmp_path: Path, small_cloud: Any
) -> None:
    _, reports, tokens = small_cloud
    first, second = sorted(reports)[:2]
    # Any unapplied mark is "behind" (lag > 0 s); the writer is not running.
    with queue_mode(tmp_path / "redis", GRAPH_MAX_LAG_SECONDS=0.0, GRAPH_RETRY_AFTER_SECONDS=7) as server:
        assert post(client, reports[first], tokens[first]).status_code == 202
        refused = post(client, reports[second], tokens[second])
        assert refused.status_code == 503, refused.content
        wait = int(refused["Retry-After"])
        assert 7 <= wait <= 14 and refused.json()["retry_after"] == wait
        assert refused.json()["stored"] is False and "behind" in refused.json()["detail"]
        assert not HostReport.objects.filter(host=second).exists()
        with graph_writer(server.url, "behind.log"):
            wait_until("the writer caught up", drained)
        again = post(client, reports[second], tokens[second])
        assert again.status_code == 202 and again.json()["queued"] is True


def test_with_redis_down_the_report_is_stored_and_answered_503_never_500(
    client: Client, tmp_path: Path, small_cloud: Any
) -> None:
    _, reports, tokens = small_cloud
    host = sorted(reports)[0]
    with queue_mode(tmp_path / "redis") as server:
        server.stop()
        response = post(client, reports[host], tokens[host])
        assert response.status_code == 503, response.content
        assert int(response["Retry-After"]) >= 1
        body = response.json()
        assert body["stored"] is True and "unreachable" in body["detail"]
        assert HostReport.objects.get(host=host).report == reports[host]
        # Redis back: the agent's next try is marked and applied.
        server.start()
        assert post(client, reports[host], tokens[host]).status_code == 202
        assert ingest_queue.pending_hosts() == [host]
        with graph_writer(server.url, "redis-down.log"):
            wait_until("the writer applied it", lambda: g.bridge_id(host, "br-int") in node_ids() and drained())


def test_a_poisoned_report_quarantines_only_its_host_in_the_writer(client: Client, tmp_path: Path) -> None:
    services.JOIN_CACHE = JoinCache()
    store_cloud(CLOUD)
    tokens = {host: services.issue_agent_token(host) for host in REPORTS}
    with queue_mode(tmp_path / "redis") as server, graph_writer(server.url, "poison.log"):
        for host, report in REPORTS.items():
            assert post(client, report, tokens[host]).status_code == 202
        wait_until("both hosts applied", lambda: drained() and g.bridge_id(FUZZ_HOST, "br-int") in node_ids())
        # A report stored past the checks (as before they existed), marked as the endpoint marks.
        HostReport.objects.filter(host=FUZZ_HOST).update(report=deep_route_report(), digest="")
        ingest_queue.mark_and_schedule(FUZZ_HOST)
        steady = with_marker(copy.deepcopy(REPORTS[STEADY_HOST]), 1, REPORTS[STEADY_HOST]["collected_at"])
        assert post(client, steady, tokens[STEADY_HOST]).status_code == 202
        wait_until("the other host's report applied", lambda: drained() and marker_id(STEADY_HOST, 1) in node_ids())
        nodes = {n["id"]: n for n in GraphState.objects.get(id=1).graph["nodes"]}
        warnings = nodes[g.host_id(FUZZ_HOST)]["attrs"].get("warnings", [])
        assert any("could not be joined" in w and "last good report" in w for w in warnings), warnings
        assert g.bridge_id(FUZZ_HOST, "br-int") in nodes  # the writer's last good part stands in
        assert g.netns_id(FUZZ_HOST, "qrouter-deep") not in nodes
        assert not any("could not be joined" in w for w in nodes[g.host_id(STEADY_HOST)]["attrs"].get("warnings", []))


def test_the_node_agent_waits_what_the_503_retry_after_says(
    tmp_path: Path, small_cloud: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, reports, tokens = small_cloud
    first, second = sorted(reports)[:2]
    with queue_mode(tmp_path / "redis") as server:
        for name, value in {
            "DASHBOARD_GRAPH_WRITER": "queue",
            "DASHBOARD_GRAPH_QUEUE_URL": server.url,
            "REDIS_URL": server.url,
            "CELERY_BROKER_URL": server.url,
            "DASHBOARD_GRAPH_MAX_LAG_SECONDS": "0",
            "DASHBOARD_GRAPH_RETRY_AFTER_SECONDS": "5",
        }.items():
            monkeypatch.setenv(name, value)
        with daphne_server(tmp_path / "daphne.log") as base:
            answer = post_report(reports[first], Target(base + URL, tokens[first]), attempts=1)
            assert answer["queued"] is True
            slept: list[float] = []
            with pytest.raises(SendFailed) as caught:
                post_report(reports[second], Target(base + URL, tokens[second]), attempts=3, sleep=slept.append)
        # Not the backoff's 1 s and 2 s: the server's 5-10 s, each time.
        assert len(slept) == 2 and all(5 <= s <= 10 for s in slept), slept
        assert caught.value.answered and caught.value.retry_after is not None and 5 <= caught.value.retry_after <= 10
        assert "HTTP 503" in str(caught.value)
        assert not HostReport.objects.filter(host=second).exists()


@pytest.fixture
def short_busy_timeout() -> Iterator[None]:
    """This process's SQLite waits 1 s for the write lock instead of 20 s (the same busy timeout, shorter)."""
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("timeout")
    connection.close()
    options["timeout"] = 1
    try:
        yield
    finally:
        connection.close()
        options["timeout"] = saved


def test_a_database_locked_past_the_busy_timeout_is_a_503_not_a_500(
    client: Client, tmp_path: Path, small_cloud: Any, short_busy_timeout: None
) -> None:
    _, reports, tokens = small_cloud
    host = sorted(reports)[0]
    with queue_mode(tmp_path / "redis"):
        # Another writer (a real second connection to the same file) holds SQLite's write lock.
        holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=1)
        try:
            holder.execute("BEGIN IMMEDIATE")
            response = post(client, reports[host], tokens[host])
        finally:
            holder.rollback()
            holder.close()
        assert response.status_code == 503, response.content
        assert int(response["Retry-After"]) >= 1
        assert "database is busy" in response.json()["detail"] and response.json()["stored"] is False
        assert not HostReport.objects.filter(host=host).exists()
        assert post(client, reports[host], tokens[host]).status_code == 202


def test_a_cloud_refresh_in_the_queue_mode_is_applied_by_the_writer_not_where_it_ran(
    tmp_path: Path, small_cloud: Any
) -> None:
    """A refresh (beat, a job's confirmation, the refresh API) runs in a jobs' worker or a web
    process: in the queue mode it marks the new snapshot for the one graph writer instead of
    joining there (two writers would each re-read everything the other wrote)."""
    cloud, reports, _ = small_cloud
    host = sorted(reports)[0]
    renamed = copy.deepcopy(cloud)
    network = renamed["networks"][0]
    network["name"] = "renamed-by-the-refresh"
    with queue_mode(tmp_path / "redis") as server:
        before = revision()
        services.store_snapshot(renamed, "synthetic")
        # and a report stored whose mark was lost (Redis away then): the refresh is the safety net
        services.store_report(host, reports[host], 1)
        services.apply_cloud()
        assert ingest_queue.pending_hosts() == [ingest_queue.CLOUD_MARK]
        assert g.bridge_id(host, "br-int") not in node_ids()
        assert revision() == before  # not joined where the refresh ran

        def network_name() -> str | None:
            state = GraphState.objects.filter(id=1).first()
            nodes = (state.graph or {}).get("nodes", []) if state else []
            return next((n["label"] for n in nodes if n["id"] == g.network_id(network["id"])), None)

        assert network_name() != "renamed-by-the-refresh"
        with graph_writer(server.url, "cloud.log"):
            wait_until("the writer applied the snapshot", lambda: network_name() == "renamed-by-the-refresh")
            wait_until("the mark is gone", drained)
        assert g.bridge_id(host, "br-int") in node_ids()  # the unmarked report, applied by the refresh
        assert revision() == before + 1
