"""Equal strings made one object: a big cloud's inputs repeat the same short values many times.

A JSON parser makes a new string for every value it reads: 200,000 ports each carry their own
"ACTIVE", "compute:nova", network, subnet and project ids; every interface of 10,000 reports its own
"UP" and "veth"; and a part's edges name their ends with strings equal to, but not the same object
as, its node ids. :func:`share_values` replaces short string values by their interned object
(:func:`sys.intern`: freed again when nothing holds them) and :func:`share_edge_ends` a part's edge
ends by its node ids' own objects. Values are unchanged (equal strings): the graph, its JSON and its
deltas are the same bytes; only fewer objects hold them.
"""

from __future__ import annotations

import sys
from typing import Any

from topology.join.parts import HostPhysical

SHORT = 40  # ids (36 characters), states, kinds, names, addresses; not long texts (a NAT table)


def share_values(value: Any) -> None:
    """Every string of at most :data:`SHORT` characters inside ``value`` (dicts and lists, changed in
    place) replaced by its interned object; dict keys are left as they are."""
    todo = [value]
    intern = sys.intern
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if type(inner) is str:
                    if len(inner) <= SHORT:
                        item[key] = intern(inner)
                elif isinstance(inner, (dict, list)):
                    todo.append(inner)
        elif isinstance(item, list):
            for at, inner in enumerate(item):
                if type(inner) is str:
                    if len(inner) <= SHORT:
                        item[at] = intern(inner)
                elif isinstance(inner, (dict, list)):
                    todo.append(inner)


def share_edge_ends(piece: HostPhysical) -> None:
    """The part's edges keyed by tuples whose ends are its node ids' own string objects (same order)."""
    own = {node_id: node_id for node_id in piece.nodes}
    own[piece.host_node] = piece.host_node
    edges = [(own.get(source, source), own.get(target, target), kind) for source, target, kind in piece.edges]
    piece.edges.clear()
    piece.edges.update(dict.fromkeys(edges))


def share_part(piece: HostPhysical) -> HostPhysical:
    """A host's part holding fewer objects: its nodes' short values shared, its edge ends its node ids."""
    for node in piece.nodes.values():
        share_values(node["attrs"])
    share_edge_ends(piece)
    return piece
