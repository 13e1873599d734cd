"""The external legs: br-int's patch to br-ex, br-ex's port to the outside, the outside host, and the
way out of a router through its gateway (qg-)."""

from __future__ import annotations

import ipaddress

from topology import graph as g
from topology.kinds import EdgeKind, NodeKind
from topology.path.model import Hop, Problem
from topology.path.router import gateway_port, leave_router, orphaned
from topology.path.topo import Topo
from topology.path.walk import Walk


def int_ex_patch(topo: Topo, host: str) -> tuple[str | None, str | None]:
    """br-int's int-br-ex patch port and its peer phy-br-ex on br-ex."""
    ex_ports = set(topo.targets(g.bridge_id(host, "br-ex"), EdgeKind.MEMBER))
    for node_id in topo.targets(g.bridge_id(host, "br-int"), EdgeKind.MEMBER):
        peer = topo.attrs(node_id).get("patch_peer")
        if peer in ex_ports:
            return node_id, peer
    return None, None


def br_ex_ports(topo: Topo, host: str) -> list[str]:
    """br-ex's ports that are neither patch nor internal ports: its NICs, and wires to other hosts' br-ex."""
    members = topo.targets(g.bridge_id(host, "br-ex"), EdgeKind.MEMBER)
    return [n for n in members if topo.attrs(n).get("ovs_type") not in ("patch", "internal")]


def wired_to(topo: Topo, port: str) -> str | None:
    """The port of another host's bridge that a veth of ``port``'s is the other end of, when both hosts' reports
    name each other's ifindex (a veth between two hosts' network namespaces: the lab's br-ex joined host to host)."""
    attrs = topo.attrs(port)
    if attrs.get("peer_ifindex") is None:
        return None
    host = topo.nodes[port].get("host")
    for other in topo.wires:
        far = topo.attrs(other)
        if (
            topo.nodes[other].get("host") != host
            and far.get("ifindex") == attrs["peer_ifindex"]
            and far.get("peer_ifindex") == attrs.get("ifindex")
        ):
            return other
    return None


def br_ex_physical_port(topo: Topo, host: str) -> str | None:
    """br-ex's port to the outside: a NIC of its own, else a wire to another host's br-ex that has one (the
    packet goes out there); None when neither (a wire to a br-ex that has no port to the outside either leads
    nowhere out)."""
    ports = br_ex_ports(topo, host)
    wires = {port: wired_to(topo, port) for port in ports}
    for port in ports:
        if wires[port] is None:
            return port
    for port, far in wires.items():
        far_host = topo.nodes[far].get("host") if far is not None else None
        if far_host and any(wired_to(topo, p) is None for p in br_ex_ports(topo, str(far_host))):
            return port
    return None


def external_out(walk: Walk, host: str | None, external: str) -> None:
    if host is None:
        return
    topo = walk.topo
    walk.br_int(
        host,
        "to br-ex over the int-br-ex / phy-br-ex patch (the external network's VLAN tag is "
        "stripped for a flat network)",
    )
    check_bridge_mapping_host(walk, host, external, walk.hops[-1])
    int_side, ex_side = int_ex_patch(topo, host)
    if int_side is not None and ex_side is not None:
        walk.hop(
            int_side,
            "patch port int-br-ex",
            flows=walk.flows_for(host, "br-int", "output:int-br-ex", f"output:{topo.attrs(int_side).get('ofport')}"),
        )
        walk.hop(ex_side, "patch port phy-br-ex into br-ex")
    br_ex = g.bridge_id(host, "br-ex")
    ex = walk.hop(br_ex, f"br-ex on {host}: the external bridge")
    if br_ex not in topo.nodes:
        walk.fail(ex, Problem.BR_EX_NO_PHYSICAL_PORT, f"{host} has no br-ex")
        return
    physical = br_ex_physical_port(topo, host)
    if physical is None:
        walk.fail(
            ex,
            Problem.BR_EX_NO_PHYSICAL_PORT,
            f"br-ex on {host} has no port to the outside: `ovs-vsctl add-port br-ex <NIC>`",
        )
        return
    walk.hop(physical, f"leaves br-ex on {topo.nodes[physical]['label']} to the external network")


