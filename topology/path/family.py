"""Address families are never mixed: an IPv4 end never reaches an IPv6 one (Neutron has no NAT64).

Checked before any walk is trusted: the port end must hold an address of the other end's family, and
a routed path needs that family all the way: the router's interface on the port's subnet of that
family and, to or from the outside, a gateway address of that family on the router's external side.
What is missing makes the answer ``broken`` with ``no_address_family`` at the hop that needs it; the
walk of the other family (its SNAT rule, its qg- address) is never shown as the packet's way.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from topology import graph as g
from topology.kinds import EdgeKind
from topology.path.model import Endpoint, Problem
from topology.path.topo import (
    Topo,
    network_of,
    port_ips_of,
    route_router,
    router_label,
    router_port_on,
    routers_of_subnet,
    subnets_of,
)
from topology.path.walk import Walk

FAMILY_NAME = {4: "IPv4", 6: "IPv6"}
PORT_KINDS = ("port", "fixed")  # ends that are a port of the cloud, holding addresses of their own
ROUTED_TARGETS = ("outside", "fip")  # a port's packet to these leaves through its router's gateway


def family(address: str | None) -> int | None:
    """4 or 6 for an address (or a CIDR), None for no address."""
    if not address:
        return None
    try:
        return ipaddress.ip_interface(address).version
    except ValueError:
        return None


def port_families(topo: Topo, port: str) -> set[int]:
    return {f for f in (family(ip) for ip in port_ips_of(topo, port)) if f is not None}


def subnet_family(topo: Topo, subnet: str) -> int | None:
    attrs = topo.attrs(subnet)
    return family(str(attrs.get("cidr") or "")) or (int(attrs["ip_version"]) if attrs.get("ip_version") else None)


def family_subnets(topo: Topo, port: str, wanted: int) -> list[str]:
    return [s for s in subnets_of(topo, port) if subnet_family(topo, s) == wanted]


def family_subnets_first(topo: Topo, port: str, wanted: int) -> list[str]:
    """The port's subnets, those of ``wanted`` first (the router a packet of that family goes through)."""
    first = family_subnets(topo, port, wanted)
    return first + [s for s in subnets_of(topo, port) if s not in first]


def family_ip(topo: Topo, port: str, wanted: int) -> str:
    """The port's first address of ``wanted`` (4 or 6), else its first address ("?" with none)."""
    return prefer(port_ips_of(topo, port), [wanted]) or "?"


def prefer(addresses: list[str], families: list[int]) -> str | None:
    """The first address of the first family in ``families`` that has one, else the first address."""
    for wanted in families:
        found = next((a for a in addresses if family(a) == wanted), None)
        if found is not None:
            return found
    return addresses[0] if addresses else None


def near_families(topo: Topo, near: Endpoint | None) -> list[int]:
    """The families a destination port's address is picked in: the source's address's first, then its port's."""
    if near is None:
        return []
    first = [f for f in (family(near.ip),) if f is not None]
    return first + sorted(port_families(topo, near.node) - set(first) if near.kind == "port" else set())


def aligned(topo: Topo, source: Endpoint, target: Endpoint) -> Endpoint:
    """A dual-stack source port sends from its address of the destination's family."""
    wanted = family(target.ip)
    if source.kind != "port" or wanted is None or family(source.ip) == wanted:
        return source
    ip = next((a for a in port_ips_of(topo, source.node) if family(a) == wanted), None)
    return source if ip is None else Endpoint(source.kind, source.node, ip)


@dataclass(frozen=True)
class Question:
    """The two ends and the family the packet is of (the destination address's)."""

    source: Endpoint
    target: Endpoint
    wanted: int

    @property
    def name(self) -> str:
        return FAMILY_NAME[self.wanted]


def mixed(walk: Walk, source: Endpoint, target: Endpoint) -> bool:
    """Walk the family checks; True when a hop needs what only the other family has (``walk`` then holds
    the hops up to it, the last one failed with ``no_address_family``)."""
    wanted = family(target.ip)
    if wanted is None:
        return False  # no address asked (the metadata service, a resolver DHCP hands out none of)
    question = Question(source, target, wanted)
    if not ends_match(walk, question):
        return True
    if source.kind == "port":
        return not routed_out(walk, question)
    if source.kind == "outside" and target.kind == "port":
        return not gateway_of(walk, question, target.node, inbound=True)
    return False


def port_name(topo: Topo, port: str) -> str:
    servers = topo.sources(port, EdgeKind.RUNS)
    return str(topo.nodes[servers[0] if servers else port]["label"])


def lacks(topo: Topo, port: str, wanted: int) -> str:
    """Why ``port`` cannot send or receive ``wanted``: it holds no address of it."""
    held = sorted({FAMILY_NAME[f] for f in (subnet_family(topo, s) for s in subnets_of(topo, port)) if f})
    subnets = f"its subnets are {' and '.join(held)} only" if held else "it is on no subnet"
    return f"{port_name(topo, port)} has no {FAMILY_NAME[wanted]} address; {subnets}"


