"""Drift between Neutron and the nodes (pure): where what Neutron says and what a node holds disagree.

Neutron can be left half-updated (Neutron 29's If-Match update of a router's gateway commits
``gw_port = None`` and then fails to delete the port: issue 23), and a node can keep or lose
state behind Neutron's back (an L3 agent that did not apply a change, a device left over after
its port's deletion). Each drift found here becomes a warning on the graph's nodes that names
both sides and the fix, and its kind is listed in the node's ``attrs.drift`` for clients to key on.

Warnings on logical nodes (routers, floating IPs) never name a host: tenants see those nodes,
and where a router runs is the admins' business; the physical nodes' warnings do.

:func:`mark_drift` runs at the end of the join (it reads only the joined graph, the cloud's ports
and the hosts' indexes and reports, so its cost follows the routers, floating IPs and ports, not
the devices); :func:`orphan_gateway` is what the explainer asks to follow the packets of a router
whose gateway Neutron forgot but whose node still routes out of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from topology import graph as g
from topology.kinds import ID_PREFIX_LEN, DeviceOwner, EdgeKind, NamespacePrefix, NodeKind

if TYPE_CHECKING:
    from topology.join import HostIndex, LogicalPart
    from topology.path import Topo

JsonDict = dict[str, Any]
# floating IP address -> (host, qrouter namespace, DNAT target) of each DNAT rule the nodes hold
DnatRules = dict[str, list[tuple[str, str, str]]]
DEFAULT_ROUTES: Final = frozenset({"default", "0.0.0.0/0"})
MAIN_TABLES: Final = frozenset({None, 254, "254", "main"})
# "-A neutron-l3-agent-PREROUTING -d 192.168.1.10/32 -j DNAT --to-destination 10.0.0.5": the rule that
# forwards packets from outside (the OUTPUT chain's twin only serves the router's own packets)
_DNAT = re.compile(r"-A \S*PREROUTING -d (\S+?)/32 .*-j DNAT --to-destination (\S+)")


class DriftKind:
    """Drift kinds: stable strings in a node's ``attrs.drift``."""

    GATEWAY_PORT_ORPHANED: Final = "gateway_port_orphaned"
    FIP_NAT_WITHOUT_ASSOCIATION: Final = "fip_nat_without_association"
    FIP_NAT_MISSING: Final = "fip_nat_missing"
    PORT_DEVICE_MISSING: Final = "port_device_missing"
    DEVICE_WITHOUT_PORT: Final = "device_without_port"


def orphan_fix(port_uuid: str) -> str:
    return f"remove the orphan gateway port {port_uuid} (admin repair on the Routers page) or set the gateway again"


def warn(graph: g.Graph, node_id: str, kind: str, message: str) -> None:
    if node_id not in graph.nodes:
        return
    graph.warn(node_id, message)
    drift = graph.nodes[node_id]["attrs"].get("drift")
    if drift is None or kind not in drift:
        attrs = graph.writable(node_id)["attrs"]
        attrs["drift"] = [*(attrs.get("drift") or []), kind]


def mark_drift(
    graph: g.Graph,
    logical: LogicalPart,
    indexes: Mapping[str, HostIndex],
    reports: Mapping[str, JsonDict],
    rules: DnatRules | None = None,
) -> None:
    """Warn on every node where Neutron and the nodes disagree (see the module's docstring).

    ``rules``: :func:`dnat_rules` of ``reports``, if the caller made them already."""
    port_id11s: set[str] = set()
    for port in logical.ports:
        port_id11s.add(port["id"][:ID_PREFIX_LEN])
        owner = port.get("device_owner") or ""
        if owner == DeviceOwner.ROUTER_GATEWAY:
            gateway_port_drift(graph, port, indexes)
        elif owner.startswith(DeviceOwner.COMPUTE_PREFIX) and port.get("status") == "ACTIVE":
            vm_device_drift(graph, port, indexes)
    fip_drift(graph, logical.nodes.values(), indexes, reports, rules)
    leftover_devices(graph, port_id11s, indexes)


# --------------------------------------------------------------------------- orphan gateway port


def ips_of(port: JsonDict) -> str:
    return ", ".join(str(f.get("ip_address")) for f in port.get("fixed_ips") or []) or "no address"


def qg_device(graph: g.Graph, port: JsonDict, indexes: Mapping[str, HostIndex]) -> str | None:
    """The iface node of the gateway port's qg- device (on its binding host first, else any host)."""
    name = "qg-" + port["id"][:ID_PREFIX_LEN]
    host = str(port.get("binding:host_id") or "")
    ordered = [indexes[host]] if host in indexes else []
    ordered += [index for h, index in sorted(indexes.items()) if h != host]
    for index in ordered:
        for node_id in index.by_id11.get(port["id"][:ID_PREFIX_LEN], []):
            if graph.nodes[node_id]["attrs"].get("name", graph.nodes[node_id]["label"]) == name:
                return node_id
    return None


