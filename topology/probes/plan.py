"""What each hop of an explained path is checked with: the packet as the walk describes it there (pure).

For a walk's hops (topology.path), ``plan`` gives each hop either a Check (a
probe for the hop's host: ``ofproto_trace`` on an OVS bridge, ``route_get``
in a router's namespace, with what the explainer expects the tracer to say)
or a NotChecked with the reason. Every field of the packet comes from the
walk: the in_port is the hop before the bridge, the expected output the next
port the walk names after it (patch ports and the bridges they join are
crossed by the trace itself), the MACs those ports' Neutron MACs
(``attached-mac``), the VLAN tag the local tag of the access port the packet
came in by, the addresses the endpoints' after the NAT rules the walk's
namespace hops cite. A field the walk cannot give makes the hop NotChecked,
never a guess; the one thing asked of the node first is the MAC of a peer
outside the cloud (the router's ARP entry for it: a Neighbour).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from topology import graph as g
from topology.kinds import TUNNEL_TYPES, EdgeKind, NamespacePrefix, NodeKind
from topology.path import Probe, Topo
from topology.path.external import br_ex_physical_port, br_ex_ports, wired_to
from topology.probes import plan_ovn
from topology.probes.checks import Check, Expect, NotChecked, Plan, first_failure, stops_at
from topology.probes.packet import (
    Neighbour,
    Unknown,
    addresses_along,
    external_device,
    is_ovs_bridge,
    is_patch,
    known,
    l4,
    last_access_port,
    last_ovs_port,
    mac_of,
    network_of_iface,
    next_hop_address,
    next_ovs_port,
    ovs_port,
)

JsonDict = dict[str, Any]
LOCAL_OFPORT = 65534  # a bridge's own internal port: the host's stack, not a way onward
ROUTER_NAMESPACES = ("qrouter-", "snat-", "fip-")


def plan(
    topo: Topo, hops: Sequence[Mapping[str, Any]], src_ip: str | None, dst_ip: str | None, probe: Probe
) -> list[Plan]:
    """One Check or NotChecked per hop, in the hops' order."""
    addresses = addresses_along(hops, src_ip, dst_ip)
    if plan_ovn.is_ovn_walk(topo, hops):
        return plan_ovn.ovn_plan(topo, hops, addresses, probe)
    out: list[Plan] = []
    for index, hop in enumerate(hops):
        try:
            out.append(plan_hop(topo, hops, index, addresses, probe))
        except Unknown as exc:
            kind = g.id_kind(str(hop.get("node") or "")) if hop.get("node") else ""
            tracer = "ip route get" if kind == NodeKind.NETNS else "ofproto/trace"
            out.append(NotChecked(index, str(exc), tracer))
    return out


def plan_hop(
    topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, addresses: list[tuple[Any, Any]], probe: Probe
) -> Plan:
    hop = hops[index]
    node = str(hop.get("node") or "")
    if not node:
        return NotChecked(index, "the walk names no node here (a missing or hidden step)")
    kind = g.id_kind(node)
    attrs = topo.attrs(node) if node in topo.nodes else {}
    if kind == NodeKind.BRIDGE:
        if attrs.get("type") != "ovs":
            return NotChecked(index, "a Linux bridge: it has no tracer (its iptables rules are the hop's evidence)")
        return bridge_check(topo, hops, index, addresses, probe)
    if kind == NodeKind.NETNS:
        name = str(attrs.get("name") or g.netns_name(node))
        if not name.startswith(ROUTER_NAMESPACES):
            return NotChecked(index, "not a router's namespace: the instance's own routing is not the cloud's")
        return namespace_check(topo, hops, index, addresses, name)
    if kind == NodeKind.IFACE:
        bridge = crossing(topo, hops, index)
        if bridge is not None:  # no bridge hop of its own: the trace goes on this port's hop
            return trace_check(topo, hops, index, dict(attrs), bridge, addresses, probe)
        return NotChecked(index, "a device: checked as the in or out port of the bridge or namespace beside it")
    if kind == NodeKind.ROUTER and hop.get("status") == "fail":
        return router_check(topo, hops, index, addresses)
    if kind == NodeKind.SUBNET and hop.get("status") == "fail":
        return NotChecked(index, "the subnet has no router: no device answers its gateway address, nothing to trace")
    return NotChecked(index, "no tracer applies to this hop (outside the nodes' data plane)")


