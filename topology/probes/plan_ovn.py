"""An OVN walk's check (issue 16 item 2 on ML2/OVN): one ``ovn_trace`` of the packet as it leaves the source port.

OVN's logical pipelines (switch, distributed router, the gateway's NAT) are one trace: the walk's first
logical-switch hop gets the Check, on the host of the chassis the source port is bound on (its agent
reaches the southbound), and the walk's other hops are "covered by" it. Every field comes from the
walk: the source port's MAC and id, the logical switch of its network, the destination port's MAC on
the same network or the router's interface MAC on the source's subnet when routed, the addresses and
the probe. The explainer expects OVN to deliver it to the destination port, or out by the external
network's localnet port for the outside, or to stop it where the walk fails in the logical pipelines (a
security group's ACLs); a break outside them (a port bound on no chassis, a chassis or its ovn-controller
gone, a gateway on no chassis, a missing NAT) is not ovn-trace's to see: it is expected to deliver, and the
check says so in its notes. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topology import graph as g
from topology.kinds import OVN_ATTR, NodeKind
from topology.path import Probe, Topo
from topology.path.ovn import host_of_chassis
from topology.path.topo import network_of, router_port_on, subnets_of
from topology.probes.checks import Check, Expect, NotChecked, Plan, stops_at
from topology.probes.packet import Unknown, known

LOCALNET = "localnet"  # Expect.port for a packet leaving OVN to the outside: by a localnet port
OVN_TRACER = "ovn-trace"


def is_ovn_walk(topo: Topo, hops: Sequence[Mapping[str, Any]]) -> bool:
    first = str(hops[0].get("node") or "") if hops else ""
    return g.id_kind(first) == NodeKind.PORT and isinstance(topo.attrs(first).get(OVN_ATTR), Mapping)


def check_hop(topo: Topo, hops: Sequence[Mapping[str, Any]]) -> int | None:
    """The walk's first logical-switch hop (a network node OVN knows)."""
    for index, hop in enumerate(hops):
        node = str(hop.get("node") or "")
        if g.id_kind(node) == NodeKind.NETWORK and isinstance(topo.attrs(node).get(OVN_ATTR), Mapping):
            return index
    return None


def destination(topo: Topo, hops: Sequence[Mapping[str, Any]], source: str) -> tuple[str, str]:
    """(eth_dst, expected port): the destination port when the walk ends at one, else the outside."""
    last = str(hops[-1].get("node") or "")
    routers = [str(h.get("node")) for h in hops if g.id_kind(str(h.get("node") or "")) == NodeKind.ROUTER]
    to_port = g.id_kind(last) == NodeKind.PORT and last != source
    if to_port and network_of(topo, last) == network_of(topo, source):
        mac = topo.attrs(last).get("mac_address")
        if not mac:
            raise Unknown("the destination port's MAC is not known")
        return str(mac).lower(), g.id_key(last)
    if not routers:
        raise Unknown("the walk names no router between the two networks")
    for subnet in subnets_of(topo, source):
        interface = router_port_on(topo, routers[0], subnet)
        mac = topo.attrs(interface).get("mac_address") if interface else None
        if mac:
            return str(mac).lower(), g.id_key(last) if to_port else LOCALNET
    raise Unknown("the router's interface MAC on the source's subnet is not known")


def l4_of(probe: Probe) -> dict[str, Any]:
    if probe.protocol == "icmp":
        return {"proto": "icmp", "icmp_type": 8}
    return {"proto": probe.protocol, **({"tp_dst": probe.port} if probe.port is not None else {})}


def trace_args(
    topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, addresses: list[tuple[Any, Any]], probe: Probe
) -> tuple[dict[str, Any], str]:
    """The ovn_trace arguments for the walk's packet, and the port it is expected to reach."""
    source = str(hops[0]["node"])
    network = str(hops[index]["node"])
    switch = (topo.attrs(network).get(OVN_ATTR) or {}).get("logical_switch")
    mac = topo.attrs(source).get("mac_address")
    if not switch or not mac:
        raise Unknown("the source port's logical switch or MAC is not known")
    eth_dst, expected = destination(topo, hops, source)
    src, dst = (known(a) for a in addresses[0])
    args = {
        "datapath": switch,
        "inport": g.id_key(source),
        "eth_src": str(mac).lower(),
        "eth_dst": eth_dst,
        "ip_src": src,
        "ip_dst": dst,
        "ip_ttl": 64,
        **l4_of(probe),
        "ct": [["trk", "new"]],
    }
    if ":" in src and args["proto"] == "icmp":
        args["icmp_type"] = 128
    return args, expected


def chassis_host(topo: Topo, source: str) -> str | None:
    chassis = (topo.attrs(source).get(OVN_ATTR) or {}).get("chassis")
    host = host_of_chassis(topo, chassis)
    return g.id_key(host) if host else None


def ovn_plan(
    topo: Topo, hops: Sequence[Mapping[str, Any]], addresses: list[tuple[Any, Any]], probe: Probe
) -> list[Plan]:
    """An OVN walk: one ovn_trace at its first logical-switch hop; its other hops are covered by it."""
    at = check_hop(topo, hops)
    out: list[Plan] = []
    for index in range(len(hops)):
        if at is None:
            out.append(NotChecked(index, "the walk meets no logical switch OVN knows: nothing to trace", OVN_TRACER))
        elif index != at:
            out.append(
                NotChecked(index, f"OVN's logical pipelines: covered by the ovn-trace of hop {at + 1}", OVN_TRACER)
            )
        else:
            try:
                out.append(ovn_check(topo, hops, index, addresses, probe))
            except Unknown as exc:
                out.append(NotChecked(index, str(exc), OVN_TRACER))
    return out


def ovn_check(
    topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, addresses: list[tuple[Any, Any]], probe: Probe
) -> Plan:
    """The check of the walk's first logical-switch hop ``index``: the packet as it leaves the source port."""
    host = chassis_host(topo, str(hops[0]["node"]))
    if host is None:
        return NotChecked(index, "the source port is bound on no known chassis: no agent to trace from", OVN_TRACER)
    args, expected = trace_args(topo, hops, index, addresses, probe)
    failed = next((at for at, hop in enumerate(hops) if hop.get("status") == "fail"), None)
    if failed is not None and is_logical_break(topo, hops[failed]):
        return Check(index, host, "ovn_trace", args, stops_at(hops, failed))
    check = Check(index, host, "ovn_trace", args, Expect(port=expected, bridge="OVN"))
    if failed is not None:
        check.notes.append(
            f"hop {failed + 1}'s break is not in ovn-trace's model (it runs the logical pipelines, not bindings, "
            "chassis, ovn-controller or NAT replies): the logical forwarding is expected to deliver"
        )
    return check


def is_logical_break(topo: Topo, hop: Mapping[str, Any]) -> bool:
    """A break in the logical pipelines ovn-trace runs: a port's security groups (its ACLs), not its binding."""
    node = str(hop.get("node") or "")
    if g.id_kind(node) != NodeKind.PORT:
        return False
    ovn = topo.attrs(node).get(OVN_ATTR) or {}
    return ovn.get("chassis") is not None and ovn.get("up") is not False
