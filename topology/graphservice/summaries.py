"""Each part's collapsed-view summary, stored beside its fragments: admin and per project (issue 13).

The collapsed physical view (topology/collapsed.py) needs of a part only its hosts' summaries (host
node, counts by kind, warnings, quarantine) and its tunnels between hosts. The writer stores them with
each part it rewrites, so a reader in a fresh process reads summaries, never bodies:

- ``GraphPartSummary`` rows (:func:`part_summary`): what an admin sees of the part, with the revision it was
  made at (a reader uses it only if that is the part's revision; else it parses the body); each host node
  stored as JSON text beside its counts (summary_rows.py). The cross part's tunnels' ends, for a project's
  links, in a row of their own (:data:`TUNNELS`, :func:`tunnels_row`).
- ``GraphPartScope`` rows (:func:`scoped_summaries`): per project, what a member of it sees of a host part,
  as ``scope_graph`` decides it (topology/scope.py): the nodes its logical objects bind, their containers
  up to the host, its own ports binding into the part; redacted as a member gets them. Project ``""``
  (:data:`ANY_PROJECT`): what every project sees there (public networks' namespaces), for projects with
  nothing of their own in the part. A project's row holds nothing of another project, not even counts.

A part's project rows depend on logical objects outside it (a router's project, a network made shared)
and on cross edges binding into it: the writer rewrites the part when those change (:func:`binders_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from topology import collapsed
from topology import graph as g
from topology.graphservice.parts import Members
from topology.graphservice.summary_rows import encode
from topology.kinds import EdgeKind, NodeKind
from topology.scope import redact_admin_only, redact_shared

ANY_PROJECT = ""  # the key of what any project sees of a part
# the key of the GraphPartSummary row of the cross part's tunnels' ends (no part has it: parts are
# ``logical``, ``cross`` and ``host:<name>``): a row of its own, so an admin's read of the summaries skips it
TUNNELS = "tunnels"
PUBLIC = object()  # a binder every project sees (an external or shared network, a subnet of one)
Edge = dict[str, Any]


def edge_dicts(keys: Iterable[g.EdgeKey]) -> list[Edge]:
    return [{"source": s, "target": t, "kind": k} for s, t, k in keys]


def cross_tunnels(edges: Iterable[g.EdgeKey]) -> list[list[str]]:
    """The tunnels between two hosts' nodes (what ``collapsed.host_links`` counts)."""
    found = []
    for s, t, kind in edges:
        if kind == EdgeKind.TUNNEL:
            a, b = collapsed.host_of_id(s), collapsed.host_of_id(t)
            if a is not None and b is not None and a != b:
                found.append([s, t])
    return found


def part_summary(members: Members, nodes: Mapping[str, g.Node], revision: int) -> bytes:
    """What an admin's collapsed view needs of the part (``collapsed.summarize`` of the part alone)."""
    part_nodes = [nodes[node_id] for node_id in members.nodes]
    edges = edge_dicts(members.edges)
    return encode(collapsed.summarize(part_nodes, edges), collapsed.host_links(edges), revision=revision)


def tunnels_row(members: Members, revision: int) -> bytes:
    """The cross part's tunnels' ends (the :data:`TUNNELS` row), read by a member's collapsed view only."""
    return orjson.dumps({"revision": revision, "tunnels": cross_tunnels(members.edges)})


def decode_tunnels(raw: bytes, revision: int) -> list[list[str]] | None:
    """The tunnels of a :data:`TUNNELS` row if it was written with the cross part at ``revision``."""
    data = orjson.loads(raw)
    if data.get("revision") != revision:
        return None
    tunnels: list[list[str]] = data["tunnels"]
    return tunnels


# ---------------------------------------------------------------------- what a project sees


def public_network(node: g.Node | None) -> bool:
    return (
        node is not None
        and node["kind"] == NodeKind.NETWORK
        and bool(node["attrs"].get("external") or node["attrs"].get("shared"))
    )


def audience(node: g.Node, nodes: Mapping[str, g.Node]) -> set[object]:
    """Who sees this logical node (``scope.visible_logical``): its project, PUBLIC for a public network
    and a public network's subnets."""
    seen: set[object] = set()
    if public_network(node):
        seen.add(PUBLIC)
    elif node.get("project_id"):
        seen.add(node["project_id"])
    if node["kind"] == NodeKind.SUBNET and public_network(nodes.get(f"network:{node['attrs'].get('network_id')}")):
        seen.add(PUBLIC)
    return seen


def audience_key(node: g.Node | None, nodes: Mapping[str, g.Node]) -> frozenset[object]:
    return frozenset(audience(node, nodes)) if node is not None else frozenset()


