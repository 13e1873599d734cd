"""Endpoint resolution: a node id or an IP address becomes a port, a floating IP, the outside, what
the cloud holds itself (a router's address, a DHCP port), or an address of the source's own subnet
that nobody holds (on-link: the source ARPs for it, so it is never "outside")."""

from __future__ import annotations

import ipaddress

from topology import graph as g
from topology.kinds import DeviceOwner, EdgeKind, NodeKind
from topology.path import family, ha
from topology.path.model import Endpoint, PathError
from topology.path.names import resolve_name, unknown_name
from topology.path.special import METADATA_ADDRESS, refuse_special
from topology.path.topo import (
    ROUTER_ADDRESS_OWNERS,
    Topo,
    network_of,
    port_ips,
    reachable_from,
    routers_of_subnet,
    subnets_of,
)


def resolve(topo: Topo, text: str, near: Endpoint | None = None) -> Endpoint:
    """A node id (port, server, fip, router) or an IP address; ``near`` breaks ties between overlapping IPs
    and picks which of a router's addresses is meant (its interface on the source's subnet)."""
    text = text.strip()
    if text.lower() == "dns":  # the source's resolver, as DHCP hands it out (topology/path/dns.py)
        from topology.path.dns import resolver_of  # dns walks with resolve_ip: imported when asked

        return resolver_of(topo, near)
    kind = g.id_kind(text) if ":" in text else ""
    if kind == NodeKind.SERVER:
        ports = topo.targets(text, EdgeKind.RUNS)
        if not ports:
            raise PathError(f"{text} has no port")
        text, kind = ports[0], NodeKind.PORT
    if kind == NodeKind.PORT:
        if text not in topo.nodes:
            raise PathError(f"no port {g.id_key(text)}")
        ha.refuse_ha_port(topo, text)
        ip = family.prefer(port_ips(topo.node(text)), family.near_families(topo, near))
        return owned_port(topo, text, ip) or Endpoint("port", text, ip)
    if kind == NodeKind.ROUTER:
        if text not in topo.nodes:
            raise PathError(f"no router {g.id_key(text)}")
        return Endpoint("router", text, router_address(topo, text, near))
    if kind == NodeKind.FLOATINGIP:
        if text not in topo.nodes:
            raise PathError(f"no floating IP {g.id_key(text)}")
        return Endpoint("fip", text, topo.attrs(text).get("floating_ip_address"))
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        found = resolve_name(topo, text, near) if not kind else None  # "router1", "DHCP of private", a VM
        if found is None:
            raise unknown_name(text) from None
        if found.kind == "router" and found.ip is None:
            return Endpoint("router", found.node, router_address(topo, found.node, near))
        return found
    return resolve_ip(topo, str(address), near)


def resolve_ip(topo: Topo, address: str, near: Endpoint | None) -> Endpoint:
    refuse_special(address)
    if address == str(METADATA_ADDRESS):  # served by the source's router or qdhcp (topology/path/metadata.py)
        return Endpoint("metadata", "", address)
    if address in topo.fips_by_address:
        return Endpoint("fip", topo.fips_by_address[address], address)
    subnet = on_link_subnet(topo, near, address)
    if subnet is not None:
        return on_link(topo, subnet, address)
    found = holders(topo, address)
    if len(found) > 1 and near is not None and near.kind == "port":
        # Overlapping tenant subnets (seed 004): the one the source can reach, through its own network/router.
        found = [e for e in found if reaches(topo, near.node, e)] or found
    if len(found) > 1:
        raise PathError(
            f"{address} is the address of {len(found)} ports (overlapping subnets): "
            f"name one: {', '.join(e.node for e in found)}"
        )
    if found:
        return fixed_from_outside(topo, found[0], near)
    return Endpoint("outside", external_network_for(topo, address) or "", address)


def fixed_from_outside(topo: Topo, end: Endpoint, near: Endpoint | None) -> Endpoint:
    """A tenant port's fixed IP, given as an address to a packet from the outside, is that packet's
    destination: no route leads there (only its floating IP is DNATed to it). Asked by the port's id
    (or the VM's), the port is reached through its floating IP, as before."""
    if near is None or near.kind != "outside" or end.kind != "port":
        return end
    if topo.attrs(network_of(topo, end.node)).get("external"):
        return end  # a port on the external network itself: on the outside's own segment
    return Endpoint("fixed", end.node, end.ip)


