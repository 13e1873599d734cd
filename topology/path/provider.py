"""A VLAN or flat network between two hosts (seed 004): no tunnel, the provider bridge its physical network
is mapped to.

Neutron's OVS agent (``bridge_mappings = physnet:br-X``) joins br-int and br-X by the int-br-X /
phy-br-X patch. Leaving a host, br-X rewrites the network's local VLAN to its segmentation id
(``in_port=phy-br-X,dl_vlan=<local> actions=mod_vlan_vid:<segid>,NORMAL``; a flat network's tag is
stripped) and sends it out of its physical port; on the receiving host br-int takes it from int-br-X
and rewrites the segmentation id to that host's local VLAN (``in_port=int-br-X,dl_vlan=<segid>
actions=mod_vlan_vid:<local>``). Each hop names the rewrite it makes, with the matching flows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from topology import graph as g
from topology.kinds import EdgeKind
from topology.path.model import Hop, Problem
from topology.path.topo import Topo, network_of

if TYPE_CHECKING:
    from topology.path.walk import Walk

OVS_AGENT = "Open vSwitch agent"


def provider_bridge(topo: Topo, host: str, network: str) -> str | None:
    """The bridge the host's OVS agent maps the network's physical network to, or None."""
    physnet = topo.attrs(network).get("physical_network")
    for agent in topo.agents(host):
        if agent.get("agent_type") == OVS_AGENT:
            return (agent.get("bridge_mappings") or {}).get(physnet)
    return None


def patch_pair(topo: Topo, host: str, bridge: str) -> tuple[str | None, str | None]:
    """br-int's int-br-X patch port and its peer phy-br-X on ``bridge``."""
    far = set(topo.targets(g.bridge_id(host, bridge), EdgeKind.MEMBER))
    for node in topo.targets(g.bridge_id(host, "br-int"), EdgeKind.MEMBER):
        peer = topo.attrs(node).get("patch_peer")
        if peer in far:
            return node, peer
    return None, None


def physical_port(topo: Topo, host: str, bridge: str) -> str | None:
    """The bridge's port onto the physical network: neither a patch nor an internal port."""
    members = topo.targets(g.bridge_id(host, bridge), EdgeKind.MEMBER)
    ports = [n for n in members if topo.attrs(n).get("ovs_type") not in ("patch", "internal")]
    return ports[0] if ports else None


def local_tag(topo: Topo, host: str, network: str) -> int | None:
    """The network's local VLAN on the host's br-int: the tag of an access port of one of its ports."""
    for node in topo.targets(g.bridge_id(host, "br-int"), EdgeKind.MEMBER):
        attrs = topo.attrs(node)
        port = g.port_id(str(attrs.get("port_id"))) if attrs.get("port_id") else ""
        if attrs.get("tag") is not None and port in topo.nodes and network_of(topo, port) == network:
            return int(attrs["tag"])
    return None


def vlan_needles(tag: int | None) -> tuple[str, ...]:
    """How dump-flows writes a match or a rewrite of VLAN ``tag`` (OpenFlow 1.0 and 1.3 forms)."""
    if tag is None:
        return ()
    return (
        f"dl_vlan={tag},",
        f"dl_vlan={tag} ",
        f"vlan_vid={4096 + tag}",
        f"mod_vlan_vid:{tag},",
        f"{4096 + tag}->vlan_vid",
    )


OFP_VID_PRESENT = 4096  # OpenFlow 1.3's vlan_vid carries this bit: set_field:4197->vlan_vid is VLAN 101
SET_VID = re.compile(r"set_field:(\d+)->vlan_vid")


def vid_note(flows: list[str]) -> str:
    """What the OpenFlow 1.3 rewrites in ``flows`` set, in VLAN ids (dump-flows -O OpenFlow13 shows
    ``set_field:<4096 + id>->vlan_vid`` where OpenFlow 1.0 shows ``mod_vlan_vid:<id>``)."""
    values = sorted({int(m.group(1)) for line in flows for m in SET_VID.finditer(line)})
    notes = [f"set_field:{v}->vlan_vid sets VLAN {v - OFP_VID_PRESENT}" for v in values if v >= OFP_VID_PRESENT]
    return "; ".join(notes) + (f" ({OFP_VID_PRESENT} is OpenFlow 1.3's VID-present bit)" if notes else "")