def ends_match(walk: Walk, question: Question) -> bool:
    """Each port end holds an address of the packet's family; any other end's address is of it."""
    topo, source, target = walk.topo, question.source, question.target
    if source.kind == "port" and question.wanted not in port_families(topo, source.node):
        sends = f"{port_name(topo, source.node)} sends to {target.ip}"
        fail(walk, source.node, sends, lacks(topo, source.node, question.wanted))
        return False
    sent = family(source.ip)
    if sent is None or sent == question.wanted:
        return True
    if target.kind in PORT_KINDS and sent not in port_families(topo, target.node):
        fail(walk, target.node, f"{source.ip} sends to {port_name(topo, target.node)}", lacks(topo, target.node, sent))
        return False
    fail(
        walk,
        target.node,
        f"{source.ip} sends to {target.ip}",
        f"{source.ip} is an {FAMILY_NAME[sent]} address and {target.ip} an {question.name} one: "
        "a packet of one family never reaches the other (Neutron does no NAT64)",
    )
    return False


def routed_out(walk: Walk, question: Question) -> bool:
    """A port's packet that a router carries: the router's interface of the family on both ends' subnets,
    and its gateway of the family when it leaves to the outside."""
    topo, source, target = walk.topo, question.source, question.target
    port = source.node
    if target.kind == "port" and network_of(topo, target.node) != network_of(topo, port):
        router = route_router(topo, port, target.node)
        if router is None:
            return True  # no router at all: the walk says so (subnet_no_router, no_route)
        walk.hop(port, f"{port_name(topo, port)} sends {question.name} from {source.ip}")
        return interface_of(walk, question, router, port) and interface_of(walk, question, router, target.node)
    if target.kind in ROUTED_TARGETS:
        return gateway_of(walk, question, port, inbound=False)
    return True


def serving(topo: Topo, port: str) -> str | None:
    """The router on any of the port's subnets (the one a walk of either family would go through)."""
    return next((r for s in subnets_of(topo, port) for r in routers_of_subnet(topo, s)), None)


def gateway_of(walk: Walk, question: Question, port: str, inbound: bool) -> bool:
    topo = walk.topo
    router = serving(topo, port)
    if router is None or not topo.attrs(router).get("gateway_network_id"):
        return True  # no router, no gateway: the walk says so (subnet_no_router, router_no_gateway)
    if not inbound:
        walk.hop(port, f"{port_name(topo, port)} sends {question.name} from {question.source.ip}")
    if not interface_of(walk, question, router, port):
        return False
    gateway = [str(ip.get("ip_address")) for ip in topo.attrs(router).get("external_fixed_ips") or []]
    if not gateway or any(family(a) == question.wanted for a in gateway):
        return True  # no address known on the external side: not a family's absence (the walk judges it)
    external = g.network_id(str(topo.attrs(router).get("gateway_network_id")))
    net = topo.nodes.get(external, {}).get("label", "the external network")
    held = ", ".join(gateway)
    fail(
        walk,
        router,
        f"router {router_label(topo, router)}'s gateway on {net}",
        f"router {router_label(topo, router)} has no {question.name} gateway on {net}: its external side "
        f"holds {held} only; add an {question.name} subnet to {net} and set the router's gateway on it",
    )
    return False


def interface_of(walk: Walk, question: Question, router: str, port: str) -> bool:
    """The router has an interface on ``port``'s subnet of the family."""
    topo = walk.topo
    subnets = family_subnets(topo, port, question.wanted)
    if any(router_port_on(topo, router, s) for s in subnets):
        return True
    name = router_label(topo, router)
    external_ra = next((s for s in subnets if expects_external_ra(topo, s)), None)
    if external_ra is not None:
        label, mode = topo.nodes[external_ra]["label"], topo.attrs(external_ra).get("ipv6_address_mode")
        why = (
            f"{port_name(topo, port)}'s IPv6 subnet {label} has ipv6_address_mode {mode} and no ipv6_ra_mode: "
            f"it expects router advertisements from a router outside OpenStack, and Neutron refuses to attach "
            f'it to router {name} ("configured to receive RAs from an external router"); without such a router '
            f"the VM has no IPv6 address nor default route; recreate it with --ipv6-ra-mode {mode} "
            f"--ipv6-address-mode {mode} and `openstack router add subnet {name} <subnet>`"
        )
        walk.fail(walk.hop(router, f"router {name} routes {question.name}"), Problem.IPV6_RA_MODE_UNSET, why)
        return False
    if subnets:
        label = topo.nodes[subnets[0]]["label"]
        why = (
            f"router {name} has no {question.name} interface: {port_name(topo, port)}'s {question.name} "
            f"subnet {label} is not attached to it: `openstack router add subnet {name} {label}`"
        )
    else:
        why = f"router {name} has no {question.name} interface on the way: {lacks(topo, port, question.wanted)}"
    fail(walk, router, f"router {name} routes {question.name}", why)
    return False


def expects_external_ra(topo: Topo, subnet: str) -> bool:
    """An IPv6 subnet whose VMs take addresses from router advertisements that no Neutron router may send:
    an address mode and no ra mode (Neutron: "receive RAs from an external router")."""
    attrs = topo.attrs(subnet)
    return subnet_family(topo, subnet) == 6 and bool(attrs.get("ipv6_address_mode")) and not attrs.get("ipv6_ra_mode")


def fail(walk: Walk, node: str, what: str, why: str) -> None:
    walk.fail(walk.hop(node or None, what), Problem.NO_ADDRESS_FAMILY, why)
