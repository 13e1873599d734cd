"""ML2/OVS walks with distributed routers (DVR): routed in the qrouter namespace of the sending
host, SNAT in the snat namespace of the SNAT host, floating IPs through the host's fip namespace."""

from __future__ import annotations

import re

from topology import graph as g
from topology.kinds import NamespacePrefix
from topology.path.context import Arriving, EastWest, Leaving
from topology.path.external import external_in, gateway_leg
from topology.path.family import family, family_ip
from topology.path.fipns import fg_leg, rfp_fpr, rfp_fpr_out
from topology.path.instance import vm_in, vm_out
from topology.path.lookup import describe_lookup, lookup
from topology.path.model import EVIDENCE_PARTS, Endpoint, Hop, Problem, Scenario
from topology.path.router import enter_router, leave_router, nat_hop, policy_rules, route_inside, router_namespace
from topology.path.topo import namespace_on, network_of, route_router, router_label, snat_port_on
from topology.path.walk import Walk


def dvr_mac_rewrite(walk: Walk, host: str | None, qr_port: str | None) -> tuple[str, str] | None:
    """The host's DVR MAC and the br-tun flow (DVR_PROCESS table) that puts it on a routed packet.

    A distributed router's qr- MAC is the same on every host, so before a routed packet enters
    the tunnel br-tun replaces it with the sending host's own DVR MAC (`mod_dl_src`).
    """
    if host is None or qr_port is None:
        return None
    qr_mac = str(walk.topo.attrs(qr_port).get("mac_address") or "")
    if not qr_mac:
        return None
    for line in walk.topo.flows(host, "br-tun"):
        if f"dl_src={qr_mac}" not in line:
            continue
        found = re.search(r"mod_dl_src:([0-9a-f:]{17})|set_field:([0-9a-f:]{17})->eth_src", line)
        if found:
            return found.group(1) or found.group(2), line.strip()
    return None


def east_west(walk: Walk, source: Endpoint, target: Endpoint, router: str | None = None) -> str:
    """Routed by the distributed router's qrouter on the sending host; br-tun puts on its DVR MAC."""
    topo = walk.topo
    ew = EastWest.of(
        topo, source.node, target.node, router or route_router(topo, source.node, target.node) or "", walk.family
    )
    host = vm_out(walk, source.node)
    walk.br_int(host or "?", f"switches it to the gateway of its subnet, router {ew.name}'s qr- port")
    ns = router_namespace(walk, ew.router, NamespacePrefix.QROUTER, host, walk.hops[-1])
    leaving = route_inside(walk, ns, ew, host)
    rewrite = dvr_mac_rewrite(walk, host, leaving)
    mac, evidence, flows = (
        (f" {rewrite[0]}", f"DVR MAC {rewrite[0]}: {rewrite[1]}", [rewrite[1]]) if rewrite else ("", "", [])
    )
    walk.cross(
        host,
        ew.dst_host,
        network_of(topo, target.node),
        f" (br-tun rewrites the source MAC to {host}'s DVR MAC{mac})",
        evidence,
        flows,
    )
    if ew.dst_host != host:
        dvr_mac_restored(walk, str(ew.dst_host), target.node)
    vm_in(walk, target.node, ew.dst_host, source.ip)
    return Scenario.EAST_WEST_DVR


def dvr_mac_restored(walk: Walk, host: str, port: str) -> None:
    """The receiving br-int puts the destination subnet's gateway MAC back in place of the DVR MAC: said on
    the br-int hop the tunnel crossing ended on (the one hop of that bridge, whose entry is patch-int),
    checked against its DVR_TO_SRC_MAC flow for the destination port's MAC."""
    restored = "replaces the DVR MAC with the destination subnet's gateway MAC"
    last = walk.hops[-1] if walk.hops else None
    if last is not None and last.node == g.bridge_id(host, "br-int"):
        last.what = f"br-int on {host}: {restored}"
        hop = last
    else:
        hop = walk.br_int(host, restored)
    flows = walk.topo.flows(host, "br-int")
    mac = str(walk.topo.attrs(port).get("mac_address") or "")
    if not mac or not any("table=1," in line for line in flows):
        return  # no DVR_TO_SRC_MAC table reported (no flows, or not a DVR host's): nothing to check against
    found = next((line.strip() for line in flows if to_src_mac(line, mac)), None)
    if found is not None:
        hop.evidence = f"DVR_TO_SRC_MAC: {found}"
        hop.flows = [found]
        return
    walk.fail(
        hop,
        Problem.DVR_TO_SRC_MAC_MISSING,
        f"br-int on {host} has no DVR_TO_SRC_MAC flow (table 1) for {mac}: a packet routed on another host "
        "arrives with that host's DVR MAC as its source and table 1 drops it. The OVS agent lost the "
        "network's DVR flows (the lab shows it when a dual-stack network's IPv6 router interface is removed): "
        f"restart neutron-openvswitch-agent on {host}, its full resync rebuilds them",
    )


