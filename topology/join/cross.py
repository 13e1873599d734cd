"""The cross joins: host nodes, tunnels between hosts, namespaces <-> routers and networks."""

from __future__ import annotations

from collections.abc import Mapping

from topology import claims
from topology import graph as g
from topology.join.chassis import behind_warning, chassis_warnings, local_summary
from topology.join.devices import namespace_role
from topology.join.ha import mark_instance
from topology.join.logical import LogicalPart
from topology.join.parts import HostIndex, JsonDict, add_link
from topology.kinds import (
    OVN_ATTR,
    EdgeKind,
    NodeKind,
)


def host_status(agents: list[JsonDict], reported: bool) -> str:
    if agents and not all(a["alive"] for a in agents):
        return "DOWN"
    return "ACTIVE" if reported else "UNKNOWN"


def add_hosts(graph: g.Graph, logical: LogicalPart, reports: Mapping[str, JsonDict]) -> dict[str, str]:
    """Host nodes for every host named by an agent, a binding or a report; returns tunnel IP -> host."""
    agents = logical.agents
    hosts = sorted(set(agents) | set(reports) | logical.bound_hosts | logical.chassis.keys())
    ips = claims.resolve_tunnel_ips(hosts, agents, reports)
    for host in hosts:
        report = reports.get(host)
        host_agents = agents.get(host, [])
        tunnel_ip = ips.by_host.get(host)
        node_id = g.host_id(host)
        graph.add_node(
            node_id,
            NodeKind.HOST,
            host,
            host=host,
            status=host_status(host_agents, report is not None),
            tunnel_ip=tunnel_ip,
            agents=host_agents,
            reported=report is not None,
            collected_at=(report or {}).get("collected_at"),
        )
        if host in logical.chassis:  # an OVN chassis (topology/join/ovn.py): only on an OVN cloud
            graph.nodes[node_id]["attrs"][OVN_ATTR] = logical.chassis[host]
            if message := behind_warning(logical.chassis[host]):
                graph.warn(node_id, message)
        section = (report or {}).get("ovn")  # what the chassis's own agent says (topology/join/chassis.py)
        if isinstance(section, dict):
            own = {**logical.chassis.get(host, {"chassis": None}), "local": local_summary(section)}
            graph.nodes[node_id]["attrs"][OVN_ATTR] = own
            sb = logical.chassis.get(host)
            for message in chassis_warnings(host, section, sb, logical.southbound_read, logical.external_physnets):
                graph.warn(node_id, message)
        if report is None:
            graph.warn(node_id, f"host {host} sends no agent report: its bridges and namespaces are unknown")
        for message in ips.warnings.get(host, ()):
            graph.warn(node_id, message)
    return ips.owner


def add_tunnels(graph: g.Graph, indexes: Mapping[str, HostIndex], tunnels: Mapping[str, str]) -> None:
    host_tunnel_ip = {host: ip for ip, host in tunnels.items()}
    for host, index in indexes.items():
        host_tunnels(graph, host, index, indexes, tunnels, host_tunnel_ip)


def host_tunnels(
    graph: g.Graph,
    host: str,
    index: HostIndex,
    indexes: Mapping[str, HostIndex],
    tunnels: Mapping[str, str],
    host_tunnel_ip: Mapping[str, str],
) -> None:
    """One host's tunnel ports to their peers' (``tunnels``: tunnel IP -> host; ``host_tunnel_ip``: its inverse)."""
    own_ip = host_tunnel_ip.get(host)
    for node_id, remote_ip in index.tunnel_ifaces:
        peer_host = tunnels.get(remote_ip)
        graph.writable(node_id)["attrs"]["remote_host"] = peer_host
        if peer_host is None:
            graph.warn(node_id, f"tunnel to {remote_ip}: no host has that tunnel IP")
            continue
        peer_index = indexes.get(peer_host)
        back = peer_index.tunnel_to.get(own_ip) if peer_index and own_ip is not None else None
        if back is not None:
            add_link(graph.edges, node_id, back, EdgeKind.TUNNEL)
        else:
            graph.add_edge(node_id, g.host_id(peer_host), EdgeKind.TUNNEL)
            graph.warn(node_id, f"{peer_host} has no tunnel port back to {host}")


