"""A poisoned report fails alone: refused at ingest, quarantined at the join, never a frozen graph.

The fuzz runs the cases of bench/report_strategies.py through the real endpoint
with real agent tokens (bench/fuzz_ingest.py runs 10,000 of them and prints the
counts); here a few hundred, derandomized so CI sees the same ones every run.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings

from bench.fuzz_ingest import IngestFuzz
from bench.report_strategies import CLOUD, FUZZ_HOST, REPORTS, STEADY_HOST, Case, cases, nested
from topology import graph as g
from topology import services
from topology.join import JoinCache, join
from topology.models import GraphState, HostReport

pytestmark = pytest.mark.django_db
URL = "/api/v1/agents/report/"


@pytest.fixture
def fuzz(client: Client) -> IngestFuzz:
    services.JOIN_CACHE = JoinCache()  # no part of another test's join stands in for a quarantined one
    return IngestFuzz(client)


def deep_route_report(depth: int = 300) -> dict[str, Any]:
    """The issue's report: valid, with an extra field nested ``depth`` levels in a namespace route."""
    report = copy.deepcopy(REPORTS[FUZZ_HOST])
    report["namespaces"] = [
        {
            "name": "qrouter-deep",
            "interfaces": [],
            "routes": [
                {"dst": "0.0.0.0/0", "gateway": None, "dev": None, "table": 254, "src": None, "extra": nested(depth)}
            ],
            "rules": [],
            "iptables": {"nat": "", "filter": ""},
        }
    ]
    return report


def host_node(host: str) -> g.Node:
    nodes = GraphState.objects.get(id=1).graph["nodes"]
    return next(n for n in nodes if n["id"] == g.host_id(host))


def test_the_issues_deep_route_field_is_refused_and_stores_nothing(fuzz: IngestFuzz) -> None:
    body = json.dumps(deep_route_report()).encode()  # the standard library encodes 300 levels
    outcome = fuzz.run(Case("hostile/deep-route", body))
    assert outcome == "hostile/deep-route -> 400"
    response = fuzz.post(body, FUZZ_HOST)
    assert "nested deeper than" in response.json()["detail"]
    assert not HostReport.objects.filter(host=FUZZ_HOST).exists()


def test_a_stored_poisoned_report_is_quarantined_and_the_graph_keeps_moving(fuzz: IngestFuzz) -> None:
    # A good report first: its part is what the quarantine keeps.
    good = copy.deepcopy(REPORTS[FUZZ_HOST])
    assert fuzz.post(json.dumps(good).encode(), FUZZ_HOST).status_code == 202
    # Then one stored past the checks (as before they existed): every rebuild used to fail on it.
    poisoned = deep_route_report()
    HostReport.objects.filter(host=FUZZ_HOST).update(report=poisoned, digest="", received_at=timezone.now())
    services.rebuild_graph()
    fuzz.check_not_frozen()  # the other host's next report is applied
    node = host_node(FUZZ_HOST)
    assert any("could not be joined" in w and "last good report" in w for w in node["attrs"]["warnings"])
    nodes = {n["id"] for n in GraphState.objects.get(id=1).graph["nodes"]}
    assert g.bridge_id(FUZZ_HOST, "br-int") in nodes  # the last good part stands in
    assert g.netns_id(FUZZ_HOST, "qrouter-deep") not in nodes
    # A process without that part (a fresh cache) shows the host node alone, still warned.
    services.JOIN_CACHE = JoinCache()
    fuzz.check_not_frozen()
    assert any("are not shown" in w for w in host_node(FUZZ_HOST)["attrs"]["warnings"])
    assert g.bridge_id(FUZZ_HOST, "br-int") not in {n["id"] for n in GraphState.objects.get(id=1).graph["nodes"]}
    # A good report lifts the quarantine.
    assert fuzz.post(json.dumps(good).encode(), FUZZ_HOST).status_code == 202
    assert not any("could not be joined" in w for w in host_node(FUZZ_HOST)["attrs"].get("warnings", []))


def steady_nodes(graph: g.Graph) -> dict[str, Any]:
    """STEADY_HOST's nodes, less what they say about FUZZ_HOST (its tunnels back are unknown then)."""
    nodes = {}
    for node_id, node in graph.nodes.items():
        if node.get("host") == STEADY_HOST:
            attrs = {**node["attrs"]}
            attrs["warnings"] = [w for w in attrs.get("warnings", []) if FUZZ_HOST not in w]
            nodes[node_id] = {**node, "attrs": attrs}
    return nodes


