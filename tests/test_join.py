"""The join as a pure function, on small synthetic clouds shaped like real reports.

The lab-backed tests (tests/test_topology_lab.py) prove the same on a real
Neutron; these pin down the rules, including the faults the lab does not have.
"""

from __future__ import annotations

import copy
import gc
import hashlib
from typing import Any

import orjson

from bench.path import add_gateways_and_fips, add_network_node_tunnels
from bench.synthetic import synthetic_cloud, uid
from topology import graph as g
from topology.join import join
from topology.kinds import EdgeKind


def edges_of(graph: g.Graph, kind: str) -> set[tuple[str, str]]:
    return {(source, target) for source, target, edge_kind in graph.edges if edge_kind == kind}


def vm_port(cloud: dict[str, Any], n: int = 0) -> dict[str, Any]:
    return next(p for p in cloud["ports"] if p["id"] == uid("vmport", n))


def test_it_joins_a_hybrid_vm_port_to_its_tap_qbr_qvb_qvo_chain() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=2, projects=1)
    port = vm_port(cloud)
    host, id11 = port["binding:host_id"], port["id"][:11]
    graph = join(cloud, reports)
    binds = edges_of(graph, EdgeKind.BINDS)
    for device in ("tap", "qvb", "qvo"):
        assert (g.port_id(port["id"]), g.iface_id(host, None, f"{device}{id11}")) in binds
    assert (g.port_id(port["id"]), g.bridge_id(host, f"qbr{id11}")) in binds
    assert graph.nodes[g.bridge_id(host, f"qbr{id11}")]["attrs"]["type"] == "linux"
    # tap and qvb hang in qbr; qvo is on br-int with its local VLAN tag; qvb-qvo is a veth pair
    members = edges_of(graph, EdgeKind.MEMBER)
    assert (g.bridge_id(host, f"qbr{id11}"), g.iface_id(host, None, f"tap{id11}")) in members
    assert (g.bridge_id(host, "br-int"), g.iface_id(host, None, f"qvo{id11}")) in members
    qvo = graph.nodes[g.iface_id(host, None, f"qvo{id11}")]
    assert qvo["attrs"]["tag"] == 1
    assert qvo["attrs"]["describe"].startswith("qvo VM port, VLAN tag 1")
    pair = tuple(sorted((g.iface_id(host, None, f"qvb{id11}"), g.iface_id(host, None, f"qvo{id11}"))))
    assert pair in edges_of(graph, EdgeKind.VETH)
    assert (g.server_id(port["device_id"]), g.port_id(port["id"])) in edges_of(graph, EdgeKind.RUNS)


def test_it_joins_routers_and_networks_to_their_namespaces() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=2, projects=2)
    graph = join(cloud, reports)
    binds = edges_of(graph, EdgeKind.BINDS)
    for router in cloud["routers"]:
        assert (g.router_id(router["id"]), g.netns_id("compute0000", f"qrouter-{router['id']}")) in binds
        assert "warnings" not in graph.nodes[g.router_id(router["id"])]["attrs"]
    for net in cloud["networks"][1:]:
        assert (g.network_id(net["id"]), g.netns_id("compute0000", f"qdhcp-{net['id']}")) in binds


def test_it_links_patch_ports_and_tunnels_between_hosts() -> None:
    cloud, reports = synthetic_cloud(hosts=3, ports=3, projects=1, tunnel_peers=2)
    graph = join(cloud, reports)
    assert (g.iface_id("compute0000", None, "patch-int"), g.iface_id("compute0000", None, "patch-tun")) in edges_of(
        graph, EdgeKind.PATCH
    )
    tunnels = edges_of(graph, EdgeKind.TUNNEL)
    hosts_joined = {frozenset((a.split(":")[1], b.split(":")[1])) for a, b in tunnels}
    assert hosts_joined == {
        frozenset(("compute0000", "compute0001")),
        frozenset(("compute0001", "compute0002")),
        frozenset(("compute0000", "compute0002")),
    }
    assert all(a.split(":")[3].startswith("vxlan-") for a, _ in tunnels)