def default_route_dev(routes: Iterable[JsonDict], dev: str) -> JsonDict | None:
    for route in routes:
        if str(route.get("dst")) in DEFAULT_ROUTES and route.get("dev") == dev and route.get("table") in MAIN_TABLES:
            return route
    return None


def gateway_port_drift(graph: g.Graph, port: JsonDict, indexes: Mapping[str, HostIndex]) -> None:
    router_id = g.router_id(port.get("device_id") or "")
    router = graph.nodes.get(router_id)
    if router is None or router["attrs"].get("gateway_network_id"):
        return
    uuid, label = port["id"], router["label"]
    fix = orphan_fix(uuid)
    neutron = (
        f"Neutron says router {label} has no external gateway, but its gateway port {uuid} "
        f"({ips_of(port)}, {port.get('status')}) still exists"
    )
    device = qg_device(graph, port, indexes)
    if device is None:
        warn(
            graph,
            router_id,
            DriftKind.GATEWAY_PORT_ORPHANED,
            f"drift: {neutron}; no node holds its qg- device. Fix: {fix}",
        )
    else:
        node = graph.nodes[device]
        _, host, namespace, name = device.split(":", 3)
        addresses = [a for a in node["attrs"].get("addresses") or [] if not a.startswith("fe80:")]
        routes = graph.nodes.get(g.netns_id(host, namespace), {}).get("attrs", {}).get("routes") or []
        route = default_route_dev(routes, name)
        held = f"{name} still holds {', '.join(addresses) or 'no address'}"
        out = (
            " and the default route goes out of it: packets still leave by it"
            if route and addresses
            else ": nothing routes out of it"
        )
        warn(
            graph,
            router_id,
            DriftKind.GATEWAY_PORT_ORPHANED,
            f"drift: {neutron}; on the node its {held} in {namespace}{out}. Fix: {fix}",
        )
        warn(
            graph,
            device,
            DriftKind.GATEWAY_PORT_ORPHANED,
            f"drift: {held} in {namespace} on {host}{out}, but Neutron says router {label} has no external "
            f"gateway (its gateway port {uuid} is orphaned). Fix: {fix}",
        )
    warn(
        graph,
        g.port_id(uuid),
        DriftKind.GATEWAY_PORT_ORPHANED,
        f"drift: gateway port of router {label}, which Neutron says has no external gateway: orphaned. Fix: {fix}",
    )


@dataclass(frozen=True)
class OrphanGateway:
    """A gateway port Neutron no longer counts as its router's gateway, and the qg- the node still routes by."""

    port: str  # port node id
    network: str  # network node id (the port's external network)
    device: str  # the qg- iface node id
    namespace: str  # its namespace's node id


def orphan_gateway(topo: Topo, router: str) -> OrphanGateway | None:
    """The orphan gateway port of a router Neutron says has no gateway, when the data plane still uses it:
    its qg- device holds an address and the namespace's default route goes out of it. Else None (the
    packet is dropped there, and the walk says the router has no gateway)."""
    if topo.attrs(router).get("gateway_network_id"):
        return None
    for port in topo.targets(router, EdgeKind.MEMBER):
        attrs = topo.attrs(port)
        if attrs.get("device_owner") != DeviceOwner.ROUTER_GATEWAY:
            continue
        for device in topo.targets(port, EdgeKind.BINDS):
            node = topo.nodes[device]
            name = str(node["attrs"].get("name", node["label"]))
            namespace = topo.parent(device)
            if node["kind"] != NodeKind.IFACE or not name.startswith("qg-") or namespace is None:
                continue
            addresses = [a for a in node["attrs"].get("addresses") or [] if not a.startswith("fe80:")]
            if addresses and default_route_dev(topo.attrs(namespace).get("routes") or [], name):
                return OrphanGateway(port, f"network:{attrs.get('network_id')}", device, namespace)
    return None


# --------------------------------------------------------------------------- floating IPs' NAT rules


def dnat_rules(reports: Mapping[str, JsonDict]) -> DnatRules:
    """Floating IP address -> (host, qrouter namespace, DNAT target) of each DNAT rule the nodes hold."""
    found: DnatRules = {}
    for host, report in reports.items():
        for namespace in report.get("namespaces") or []:
            name = str(namespace.get("name") or "")
            if not name.startswith(NamespacePrefix.QROUTER):
                continue
            for line in str((namespace.get("iptables") or {}).get("nat") or "").splitlines():
                if "-j DNAT" in line:
                    match = _DNAT.search(line)
                    if match:
                        found.setdefault(match.group(1), []).append((host, name, match.group(2)))
    return found


