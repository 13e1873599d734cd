"""Each part's admin views, serialized when the part is written; a view's response is their concatenation.

For an admin (the whole cloud), a view keeps a node by its kind alone and an edge if both its ends
are kept (topology/scope.py ``scope_graph``): that is decided part by part, given the kinds of the
edges' ends. So the writer stores, with each part it rewrites, the JSON text of its nodes and edges
in each view (:func:`part_fragments`), and the topology response of an admin view is those texts
joined in part order (:func:`view_body`): no parse, no graph, whatever the cloud's size. The result
is ``scope_graph`` of the assembled graph, byte for byte once parsed (tests/test_graphservice.py).
A project member's views still scope the assembled graph (what they may see crosses parts).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from datetime import datetime

import orjson

from topology import graph as g
from topology.graphservice.parts import Members
from topology.scope import VIEWS, in_view

HEADER = struct.Struct(f"<{2 * len(VIEWS)}I")


def part_fragments(members: Members, nodes: Mapping[str, g.Node]) -> bytes:
    """The part's nodes and edges as JSON text (without brackets) in each view, framed by their lengths."""
    texts: list[bytes] = []
    for view in VIEWS:
        kept = [nodes[node_id] for node_id in members.nodes if in_view(nodes[node_id], view)]
        edges = [
            {"source": s, "target": t, "kind": k}
            for s, t, k in members.edges
            if s in nodes and t in nodes and in_view(nodes[s], view) and in_view(nodes[t], view)
        ]
        texts += [orjson.dumps(kept)[1:-1], orjson.dumps(edges)[1:-1]]
    return HEADER.pack(*(len(text) for text in texts)) + b"".join(texts)


def view_texts(fragments: bytes, view: str) -> tuple[bytes, bytes]:
    """The nodes' and the edges' text of ``view`` in a part's fragments."""
    lengths = HEADER.unpack_from(fragments)
    at = VIEWS.index(view) * 2
    start = HEADER.size + sum(lengths[:at])
    middle = start + lengths[at]
    return fragments[start:middle], fragments[middle : middle + lengths[at + 1]]


def view_body(revision: int, generated_at: datetime | None, view: str, parts: Iterable[bytes]) -> bytes:
    """The topology response of an admin ``view`` (JSON, not yet gzipped) from the parts' fragments in order."""
    node_texts: list[bytes] = []
    edge_texts: list[bytes] = []
    for fragments in parts:
        nodes, edges = view_texts(fragments, view)
        if nodes:
            node_texts.append(nodes)
        if edges:
            edge_texts.append(edges)
    head = orjson.dumps({"revision": revision, "generated_at": generated_at.isoformat() if generated_at else None})
    return b"".join([head[:-1], b',"nodes":[', b",".join(node_texts), b'],"edges":[', b",".join(edge_texts), b"]}"])