def test_it_keeps_what_does_not_join_with_a_warning() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=2, projects=1)
    cloud, reports = copy.deepcopy(cloud), copy.deepcopy(reports)
    # a qvo whose iface-id matches no port
    stray = reports["compute0000"]["ovs"]["bridges"][0]["ports"][-1]["interfaces"][0]
    stray["external_ids"]["iface-id"] = "00000000-dead-beef-0000-000000000000"
    # a router with no namespace anywhere
    cloud["routers"].append({"id": uid("router", "lost"), "name": "lost", "project_id": "p"})
    # a port bound to a host that sends no report
    port = vm_port(cloud, 1)
    port["binding:host_id"] = "ghost"
    graph = join(cloud, reports)
    qvo = graph.nodes[g.iface_id("compute0000", None, stray["name"])]
    assert any("matches no Neutron port" in w for w in qvo["attrs"]["warnings"])
    assert "no qrouter- namespace" in graph.nodes[g.router_id(uid("router", "lost"))]["attrs"]["warnings"][0]
    assert "ghost, which sends no agent report" in graph.nodes[g.port_id(port["id"])]["attrs"]["warnings"][0]
    assert graph.nodes[g.host_id("ghost")]["status"] == "UNKNOWN"


def test_no_edge_points_at_a_device_the_report_lacks_or_that_is_drawn_as_a_bridge() -> None:
    """One fault per host: a master bridge the report does not list, a Linux bridge that is also
    an OVS port, an OVS bridge's own port plugged into another bridge. The edges to them go, the
    rest stays."""
    cloud, reports = synthetic_cloud(hosts=3, ports=3, projects=1)  # VM port n on host n
    hosts = sorted(reports)

    def root_iface(host: str, prefix: str, n: int) -> dict[str, Any]:
        return next(i for i in reports[host]["interfaces"] if i["name"] == prefix + vm_port(cloud, n)["id"][:11])

    def plug(host: str, bridge: int, name: str) -> None:
        reports[host]["ovs"]["bridges"][bridge]["ports"].append(
            {"name": name, "tag": None, "interfaces": [{"name": name, "type": "", "options": {}, "external_ids": {}}]}
        )

    tap0 = root_iface(hosts[0], "tap", 0)
    tap0["master"] = "brq-absent"
    qbr1 = root_iface(hosts[1], "qbr", 1)
    plug(hosts[1], 0, qbr1["name"])
    plug(hosts[2], 0, "br-tun")
    reports[hosts[2]]["interfaces"].append(
        {
            "name": "br-tun",
            "kind": "openvswitch",
            "mac": None,
            "mtu": 1450,
            "state": "UP",
            "addresses": [],
            "master": "ovs-system",
            "peer": None,
            "peer_netns": None,
        }
    )
    graph = join(cloud, reports)
    assert not [key for key in graph.edges if key[0] not in graph.nodes or key[1] not in graph.nodes]
    members = edges_of(graph, EdgeKind.MEMBER)
    assert not any(source == g.bridge_id(hosts[0], "brq-absent") for source, _ in members)
    assert g.iface_id(hosts[0], None, tap0["name"]) in graph.nodes  # the tap stays, without its bridge
    assert graph.nodes[g.bridge_id(hosts[1], qbr1["name"])]["attrs"]["type"] == "linux"
    assert (g.bridge_id(hosts[1], "br-int"), g.iface_id(hosts[1], None, qbr1["name"])) not in members
    assert g.iface_id(hosts[2], None, "br-tun") not in graph.nodes
    assert (g.bridge_id(hosts[2], "br-int"), g.iface_id(hosts[2], None, "br-tun")) not in members
    assert (g.host_id(hosts[2]), g.bridge_id(hosts[2], "br-tun")) in members


def test_it_joins_native_ovs_firewall_ports_without_qbr() -> None:
    cloud, reports = synthetic_cloud(hosts=1, ports=1, projects=1)
    report = reports["compute0000"]
    id11 = vm_port(cloud)["id"][:11]
    # openvswitch firewall driver: the tap goes straight onto br-int
    report["interfaces"] = [i for i in report["interfaces"] if i["name"][3:] != id11]
    report["interfaces"].append(
        {
            "name": f"tap{id11}",
            "kind": "tun",
            "mac": None,
            "mtu": 1450,
            "state": "UP",
            "addresses": [],
            "master": None,
            "peer": None,
            "peer_netns": None,
        }
    )
    qvo_port = next(p for p in report["ovs"]["bridges"][0]["ports"] if p["name"] == f"qvo{id11}")
    qvo_port["name"] = qvo_port["interfaces"][0]["name"] = f"tap{id11}"
    graph = join(cloud, reports)
    tap = g.iface_id("compute0000", None, f"tap{id11}")
    assert (g.bridge_id("compute0000", "br-int"), tap) in edges_of(graph, EdgeKind.MEMBER)
    assert (g.port_id(vm_port(cloud)["id"]), tap) in edges_of(graph, EdgeKind.BINDS)
    assert not any(n.startswith(f"bridge:compute0000:qbr{id11}") for n in graph.nodes)


