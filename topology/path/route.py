"""Which walk explains a path: the situation of the two ends, looked up in a table of walks.

A situation is (source kind, target kind, relation); the walks that go through a router then pick
their backend's leg from a table keyed by the router's backend (legacy or DVR today; OVN and HA
add a key and a module beside legacy.py and dvr.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from topology import graph as g
from topology.path import dns, dvr, dvr6, fip_gateway, hairpin, hairpin_dvr, legacy, metadata, ovn, owned, routed6
from topology.path.context import Arriving, Leaving
from topology.path.external import outside_end, outside_hop
from topology.path.instance import vm_out
from topology.path.model import Endpoint, PathError, Problem, Scenario
from topology.path.resolve import resolve_ip
from topology.path.router import gateway_network, router_external, serving_router
from topology.path.topo import (
    Topo,
    fip_network,
    fip_of_port,
    is_distributed,
    network_of,
    route_router,
    router_label,
    vm_ip,
)
from topology.path.walk import Walk

Backend = Literal["legacy", "dvr"]
WalkFn = Callable[[Walk, Endpoint, Endpoint], str]
RoutedWalk = Callable[[Walk, Endpoint, Endpoint, str | None], str]


class Relation:
    """How two ends relate, beyond their kinds."""

    ANY: Final = ""
    SAME_NETWORK: Final = "same-network"
    ROUTED: Final = "routed"  # a router has interfaces on both ends' subnets
    VIA_FIP: Final = "via-fip"  # reached only through the destination's floating IP
    UNROUTED: Final = "unrouted"
    NO_FIP: Final = "no-fip"
    ROUTED6: Final = "routed6"  # IPv6 to a VM's own address: routed by its router, no floating IP


Situation = tuple[str, str, str]  # (source kind, target kind, relation)


def backend_of(topo: Topo, router: str) -> Backend:
    return "dvr" if is_distributed(topo, router) else "legacy"


EAST_WEST: Final[dict[Backend, RoutedWalk]] = {"legacy": legacy.east_west, "dvr": dvr.east_west}
ROUTER_OUT: Final[dict[Backend, Callable[[Walk, Leaving], bool]]] = {"legacy": legacy.router_out, "dvr": dvr.router_out}
FIP_IN: Final[dict[Backend, Callable[[Walk, Arriving], str]]] = {"legacy": legacy.fip_in, "dvr": dvr.fip_in}
NORTH_SOUTH: Final[dict[tuple[Backend, bool], str]] = {  # (backend, with a floating IP)
    ("legacy", False): Scenario.NORTH_SOUTH_SNAT,
    ("legacy", True): Scenario.NORTH_SOUTH_FIP,
    ("dvr", False): Scenario.NORTH_SOUTH_SNAT_DVR,
    ("dvr", True): Scenario.NORTH_SOUTH_FIP_DVR,
}
# Walks whose reply does not retrace the way there, walked back too (a ping needs the reply).
RETURN_WALKS: Final[dict[str, RoutedWalk]] = {
    Scenario.EAST_WEST_DVR: dvr.east_west,
    Scenario.NORTH_SOUTH_ROUTED_DVR: dvr6.reply_in,
    Scenario.INBOUND_ROUTED_DVR: lambda walk, vm, outside, _router: reply_out6(walk, vm, outside),
}


def situation(topo: Topo, source: Endpoint, target: Endpoint) -> Situation:
    if source.kind == "port" and target.kind == "port":
        return ("port", "port", port_relation(topo, source.node, target.node))
    if source.kind == "outside" and target.kind in ("port", "fixed") and routed6.is_ipv6(target.ip):
        return ("outside", "port", Relation.ROUTED6)
    if source.kind == "outside" and target.kind == "port":
        return ("outside", "port", Relation.VIA_FIP if fip_of_port(topo, target.node) else Relation.NO_FIP)
    return (source.kind, target.kind, Relation.ANY)


def port_relation(topo: Topo, source: str, target: str) -> str:
    if network_of(topo, source) == network_of(topo, target):
        return Relation.SAME_NETWORK
    if route_router(topo, source, target) is not None:
        return Relation.ROUTED
    return Relation.VIA_FIP if fip_of_port(topo, target) else Relation.UNROUTED


def route(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    if source.kind in ("router", "dhcp") and target.kind != "port":
        raise PathError(
            f"{source.ip} is the address of a {'router' if source.kind == 'router' else 'DHCP port'}: "
            "paths from the cloud's own ports are walked to a VM's port only; ask from a VM, a port or the outside"
        )
    where = situation(walk.topo, source, target)
    found = OVN_WALKS.get(where) if source.kind == "port" and ovn.is_ovn_port(walk.topo, source.node) else None
    found = found or WALKS.get(where)
    if found is None:
        raise PathError("one end must be a port, a VM or a floating IP of the cloud")
    walk.dst_ip = target.ip  # the source port's egress rules judge what it sends to
    return found(walk, source, target)


# --------------------------------------------------------------------------- the walks of the table


def east_west(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    router = route_router(walk.topo, source.node, target.node) or ""
    return EAST_WEST[backend_of(walk.topo, router)](walk, source, target, router)


def north_south(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    topo = walk.topo
    port = source.node
    host = vm_out(walk, port)
    if topo.attrs(network_of(topo, port)).get("external"):
        return Scenario.NORTH_SOUTH_SNAT  # vm_on_external_network: no router of its own to leave through
    router, subnet = serving_router(walk, port)
    if router is None:
        return no_router(walk, subnet, port)
    ipv6 = routed6.is_ipv6(source.ip)
    fip = None if ipv6 else fip_of_port(topo, port)  # floating IPs are IPv4: IPv6 leaves from its own address
    backend = backend_of(topo, router)
    scenario = Scenario.NORTH_SOUTH_ROUTED if ipv6 else NORTH_SOUTH[(backend, fip is not None)]
    external = gateway_network(walk, router)
    if external is None:
        return scenario
    fip_address = topo.attrs(fip).get("floating_ip_address") if fip else None
    out = Leaving(port, source.ip or "?", host, router, subnet, external, fip_address)
    dst = target.ip if target.kind == "outside" else None
    if ipv6 and backend == "dvr":
        if dvr6.routed_out(walk, out, dst):
            outside_end(walk, external, dst)
        return Scenario.NORTH_SOUTH_ROUTED_DVR
    if ROUTER_OUT[backend](walk, out):
        outside_end(walk, external, dst)
    return scenario


def reply_out6(walk: Walk, vm: Endpoint, outside: Endpoint) -> str:
    """The VM's IPv6 reply to the outside: out of its distributed router the way its lookup says."""
    walk.reply_family = 6
    return north_south(walk, vm, outside)