def holders(topo: Topo, address: str) -> list[Endpoint]:
    """What holds ``address``: VM (and other non-network) ports, routers (interfaces, gateway), DHCP ports."""
    return [
        *(Endpoint("port", p, address) for p in topo.ports_by_ip.get(address, [])),
        *(Endpoint("router", r, address) for r in topo.routers_by_ip.get(address, [])),
        *(Endpoint("dhcp", p, address) for p in topo.dhcp_by_ip.get(address, [])),
        *(Endpoint("fipgw", p, address) for p in topo.fip_gateways_by_ip.get(address, [])),
    ]


def reaches(topo: Topo, port: str, end: Endpoint) -> bool:
    """Whether ``port`` reaches ``end`` through its own network or router."""
    if end.kind == "router":
        return any(end.node in routers_of_subnet(topo, s) for s in subnets_of(topo, port))
    return reachable_from(topo, port, end.node)


def on_link_subnet(topo: Topo, near: Endpoint | None, address: str) -> str | None:
    """The subnet of the source port that ``address`` is in (the source ARPs for it: never "outside").

    Not on an external network: hosts Neutron does not know live there (its gateway, the outside).
    """
    if near is None or near.kind != "port" or topo.attrs(network_of(topo, near.node)).get("external"):
        return None
    ip = ipaddress.ip_address(address)
    for subnet in subnets_of(topo, near.node):
        cidr = topo.attrs(subnet).get("cidr")
        if cidr and ip in ipaddress.ip_network(cidr, strict=False):
            return subnet
    return None


def owned_port(topo: Topo, port: str, address: str | None) -> Endpoint | None:
    """A router's port (qr-, qg-, sg-) stands for its router, a DHCP port for what answers in qdhcp, a
    floating IP agent gateway port (fg-) for its host's fip namespace;
    None for any other port (a VM's is walked as the VM)."""
    attrs = topo.attrs(port)
    owner = attrs.get("device_owner")
    if owner in ROUTER_ADDRESS_OWNERS and attrs.get("device_id"):
        return Endpoint("router", g.router_id(str(attrs["device_id"])), address)
    if owner == DeviceOwner.DHCP:
        return Endpoint("dhcp", port, address)
    if owner == DeviceOwner.FIP_AGENT_GATEWAY:  # a DVR host's fg-: answered in its fip namespace
        return Endpoint("fipgw", port, address)
    return None


def router_address(topo: Topo, router: str, near: Endpoint | None) -> str | None:
    """The address a router named by id is asked at: its interface on the source's subnet (the source's
    gateway), else its gateway address, else its first interface's."""
    interfaces = topo.targets(router, EdgeKind.ROUTER_INTERFACE)
    if near is not None and near.kind == "port":
        for subnet in subnets_of(topo, near.node):
            for port in interfaces:
                if subnet in subnets_of(topo, port) and port_ips(topo.nodes[port]):
                    return port_ips(topo.nodes[port])[0]
    gateway = [str(ip.get("ip_address")) for ip in topo.attrs(router).get("external_fixed_ips") or []]
    firsts = [ip for port in interfaces for ip in port_ips(topo.nodes[port])]
    found = gateway or firsts
    return found[0] if found else None


def on_link(topo: Topo, subnet: str, address: str) -> Endpoint:
    """An address of the source's own subnet: what holds it there, else nobody (or the subnet's broadcast)."""
    for port in topo.sources(subnet, EdgeKind.IN_SUBNET):
        if address not in port_ips(topo.nodes[port]):
            continue
        owner = str(topo.attrs(port).get("device_owner") or "")
        held = owned_port(topo, port, address)
        if held is not None:
            return held
        if owner.startswith("network:"):
            raise PathError(f"{address} is held by a {owner} port ({g.id_key(port)}): not walked to yet")
        return Endpoint("port", port, address)
    network = ipaddress.ip_network(str(topo.attrs(subnet).get("cidr")), strict=False)
    ends = (network.network_address, network.broadcast_address)
    if network.num_addresses > 2 and ipaddress.ip_address(address) in ends:
        return Endpoint("broadcast", subnet, address)
    return Endpoint("unallocated", subnet, address)


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