def router_check(topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, addresses: list[tuple[Any, Any]]) -> Plan:
    """A router the walk stops at (no gateway, say): does its qrouter namespace route the destination?
    On the host the packet was on, else where the namespace is; the explainer expects it not to."""
    name = NamespacePrefix.QROUTER + g.id_key(str(hops[index]["node"]))
    hosts = sorted(g.id_key(n) for n in topo.nodes if g.id_kind(n) == NodeKind.HOST)
    placed = [h for h in hosts if g.netns_id(h, name) in topo.nodes]
    came_from = next((str(h.get("host")) for h in reversed(hops[:index]) if h.get("host")), "")
    if not placed:
        return NotChecked(index, f"no {name} namespace is reported on any host: nothing routes for this router")
    host = came_from if came_from in placed else placed[0]
    return Check(
        index, host, "route_get", {"namespace": name, "dst": known(addresses[index][1])}, stops_at(hops, index)
    )


# --------------------------------------------------------------------------- OVS bridges


def bridge_check(
    topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, addresses: list[tuple[Any, Any]], probe: Probe
) -> Plan:
    hop = hops[index]
    bridge = str(topo.attrs(str(hop["node"])).get("name"))
    before = entry_port(topo, hops, index, bridge) if index else None
    if before is None:
        raise Unknown(f"the walk does not say which port the packet enters {bridge} by")
    return trace_check(topo, hops, index, before, bridge, addresses, probe)


def entry_port(topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, bridge: str) -> JsonDict | None:
    """The port the packet enters the bridge of hop ``index`` by: the hop before, when it is a port of that
    bridge, or this bridge's patch port to the bridge of the hop before (br-int -> br-tun, with no patch hop)."""
    previous = str(hops[index - 1].get("node") or "")
    attrs = ovs_port(topo, previous)
    if attrs is not None and attrs.get("ovs_bridge") == bridge:
        return attrs
    if attrs is None and not is_ovs_bridge(topo, previous):
        return None
    here = str(hops[index]["node"])
    if topo.nodes[previous].get("host") != topo.nodes[here].get("host") or (
        attrs is not None and attrs.get("ovs_type") in TUNNEL_TYPES
    ):
        return None
    # the hop before is another bridge of this host, or a port of one (DVR: "back on br-int" by qr-'s tap,
    # then br-tun): the packet comes in by this bridge's patch port to that bridge
    other = attrs.get("ovs_bridge") if attrs is not None else topo.attrs(previous).get("name")
    for member in topo.targets(here, EdgeKind.MEMBER):
        port = ovs_port(topo, member)
        if (
            port is not None
            and is_patch(port)
            and topo.attrs(str(port.get("patch_peer") or "")).get("ovs_bridge") == other
        ):
            return port
    return None


def crossing(topo: Topo, hops: Sequence[Mapping[str, Any]], index: int) -> str | None:
    """The bridge a port hop hands the packet across to the next hop's port, with no bridge hop between
    (the walk says "back on br-int", then "br-int delivers to the instance's qvo")."""
    here = ovs_port(topo, str(hops[index].get("node") or ""))
    after = ovs_port(topo, str(hops[index + 1].get("node") or "")) if index + 1 < len(hops) else None
    if here is None or after is None or any(is_patch(a) or a.get("ovs_type") in TUNNEL_TYPES for a in (here, after)):
        return None
    if topo.nodes[str(hops[index]["node"])].get("host") != topo.nodes[str(hops[index + 1]["node"])].get("host"):
        return None
    return str(here["ovs_bridge"]) if here.get("ovs_bridge") == after.get("ovs_bridge") else None


def trace_check(
    topo: Topo,
    hops: Sequence[Mapping[str, Any]],
    index: int,
    before: JsonDict,
    bridge: str,
    addresses: list[tuple[Any, Any]],
    probe: Probe,
) -> Plan:
    host = str(hops[index].get("host") or "")
    if before.get("ofport") in (None, -1):
        raise Unknown(f"{before.get('name')} has no OpenFlow port number in the report")
    expect, out_index = expected_output(topo, hops, index, bridge)
    if expect.stops:
        expect = dead_ends(topo, hops, host, expect)
    nw_src, nw_dst = (known(a) for a in addresses[index])
    v6 = ipaddress.ip_address(nw_src).version == 6
    args: JsonDict = {"bridge": bridge, "in_port": int(before["ofport"]), **l4(probe, v6)}
    args["nw_src"], args["nw_dst"] = nw_src, nw_dst
    check = Check(index, host, "ofproto_trace", args, expect)
    tag_of_entry(topo, hops, index, before, out_index, check)
    macs_of_entry(topo, hops, index, before, out_index, (nw_src, nw_dst), check)
    check.args["ct_next"] = ["trk", "new"]  # where the packet meets conntrack (openvswitch firewall): a new connection
    return check