def external_in(walk: Walk, host: str | None, external: str, address: str | None) -> None:
    if host is None:
        return
    topo = walk.topo
    physical = br_ex_physical_port(topo, host)
    ex_hop = walk.hop(physical or g.bridge_id(host, "br-ex"), f"arrives from the external network for {address}")
    if physical is None:
        walk.fail(
            ex_hop,
            Problem.BR_EX_NO_PHYSICAL_PORT,
            f"br-ex on {host} has no port to the outside: `ovs-vsctl add-port br-ex <NIC>`",
        )
    walk.hop(g.bridge_id(host, "br-ex"), f"br-ex on {host} forwards it over the phy-br-ex / int-br-ex patch")
    int_side, ex_side = int_ex_patch(topo, host)
    if int_side is not None and ex_side is not None:
        walk.hop(ex_side, "patch port phy-br-ex")
        walk.hop(int_side, "patch port int-br-ex into br-int")
    walk.br_int(host, "tags it with the external network's local VLAN")
    check_bridge_mapping_host(walk, host, external, walk.hops[-1])


def outside_hop(walk: Walk, external: str, address: str | None, what: str) -> Hop:
    label = walk.topo.nodes.get(external, {}).get("label", "the external network")
    return walk.hop(
        external or None,
        f"{what} {address or ''} on external network {label}".strip(),
        status="ok" if external in walk.topo.nodes else "unknown",
    )


def outside_end(walk: Walk, external: str, address: str | None) -> Hop:
    """Where a packet leaving to ``address`` ends in the cloud's view: the host itself when the external
    network's subnets hold it, else the external network's gateway, beyond which the cloud sees nothing."""
    topo = walk.topo
    if address is None or any(
        network == external and ipaddress.ip_address(address) in cidr for cidr, network in topo.external_subnets
    ):
        return outside_hop(walk, external, address, "reaches")
    label = topo.nodes.get(external, {}).get("label", "the external network")
    subnets = [s for s in topo.targets(external, EdgeKind.MEMBER) if g.id_kind(s) == NodeKind.SUBNET]
    wanted = ipaddress.ip_address(address).version
    gateways = [
        str(topo.attrs(s)["gateway_ip"])
        for s in subnets
        if topo.attrs(s).get("gateway_ip") and ipaddress.ip_address(str(topo.attrs(s)["gateway_ip"])).version == wanted
    ]  # the gateway of the packet's family: an IPv6 packet is never routed on by an IPv4 gateway
    if not gateways:
        return walk.hop(
            external or None,
            f"{address} is off external network {label}, whose subnets have no gateway: nothing there "
            "is known to route it further",
            status="unknown",
        )
    return walk.hop(
        external,
        f"reaches external network {label}'s gateway {gateways[0]}, which routes it on toward {address}: "
        "the cloud's view ends there (what lies beyond is not known here)",
    )


def check_bridge_mapping_host(walk: Walk, host: str, network: str, hop: Hop) -> None:
    physnet = walk.topo.attrs(network).get("physical_network")
    for agent in walk.topo.agents(host):
        if (
            physnet
            and agent.get("agent_type") == "Open vSwitch agent"
            and physnet not in (agent.get("bridge_mappings") or {})
        ):
            walk.fail(
                hop,
                Problem.BRIDGE_MAPPING_MISSING,
                f"physical network {physnet} is not in the bridge_mappings of {host}'s OVS agent: add {physnet}:br-ex",
            )


def gateway_leg(walk: Walk, router: str, host: str | None, external: str, what: str, to_br_ex: bool = True) -> None:
    """Out of the router's namespace through qg- (legacy qrouter, or DVR snat) and br-ex (``to_br_ex``)."""
    port = gateway_port(walk, router, host, what)
    if port is None:
        return
    hop = leave_router(walk, port, host, what)
    orphaned(walk, router, hop)
    if to_br_ex:
        external_out(walk, host, external)
