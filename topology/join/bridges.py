"""One host's OVS and Linux bridges and its veth and patch links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topology import graph as g
from topology.join.devices import (
    add_iface,
    device_prefix,
    drop_iface,
    iface_status,
)
from topology.join.parts import HostPhysical, JsonDict, add_link
from topology.kinds import (
    DEVICE_ROLE,
    TUNNEL_TYPES,
    EdgeKind,
    NodeKind,
)

# A kernel OVS datapath enslaves its ports to this device; it is not a bridge of ours.
OVS_DATAPATH_MASTER = "ovs-system"


def add_ovs_bridges(piece: HostPhysical, bridges: list[JsonDict], flows: Mapping[str, list[str]]) -> None:
    for bridge in bridges:
        name = bridge["name"]
        bridge_node = g.bridge_id(piece.host, name)
        own = piece.nodes.get(g.iface_id(piece.host, None, name))
        piece.graph.add_node(
            bridge_node,
            NodeKind.BRIDGE,
            name,
            host=piece.host,
            type="ovs",
            name=name,
            datapath_type=bridge.get("datapath_type"),
            fail_mode=bridge.get("fail_mode"),
            addresses=(own or {}).get("attrs", {}).get("addresses", []),
            flow_count=len(flows.get(name, [])),
        )
        piece.graph.add_edge(piece.host_node, bridge_node, EdgeKind.MEMBER)
        if own is not None:  # the bridge's own internal port is the bridge itself on the map
            # only an earlier bridge's member edge can point at a root interface yet
            drop_iface(piece, own["id"], name, linked=own["id"] in piece.index.on_bridge)
        ovs_bridge = bridge_node.split(":", 2)[2]
        for port in bridge.get("ports") or []:
            tag = port.get("tag")
            for intf in port.get("interfaces") or []:
                if intf["name"] != name:
                    add_ovs_interface(piece, bridge_node, ovs_bridge, tag, intf)


def add_ovs_interface(piece: HostPhysical, bridge_node: str, ovs_bridge: str, tag: Any, intf: JsonDict) -> None:
    index = piece.index
    node_id = index.by_name.get(intf["name"])
    if node_id is None:
        # Patch and userspace tunnel ports have no kernel device: OVS is all we know.
        node_id = add_iface(piece, None, {"name": intf["name"], "kind": intf.get("type") or "ovs"})
    external_ids = intf.get("external_ids") or {}
    options = intf.get("options") or {}
    kind = intf.get("type")
    attrs = piece.nodes[node_id]["attrs"]
    attrs["ovs_bridge"] = ovs_bridge
    attrs["ovs_type"] = kind or "system"
    attrs["tag"] = tag
    attrs["ofport"] = intf.get("ofport")
    attrs["options"] = options
    attrs["external_ids"] = external_ids
    piece.graph.add_edge(bridge_node, node_id, EdgeKind.MEMBER)
    index.on_bridge.add(node_id)
    iface_id = external_ids.get("iface-id")
    if iface_id:
        index.by_iface_id[iface_id].append(node_id)
    if kind:
        if kind == "patch" and options.get("peer"):
            attrs["patch_peer"] = g.iface_id(piece.host, None, options["peer"])
            index.patch_ports.add(node_id)
        if kind in TUNNEL_TYPES and options.get("remote_ip"):
            index.tunnel_ifaces.append((node_id, options["remote_ip"]))
            index.tunnel_to.setdefault(options["remote_ip"], node_id)


def add_linux_bridges_and_links(
    piece: HostPhysical,
    scopes: list[tuple[str | None, list[JsonDict], list[str]]],
    ovs_bridges: set[str],
    plain: set[str],
) -> None:
    """Linux bridges (qbr) from kernel masters, veth pairs and patch pairs."""
    host, nodes, edges, index = piece.host, piece.nodes, piece.edges, piece.index
    names_in: dict[str | None, dict[str, JsonDict]] = {
        ns: {i["name"]: i for i in ifs} for ns, ifs, _ in scopes if ns is not None
    }
    on_bridge = index.on_bridge
    masters: list[g.EdgeKey] = []  # bridge -> member edges: the report may name a bridge it lacks
    for namespace, ifaces, node_ids in scopes:
        if namespace is not None:
            for iface, node_id in zip(ifaces, node_ids, strict=True):
                if iface.get("peer") and node_id in nodes:
                    add_veth(piece, namespace, iface, node_id, names_in)
            continue
        for iface, node_id in zip(ifaces, node_ids, strict=True):
            name = iface["name"]
            if name in plain:
                add_linux_bridge(piece, iface, was_iface=False)
            elif node_id not in nodes:
                continue
            elif iface.get("kind") == "bridge" and name not in ovs_bridges:
                add_linux_bridge(piece, iface)
            master = iface.get("master")
            if master and master != OVS_DATAPATH_MASTER and master not in ovs_bridges:
                key = (g.bridge_id(host, master), node_id, EdgeKind.MEMBER)
                edges[key] = None
                masters.append(key)
                on_bridge.add(node_id)
            if iface.get("peer") and node_id in nodes:  # a bridge device (dropped above) is no veth end
                add_veth(piece, namespace, iface, node_id, names_in)
    if not piece.maybe_dangling:
        piece.maybe_dangling = any(source not in nodes or target not in nodes for source, target, _ in masters)
    patch_ports = index.patch_ports
    if patch_ports:
        # Only a name's first node takes OVS attributes: the patch ports are among them.
        for node_id in list(index.by_name.values()):
            if node_id in patch_ports:
                peer = nodes[node_id]["attrs"].get("patch_peer")
                if peer in nodes:
                    add_link(edges, node_id, peer, EdgeKind.PATCH)


def add_linux_bridge(piece: HostPhysical, iface: JsonDict, was_iface: bool = True) -> None:
    """A root Linux bridge device drawn as a bridge (``was_iface``: it was an interface node first)."""
    host, name = piece.host, iface["name"]
    node_id = g.bridge_id(host, name)
    # The bridge device itself is drawn as the bridge, not as an interface.
    if was_iface:
        drop_iface(piece, g.iface_id(host, None, name), name)
    prefix = device_prefix(name)
    piece.graph.add_node(
        node_id,
        NodeKind.BRIDGE,
        name,
        host=host,
        status=iface_status(iface.get("state")),
        type="linux",
        name=name,
        role=DEVICE_ROLE[prefix] if prefix else None,
        mtu=iface.get("mtu"),
    )
    piece.index.linux_bridges[name] = node_id
    piece.graph.add_edge(piece.host_node, node_id, EdgeKind.MEMBER)


def add_veth(
    piece: HostPhysical,
    namespace: str | None,
    iface: JsonDict,
    node_id: str,
    names_in: Mapping[str | None, Mapping[str, JsonDict]],
) -> None:
    peer_name = iface["peer"]
    peer_ns = iface.get("peer_netns")
    if peer_ns is None and namespace is not None:
        # A null peer_netns means "root", unless the peer sits beside it in the same namespace.
        same = names_in.get(namespace, {}).get(peer_name)
        if same is not None and same.get("peer") == iface["name"]:
            peer_ns = namespace
    peer = g.iface_id(piece.host, peer_ns, peer_name)
    if peer in piece.nodes:
        add_link(piece.edges, node_id, peer, EdgeKind.VETH)
    else:
        where = f"namespace {peer_ns}" if peer_ns else "the root namespace"
        attrs = piece.nodes[node_id]["attrs"]
        warnings = attrs.setdefault("warnings", [])
        message = f"veth peer {peer_name} in {where} is not in the report"
        if message not in warnings:
            warnings.append(message)