def test_diff_reports_added_removed_and_changed() -> None:
    cloud, reports = synthetic_cloud(hosts=1, ports=2, projects=1)
    before = join(cloud, reports).to_dict()
    cloud = copy.deepcopy(cloud)
    cloud["networks"][1]["status"] = "DOWN"
    removed = cloud["ports"].pop()
    after = join(cloud, reports).to_dict()
    delta = g.diff(before, after)
    assert [n["id"] for n in delta["changed"]["nodes"] if n["kind"] == "network"] == [
        g.network_id(cloud["networks"][1]["id"])
    ]
    assert g.port_id(removed["id"]) in delta["removed"]["nodes"]
    assert not delta["added"]["nodes"]
    assert g.is_empty(g.diff(after, after))


# sha256 of the serialized graph (nodes, edges, their order) of the cloud below, as the join
# made it before it was split into cached parts (commit 9763642). Change it only with a
# deliberate change of the join's output.
# Re-pinned once for an input change, not the join's: bench/synthetic.py's qdhcp- namespaces now carry
# iptables {"nat": "", "filter": ""} as the agent sends them, not {} (which the validator refuses), so
# their 3 netns nodes here get has_iptables true (bool of the dict, as every real report gives); nothing
# else differs, and with those 3 namespaces given {} again the graph hashes to the previous pin, dec32fc1...
# Re-pinned again for an input change, not the join's: bench/synthetic.py's default groups now carry
# Neutron's two egress rules (IPv4, IPv6: any to anywhere), which the explainer judges (issue 20 item 6);
# with the cloud's egress rules dropped again the graph hashes to the previous pin, 90c1077b...
# Re-pinned for a deliberate change of the join's output: a security group node carries Neutron's
# `stateful` (True when the API leaves it out), which decides whether a reply is let in by conntrack;
# with that attribute popped from every secgroup node the graph hashes to the previous pin, 9c79a87a...
PINNED_GRAPH_SHA256 = "765b36b4660c66e3ff100ffac401b81265daddb195c4976d2356c444b84abe85"


def test_the_joined_graph_is_pinned() -> None:
    cloud, reports = synthetic_cloud(hosts=5, ports=30, projects=3, network_nodes=2)
    add_gateways_and_fips(cloud, reports)  # qg- devices, br-ex, floating IPs, security group rules
    add_network_node_tunnels(reports)
    assert hashlib.sha256(orjson.dumps(join(cloud, reports).to_dict())).hexdigest() == PINNED_GRAPH_SHA256


def test_the_join_leaves_the_gc_as_it_found_it() -> None:
    """Paused while it runs, then enabled again, nothing left frozen; others' frozen objects stay frozen."""
    cloud, reports = synthetic_cloud(hosts=2, ports=4, projects=1)
    assert gc.isenabled()
    join(cloud, reports)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.disable()
    try:
        join(cloud, reports)
        assert not gc.isenabled()
    finally:
        gc.enable()
    sentinel: list[object] = [object()]  # a tracked container, frozen with everything else
    gc.freeze()  # as a pre-fork server does
    try:
        assert not _tracked_by_a_generation(sentinel)
        join(cloud, reports)
        # Still in the permanent generation: the join did not unfreeze what others froze. (The
        # freeze count itself may drop: a frozen object freed during the join leaves it.)
        assert not _tracked_by_a_generation(sentinel)
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    finally:
        gc.unfreeze()
    assert _tracked_by_a_generation(sentinel)  # the check above can fail: unfrozen, it is seen


def _tracked_by_a_generation(obj: object) -> bool:
    """Whether ``obj`` is in one of the GC's three generations (a frozen object is in none)."""
    return any(o is obj for o in gc.get_objects())
