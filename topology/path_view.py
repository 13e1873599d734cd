"""A project member's view of one revision for the path explainer, made from the indexed graph (``Topo``).

What ``scope_graph(graph, "full", project)`` and ``Secrets.of(graph's nodes, visible)`` give
(topology/scope.py, topology/path_scope.py), without the whole graph as a list of edges (a moved
``Topo`` has none: making it is a pass over every edge) and without every logical object's tokens
made again per project and revision: the tokens of every logical object are counted once per
revision (:class:`TokenCount`) and moved on with the ``Topo`` by the same deltas
(topology/path_graph.py), and a project's secrets are those tokens less the ones of what it sees
(the same set as hidden - allowed: a token of something it sees is never secret). The nodes are in the
``Topo``'s order, the edges in its edge lists' order (the order a moved graph's edge list has).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from topology import graph as g
from topology.kinds import EdgeKind, NodeKind
from topology.path import Topo
from topology.path_scope import ADDRESS, WORD, Secrets, object_tokens
from topology.scope import GraphDict, redact_admin_only, redact_shared, visible_logical


def visible_physical(topo: Topo, logical: set[str]) -> set[str]:
    """topology.scope.visible_physical from the Topo's edge lists: bound devices and their containers."""
    own_networks = {n for n in logical if n.startswith("network:")}
    seeds = [
        target
        for source in logical
        for target in topo.out.get((source, EdgeKind.BINDS), [])
        # An external network's fip- namespace is shared by every project's routers.
        if not (source in own_networks and target.split(":")[2].startswith("fip-"))
    ]
    visible: set[str] = set()
    while seeds:
        node = seeds.pop()
        if node not in visible:
            visible.add(node)
            parents = topo.inn.get((node, EdgeKind.MEMBER), [])
            seeds.extend(p for p in parents if p.split(":", 1)[0] not in NodeKind.LOGICAL)
    return visible


def scope_topo(topo: Topo, project_id: str) -> GraphDict:
    """``scope_graph(graph, "full", project_id)`` of the Topo's graph (nodes and edges as multisets)."""
    nodes = topo.nodes.values()
    logical = visible_logical(nodes, project_id)
    allowed = logical | visible_physical(topo, logical)
    kept = [redact_admin_only(redact_shared(n)) for n in nodes if n["id"] in allowed]
    ids = {n["id"] for n in kept}
    edges = [
        {"source": source, "target": target, "kind": kind}
        for (source, kind), targets in topo.out.items()
        if source in ids
        for target in targets
        if target in ids
    ]
    return {"nodes": kept, "edges": edges}


def phrase_like(token: str) -> bool:
    """A token Secrets matches as a substring (path_scope.Secrets.of's ``phrases``)."""
    return not WORD.fullmatch(token) and not ADDRESS.fullmatch(token)


@dataclass
class TokenCount:
    """Every logical object's tokens (``object_tokens``) of one revision, counted by how many objects have each."""

    counts: dict[str, int] = field(default_factory=dict)
    phrases: set[str] = field(default_factory=set)  # the counted tokens that are phrase_like

    @classmethod
    def of(cls, nodes: Iterable[g.Node]) -> TokenCount:
        logical = NodeKind.LOGICAL
        counts = Counter(token for node in nodes if node["kind"] in logical for token in object_tokens(node))
        return cls(dict(counts), {token for token in counts if phrase_like(token)})

    def add(self, node: g.Node | None, sign: int) -> None:
        if node is None or node["kind"] not in NodeKind.LOGICAL:
            return
        counts = self.counts
        for token in object_tokens(node):
            count = counts.get(token, 0) + sign
            if count > 0:
                if token not in counts and phrase_like(token):
                    self.phrases.add(token)
                counts[token] = count
            else:
                counts.pop(token, None)
                self.phrases.discard(token)

    def moved(self, before: Mapping[str, g.Node], deltas: Iterable[g.Delta]) -> TokenCount:
        """A copy moved on by ``deltas`` applied in turn to the graph whose nodes are ``before`` (left as is)."""
        made = TokenCount(dict(self.counts), set(self.phrases))
        now: dict[str, g.Node | None] = {}  # nodes the deltas set so far (None: removed)

        def current(node_id: str) -> g.Node | None:
            return now[node_id] if node_id in now else before.get(node_id)

        for delta in deltas:
            for node_id in delta["removed"]["nodes"]:
                made.add(current(node_id), -1)
                now[node_id] = None
            for node in (*delta["added"]["nodes"], *delta["changed"]["nodes"]):
                made.add(current(node["id"]), -1)
                made.add(node, 1)
                now[node["id"]] = node
        return made

    def secrets(self, nodes: Mapping[str, g.Node], visible: set[str]) -> Secrets:
        """``Secrets.of(all nodes, visible)``: every counted token but those of the logical objects seen."""
        allowed: set[str] = set()
        for node_id in visible:
            node = nodes.get(node_id)
            if node is not None and node["kind"] in NodeKind.LOGICAL:
                allowed.update(object_tokens(node))
        tokens = self.counts.keys() - allowed
        return Secrets(frozenset(tokens), tuple(sorted(self.phrases - allowed)))


def project_view_of(topo: Topo, tokens: TokenCount, project_id: str) -> tuple[GraphDict, Secrets]:
    """What ``project_id`` may see of the revision and the tokens it may not (topology/api_path.py)."""
    visible = scope_topo(topo, project_id)
    return visible, tokens.secrets(topo.nodes, {n["id"] for n in visible["nodes"]})


__all__ = ["TokenCount", "project_view_of", "scope_topo", "visible_physical"]
