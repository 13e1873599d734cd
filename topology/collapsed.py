"""The collapsed physical view (pure): each host as one node with counts and a state, the links between hosts.

At 10,000 hosts the physical view's interfaces are millions of nodes: the map draws hosts as single
nodes and fetches a host's content when it is expanded (topology/api_hosts.py). What a host node
carries here, in ``attrs["collapsed"]``:

- ``interfaces``, ``namespaces``, ``bridges``: the host's iface, netns and bridge nodes;
- ``ports``: the Neutron ports bound to it (a port's ``host``, or for a project member, whose ports
  carry no binding host, the host of the physical node the port binds);
- ``warnings``: how many warnings its nodes carry;
- ``state``: ``up``, ``stale`` (no fresh agent report, topology/freshness.py) or ``quarantined``
  (its report could not be joined, topology/quarantine.py).

The links are the tunnels between two hosts' interfaces, folded to one ``tunnel`` edge per host pair
(``attrs``-free, ``count`` the tunnels folded). Everything is computed from what the caller may see
(an admin's part, or a project's scoped graph), so a project member's counts are their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from topology.freshness import STALE
from topology.kinds import EdgeKind, NodeKind

Node = dict[str, Any]
Edge = dict[str, Any]
HostPair = tuple[str, str]

COUNTED: Mapping[str, str] = {
    NodeKind.IFACE: "interfaces",
    NodeKind.NETNS: "namespaces",
    NodeKind.BRIDGE: "bridges",
    NodeKind.PORT: "ports",
}
# what topology/quarantine.py's Quarantined.warning says of a host whose report could not be joined
QUARANTINE_MARK = "could not be joined"
PHYSICAL_WITH_HOST = frozenset({NodeKind.IFACE, NodeKind.NETNS, NodeKind.BRIDGE})


def host_of_id(node_id: str) -> str | None:
    """The host in a physical node's id (``host:<h>``, ``iface:<h>:...``, ``netns:<h>:...``, ``bridge:<h>:...``)."""
    kind, _, rest = node_id.partition(":")
    if kind == NodeKind.HOST:
        return rest
    if kind in PHYSICAL_WITH_HOST:
        return rest.partition(":")[0]
    return None


@dataclass(frozen=True)
class NodeText:
    """A host node as the writer stored it (topology/graphservice/summary_rows.py): its JSON text split where
    ``attrs.collapsed`` goes, so that a reader splices the counts in instead of decoding and encoding the node."""

    id: str
    stale: bool
    head: bytes  # up to and with ``"collapsed":``
    tail: bytes  # what follows the counts' object


@dataclass
class HostSummary:
    """One host as the collapsed view draws it."""

    node: Node | None = None  # the host node, if the caller may see it
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED.values(), 0))
    warnings: int = 0
    quarantined: bool = False
    text: NodeText | None = None  # or the host node as stored text (node then None)

    def drawn_id(self) -> str | None:
        """The host node's id, if the caller may see it."""
        if self.node is not None:
            return str(self.node["id"])
        return self.text.id if self.text is not None else None

    def state(self) -> str:
        if self.quarantined:
            return "quarantined"
        if self.node is not None and is_stale(self.node):
            return "stale"
        if self.text is not None and self.text.stale:
            return "stale"
        return "up"

    def collapsed_attrs(self) -> dict[str, Any]:
        return {**self.counts, "warnings": self.warnings, "state": self.state()}

    def collapsed_node(self) -> Node | None:
        if self.node is None:
            return None
        attrs = {**self.node["attrs"], "collapsed": self.collapsed_attrs()}
        return {**self.node, "attrs": attrs}

    def collapsed_json(self) -> Node | orjson.Fragment | None:
        """The collapsed node for the response: the node's dict, or its stored text with the counts spliced in
        (the same JSON as ``orjson.dumps(collapsed_node())`` of the decoded node, byte for byte)."""
        if self.text is not None and self.node is None:
            return orjson.Fragment(self.text.head + orjson.dumps(self.collapsed_attrs()) + self.text.tail)
        return self.collapsed_node()


def is_stale(node: Node) -> bool:
    return node.get("status") == STALE or bool(node["attrs"].get("stale"))


