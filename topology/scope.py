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

from topology.join.segment_ranges import tenant_form
from topology.kinds import OVN_ATTR, EdgeKind, NodeKind

GraphDict = dict[str, list[Any]]
VIEWS = ("logical", "physical", "full")

# Attributes a project member must not get, by node kind: what Neutron 29's default policy shows
# only to admins (neutron/conf/policies: get_port:binding:host_id, :binding:vif_type,
# :binding:vif_details, :binding:profile; get_network:provider:network_type, :physical_network,
# :segmentation_id, :segments; get_router:distributed, :ha; get_subnet:segment_id; the agents API
# is admin-only as a whole), under the names the join gives them. A port's top-level ``host`` is
# its binding:host_id.
# OVN's summaries (``ovn``: chassis names, the gateway's chassis) come from databases only the
# dashboard's operator reads: admin-only on every kind that has them.
ADMIN_ONLY_ATTRS: dict[str, frozenset[str]] = {
    NodeKind.PORT: frozenset({"binding_host_id", "vif_type", "vif_details", "binding_profile", OVN_ATTR}),
    NodeKind.NETWORK: frozenset({"network_type", "physical_network", "segmentation_id", "segments", OVN_ATTR}),
    NodeKind.ROUTER: frozenset({"distributed", "ha", OVN_ATTR}),
    NodeKind.SUBNET: frozenset({"segment_id"}),
    NodeKind.HOST: frozenset({"agents", "tunnel_ip", OVN_ATTR}),
    NodeKind.FLOATINGIP: frozenset({OVN_ATTR}),
    NodeKind.SECGROUP: frozenset({OVN_ATTR}),
}
ADMIN_ONLY_KEYS: dict[str, frozenset[str]] = {NodeKind.PORT: frozenset({"host"})}


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
        kept = [redact_admin_only(redact_shared(n)) for n in kept]
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


def redact_admin_only(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` without the attributes Neutron shows only to admins (``ADMIN_ONLY_ATTRS``).

    A new dict: the graph's node dicts are shared with the join's cache and never changed in place.
    """
    hidden = ADMIN_ONLY_ATTRS.get(node["kind"])
    if not hidden:
        return node
    keys = ADMIN_ONLY_KEYS.get(node["kind"], frozenset())
    attrs = {k: v for k, v in node["attrs"].items() if k not in hidden}
    if node["kind"] == NodeKind.NETWORK and attrs.get("warnings"):
        attrs["warnings"] = [tenant_form(w) for w in attrs["warnings"]]  # a full VLAN range without its ids
    return {**{k: v for k, v in node.items() if k not in keys}, "attrs": attrs}
