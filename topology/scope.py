"""What a caller may see of the graph (pure): the view, and a tenant's project.

Admins see everything. A project member sees, as Neutron would show them:
their project's logical objects, plus external and shared networks and their
subnets; and of the physical side only what carries their own things: the
devices bound to their ports, routers and networks, the bridges and
namespaces holding those, and the hosts holding those. Nothing else, so other
projects' names, IPs and MACs never appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from topology.kinds import EdgeKind, NodeKind

GraphDict = dict[str, list[Any]]
VIEWS = ("logical", "physical", "full")


def in_view(node: dict[str, Any], view: str) -> bool:
    if view == "logical":
        return node["kind"] in NodeKind.LOGICAL
    if view == "physical":
        return node["kind"] in NodeKind.PHYSICAL
    return True


def visible_logical(nodes: Iterable[dict[str, Any]], project_id: str) -> set[str]:
    visible: set[str] = set()
    public_networks: set[str] = set()
    for node in nodes:
        attrs = node["attrs"]
        if node["kind"] == NodeKind.NETWORK and (attrs.get("external") or attrs.get("shared")):
            public_networks.add(node["id"].split(":", 1)[1])
            visible.add(node["id"])
        elif node.get("project_id") == project_id:
            visible.add(node["id"])
    for node in nodes:
        if node["kind"] == NodeKind.SUBNET and node["attrs"].get("network_id") in public_networks:
            visible.add(node["id"])
    return visible


def visible_physical(graph: GraphDict, logical: set[str]) -> set[str]:
    """Physical nodes bound to the caller's logical objects, and their containers up to the host."""
    parents: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        if edge["kind"] == EdgeKind.MEMBER and edge["source"].split(":", 1)[0] not in NodeKind.LOGICAL:
            parents.setdefault(edge["target"], []).append(edge["source"])
    own_networks = {n for n in logical if n.startswith("network:")}
    seeds = [
        edge["target"]
        for edge in graph["edges"]
        if edge["kind"] == EdgeKind.BINDS
        and edge["source"] in logical
        # An external network's fip- namespace is shared by every project's routers.
        and not (edge["source"] in own_networks and edge["target"].split(":")[2].startswith("fip-"))
    ]
    visible: set[str] = set()
    while seeds:
        node = seeds.pop()
        if node not in visible:
            visible.add(node)
            seeds.extend(parents.get(node, []))
    return visible


def scope_graph(graph: GraphDict, view: str, project_id: str | None) -> GraphDict:
    """The part of ``graph`` in ``view`` that the caller may see (``project_id`` None = admin)."""
    nodes = graph.get("nodes", [])
    if project_id is None:
        allowed = {n["id"] for n in nodes}
    else:
        logical = visible_logical(nodes, project_id)
        allowed = logical | visible_physical(graph, logical)
    kept = [n for n in nodes if n["id"] in allowed and in_view(n, view)]
    if project_id is not None:
        kept = [redact_shared(n) for n in kept]
    ids = {n["id"] for n in kept}
    edges = [e for e in graph.get("edges", []) if e["source"] in ids and e["target"] in ids]
    return {"nodes": kept, "edges": edges}


def redact_shared(node: dict[str, Any]) -> dict[str, Any]:
    """A namespace shared between projects (fip-) keeps its name but not its routes and rules,
    which name other projects' floating IPs."""
    if node["kind"] != NodeKind.NETNS or node["attrs"].get("role") != "fip":
        return node
    attrs = {k: v for k, v in node["attrs"].items() if k not in ("routes", "rules")}
    return {**node, "attrs": attrs}
