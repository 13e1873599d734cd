"""The map at a past revision, and what changed between two (GET /api/v1/topology/history/<revision>/).

:func:`past_view` answers what the live topology API answered at that revision for
the same view and scope: the graph rebuilt by topology.history.replay, seen through
topology.scope.scope_graph as the live API sees the current one (a project member gets
their own scope only; a revision in which they see nothing is their empty graph).
:func:`compare_views` is pure: two such views in, the ids added, removed and changed
from the older to the newer out, with the removed nodes (as that view had them) for
the map to draw back as ghosts.

Both are kept per process, as the path API keeps its indexed graph: the replayed graphs
of a few revisions (hundreds of MB on a big cloud, so only PAST_GRAPHS_KEPT of them) and
the serialized bodies, gzipped as the live topology body is (keyed by revision, when it was
made, view and scope).
"""

from __future__ import annotations

import gzip
from collections import OrderedDict
from typing import Any

import orjson

from topology import graph as g
from topology.history.models import GraphRevision
from topology.history.replay import graph_at
from topology.scope import scope_graph

BODY_GZIP_LEVEL = 1  # as the live topology body: ~6x smaller, kept and served as stored
GraphDict = dict[str, Any]
RevisionKey = tuple[int, str]  # a revision and when it was made: a number alone comes back after a reset
MAX_REVISION = 2**63 - 1  # the database's integer: a larger number is no revision, not a 500
PAST_GRAPHS_KEPT = 2
PAST_BODIES_KEPT = 32

_GRAPHS: OrderedDict[RevisionKey, GraphDict] = OrderedDict()
_BODIES: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()


class UnknownRevision(LookupError):
    """Not in the history: never made, pruned, or not made yet; says which revisions are kept."""

    def __init__(self, revision: int, oldest: int | None, newest: int | None) -> None:
        self.revision, self.oldest, self.newest = revision, oldest, newest
        if oldest is None:
            text = f"revision {revision} is not in the history: no revision is kept yet"
        else:
            text = f"revision {revision} is not in the history: the oldest kept is {oldest}, the newest {newest}"
        super().__init__(text)

    def body(self) -> dict[str, Any]:
        return {"detail": str(self), "oldest": self.oldest, "newest": self.newest}


def kept_range() -> tuple[int | None, int | None]:
    """The oldest revision that can be rebuilt (the first checkpoint kept) and the newest recorded."""
    oldest = (
        GraphRevision.objects.filter(checkpoint_gz__isnull=False)
        .order_by("revision")
        .values_list("revision", flat=True)
        .first()
    )
    newest = GraphRevision.objects.order_by("-revision").values_list("revision", flat=True).first()
    return oldest, newest


def revision_key(revision: int) -> RevisionKey:
    """``revision`` and its time, if it can be rebuilt (UnknownRevision otherwise)."""
    oldest, newest = kept_range()
    at = None
    if revision <= MAX_REVISION:
        at = GraphRevision.objects.filter(revision=revision).values_list("at", flat=True).first()
    if at is None or oldest is None or revision < oldest:
        raise UnknownRevision(revision, oldest, newest)
    return revision, at.isoformat()


def kept(cache: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> Any:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
    return value


def past_graph(key: RevisionKey) -> GraphDict:
    """The whole graph at ``key``'s revision (replayed once, then kept)."""
    if key in _GRAPHS:
        _GRAPHS.move_to_end(key)
        return _GRAPHS[key]
    return kept(_GRAPHS, key, graph_at(key[0]), PAST_GRAPHS_KEPT)


def view_at(key: RevisionKey, view: str, scope: str | None) -> GraphDict:
    """The topology response at ``key`` for ``view`` and ``scope`` (None: admin), as the live API shapes it."""
    return {"revision": key[0], "generated_at": key[1], **scope_graph(past_graph(key), view, scope)}


def packed(body: dict[str, Any]) -> bytes:
    return gzip.compress(orjson.dumps(body), compresslevel=BODY_GZIP_LEVEL)


def past_view(revision: int, view: str, scope: str | None) -> bytes:
    """The body of GET /api/v1/topology/history/<revision>/?view= for ``scope`` (orjson, gzip)."""
    key = revision_key(revision)
    cache_key = (key, view, scope)
    if cache_key in _BODIES:
        _BODIES.move_to_end(cache_key)
        return _BODIES[cache_key]
    return kept(_BODIES, cache_key, packed(view_at(key, view, scope)), PAST_BODIES_KEPT)


def edge_ids(edges: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"source": e["source"], "target": e["target"], "kind": e["kind"]} for e in edges]


def compare_views(new: GraphDict, old: GraphDict) -> dict[str, Any]:
    """What turned the view ``old`` into the view ``new`` (pure): ids, edges, and the removed nodes.

    Edges are given as {source, target, kind} (an edge's id is the three); ``ghosts`` are the
    nodes removed, as ``old`` had them, for the map to draw where they were.
    """
    delta = g.diff(old, new)
    old_nodes = {n["id"]: n for n in old.get("nodes", [])}
    return {
        "added": {"nodes": [n["id"] for n in delta["added"]["nodes"]], "edges": edge_ids(delta["added"]["edges"])},
        "removed": {"nodes": list(delta["removed"]["nodes"]), "edges": edge_ids(delta["removed"]["edges"])},
        "changed": {"nodes": [n["id"] for n in delta["changed"]["nodes"]]},
        "ghosts": [old_nodes[i] for i in delta["removed"]["nodes"]],
    }


def past_compare(revision: int, compare: int, view: str, scope: str | None) -> bytes:
    """The body of GET /api/v1/topology/history/<revision>/?compare=<compare> (gzip): ``compare`` to ``revision``."""
    new_key, old_key = revision_key(revision), revision_key(compare)
    cache_key = (new_key, old_key, view, scope)
    if cache_key in _BODIES:
        _BODIES.move_to_end(cache_key)
        return _BODIES[cache_key]
    changes = compare_views(view_at(new_key, view, scope), view_at(old_key, view, scope))
    body = {
        "revision": new_key[0],
        "generated_at": new_key[1],
        "compare": old_key[0],
        "compare_generated_at": old_key[1],
        **changes,
    }
    return kept(_BODIES, cache_key, packed(body), PAST_BODIES_KEPT)


def forget() -> None:
    """Drop what this process keeps (tests, benchmarks: a first call again)."""
    _GRAPHS.clear()
    _BODIES.clear()
