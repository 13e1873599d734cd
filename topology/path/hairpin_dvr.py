"""Hairpin on a distributed router whose sender has a floating IP, to a floating IP bound on the
sender's own host (its own, or a neighbour's): walked where it really goes.

DVR's qrouter DNATs a floating IP only on what comes in on rfp- (`-d <fip>/32 -i rfp-... -j DNAT`),
so a packet from qr- to a floating IP is not DNATed there: the sender's policy rule (from its fixed
IP, the fip table) sends it to rfp- with its source SNATed to its floating IP, the fip namespace holds
a /32 route for every floating IP of the host over fpr-, and hands it straight back into the qrouter
on rfp-, where it is DNATed and routed out on qr-. It never reaches fg- or br-ex. A sender without a
floating IP leaves by the snat namespace's qg- and comes back in by fg- (route.to_fip).
"""

from __future__ import annotations

from topology import graph as g
from topology.kinds import NamespacePrefix
from topology.path.fipns import rfp_fpr, rfp_fpr_out
from topology.path.hairpin import source_after_nat
from topology.path.instance import vm_in, vm_out
from topology.path.model import EVIDENCE_PARTS, Endpoint, Problem, Scenario
from topology.path.router import enter_router, leave_router, nat_hop, policy_rules, router_namespace, serving_router
from topology.path.topo import (
    fip_network,
    fip_of_port,
    is_distributed,
    namespace_on,
    router_label,
    router_port_on,
    subnets_of,
    vm_ip,
)
from topology.path.walk import Walk


def local_fip_router(walk: Walk, source: Endpoint, fip: str) -> str | None:
    """The distributed router of a sender with a floating IP, when ``fip``'s port is bound on its host."""
    topo = walk.topo
    attrs = topo.attrs(fip)
    if source.kind != "port" or fip_of_port(topo, source.node) is None or not attrs.get("port_id"):
        return None
    target = g.port_id(str(attrs["port_id"]))
    router, _ = serving_router(walk, source.node)
    if router is None or not is_distributed(topo, router) or target not in topo.nodes:
        return None
    if router != g.router_id(str(attrs.get("router_id") or "")):
        return None
    host = topo.attrs(source.node).get("binding_host_id")
    return router if host and host == topo.attrs(target).get("binding_host_id") else None


def local_fip(walk: Walk, source: Endpoint, target: Endpoint, router: str) -> str:
    topo = walk.topo
    attrs = topo.attrs(target.node)
    port, name = g.port_id(str(attrs["port_id"])), router_label(topo, router)
    fixed = str(attrs.get("fixed_ip_address") or vm_ip(topo, port))
    host = vm_out(walk, source.node)
    walk.br_int(host or "?", f"switches it to the distributed router {name}'s qr- port on this host")
    ns = router_namespace(walk, router, NamespacePrefix.QROUTER, host, walk.hops[-1])
    _, src_subnet = serving_router(walk, source.node)
    enter_router(
        walk, router, router_port_on(topo, router, src_subnet or ""), host, f"qr- of distributed router {name}"
    )
    seen = source_after_nat(topo, source.node, router, hairpin=False)
    snat = nat_hop(
        walk,
        ns,
        host,
        f"qrouter's policy routing sends {source.ip} to the fip namespace and SNATs it to {seen.address} "
        f"(no DNAT here: the qrouter DNATs {target.ip} only on what comes in on rfp-)",
        seen.needles,
        Problem.FIP_NOT_ASSOCIATED,
        f"no SNAT rule for {source.ip} -> {seen.address} in the qrouter namespace on {host}",
    )
    snat.evidence = EVIDENCE_PARTS.join(x for x in (policy_rules(topo, ns, str(source.ip)), snat.evidence) if x)
    rfp_fpr_out(walk, router, host)
    fip_ns = namespace_on(topo, fip_network(topo, target.node), NamespacePrefix.FIP, host)
    routes = [r for r in (topo.attrs(fip_ns).get("routes", []) if fip_ns else []) if r.get("dst") == f"{target.ip}/32"]
    back = walk.hop(
        fip_ns, f"the fip namespace routes {target.ip} straight back over fpr- (never out by fg-)", host=host
    )
    if routes:
        back.evidence = f"route {routes[0]['dst']} via {routes[0].get('gateway')} dev {routes[0].get('dev')}"
    rfp, _ = rfp_fpr(topo, router, host)
    walk.device_hop(rfp, g.device_name("rfp-", router), host, "enters the qrouter again on rfp-")
    nat_hop(
        walk,
        ns,
        host,
        f"qrouter DNATs {target.ip} to {fixed} (it came in on rfp-)",
        ("PREROUTING", f"-d {target.ip}/32", f"--to-destination {fixed}"),
        Problem.FIP_NOT_ASSOCIATED,
        f"no DNAT rule for {target.ip} in the qrouter namespace on {host}",
    )
    dst_subnet = next((s for s in subnets_of(topo, port) if router_port_on(topo, router, s)), "")
    leave_router(walk, router_port_on(topo, router, dst_subnet), host, "qr- hands it to the tenant network")
    vm_in(walk, port, host, seen.address, seen.why)
    return Scenario.HAIRPIN_DVR
