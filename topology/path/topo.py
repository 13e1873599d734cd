"""The graph indexed for walks (``Topo``) and the logical lookups a walk makes in it."""

from __future__ import annotations

import copy
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from topology import graph as g
from topology.kinds import DeviceOwner, EdgeKind, NodeKind
from topology.path.model import JsonDict

# The ports whose addresses a router answers for itself (qr-, qg-, DVR's sg-).
ROUTER_ADDRESS_OWNERS = DeviceOwner.ROUTER_INTERFACES | {DeviceOwner.ROUTER_GATEWAY, DeviceOwner.ROUTER_SNAT}


class Topo:
    """The graph with the lookups a walk needs.

    Building it costs a pass over the whole graph; callers that explain many paths
    on one revision build it once and give each explanation its reports with
    :meth:`with_reports` (reports change more often than the graph: counters).
    """

    def __init__(self, graph: Mapping[str, list[Any]], reports: Mapping[str, JsonDict]) -> None:
        self.nodes: dict[str, JsonDict] = {n["id"]: n for n in graph.get("nodes", [])}
        # Flat (node, edge kind) keys: a nested defaultdict per node cost most of the build.
        self.out: dict[tuple[str, str], list[str]] = {}
        self.inn: dict[tuple[str, str], list[str]] = {}
        out, inn = self.out, self.inn
        for edge in graph.get("edges", []):
            source, target, kind = edge["source"], edge["target"], edge["kind"]
            key = (source, kind)
            if key in out:
                out[key].append(target)
            else:
                out[key] = [target]
            key = (target, kind)
            if key in inn:
                inn[key].append(source)
            else:
                inn[key] = [source]
        self.reports = reports
        self.fips_by_address: dict[str, str] = {}
        self.ports_by_ip: dict[str, list[str]] = defaultdict(list)
        self.external_subnets: list[tuple[Any, str]] = []
        # Addresses the cloud itself holds: a router's (its interfaces and its gateway) and DHCP ports'.
        self.routers_by_ip: dict[str, list[str]] = defaultdict(list)
        self.dhcp_by_ip: dict[str, list[str]] = defaultdict(list)
        self.fip_gateways_by_ip: dict[str, list[str]] = defaultdict(list)  # DVR hosts' fg- ports
        self.wires: list[str] = []  # veths whose peer is in a namespace their host does not name
        for node in self.nodes.values():
            self.index_node(node)

    def index_node(self, node: JsonDict) -> None:
        attrs = node["attrs"]
        if node["kind"] == NodeKind.FLOATINGIP and attrs.get("floating_ip_address"):
            self.fips_by_address[attrs["floating_ip_address"]] = node["id"]
        elif node["kind"] == NodeKind.PORT and not attrs.get("device_owner", "").startswith("network:"):
            for ip in port_ips(node):
                self.ports_by_ip[ip].append(node["id"])
        elif node["kind"] == NodeKind.PORT and attrs.get("device_owner") in ROUTER_ADDRESS_OWNERS:
            for ip in port_ips(node):
                self.held_by_router(ip, g.router_id(str(attrs.get("device_id"))))
        elif node["kind"] == NodeKind.PORT and attrs.get("device_owner") == DeviceOwner.DHCP:
            for ip in port_ips(node):
                self.dhcp_by_ip[ip].append(node["id"])
        elif node["kind"] == NodeKind.PORT and attrs.get("device_owner") == DeviceOwner.FIP_AGENT_GATEWAY:
            for ip in port_ips(node):
                self.fip_gateways_by_ip[ip].append(node["id"])
        elif node["kind"] == NodeKind.ROUTER:
            # The gateway port is nobody's project (Neutron leaves it without one): its address is the router's.
            for ip in attrs.get("external_fixed_ips") or []:
                self.held_by_router(str(ip.get("ip_address") or ""), node["id"])
        elif node["kind"] == NodeKind.IFACE and attrs.get("peer_ifindex") is not None:
            self.wires.append(node["id"])
        elif node["kind"] == NodeKind.SUBNET and attrs.get("cidr"):
            network = self.nodes.get(g.network_id(str(attrs.get("network_id"))))
            if network is not None and network["attrs"].get("external"):
                self.external_subnets.append((ipaddress.ip_network(attrs["cidr"]), network["id"]))

    def held_by_router(self, address: str, router: str) -> None:
        if address and router not in self.routers_by_ip[address]:
            self.routers_by_ip[address].append(router)

    def with_reports(self, reports: Mapping[str, JsonDict]) -> Topo:
        """The same indexes with other reports (a shallow copy)."""
        clone = copy.copy(self)
        clone.reports = reports
        return clone

    def node(self, node_id: str) -> JsonDict:
        return self.nodes[node_id]

    def attrs(self, node_id: str) -> JsonDict:
        return dict(self.nodes.get(node_id, {}).get("attrs", {}))

    def targets(self, node_id: str, kind: str) -> list[str]:
        return [t for t in self.out.get((node_id, kind), []) if t in self.nodes]

    def sources(self, node_id: str, kind: str) -> list[str]:
        return [s for s in self.inn.get((node_id, kind), []) if s in self.nodes]

    def linked(self, node_id: str, kind: str) -> list[str]:
        return self.targets(node_id, kind) + self.sources(node_id, kind)

    def parent(self, node_id: str) -> str | None:
        parents = self.sources(node_id, EdgeKind.MEMBER)
        return parents[0] if parents else None

    def ports(self) -> Iterable[JsonDict]:
        return (n for n in self.nodes.values() if n["kind"] == NodeKind.PORT)

    def agents(self, host: str) -> list[JsonDict]:
        return list(self.attrs(g.host_id(host)).get("agents", []))

    def iptables(self, host: str, namespace: str, table: str = "nat") -> str:
        for ns in (self.reports.get(host) or {}).get("namespaces") or []:
            if ns.get("name") == namespace:
                return str((ns.get("iptables") or {}).get(table) or "")
        return ""

    def flows(self, host: str, bridge: str) -> list[str]:
        return list((((self.reports.get(host) or {}).get("ovs") or {}).get("flows") or {}).get(bridge, []))


