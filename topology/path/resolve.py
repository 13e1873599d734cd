"""Endpoint resolution: a node id or an IP address becomes a port, a floating IP or the outside."""

from __future__ import annotations

import ipaddress

from topology import graph as g
from topology.kinds import EdgeKind, NodeKind
from topology.path.model import Endpoint, PathError
from topology.path.topo import Topo, port_ips, reachable_from


def resolve(topo: Topo, text: str, near: Endpoint | None = None) -> Endpoint:
    """A node id (port, server, fip) or an IP address; ``near`` breaks ties between overlapping IPs."""
    text = text.strip()
    kind = g.id_kind(text) if ":" in text else ""
    if kind == NodeKind.SERVER:
        ports = topo.targets(text, EdgeKind.RUNS)
        if not ports:
            raise PathError(f"{text} has no port")
        text, kind = ports[0], NodeKind.PORT
    if kind == NodeKind.PORT:
        if text not in topo.nodes:
            raise PathError(f"no port {g.id_key(text)}")
        ips = port_ips(topo.node(text))
        return Endpoint("port", text, ips[0] if ips else None)
    if kind == NodeKind.FLOATINGIP:
        if text not in topo.nodes:
            raise PathError(f"no floating IP {g.id_key(text)}")
        return Endpoint("fip", text, topo.attrs(text).get("floating_ip_address"))
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise PathError(f"{text!r} is neither a node id (port:, server:, fip:) nor an IP address") from None
    return resolve_ip(topo, str(address), near)


def resolve_ip(topo: Topo, address: str, near: Endpoint | None) -> Endpoint:
    if address in topo.fips_by_address:
        return Endpoint("fip", topo.fips_by_address[address], address)
    ports = [topo.nodes[p] for p in topo.ports_by_ip.get(address, [])]
    if len(ports) > 1 and near is not None and near.kind == "port":
        # Overlapping tenant subnets (seed 004): the one the source can reach, through its own network/router.
        ports = [p for p in ports if reachable_from(topo, near.node, p["id"])] or ports
    if len(ports) > 1:
        raise PathError(
            f"{address} is the address of {len(ports)} ports (overlapping subnets): "
            f"name one: {', '.join(p['id'] for p in ports)}"
        )
    if ports:
        return Endpoint("port", ports[0]["id"], address)
    return Endpoint("outside", external_network_for(topo, address) or "", address)


def external_network_for(topo: Topo, address: str) -> str | None:
    """The external network whose subnet holds ``address``, if any (the outside host's side)."""
    ip = ipaddress.ip_address(address)
    return next((network for cidr, network in topo.external_subnets if ip in cidr), None)


def as_source(topo: Topo, endpoint: Endpoint) -> Endpoint:
    """A floating IP as a source stands for its port."""
    if endpoint.kind == "fip":
        port = topo.attrs(endpoint.node).get("port_id")
        if port and g.port_id(port) in topo.nodes:
            return Endpoint("port", g.port_id(port), topo.attrs(endpoint.node).get("fixed_ip_address"))
        raise PathError(f"floating IP {endpoint.ip} is not associated: it sends nothing")
    return endpoint
