"""IPv6 through a legacy router: routed, never NATed (Neutron has no IPv6 SNAT, no IPv6 floating IP).

Out: the VM's own global address leaves by the qrouter's IPv6 default route on qg-, the one the L3
agent sets from the external IPv6 subnet's gateway. In: a host on the outside sends to the VM's own
address; the upstream router must route the tenant prefix to the router's IPv6 gateway address
(Neutron announces none without BGP dynamic routing or prefix delegation), the qrouter routes it
out of the qr- on the VM's IPv6 subnet, and the VM's security groups judge ICMPv6/TCP from the
outside address itself. A distributed router's way in is the same through its snat namespace and the
sg- on the VM's subnet (routed_in); its ways out are topology/path/dvr6.py's.
"""

from __future__ import annotations

from topology import graph as g
from topology.kinds import NamespacePrefix
from topology.path.external import external_in, outside_hop
from topology.path.family import family
from topology.path.instance import vm_in
from topology.path.lookup import ANY, describe_route, lookup, route_to, routes_of
from topology.path.model import Endpoint, Hop, JsonDict, Problem, Scenario
from topology.path.router import enter_router, gateway_port, leave_router, router_namespace, serving_router
from topology.path.topo import Topo, is_distributed, network_of, router_label, router_port_on, snat_port_on
from topology.path.walk import Walk

DEFAULT6 = ANY[6]


def is_ipv6(address: str | None) -> bool:
    return family(address) == 6


def routes6(topo: Topo, namespace: str) -> list[JsonDict]:
    return routes_of(topo, namespace, 6)


def default_route6(topo: Topo, namespace: str) -> JsonDict | None:
    return next((r for r in routes6(topo, namespace) if r.get("dst") in (DEFAULT6, "default")), None)


def lookup6(
    topo: Topo, namespace: str, src: str | None, dst: str, iif: str | None = None
) -> tuple[JsonDict | None, JsonDict | None]:
    """The kernel's IPv6 route lookup in ``namespace`` (topology/path/lookup.py)."""
    return lookup(topo, namespace, src, dst, iif)


def advertises(walk: Walk, namespace: str, host: str | None, router: str, subnet: str | None) -> Hop:
    """The VM's IPv6 default route (and a SLAAC address) come from the router's advertisements: radvd in
    its qrouter namespace, for a subnet whose ``ipv6_ra_mode`` asks Neutron's router to advertise it."""
    topo = walk.topo
    attrs = topo.attrs(subnet) if subnet else {}
    label = topo.nodes[subnet]["label"] if subnet in topo.nodes else "the VM's subnet"
    name = router_label(topo, router)
    hop = walk.hop(namespace, f"router {name} advertises {label} (IPv6 router advertisements)", host=host)
    ra_mode, address_mode = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
    if not ra_mode:
        return hop  # Neutron attaches no such subnet to a router (topology/path/family.py says why)
    if host is None or not walk.reported(host):
        return hop
    radvd = topo.attrs(namespace).get("radvd")
    if not radvd:
        walk.fail(
            hop,
            Problem.NO_ROUTER_ADVERTISEMENT,
            f"no radvd runs in {topo.nodes[namespace]['label']} on {host}: the VMs of {label} (ipv6_ra_mode "
            f"{ra_mode}) hear no router advertisement, so they have no IPv6 default route"
            f"{' and no SLAAC address' if address_mode == 'slaac' else ''} (is radvd installed? the L3 agent's log)",
        )
        return hop
    hop.evidence = (
        f"radvd (pid {radvd.get('pid')}) with {radvd.get('config')}: {ra_mode}, {address_mode or 'no address mode'}"
    )
    return hop


def said(where: str) -> str:
    """How a hop names the router's namespace ``where`` ("qrouter", or a DVR router's "snat")."""
    return "the snat namespace" if where == "snat" else where