def inbound_fip(walk: Walk, fip: str, src_ip: str | None) -> str:
    topo = walk.topo
    attrs = topo.attrs(fip)
    address, external = attrs.get("floating_ip_address"), fip_network(topo, fip)
    outside_hop(walk, external, src_ip, "a host on the outside,")
    if not attrs.get("port_id") or g.port_id(attrs["port_id"]) not in topo.nodes:
        hop = walk.hop(fip, f"floating IP {address}")
        walk.fail(
            hop,
            Problem.FIP_NOT_ASSOCIATED,
            f"floating IP {address} is not associated with any port: "
            "`openstack floating ip set --port <port> <floating ip>`",
        )
        return Scenario.INBOUND_FIP
    port = g.port_id(attrs["port_id"])
    router, subnet = serving_router(walk, port, g.router_id(attrs["router_id"]) if attrs.get("router_id") else None)
    if router is None or router_external(topo, router) != attrs.get("floating_network_id"):
        hop = walk.hop(fip, f"floating IP {address} -> {vm_ip(topo, port)}")
        where = f"subnet {topo.nodes[subnet]['label']}" if subnet in topo.nodes else "the port's subnet"
        walk.fail(
            hop,
            Problem.FIP_UNREACHABLE,
            f"{where} is not attached to a router with a gateway on "
            f"{topo.nodes.get(external, {}).get('label', 'the external network')}: "
            "External network is not reachable from the port's subnet",
        )
        return Scenario.INBOUND_FIP
    into = Arriving(
        port,
        router,
        subnet,
        external,
        address,
        attrs.get("fixed_ip_address") or vm_ip(topo, port),
        topo.attrs(port).get("binding_host_id") or None,
        src_ip,
    )
    return FIP_IN[backend_of(topo, router)](walk, into)


