"""The delta from the stored graph to a new whole join, read part by part (a writer's sync).

A writer that syncs from the database (its start, another writer's revision) joins the
stored inputs and stores the difference from the stored graph. Parsing every stored part
into one old graph first would hold two whole graphs at once (at 10,000 hosts each is
several GB). :func:`stored_delta` reads the stored parts a hundred at a time instead and
keeps, of the old graph, only its partition (keyed by the new graph's own strings and
tuples wherever they are equal, so the two share them) and the old values of the nodes
that changed or went. The delta is :func:`topology.graphservice.delta.graph_delta` of the
stored graph and the new one: the same lists in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from topology import graph as g
from topology.graphservice.delta import edge_dict
from topology.graphservice.parts import Partition, part_order
from topology.models import GraphPart

Nodes = Mapping[str, g.Node]
Edges = Mapping[g.EdgeKey, None]
CHUNK = 100


def has_stored_graph() -> bool:
    """Whether any part is stored (none: a first start, whose whole graph is written without a delta)."""
    return GraphPart.objects.exists()


def stored_bodies() -> Iterator[tuple[str, bytes]]:
    """Every stored part's key and body, in part order, read ``CHUNK`` rows at a time."""
    keys = sorted(GraphPart.objects.values_list("key", flat=True), key=part_order)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        bodies = dict(GraphPart.objects.filter(key__in=chunk).values_list("key", "body"))
        for key in chunk:
            if key in bodies:
                yield key, bytes(bodies.pop(key))


@dataclass
class OldNodes(Mapping[str, g.Node]):
    """The stored graph's nodes as a mapping: the old values kept (changed or removed nodes), the
    others read from the new graph, where they are equal."""

    kept: dict[str, g.Node]
    ids: Mapping[str, Any]  # every old node id (the old partition's ``of_node``)
    new: Nodes

    def __getitem__(self, node_id: str) -> g.Node:
        found = self.kept.get(node_id)
        if found is not None:
            return found
        if node_id in self.ids:
            return self.new[node_id]
        raise KeyError(node_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Resynced:
    """The stored graph's partition (followed by nothing yet), the delta to the new graph, the old nodes."""

    partition: Partition
    delta: g.Delta
    old_nodes: OldNodes


def stored_delta(new_nodes: Nodes, new_edges: Edges) -> Resynced:
    """The stored graph's partition and the delta that turns it into (``new_nodes``, ``new_edges``)."""
    canonical: dict[g.EdgeKey, g.EdgeKey] = {key: key for key in new_edges}
    partition = Partition()
    kept: dict[str, g.Node] = {}
    removed: list[str] = []
    changed: set[str] = set()
    removed_edges: list[g.EdgeKey] = []
    for part, body in stored_bodies():
        data = orjson.loads(body)
        del body
        members = partition.members(part)
        for node in data["nodes"]:
            node_id: str = node["id"]
            new = new_nodes.get(node_id)
            if new is None:
                removed.append(node_id)
                kept[node_id] = node
            else:
                node_id = new["id"]
                if new != node:
                    changed.add(node_id)
                    kept[node_id] = node
            members.nodes[node_id] = None
            partition.of_node[node_id] = part
        for source, target, kind in data["edges"]:
            key = (source, target, kind)
            found = canonical.pop(key, None)  # what is left in the end: the edges added
            if found is None:
                removed_edges.append(key)
                found = key
            members.edges[found] = None
    added = [node for node_id, node in new_nodes.items() if node_id not in partition.of_node]
    changed_nodes = [node for node_id, node in new_nodes.items() if node_id in changed]
    added_edges = [key for key in new_edges if key in canonical]
    del canonical
    delta: g.Delta = {
        "added": {"nodes": added, "edges": [edge_dict(key) for key in added_edges]},
        "removed": {"nodes": removed, "edges": [edge_dict(key) for key in removed_edges]},
        "changed": {"nodes": changed_nodes},
    }
    return Resynced(partition, delta, OldNodes(kept, partition.of_node, new_nodes))
