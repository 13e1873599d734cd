"""The graph persisted by part (GraphPart rows) and assembled from them for the web processes.

The writer rewrites only the parts a delta touched (:func:`write_parts`); a reader
assembles the whole graph from the rows once per revision per process
(:func:`assembled_graph`), in part order (the logical part, the hosts by name, the
cross edges). The API's views and the explainer read that assembled graph.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from topology import graph as g
from topology.graphservice.fragments import part_fragments
from topology.graphservice.parts import CROSS, HOST_PREFIX, Partition, part_order
from topology.graphservice.summaries import TUNNELS, cross_tunnels, part_summary, scoped_summaries, tunnels_row
from topology.kinds import EdgeKind
from topology.models import GraphPart, GraphPartScope, GraphPartSummary

GraphDict = dict[str, list[Any]]
StateKey = tuple[int, datetime | None]

# the assembled graph of one revision, per process: a big cloud's graph is hundreds of MB
_ASSEMBLED: dict[StateKey, GraphDict] = {}


@dataclass
class Written:
    """What a write did: rows written or deleted, and the bytes written."""

    rows: int = 0
    bytes: int = 0


def part_body(partition: Partition, nodes: Mapping[str, g.Node], part: str) -> bytes:
    members = partition.parts[part]
    return orjson.dumps(
        {"nodes": [nodes[node_id] for node_id in members.nodes], "edges": [list(key) for key in members.edges]}
    )


def write_parts(
    partition: Partition,
    nodes: Mapping[str, g.Node],
    parts: Collection[str],
    revision: int,
    scopes: Collection[str] = (),
) -> Written:
    """Rewrite ``parts`` as ``partition`` holds them now (an empty part's row is deleted), and the project
    rows alone of the host parts ``scopes`` (their content unchanged, who sees what of it changed)."""
    written = Written()
    empty = [part for part in parts if partition.is_empty(part)]
    for part in empty:
        partition.parts.pop(part, None)
    if empty:
        written.rows += GraphPart.objects.filter(key__in=empty).delete()[0]
        GraphPartScope.objects.filter(key__in=empty).delete()
        GraphPartSummary.objects.filter(key__in=empty + ([TUNNELS] if CROSS in empty else [])).delete()
    kept = sorted(set(parts) - set(empty), key=part_order)
    only = sorted(p for p in set(scopes) - set(parts) if p.startswith(HOST_PREFIX) and p in partition.parts)
    hosts_written = bool(only) or any(part.startswith(HOST_PREFIX) for part in kept)
    cross = CrossIndex.of(partition) if hosts_written else CrossIndex()
    written.bytes += write_scopes(partition, nodes, only, revision, cross)
    for start in range(0, len(kept), 100):  # made and written 100 at a time: a start writes every part
        chunk = kept[start : start + 100]
        rows = [
            GraphPart(
                key=part,
                revision=revision,
                body=part_body(partition, nodes, part),
                fragments=part_fragments(partition.parts[part], nodes),
            )
            for part in chunk
        ]
        GraphPart.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["revision", "body", "fragments"],
        )
        summaries = [
            GraphPartSummary(key=row.key, body=part_summary(partition.parts[row.key], nodes, revision)) for row in rows
        ]
        if CROSS in chunk:
            summaries.append(GraphPartSummary(key=TUNNELS, body=tunnels_row(partition.parts[CROSS], revision)))
        GraphPartSummary.objects.bulk_create(
            summaries, update_conflicts=True, unique_fields=["key"], update_fields=["body"]
        )
        written.rows += len(rows)
        written.bytes += sum(len(row.body) + len(row.fragments or b"") for row in rows)
        written.bytes += sum(len(summary.body) for summary in summaries)
        del rows
        written.bytes += write_scopes(
            partition, nodes, [p for p in chunk if p.startswith(HOST_PREFIX)], revision, cross
        )
    return written


@dataclass
class CrossIndex:
    """Of the cross part: its BINDS edges by the part of their target, and the ends of its tunnels."""

    binds: dict[str, list[g.EdgeKey]] = field(default_factory=dict)
    ends: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, partition: Partition) -> CrossIndex:
        index = cls()
        members = partition.parts.get(CROSS)
        if members is None:
            return index
        for key in members.edges:
            if key[2] == EdgeKind.BINDS:
                part = partition.of_node.get(key[1])
                if part is not None:
                    index.binds.setdefault(part, []).append(key)
        index.ends = {end for pair in cross_tunnels(members.edges) for end in pair}
        return index


def write_scopes(
    partition: Partition, nodes: Mapping[str, g.Node], parts: list[str], revision: int, cross: CrossIndex
) -> int:
    """These host parts' project rows made again (summaries.scoped_summaries); the bytes written."""
    if not parts:
        return 0
    GraphPartScope.objects.filter(key__in=parts).delete()
    rows = [
        GraphPartScope(key=part, project=project, revision=revision, body=body)
        for part in parts
        for project, body in scoped_summaries(
            partition.parts[part], nodes, cross.binds.get(part, ()), cross.ends
        ).items()
    ]
    GraphPartScope.objects.bulk_create(rows, batch_size=500)
    return sum(len(row.body) for row in rows)


def stored_parts() -> list[tuple[str, bytes]]:
    rows = [(key, bytes(body)) for key, body in GraphPart.objects.values_list("key", "body").iterator()]
    return sorted(rows, key=lambda row: part_order(row[0]))


def stored_fragments() -> list[bytes] | None:
    """Every part's fragments in part order; None if a part has none (written before they existed)."""
    rows = sorted(GraphPart.objects.values_list("key", "fragments"), key=lambda row: part_order(row[0]))
    found: list[bytes] = []
    for _, fragments in rows:
        if fragments is None:
            return None
        found.append(bytes(fragments))
    return found


def assembled_graph(key: StateKey) -> GraphDict:
    """The whole graph as the API serves it (``{"nodes", "edges"}``), made from the parts once per ``key``.

    Shared by every reader of the process: read it, do not change it.
    """
    graph = _ASSEMBLED.get(key)
    if graph is None:
        graph = {"nodes": [], "edges": []}
        for _, body in stored_parts():
            data = orjson.loads(body)
            graph["nodes"].extend(data["nodes"])
            graph["edges"].extend({"source": s, "target": t, "kind": k} for s, t, k in data["edges"])
        _ASSEMBLED.clear()
        _ASSEMBLED[key] = graph
    return graph


def forget_assembled() -> None:
    _ASSEMBLED.clear()


def clear_stored() -> None:
    """Every stored part and its project and summary rows deleted (a graph about to be written whole)."""
    GraphPart.objects.all().delete()
    GraphPartScope.objects.all().delete()
    GraphPartSummary.objects.all().delete()
    forget_assembled()


def replace_graph(graph: GraphDict, revision: int) -> Written:
    """Store a whole graph as parts, replacing every stored part (what GraphState.save does with
    a graph set on it; the writer writes by delta instead)."""
    nodes = {node["id"]: node for node in graph.get("nodes", [])}
    edges = [g.edge_key(edge) for edge in graph.get("edges", [])]
    partition = Partition.of_graph(nodes, edges)
    clear_stored()
    return write_parts(partition, nodes, list(partition.parts), revision)
