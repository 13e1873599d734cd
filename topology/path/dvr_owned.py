"""A distributed router's gateway address, or its SNAT port (sg-), asked from a VM: answered in the
snat namespace.

The VM's own host's qrouter holds no gateway address; its policy rule for the VM's subnet sends what
is not routed locally to the subnet's SNAT port (sg-) in the snat namespace of the SNAT host, which
holds the gateway address on its qg- and answers itself (not SNATed, not forwarded out). Seen on the
lab: no packet reaches br-ex.

The SNAT port (sg-, network:router_centralized_snat) is on the VM's own subnet: the VM ARPs for it
and the packet is switched to it (no router on the way), across the tunnel to the SNAT host, where
the snat namespace answers on sg- itself.
"""

from __future__ import annotations

from topology.kinds import DeviceOwner, NamespacePrefix
from topology.path.model import Endpoint, Scenario
from topology.path.router import enter_router, policy_rules, router_namespace, split_devices
from topology.path.topo import Topo, network_of, router_label, router_port_on, router_ports, subnets_of, vm_ip
from topology.path.walk import Walk


def gateway_answers(walk: Walk, source: Endpoint, target: Endpoint, subnet: str, host: str | None) -> str:
    from topology.path.owned import answered  # owned imports this module

    topo, router = walk.topo, target.node
    name = router_label(topo, router)
    ns = router_namespace(walk, router, NamespacePrefix.QROUTER, host, walk.hops[-1])
    enter_router(
        walk, router, router_port_on(topo, router, subnet), host, f"qr- of distributed router {name} on {host}"
    )
    snat_ports = [p for p in router_ports(topo, router, DeviceOwner.ROUTER_SNAT) if subnet in subnets_of(topo, p)]
    sg_ip = vm_ip(topo, snat_ports[0]) if snat_ports else "?"
    hop = walk.hop(ns, f"qrouter on {host} routes it by policy to the SNAT port {sg_ip} of its subnet", host=host)
    hop.evidence = policy_rules(topo, ns, ".")
    snat = router_namespace(walk, router, NamespacePrefix.SNAT, None, hop)
    if snat is None:
        return Scenario.TO_ROUTER
    snat_host = topo.nodes[snat].get("host")
    walk.br_int(host or "?", f"back on br-int, toward sg- {sg_ip} on {snat_host}")
    walk.cross(host, snat_host, network_of(topo, source.node), f" (the source MAC becomes {host}'s DVR MAC)")
    entered = enter_router(
        walk, router, snat_ports[0] if snat_ports else None, snat_host, f"sg- of router {name} receives it"
    )
    gateway = next(iter(router_ports(topo, router, DeviceOwner.ROUTER_GATEWAY)), None)
    answer = walk.hop(
        snat,
        f"the snat namespace on {snat_host} answers: {target.ip} is router {name}'s gateway address, on qg- "
        "(delivered to the router itself: not SNATed, not forwarded out)",
        host=snat_host,
    )
    if answer.status == "ok" and entered.status == "fail":
        answer.status = "unknown"
    answered(walk, answer, split_devices(topo, gateway, snat_host)[1] if gateway else None, target.ip)
    return Scenario.TO_ROUTER


def snat_port_answers(walk: Walk, source: Endpoint, target: Endpoint, sg: str, subnet: str, host: str | None) -> str:
    """To the router's sg- on the VM's own subnet: switched on br-int (on-link), answered in snat-."""
    from topology.path.owned import answered, subnet_label

    topo, router, address = walk.topo, target.node, target.ip
    name = router_label(topo, router)
    if subnet not in subnets_of(topo, sg):
        walk.hop(
            sg,
            f"{address} is router {name}'s SNAT port (sg-) on another subnet "
            f"({subnet_label(topo, sg_subnet(topo, sg))}): routed there through the router, not walked",
            status="unknown",
        )
        return Scenario.TO_ROUTER
    walk.br_int(
        host or "?",
        f"switches it within the network's local VLAN to router {name}'s SNAT port (sg-): {address} is on-link "
        "(no router on the way)",
    )
    snat = router_namespace(walk, router, NamespacePrefix.SNAT, None, walk.hops[-1])
    if snat is None:
        return Scenario.TO_ROUTER
    snat_host = topo.nodes[snat].get("host")
    walk.cross(host, snat_host, network_of(topo, source.node))
    entered = enter_router(walk, router, sg, snat_host, f"sg- of router {name} receives it")
    hop = walk.hop(
        snat,
        f"the snat namespace on {snat_host} answers: {address} is router {name}'s SNAT port (sg-) on "
        f"{subnet_label(topo, subnet)}, its own address (not SNATed, not forwarded)",
        host=snat_host,
    )
    if hop.status == "ok" and entered.status == "fail":
        hop.status = "unknown"
    answered(walk, hop, split_devices(topo, sg, snat_host)[1], address)
    return Scenario.TO_ROUTER


def sg_subnet(topo: Topo, sg: str) -> str | None:
    return next(iter(subnets_of(topo, sg)), None)
