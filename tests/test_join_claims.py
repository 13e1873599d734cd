"""A host's report speaks for that host only: tunnel IPs and scheduled namespaces (pure join)."""

from __future__ import annotations

import copy
from typing import Any

from bench.synthetic import empty_report, synthetic_cloud, uid
from topology import graph as g
from topology.join import JoinCache, join
from topology.kinds import EdgeKind
from topology.scheduling import DHCP_SCHEDULE_KEY, L3_SCHEDULE_KEY

NETWORK_NODE, COMPUTE, FAKE = "compute0000", "compute0001", "intruder"


def scheduled(cloud: dict[str, Any]) -> dict[str, Any]:
    """The synthetic cloud with the schedule the collector reads: every router and network on the network node."""
    cloud = copy.deepcopy(cloud)
    cloud[L3_SCHEDULE_KEY] = [
        {
            "agent_id": uid("agent", NETWORK_NODE, "neutron-l3-agent"),
            "host": NETWORK_NODE,
            "agent_mode": "legacy",
            "router_ids": [r["id"] for r in cloud["routers"]],
        }
    ]
    cloud[DHCP_SCHEDULE_KEY] = [
        {
            "agent_id": uid("agent", NETWORK_NODE, "neutron-dhcp-agent"),
            "host": NETWORK_NODE,
            "network_ids": [n["id"] for n in cloud["networks"][1:]],
        }
    ]
    return cloud


def intruder_report(reports: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A host Neutron does not know, copying the network node's namespaces (qrouter-, qdhcp-) and tunnel IP."""
    report = empty_report(FAKE, 77)
    report.update(host=FAKE, namespaces=copy.deepcopy(reports[NETWORK_NODE]["namespaces"]), **fields)
    return report


def warnings(graph: g.Graph, node_id: str) -> list[str]:
    return list(graph.nodes[node_id]["attrs"].get("warnings", []))


def binds_to(graph: g.Graph, node_id: str) -> set[str]:
    return {s for s, t, k in graph.edges if t == node_id and k == EdgeKind.BINDS}


def host_nodes_of(graph: g.Graph, host: str) -> dict[str, Any]:
    return {k: v for k, v in graph.nodes.items() if v.get("host") == host and v["kind"] != "port"}


def test_a_report_claiming_another_hosts_tunnel_ip_is_not_believed_and_both_are_warned() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=2, projects=1, tunnel_peers=2)
    healthy = join(cloud, reports)
    stolen = reports[NETWORK_NODE]["tunnel_ip"]
    claimed = {**reports, FAKE: intruder_report(reports, tunnel_ip=stolen)}
    for cache in (None, JoinCache()):
        graph = join(cloud, claimed, cache=cache)
        assert graph.nodes[g.host_id(NETWORK_NODE)]["attrs"]["tunnel_ip"] == stolen
        assert graph.nodes[g.host_id(FAKE)]["attrs"]["tunnel_ip"] is None
        assert any(f"claims tunnel IP {stolen}" in w and NETWORK_NODE in w for w in warnings(graph, g.host_id(FAKE)))
        assert any(FAKE in w and stolen in w for w in warnings(graph, g.host_id(NETWORK_NODE)))
        # the tunnels still end on the real host: the compute host's vxlan port says so
        vxlan = next(k for k in graph.nodes if k.startswith(f"iface:{COMPUTE}:-:vxlan-"))
        assert graph.nodes[vxlan]["attrs"]["remote_host"] == NETWORK_NODE
        assert warnings(graph, vxlan) == warnings(healthy, vxlan) == []


def test_neutrons_tunneling_ip_wins_over_the_reports() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=2, projects=1, tunnel_peers=2)
    wrong = copy.deepcopy(reports)
    wrong[COMPUTE]["tunnel_ip"] = "192.0.2.9"
    graph = join(cloud, wrong)
    agent_ip = reports[COMPUTE]["tunnel_ip"]
    assert graph.nodes[g.host_id(COMPUTE)]["attrs"]["tunnel_ip"] == agent_ip
    assert any("192.0.2.9" in w and agent_ip in w for w in warnings(graph, g.host_id(COMPUTE)))
    assert edges_of_kind(graph, EdgeKind.TUNNEL) == edges_of_kind(join(cloud, reports), EdgeKind.TUNNEL) != set()


def edges_of_kind(graph: g.Graph, kind: str) -> set[tuple[str, str]]:
    return {(s, t) for s, t, k in graph.edges if k == kind}


