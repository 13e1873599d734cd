"""Endpoints named as a user says them in the path panel: "router1" (its qr- on the source's subnet),
"router1 gateway" (its external gateway address), "DHCP of private" (the network's DHCP port), a VM's
name. Resolved in the graph the caller is given (a tenant's is scoped: path_scope), so another
project's router is as unknown as a name nobody uses."""

from __future__ import annotations

import ipaddress
import re

from topology import graph as g
from topology.kinds import DeviceOwner, EdgeKind, NodeKind
from topology.path.model import Endpoint, PathError
from topology.path.topo import Topo, port_ips, subnets_of

GATEWAY_SUFFIX = re.compile(r"^(?P<router>.+?)\s+gateway$", re.IGNORECASE)
DHCP_PREFIX = re.compile(r"^dhcp\s+of\s+(?P<network>.+)$", re.IGNORECASE)


def named(topo: Topo, kind: str, name: str) -> list[str]:
    """The nodes of ``kind`` whose name is ``name``."""
    return [n for n, node in topo.nodes.items() if node["kind"] == kind and node.get("label") == name]


def one(found: list[str], what: str, name: str) -> str | None:
    if len(found) > 1:
        raise PathError(f"{len(found)} {what}s are named {name!r}: name one by id: {', '.join(found)}")
    return found[0] if found else None


def resolve_name(topo: Topo, text: str, near: Endpoint | None) -> Endpoint | None:
    """The endpoint ``text`` names, or None if it names nothing the graph holds."""
    dhcp = DHCP_PREFIX.match(text)
    if dhcp:
        network = one(named(topo, NodeKind.NETWORK, dhcp.group("network").strip()), "network", text)
        return dhcp_of(topo, network, near) if network else None
    gateway = GATEWAY_SUFFIX.match(text)
    if gateway:
        router = one(named(topo, NodeKind.ROUTER, gateway.group("router").strip()), "router", text)
        if router is None:
            return None
        fixed = [str(ip.get("ip_address")) for ip in topo.attrs(router).get("external_fixed_ips") or []]
        if not fixed:
            raise PathError(f"router {text.rsplit(' ', 1)[0]} has no external gateway: it has no gateway address")
        return Endpoint("router", router, fixed[0])
    router = one(named(topo, NodeKind.ROUTER, text), "router", text)
    if router is not None:
        return Endpoint("router", router, None)  # resolve gives it the address it is asked at
    server = one(named(topo, NodeKind.SERVER, text), "VM", text)
    if server is not None:
        ports = topo.targets(server, EdgeKind.RUNS)
        if not ports:
            raise PathError(f"VM {text} has no port")
        ips = port_ips(topo.node(ports[0]))
        return Endpoint("port", ports[0], ips[0] if ips else None)
    return None


def dhcp_of(topo: Topo, network: str, near: Endpoint | None) -> Endpoint | None:
    """The network's DHCP port, at its address on the source's subnet (else its first address)."""
    ports = [
        n
        for n, node in topo.nodes.items()
        if node["kind"] == NodeKind.PORT
        and node["attrs"].get("device_owner") == DeviceOwner.DHCP
        and g.network_id(str(node["attrs"].get("network_id"))) == network
        and port_ips(node)
    ]
    if not ports:
        raise PathError(f"network {topo.nodes[network]['label']} has no DHCP port (is DHCP enabled on its subnets?)")
    near_subnets = set(subnets_of(topo, near.node)) if near is not None and near.kind == "port" else set()
    for port in ports:
        for subnet in subnets_of(topo, port):
            if subnet in near_subnets:
                cidr_ips = [ip for ip in port_ips(topo.node(port)) if ip_in(topo, subnet, ip)]
                if cidr_ips:
                    return Endpoint("dhcp", port, cidr_ips[0])
    return Endpoint("dhcp", ports[0], port_ips(topo.node(ports[0]))[0])


def ip_in(topo: Topo, subnet: str, ip: str) -> bool:
    cidr = topo.attrs(subnet).get("cidr")
    return bool(cidr) and ipaddress.ip_address(ip) in ipaddress.ip_network(str(cidr), strict=False)


def unknown_name(text: str) -> PathError:
    """Not echoing ``text``: a tenant's scrubbed echo of another project's name would tell it exists."""
    what = "that name" if text else "an empty endpoint"
    return PathError(
        f"{what} is neither a node id (port:, server:, fip:, router:), an IP address nor a name the "
        'path knows in what you may see (a VM, a router, "<router> gateway", "DHCP of <network>")'
    )
