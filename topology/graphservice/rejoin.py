"""The writer's path for host reports: re-join only the hosts that changed, diff only their parts.

When the cloud snapshot is the one of the last whole join and a host's new report
leaves what the cross joins read of it as it was (topology/join/rejoin.py), the
graph changes only in that host's part: its own nodes and edges and its host node.
:func:`rejoin` makes those again, the delta from them alone (old part vs new part,
by identity) and splices them into the writer's graph in place, in the order a
cold join gives. Host nodes whose staleness changed are marked here too. Anything
else (the cloud changed, a host came or went, a quarantine, a report that moves a
binding, a tunnel or a NAT rule) returns None: the writer joins the whole graph.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from topology import graph as g
from topology.freshness import stale_node
from topology.graphservice.delta import edge_dict
from topology.graphservice.inputs import WriterInputs
from topology.join import JoinCache
from topology.join.parts import HostPhysical, JsonDict
from topology.join.rejoin import cross_signature, rejoin_hosts
from topology.kinds import EdgeKind

Nodes = dict[str, g.Node]
Edges = dict[g.EdgeKey, None]
CROSS_KINDS = frozenset({EdgeKind.TUNNEL, EdgeKind.BINDS})  # edge kinds the cross joins make


@dataclass
class Layout:
    """The order a cold join gives the graph: nodes outside the host parts (logical, host nodes), then
    each host's part in host order; edges: the logical part's, the host parts', then the cross joins'."""

    head_nodes: list[str]
    head_edges: list[g.EdgeKey]
    cross_edges: list[g.EdgeKey]
    pieces: dict[str, HostPhysical]  # host -> its part, in host order

    @classmethod
    def of_graph(cls, nodes: Nodes, edges: Edges, logical_edges: Edges, pieces: dict[str, HostPhysical]) -> Layout:
        """The layout of a graph in cold-join order (a whole join's) made from these parts."""
        in_pieces: set[str] = set()
        piece_edges: set[g.EdgeKey] = set()
        for piece in pieces.values():
            in_pieces.update(piece.nodes)
            piece_edges.update(piece.edges)
        head_nodes = [node_id for node_id in nodes if node_id not in in_pieces]
        head_edges = [key for key in edges if key in logical_edges]
        cross = [key for key in edges if key not in logical_edges and key not in piece_edges]
        return cls(head_nodes, head_edges, cross, dict(pieces))

    def ordered(self, nodes: Nodes, edges: Edges) -> tuple[Nodes, Edges]:
        out = {node_id: nodes[node_id] for node_id in self.head_nodes}
        out_edges: Edges = dict.fromkeys(self.head_edges)
        for piece in self.pieces.values():
            out.update({node_id: nodes[node_id] for node_id in piece.nodes})
            out_edges.update(piece.edges)
        out_edges.update(dict.fromkeys(self.cross_edges))
        return out, out_edges


@dataclass
class HeldGraph:
    """The writer's graph and what a re-join needs of the last one: host nodes as joined (before
    staleness is marked), the staleness marked, and the cold-join order (``layout``) of a graph whose
    parts a re-join changed in place (``unordered``: nodes or edges added or removed since)."""

    nodes: Nodes = field(default_factory=dict)
    edges: Edges = field(default_factory=dict)
    joined_hosts: dict[str, g.Node] = field(default_factory=dict)  # host -> its host node as the join made it
    stale: dict[str, str] = field(default_factory=dict)  # host -> since when it is marked stale
    layout: Layout | None = None
    unordered: bool = False

    def in_order(self) -> None:
        """The nodes and edges put in cold-join order (O(graph): for readers of the whole graph)."""
        if self.unordered and self.layout is not None:
            self.nodes, self.edges = self.layout.ordered(self.nodes, self.edges)
        self.unordered = False


def changed_pieces(
    cache: JoinCache, inputs: WriterInputs, hosts: Collection[str], before: Mapping[str, JsonDict | None]
) -> dict[str, tuple[HostPhysical, HostPhysical]] | None:
    """host -> (old part, new part) of the hosts whose report changed, if a re-join of them alone
    gives the whole join's graph; else None."""
    state = cache.cross
    if state is None or cache.quarantined or cache.logical is None or cache.logical[1] is not state.logical:
        return None
    if inputs.cloud_key is None or cache.logical[0] != inputs.cloud_key or len(inputs.reports) != len(state.hosts):
        return None
    pieces: dict[str, tuple[HostPhysical, HostPhysical]] = {}
    for host in sorted(set(hosts)):
        key, cached = inputs.keys.get(host), cache.hosts.get(host)
        report, old_report = inputs.reports.get(host), before.get(host)
        if key is None or cached is None or report is None or old_report is None or host not in state.hosts:
            return None
        if cached[0] == key:
            continue
        made, failed = cache.build(host, report, key)
        if made is None or failed is not None:
            return None
        if cross_signature(made, report) != cross_signature(cached[1], old_report):
            return None
        pieces[host] = (cached[1], made)
    return pieces


def rejoin(
    cache: JoinCache,
    inputs: WriterInputs,
    held: HeldGraph,
    hosts: Collection[str],
    before: Mapping[str, JsonDict | None],
    stale: dict[str, str],
) -> g.Delta | None:
    """Re-join these hosts' changed reports into ``held`` (changed in place) and mark ``stale``;
    the delta, or None if the whole graph must be joined (``held`` then unchanged)."""
    pieces = changed_pieces(cache, inputs, hosts, before)
    if pieces is None:
        return None
    news = {host: new for host, (_, new) in pieces.items()}
    redo = set(pieces) | {host for host in stale.keys() | held.stale.keys() if stale.get(host) != held.stale.get(host)}
    if any(host not in held.joined_hosts for host in redo):
        return None
    indexes = {host: piece.index for host, (_, piece) in cache.hosts.items()}
    indexes.update({host: piece.index for host, piece in news.items()})
    state = cache.cross
    assert state is not None  # changed_pieces checked it
    rejoined = rejoin_hosts(held.nodes, state, indexes, news, cache.described)
    delta = part_delta(held, pieces, rejoined.nodes)
    if delta is None:
        return None
    # the graph is changed from here on: host nodes, then the parts spliced in
    joined_hosts = held.joined_hosts
    changed_hosts: list[g.Node] = []
    for host in sorted(redo):
        joined = joined_hosts[host]
        if host in pieces:
            collected = inputs.reports[host].get("collected_at")
            if joined["attrs"].get("collected_at") != collected:
                joined = joined_hosts[host] = {**joined, "attrs": {**joined["attrs"], "collected_at": collected}}
        node = stale_node(joined, stale[host]) if host in stale else joined
        node_id = g.host_id(host)
        old = held.nodes[node_id]
        if old is not node and old != node:
            changed_hosts.append(node)
        held.nodes[node_id] = node
    delta["changed"]["nodes"][:0] = changed_hosts
    held.stale = stale
    if held.layout is None:
        held.layout = Layout.of_graph(
            held.nodes, held.edges, state.logical.edges, {h: p for h, (_, p) in cache.hosts.items()}
        )
    for host, (old_piece, new_piece) in pieces.items():
        held.nodes.update(rejoined.nodes[host])
        held.layout.pieces[host] = new_piece
        for node_id in old_piece.nodes:
            cache.described.pop(node_id, None)
        cache.hosts[host] = (inputs.keys[host], new_piece)
        cache.made.pop(host, None)
    for node_id in delta["removed"]["nodes"]:
        del held.nodes[node_id]
    for edge in delta["removed"]["edges"]:
        del held.edges[g.edge_key(edge)]
    held.edges.update(dict.fromkeys(g.edge_key(edge) for edge in delta["added"]["edges"]))
    if delta["added"]["nodes"] or delta["removed"]["nodes"] or delta["added"]["edges"] or delta["removed"]["edges"]:
        held.unordered = True  # put in order when the whole graph is read (HeldGraph.in_order)
    cache.described.update(rejoined.described)
    cache.rebuilt_hosts, cache.rebuilt_logical = sorted(pieces), False
    return delta


def part_delta(
    held: HeldGraph, pieces: Mapping[str, tuple[HostPhysical, HostPhysical]], rejoined: Mapping[str, Nodes]
) -> g.Delta | None:
    """The delta of the hosts' parts, old vs new by identity, in the order g.diff gives (None: a node
    or edge of the new part is held elsewhere in the graph, or an edge the cross joins may make too)."""
    added: list[g.Node] = []
    changed: list[g.Node] = []
    removed: list[str] = []
    added_edges: list[g.EdgeKey] = []
    removed_edges: list[g.EdgeKey] = []
    for host in sorted(pieces):
        old_piece, new_piece = pieces[host]
        if not old_piece.nodes or not old_piece.edges:
            return None  # nowhere to splice the new part in: the whole join places it
        for node_id, node in rejoined[host].items():
            old = held.nodes.get(node_id)
            if node_id not in old_piece.nodes:
                if old is not None:
                    return None
                added.append(node)
            elif old is not node and old != node:
                changed.append(node)
        removed += [node_id for node_id in old_piece.nodes if node_id not in new_piece.nodes]
        for key in new_piece.edges:
            if key not in old_piece.edges:
                if key in held.edges:
                    return None
                added_edges.append(key)
        for key in old_piece.edges:
            if key not in new_piece.edges:
                if key[2] in CROSS_KINDS:
                    return None
                removed_edges.append(key)
    return {
        "added": {"nodes": added, "edges": [edge_dict(key) for key in added_edges]},
        "removed": {"nodes": removed, "edges": [edge_dict(key) for key in removed_edges]},
        "changed": {"nodes": changed},
    }
