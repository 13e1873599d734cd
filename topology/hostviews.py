"""The collapsed physical view, one host's content and search, read from the stored parts and cached.

For an admin (the whole cloud) everything is made part by part (GraphPart rows, topology/graphservice/):
each part's host summary, tunnel links and search index are made when the part is first read and kept
until the writer rewrites that part (its ``revision`` changes), so a new revision re-reads only the parts
it touched: O(change), not O(cloud). A database reset under a running process (the revision going back,
or the same revision written at another time) drops what is kept. A host's content is its own part's row.

A project member's are made from what they may see (``scope_graph`` of the assembled graph, once per
revision and project), so their counts, links and results hold nothing of another project's.

Bodies (gzipped JSON of the collapsed view) are kept per revision and scope.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from topology import collapsed, hostscopes, search
from topology.bulkread import collector_paused
from topology.graphservice import summaries as stored
from topology.graphservice import summary_rows
from topology.graphservice.parts import CROSS, HOST_PREFIX
from topology.kinds import NodeKind
from topology.models import GraphPart, GraphPartSummary, GraphState
from topology.scope import GraphDict, redact_admin_only, redact_shared, scope_graph

StateKey = tuple[int, datetime | None]
PartKey = int  # the revision that last wrote the part
CHUNK = 200


@dataclass
class PartView:
    """What the collapsed view and search need of one part (or of a project's scoped graph)."""

    summaries: dict[str, collapsed.HostSummary] = field(default_factory=dict)
    links: dict[collapsed.HostPair, int] = field(default_factory=dict)
    index: search.Index = field(default_factory=lambda: search.Index((), ""))


def part_view(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]]) -> PartView:
    """All of it, for a project's scoped graph (small next to the cloud)."""
    return PartView(collapsed.summarize(nodes, edges), collapsed.host_links(edges), search.build_index(nodes, edges))


def parse_part(body: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    data = orjson.loads(body)
    return data["nodes"], [{"source": s, "target": t, "kind": k} for s, t, k in data["edges"]]


def summary_view(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]]) -> PartView:
    return PartView(collapsed.summarize(nodes, edges), collapsed.host_links(edges))


def search_view(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]]) -> PartView:
    return PartView(index=search.build_index(nodes, edges))


@dataclass
class AdminCache:
    """Per part, what ``make`` makes of it, kept until the part is rewritten (the summaries and the search
    index are two caches: the collapsed view does not pay for the index)."""

    make: Callable[[Sequence[dict[str, Any]], Sequence[dict[str, Any]]], PartView]
    parts: dict[str, tuple[PartKey, PartView]] = field(default_factory=dict)
    state: StateKey | None = None
    reads: int = 0  # parts read since the start (benchmarks, tests)
    bodies: int = 0  # of which parsed from their body, not their stored summary
    summarized: bool = False  # take each part's stored summary (graphservice/summaries.py) where it is current

    def refresh(self, state: StateKey | None) -> dict[str, PartView]:
        """Every part's view, re-reading only the parts changed since the last call."""
        if self.state is not None and (
            state is None or state[0] < self.state[0] or (state[0] == self.state[0] and state != self.state)
        ):
            self.parts.clear()  # a reset database, not a later revision
        self.state = state
        stored_revisions = dict(GraphPart.objects.values_list("key", "revision"))
        for key in [k for k in self.parts if k not in stored_revisions]:
            del self.parts[key]
        changed = [
            key for key, part_key in stored_revisions.items() if key not in self.parts or self.parts[key][0] != part_key
        ]
        with collector_paused():
            if len(changed) > len(stored_revisions) // 2:  # a fresh process: every part, in one query
                self.read({key: stored_revisions[key] for key in changed}, every=True)
            else:
                for start in range(0, len(changed), CHUNK):
                    self.read({key: stored_revisions[key] for key in changed[start : start + CHUNK]})
        return {key: view for key, (_, view) in self.parts.items()}

    def read(self, revisions: dict[str, int], every: bool = False) -> None:
        """These parts (at these revisions) read: their stored summary where it is of that revision, else the body.
        ``every``: most parts are wanted: the summaries are read without naming them (no 10,000 keys to bind)."""
        keys = list(revisions)
        found: dict[str, tuple[int, PartView]] = {}
        if self.summarized:
            every_row = GraphPartSummary.objects.exclude(key=stored.TUNNELS)  # the tunnels: a member's alone
            rows = every_row if every else GraphPartSummary.objects.filter(key__in=keys)
            for key, summary in rows.values_list("key", "body"):
                if key not in revisions:
                    continue
                data = summary_rows.decode(bytes(summary))
                revision = revisions[key]
                if data is not None and data.get("revision") == revision:
                    found[key] = (revision, PartView(summary_rows.hosts_of(data), summary_rows.links_of(data)))
        stale = [key for key in keys if key not in found]
        for start in range(0, len(stale), CHUNK):  # no summary, or one of another revision than the body's
            chunk = stale[start : start + CHUNK]
            for key, revision, body in GraphPart.objects.filter(key__in=chunk).values_list("key", "revision", "body"):
                nodes, edges = parse_part(bytes(body))
                found[key] = (revision, self.make(nodes, edges))
                self.bodies += 1
        self.parts.update(found)
        self.reads += len(found)


