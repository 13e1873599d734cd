"""ML2/OVS walks with legacy (centralized) routers: switched on one network, routed in the qrouter
namespace of one L3 agent's host, out and in through its qg- and br-ex."""

from __future__ import annotations

from topology.kinds import NamespacePrefix
from topology.path import routed6
from topology.path.context import Arriving, EastWest, Leaving
from topology.path.external import external_in, gateway_leg
from topology.path.instance import vm_in, vm_out
from topology.path.model import Endpoint, Problem, Scenario
from topology.path.router import (
    enter_router,
    gateway_port,
    leave_router,
    nat_hop,
    orphaned,
    route_inside,
    router_namespace,
)
from topology.path.topo import network_of, route_router
from topology.path.walk import Walk


def same_network(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    host = vm_out(walk, source.node)
    walk.br_int(host or "?", "switches it within the network's local VLAN")
    dst_host = walk.topo.attrs(target.node).get("binding_host_id") or None
    walk.cross(host, dst_host, network_of(walk.topo, source.node))
    vm_in(walk, target.node, dst_host, source.ip)
    return Scenario.SAME_NETWORK


def east_west(walk: Walk, source: Endpoint, target: Endpoint, router: str | None = None) -> str:
    """Routed by the one qrouter namespace of a legacy router, on its L3 agent's host."""
    topo = walk.topo
    ew = EastWest.of(
        topo, source.node, target.node, router or route_router(topo, source.node, target.node) or "", walk.family
    )
    host = vm_out(walk, source.node)
    walk.br_int(host or "?", f"switches it to the gateway of its subnet, router {ew.name}'s qr- port")
    ns = router_namespace(walk, ew.router, NamespacePrefix.QROUTER, None, walk.hops[-1])
    if ns is None:
        return Scenario.EAST_WEST
    router_host = topo.nodes[ns].get("host")
    walk.cross(host, router_host, network_of(topo, source.node))
    route_inside(walk, ns, ew, router_host)
    walk.cross(router_host, ew.dst_host, network_of(topo, target.node))
    vm_in(walk, target.node, ew.dst_host, source.ip)
    return Scenario.EAST_WEST


def router_out(walk: Walk, out: Leaving) -> bool:
    """To the qrouter on the L3 agent's host, SNAT (or the floating IP's), out on qg-; False if it stops."""
    topo = walk.topo
    name = topo.nodes[out.router]["label"]
    walk.br_int(out.host or "?", f"switches it toward the subnet's gateway, router {name}'s qr- port")
    ns = router_namespace(walk, out.router, NamespacePrefix.QROUTER, None, walk.hops[-1])
    if ns is None:
        return False  # no router to route it: nothing further to walk
    router_host = topo.nodes[ns].get("host")
    walk.cross(out.host, router_host, network_of(topo, out.port))
    enter_router(walk, out.router, out.router_port(topo), router_host, f"qr- of router {name}: the gateway receives it")
    if routed6.is_ipv6(out.ip):
        routed6.advertises(walk, ns, router_host, out.router, out.subnet)
        routed6.routed_out(walk, ns, router_host, out.router)
    elif out.fip_address:
        nat_hop(
            walk,
            ns,
            router_host,
            f"qrouter routes it to the default gateway and SNATs {out.ip} to its floating IP {out.fip_address}",
            (f"-s {out.ip}/32", f"--to-source {out.fip_address}"),
            Problem.FIP_NOT_ASSOCIATED,
            f"no SNAT rule for {out.ip} -> {out.fip_address} in the qrouter "
            "namespace: the L3 agent has not applied the floating IP",
        )
    else:
        nat_hop(
            walk,
            ns,
            router_host,
            "qrouter routes it to the default gateway and SNATs it to the router's gateway IP",
            ("-j SNAT", "-o qg-"),
            Problem.ROUTER_NO_GATEWAY,
            "no SNAT rule in the qrouter namespace (is enable_snat off?)",
        )
    gateway_leg(walk, out.router, router_host, out.external, "leaves the router on qg-")
    return True


def fip_in(walk: Walk, into: Arriving) -> str:
    """In through br-ex and the qg- that holds the floating IP, DNAT in the qrouter, out on qr- to the VM."""
    topo = walk.topo
    name = topo.nodes[into.router]["label"]
    ns = router_namespace(walk, into.router, NamespacePrefix.QROUTER, None, walk.hops[-1])
    if ns is None:
        return Scenario.INBOUND_FIP
    router_host = topo.nodes[ns].get("host")
    external_in(walk, router_host, into.external, into.address)
    what = f"qg- of router {name} answers ARP for {into.address} (it holds the floating IP)"
    gateway = gateway_port(walk, into.router, router_host, what)
    if gateway is None:
        return Scenario.INBOUND_FIP
    hop = enter_router(walk, into.router, gateway, router_host, what)
    orphaned(walk, into.router, hop)
    if into.address and f"{into.address}/32" not in topo.attrs(hop.node).get("addresses", []) and hop.status == "ok":
        hop.status = "warn"
        hop.evidence += f" ({into.address}/32 not on qg- yet)"
    nat_hop(
        walk,
        ns,
        router_host,
        f"qrouter DNATs {into.address} to {into.fixed}",
        ("PREROUTING", f"-d {into.address}/32", f"--to-destination {into.fixed}"),
        Problem.FIP_NOT_ASSOCIATED,
        f"no DNAT rule for {into.address} in the qrouter namespace: the L3 agent has not applied the floating IP",
    )
    leave_router(walk, into.router_port(topo), router_host, "qr- hands it to the tenant network")
    walk.cross(router_host, into.vm_host, network_of(topo, into.port))
    vm_in(walk, into.port, into.vm_host, into.src_ip)
    return Scenario.INBOUND_FIP
