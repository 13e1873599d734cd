"""Router legs: into and out of a router's namespace (qr-, qg-, sg-, fg-), its NAT rules, its
gateway, and which router serves a port."""

from __future__ import annotations

from topology import graph as g
from topology.drift import orphan_fix, orphan_gateway
from topology.kinds import DeviceOwner, EdgeKind, NodeKind
from topology.path import ha
from topology.path.context import EastWest
from topology.path.family import family_subnets_first
from topology.path.model import Hop, Problem, iptables_evidence
from topology.path.topo import (
    Topo,
    namespaces_of,
    network_of,
    port_ips_of,
    router_label,
    router_port_on,
    router_ports,
    routers_of_subnet,
    subnets_of,
)
from topology.path.walk import Walk

# The device Neutron plugs a router-side port as, by the port's owner (qr- for the rest).
DEVICE_PREFIX_OF_OWNER = {
    DeviceOwner.ROUTER_GATEWAY: "qg-",
    DeviceOwner.ROUTER_SNAT: "sg-",
    DeviceOwner.FIP_AGENT_GATEWAY: "fg-",
}


def split_devices(topo: Topo, port: str, host: str | None) -> tuple[str | None, str | None]:
    """A router/DHCP port's device on br-int (outer) and inside its namespace (inner).

    With ovs_use_veth the two are a veth pair (tap... on br-int, qr-... inside); otherwise
    one OVS internal port that lives in the namespace is both.
    """
    outer = inner = None
    for node_id in topo.targets(port, EdgeKind.BINDS):
        node = topo.nodes[node_id]
        if node["kind"] != NodeKind.IFACE or (host is not None and node.get("host") != host):
            continue
        if node["attrs"].get("namespace"):
            inner = node_id
        else:
            outer = node_id
    if outer is None and inner is not None and topo.attrs(inner).get("ovs_bridge"):
        outer = inner
    return outer, inner


def device_name(topo: Topo, port: str, inner: str | None) -> str:
    """A router-side device's name: its own, else the prefix Neutron gives the port's owner + port id[:11]."""
    if inner is not None:
        return str(topo.nodes[inner]["label"])
    return g.device_name(DEVICE_PREFIX_OF_OWNER.get(topo.attrs(port).get("device_owner") or "", "qr-"), port)


def router_namespace(walk: Walk, router: str, prefix: str, host: str | None, hop: Hop) -> str | None:
    """The router's ``prefix`` namespace (qrouter-/snat-) on ``host`` (any host if None)."""
    found = [
        n for n in namespaces_of(walk.topo, router, prefix) if host is None or walk.topo.nodes[n].get("host") == host
    ]
    if found and host is None and ha.is_ha(walk.topo, router, found):
        # An HA router's instances: the one keepalived made master (it holds the VIPs) forwards.
        active = ha.choose(walk, router, found)
        if active is None:
            return None
        found = [active]
    if found:
        # The namespace outlives its agent: a dead L3 agent no longer follows changes there.
        walk.check_agent(str(walk.topo.nodes[found[0]].get("host")), "L3 agent", hop)
        return found[0]
    at = host or router_bound_host(walk.topo, router)
    if host is None and at is not None:
        # A legacy router (or a DVR router's SNAT part) lives on one L3 agent's host: its ports are bound there.
        hop = walk.hop(
            g.host_id(at),
            f"router {router_label(walk.topo, router)}'s {prefix} namespace "
            f"should be on {at}, where its ports are bound",
            host=at,
        )
    walk.fail(
        hop,
        Problem.NAMESPACE_MISSING,
        f"{prefix}{g.id_key(router)} of router "
        f"{router_label(walk.topo, router)} is missing on {at or 'any host'}: is the L3 agent there alive "
        "and is the router scheduled to it?",
    )
    if at is not None:
        walk.check_agent(at, "L3 agent", hop)
    return None


def router_bound_host(topo: Topo, router: str) -> str | None:
    """The host a router's bound ports name (a legacy router's L3 agent host; DVR's SNAT host)."""
    for kind in (EdgeKind.ROUTER_INTERFACE, EdgeKind.MEMBER):
        for port in topo.targets(router, kind):
            host = topo.attrs(port).get("binding_host_id")
            if host and topo.attrs(port).get("device_owner") != DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED:
                return str(host)
    return None


def enter_router(walk: Walk, router: str, port: str | None, host: str | None, what: str) -> Hop:
    topo = walk.topo
    if port is None:
        hop = walk.hop(router, f"router {router_label(topo, router)}")
        walk.fail(hop, Problem.SUBNET_NO_ROUTER, f"router {router_label(topo, router)} has no interface here")
        return hop
    outer, inner = split_devices(topo, port, host)
    if outer != inner:
        walk.vlan_hop(
            outer, g.device_name("tap", port), host, network_of(topo, port), "br-int hands it to the router's port"
        )
    return walk.device_hop(inner, device_name(topo, port, inner), host, what)


def leave_router(walk: Walk, port: str | None, host: str | None, what: str) -> Hop:
    topo = walk.topo
    if port is None:
        return walk.hop(None, what, status="unknown", host=host)
    outer, inner = split_devices(topo, port, host)
    hop = walk.device_hop(inner, device_name(topo, port, inner), host, what)
    if outer != inner:
        walk.vlan_hop(outer, g.device_name("tap", port), host, network_of(topo, port), "back on br-int")
    return hop