ADMIN = AdminCache(summary_view, summarized=True)
ADMIN_SEARCH = AdminCache(search_view)
_SCOPED: dict[tuple[StateKey, str], tuple[GraphDict, PartView]] = {}
_BODIES: dict[tuple[StateKey, str], bytes] = {}
_TUNNELS: dict[PartKey, list[list[str]]] = {}  # the cross part's tunnels' ends, by the part's revision


def current_state() -> tuple[StateKey | None, GraphState | None]:
    state = GraphState.objects.the_row().first()
    return ((state.revision, state.generated_at) if state else None), state


def scoped(state: GraphState, project_id: str) -> tuple[GraphDict, PartView]:
    key = ((state.revision, state.generated_at), project_id)
    found = _SCOPED.get(key)
    if found is None:
        for old in [k for k in _SCOPED if k[0] != key[0]]:
            del _SCOPED[old]
        graph = scope_graph(state.graph, "full", project_id)
        found = _SCOPED[key] = (graph, part_view(graph["nodes"], graph["edges"]))
    return found


def views_for(scope: str | None, cache: AdminCache) -> tuple[StateKey | None, list[PartView]]:
    key, state = current_state()
    if state is None:
        return key, []
    if scope is None:
        return key, list(cache.refresh(key).values())
    return key, [scoped(state, scope)[1]]


def collapsed_view(scope: str | None) -> bytes:
    """The gzipped collapsed physical view for ``scope`` (None: admin), made once per revision and scope."""
    key, _ = current_state()
    cached = _BODIES.get((key, scope or "")) if key is not None else None
    if cached is not None:
        return cached
    with collector_paused():  # everything made here is acyclic (topology/bulkread.py)
        found = project_view(key, scope) if scope is not None else None
        if found is not None:  # a member's: its project's rows, not the whole graph (topology/hostscopes.py)
            summaries, links = found
        else:
            summaries, links = merged_views(views_for(scope, ADMIN)[1])
        body = {
            "revision": key[0] if key else 0,
            "generated_at": key[1].isoformat() if key and key[1] else None,
            **collapsed.collapsed_graph(summaries, links),
        }
        gz = gzip.compress(orjson.dumps(body), compresslevel=1)
    if key is not None:
        for old in [k for k in _BODIES if k[0] != key]:
            del _BODIES[old]
        _BODIES[(key, scope or "")] = gz
    return gz


def project_view(
    key: StateKey | None, project: str
) -> tuple[dict[str, collapsed.HostSummary], dict[collapsed.HostPair, int]] | None:
    """A member's hosts and links from its project's rows (None: they cannot be trusted; scope the graph)."""
    rows = hostscopes.SCOPES.rows(key, project)
    if rows is None:
        return None
    return hostscopes.project_summaries(rows, cross_tunnels())