def test_a_report_the_join_fails_on_is_quarantined_alone() -> None:
    """Pure join: a host part that raises (a shape no check foresaw) leaves every other host as it was."""
    reports = copy.deepcopy(REPORTS)
    healthy = join(CLOUD, reports, cache=JoinCache())
    reports[FUZZ_HOST]["interfaces"].append("not an interface")  # iface["name"] raises TypeError
    for cache in (None, JoinCache()):
        graph = join(CLOUD, reports, cache=cache)
        warnings = graph.nodes[g.host_id(FUZZ_HOST)]["attrs"]["warnings"]
        assert any("the join failed on it: AttributeError" in w for w in warnings), warnings
        assert steady_nodes(graph) == steady_nodes(healthy) != {}
        physical = ("iface", "bridge", "netns")
        assert not any(v.get("host") == FUZZ_HOST and v["kind"] in physical for v in graph.nodes.values())


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(case=cases)
def test_fuzzed_reports_never_5xx_never_freeze_never_touch_another_host(fuzz: IngestFuzz, case: Case) -> None:
    fuzz.run(case)  # asserts: no 5xx, rejected = nothing stored, other host unchanged, graph not frozen


def test_an_ovs_interface_named_like_a_bridge_does_not_break_the_tunnels() -> None:
    """Found by the fuzz: a vxlan port named like another bridge was dropped (drawn as that bridge)
    but stayed in the index, and the cross joins failed on it (500 and a frozen graph)."""
    reports = copy.deepcopy(REPORTS)
    bridges = reports[FUZZ_HOST]["ovs"]["bridges"]
    bridges[0]["ports"].append(
        {
            "name": "eth0",
            "tag": None,
            "interfaces": [
                {"name": "eth0", "type": "vxlan", "options": {"remote_ip": "10.9.9.9"}, "external_ids": {}, "ofport": 9}
            ],
        }
    )
    bridges.append({"name": "eth0", "datapath_type": "netdev", "fail_mode": None, "ports": []})
    for cache in (None, JoinCache()):
        graph = join(CLOUD, reports, cache=cache)
        assert g.bridge_id(FUZZ_HOST, "eth0") in graph.nodes
        assert g.iface_id(FUZZ_HOST, None, "eth0") not in graph.nodes
        assert not any("could not be joined" in w for w in warnings_of(graph, g.host_id(FUZZ_HOST)))


def warnings_of(graph: g.Graph, node_id: str) -> list[str]:
    return list(graph.nodes[node_id]["attrs"].get("warnings", []))


def test_a_part_that_breaks_the_cross_joins_is_quarantined_with_its_last_good_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No report breaks the cross joins once the bugs the fuzz found are fixed, so the fault is made:
    add_tunnels raises when the fuzzed host's part holds a marker namespace (a stand-in for the next bug)."""
    import topology.join.entry as join_module

    real_add_tunnels = join_module.add_tunnels

    def failing(graph: g.Graph, indexes: Any, tunnels: Any) -> None:
        if "poison" in indexes[FUZZ_HOST].namespaces:
            raise KeyError("poison")
        real_add_tunnels(graph, indexes, tunnels)

    monkeypatch.setattr(join_module, "add_tunnels", failing)
    cache = JoinCache()
    reports = copy.deepcopy(REPORTS)
    healthy = join(CLOUD, reports, cache=cache)
    poisoned = copy.deepcopy(reports)
    poisoned[FUZZ_HOST]["namespaces"].append(
        {"name": "poison", "interfaces": [], "routes": [], "rules": [], "iptables": {"nat": "", "filter": ""}}
    )
    steady = copy.deepcopy(poisoned[STEADY_HOST])
    steady["interfaces"].append({**steady["interfaces"][0], "name": "moved"})
    poisoned[STEADY_HOST] = steady  # the other host's change still goes through
    graph = join(CLOUD, poisoned, cache=cache)
    assert any(
        "the join failed on it: KeyError" in w and "last good" in w for w in warnings_of(graph, g.host_id(FUZZ_HOST))
    )
    assert g.netns_id(FUZZ_HOST, "poison") not in graph.nodes
    assert {k for k in graph.nodes if k.startswith(f"bridge:{FUZZ_HOST}:")} == {
        k for k in healthy.nodes if k.startswith(f"bridge:{FUZZ_HOST}:")
    }
    assert g.iface_id(STEADY_HOST, None, "moved") in graph.nodes
    # the same report is not tried again; the next good one lifts the quarantine
    assert "warnings" in join(CLOUD, poisoned, cache=cache).nodes[g.host_id(FUZZ_HOST)]["attrs"]
    assert not warnings_of(join(CLOUD, reports, cache=cache), g.host_id(FUZZ_HOST))


def test_a_linux_bridge_device_with_a_veth_peer_is_joined() -> None:
    """Found by the fuzz (then quarantined): a root bridge device naming a veth peer was drawn as a
    bridge, its interface node dropped, and the veth link then looked the dropped node up."""
    reports = copy.deepcopy(REPORTS)
    lo = reports[FUZZ_HOST]["interfaces"][0]
    reports[FUZZ_HOST]["interfaces"].append({**lo, "name": "x", "kind": "bridge", "peer": "y", "addresses": []})
    graph = join(CLOUD, reports)
    assert g.bridge_id(FUZZ_HOST, "x") in graph.nodes
    assert not any("could not be joined" in w for w in warnings_of(graph, g.host_id(FUZZ_HOST)))