# --------------------------------------------------------------------------- logical lookups


def port_ips(port: JsonDict) -> list[str]:
    return [ip["ip_address"] for ip in port["attrs"].get("fixed_ips", [])]


def port_ips_of(topo: Topo, port: str | None) -> list[str]:
    return port_ips(topo.nodes[port]) if port in topo.nodes else []


def vm_ip(topo: Topo, port: str) -> str:
    return (port_ips(topo.node(port)) or ["?"])[0]


def subnets_of(topo: Topo, port: str) -> list[str]:
    return topo.targets(port, EdgeKind.IN_SUBNET)


def network_of(topo: Topo, port: str) -> str:
    return g.network_id(str(topo.attrs(port).get("network_id")))


def routers_of_subnet(topo: Topo, subnet: str) -> list[str]:
    """Routers with an interface (legacy, DVR or HA replicated) on ``subnet``."""
    routers = []
    for port in topo.sources(subnet, EdgeKind.IN_SUBNET):
        if topo.attrs(port).get("device_owner") in DeviceOwner.ROUTER_INTERFACES:
            routers += topo.sources(port, EdgeKind.ROUTER_INTERFACE)
    return sorted(set(routers))


def router_port_on(topo: Topo, router: str, subnet: str) -> str | None:
    for port in topo.targets(router, EdgeKind.ROUTER_INTERFACE):
        if subnet in subnets_of(topo, port):
            return port
    return None


def snat_port_on(topo: Topo, router: str, subnet: str | None) -> str | None:
    """A DVR router's sg- port on ``subnet`` (one per subnet: an IPv6 subnet has its own)."""
    found = [p for p in router_ports(topo, router, DeviceOwner.ROUTER_SNAT) if subnet in subnets_of(topo, p)]
    return found[0] if found else None


def router_ports(topo: Topo, router: str, owner: str) -> list[str]:
    kinds = (EdgeKind.MEMBER, EdgeKind.ROUTER_INTERFACE)
    return [p for k in kinds for p in topo.targets(router, k) if topo.attrs(p).get("device_owner") == owner]


def router_label(topo: Topo, router: str) -> str:
    return str(topo.nodes[router]["label"])


def fip_of_port(topo: Topo, port: str) -> str | None:
    fips = topo.sources(port, EdgeKind.NAT)
    return fips[0] if fips else None


def fip_network(topo: Topo, fip: str) -> str:
    """The external network a floating IP is on."""
    return g.network_id(str(topo.attrs(fip).get("floating_network_id")))


def namespaces_of(topo: Topo, logical: str, prefix: str) -> list[str]:
    return [n for n in topo.targets(logical, EdgeKind.BINDS) if g.netns_name(n).startswith(prefix)]


def namespace_on(topo: Topo, logical: str, prefix: str, host: str | None) -> str | None:
    """The ``prefix`` namespace bound to ``logical`` on ``host``."""
    return next((n for n in namespaces_of(topo, logical, prefix) if topo.nodes[n].get("host") == host), None)


def devices_of(topo: Topo, port: str, host: str | None = None) -> dict[str, str]:
    """The port's devices on ``host`` by role (tap, qvo, qr, ...; "tap" prefers the root-namespace one)."""
    found: dict[str, str] = {}
    for node_id in topo.targets(port, EdgeKind.BINDS):
        node = topo.nodes[node_id]
        if host is not None and node.get("host") != host:
            continue
        role = node["attrs"].get("role") or node["attrs"].get("type") or "device"
        if node["kind"] == NodeKind.BRIDGE:
            role = "qbr"
        found.setdefault(role, node_id)
    return found


def reachable_from(topo: Topo, src_port: str, dst_port: str) -> bool:
    src_net, dst_net = topo.attrs(src_port).get("network_id"), topo.attrs(dst_port).get("network_id")
    if src_net == dst_net:
        return True
    routers = {r for s in subnets_of(topo, src_port) for r in routers_of_subnet(topo, s)}
    return any(r in routers for s in subnets_of(topo, dst_port) for r in routers_of_subnet(topo, s))


def route_router(topo: Topo, source_port: str, target_port: str) -> str | None:
    """A router with interfaces on both ports' subnets (what routes between them), if any."""
    src_routers = {r for s in subnets_of(topo, source_port) for r in routers_of_subnet(topo, s)}
    for subnet in subnets_of(topo, target_port):
        for router in routers_of_subnet(topo, subnet):
            if router in src_routers:
                return router
    return None


def is_distributed(topo: Topo, router: str) -> bool:
    return bool(topo.attrs(router).get("distributed"))
