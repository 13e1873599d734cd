"""Whether a tunnel's underlay carries the overlay network's full-size packets (pure).

Neutron sizes an overlay network's MTU as the physical MTU less the encapsulation
(neutron-lib: VXLAN 30 bytes, GRE 22, Geneve at least 30) and the outer IP header (20
for IPv4, 40 for IPv6): 1450 for VXLAN over a 1500-byte underlay. On the node, the
tunnel's ``local_ip`` sits on a device of the host's root namespace: a NIC, or (OVS's
userspace datapath, the lab's br-phy) an OVS bridge's internal port whose bridge carries
the NIC. The outer packet must fit the smallest MTU on that way, on the sending host and
on the receiving one. When the network's MTU needs more, every full-size packet is lost
while small ones pass: a warning on the tunnel hop, naming the device.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from topology import graph as g
from topology.kinds import EdgeKind, NodeKind
from topology.path.topo import Topo

ENCAP_OVERHEAD = {"vxlan": 30, "gre": 22, "geneve": 30}  # neutron-lib constants *_ENCAP_(MIN_)OVERHEAD
IP_HEADER = {4: 20, 6: 40}  # neutron-lib IP_HEADER_LENGTH
OVS_PORTS_OUT = ("system", "dpdk", "afxdp")  # an OVS bridge's ports to the wire (not patch, internal, tunnel)


@dataclass(frozen=True)
class Underlay:
    """The devices an outer packet from ``address`` on ``host`` crosses, with their MTUs."""

    host: str
    address: str
    devices: tuple[tuple[str, int], ...]

    @property
    def mtu(self) -> int:
        return min(mtu for _, mtu in self.devices)

    @property
    def narrowest(self) -> str:
        return min(self.devices, key=lambda d: d[1])[0]


def needed(network_mtu: int, kind: str, address: str) -> int:
    """The outer packet's size for a full-size packet of the network (its MTU, the encapsulation, the IP header)."""
    return network_mtu + ENCAP_OVERHEAD.get(kind, ENCAP_OVERHEAD["vxlan"]) + IP_HEADER[ip_version(address)]


def ip_version(address: str) -> int:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return 4


def underlay_of(topo: Topo, host: str, address: str | None) -> Underlay | None:
    """The device of ``host``'s root namespace holding ``address`` and, for an OVS bridge's internal port,
    the bridge's ports to the wire; None when the report does not show them (or their MTUs)."""
    if not address:
        return None
    holder = holding(topo, host, address)
    if holder is None:
        return None
    attrs = topo.attrs(holder)
    devices = [(str(attrs.get("name") or topo.nodes[holder]["label"]), attrs.get("mtu"))]
    # The join draws an OVS bridge's internal port as the bridge itself; an internal port kept apart names it.
    bridge = holder if g.id_kind(holder) == NodeKind.BRIDGE else None
    if attrs.get("ovs_type") == "internal" and attrs.get("ovs_bridge"):
        bridge = g.bridge_id(host, str(attrs["ovs_bridge"]))
    for member in topo.targets(bridge, EdgeKind.MEMBER) if bridge else []:
        port = topo.attrs(member)
        if port.get("ovs_type") in OVS_PORTS_OUT:
            devices.append((str(port.get("name")), port.get("mtu")))
    known = tuple((name, int(mtu)) for name, mtu in devices if isinstance(mtu, int) and mtu > 0)
    return Underlay(host, address, known) if known else None


def holding(topo: Topo, host: str, address: str) -> str | None:
    """The root-namespace device of ``host`` with ``address``: a plain device, a bridge (its internal port),
    or a bridge's port."""
    for member in topo.targets(g.host_id(host), EdgeKind.MEMBER):
        kind = g.id_kind(member)
        candidates = [member, *topo.targets(member, EdgeKind.MEMBER)] if kind == NodeKind.BRIDGE else [member]
        for node_id in candidates:
            attrs = topo.attrs(node_id)
            in_root = g.id_kind(node_id) in (NodeKind.IFACE, NodeKind.BRIDGE) and attrs.get("namespace") is None
            if in_root and any(str(a).split("/")[0] == address for a in attrs.get("addresses") or []):
                return node_id
    return None


def too_small(network_mtu: int, kind: str, underlays: list[Underlay | None]) -> str | None:
    """What the warning says when an underlay cannot carry a full-size packet of the network; else None."""
    for under in underlays:
        if under is None:
            continue
        size = needed(network_mtu, kind, under.address)
        if size > under.mtu:
            room = under.mtu - (size - network_mtu)
            return (
                f"a full-size packet of this network ({network_mtu} bytes) is {size} bytes in {kind} on the underlay, "
                f"but {under.narrowest} on {under.host} (the way of tunnel address {under.address}) has MTU "
                f"{under.mtu}: packets over {room} bytes are lost while smaller ones pass; raise the underlay's "
                f"MTU to {size}, or the network's MTU to {room} or less"
            )
    return None