def test_router_and_dhcp_namespaces_are_joined_only_where_neutron_scheduled_them() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=2, projects=2, tunnel_peers=2)
    cloud = scheduled(cloud)
    healthy = join(cloud, reports)
    claimed = {**reports, FAKE: intruder_report(reports)}
    for cache in (None, JoinCache()):
        graph = join(cloud, claimed, cache=cache)
        for router in cloud["routers"]:
            name = f"qrouter-{router['id']}"
            assert binds_to(graph, g.netns_id(NETWORK_NODE, name)) == {g.router_id(router["id"])}
            assert binds_to(graph, g.netns_id(FAKE, name)) == set()
            assert any("not scheduled to intruder" in w for w in warnings(graph, g.netns_id(FAKE, name)))
        for network in cloud["networks"][1:]:
            name = f"qdhcp-{network['id']}"
            assert binds_to(graph, g.netns_id(NETWORK_NODE, name)) == {g.network_id(network["id"])}
            assert binds_to(graph, g.netns_id(FAKE, name)) == set()
            assert any("DHCP agents do not host" in w for w in warnings(graph, g.netns_id(FAKE, name)))
        assert any("is not joined" in w for w in warnings(graph, g.host_id(FAKE)))
        # the real host's nodes are as they were without the intruder
        assert host_nodes_of(graph, NETWORK_NODE) == host_nodes_of(healthy, NETWORK_NODE)


def test_a_healthy_scheduled_cloud_joins_as_an_unscheduled_one() -> None:
    cloud, reports = synthetic_cloud(hosts=3, ports=6, projects=2, tunnel_peers=2)
    assert join(scheduled(cloud), reports).to_dict() == join(cloud, reports).to_dict()


def dvr_cloud() -> tuple[dict[str, Any], dict[str, Any]]:
    """One distributed router scheduled to a dvr_snat network node; compute0001 has a VM on its subnet,
    compute0002 none; each host reports qrouter- and snat- namespaces of the router."""
    cloud, reports = synthetic_cloud(hosts=3, ports=3, projects=1, tunnel_peers=2)
    router = cloud["routers"][0]
    router["distributed"] = True
    for port in cloud["ports"]:
        if port["device_owner"] == "network:router_interface":
            port["device_owner"] = "network:router_interface_distributed"
        if port["device_owner"].startswith("compute:"):
            port["binding:host_id"] = COMPUTE
    for agent in cloud["agents"]:
        agent["configurations"]["agent_mode"] = "dvr_snat" if agent["host"] == NETWORK_NODE else "dvr"
    cloud["agents"] += [
        {
            "id": uid("agent", host, "l3"),
            "host": host,
            "agent_type": "L3 agent",
            "binary": "neutron-l3-agent",
            "alive": True,
            "configurations": {"agent_mode": "dvr"},
        }
        for host in (COMPUTE, "compute0002")
    ]
    cloud[L3_SCHEDULE_KEY] = [
        {"agent_id": "x", "host": NETWORK_NODE, "agent_mode": "dvr_snat", "router_ids": [router["id"]]}
    ]
    cloud[DHCP_SCHEDULE_KEY] = []
    for report in reports.values():
        taken = {ns["name"] for ns in report["namespaces"]}
        for name in (f"qrouter-{router['id']}", f"snat-{router['id']}"):
            if name not in taken:
                report["namespaces"].append(
                    {"name": name, "interfaces": [], "routes": [], "rules": [], "iptables": {"nat": "", "filter": ""}}
                )
    return cloud, reports


def test_a_distributed_router_lives_on_hosts_with_its_ports_and_snat_only_where_scheduled() -> None:
    cloud, reports = dvr_cloud()
    router = cloud["routers"][0]["id"]
    graph = join(cloud, reports)
    qrouter, snat = f"qrouter-{router}", f"snat-{router}"
    assert binds_to(graph, g.netns_id(NETWORK_NODE, qrouter)) == {g.router_id(router)}
    assert binds_to(graph, g.netns_id(NETWORK_NODE, snat)) == {g.router_id(router)}
    assert binds_to(graph, g.netns_id(COMPUTE, qrouter)) == {g.router_id(router)}  # its VM's subnet
    assert binds_to(graph, g.netns_id(COMPUTE, snat)) == set()  # snat- only on the dvr_snat host
    assert any("dvr_snat" in w for w in warnings(graph, g.netns_id(COMPUTE, snat)))
    assert binds_to(graph, g.netns_id("compute0002", qrouter)) == set()  # no port of its subnets there
    assert any("not scheduled" in w for w in warnings(graph, g.netns_id("compute0002", qrouter)))
