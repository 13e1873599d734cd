"""What a project sees of a replayed graph, kept up to date delta by delta (pure).

The same sets as topology.scope's ``visible_logical | visible_physical`` (a test holds
them to it at every revision of a replay), without a pass over every edge per
revision: the BINDS edges by source and the MEMBER edges by target are indexed once
and moved on by each delta's edges; the logical set is recomputed only when a delta
adds, removes or changes a logical node (or one with a project). On the synthetic
1,000-host cloud scope's full pass costs about 1.7 s (docs/benchmarks.md), which a
page of a member's history would pay at most revisions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from topology import graph as g
from topology.kinds import EdgeKind, NodeKind
from topology.scope import visible_logical


class ProjectView:
    """The ids project ``project_id`` may see in the graph ``nodes``/``edges``, as they move."""

    def __init__(self, nodes: dict[str, g.Node], edges: Iterable[dict[str, Any]], project_id: str) -> None:
        self.project_id = project_id
        self.binds: dict[str, set[str]] = {}
        self.parents: dict[str, set[str]] = {}
        for edge in edges:
            self.add_edge(edge)
        self.logical = visible_logical(nodes.values(), project_id)

    def index_of(self, edge: dict[str, Any]) -> tuple[dict[str, set[str]], str, str] | None:
        if edge["kind"] == EdgeKind.BINDS:
            return self.binds, edge["source"], edge["target"]
        if edge["kind"] == EdgeKind.MEMBER and g.id_kind(edge["source"]) not in NodeKind.LOGICAL:
            return self.parents, edge["target"], edge["source"]
        return None

    def add_edge(self, edge: dict[str, Any]) -> None:
        found = self.index_of(edge)
        if found is not None:
            index, key, value = found
            index.setdefault(key, set()).add(value)

    def remove_edge(self, edge: dict[str, Any]) -> None:
        found = self.index_of(edge)
        if found is not None:
            index, key, value = found
            index.get(key, set()).discard(value)

    def moves_logical(self, delta: g.Delta) -> bool:
        def counts(node: g.Node) -> bool:
            return node["kind"] in NodeKind.LOGICAL or "project_id" in node

        if any(counts(n) for n in (*delta["added"]["nodes"], *delta["changed"]["nodes"])):
            return True
        return any(g.id_kind(i) in NodeKind.LOGICAL or i in self.logical for i in delta["removed"]["nodes"])

    def update(self, nodes: dict[str, g.Node], delta: g.Delta) -> None:
        """Move on by ``delta``, already applied to ``nodes``."""
        for edge in delta["removed"]["edges"]:
            self.remove_edge(edge)
        for edge in delta["added"]["edges"]:
            self.add_edge(edge)
        if self.moves_logical(delta):
            self.logical = visible_logical(nodes.values(), self.project_id)

    def visible(self) -> set[str]:
        """As topology.scope.visible_physical walks it: bound devices, then their containers up to the host."""
        own_networks = {n for n in self.logical if n.startswith("network:")}
        seeds = [
            target
            for source in self.logical
            for target in self.binds.get(source, ())
            # An external network's fip- namespace is shared by every project's routers.
            if not (source in own_networks and target.split(":")[2].startswith("fip-"))
        ]
        physical: set[str] = set()
        while seeds:
            node = seeds.pop()
            if node not in physical:
                physical.add(node)
                seeds.extend(self.parents.get(node, ()))
        return self.logical | physical