def to_src_mac(line: str, mac: str) -> bool:
    """A br-int flow of DVR_TO_SRC_MAC (table 1) that restores the gateway MAC for packets to ``mac``."""
    return "table=1," in line and f"dl_dst={mac}" in line and ("mod_dl_src:" in line or "->eth_src" in line)


def router_out(walk: Walk, out: Leaving) -> bool:
    """Into the distributed router on the VM's host; out by its fip namespace (floating IP) or the snat one."""
    ns = enter_qrouter(walk, out)
    if out.fip_address:
        fip_out(walk, out, ns)
    else:
        snat_out(walk, out, ns)
    return True


def enter_qrouter(walk: Walk, out: Leaving) -> str | None:
    """From br-int on the VM's host into the distributed router's qrouter there, by the subnet's qr-."""
    topo = walk.topo
    name = topo.nodes[out.router]["label"]
    walk.br_int(out.host or "?", f"switches it to the distributed router {name}'s qr- port on this host")
    ns = router_namespace(walk, out.router, NamespacePrefix.QROUTER, out.host, walk.hops[-1])
    enter_router(walk, out.router, out.router_port(topo), out.host, f"qr- of distributed router {name} on {out.host}")
    return ns


def fip_out(walk: Walk, out: Leaving, ns: str | None) -> None:
    fip_nat_hop(walk, out, ns)
    rfp_fpr_out(walk, out.router, out.host)
    fg_leg(walk, out.host, out.external, "leaves the fip namespace on fg- towards the external network", out=True)


def fip_nat_hop(walk: Walk, out: Leaving, ns: str | None) -> None:
    """The qrouter's policy rule for the VM's address (to the fip namespace) and its SNAT to the floating IP."""
    hop = nat_hop(
        walk,
        ns,
        out.host,
        f"qrouter's policy routing sends {out.ip} to the fip namespace and SNATs it "
        f"to its floating IP {out.fip_address}",
        (f"-s {out.ip}/32", f"--to-source {out.fip_address}"),
        Problem.FIP_NOT_ASSOCIATED,
        f"no SNAT rule for {out.ip} -> {out.fip_address} in the qrouter namespace on {out.host}",
    )
    rules = policy_rules(walk.topo, ns, out.ip)
    hop.evidence = EVIDENCE_PARTS.join(x for x in (rules, hop.evidence) if x)


def snat_out(walk: Walk, out: Leaving, ns: str | None, to_br_ex: bool = True) -> str | None:
    """By policy to the subnet's sg- on the SNAT host, SNAT there, out on qg- (and on to br-ex unless
    ``to_br_ex`` is False: the caller walks on from qg-); the SNAT host, None when the walk ends before."""
    hop = walk.hop(
        ns,
        f"qrouter on {out.host} routes it by policy to the SNAT port {sg_address(walk, out)} of its subnet",
        host=out.host,
    )
    hop.evidence = policy_rules(walk.topo, ns, ".")
    if not snat_redirect(walk, out, ns, hop):
        return None
    reached = to_snat_namespace(walk, out, hop)
    if reached is None:
        return None
    snat, snat_host = reached
    nat_hop(
        walk,
        snat,
        snat_host,
        "the snat namespace SNATs it to the router's gateway IP",
        ("-j SNAT", "-o qg-"),
        Problem.ROUTER_NO_GATEWAY,
        "no SNAT rule in the snat namespace (is enable_snat off?)",
    )
    gateway_leg(walk, out.router, snat_host, out.external, "leaves the snat namespace on qg-", to_br_ex)
    return snat_host