def dead_ends(topo: Topo, hops: Sequence[Mapping[str, Any]], host: str, expect: Expect) -> Expect:
    """A walk stopping at this host's br-ex, which has no way out: the wires it may still flood an unlearned MAC
    to (veths to another host's br-ex that has no port to the outside either) lead nowhere out."""
    failed = next((str(h.get("node") or "") for h in hops if h.get("status") == "fail"), "")
    if failed != g.bridge_id(host, "br-ex") or br_ex_physical_port(topo, host) is not None:
        return expect
    wires = tuple(str(topo.attrs(p).get("name")) for p in br_ex_ports(topo, host) if wired_to(topo, p))
    return replace(expect, dead_ends=wires, bridge="br-ex")


def expected_output(
    topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, bridge_name: str
) -> tuple[Expect, int | None]:
    """The port the walk leaves the OVS datapath by after ``index`` (patches and their bridges crossed)."""
    failed = first_failure(hops, index)
    if failed is not None:
        return failed, None
    for at in range(index, len(hops)):
        hop = hops[at]
        node = str(hop.get("node") or "")
        if hop.get("status") == "fail":
            return stops_at(hops, at), None
        if at == index or is_ovs_bridge(topo, node):
            continue
        attrs = ovs_port(topo, node)
        if attrs is not None and is_patch(attrs):
            continue
        if attrs is None:
            raise Unknown(f"the walk names no port the packet leaves {bridge_name} by")
        tun_id = tunnel_vni(topo, hops, at) if attrs.get("ovs_type") in TUNNEL_TYPES else None
        return Expect(port=str(attrs.get("name")), bridge=str(attrs.get("ovs_bridge")), tun_id=tun_id), at
    raise Unknown(f"the walk ends before the packet leaves {bridge_name}")


def tunnel_vni(topo: Topo, hops: Sequence[Mapping[str, Any]], at: int) -> int:
    """The VNI a packet leaving by the tunnel port of hop ``at`` carries: its network's segmentation id, the
    network of the last access port the walk crossed before (the VM's tap/qvo, or a router's qr-)."""
    access = last_ovs_port(topo, hops, at)
    if access is None:
        raise Unknown("the walk does not say which network the packet is on when it enters the tunnel")
    network = network_of_iface(topo, access)
    if network.get("network_type") not in TUNNEL_TYPES or network.get("segmentation_id") is None:
        raise Unknown(f"{access.get('name')}'s network is not an overlay one: the tunnel's VNI is not known")
    return int(network["segmentation_id"])


def tag_of_entry(
    topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, before: JsonDict, out_index: int | None, check: Check
) -> None:
    """dl_vlan / tun_id of the packet as it comes in by ``before``."""
    if before.get("tag") is not None and not is_patch(before):
        return  # an access port: untagged on the wire, the bridge tags it
    peer = topo.attrs(str(before.get("patch_peer") or "")).get("ovs_bridge") if is_patch(before) else None
    if peer == "br-int":
        # From br-int over a patch: tagged with the local VLAN of the access port it came in by.
        access = last_access_port(topo, hops, index, "br-int")
        if access is None or access.get("tag") is None:
            raise Unknown("the walk does not say the local VLAN the packet carries from br-int")
        check.args["dl_vlan"] = int(access["tag"])
        check.notes.append(f"dl_vlan {access['tag']}: br-int's local VLAN of {access.get('name')}")
        return
    out = ovs_port(topo, str(hops[out_index].get("node") or "")) if out_index is not None else None
    if out is None:
        return  # the walk says it stops here: the packet as it comes in, untagged
    network = network_of_iface(topo, out)
    kind = network.get("network_type")
    if before.get("ovs_type") in TUNNEL_TYPES:
        check.args["tun_id"] = int(network["segmentation_id"])
    elif is_patch(before) and kind in TUNNEL_TYPES:  # from br-tun: br-tun set the local VLAN of this host
        check.args["dl_vlan"] = int(out["tag"])
    elif kind == "vlan":
        check.args["dl_vlan"] = int(network["segmentation_id"])
    elif kind != "flat":
        raise Unknown(f"a {kind or 'unknown'} network coming in by {before.get('name')}: its tag is not known")


