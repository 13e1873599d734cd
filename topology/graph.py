"""The joined graph: nodes and edges with stable ids, and deltas between two graphs.

Node ids follow docs/design.md ("Node ids (contract)"); a node is a plain
dict so that it serializes as the REST contract says, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from topology.kinds import DEV_NAME_LEN

Node = dict[str, Any]
EdgeKey = tuple[str, str, str]  # (source, target, kind)


class Edge(TypedDict):
    source: str
    target: str
    kind: str


def network_id(uuid: str) -> str:
    return f"network:{uuid}"


def subnet_id(uuid: str) -> str:
    return f"subnet:{uuid}"


def port_id(uuid: str) -> str:
    return f"port:{uuid}"


def router_id(uuid: str) -> str:
    return f"router:{uuid}"


def fip_id(uuid: str) -> str:
    return f"fip:{uuid}"


def server_id(uuid: str) -> str:
    return f"server:{uuid}"


def secgroup_id(uuid: str) -> str:
    return f"secgroup:{uuid}"


def host_id(host: str) -> str:
    return f"host:{host}"


def netns_id(host: str, namespace: str) -> str:
    return f"netns:{host}:{namespace}"


def bridge_id(host: str, name: str) -> str:
    return f"bridge:{host}:{name}"


def iface_id(host: str, namespace: str | None, name: str) -> str:
    return f"iface:{host}:{namespace or '-'}:{name}"


def id_kind(node_id: str) -> str:
    """The kind an id names: "port" of "port:<uuid>"."""
    return node_id.split(":", 1)[0]


def id_key(node_id: str) -> str:
    """What follows the kind: the uuid of "port:<uuid>", the host of "host:<host>" ("" for no id)."""
    return node_id.split(":", 1)[1] if ":" in node_id else ""


def netns_name(node_id: str) -> str:
    """The namespace's name in "netns:<host>:<namespace>"."""
    return node_id.split(":", 2)[2]


def device_name(prefix: str, node_id: str) -> str:
    """The device Neutron names after an object: ``prefix`` + as much of its uuid as fits in 14 characters
    ("qvo" + port uuid[:11], "rfp-" + router uuid[:10])."""
    return prefix + id_key(node_id)[: DEV_NAME_LEN - len(prefix)]


@dataclass
class Graph:
    """Nodes by id and edges as (source, target, kind) keys: adding twice is harmless.

    Edges stay tuples while the join runs (hundreds of thousands of them on a big
    cloud) and become the contract's dicts only in :meth:`to_dict`.

    ``owned`` is None when the graph owns every node dict. A graph joined from
    cached parts (topology.join.JoinCache) shares their node dicts: ``owned``
    then holds the ids of the nodes it made or copied, and :meth:`writable`
    copies a shared node before the join changes it, so the cache never does.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[EdgeKey, None] = field(default_factory=dict)
    owned: set[str] | None = None

    def add_node(
        self,
        node_id: str,
        kind: str,
        label: str,
        *,
        host: str | None = None,
        project_id: str | None = None,
        status: str | None = None,
        **attrs: Any,
    ) -> Node:
        node: Node = {"id": node_id, "kind": kind, "label": label, "attrs": attrs}
        if host is not None:
            node["host"] = host
        if project_id is not None:
            node["project_id"] = project_id
        if status is not None:
            node["status"] = status
        self.nodes[node_id] = node
        if self.owned is not None:
            self.owned.add(node_id)
        return node

    def writable(self, node_id: str) -> Node:
        """The node, safe to change: a shared node is copied (its attrs and warnings too) first."""
        node = self.nodes[node_id]
        owned = self.owned
        if owned is None or node_id in owned:
            return node
        attrs = dict(node["attrs"])
        if "warnings" in attrs:
            attrs["warnings"] = list(attrs["warnings"])
        node = {**node, "attrs": attrs}
        self.nodes[node_id] = node
        owned.add(node_id)
        return node

    def disown(self, node_id: str) -> None:
        """The node is shared from now on: the next change copies it."""
        if self.owned is not None:
            self.owned.discard(node_id)

    def add_edge(self, source: str, target: str, kind: str) -> None:
        self.edges[(source, target, kind)] = None

    def warn(self, node_id: str, message: str) -> None:
        warnings = self.nodes[node_id]["attrs"].get("warnings")
        if warnings is None or message not in warnings:
            self.writable(node_id)["attrs"].setdefault("warnings", []).append(message)

    def to_dict(self) -> dict[str, list[Any]]:
        return {
            "nodes": list(self.nodes.values()),
            "edges": [{"source": s, "target": t, "kind": k} for s, t, k in self.edges],
        }


def edge_key(edge: Edge) -> tuple[str, str, str]:
    return (edge["source"], edge["target"], edge["kind"])


class Delta(TypedDict):
    added: dict[str, list[Any]]
    removed: dict[str, list[Any]]
    changed: dict[str, list[Any]]


def diff(old: dict[str, list[Any]], new: dict[str, list[Any]]) -> Delta:
    """What turns ``old`` into ``new``: added/removed nodes and edges, changed nodes.

    Removed nodes are given by id only (the browser needs nothing more).
    """
    old_nodes = {n["id"]: n for n in old.get("nodes", [])}
    new_nodes = {n["id"]: n for n in new.get("nodes", [])}
    old_edges = {edge_key(e): e for e in old.get("edges", [])}
    new_edges = {edge_key(e): e for e in new.get("edges", [])}
    return {
        "added": {
            "nodes": [n for nid, n in new_nodes.items() if nid not in old_nodes],
            "edges": [e for key, e in new_edges.items() if key not in old_edges],
        },
        "removed": {
            "nodes": [nid for nid in old_nodes if nid not in new_nodes],
            "edges": [e for key, e in old_edges.items() if key not in new_edges],
        },
        "changed": {
            "nodes": [n for nid, n in new_nodes.items() if nid in old_nodes and old_nodes[nid] != n],
        },
    }


def is_empty(delta: Delta) -> bool:
    return not any(
        delta[part][what]  # type: ignore[literal-required]
        for part, whats in (("added", ("nodes", "edges")), ("removed", ("nodes", "edges")), ("changed", ("nodes",)))
        for what in whats
    )