def routed_out(walk: Walk, namespace: str, host: str | None, router: str, where: str = "qrouter") -> Hop:
    """The router namespace's hop (``where``: "qrouter", or a DVR router's "snat") for an IPv6 packet
    to the outside: its IPv6 default route, no NAT."""
    topo = walk.topo
    hop = walk.hop(
        namespace, f"{said(where)} routes IPv6 to its default gateway, without NAT (IPv6 is never NATed)", host=host
    )
    if host is None or not walk.reported(host):
        return hop
    route = default_route6(topo, namespace)
    if route is None:
        walk.fail(
            hop,
            Problem.ROUTER_NO_GATEWAY,
            f"router {router_label(topo, router)}'s {where} namespace has no IPv6 default route: the external "
            "network's IPv6 subnet gives no gateway_ip (or the L3 agent has not set it)",
        )
    else:
        hop.evidence = describe_route(route)
    return hop


def routed_in(walk: Walk, source: Endpoint, target: Endpoint, router: str | None = None) -> str:
    """From a host on the outside to a VM's own IPv6 address, through its router's qg- and the port on the
    VM's subnet: a legacy router's qrouter and qr-; a distributed router's snat namespace and sg- (DVR routes
    IPv6 in there, then the tunnel to the VM's host: topology/path/dvr6.py)."""
    topo, port = walk.topo, target.node
    serving, subnet = serving_router(walk, port)
    router = router or serving
    address = target.ip or "?"
    if router is None:
        hop = walk.hop(subnet or port, f"{address} is on a subnet no router is attached to")
        walk.fail(hop, Problem.SUBNET_NO_ROUTER, "the outside reaches a tenant subnet only through a router")
        return Scenario.INBOUND_ROUTED
    distributed = is_distributed(topo, router)
    scenario = Scenario.INBOUND_ROUTED_DVR if distributed else Scenario.INBOUND_ROUTED
    gateway = [str(i.get("ip_address")) for i in topo.attrs(router).get("external_fixed_ips") or []]
    gateway6 = next((a for a in gateway if is_ipv6(a)), "its IPv6 gateway address")
    external = g.network_id(str(topo.attrs(router).get("gateway_network_id")))
    outside_hop(walk, external, source.ip, "a host on the outside,")
    name = router_label(topo, router)
    prefix = NamespacePrefix.SNAT if distributed else NamespacePrefix.QROUTER
    ns = router_namespace(walk, router, prefix, None, walk.hops[-1])
    if ns is None:
        return scenario
    host = topo.nodes[ns].get("host")
    external_in(walk, host, external, address)
    whose = f"distributed router {name} in the snat namespace" if distributed else f"router {name}"
    what = (
        f"qg- of {whose}: the upstream router sends {address} to {gateway6} (it must route the tenant "
        "prefix there: Neutron announces no IPv6 route)"
    )
    gateway_port_id = gateway_port(walk, router, host, what)
    if gateway_port_id is None:
        return scenario
    enter_router(walk, router, gateway_port_id, host, what)
    routed_to_subnet(walk, ns, host, router, subnet, address, "snat" if distributed else "qrouter")
    if distributed:
        leave_router(walk, snat_port_on(topo, router, subnet), host, "sg- hands it to the tenant network, on link")
    else:
        leave_router(walk, router_port_on(topo, router, subnet or ""), host, "qr- hands it to the tenant network")
    vm_host = topo.attrs(port).get("binding_host_id") or None
    walk.cross(host, vm_host, network_of(topo, port))
    vm_in(walk, port, vm_host, source.ip)
    return scenario


def routed_to_subnet(
    walk: Walk, ns: str, host: str | None, router: str, subnet: str | None, address: str, where: str = "qrouter"
) -> None:
    """The router namespace's (``where``: "qrouter" or "snat") route to the VM's subnet: on link on one of
    its ports (qr-, or a DVR snat namespace's sg-)."""
    topo = walk.topo
    label = topo.nodes[subnet]["label"] if subnet in topo.nodes else "the VM's subnet"
    port_kind = "sg-" if where == "snat" else "qr-"
    hop = walk.hop(ns, f"{said(where)} routes {address} to {label}, without NAT", host=host)
    if host is None or not walk.reported(host):
        return
    route = route_to(topo, ns, address)
    if route is None or route.get("dst") in (DEFAULT6, "default"):
        walk.fail(
            hop,
            Problem.NO_ROUTE,
            f"router {router_label(topo, router)}'s {where} namespace has no IPv6 route to {address}: "
            f"no {port_kind} holds an address of {label}",
        )
        return
    hop.evidence = describe_route(route)
