"""One host's physical part, made from its report alone (host_physical)."""

from __future__ import annotations

from collections import Counter

from topology import graph as g
from topology.join.bridges import add_linux_bridges_and_links, add_ovs_bridges
from topology.join.devices import add_iface, add_namespace
from topology.join.parts import HostIndex, HostPhysical, JsonDict, drop_dangling
from topology.join.shared import share_part
from topology.kinds import (
    EdgeKind,
)


def host_physical(host: str, report: JsonDict) -> HostPhysical:
    """The physical subgraph of one host: its interfaces, namespaces, OVS and Linux bridges and their links."""
    piece = HostPhysical(host, {}, {}, HostIndex(host=host))
    ovs = report.get("ovs") or {}
    bridges = ovs.get("bridges") or []
    ovs_bridges = {b["name"] for b in bridges}
    interfaces = report.get("interfaces") or []
    namespaces = report.get("namespaces") or []
    plain = plain_linux_bridges(interfaces, namespaces, bridges, ovs_bridges)
    root = [
        g.iface_id(host, None, iface["name"]) if iface["name"] in plain else add_iface(piece, None, iface)
        for iface in interfaces
    ]
    in_namespaces = [add_namespace(piece, namespace) for namespace in namespaces]
    add_ovs_bridges(piece, bridges, ovs.get("flows") or {})
    scopes: list[tuple[str | None, list[JsonDict], list[str]]] = [(None, interfaces, root)]
    scopes += [(ns["name"], ns.get("interfaces") or [], ids) for ns, ids in zip(namespaces, in_namespaces, strict=True)]
    add_linux_bridges_and_links(piece, scopes, ovs_bridges, plain)
    # Root-namespace interfaces that sit on a bridge belong to the bridge, not to the host.
    for node_id in root:
        if node_id in piece.nodes and node_id not in piece.index.on_bridge:
            piece.graph.add_edge(piece.host_node, node_id, EdgeKind.MEMBER)
    if piece.maybe_dangling:
        drop_dangling(piece.nodes, piece.edges, also=piece.host_node)
        forget_dropped(piece)
    return share_part(piece)


def forget_dropped(piece: HostPhysical) -> None:
    """The index's tunnel and OVS lookups without the nodes the part dropped (an OVS interface
    named like a bridge becomes that bridge): the cross joins look nodes up by them."""
    nodes, index = piece.nodes, piece.index
    index.tunnel_ifaces = [(node_id, ip) for node_id, ip in index.tunnel_ifaces if node_id in nodes]
    index.tunnel_to = {ip: node_id for ip, node_id in index.tunnel_to.items() if node_id in nodes}
    for ip, node_id in index.tunnel_ifaces:
        index.tunnel_to.setdefault(ip, node_id)
    for iface_id, node_ids in list(index.by_iface_id.items()):
        kept = [node_id for node_id in node_ids if node_id in nodes]
        if kept:
            index.by_iface_id[iface_id] = kept
        else:
            del index.by_iface_id[iface_id]
    index.patch_ports &= nodes.keys()
    index.on_bridge &= nodes.keys()
    index.router_devices &= nodes.keys()


def plain_linux_bridges(
    interfaces: list[JsonDict], namespaces: list[JsonDict], bridges: list[JsonDict], ovs_bridges: set[str]
) -> set[str]:
    """Root Linux bridges (qbr) that nothing else in the report names: drawn as bridges at once.

    Any other Linux bridge device first becomes an interface node (OVS, a veth or a
    namespace may refer to it by name) and is turned into its bridge later.
    """
    # one pass over the root interfaces (the report's biggest list): bridges without a peer
    # are the candidates; peers are named, and so are names the root lists twice
    candidates: set[str] = set()
    named: set[str] = {""}
    for iface in interfaces:
        peer = iface.get("peer")
        if peer:
            named.add(peer)
        elif iface.get("kind") == "bridge":
            candidates.add(iface["name"])
    candidates -= ovs_bridges
    if not candidates:
        return candidates
    names = [iface["name"] for iface in interfaces]
    if len(set(names)) < len(names):
        named.update(name for name, count in Counter(names).items() if count > 1)
    for namespace in namespaces:
        for iface in namespace.get("interfaces") or []:
            named.update((iface["name"], iface.get("peer") or ""))
    for bridge in bridges:
        for port in bridge.get("ports") or []:
            for intf in port.get("interfaces") or []:
                named.add(intf["name"])
                if intf.get("type") == "patch":
                    named.add((intf.get("options") or {}).get("peer") or "")
    return candidates - named
