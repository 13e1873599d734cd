"""Ports <-> devices: the binder of a port to its interfaces and qbr, and the words that describe them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from topology import graph as g
from topology.join.logical import LogicalPart
from topology.join.parts import Described, HostIndex, JsonDict
from topology.kinds import (
    ID_PREFIX_LEN,
    EdgeKind,
)


@dataclass
class PortBinder:
    """Ports <-> devices, the one binder of both joins: cold (:func:`join_cold`) and from cached parts.

    Ports are matched host by host (:meth:`host`): a cold join matches a host's ports right
    after making its physical part, while its nodes are still in the CPU's cache (8-11% less
    time, docs/benchmarks.md "Third pass"). The ``binds`` edges are added at the end
    (:meth:`finish`) in the ports' order, and an interface that several ports bind is
    described by the last of them in that order. In a graph that shares cached parts' nodes,
    a described node is a copy; the copies are kept (:attr:`described`) for the next join to
    reuse when made from the same node for the same words.
    """

    graph: g.Graph
    logical: LogicalPart
    last: Described  # the previous join's described copies
    on_host: dict[str, list[int]]  # host -> positions of the ports whose devices are on it
    everywhere: list[int]  # positions of the ports whose devices may be on every host
    # per port position: its node id and the devices it binds, in order
    found: list[tuple[str, list[str]] | None]
    describer: dict[str, int] = field(default_factory=dict)  # iface node id -> position of its describer
    described: Described = field(default_factory=dict)  # this join's described copies of shared nodes

    @classmethod
    def start(cls, graph: g.Graph, logical: LogicalPart, last: Described | None = None) -> PortBinder:
        on_host, everywhere = logical.ports_on_host, logical.ports_everywhere
        return cls(graph, logical, last or {}, on_host, everywhere, [None] * len(logical.ports))

    def host(self, host: str, index: HostIndex) -> None:
        """Match the ports bound to ``host`` to the devices of its physical part (in the graph)."""
        for position in self.on_host.get(host, ()):
            bound = self.match(position, (index,))
            port = self.logical.ports[position]
            if bound == [] and port.get("status") == "ACTIVE":
                warn_unbound_port(self.graph, port, bound, {host: index}, self.logical.ovn_backend)

    def finish(self, indexes: Mapping[str, HostIndex]) -> Described:
        """The ports of hosts without a report, those on every host, and the edges; returns
        the described copies of shared nodes."""
        ports, port_node_ids = self.logical.ports, self.logical.port_node_ids
        for host, positions in self.on_host.items():
            if host not in indexes:
                for position in positions:
                    if port_node_ids[position] is not None:
                        warn_unbound_port(self.graph, ports[position], [], indexes, self.logical.ovn_backend)
        every_host = list(indexes.values())
        for position in self.everywhere:
            bound = self.match(position, every_host)
            if bound is None:
                continue
            port = ports[position]
            bound_to = port.get("binding:host_id")
            if bound_to and (bound_to not in indexes or (not bound and port.get("status") == "ACTIVE")):
                warn_unbound_port(self.graph, port, bound, indexes, self.logical.ovn_backend)
        for matched in self.found:
            if matched is not None:
                node_id, devices = matched
                for device in devices:
                    self.graph.add_edge(node_id, device, EdgeKind.BINDS)
        warn_unknown_iface_ids(self.graph, self.logical, indexes)
        return self.described

    def match(self, position: int, on_hosts: Iterable[HostIndex]) -> list[str] | None:
        """Match the port at ``position`` to its devices on these hosts; returns the interfaces
        it binds, or None if the port has no node."""
        node_id = self.logical.port_node_ids[position]
        if node_id is None:
            return None
        devices, bound = port_devices(on_hosts, self.logical.ports[position]["id"])
        if devices:
            self.found[position] = (node_id, devices)
        if bound:
            self.describe(position, bound)
        return bound

    def describe(self, position: int, bound: list[str]) -> None:
        """The port at ``position`` describes the interfaces it binds, unless a later port (in the
        snapshot's order) did already."""
        port_uuid = self.logical.ports[position]["id"]
        what, fixed = self.logical.words(position)
        for iface in dict.fromkeys(bound):
            before = self.describer.get(iface)
            if before is not None and before > position:
                continue
            self.describer[iface] = position
            self.describe_node(iface, port_uuid, what, fixed)

    def describe_node(self, iface: str, port_uuid: str, what: str, fixed: str) -> None:
        """Describe one interface node, as a copy if it is shared (the previous join's copy when
        made from the same node for the same words)."""
        graph = self.graph
        base = graph.nodes[iface]
        hit = self.last.get(iface)
        if hit is not None and hit[0] is base and hit[1:4] == (port_uuid, what, fixed):
            graph.nodes[iface] = hit[4]  # shared like the cached node: a later change copies it
            self.described[iface] = hit
            return
        node = graph.writable(iface)
        describe_iface(node, port_uuid, what, fixed)
        if node is not base:  # a copy of a shared node: kept as described, copied again if changed
            self.described[iface] = (base, port_uuid, what, fixed, node)
            graph.disown(iface)


ROUTER_OWNER_PREFIX = "network:router"  # router_interface, router_gateway, router_centralized_snat


def port_devices(on_hosts: Iterable[HostIndex], port_uuid: str) -> tuple[list[str], list[str]]:
    """The device nodes a port binds on these hosts, in order (its interfaces, then its qbr, per host),
    and its interfaces alone (the ones its words describe)."""
    id11 = port_uuid[:ID_PREFIX_LEN]
    qbr_name = "qbr" + id11
    devices: list[str] = []
    bound: list[str] = []
    for index in on_hosts:
        named = index.by_id11.get(id11)
        if named:
            devices += named
            bound += named
        plugged = index.by_iface_id.get(port_uuid)
        if plugged:
            if index.router_devices:  # rfp-/fpr- carry a router id, not a port id
                plugged = [iface for iface in plugged if iface not in index.router_devices]
            devices += plugged
            bound += plugged
        qbr = index.linux_bridges.get(qbr_name)
        if qbr:
            devices.append(qbr)
    return devices, bound


def warn_unknown_iface_ids(graph: g.Graph, logical: LogicalPart, indexes: Mapping[str, HostIndex]) -> None:
    port_uuids = logical.port_uuids
    for index in indexes.values():
        for iface_id_value, node_ids in index.by_iface_id.items():
            if iface_id_value not in port_uuids:
                for node_id in node_ids:
                    graph.warn(node_id, f"external_ids:iface-id {iface_id_value} matches no Neutron port")


def warn_unbound_port(
    graph: g.Graph, port: JsonDict, bound: list[str], indexes: Mapping[str, HostIndex], ovn: bool = False
) -> None:
    """``ovn``: an ML2/OVN cloud, whose router ports are logical (a gateway port is bound to the chassis that
    holds its cr-lrp, with no device there): only the other ports are expected to have one."""
    host = port.get("binding:host_id")
    if host and host not in indexes:
        graph.warn(g.port_id(port["id"]), f"bound to host {host}, which sends no agent report")
    elif ovn and str(port.get("device_owner") or "").startswith(ROUTER_OWNER_PREFIX):
        return
    elif host and not bound and port.get("status") == "ACTIVE":
        graph.warn(g.port_id(port["id"]), f"ACTIVE and bound to {host}, but no device of it is on that host")


def describe_iface(node: g.Node, port_uuid: str, what: str, fixed: str) -> None:
    """Say what an interface is in Neutron's terms, e.g. "qr interface of router router1, 10.0.0.1/24"."""
    attrs = node["attrs"]
    text = (attrs.get("role") or "device") + " " + what
    tag = attrs.get("tag")
    if tag is not None:
        text += f", VLAN tag {tag}"
    # A device inside a namespace carries the port's address; one on a bridge only a link-local one.
    own = attrs.get("addresses")
    addresses = (", ".join(a for a in own if not a.startswith("fe80:")) if own else "") or fixed
    if addresses:
        text += ", " + addresses
    attrs["port_id"] = port_uuid
    attrs["describe"] = text
