"""The history's pure parts: how a delta and a checkpoint are stored, and a delta applied to a graph.

:func:`apply_delta` is bookkeeping over nodes by id and edges by key; a graph
rebuilt with it equals the graph that was current at that revision as nodes by id
and a set of edges (:func:`canonical`; the order of the lists is the join's, not kept).
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from topology import graph as g

DELTA_GZIP_LEVEL = 6  # deltas are small: the better ratio costs little
CHECKPOINT_GZIP_LEVEL = 1  # tens of MB on a big cloud, inside the writer's transaction

Nodes = dict[str, g.Node]
Edges = dict[g.EdgeKey, dict[str, Any]]


def encode(value: object, level: int) -> bytes:
    return gzip.compress(orjson.dumps(value), compresslevel=level)


def decode(blob: bytes | memoryview) -> dict[str, Any]:
    value = orjson.loads(gzip.decompress(bytes(blob)))
    assert isinstance(value, dict)
    return value


def apply_delta(nodes: Nodes, edges: Edges, delta: g.Delta) -> None:
    """Move ``nodes`` and ``edges`` on by ``delta`` (in place)."""
    for node_id in delta["removed"]["nodes"]:
        nodes.pop(node_id, None)
    for edge in delta["removed"]["edges"]:
        edges.pop(g.edge_key(edge), None)
    for node in delta["added"]["nodes"]:
        nodes[node["id"]] = node
    for node in delta["changed"]["nodes"]:
        nodes[node["id"]] = node
    for edge in delta["added"]["edges"]:
        edges[g.edge_key(edge)] = edge


def indexed(graph: dict[str, Any]) -> tuple[Nodes, Edges]:
    return {n["id"]: n for n in graph.get("nodes", [])}, {g.edge_key(e): e for e in graph.get("edges", [])}


def as_graph(nodes: Nodes, edges: Edges) -> dict[str, list[Any]]:
    return {"nodes": list(nodes.values()), "edges": list(edges.values())}


def canonical(graph: dict[str, Any]) -> tuple[dict[str, Any], set[g.EdgeKey]]:
    """A graph as nodes by id and a set of edge keys: what two graphs must agree on to be the same."""
    return {n["id"]: n for n in graph.get("nodes", [])}, {g.edge_key(e) for e in graph.get("edges", [])}
