"""Hairpin: a VM's packet to a floating IP of its own (legacy) router, walked inside the router.

Neutron's L3 agent DNATs a floating IP in the qrouter's PREROUTING on any interface, not only qg-,
so a packet that comes in on qr- to a floating IP of the same router is DNATed there, routed back
out on the destination subnet's qr- and SNATed on its way (POSTROUTING, neutron-l3-agent-snat):
to the sender's own floating IP if it has one (float-snat), else to the router's gateway address
(the rule `-m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT -j SNAT`). It never leaves by
qg-. The destination's security groups then judge that address, not the sender's fixed IP.
"""

from __future__ import annotations

from dataclasses import dataclass

from topology import graph as g
from topology.kinds import NamespacePrefix
from topology.path.instance import vm_in, vm_out
from topology.path.model import Endpoint, Problem, Scenario
from topology.path.router import enter_router, leave_router, nat_hop, router_namespace, serving_router
from topology.path.topo import Topo, fip_of_port, network_of, router_label, router_port_on, subnets_of, vm_ip
from topology.path.walk import Walk


@dataclass(frozen=True)
class SourceNat:
    """The address a routed packet's source carries after the router's SNAT, and why."""

    address: str | None
    why: str
    needles: tuple[str, ...]  # what the SNAT rule in iptables-save holds


def gateway_address(topo: Topo, router: str) -> str | None:
    fixed = topo.attrs(router).get("external_fixed_ips") or []
    return str(fixed[0].get("ip_address")) if fixed and fixed[0].get("ip_address") else None


def source_after_nat(topo: Topo, port: str, router: str, hairpin: bool) -> SourceNat:
    """The sender's floating IP on ``router`` if it has one, else the router's gateway address."""
    fip = fip_of_port(topo, port)
    attrs = topo.attrs(fip) if fip else {}
    ip = vm_ip(topo, port)
    if fip and attrs.get("floating_ip_address") and g.router_id(str(attrs.get("router_id") or "")) == router:
        address = str(attrs["floating_ip_address"])
        why = f"the router SNATs {ip} to its floating IP"
        return SourceNat(address, why, (f"-s {ip}/32", f"--to-source {address}"))
    gateway = gateway_address(topo, router)
    rule = ("--ctstate DNAT", f"--to-source {gateway}") if hairpin else ("-o qg-", f"--to-source {gateway}")
    return SourceNat(gateway, f"the router SNATs {ip} to its gateway address", rule)


def hairpin_router(walk: Walk, source: Endpoint, fip: str) -> str | None:
    """The legacy router that holds both the source's subnet and the floating IP: the hairpin's; else None."""
    topo = walk.topo
    attrs = topo.attrs(fip)
    if source.kind != "port" or not attrs.get("port_id") or g.port_id(str(attrs["port_id"])) not in topo.nodes:
        return None
    router, _ = serving_router(walk, source.node)
    if router is None or router != g.router_id(str(attrs.get("router_id") or "")):
        return None
    if topo.attrs(router).get("distributed"):
        return None  # DVR DNATs only what comes in on rfp-: walked out and back in (route.to_fip)
    return router


def hairpin(walk: Walk, source: Endpoint, target: Endpoint, router: str) -> str:
    """In on qr-, DNAT and SNAT in the qrouter, back out on qr- to the floating IP's port."""
    topo = walk.topo
    attrs = topo.attrs(target.node)
    port, name = g.port_id(str(attrs["port_id"])), router_label(topo, router)
    fixed = str(attrs.get("fixed_ip_address") or vm_ip(topo, port))
    host = vm_out(walk, source.node)
    walk.br_int(host or "?", f"switches it to the gateway of its subnet, router {name}'s qr- port")
    ns = router_namespace(walk, router, NamespacePrefix.QROUTER, None, walk.hops[-1])
    if ns is None:
        return Scenario.HAIRPIN
    router_host = topo.nodes[ns].get("host")
    walk.cross(host, router_host, network_of(topo, source.node))
    _, src_subnet = serving_router(walk, source.node)
    enter_router(
        walk, router, router_port_on(topo, router, src_subnet or ""), router_host, f"qr- of router {name} receives it"
    )
    nat_hop(
        walk,
        ns,
        router_host,
        f"qrouter DNATs {target.ip} to {fixed} (PREROUTING, on any interface: the floating IP is its own)",
        ("PREROUTING", f"-d {target.ip}/32", f"--to-destination {fixed}"),
        Problem.FIP_NOT_ASSOCIATED,
        f"no DNAT rule for {target.ip} in the qrouter namespace: the L3 agent has not applied the floating IP",
    )
    seen = source_after_nat(topo, source.node, router, hairpin=True)
    nat_hop(
        walk,
        ns,
        router_host,
        f"qrouter routes it back to the tenant network and SNATs {source.ip} to {seen.address} "
        "(hairpin: it never leaves by qg-)",
        seen.needles,
        Problem.ROUTER_NO_GATEWAY,
        f"no SNAT rule {' '.join(seen.needles)} in the qrouter namespace (has the router a gateway?)",
    )
    dst_subnet = next((s for s in subnets_of(topo, port) if router_port_on(topo, router, s)), "")
    label = topo.nodes.get(dst_subnet, {}).get("label", "the destination's subnet")
    leave_router(walk, router_port_on(topo, router, dst_subnet), router_host, f"leaves on the qr- of {label}")
    dst_host = topo.attrs(port).get("binding_host_id") or None
    walk.cross(router_host, dst_host, network_of(topo, port))
    vm_in(walk, port, dst_host, seen.address, seen.why)
    return Scenario.HAIRPIN
