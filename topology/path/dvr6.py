"""IPv6 through a distributed router (DVR, ML2/OVS): routed, never NATed, and not distributed as IPv4 is.

Measured on the lab (Neutron 29, scenario dvr with IPv6 subnets on public and on the tenant networks):

- Out: the qrouter on the VM's host looks the destination up by its ``ip -6 rule`` list, the main table
  first. Where the host has a fip namespace, the L3 agent gave that main table an IPv6 default route via
  fpr-'s link-local address on rfp- (dvr_fip_ns.create_rtr_2_fip_link), so the packet crosses into the
  fip namespace, which reaches only the external IPv6 subnet itself, on link out of fg- (Neutron: "DVR
  does not support IPv6 for the floating namespace yet"). Where there is no such route, the policy rule of
  the VM's IPv6 subnet (``from <cidr> lookup <index>``) sends it to the subnet's sg- port in the snat
  namespace of the dvr_snat host, which routes it out of qg- by its IPv6 default route.
- In, and every reply: the upstream routes the tenant prefix to the router's IPv6 gateway address, on qg-
  in the snat namespace, which has the tenant subnet on link on its sg- port and hands the packet straight
  to the VM over the tunnel (routed6.routed_in, the walk in of legacy routers too).
"""

from __future__ import annotations

from topology import graph as g
from topology.path import dvr, routed6
from topology.path.context import Leaving
from topology.path.external import gateway_leg
from topology.path.fipns import fg_leg, rfp_fpr_out
from topology.path.lookup import describe_lookup
from topology.path.model import Endpoint, Hop, Problem
from topology.path.routed6 import lookup6
from topology.path.topo import router_label
from topology.path.walk import Walk

ANY6 = "::"  # the address a lookup for "the outside" (no address asked) is made for: only a default covers it


def routed_out(walk: Walk, out: Leaving, dst: str | None) -> bool:
    """Out of the distributed router on the VM's host the way its IPv6 lookup says; True if it left."""
    topo = walk.topo
    ns = dvr.enter_qrouter(walk, out)
    if ns is None:
        return False
    routed6.advertises(walk, ns, out.host, out.router, out.subnet)
    target = dst or ANY6
    hop = walk.hop(ns, f"qrouter on {out.host} looks up {dst or 'the outside'} (ip -6 rule, then its table)")
    if out.host is None or not walk.reported(out.host):
        return False
    rule, route = lookup6(topo, ns, out.ip, target)
    if rule is None or route is None:
        label = topo.nodes[out.subnet]["label"] if out.subnet in topo.nodes else "the VM's IPv6 subnet"
        walk.fail(
            hop,
            Problem.NO_ROUTE,
            f"router {router_label(topo, out.router)}'s qrouter namespace on {out.host} has no IPv6 route to "
            f"{dst or 'the outside'}: no default route via rfp- and no policy rule of {label} to its sg- port "
            "(is the router's gateway set, with an address on the external network's IPv6 subnet?)",
        )
        return False
    hop.evidence = describe_lookup(rule, route)
    if str(route.get("dev") or "").startswith("rfp-"):
        hop.what = f"qrouter on {out.host}: its main table's IPv6 default route leads into the fip namespace, no NAT"
        return via_fip(walk, out, target)
    hop.what = (
        f"qrouter on {out.host} routes it by policy to the SNAT port {dvr.sg_address(walk, out)} of its subnet "
        "(IPv6 is routed there, never NATed)"
    )
    return via_snat(walk, out, hop)


def via_snat(walk: Walk, out: Leaving, hop: Hop) -> bool:
    reached = dvr.to_snat_namespace(walk, out, hop)
    if reached is None:
        return False
    snat, snat_host = reached
    routed6.routed_out(walk, snat, snat_host, out.router, "snat")
    gateway_leg(walk, out.router, snat_host, out.external, "leaves the snat namespace on qg-")
    return True


def via_fip(walk: Walk, out: Leaving, dst: str) -> bool:
    """Over rfp-/fpr- into the host's fip namespace; out of fg- only if that namespace routes ``dst``."""
    topo, host = walk.topo, out.host
    rfp_fpr_out(walk, out.router, host)
    label = topo.nodes.get(out.external, {}).get("label", "the external network")

    def routes(ns_hop: Hop) -> bool:
        rule, route = lookup6(topo, ns_hop.node, out.ip, dst, iif=g.device_name("fpr-", out.router))
        if rule is None or route is None:
            walk.fail(
                ns_hop,
                Problem.NO_ROUTE,
                f"the fip namespace on {host} has no IPv6 route to {dst}: on a host with a fip namespace the "
                "distributed router's IPv6 default route leads into it, and DVR routes no IPv6 through it "
                f"(Neutron: 'DVR does not support IPv6 for the floating namespace yet'): only {label}'s IPv6 "
                "subnet itself is on link there. From a host without a fip namespace the router sends IPv6 "
                "through its snat namespace; a legacy or HA router routes it to the external gateway",
            )
            return False
        ns_hop.evidence = describe_lookup(rule, route)
        return True

    return fg_leg(
        walk,
        host,
        out.external,
        "leaves the fip namespace on fg- with the VM's own address (IPv6 is never NATed)",
        out=True,
        check=routes,
    )


def reply_in(walk: Walk, source: Endpoint, target: Endpoint, router: str | None = None) -> str:
    """The reply to a VM's IPv6 packet out: from the outside (``source``) back in through the snat namespace."""
    walk.reply_family = 6
    return routed6.routed_in(walk, source, target, router)