def macs_of_entry(
    topo: Topo,
    hops: Sequence[Mapping[str, Any]],
    index: int,
    before: JsonDict,
    out_index: int | None,
    ips: tuple[str, str],
    check: Check,
) -> None:
    """dl_src from the port the packet came from, dl_dst from the port the walk delivers it to."""
    crossed = is_patch(before) or before.get("ovs_type") in TUNNEL_TYPES
    sender = mac_of(topo, last_ovs_port(topo, hops, index) if crossed else before)
    sender = sender or mac_of(topo, port_with_mac(topo, hops, range(index - 1, -1, -1)))
    if sender:
        check.args["dl_src"] = sender
    else:  # from outside the cloud: the router's ARP entry for the sender
        device = external_device(topo, hops, index, forward=True)
        neighbour = Neighbour(
            str(device["host"]), str(device["namespace"]), str(device["name"]), next_hop_address(topo, device, ips[0])
        )
        check.macs["dl_src"] = neighbour
    if out_index is None:
        return  # the walk says it stops: the packet as it came, to no one in particular
    out = ovs_port(topo, str(hops[out_index].get("node") or ""))
    if out is not None and out.get("ovs_type") in TUNNEL_TYPES:
        out = next_ovs_port(topo, hops, out_index)  # to the port the walk delivers it to on the other host
    receiver = mac_of(topo, out) or mac_of(topo, port_with_mac(topo, hops, range(out_index, len(hops))))
    if receiver:
        check.args["dl_dst"] = receiver
        return
    device = external_device(topo, hops, index, forward=False)
    check.macs["dl_dst"] = Neighbour(
        str(device["host"]), str(device["namespace"]), str(device["name"]), next_hop_address(topo, device, ips[1])
    )


def port_with_mac(topo: Topo, hops: Sequence[Mapping[str, Any]], order: Iterable[int]) -> JsonDict | None:
    """The first OVS port with a Neutron MAC along ``order``, passing bridges and the ports without one (patch,
    tunnel, a provider bridge's physical port or wire: the packet keeps its MACs across them); None at
    anything else (a namespace, the outside)."""
    for at in order:
        node = str(hops[at].get("node") or "")
        if is_ovs_bridge(topo, node):
            continue
        attrs = ovs_port(topo, node)
        if attrs is None:
            return None
        if mac_of(topo, attrs):
            return attrs
    return None


# --------------------------------------------------------------------------- router namespaces


def namespace_device(topo: Topo, hop: Mapping[str, Any], namespace: str) -> str | None:
    node = str(hop.get("node") or "")
    if node not in topo.nodes or g.id_kind(node) != NodeKind.IFACE:
        return None
    attrs = topo.attrs(node)
    return str(attrs.get("name")) if attrs.get("namespace") == namespace else None


def namespace_check(
    topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, addresses: list[tuple[Any, Any]], namespace: str
) -> Plan:
    hop = hops[index]
    iif = namespace_device(topo, hops[index - 1], namespace) if index else None
    if iif is None:
        raise Unknown(f"the walk does not say which device the packet enters {namespace} by")
    src = known(addresses[index][0])  # routing sees the source before SNAT (POSTROUTING)...
    after = addresses[index + 1] if index + 1 < len(addresses) else addresses[index]
    dst = known(after[1])  # ...and the destination after DNAT (PREROUTING)
    failed = first_failure(hops, min(index + 1, len(hops) - 1))  # the device it would leave by included
    if failed is not None:
        expect = failed
    else:
        dev = namespace_device(topo, hops[index + 1], namespace) if index + 1 < len(hops) else None
        if dev is None:
            raise Unknown(f"the walk does not say which device the packet leaves {namespace} by")
        expect = Expect(dev=dev)
    return Check(
        index,
        str(hop.get("host") or ""),
        "route_get",
        {"namespace": namespace, "dst": dst, "src": src, "iif": iif},
        expect,
    )
