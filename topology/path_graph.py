"""The path API's indexed graph of the current revision (``Topo``), per process, moved on by the history's
deltas instead of built again at every revision.

Building it afresh costs the whole graph assembled from its parts and indexed (seconds on a
big cloud: docs/benchmarks.md); a process that already holds revision ``r`` and is asked about
``r + n`` reads the ``n`` deltas the history recorded (topology/history/record.py: each committed
with its revision) and applies them to a copy (topology/path/topo_delta.py), when the rows are
there, contiguous, and the same revisions (the time of the one it holds and of the current one:
a reset graph state makes new rows with new times) and none is a reset row (no delta: the whole graph
written, topology/history/models.py). Otherwise, or past MAX_DELTAS, it is built
afresh, with the cyclic GC paused. The whole graph as a dict (the tracers' plan) is made from the Topo only when
asked for; a member's view is made from the Topo (topology/path_view.py) with the logical objects' tokens
counted once and moved on by the same deltas.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from topology import graph as g
from topology import services
from topology.history.delta import decode
from topology.history.models import GraphRevision
from topology.join.gcpause import gc_paused
from topology.models import GraphState
from topology.path import Topo
from topology.path.topo_delta import moved
from topology.path_view import TokenCount

# Keyed by the revision and when it was made: a revision number alone comes back after the graph
# state is reset (a new database, a test's rollback).
GraphKey = tuple[int, str]
MAX_DELTAS = 500  # more revisions behind than this: built afresh (reading 500 small deltas is ~50 ms)


@dataclass
class Indexed:
    """One revision's indexed graph; ``how`` says whether it was built from the parts or moved on."""

    key: GraphKey
    topo: Topo
    how: str  # "built" or "moved"
    whole: dict[str, Any] | None = field(default=None, repr=False)
    counted: TokenCount | None = field(default=None, repr=False)

    def tokens(self) -> TokenCount:
        """Every logical object's tokens (topology/path_view.py): counted once, then moved on with the Topo."""
        with _LOCK:  # the warm-up thread (topology/path_warm.py) and a request: counted once
            if self.counted is None:
                with gc_paused():
                    self.counted = TokenCount.of(self.topo.nodes.values())
        return self.counted

    @property
    def graph(self) -> dict[str, Any]:
        """The whole graph (``{"nodes", "edges"}``), made from the Topo once when it was moved on."""
        if self.whole is None:
            edges = [
                {"source": source, "target": target, "kind": kind}
                for (source, kind), targets in self.topo.out.items()
                for target in targets
            ]
            self.whole = {"nodes": list(self.topo.nodes.values()), "edges": edges}
        return self.whole


# One build or move at a time per process: a request that finds the warm-up thread building waits for
# it instead of building a second copy (topology/path_warm.py). Re-entrant: tokens() inside a build.
_LOCK = threading.RLock()
_INDEXED: dict[str, Indexed] = {}  # "current": the one kept (the graph of a big cloud is hundreds of MB)


def graph_key() -> GraphKey:
    row = GraphState.objects.the_row().values_list("revision", "generated_at").first()
    return (row[0], row[1].isoformat() if row[1] else "") if row else (0, "")


def built() -> Indexed:
    """Built afresh from the stored parts, the cyclic GC paused (topology/join/gcpause.py): millions of
    dicts and lists made and none freed, whose GC passes cost more than the build (docs/benchmarks.md)."""
    with gc_paused():
        state = services.graph_state()
        key = (state.revision, state.generated_at.isoformat() if state.generated_at else "")
        return Indexed(key, Topo(state.graph, {}), "built", state.graph)


def moved_on(held: Indexed, key: GraphKey) -> Indexed | None:
    """``held`` moved on to ``key`` by the recorded deltas, or None when they cannot say it exactly."""
    (first, first_at), (last, last_at) = held.key, key
    if not first_at or not last_at or not first < last <= first + MAX_DELTAS:
        return None
    rows = list(
        GraphRevision.objects.filter(revision__gte=first, revision__lte=last)
        .order_by("revision")
        .values_list("revision", "at", "reset")
    )
    if [r for r, _, _ in rows] != list(range(first, last + 1)):
        return None  # pruned, or a gap
    if rows[0][1].isoformat() != first_at or rows[-1][1].isoformat() != last_at:
        return None  # not the revisions held and asked for (a reset graph state)
    if any(reset for _, _, reset in rows[1:]):
        return None  # the graph written whole since: built afresh (cheaper than diffing its checkpoint)
    blobs = GraphRevision.objects.filter(revision__gt=first, revision__lte=last).order_by("revision")
    deltas: list[g.Delta] = [decode(blob) for blob in blobs.values_list("delta_gz", flat=True)]  # type: ignore[misc]
    with gc_paused():  # the copies of the top-level dicts: large, and no cycle in them
        topo = moved(held.topo, deltas)
        counted = held.counted.moved(held.topo.nodes, deltas) if held.counted is not None else None
    return Indexed(key, topo, "moved", counted=counted)


def current_indexed() -> Indexed:
    """The current revision's indexed graph: kept, moved on from the one kept, or built."""
    key = graph_key()
    held = _INDEXED.get("current")
    if held is not None and held.key == key:
        return held
    with _LOCK:
        held = _INDEXED.get("current")  # made meanwhile by another thread?
        if held is not None and held.key == key:
            return held
        fresh = moved_on(held, key) if held is not None else None
        if fresh is None:
            fresh = built()
        _INDEXED["current"] = fresh
        return fresh


def forget() -> None:
    _INDEXED.clear()