def bind_namespaces(graph: g.Graph, logical: LogicalPart, indexes: Mapping[str, HostIndex]) -> None:
    """Routers to qrouter-/snat-, external networks to fip-, networks to qdhcp- and ovnmeta-, VMs to the lab's vm-."""
    routers_bound: set[str] = set()
    for index in indexes.values():
        bind_host_namespaces(graph, logical, index, routers_bound)
    if logical.ovn_backend:
        return  # ML2/OVN routes in logical flows: no qrouter- namespace is expected anywhere
    for router in logical.router_node_ids:
        if router not in routers_bound:
            graph.warn(router, "no qrouter- namespace on any reporting host")


def bind_host_namespaces(graph: g.Graph, logical: LogicalPart, index: HostIndex, routers_bound: set[str]) -> None:
    """One host's namespaces and rfp-/fpr- devices to what they belong to; adds the routers bound."""
    schedule = logical.schedule
    for name, ns_node in index.namespaces.items():
        role, ref = namespace_role(name)
        target = {
            "qrouter": g.router_id(ref or ""),
            "snat": g.router_id(ref or ""),
            "fip": g.network_id(ref or ""),
            "qdhcp": g.network_id(ref or ""),
            "ovnmeta": g.network_id(ref or ""),
        }.get(role)
        if target and target in graph.nodes:
            # a host speaks for itself only: a namespace Neutron did not schedule there is a claim
            claim = schedule.claim_problem(index.host, role, ref or "") if schedule is not None else None
            if claim is not None:
                graph.warn(ns_node, claim)
                graph.warn(g.host_id(index.host), claim)
                continue
            graph.add_edge(target, ns_node, EdgeKind.BINDS)
            routers_bound.add(target)
            if role == "qrouter":
                mark_instance(graph, ns_node, ref or "", index.host, schedule)
        elif target:
            graph.warn(ns_node, f"{name} belongs to no {target.split(':')[0]} the cloud knows")
        elif role == "vm":
            bind_vm_namespace(graph, index, name, ref or "", logical.servers_by_port_id11)
    if index.router_devices:
        bind_router_devices(graph, index, logical.routers_by_fragment)


def bind_router_devices(graph: g.Graph, index: HostIndex, routers_by_fragment: Mapping[str, str]) -> None:
    """rfp-/fpr- + router id[:10] to their router."""
    for fragment, node_ids in index.router_devices_by_fragment.items():
        router = routers_by_fragment.get(fragment)
        if router is None:
            continue
        for node_id in node_ids:
            graph.add_edge(router, node_id, EdgeKind.BINDS)
            attrs = graph.writable(node_id)["attrs"]
            label = graph.nodes[router]["label"]
            attrs["describe"] = f"{attrs['role']}- of router {label} (qrouter <-> fip namespace veth)"


def bind_vm_namespace(
    graph: g.Graph, index: HostIndex, namespace: str, vm_name: str, servers_by_port_id11: Mapping[str, str]
) -> None:
    """The lab's VMs are namespaces: join one to its instance through its veth to tap<port id[:11]>."""
    for peer in index.veth_peers.get(namespace, []):
        server = servers_by_port_id11.get(peer[len("tap") :]) if peer.startswith("tap") else None
        if server and server in graph.nodes:
            graph.add_edge(server, index.namespaces[namespace], EdgeKind.BINDS)
            if graph.nodes[server]["attrs"].get("derived_from_ports"):
                node = graph.writable(server)
                node["label"] = vm_name
                node["attrs"]["name"] = vm_name