def fip_drift(
    graph: g.Graph,
    logical_nodes: Iterable[g.Node],
    indexes: Mapping[str, HostIndex],
    reports: Mapping[str, JsonDict],
    rules: DnatRules | None = None,
) -> None:
    fips = [n for n in logical_nodes if n["kind"] == NodeKind.FLOATINGIP]
    if not fips:
        return
    if rules is None:
        rules = dnat_rules(reports)
    for fip in fips:
        attrs = fip["attrs"]
        address = attrs.get("floating_ip_address")
        held = rules.get(address or "", [])
        associated = bool(attrs.get("port_id"))
        if held and (not associated or fip.get("status") == "DOWN"):
            said = "not associated with any port" if not associated else "DOWN"
            host, namespace, target = held[0]
            again = "" if associated else ", or associate the floating IP again if it should be"
            fix = (
                "the L3 agent there has not applied Neutron's change: restart it (it rewrites the router's "
                "rules from Neutron)" + again
            )
            warn(
                graph,
                fip["id"],
                DriftKind.FIP_NAT_WITHOUT_ASSOCIATION,
                f"drift: Neutron says floating IP {address} is {said}, but a router's namespace still DNATs it "
                f"to {target}: packets to {address} still reach it. Fix: {fix}",
            )
            warn(
                graph,
                g.netns_id(host, namespace),
                DriftKind.FIP_NAT_WITHOUT_ASSOCIATION,
                f"drift: DNAT {address} -> {target} still here on {host}, but Neutron says floating IP {address} "
                f"is {said}. Fix: {fix}",
            )
        elif associated and fip.get("status") == "ACTIVE" and attrs.get("router_id") and not held:
            missing_dnat(graph, fip, indexes)


def missing_dnat(graph: g.Graph, fip: g.Node, indexes: Mapping[str, HostIndex]) -> None:
    """An ACTIVE, associated floating IP whose router's namespace is reported without its DNAT rule."""
    attrs = fip["attrs"]
    router = graph.nodes.get(g.router_id(attrs["router_id"]))
    port = graph.nodes.get(g.port_id(attrs["port_id"]))
    if router is None:
        return
    # Legacy: the qrouter wherever it is; DVR: the qrouter on the host of the floating IP's port.
    hosts = [port.get("host")] if router["attrs"].get("distributed") and port is not None else sorted(indexes)
    name = NamespacePrefix.QROUTER + attrs["router_id"]
    address, fixed = attrs.get("floating_ip_address"), attrs.get("fixed_ip_address")
    for host in hosts:
        index = indexes.get(str(host))
        namespace = index.namespaces.get(name) if index is not None else None
        if namespace is None or not graph.nodes[namespace]["attrs"].get("has_iptables"):
            continue
        fix = (
            "restart the L3 agent there (it rewrites the floating IP's rules from Neutron), "
            "or disassociate and associate the floating IP again"
        )
        warn(
            graph,
            fip["id"],
            DriftKind.FIP_NAT_MISSING,
            f"drift: Neutron says floating IP {address} is ACTIVE on {fixed}, but router {router['label']}'s "
            f"namespace has no DNAT rule for it: packets to {address} are not forwarded. Fix: {fix}",
        )
        warn(
            graph,
            namespace,
            DriftKind.FIP_NAT_MISSING,
            f"drift: no DNAT rule for floating IP {address} -> {fixed} here on {host}, though Neutron says it is "
            f"ACTIVE. Fix: {fix}",
        )


# --------------------------------------------------------------------------- VM ports and their devices


def vm_device_drift(graph: g.Graph, port: JsonDict, indexes: Mapping[str, HostIndex]) -> None:
    """An ACTIVE VM port with some devices on its binding host but not its tap (the join's own warning
    covers a port with no device at all)."""
    host = port.get("binding:host_id")
    index = indexes.get(host or "")
    if index is None:
        return
    id11 = port["id"][:ID_PREFIX_LEN]
    devices = index.by_id11.get(id11) or []
    if not devices or "tap" + id11 in index.by_name:
        return
    warn(
        graph,
        g.port_id(port["id"]),
        DriftKind.PORT_DEVICE_MISSING,
        f"drift: Neutron says this port is ACTIVE on {host}, but tap{id11} is not on {host}: the instance is "
        "unplugged. Fix: hard-reboot the instance (Nova plugs its tap again), then check the OVS agent there",
    )


def leftover_devices(graph: g.Graph, port_id11s: set[str], indexes: Mapping[str, HostIndex]) -> None:
    """Devices named after a port Neutron no longer has (left over after the port's deletion)."""
    for host, index in indexes.items():
        for id11, devices in index.by_id11.items():
            if id11 in port_id11s or len(id11) != ID_PREFIX_LEN:
                continue
            for device in devices:
                name = graph.nodes[device]["label"]
                warn(
                    graph,
                    device,
                    DriftKind.DEVICE_WITHOUT_PORT,
                    f"drift: {name} on {host} is named after port {id11}..., which Neutron no longer has: "
                    f"a leftover of a deleted port. Fix: delete it (`ovs-vsctl --if-exists del-port {name}`, "
                    f"`ip link delete {name}`)",
                )