def snat_redirect(walk: Walk, out: Leaving, ns: str | None, hop: Hop) -> bool:
    """The qrouter's own lookup (ip rule, then its table) of the destination, from the VM's address, must
    lead to the subnet's sg- port; False (the hop failed) when it leads nowhere or elsewhere. Judged only on
    a reported namespace with IPv4 rules, for an IPv4 destination."""
    sg_ip, dst, topo = sg_address(walk, out), walk.dst_ip, walk.topo
    if ns is None or not walk.reported(out.host) or family(dst) != 4 or family(sg_ip) != 4 or dst is None:
        return True
    if not any(r.get("family") == 4 for r in topo.attrs(ns).get("rules", [])):
        return True  # a report without policy rules: nothing to judge by
    rule, route = lookup(topo, ns, out.ip, dst)
    if rule is not None and route is not None and route.get("gateway") == sg_ip:
        hop.evidence = describe_lookup(rule, route)
        return True
    found = f"by {describe_lookup(rule, route)}" if rule is not None and route is not None else "nowhere (no route)"
    walk.fail(
        hop,
        Problem.SNAT_REDIRECT_MISSING,
        f"router {router_label(topo, out.router)}'s qrouter namespace on {out.host} sends {out.ip} to {dst} "
        f"{found}, not to the SNAT port {sg_ip} of its subnet: no SNAT redirect (ip rule from the subnet, a "
        f"table with its default route via {sg_ip}). The L3 agent sets these when it first sees the router's "
        f"gateway and its SNAT ports, not on later updates: restart neutron-l3-agent on {out.host} (its full "
        "resync sets them), or remove and add the router interface of the subnet",
    )
    return False


def sg_address(walk: Walk, out: Leaving) -> str:
    port = snat_port_on(walk.topo, out.router, out.subnet)
    return family_ip(walk.topo, port, walk.family) if port else "?"


def to_snat_namespace(walk: Walk, out: Leaving, hop: Hop) -> tuple[str, str | None] | None:
    """From the qrouter on the VM's host (``hop``) back over br-int and the tunnel to the subnet's sg- in the
    snat namespace of the SNAT host; that namespace and its host, None when there is no snat namespace."""
    topo, host = walk.topo, out.host
    snat = router_namespace(walk, out.router, NamespacePrefix.SNAT, None, hop)
    if snat is None:
        return None
    snat_host = str(topo.nodes[snat].get("host") or "") or None
    sg_ip = sg_address(walk, out)
    leave_router(walk, out.router_port(topo), host, f"leaves by the same qr- toward sg- {sg_ip}")
    walk.br_int(host or "?", f"back on br-int, toward sg- {sg_ip} on {snat_host}")
    walk.cross(host, snat_host, network_of(topo, out.port), f" (the source MAC becomes {host}'s DVR MAC)")
    enter_router(
        walk,
        out.router,
        snat_port_on(topo, out.router, out.subnet),
        snat_host,
        f"sg- of router {topo.nodes[out.router]['label']} in the snat namespace receives it",
    )
    return snat, snat_host


def fip_in(walk: Walk, into: Arriving) -> str:
    """In through br-ex and fg- of the VM host's fip namespace, over fpr-/rfp- into its qrouter, DNAT, to the VM."""
    topo, host, address = walk.topo, into.vm_host, into.address
    external_in(walk, host, into.external, address)
    fg_leg(walk, host, into.external, f"fg- in the fip namespace answers ARP for {address} (proxy ARP)", out=False)
    rfp, fpr = rfp_fpr(topo, into.router, host)
    ns_fip = namespace_on(topo, into.external, NamespacePrefix.FIP, host)
    fip_routes = topo.attrs(ns_fip).get("routes", []) if ns_fip else []
    routes = [r for r in fip_routes if str(r.get("dst", "")).startswith(f"{address}/")]
    fpr_hop = walk.device_hop(
        fpr, g.device_name("fpr-", into.router), host, f"the fip namespace routes {address} over fpr-"
    )
    if routes:
        fpr_hop.evidence = f"route {routes[0]['dst']} via {routes[0].get('gateway')} dev {routes[0].get('dev')}"
    walk.device_hop(rfp, g.device_name("rfp-", into.router), host, "enters the distributed router's qrouter on rfp-")
    ns = router_namespace(walk, into.router, NamespacePrefix.QROUTER, host, walk.hops[-1])
    nat_hop(
        walk,
        ns,
        host,
        f"qrouter DNATs {address} to {into.fixed}",
        ("PREROUTING", f"-d {address}/32", f"--to-destination {into.fixed}"),
        Problem.FIP_NOT_ASSOCIATED,
        f"no DNAT rule for {address} in the qrouter namespace on {host}",
    )
    leave_router(walk, into.router_port(topo), host, "qr- hands it to the tenant network")
    vm_in(walk, into.port, host, into.src_ip)
    return Scenario.INBOUND_FIP_DVR