def cross_tunnels() -> list[list[str]]:
    """The cross part's tunnels' ends, from their row (summaries.TUNNELS; the part's body if that row is not
    of the part's revision), kept until the cross part is rewritten."""
    revision = GraphPart.objects.filter(key=CROSS).values_list("revision", flat=True).first()
    if revision is None:
        return []
    found = _TUNNELS.get(revision)
    if found is None:
        row = GraphPartSummary.objects.filter(key=stored.TUNNELS).values_list("body", flat=True).first()
        found = stored.decode_tunnels(bytes(row), revision) if row is not None else None
        if found is None:
            body = GraphPart.objects.filter(key=CROSS).values_list("body", flat=True).first()
            edges = parse_part(bytes(body))[1] if body is not None else []
            found = stored.cross_tunnels((e["source"], e["target"], e["kind"]) for e in edges)
        _TUNNELS.clear()
        _TUNNELS[revision] = found
    return found


def merged_views(
    views: Sequence[PartView],
) -> tuple[dict[str, collapsed.HostSummary], dict[collapsed.HostPair, int]]:
    summaries: dict[str, collapsed.HostSummary] = {}
    links: dict[collapsed.HostPair, int] = {}
    for view in views:
        for host, summary in view.summaries.items():
            summaries[host] = collapsed.merged(summaries.get(host), summary)
        for pair, count in view.links.items():
            links[pair] = links.get(pair, 0) + count
    return summaries, links


def host_content(host: str, kinds: frozenset[str], scope: str | None) -> dict[str, Any] | None:
    """One host's content (None: no such host, or not one the caller may see)."""
    key, state = current_state()
    if state is None:
        return None
    own = project_part(key, host, kinds, scope) if scope is not None else None
    if own is not None:
        nodes, edges = own
    elif scope is None:
        row = GraphPart.objects.filter(key=HOST_PREFIX + host).values_list("body", flat=True).first()
        if row is None:
            return None
        nodes, edges = parse_part(bytes(row))
    else:
        graph, _ = scoped(state, scope)
        nodes, edges = graph["nodes"], graph["edges"]
    content = collapsed.host_content(nodes, edges, host, kinds)
    if not any(n["id"] == f"host:{host}" for n in content["nodes"]):
        return None
    return {"revision": key[0] if key else 0, "host": host, **content}


def project_part(
    key: StateKey | None, host: str, kinds: frozenset[str], project: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """What a member sees of a host's own part, by its project's row (None: scope the graph instead: the
    rows cannot be trusted, or the full view, whose ports and their binders may live in other parts)."""
    if NodeKind.PORT in kinds:
        return None
    rows = hostscopes.SCOPES.rows(key, project)
    if rows is None:
        return None
    row = rows.get(HOST_PREFIX + host)
    if row is None:
        return [], []  # nothing of the host is the member's: no such host for it
    body = GraphPart.objects.filter(key=HOST_PREFIX + host).values_list("body", flat=True).first()
    if body is None:
        return [], []
    visible = set(row["visible"])
    nodes, edges = parse_part(bytes(body))
    kept = [redact_admin_only(redact_shared(n)) for n in nodes if n["id"] in visible]
    return kept, [e for e in edges if e["source"] in visible and e["target"] in visible]


def find(query: str, limit: int, scope: str | None) -> dict[str, Any]:
    key, views = views_for(scope, ADMIN_SEARCH)
    return {"revision": key[0] if key else 0, "results": search.search((v.index for v in views), query, limit)}


def forget() -> None:
    for cache in (ADMIN, ADMIN_SEARCH):
        cache.parts.clear()
        cache.state = None
    hostscopes.SCOPES.projects.clear()
    hostscopes.SCOPES.state = None
    _SCOPED.clear()
    _BODIES.clear()
    _TUNNELS.clear()
