"""Ports <-> devices: the binder of a port to its interfaces and qbr, and the words that describe them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from topology import graph as g
from topology.join.logical import LogicalPart
from topology.join.parts import Described, HostIndex, HostPhysical, JsonDict, Nodes
from topology.kinds import (
    ID_PREFIX_LEN,
    DeviceOwner,
    EdgeKind,
)

UNBOUND_OWNERS = frozenset({DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED, DeviceOwner.HA_REPLICATED_INTERFACE})


def bind_ports(
    graph: g.Graph, logical: LogicalPart, indexes: Mapping[str, HostIndex], described: Described | None = None
) -> Described:
    """Ports to their devices in a graph joined from cached parts (it shares their node dicts);
    returns the described copies of shared nodes (for the next join to reuse).

    ``described``: those of the previous join, reused when made from the same node for the same words.
    """
    nodes, edges = graph.nodes, graph.edges
    last = described or {}
    made: Described = {}
    binds = EdgeKind.BINDS
    every_host = list(indexes.values())
    port_node_ids = logical.port_node_ids
    for position, port in enumerate(logical.ports):
        node_id = port_node_ids[position]
        if node_id is None:
            continue
        port_uuid = port["id"]
        get = port.get
        host = get("binding:host_id")
        devices_on = devices_host(port)
        if devices_on is not None:
            index = indexes.get(devices_on)
            on_hosts: Iterable[HostIndex] = () if index is None else (index,)
        else:
            on_hosts = every_host
        devices, bound = port_devices(on_hosts, port_uuid)
        for device in devices:
            edges[(node_id, device, binds)] = None
        if bound:
            what, fixed = logical.words(position)
            for iface in dict.fromkeys(bound):
                base = nodes[iface]
                hit = last.get(iface)
                if hit is not None and hit[0] is base and hit[1] == port_uuid and hit[2] == what and hit[3] == fixed:
                    nodes[iface] = hit[4]  # shared like the cached node: a later change copies it
                    made[iface] = hit
                    continue
                node = graph.writable(iface)
                describe_iface(node, port_uuid, what, fixed)
                if node is not base:  # a copy of a shared node: kept as described, copied again if changed
                    made[iface] = (base, port_uuid, what, fixed, node)
                    graph.disown(iface)
        if host and (host not in indexes or (not bound and get("status") == "ACTIVE")):
            warn_unbound_port(graph, port, bound, indexes)
    warn_unknown_iface_ids(graph, logical, indexes)
    return made


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


@dataclass
class ColdBinding:
    """Ports <-> devices in a join without a cache (see :func:`join_cold`), one host at a time.

    Each host's ports are matched right after its physical part is made, while its nodes
    are still in the CPU's cache; the ``binds`` edges are added at the end in the ports'
    order, and an interface that several ports bind is described by the last of them in
    that order, as :func:`bind_ports` does.
    """

    graph: g.Graph
    logical: LogicalPart
    on_host: dict[str, list[int]]  # host -> positions of the ports bound to it
    everywhere: list[int]  # positions of the ports whose devices may be on every host
    # per port position: its node id and the devices it binds, in order
    found: list[tuple[str, list[str]] | None]
    describer: dict[str, int] = field(default_factory=dict)  # iface node id -> position of its describer

    @classmethod
    def start(cls, graph: g.Graph, logical: LogicalPart) -> ColdBinding:
        on_host, everywhere = ports_by_host(logical.ports)
        return cls(graph, logical, on_host, everywhere, [None] * len(logical.ports))

    def match(self, position: int, on_hosts: Iterable[HostIndex], nodes: Nodes) -> list[str] | None:
        """Match the port at ``position`` to its devices on these hosts (``nodes`` holds them);
        returns the interfaces it binds, or None if the port has no node."""
        node_id = self.logical.port_node_ids[position]
        if node_id is None:
            return None
        devices, bound = port_devices(on_hosts, self.logical.ports[position]["id"])
        if devices:
            self.found[position] = (node_id, devices)
        if bound:
            describe_bound(nodes, self.logical, self.describer, position, bound)
        return bound

    def host(self, host: str, piece: HostPhysical) -> None:
        """Match the ports bound to ``host`` to the devices of its physical part."""
        ports, index = self.logical.ports, piece.index
        on_hosts = (index,)
        for position in self.on_host.get(host, ()):
            bound = self.match(position, on_hosts, piece.nodes)
            if bound == [] and ports[position].get("status") == "ACTIVE":
                warn_unbound_port(self.graph, ports[position], bound, {host: index})

    def finish(self, indexes: Mapping[str, HostIndex]) -> None:
        """The ports of hosts without a report, those on every host, and the edges."""
        graph, nodes = self.graph, self.graph.nodes
        ports, port_node_ids = self.logical.ports, self.logical.port_node_ids
        for host, positions in self.on_host.items():
            if host not in indexes:
                for position in positions:
                    if port_node_ids[position] is not None:
                        warn_unbound_port(graph, ports[position], [], indexes)
        every_host = list(indexes.values())
        for position in self.everywhere:
            bound = self.match(position, every_host, nodes)
            if bound is None:
                continue
            port = ports[position]
            bound_to = port.get("binding:host_id")
            if bound_to and (bound_to not in indexes or (not bound and port.get("status") == "ACTIVE")):
                warn_unbound_port(graph, port, bound, indexes)
        edges, binds = graph.edges, EdgeKind.BINDS
        for matched in self.found:
            if matched is not None:
                node_id, devices = matched
                for device in devices:
                    edges[(node_id, device, binds)] = None
        warn_unknown_iface_ids(graph, self.logical, indexes)


def devices_host(port: JsonDict) -> str | None:
    """The host a port's devices are on: its binding host; None when they may be on every host
    (unbound, or a distributed router's interfaces and HA replicated ones, plugged wherever needed)."""
    host = port.get("binding:host_id")
    if host and (port.get("device_owner") or "") not in UNBOUND_OWNERS:
        return host
    return None


def ports_by_host(ports: list[JsonDict]) -> tuple[dict[str, list[int]], list[int]]:
    """Positions of the ports whose devices are on each host, and of those that may be on every host."""
    on_host: dict[str, list[int]] = {}
    everywhere: list[int] = []
    for position, port in enumerate(ports):
        host = devices_host(port)
        if host is not None:
            positions = on_host.get(host)
            if positions is None:
                on_host[host] = [position]
            else:
                positions.append(position)
        else:
            everywhere.append(position)
    return on_host, everywhere


def describe_bound(
    nodes: Nodes, logical: LogicalPart, describer: dict[str, int], position: int, bound: list[str]
) -> None:
    """The port at ``position`` describes the interfaces it binds, unless a later port (in the
    snapshot's order) did already."""
    port = logical.ports[position]
    what, fixed = logical.words(position)
    for iface in dict.fromkeys(bound) if len(bound) > 1 else bound:
        before = describer.get(iface)
        if before is not None and before > position:
            continue
        describer[iface] = position
        describe_iface(nodes[iface], port["id"], what, fixed)


def warn_unbound_port(graph: g.Graph, port: JsonDict, bound: list[str], indexes: Mapping[str, HostIndex]) -> None:
    host = port.get("binding:host_id")
    if host and host not in indexes:
        graph.warn(g.port_id(port["id"]), f"bound to host {host}, which sends no agent report")
    elif host and not bound and port.get("status") == "ACTIVE":
        graph.warn(g.port_id(port["id"]), f"ACTIVE and bound to {host}, but no device of it is on that host")


def describe_iface(node: g.Node, port_uuid: str, what: str, fixed: str) -> None:
    """Say what an interface is in Neutron's terms, e.g. "qr interface of router router1, 10.0.0.1/24"."""
    attrs = node["attrs"]
    get = attrs.get
    text = (get("role") or "device") + " " + what
    tag = get("tag")
    if tag is not None:
        text += f", VLAN tag {tag}"
    # A device inside a namespace carries the port's address; one on a bridge only a link-local one.
    own = get("addresses")
    addresses = (", ".join(a for a in own if not a.startswith("fe80:")) if own else "") or fixed
    if addresses:
        text += ", " + addresses
    attrs["port_id"] = port_uuid
    attrs["describe"] = text