def route_inside(walk: Walk, ns: str | None, ew: EastWest, router_host: str | None) -> str | None:
    """In on the source subnet's qr-, routed in the qrouter, out on the destination's; the port it leaves by."""
    topo = walk.topo
    enter_router(
        walk,
        ew.router,
        router_port_on(topo, ew.router, ew.src_subnet),
        router_host,
        f"qr- of router {ew.name} ({topo.nodes[ew.src_subnet]['label']}'s gateway)",
    )
    walk.hop(ns, f"qrouter on {router_host} routes it to {topo.nodes[ew.dst_subnet]['label']}", host=router_host)
    leaving = router_port_on(topo, ew.router, ew.dst_subnet)
    leave_router(walk, leaving, router_host, f"leaves on the qr- of {topo.nodes[ew.dst_subnet]['label']}")
    return leaving


def nat_hop(
    walk: Walk,
    namespace: str | None,
    host: str | None,
    what: str,
    needles: tuple[str, ...],
    code_if_missing: str | None = None,
    missing: str = "",
) -> Hop:
    hop = walk.hop(namespace, what, host=host)
    if namespace is None or host is None:
        return hop
    rules = walk.nat_rules(host, walk.topo.nodes[namespace]["label"], *needles)
    if rules:
        hop.evidence = iptables_evidence(rules[:2])
    elif code_if_missing:
        walk.fail(hop, code_if_missing, missing)
    return hop


def policy_rules(topo: Topo, namespace: str | None, needle: str) -> str:
    rules = topo.attrs(namespace).get("rules", []) if namespace else []
    text = [
        f"from {r.get('from')} lookup {r.get('table')}"
        for r in rules
        if needle and r.get("from") and needle in str(r.get("from"))
    ]
    return "ip rule: " + "; ".join(text) if text else ""


# --------------------------------------------------------------------------- which router, which gateway


def serving_router(walk: Walk, port: str, prefer: str | None = None) -> tuple[str | None, str | None]:
    """The router on the port's subnet, and that subnet.

    A subnet can be on several routers (one through its gateway IP, others through a port of their
    own): ``prefer`` (a floating IP's router_id) wins, then the router holding the subnet's gateway IP,
    the instances' default route.
    """
    for subnet in family_subnets_first(walk.topo, port, walk.family):
        routers = routers_of_subnet(walk.topo, subnet)
        if prefer in routers:
            return prefer, subnet
        gateway_ip = walk.topo.attrs(subnet).get("gateway_ip")
        gateways = [
            r
            for r in routers
            if gateway_ip and gateway_ip in port_ips_of(walk.topo, router_port_on(walk.topo, r, subnet))
        ]
        if routers:
            return (gateways or routers)[0], subnet
    subnets = subnets_of(walk.topo, port)
    return None, (subnets[0] if subnets else None)


def gateway_network(walk: Walk, router: str) -> str | None:
    """The external network the router's packets leave to: its gateway's, or an orphan gateway port's
    while the node still routes out of its qg- (the walk then follows the packets, see :func:`gateway_leg`)."""
    network = walk.topo.attrs(router).get("gateway_network_id")
    if not network:
        orphan = orphan_gateway(walk.topo, router)
        if orphan is not None:
            return orphan.network
        hop = walk.hop(router, f"router {router_label(walk.topo, router)} looks for its external gateway")
        walk.fail(
            hop,
            Problem.ROUTER_NO_GATEWAY,
            f"router {router_label(walk.topo, router)} has no external "
            "gateway: `openstack router set --external-gateway <external network> <router>`",
        )
        return None
    return g.network_id(network)


def router_external(topo: Topo, router: str) -> str | None:
    """The router's external network id, as its gateway says or as an orphan gateway port still routes."""
    network = topo.attrs(router).get("gateway_network_id")
    orphan = None if network else orphan_gateway(topo, router)
    return network or (g.id_key(orphan.network) if orphan is not None else None)


def gateway_port(walk: Walk, router: str, host: str | None, what: str) -> str | None:
    """The router's gateway port, when its qg- device is on ``host``; else the walk fails there (None)."""
    gateway_ports = router_ports(walk.topo, router, DeviceOwner.ROUTER_GATEWAY)
    if not gateway_ports:
        hop = walk.hop(router, "looks for its gateway port")
        walk.fail(hop, Problem.NO_QG_PORT, f"router {router_label(walk.topo, router)} has no gateway port")
        return None
    _, inner = split_devices(walk.topo, gateway_ports[0], host)
    if inner is None:
        hop = walk.hop(None, what, host=host)
        walk.fail(
            hop,
            Problem.NO_QG_PORT,
            f"no {g.device_name('qg-', gateway_ports[0])} on {host}: the L3 agent "
            "has not plugged the router's gateway (is it alive? is br-int there?)",
        )
        return None
    return gateway_ports[0]


def orphaned(walk: Walk, router: str, hop: Hop) -> None:
    """The drift on the qg- hop of a router whose gateway Neutron forgot while its node still routes by it."""
    orphan = orphan_gateway(walk.topo, router)
    if orphan is None or hop.node != orphan.device:
        return
    uuid = g.id_key(orphan.port)
    message = (
        f"Neutron says router {router_label(walk.topo, router)} has no external gateway, but its gateway "
        f"port {uuid} is left (orphaned) and {walk.topo.nodes[orphan.device]['label']} still routes out "
        f"of the router: packets still leave by it. Fix: {orphan_fix(uuid)}"
    )
    if hop.status == "ok":
        hop.status = "warn"
    hop.evidence = (hop.evidence + " " if hop.evidence else "") + "drift: " + message
    walk.problem(Problem.GATEWAY_PORT_ORPHANED, message, hop.node, severity="warn")