def merged(a: HostSummary | None, b: HostSummary) -> HostSummary:
    """Two parts' summaries of one host (a port of the host in another part, say) as one."""
    if a is None:
        return b
    counts = {name: a.counts[name] + b.counts[name] for name in a.counts}
    drawn = a if a.drawn_id() is not None else b
    return HostSummary(drawn.node, counts, a.warnings + b.warnings, a.quarantined or b.quarantined, drawn.text)


def summarize(nodes: Iterable[Node], edges: Iterable[Edge]) -> dict[str, HostSummary]:
    """The hosts of these nodes with their counts (edges: to place a port without ``host`` by what it binds)."""
    hosts: dict[str, HostSummary] = {}
    unplaced: set[str] = set()
    for node in nodes:
        kind = node["kind"]
        host = node.get("host") or (node["id"][len("host:") :] if kind == NodeKind.HOST else None)
        if not host:
            if kind == NodeKind.PORT:
                unplaced.add(node["id"])
            continue
        summary = hosts.setdefault(host, HostSummary())
        if kind == NodeKind.HOST:
            summary.node = node
        elif kind in COUNTED:
            summary.counts[COUNTED[kind]] += 1
        warnings = node["attrs"].get("warnings") or ()
        summary.warnings += len(warnings)
        if kind == NodeKind.HOST and any(QUARANTINE_MARK in str(w) for w in warnings):
            summary.quarantined = True
    placed: set[tuple[str, str]] = set()
    for edge in edges:
        if edge["kind"] == EdgeKind.BINDS and edge["source"] in unplaced:
            host = host_of_id(edge["target"])
            if host is not None and (edge["source"], host) not in placed:
                placed.add((edge["source"], host))
                hosts.setdefault(host, HostSummary()).counts["ports"] += 1
    return hosts


def host_links(edges: Iterable[Edge]) -> dict[HostPair, int]:
    """Tunnels between interfaces of two hosts, counted per host pair (sorted)."""
    links: dict[HostPair, int] = {}
    for edge in edges:
        if edge["kind"] != EdgeKind.TUNNEL:
            continue
        a, b = host_of_id(edge["source"]), host_of_id(edge["target"])
        if a is None or b is None or a == b:
            continue
        pair = (a, b) if a < b else (b, a)
        links[pair] = links.get(pair, 0) + 1
    return links


def collapsed_graph(summaries: Mapping[str, HostSummary], links: Mapping[HostPair, int]) -> dict[str, Any]:
    """The collapsed view's nodes and edges (hosts by name; links only between hosts drawn)."""
    nodes = [n for host in sorted(summaries) if (n := summaries[host].collapsed_json()) is not None]
    drawn = {node_id for s in summaries.values() if (node_id := s.drawn_id()) is not None}
    edges = [
        {"source": f"host:{a}", "target": f"host:{b}", "kind": EdgeKind.TUNNEL, "count": count}
        for (a, b), count in sorted(links.items())
        if f"host:{a}" in drawn and f"host:{b}" in drawn
    ]
    totals = {
        "hosts": len(nodes),
        "nodes": sum(1 + sum(s.counts.values()) - s.counts["ports"] for s in summaries.values()),
    }
    return {"nodes": nodes, "edges": edges, "collapsed": True, "totals": totals}


def host_content(nodes: Sequence[Node], edges: Sequence[Edge], host: str, kinds: frozenset[str]) -> dict[str, Any]:
    """One host's nodes of ``kinds`` (physical: its host, namespaces, bridges, interfaces) and the edges among them."""
    kept: list[Node] = []
    for node in nodes:
        if node["kind"] not in kinds:
            continue
        if node.get("host") == host or node["id"] == f"host:{host}":
            kept.append(node)
    ids = {n["id"] for n in kept}
    if NodeKind.PORT in kinds:  # a project member's ports carry no host: those binding into this host
        extra = {e["source"] for e in edges if e["kind"] == EdgeKind.BINDS and e["target"] in ids}
        kept += [n for n in nodes_by_id(nodes, extra - ids)]
        ids |= extra
    return {"nodes": kept, "edges": [e for e in edges if e["source"] in ids and e["target"] in ids]}


def nodes_by_id(nodes: Iterable[Node], wanted: set[str]) -> list[Node]:
    return [n for n in nodes if n["id"] in wanted] if wanted else []
