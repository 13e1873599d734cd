"""The packet at a hop, as the walk describes it (pure): addresses after the NAT rules the walk cites,
the probe's protocol, the OVS ports and MACs the walk names, and the one field taken from the node
(a Neighbour: the router's ARP entry for a peer outside the cloud). topology/probes/plan.py uses them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from topology import graph as g
from topology.kinds import TUNNEL_TYPES, NodeKind
from topology.path import Probe, Topo
from topology.path.model import nat_done
from topology.path.topo import network_of

JsonDict = dict[str, Any]
EXTERNAL_DEVICES = ("qg-", "fg-")
TO_SOURCE = re.compile(r"--to-source ([0-9a-fA-F.:]+)")
TO_DESTINATION = re.compile(r"--to-destination ([0-9a-fA-F.:]+)")


@dataclass(frozen=True)
class Neighbour:
    """A MAC the walk names only by its address: the router's ARP entry for a peer outside the cloud."""

    host: str
    namespace: str
    dev: str
    ip: str

    def args(self) -> JsonDict:
        return {"namespace": self.namespace, "dst": self.ip, "dev": self.dev}


class Unknown(Exception):
    """The walk cannot say a field of the packet at this hop (the message says which)."""


# --------------------------------------------------------------------------- addresses along the walk


def addresses_along(hops: Sequence[Mapping[str, Any]], src_ip: str | None, dst_ip: str | None) -> list[tuple[Any, Any]]:
    """(nw_src, nw_dst) of the packet as it enters each hop; an Unknown where a NAT rule is not shown."""
    src: Any = src_ip or Unknown("the walk does not say the source address")
    dst: Any = dst_ip or Unknown("the walk does not say the destination address")
    along = []
    for hop in hops:
        along.append((src, dst))
        what, evidence = str(hop.get("what") or ""), str(hop.get("evidence") or "")
        done = nat_done(what)
        if "SNAT" in done:
            found = TO_SOURCE.search(evidence)
            src = found.group(1) if found else Unknown(f"no SNAT rule is shown at '{what[:60]}': the source after it")
        if "DNAT" in done:
            found = TO_DESTINATION.search(evidence)
            dst = found.group(1) if found else Unknown(f"no DNAT rule shown at '{what[:60]}': the destination after it")
    return along


def known(value: Any) -> str:
    if isinstance(value, Unknown):
        raise value
    return str(value)


def l4(probe: Probe, v6: bool) -> JsonDict:
    if probe.protocol == "icmp":
        return {"proto": "icmp6", "icmp_type": 128} if v6 else {"proto": "icmp", "icmp_type": 8}
    proto = probe.protocol + ("6" if v6 else "")
    return {"proto": proto, "tp_dst": probe.port} if probe.port is not None else {"proto": proto}


def ovs_port(topo: Topo, node: str) -> JsonDict | None:
    """An OVS port's attributes (an iface on an OVS bridge), else None."""
    if not node or g.id_kind(node) != NodeKind.IFACE or node not in topo.nodes:
        return None
    attrs = topo.attrs(node)
    return attrs if attrs.get("ovs_bridge") else None


def is_patch(attrs: Mapping[str, Any]) -> bool:
    return attrs.get("ovs_type") == "patch"


def is_ovs_bridge(topo: Topo, node: str) -> bool:
    return bool(node) and g.id_kind(node) == NodeKind.BRIDGE and topo.attrs(node).get("type") == "ovs"


def external_device(topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, forward: bool) -> JsonDict:
    """The router's qg-/fg- device nearest the hop (the walk's way to the outside)."""
    order = range(index + 1, len(hops)) if forward else range(index - 1, -1, -1)
    for at in order:
        node = str(hops[at].get("node") or "")
        if node in topo.nodes and g.id_kind(node) == NodeKind.IFACE:
            attrs = topo.attrs(node)
            if attrs.get("namespace") and str(attrs.get("name") or "").startswith(EXTERNAL_DEVICES):
                return {**attrs, "host": topo.nodes[node].get("host")}
    raise Unknown("the walk names no router gateway device (qg-/fg-) facing the outside peer")


def next_hop_address(topo: Topo, device: Mapping[str, Any], peer: str) -> str:
    """The peer itself when on the device's subnet, else the namespace's default gateway (its report)."""
    address = ipaddress.ip_address(peer)
    for cidr in device.get("addresses") or []:
        network = ipaddress.ip_interface(cidr).network
        if network.version == address.version and network.prefixlen < network.max_prefixlen and address in network:
            return peer
    namespace = g.netns_id(str(device.get("host")), str(device.get("namespace")))
    for route in topo.attrs(namespace).get("routes") or []:
        default = route.get("dst") in ("0.0.0.0/0", "::/0", "default")
        if default and route.get("dev") == device.get("name") and route.get("gateway"):
            return str(route["gateway"])
    raise Unknown(f"{peer} is not on {device.get('name')}'s subnet and its namespace reports no default gateway")


def mac_of(topo: Topo, attrs: Mapping[str, Any] | None) -> str | None:
    """The Neutron MAC of the port a device plugs (``attached-mac``, else the port's ``mac_address``)."""
    if not attrs:
        return None
    mac = (attrs.get("external_ids") or {}).get("attached-mac")
    if not mac and attrs.get("port_id"):
        mac = topo.attrs(g.port_id(str(attrs["port_id"]))).get("mac_address")
    return str(mac).lower() if mac else None


def network_of_iface(topo: Topo, attrs: Mapping[str, Any]) -> JsonDict:
    port = g.port_id(str(attrs.get("port_id"))) if attrs.get("port_id") else ""
    if port not in topo.nodes:
        raise Unknown(f"{attrs.get('name')} is no Neutron port's device: its network is not known")
    network = network_of(topo, port)
    return dict(topo.attrs(network)) if network in topo.nodes else {}


def last_access_port(topo: Topo, hops: Sequence[Mapping[str, Any]], index: int, bridge: str) -> JsonDict | None:
    for at in range(index - 1, -1, -1):
        attrs = ovs_port(topo, str(hops[at].get("node") or ""))
        if attrs is not None and not is_patch(attrs) and attrs.get("ovs_bridge") == bridge:
            return attrs
    return None


def next_ovs_port(topo: Topo, hops: Sequence[Mapping[str, Any]], index: int) -> JsonDict | None:
    """The first access or physical OVS port after ``index``, across tunnels, patches and bridges."""
    return first_ovs_port(topo, hops, range(index + 1, len(hops)))


def last_ovs_port(topo: Topo, hops: Sequence[Mapping[str, Any]], index: int) -> JsonDict | None:
    """The last access or physical OVS port the walk crossed before ``index``, across patches, bridges and
    tunnels (where a patched or tunnelled packet came from); None when something else comes first."""
    return first_ovs_port(topo, hops, range(index - 1, -1, -1))


def first_ovs_port(topo: Topo, hops: Sequence[Mapping[str, Any]], order: Iterable[int]) -> JsonDict | None:
    """The first access or physical OVS port of the hops at ``order``, passing patch and tunnel ports and
    bridges; None when something else (a namespace, a Linux bridge) comes first."""
    for at in order:
        node = str(hops[at].get("node") or "")
        attrs = ovs_port(topo, node)
        if attrs is not None and not is_patch(attrs) and attrs.get("ovs_type") not in TUNNEL_TYPES:
            return attrs
        if attrs is None and not is_ovs_bridge(topo, node):
            return None
    return None
