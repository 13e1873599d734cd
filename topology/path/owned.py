"""Walks to what the cloud holds itself, and to what nobody holds: a router's own address (its qr-
on the source's subnet, another of its interfaces, its gateway address on qg-), the network's DHCP
port in its qdhcp namespace, an address of the source's own subnet that no port holds (nobody answers
its ARP), the subnet's broadcast.

A packet to a router's own address is delivered in the router's namespace, not forwarded: no SNAT,
no DNAT, nothing further. From the outside only the gateway address (on qg-) is reachable: a tenant
subnet's addresses are not routed there.
"""

from __future__ import annotations

from topology import graph as g
from topology.kinds import DeviceOwner, EdgeKind, NamespacePrefix
from topology.path import dvr_owned
from topology.path.external import external_in, outside_hop
from topology.path.instance import vm_in, vm_out
from topology.path.model import Endpoint, Hop, PathError, Problem, Scenario
from topology.path.router import (
    enter_router,
    gateway_port,
    leave_router,
    orphaned,
    router_namespace,
    split_devices,
)
from topology.path.topo import (
    Topo,
    fip_of_port,
    is_distributed,
    namespace_on,
    network_of,
    port_ips_of,
    router_label,
    router_port_on,
    router_ports,
    routers_of_subnet,
    subnets_of,
)
from topology.path.walk import Walk


def is_gateway_address(topo: Topo, router: str, address: str | None) -> bool:
    return any(ip.get("ip_address") == address for ip in topo.attrs(router).get("external_fixed_ips") or [])


def interface_holding(topo: Topo, router: str, address: str | None) -> str | None:
    """The router's interface port (qr-, sg-) that holds ``address``."""
    for kind in (EdgeKind.ROUTER_INTERFACE, EdgeKind.MEMBER):
        for port in topo.targets(router, kind):
            owner = topo.attrs(port).get("device_owner")
            if address in port_ips_of(topo, port) and owner != DeviceOwner.ROUTER_GATEWAY:
                return port
    return None


def entry_subnet(topo: Topo, port: str, router: str) -> str | None:
    """The source port's subnet that ``router`` has an interface on (its gateway there), if any."""
    return next((s for s in subnets_of(topo, port) if router in routers_of_subnet(topo, s)), None)


def subnet_label(topo: Topo, subnet: str | None) -> str:
    return str(topo.nodes[subnet]["label"]) if subnet in topo.nodes else "the subnet"


def device_addresses(topo: Topo, device: str | None) -> list[str]:
    return [str(a) for a in topo.attrs(device).get("addresses") or []] if device else []


def answered(walk: Walk, hop: Hop, device: str | None, address: str | None) -> None:
    """The answering device's evidence: the address as `ip addr` shows it there, when the report has it."""
    held = [a for a in device_addresses(walk.topo, device) if a.split("/")[0] == address]
    if held:
        shown = f"ip addr: {held[0]} on {device_label(walk, device)}"
        hop.evidence = (hop.evidence + " " if hop.evidence else "") + shown


def device_label(walk: Walk, device: str | None) -> str:
    return str(walk.topo.nodes[device]["label"]) if device in walk.topo.nodes else "its device"


# --------------------------------------------------------------------------- from a VM


def router_answers(walk: Walk, source: Endpoint, target: Endpoint, subnet: str) -> str:
    """From the VM to its subnet's router (qr-), answered in the router's namespace: the qr- address
    itself, another interface of the router, or its gateway address on qg- (delivered, not NATed)."""
    topo, router, address = walk.topo, target.node, target.ip
    name = router_label(topo, router)
    host = vm_out(walk, source.node)
    distributed = is_distributed(topo, router)
    gateway = is_gateway_address(topo, router, address)
    holder = None if gateway else interface_holding(topo, router, address)
    if holder is not None and topo.attrs(holder).get("device_owner") == DeviceOwner.ROUTER_SNAT:
        return dvr_owned.snat_port_answers(walk, source, target, holder, subnet, host)  # in the snat namespace
    walk.br_int(host or "?", f"switches it to router {name}'s qr- port, the gateway of {subnet_label(topo, subnet)}")
    if distributed and gateway:
        return dvr_owned.gateway_answers(walk, source, target, subnet, host)  # in the snat namespace
    ns = router_namespace(walk, router, NamespacePrefix.QROUTER, host if distributed else None, walk.hops[-1])
    if ns is None:
        return Scenario.TO_ROUTER
    router_host = topo.nodes[ns].get("host")
    walk.cross(host, router_host, network_of(topo, source.node))
    qr = router_port_on(topo, router, subnet)
    entered = enter_router(walk, router, qr, router_host, f"qr- of router {name} receives it")
    if gateway:
        holder = next(iter(router_ports(topo, router, DeviceOwner.ROUTER_GATEWAY)), None)
        what = "its gateway address, on qg- (delivered to the router itself: not SNATed, not forwarded out)"
    else:
        on = subnet_label(topo, next(iter(subnets_of(topo, holder)), None)) if holder else "a subnet"
        what = f"its interface on {on}"
    hop = walk.hop(ns, f"qrouter on {router_host} answers: {address} is router {name}'s own address ({what})")
    if hop.status == "ok" and entered.status == "fail":
        hop.status = "unknown"
    _, inner = split_devices(topo, holder, router_host) if holder else (None, None)
    answered(walk, hop, inner, address)
    return Scenario.TO_ROUTER


