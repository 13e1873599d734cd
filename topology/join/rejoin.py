"""The cross joins again for the hosts whose report changed, when what the cross joins read of it did not.

A join from cached parts (:func:`topology.join.entry.join_parts`) re-does every cross
join over the whole cloud. When a host's new report changes only what stays on its
own nodes (an interface's state, a marker device, counters) and none of what the
cross joins read of it (:func:`cross_signature`: its index, the names, addresses and
routes the drift checks read, its tunnel IP and its qrouter- NAT rules), every
decision of the cross joins is the same as in the last join: the same edges, the
same warnings on the logical part's and the other hosts' nodes. Only that host's
own nodes are made again, by the same cross joins run for it alone
(:func:`rejoin_hosts`) in the same order: the result equals the whole join's.

:class:`CrossState` is what the last whole join made of the cloud that such a
re-join reads (kept in the JoinCache).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from topology import graph as g
from topology.drift import DnatRules, fip_drift, gateway_port_drift, leftover_devices
from topology.join.binding import PortBinder
from topology.join.cross import bind_host_namespaces, host_tunnels
from topology.join.logical import LogicalPart
from topology.join.parts import Described, HostIndex, HostPhysical, JsonDict
from topology.kinds import ID_PREFIX_LEN, DeviceOwner, NamespacePrefix, NodeKind


@dataclass
class CrossState:
    """What the last whole join read of the cloud, for the re-join of a few hosts."""

    logical: LogicalPart
    hosts: frozenset[str]  # the hosts whose part joined (no quarantine)
    tunnels: dict[str, str]  # tunnel IP -> host
    rules: DnatRules
    host_tunnel_ip: dict[str, str] = field(init=False)
    port_id11s: set[str] = field(init=False)
    gateway_ports: list[JsonDict] = field(init=False)
    fips: list[g.Node] = field(init=False)

    def __post_init__(self) -> None:
        logical = self.logical
        self.host_tunnel_ip = {host: ip for ip, host in self.tunnels.items()}
        self.port_id11s = {uuid[:ID_PREFIX_LEN] for uuid in logical.port_uuids}
        self.gateway_ports = [p for p in logical.ports if (p.get("device_owner") or "") == DeviceOwner.ROUTER_GATEWAY]
        self.fips = [n for n in logical.nodes.values() if n["kind"] == NodeKind.FLOATINGIP]


def cross_signature(piece: HostPhysical, report: JsonDict) -> tuple[Any, ...]:
    """What the cross joins and the drift checks read of a host's part and report (equal: same decisions)."""
    index, nodes = piece.index, piece.nodes
    namespaces = [
        (ns, nodes[ns]["attrs"].get("routes"), nodes[ns]["attrs"].get("has_iptables"))
        for ns in index.namespaces.values()
        if ns in nodes
    ]
    devices = [
        (node_id, node["label"], node["attrs"].get("name"), node["attrs"].get("addresses"))
        for node_ids in index.by_id11.values()
        for node_id in node_ids
        if (node := nodes.get(node_id)) is not None
    ]
    nat = [
        (ns.get("name"), (ns.get("iptables") or {}).get("nat") or "")
        for ns in report.get("namespaces") or []
        if str(ns.get("name") or "").startswith(NamespacePrefix.QROUTER)
    ]
    return (
        dict(index.by_id11),
        dict(index.router_devices_by_fragment),
        dict(index.by_iface_id),
        index.namespaces,
        index.linux_bridges,
        index.tunnel_ifaces,
        index.tunnel_to,
        dict(index.veth_peers),
        index.router_devices,
        {name for name in index.by_name if name.startswith("tap")},
        namespaces,
        devices,
        report.get("tunnel_ip"),
        nat,
    )


class Overlay(dict[str, g.Node]):
    """Nodes written here over a graph's nodes read through (the graph itself is never changed)."""

    def __init__(self, base: Mapping[str, g.Node]) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: str) -> g.Node:
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.base

    def get(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.base.get(key, default)


@dataclass
class Rejoined:
    """The nodes of each re-joined host's part as the cross joins leave them, and the binder's copies."""

    nodes: dict[str, dict[str, g.Node]]
    described: Described


def rejoin_hosts(
    joined: Mapping[str, g.Node],
    state: CrossState,
    indexes: Mapping[str, HostIndex],
    pieces: Mapping[str, HostPhysical],
    described: Described,
) -> Rejoined:
    """The cross joins of ``join_parts`` for ``pieces``' hosts alone, over the last joined graph's nodes
    (``joined``, read only); ``indexes``: every host's index, these hosts' new ones included."""
    overlay = Overlay(joined)
    for piece in pieces.values():
        overlay.update(piece.nodes)
    graph = g.Graph(nodes=overlay, edges={}, owned=set())
    logical, mine = state.logical, {host: indexes[host] for host in pieces}
    for host, index in mine.items():
        host_tunnels(graph, host, index, indexes, state.tunnels, state.host_tunnel_ip)
    binder = PortBinder.start(graph, logical, described)
    for host, index in mine.items():
        binder.host(host, index)
    for position in binder.everywhere:
        binder.match(position, list(mine.values()))
    port_uuids = logical.port_uuids
    for index in mine.values():
        for iface_id_value, node_ids in index.by_iface_id.items():
            if iface_id_value not in port_uuids:
                for node_id in node_ids:
                    graph.warn(node_id, f"external_ids:iface-id {iface_id_value} matches no Neutron port")
    routers_bound: set[str] = set()
    for index in mine.values():
        bind_host_namespaces(graph, logical, index, routers_bound)
    for port in state.gateway_ports:
        gateway_port_drift(graph, port, indexes)
    fip_drift(graph, state.fips, mine, {}, state.rules)
    leftover_devices(graph, state.port_id11s, mine)
    own = dict.__getitem__
    nodes = {host: {node_id: own(overlay, node_id) for node_id in piece.nodes} for host, piece in pieces.items()}
    return Rejoined(nodes, binder.described)