def seeds(binds: Iterable[g.EdgeKey], nodes: Mapping[str, g.Node]) -> dict[object, set[str]]:
    """The physical nodes each audience's logical objects bind (``scope.visible_physical``'s seeds)."""
    found: dict[object, set[str]] = {}
    for source, target, _ in binds:
        binder = nodes.get(source)
        if binder is None or binder["kind"] not in NodeKind.LOGICAL:
            continue
        # An external network's fip- namespace is shared by every project's routers (scope.py).
        if binder["kind"] == NodeKind.NETWORK and target.split(":")[2].startswith("fip-"):
            continue
        for who in audience(binder, nodes):
            found.setdefault(who, set()).add(target)
    return found


def closure(start: Iterable[str], parents: Mapping[str, list[str]]) -> set[str]:
    visible: set[str] = set()
    todo = list(start)
    while todo:
        node = todo.pop()
        if node not in visible:
            visible.add(node)
            todo.extend(parents.get(node, []))
    return visible


def scoped_summaries(
    members: Members, nodes: Mapping[str, g.Node], cross_binds: Iterable[g.EdgeKey], ends: set[str]
) -> dict[str, bytes]:
    """Per project (and :data:`ANY_PROJECT`), what its members' collapsed view and host content take of
    this host part: summaries, links within the part, the visible tunnel ends (``ends``: every node at
    an end of a tunnel between hosts), the visible node ids. ``cross_binds``: the cross part's BINDS
    edges into this part."""
    binds = [key for key in members.edges if key[2] == EdgeKind.BINDS and key[1] in members.nodes]
    binds += [key for key in cross_binds if key[1] in members.nodes]
    parents: dict[str, list[str]] = {}
    for s, t, kind in members.edges:
        if kind == EdgeKind.MEMBER and s.split(":", 1)[0] not in NodeKind.LOGICAL:
            parents.setdefault(t, []).append(s)
    by_audience = seeds(binds, nodes)
    own: dict[str, set[str]] = {}  # the part's logical nodes by project (a bound port, say)
    for node_id in members.nodes:
        node = nodes[node_id]
        if node["kind"] in NodeKind.LOGICAL and node.get("project_id"):
            own.setdefault(node["project_id"], set()).add(node_id)
    projects = {who for who in by_audience if isinstance(who, str)} | set(own)
    public = by_audience.get(PUBLIC, set())
    rows: dict[str, bytes] = {}
    for project in sorted(projects):
        visible = closure(by_audience.get(project, set()) | public, parents)
        row = project_row(members, nodes, binds, visible, own.get(project, set()), project, ends)
        if row is not None:
            rows[project] = row
    if public:
        row = project_row(members, nodes, binds, closure(public, parents), set(), None, ends)
        if row is not None:
            rows[ANY_PROJECT] = row
    return rows


def project_row(
    members: Members,
    nodes: Mapping[str, g.Node],
    binds: list[g.EdgeKey],
    physical: set[str],
    own: set[str],
    project: str | None,
    ends: set[str],
) -> bytes | None:
    """One audience's row: ``scope_graph``'s nodes of the part for it, summarized (None: it sees none)."""
    visible = {node_id for node_id in physical | own if node_id in members.nodes}
    # its ports elsewhere binding into the part (a port of another host's part, an unbound port)
    for source, target, _ in binds:
        if target in physical and source not in members.nodes:
            binder = nodes.get(source)
            if binder is not None and project is not None and binder.get("project_id") == project:
                visible.add(source)
    visible |= {s for s, t, _ in binds if t in physical and s in own}
    if not visible:
        return None
    kept = [redact_admin_only(redact_shared(nodes[node_id])) for node_id in members.nodes if node_id in visible]
    kept += [redact_admin_only(redact_shared(nodes[node_id])) for node_id in sorted(visible - set(members.nodes))]
    edges = [e for e in edge_dicts(members.edges) if e["source"] in visible and e["target"] in visible]
    inside = {(e["source"], e["target"], e["kind"]) for e in edges}
    edges += [
        e
        for e in edge_dicts(binds)
        if (e["source"], e["target"], e["kind"]) not in inside and e["source"] in visible and e["target"] in visible
    ]
    summaries = collapsed.summarize(kept, edges)
    if not summaries:
        return None
    return encode(
        summaries,
        collapsed.host_links(edges),
        ends=sorted(visible & ends),
        visible=sorted(visible),
    )


def binders_of(changed: Iterable[str], edges: Iterable[g.EdgeKey]) -> set[str]:
    """The physical nodes these logical nodes bind (their parts' project rows change with them)."""
    wanted = set(changed)
    return {t for s, t, kind in edges if kind == EdgeKind.BINDS and s in wanted} if wanted else set()