def not_on_the_way(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """A router interface on none of the source's subnets (another network's gateway): not walked."""
    vm_out(walk, source.node)
    walk.hop(
        target.node,
        f"{target.ip} is an interface of router {router_label(walk.topo, target.node)}, which has no "
        "interface on the source's subnets: routed there only through another router, not walked",
        status="unknown",
    )
    return Scenario.TO_ROUTER


def to_dhcp(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """From the VM to its network's DHCP port: switched to the port's tap, answered in the qdhcp namespace."""
    topo, dhcp, address = walk.topo, target.node, target.ip
    network = network_of(topo, dhcp)
    host = vm_out(walk, source.node)
    if network != network_of(topo, source.node):
        walk.hop(dhcp, f"{address} is the DHCP port of another network: routed there, not walked", status="unknown")
        return Scenario.TO_DHCP
    walk.br_int(host or "?", "switches it within the network's local VLAN to the DHCP port")
    dhcp_host = topo.attrs(dhcp).get("binding_host_id") or None
    walk.cross(host, dhcp_host, network)
    ns = namespace_on(topo, network, NamespacePrefix.QDHCP, dhcp_host)
    outer, inner = split_devices(topo, dhcp, dhcp_host)
    if outer is not None and outer != inner:
        walk.vlan_hop(outer, g.device_name("tap", dhcp), dhcp_host, network, "br-int hands it to the DHCP port's tap")
    device = walk.device_hop(
        inner, g.device_name("tap", dhcp), dhcp_host, "the DHCP port's device in the qdhcp namespace receives it"
    )
    walk.check_port(dhcp, device)
    hop = walk.hop(
        ns,
        f"qdhcp on {dhcp_host} answers: {address} is the DHCP port's address (dnsmasq listens there)",
        host=dhcp_host,
    )
    if ns is None:
        walk.fail(
            hop,
            Problem.NAMESPACE_MISSING,
            f"{NamespacePrefix.QDHCP}{g.id_key(network)} is missing on {dhcp_host or 'any host'}: "
            "is a DHCP agent alive and hosting the network?",
        )
    if dhcp_host:
        walk.check_agent(str(dhcp_host), "DHCP agent", hop)
    answered(walk, hop, inner, address)
    return Scenario.TO_DHCP


def unallocated(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """An address of the source's own subnet that no port holds: the ARP request goes unanswered."""
    host = vm_out(walk, source.node)
    walk.br_int(host or "?", f"floods the ARP request for {target.ip} in the network's local VLAN")
    hop = walk.hop(target.node, f"nobody holds {target.ip} in subnet {subnet_label(walk.topo, target.node)}")
    walk.fail(
        hop,
        Problem.ADDRESS_UNALLOCATED,
        f"no port holds {target.ip} in subnet {subnet_label(walk.topo, target.node)}: its ARP request is not "
        "answered and the packet is never sent (check the address, or the VM's port: `openstack port list "
        f"--fixed-ip ip-address={target.ip}`)",
    )
    return Scenario.SAME_NETWORK


def subnet_broadcast(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """The subnet's broadcast (or network) address: to every host of the segment or none, not one path."""
    vm_out(walk, source.node)
    message = (
        f"{target.ip} is the broadcast or network address of subnet {subnet_label(walk.topo, target.node)}: "
        "not one host's address, so there is no one path to explain (a broadcast ping goes to every "
        "port of the network that answers broadcasts, if any)"
    )
    walk.hop(target.node, message, status="unknown")
    walk.problem(Problem.SUBNET_BROADCAST, message, target.node, severity="unknown")
    return Scenario.SAME_NETWORK


# --------------------------------------------------------------------------- from the cloud's own ports


def from_dhcp(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """From the qdhcp namespace (its DHCP port's address) to a VM on the same network: switched on br-int."""
    topo, dhcp = walk.topo, source.node
    network = network_of(topo, dhcp)
    if network != network_of(topo, target.node):
        raise PathError(f"{source.ip} is the DHCP port of another network than {target.ip}'s: not walked")
    dhcp_host = topo.attrs(dhcp).get("binding_host_id") or None
    ns = namespace_on(topo, network, NamespacePrefix.QDHCP, dhcp_host)
    first = walk.hop(ns, f"qdhcp on {dhcp_host} sends {walk.probe.describe()} from {source.ip}", host=dhcp_host)
    if ns is None:
        walk.fail(
            first,
            Problem.NAMESPACE_MISSING,
            f"{NamespacePrefix.QDHCP}{g.id_key(network)} is missing on {dhcp_host or 'any host'}: "
            "is a DHCP agent alive and hosting the network?",
        )
    walk.check_port(dhcp, first)
    outer, inner = split_devices(topo, dhcp, dhcp_host)
    walk.device_hop(inner, g.device_name("tap", dhcp), dhcp_host, "leaves the qdhcp namespace on the DHCP port")
    if outer is not None and outer != inner:
        walk.vlan_hop(outer, g.device_name("tap", dhcp), dhcp_host, network, "enters br-int on the DHCP port's tap")
    walk.br_int(dhcp_host or "?", "switches it within the network's local VLAN")
    vm_host = topo.attrs(target.node).get("binding_host_id") or None
    walk.cross(dhcp_host, vm_host, network)
    vm_in(walk, target.node, vm_host, source.ip)
    return Scenario.SAME_NETWORK


def from_router(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """From a router's namespace to a VM on one of its subnets: out on that subnet's qr- (switched there)."""
    topo, router = walk.topo, source.node
    subnet = entry_subnet(topo, target.node, router)
    if subnet is None:
        raise PathError(f"router {router_label(topo, router)} has no interface on {target.ip}'s subnet: not walked")
    vm_host = topo.attrs(target.node).get("binding_host_id") or None
    distributed = is_distributed(topo, router)
    first = walk.hop(router, f"router {router_label(topo, router)} sends {walk.probe.describe()} from {source.ip}")
    ns = router_namespace(walk, router, NamespacePrefix.QROUTER, vm_host if distributed else None, first)
    if ns is None:
        return Scenario.TO_ROUTER
    router_host = topo.nodes[ns].get("host")
    walk.hop(ns, f"qrouter on {router_host} routes it to {subnet_label(topo, subnet)}", host=router_host)
    leave_router(
        walk, router_port_on(topo, router, subnet), router_host, f"leaves on the qr- of {subnet_label(topo, subnet)}"
    )
    walk.cross(router_host, vm_host, network_of(topo, target.node))
    vm_in(walk, target.node, vm_host, source.ip)
    return Scenario.SAME_NETWORK  # switched from the qr- to the VM on its network


# --------------------------------------------------------------------------- from the outside


def gateway_in(walk: Walk, router: str, address: str | None, src_ip: str | None, came_in: bool = False) -> str:
    """In through br-ex to the qg- that holds the router's gateway address: answered by the router itself
    (not DNATed: no floating IP is involved). ``came_in``: the outside hop is already walked."""
    topo = walk.topo
    name = router_label(topo, router)
    external = g.network_id(str(topo.attrs(router).get("gateway_network_id") or ""))
    if not came_in:
        outside_hop(walk, external, src_ip, "a host on the outside,")
    prefix = NamespacePrefix.SNAT if is_distributed(topo, router) else NamespacePrefix.QROUTER
    ns = router_namespace(walk, router, prefix, None, walk.hops[-1])
    if ns is None:
        return Scenario.TO_ROUTER
    router_host = topo.nodes[ns].get("host")
    external_in(walk, router_host, external, address)
    what = f"qg- of router {name} holds {address}: the router's own gateway address"
    port = gateway_port(walk, router, router_host, what)
    if port is None:
        return Scenario.TO_ROUTER
    entered = enter_router(walk, router, port, router_host, what)
    orphaned(walk, router, entered)
    hop = walk.hop(ns, f"router {name} answers on qg- itself (its own address: not DNATed)", host=router_host)
    answered(walk, hop, split_devices(topo, port, router_host)[1], address)
    return Scenario.TO_ROUTER


def private_from_outside(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """A router's interface or a DHCP port on a tenant subnet, asked from the outside: not routed there."""
    topo = walk.topo
    external = source.node
    outside_hop(walk, external, source.ip, "a host on the outside,")
    if target.kind == "router" and is_gateway_address(topo, target.node, target.ip):
        return gateway_in(walk, target.node, target.ip, source.ip, came_in=True)
    whose = {
        "router": f"router {router_label(topo, target.node)}'s interface",
        "dhcp": "a DHCP port",
        "fixed": f"port {topo.nodes[target.node]['label']}'s fixed IP" if target.node in topo.nodes else "a fixed IP",
    }[target.kind]
    hop = walk.hop(target.node, f"{target.ip} is {whose} on a tenant subnet")
    fip = fip_of_port(topo, target.node) if target.kind == "fixed" else None
    address = topo.attrs(fip).get("floating_ip_address") if fip else None
    through = f": ask its floating IP {address}, the address the outside reaches it at" if address else ""
    walk.fail(
        hop,
        Problem.NOT_ROUTABLE_FROM_OUTSIDE,
        f"{target.ip} is {whose} on a tenant subnet: the outside has no route to a tenant subnet "
        f"(only the router's gateway address and floating IPs are reachable from there){through}",
    )
    return {"router": Scenario.TO_ROUTER, "dhcp": Scenario.TO_DHCP}.get(target.kind, Scenario.INBOUND_FIP)