def to_fip(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """Through the sender's own legacy router (hairpin), else out to the external network and back in
    through the floating IP, arriving from the address the sender's router SNATed it to."""
    router = hairpin.hairpin_router(walk, source, target.node)
    if router is not None:
        return hairpin.hairpin(walk, source, target, router)
    local = hairpin_dvr.local_fip_router(walk, source, target.node)
    if local is not None:
        return hairpin_dvr.local_fip(walk, source, target, local)
    north_south(walk, source, Endpoint("outside", fip_network(walk.topo, target.node), target.ip))
    own, _ = serving_router(walk, source.node) if source.kind == "port" else (None, None)
    seen = hairpin.source_after_nat(walk.topo, source.node, own, hairpin=False).address if own else None
    return inbound_fip(walk, target.node, seen or source.ip)


def to_fip_of_port(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """No router joins them: through the destination's floating IP."""
    fip = fip_of_port(walk.topo, target.node) or ""
    return to_fip(walk, source, Endpoint("fip", fip, walk.topo.attrs(fip).get("floating_ip_address")))


def from_outside(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    return inbound_fip(walk, target.node, source.ip)


def from_outside_to_port(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    return inbound_fip(walk, fip_of_port(walk.topo, target.node) or "", source.ip)


def to_router(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """To a router's own address: its qr- on the source's subnet answers (any of its addresses); another
    router's gateway address is reached out through the source's router and answered on its qg-."""
    topo = walk.topo
    subnet = owned.entry_subnet(topo, source.node, target.node)
    if subnet is not None:
        return owned.router_answers(walk, source, target, subnet)
    if not owned.is_gateway_address(topo, target.node, target.ip):
        return owned.not_on_the_way(walk, source, target)
    external = g.network_id(str(topo.attrs(target.node).get("gateway_network_id") or ""))
    north_south(walk, source, Endpoint("outside", external, target.ip))
    if any(h.status == "fail" for h in walk.hops):
        return Scenario.TO_ROUTER
    return owned.gateway_in(walk, target.node, target.ip, source.ip, came_in=True)


def no_floating_ip(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    hop = walk.hop(target.node, f"{target.ip} has no floating IP")
    walk.fail(
        hop,
        Problem.FIP_NOT_ASSOCIATED,
        f"{target.ip} is a fixed IP behind a router: the outside reaches "
        "it only through a floating IP associated with its port",
    )
    return Scenario.INBOUND_FIP


def no_router(walk: Walk, subnet: str | None, port: str) -> str:
    hop = walk.hop(subnet or port, "looks for a router to leave the network")
    label = walk.topo.nodes[subnet]["label"] if subnet in walk.topo.nodes else "the port's subnet"
    walk.fail(
        hop,
        Problem.SUBNET_NO_ROUTER,
        f"subnet {label} is not attached to any router: `openstack router add subnet <router> <subnet>`",
    )
    return Scenario.NORTH_SOUTH_SNAT


def unrouted(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """Two networks no router joins: name the subnet that has no router, if one of them has none."""
    topo = walk.topo
    hop = walk.hop(target.node, f"{target.ip} is on another network")
    (src_router, src_subnet), (dst_router, dst_subnet) = (serving_router(walk, e.node) for e in (source, target))
    lonely = [
        (subnet, other)
        for subnet, router, other in ((src_subnet, src_router, dst_router), (dst_subnet, dst_router, src_router))
        if router is None
    ]
    if lonely:
        subnet, other = lonely[0]
        label = topo.nodes[subnet]["label"] if subnet in topo.nodes else "a subnet"
        fix = router_label(topo, other) if other else "<router>"
        walk.fail(
            hop,
            Problem.SUBNET_NO_ROUTER,
            f"subnet {label} is not attached to any router, so nothing routes "
            f"between the two networks: `openstack router add subnet {fix} {label}`",
        )
    else:
        walk.fail(hop, Problem.NO_ROUTE, "no router joins the two subnets and the destination has no floating IP")
    return Scenario.EAST_WEST


WALKS: Final[dict[Situation, WalkFn]] = {
    ("port", "port", Relation.SAME_NETWORK): legacy.same_network,
    ("port", "port", Relation.ROUTED): east_west,
    ("port", "port", Relation.VIA_FIP): to_fip_of_port,
    ("port", "port", Relation.UNROUTED): unrouted,
    ("port", "outside", Relation.ANY): north_south,
    ("port", "fip", Relation.ANY): to_fip,
    ("outside", "fip", Relation.ANY): from_outside,
    ("outside", "port", Relation.VIA_FIP): from_outside_to_port,
    ("outside", "port", Relation.NO_FIP): no_floating_ip,
    ("outside", "port", Relation.ROUTED6): routed6.routed_in,
    ("port", "router", Relation.ANY): to_router,
    ("port", "dhcp", Relation.ANY): owned.to_dhcp,
    ("port", "unallocated", Relation.ANY): owned.unallocated,
    ("port", "broadcast", Relation.ANY): owned.subnet_broadcast,
    ("outside", "router", Relation.ANY): owned.private_from_outside,
    ("dhcp", "port", Relation.ANY): owned.from_dhcp,
    ("router", "port", Relation.ANY): owned.from_router,
    ("outside", "dhcp", Relation.ANY): owned.private_from_outside,
    ("port", "fipgw", Relation.ANY): fip_gateway.from_vm,
    ("outside", "fipgw", Relation.ANY): fip_gateway.from_outside,
    ("outside", "fixed", Relation.ANY): owned.private_from_outside,
    ("port", "metadata", Relation.ANY): metadata.to_metadata,
    ("port", "dns", Relation.ANY): lambda w, s, t: dns.to_dns(w, s, t, lambda ip: resolve_ip(w.topo, ip, s), route),
}

# An ML2/OVN cloud's walks (topology/path/ovn.py), for a source port OVN knows; the rest as on ML2/OVS.
OVN_WALKS: Final[dict[Situation, WalkFn]] = {
    ("port", "port", Relation.SAME_NETWORK): ovn.same_network,
    ("port", "port", Relation.ROUTED): ovn.east_west,
    ("port", "outside", Relation.ANY): ovn.north_south,
}
