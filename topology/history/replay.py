"""A past revision of the graph, rebuilt: the nearest checkpoint at or before it, then the deltas after it.

Equal to the graph that was current then as topology.history.delta.canonical compares graphs.

A reset row (no delta, a checkpoint: topology/history/models.py) crossed on the way is its checkpoint:
its delta is that checkpoint diffed with the graph replayed up to the revision before (:meth:`Replay.deltas`);
:func:`reset_delta` is the same for a reader that holds no replay.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from topology import graph as g
from topology.history.delta import Edges, Nodes, apply_delta, as_graph, decode, indexed
from topology.history.models import GraphRevision


class HistoryGap(LookupError):
    """The revision cannot be rebuilt: pruned, never recorded, or a row is missing after its checkpoint."""


class Replay:
    """The graph at some revision, moved forward one recorded delta at a time."""

    def __init__(self, revision: int) -> None:
        checkpoint = (
            GraphRevision.objects.filter(revision__lte=revision, checkpoint_gz__isnull=False)
            .order_by("-revision")
            .values_list("revision", "checkpoint_gz")
            .first()
        )
        if checkpoint is None:
            raise HistoryGap(f"no checkpoint at or before revision {revision}")
        graph = decode(checkpoint[1] or b"")
        self.revision: int = checkpoint[0]
        self.nodes: Nodes
        self.edges: Edges
        self.nodes, self.edges = indexed(graph)
        self.forward_to(revision)

    def deltas(self, last: int) -> Iterator[tuple[GraphRevision, g.Delta]]:
        """The rows after the current revision up to ``last``, each with its delta (no gap allowed). Each is
        to be applied before the next is asked for: a reset row's delta is made against the graph held."""
        rows = GraphRevision.objects.filter(revision__gt=self.revision, revision__lte=last).order_by("revision")
        expected = self.revision + 1
        for row in rows.defer("checkpoint_gz").iterator(chunk_size=200):
            if row.revision != expected:
                raise HistoryGap(f"revision {expected} is missing from the history")
            yield row, self.reset_delta(row) if row.reset else decode(row.delta_gz)  # type: ignore[misc]
            expected += 1
        if expected != last + 1:
            raise HistoryGap(f"revision {expected} is missing from the history")

    def reset_delta(self, row: GraphRevision) -> g.Delta:
        """What reset ``row`` changed: its checkpoint diffed with the graph held (the revision before)."""
        return g.diff(self.graph(), decode(row.checkpoint_gz or b""))

    def apply(self, row: GraphRevision, delta: g.Delta) -> None:
        apply_delta(self.nodes, self.edges, delta)
        self.revision = row.revision

    def forward_to(self, revision: int) -> None:
        for row, delta in self.deltas(revision):
            self.apply(row, delta)

    def graph(self) -> dict[str, list[Any]]:
        return as_graph(self.nodes, self.edges)


def graph_at(revision: int) -> dict[str, list[Any]]:
    """The whole graph as it was at ``revision`` (HistoryGap when it cannot be rebuilt)."""
    return Replay(revision).graph()


def reset_delta(revision: int) -> g.Delta:
    """What reset row ``revision`` changed: its checkpoint diffed with the graph at the revision before,
    or with nothing (everything added) when that cannot be rebuilt (the first revision, pruned)."""
    blob = GraphRevision.objects.filter(revision=revision).values_list("checkpoint_gz", flat=True).first()
    try:
        before = graph_at(revision - 1)
    except HistoryGap:
        before = {"nodes": [], "edges": []}
    return g.diff(before, decode(blob or b""))
