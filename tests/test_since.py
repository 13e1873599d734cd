"""What changed before a path broke (topology/history/changes.py, change_text.py), off the lab.

The words of a change and the headline (pure), the graph verdict that leaves out what only
the hosts' iptables say, and the walk back on the synthetic cloud's day of churn
(bench/what_changed.py, small): the break it finds is the one made, with its cause.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.history_churn import Churn, choose_path, make_day
from bench.path import add_gateways_and_fips
from bench.synthetic import synthetic_cloud
from bench.what_changed import what_changed
from topology.history.change_text import describe, headline
from topology.history.changes import History, graph_verdict, moves_path
from topology.history.delta import as_graph
from topology.join import join
from topology.path import Topo


def node(node_id: str, **attrs: Any) -> dict[str, Any]:
    return {"id": node_id, "kind": node_id.split(":")[0], "label": "router1", "status": "ACTIVE", "attrs": attrs}


def test_the_words_of_a_change() -> None:
    old = node("router:r1", gateway_network_id="n1", rules=[])
    assert describe(old, node("router:r1", gateway_network_id=None, rules=[]), "router:r1") == [
        "router1's gateway cleared"
    ]
    icmp = {"direction": "ingress", "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"}
    group = {**node("secgroup:g", rules=[icmp]), "label": "default"}
    assert describe(group, {**group, "attrs": {"rules": []}}, "secgroup:g") == [
        "security group default: rule ingress icmp from 0.0.0.0/0 removed"
    ]
    host = {**node("host:c1", agents=[{"agent_type": "L3 agent", "alive": True}]), "label": "c1"}
    dead = {**host, "attrs": {"agents": [{"agent_type": "L3 agent", "alive": False}]}}
    assert describe(host, dead, "host:c1") == ["the L3 agent on c1 died"]
    # A host's report time alone is no change to a path.
    assert describe({**host, "attrs": {**host["attrs"], "collected_at": "1"}}, host, "host:c1") == []


def test_the_headline_names_the_telling_change_first_with_its_cause_and_time() -> None:
    at = "2026-12-03T10:42:07+00:00"
    since = {
        "verdict": "broken",
        "verdict_since": {"revision": 7, "at": at, "was": "ok"},
        "changes": [
            {
                "revision": 7,
                "node": "iface:c:-:qg-1",
                "change": "iface qg-1 changed (state)",
                "cause": "job 17 by demo",
            },
            {"revision": 7, "node": "router:r1", "change": "router1's gateway cleared", "cause": "job 17 by demo"},
        ],
    }
    assert headline(since) == (
        "broken since 10:42 UTC: router1's gateway cleared (job 17 by demo); "
        "iface qg-1 changed (state) (job 17 by demo)"
    )
    assert headline({"verdict": "ok", "verdict_since": None, "changes": []}) == (
        "ok for as long as the history goes back"
    )


def test_the_graph_verdict_leaves_out_what_only_iptables_say() -> None:
    nat = {"code": "router_no_gateway", "severity": "fail", "message": "no SNAT rule in the qrouter namespace"}
    gone = {"code": "router_no_gateway", "severity": "fail", "message": "router router1 has no external gateway"}
    hops = [{"status": "fail"}]
    assert graph_verdict({"problems": [nat], "hops": hops}) == "ok"
    assert graph_verdict({"problems": [nat, gone], "hops": hops}) == "broken"
    assert graph_verdict({"problems": [], "hops": [{"status": "unknown"}]}) == "unknown"


def test_a_report_time_alone_does_not_move_the_path() -> None:
    host = node("host:c1", collected_at="1")
    topo = Topo({"nodes": [host], "edges": []}, {})
    history = History(0, [], b"")
    later = {**host, "attrs": {"collected_at": "2"}}

    def changing(changed: dict[str, Any]) -> Any:
        return {"added": {"nodes": [], "edges": []}, "removed": {"nodes": [], "edges": []}, "changed": changed}

    assert not moves_path(topo, history, 5, changing({"nodes": [later]}), {"host:c1"})
    dead = {**host, "status": "STALE"}
    assert moves_path(topo, history, 5, changing({"nodes": [dead]}), {"host:c1"})


def test_the_walk_back_finds_the_break_made_a_day_ago_with_its_cause() -> None:
    cloud, reports = synthetic_cloud(6, 60, 3, 1)
    add_gateways_and_fips(cloud, reports)
    graph = join(cloud, reports).to_dict()
    src, read = choose_path(graph, reports)
    now = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    churn = Churn(copy.deepcopy(graph), read, seed=3)
    rows = make_day(churn, read, 120, now)
    topo = Topo(as_graph(churn.nodes, churn.edges), reports)
    _, since = what_changed(topo, rows, orjson.dumps(graph), src, now)
    assert since["verdict"] == "broken"
    found = since["verdict_since"]
    assert found is not None and found["was"] == "ok", since
    first = [c for c in since["changes"] if c["revision"] == found["revision"]]
    assert any(
        c["change"].endswith("'s gateway cleared") and c["cause"] == "cloud refresh; job 17 by demo" for c in first
    )
    assert found["at"] == "2026-12-02T07:01:00+00:00"  # 23 h back, as bench/what_changed.py makes it
    assert since["walks"] >= 24  # the hourly renames of the path's port were each explained
    assert not any("collected_at" in c["change"] for c in since["changes"])
