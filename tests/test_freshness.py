"""Stale hosts, pure: the join's graph marked for hosts whose last report is too old, and the explainer's warning.

The cloud is bench/synthetic.py's with bench/path.py's gateways and floating IPs
(the same as test_path_diagnosis.py): compute0000 the network node, compute0001
a compute host; vm-1 runs on compute0001. "now" is given, never read from a clock.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.path import add_gateways_and_fips
from bench.synthetic import synthetic_cloud
from topology.freshness import STALE, mark_stale, stale_hosts
from topology.join import join
from topology.path import Problem, explain

NETWORK_NODE, COMPUTE = "compute0000", "compute0001"
OUTSIDE = "192.168.0.1"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
BOUND = timedelta(minutes=3)


def cloud() -> tuple[dict[str, Any], dict[str, Any]]:
    made, reports = synthetic_cloud(hosts=2, ports=4, projects=1, network_nodes=1)
    add_gateways_and_fips(made, reports, fip_every=1)
    return made, reports


def host_node(graph: dict[str, Any], host: str) -> dict[str, Any]:
    return next(n for n in graph["nodes"] if n["id"] == f"host:{host}")


def vm(graph: dict[str, Any], name: str) -> str:
    return next(n["id"] for n in graph["nodes"] if n["kind"] == "server" and n["label"] == name)


def test_it_names_the_hosts_whose_report_is_older_than_the_bound() -> None:
    received = {"a": NOW - BOUND - timedelta(seconds=1.5), "b": NOW - BOUND, "c": NOW - timedelta(seconds=5)}
    assert stale_hosts(received, NOW, BOUND) == {"a": "2026-12-02T11:56:58+00:00"}  # to the second
    assert stale_hosts({}, NOW, BOUND) == {}


def test_it_leaves_a_fresh_graph_as_it_is() -> None:
    made, reports = cloud()
    graph = join(made, reports).to_dict()
    assert mark_stale(graph, {}) is graph  # a healthy, fresh cloud's graph does not change


def test_it_marks_a_stale_host_without_touching_the_joins_nodes() -> None:
    made, reports = cloud()
    graph = join(made, reports).to_dict()
    before = copy.deepcopy(graph)
    since = (NOW - timedelta(hours=2)).isoformat()
    marked = mark_stale(graph, {COMPUTE: since})
    assert graph == before  # the join's (cached) node dicts are not changed in place
    node = host_node(marked, COMPUTE)
    assert (node["status"], node["attrs"]["stale"]) == (STALE, since)
    assert f"no fresh report from host {COMPUTE} since {since}" in node["attrs"]["warnings"][-1]
    assert host_node(marked, NETWORK_NODE) == host_node(graph, NETWORK_NODE)
    changed = [n["id"] for n, old in zip(marked["nodes"], graph["nodes"], strict=True) if n != old]
    assert changed == [f"host:{COMPUTE}"]


def test_a_dead_agent_stays_down_when_its_host_is_stale_too() -> None:
    made, reports = cloud()
    for agent in made["agents"]:
        if agent["host"] == COMPUTE:
            agent["alive"] = False
    graph = join(made, reports).to_dict()
    assert host_node(graph, COMPUTE)["status"] == "DOWN"
    node = host_node(mark_stale(graph, {COMPUTE: NOW.isoformat()}), COMPUTE)
    assert (node["status"], node["attrs"]["stale"]) == ("DOWN", NOW.isoformat())


def test_the_explainer_warns_on_every_hop_on_the_stale_host() -> None:
    made, reports = cloud()
    graph = join(made, reports).to_dict()
    healthy = explain(graph, reports, vm(graph, "vm-1"), OUTSIDE)
    assert (healthy["verdict"], healthy["problems"]) == ("ok", [])
    since = (NOW - timedelta(hours=2)).isoformat()
    result = explain(mark_stale(graph, {COMPUTE: since}), reports, vm(graph, "vm-1"), OUTSIDE)
    assert result["verdict"] == "ok"  # the last report still says it works: a warning, not a verdict
    assert result["problems"] == [
        {
            "code": Problem.HOST_STALE,
            "node": f"host:{COMPUTE}",
            "severity": "warn",
            "message": f"no fresh report from host {COMPUTE} since {since}: what is shown of it may no longer be true",
        }
    ]
    on_stale = [h for h in result["hops"] if h["host"] == COMPUTE]
    assert on_stale and all(h["status"] == "warn" for h in on_stale)
    others = [(h["node"], h["status"]) for h in result["hops"] if h["host"] != COMPUTE]
    assert others == [(h["node"], h["status"]) for h in healthy["hops"] if h["host"] != COMPUTE]
    assert any(h["host"] == NETWORK_NODE for h in result["hops"])  # the walk did cross the fresh host
