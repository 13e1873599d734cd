"""The graph by part: every node and edge of the joined graph in exactly one part.

Parts (their keys are what GraphPart rows are keyed by):

- ``logical``: what the cloud's API says and is bound to no host (networks, subnets,
  routers, floating IPs, security groups, servers, unbound ports);
- ``host:<name>``: what carries that host (``node["host"]``): the host node, its
  namespaces, bridges and interfaces, and the ports bound to it;
- ``cross``: the edges between two hosts' parts (tunnels).

An edge between nodes of one part is in that part; between the logical part and a
host's, in the host's; between two hosts', in ``cross``. An edge stays in the part it
was put in until it goes away (a port bound elsewhere moves its node, not its old edges):
the parts always hold the graph, each element once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from topology import graph as g

LOGICAL = "logical"
CROSS = "cross"
HOST_PREFIX = "host:"


def node_part(node: g.Node) -> str:
    host = node.get("host")
    return HOST_PREFIX + host if host else LOGICAL


def edge_part(source_part: str | None, target_part: str | None) -> str:
    if source_part == target_part and source_part is not None:
        return source_part
    if source_part == LOGICAL and target_part is not None:
        return target_part
    if target_part == LOGICAL and source_part is not None:
        return source_part
    return CROSS


def part_order(key: str) -> tuple[int, str]:
    """The order parts are assembled in: the logical part, the hosts by name, the cross edges."""
    return (0 if key == LOGICAL else 2 if key == CROSS else 1, key)


@dataclass
class Members:
    """A part's node ids and edge keys, in the order they joined it."""

    nodes: dict[str, None] = field(default_factory=dict)
    edges: dict[g.EdgeKey, None] = field(default_factory=dict)


@dataclass
class Partition:
    """Which part holds each node and edge; changed by deltas, each naming the parts it touched."""

    parts: dict[str, Members] = field(default_factory=dict)
    of_node: dict[str, str] = field(default_factory=dict)
    # no part by edge (millions of entries at 10,000 hosts): an edge is looked for where its ends are

    @classmethod
    def of_graph(cls, nodes: Mapping[str, g.Node], edges: Iterable[g.EdgeKey]) -> Partition:
        partition = cls()
        for node in nodes.values():
            partition.add_node(node)
        for key in edges:
            partition.add_edge(key)
        return partition

    def members(self, part: str) -> Members:
        members = self.parts.get(part)
        if members is None:
            members = self.parts[part] = Members()
        return members

    def is_empty(self, part: str) -> bool:
        members = self.parts.get(part)
        return members is None or (not members.nodes and not members.edges)

    def add_node(self, node: g.Node) -> str:
        part = node_part(node)
        self.members(part).nodes[node["id"]] = None
        self.of_node[node["id"]] = part
        return part

    def remove_node(self, node_id: str) -> str:
        part = self.of_node.pop(node_id)
        del self.parts[part].nodes[node_id]
        return part

    def add_edge(self, key: g.EdgeKey) -> str:
        part = edge_part(self.of_node.get(key[0]), self.of_node.get(key[1]))
        self.members(part).edges[key] = None
        return part

    def part_of_edge(self, key: g.EdgeKey) -> str:
        """The part holding the edge: where its ends are now, else (an end moved since it was added,
        a port bound elsewhere) whichever part has it."""
        part = edge_part(self.of_node.get(key[0]), self.of_node.get(key[1]))
        members = self.parts.get(part)
        if members is not None and key in members.edges:
            return part
        for part, members in self.parts.items():
            if key in members.edges:
                return part
        raise KeyError(key)

    def remove_edge(self, key: g.EdgeKey) -> str:
        part = self.part_of_edge(key)
        del self.parts[part].edges[key]
        return part

    def apply(self, delta: g.Delta) -> set[str]:
        """Follow ``delta``; the parts whose content it changed."""
        touched: set[str] = set()
        for edge in delta["removed"]["edges"]:
            touched.add(self.remove_edge(g.edge_key(edge)))
        for node_id in delta["removed"]["nodes"]:
            touched.add(self.remove_node(node_id))
        for node in delta["changed"]["nodes"]:
            before = self.of_node[node["id"]]
            touched.add(before)
            if node_part(node) != before:
                self.remove_node(node["id"])
                touched.add(self.add_node(node))
        for node in delta["added"]["nodes"]:
            touched.add(self.add_node(node))
        for edge in delta["added"]["edges"]:
            touched.add(self.add_edge(g.edge_key(edge)))
        return touched