def flows_with(walk: Walk, host: str, bridge: str, match: tuple[str, ...], action: tuple[str, ...]) -> list[str]:
    """The bridge's flows that match one needle of ``match`` and do one of ``action``."""
    lines = walk.topo.flows(host, bridge)
    return [line.strip() for line in lines if any(m in line for m in match) and any(a in line for a in action)][:4]


def mapped(walk: Walk, host: str, network: str, hop: Hop) -> str | None:
    bridge = provider_bridge(walk.topo, host, network)
    if bridge is None:
        physnet = walk.topo.attrs(network).get("physical_network")
        walk.fail(
            hop,
            Problem.BRIDGE_MAPPING_MISSING,
            f"physical network {physnet} is not in the bridge_mappings of {host}'s OVS agent: "
            f"add {physnet}:<its provider bridge> (and that bridge with its NIC)",
        )
    return bridge


def provider_cross(walk: Walk, src: str, dst: str, network: str, kind: str) -> None:
    """br-int (the caller's hop) -> int-br-X -> phy-br-X -> br-X -> physical port, and the reverse on ``dst``."""
    topo = walk.topo
    segid = topo.attrs(network).get("segmentation_id")
    tagged = f"VLAN {segid}" if kind == "vlan" and segid is not None else "untagged (flat)"
    out_tag, in_tag = local_tag(topo, src, network), local_tag(topo, dst, network)
    bridge = mapped(walk, src, network, walk.hops[-1])
    if bridge is None:
        return
    int_side, phys_side = patch_pair(topo, src, bridge)
    if int_side is not None and phys_side is not None:
        walk.hop(int_side, f"patch port int-br-{bridge.removeprefix('br-')}")
        walk.hop(phys_side, f"patch port phy-br-{bridge.removeprefix('br-')} into {bridge}")
    rewrite = ("mod_vlan_vid:", "->vlan_vid", "strip_vlan", "pop_vlan")
    flows = flows_with(walk, src, bridge, vlan_needles(out_tag), rewrite)
    leave = walk.hop(
        g.bridge_id(src, bridge),
        f"{bridge} on {src}: local VLAN {out_tag} rewritten to {tagged} of physical network "
        f"{topo.attrs(network).get('physical_network')}",
        vid_note(flows),
        flows=flows,
    )
    nic = physical_port(topo, src, bridge)
    if nic is None:
        walk.fail(leave, Problem.PROVIDER_NO_PHYSICAL_PORT, f"{bridge} on {src} has no port onto the physical network: "
                  f"`ovs-vsctl add-port {bridge} <NIC>`")  # fmt: skip
        return
    walk.hop(nic, f"leaves {src} on {topo.nodes[nic]['label']}, {tagged}, to {dst}")
    arrive(walk, dst, network, tagged, segid, in_tag)


def arrive(walk: Walk, dst: str, network: str, tagged: str, segid: int | None, in_tag: int | None) -> None:
    topo = walk.topo
    bridge = provider_bridge(topo, dst, network)
    if bridge is None:
        hop = walk.hop(g.host_id(dst), f"{dst} receives it {tagged}")
        mapped(walk, dst, network, hop)
        return
    nic = physical_port(topo, dst, bridge)
    if nic is not None:
        walk.hop(nic, f"{dst} receives it on {topo.nodes[nic]['label']}, {tagged}")
    came = walk.hop(g.bridge_id(dst, bridge), f"{bridge} on {dst}: over the phy-br / int-br patch into br-int")
    if nic is None:
        walk.fail(came, Problem.PROVIDER_NO_PHYSICAL_PORT, f"{bridge} on {dst} has no port onto the physical "
                  f"network: nothing arrives from the other host (`ovs-vsctl add-port {bridge} <NIC>`)")  # fmt: skip
        return
    int_side, phys_side = patch_pair(topo, dst, bridge)
    if int_side is not None and phys_side is not None:
        walk.hop(phys_side, f"patch port phy-br-{bridge.removeprefix('br-')}")
        walk.hop(int_side, f"patch port int-br-{bridge.removeprefix('br-')} into br-int")
    match = vlan_needles(segid) if segid is not None else ("vlan_tci=0x0000",)
    hop = walk.br_int(dst, f"{tagged} rewritten to the local VLAN {in_tag} of the network")
    hop.flows = flows_with(walk, dst, "br-int", match, ("mod_vlan_vid:", "->vlan_vid", "push_vlan"))
    hop.evidence = hop.evidence or vid_note(hop.flows)
    if in_tag is None:
        walk.fail(
            hop, Problem.PORT_DOWN, f"the network has no local VLAN on {dst}'s br-int: no port of it is wired there"
        )
