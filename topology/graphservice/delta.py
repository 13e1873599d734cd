"""The delta between two joined graphs, made without comparing the whole graphs value by value.

A join from cached parts shares the parts' node dicts (topology/join/entry.py
``join_parts``): a node that did not change is the very same dict in both graphs,
so an identity check skips it, and only the nodes made or copied by the join are
compared by value. The result equals :func:`topology.graph.diff` of the two
graphs as the REST API serves them (same lists, same order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from topology import graph as g

Nodes = Mapping[str, g.Node]
Edges = Mapping[g.EdgeKey, None]


def edge_dict(key: g.EdgeKey) -> g.Edge:
    return {"source": key[0], "target": key[1], "kind": key[2]}


def graph_delta(old_nodes: Nodes, old_edges: Edges, new_nodes: Nodes, new_edges: Edges) -> g.Delta:
    """What turns the old graph into the new one, as ``g.diff`` says it."""
    added_nodes: list[g.Node] = []
    changed_nodes: list[g.Node] = []
    for node_id, node in new_nodes.items():
        old = old_nodes.get(node_id)
        if old is None:
            added_nodes.append(node)
        elif old is not node and old != node:
            changed_nodes.append(node)
    removed_nodes = [node_id for node_id in old_nodes if node_id not in new_nodes]
    if len(old_edges) == len(new_edges) and old_edges.keys() == new_edges.keys():
        added_edges: list[g.EdgeKey] = []
        removed_edges: list[g.EdgeKey] = []
    else:
        added_edges = [key for key in new_edges if key not in old_edges]
        removed_edges = [key for key in old_edges if key not in new_edges]
    return {
        "added": {"nodes": added_nodes, "edges": [edge_dict(key) for key in added_edges]},
        "removed": {"nodes": removed_nodes, "edges": [edge_dict(key) for key in removed_edges]},
        "changed": {"nodes": changed_nodes},
    }


def graph_json(nodes: Nodes, edges: Edges, chunk: int = 50_000) -> Iterator[bytes]:
    """``orjson.dumps(g.Graph(nodes, edges).to_dict())`` in pieces, the same bytes once joined, made
    ``chunk`` nodes or edges at a time (never the whole graph's edge dicts nor its whole text at once)."""
    yield b'{"nodes":['
    yield from joined_chunks(list(nodes.values()), chunk, lambda piece: orjson.dumps(piece)[1:-1])
    yield b'],"edges":['
    yield from joined_chunks(list(edges), chunk, lambda piece: orjson.dumps([edge_dict(key) for key in piece])[1:-1])
    yield b"]}"


def joined_chunks(items: list[Any], chunk: int, dump: Callable[[list[Any]], bytes]) -> Iterator[bytes]:
    for start in range(0, len(items), chunk):
        yield (b"," if start else b"") + dump(items[start : start + chunk])
