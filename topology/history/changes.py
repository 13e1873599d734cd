"""What changed before a path's verdict changed (issue 18 item 3): ``GET /api/v1/path/?...&since=1``.

The path is explained on the graph as it was at past revisions, without rebuilding
the whole graph: an :class:`AtRevision` is the current indexed graph (the API's
``Topo``) seen through the deltas recorded since, undone lazily for the nodes and
edge lists the walk reads. A node's value at revision ``x`` is its latest value
set at or before ``x`` by a delta after the checkpoint the window starts from, or
else the checkpoint's (looked up in its bucket of nodes, topology/history/checkpoint_nodes.py,
or in the checkpoint's bytes, gunzipped once, not parsed whole); an edge list is the current
one with the edge deltas after ``x`` undone (edges are keys: undoing them is exact).

The walk back (:func:`verdict_since`): newest revision first, a revision whose
delta touches what the walks so far read (the nodes, and the ends of the edge
lists) is explained at the revision before it; the first whose verdict differs
from now's is where the verdict changed. Its changes and those after it that touch
the path are listed newest first with their cause (topology.history.causes), and the
conditions on the path's hosts that began before it and were still in force then (an
agent dead, a host without fresh reports: topology.history.conditions) with their own time.

The hosts' reports (iptables, flows) are not in the history: past walks read the
current ones. Reports' effect on the graph (devices, agent and host state) is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from topology import graph as g
from topology.history.causes import Cause, cause_text, touched_ids
from topology.history.change_text import describe, headline, quiet
from topology.history.conditions import in_force
from topology.history.window import WINDOW, Checkpoint, History, load_history
from topology.path.explain import explain_endpoints
from topology.path.model import Endpoint, JsonDict, PathError, Probe
from topology.path.topo import Topo

__all__ = ["WINDOW", "Checkpoint", "History", "load_history", "path_since", "since_in", "topo_at"]
MAX_WALKS = 400  # past explanations per question, at most


class Recording(Mapping[str, JsonDict]):
    """``Topo.nodes`` at a past revision, noting every id the walk reads."""

    def __init__(self, history: History, revision: int, current: Mapping[str, JsonDict], read: set[str]) -> None:
        self.history, self.revision, self.current, self.read = history, revision, current, read
        self.cache: dict[str, JsonDict | None] = {}

    def lookup(self, node_id: str) -> JsonDict | None:
        self.read.add(node_id)
        if node_id not in self.cache:
            self.cache[node_id] = self.history.node_at(node_id, self.revision, self.current.get(node_id))
        return self.cache[node_id]

    def __getitem__(self, node_id: str) -> JsonDict:
        node = self.lookup(node_id)
        if node is None:
            raise KeyError(node_id)
        return node

    def __contains__(self, node_id: object) -> bool:
        return isinstance(node_id, str) and self.lookup(node_id) is not None

    def __iter__(self) -> Iterator[str]:  # a full pass (resolution by address): the current ids
        return iter(self.current)

    def __len__(self) -> int:
        return len(self.current)


class EdgeLists(Mapping[tuple[str, str], list[str]]):
    """``Topo.out`` or ``Topo.inn`` at a past revision: the current lists with later edge deltas undone."""

    def __init__(
        self, history: History, revision: int, current: Mapping[tuple[str, str], list[str]], side: str, read: set[str]
    ) -> None:
        self.history, self.revision, self.current, self.side, self.read = history, revision, current, side, read

    def __getitem__(self, key: tuple[str, str]) -> list[str]:
        self.read.add(key[0])
        ends = list(self.current.get(key, []))
        for revision, other, added in reversed(self.history.edge_moves.get((key[0], key[1], self.side), [])):
            if revision <= self.revision:
                break
            if added and other in ends:
                ends.remove(other)
            elif not added and other not in ends:
                ends.append(other)
        if not ends:
            raise KeyError(key)
        return ends

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.current)

    def __len__(self) -> int:
        return len(self.current)


def topo_at(topo: Topo, history: History, revision: int, read: set[str]) -> Topo:
    """``topo`` (the current revision's) as it was at ``revision``; the ids it reads go to ``read``."""
    past = topo.with_reports(topo.reports)
    past.nodes = Recording(history, revision, topo.nodes, read)  # type: ignore[assignment]
    past.out = EdgeLists(history, revision, topo.out, "out", read)  # type: ignore[assignment]
    past.inn = EdgeLists(history, revision, topo.inn, "inn", read)  # type: ignore[assignment]
    return past


def delta_ids(delta: g.Delta) -> set[str]:
    return touched_ids(delta)


# What a past walk cannot know: the hosts' reports then (only the latest is kept), of which the
# explainer fails a hop on the iptables NAT rules alone (topology/path/router.py nat_hop).
REPORT_ONLY = ("no SNAT rule", "no DNAT rule")


def graph_verdict(result: JsonDict) -> str:
    """The verdict from what the history holds: failures that read only the hosts' iptables not counted."""
    failed = [
        p for p in result["problems"] if p["severity"] == "fail" and not str(p["message"]).startswith(REPORT_ONLY)
    ]
    if failed:
        return "broken"
    hops = [*result["hops"], *result.get("return_hops", [])]
    return "unknown" if any(h["status"] == "unknown" for h in hops) else "ok"


def past_verdict(topo: Topo, source: Endpoint, target: Endpoint, probe: Probe) -> str:
    """The graph's verdict at a past revision; "absent" when an end (or a node the walk needs) was not there yet."""
    try:
        return graph_verdict(explain_endpoints(topo, source, target, probe))
    except (KeyError, PathError):
        return "absent"


def verdict_since(topo: Topo, source: Endpoint, target: Endpoint, probe: Probe, newest: int, now: datetime) -> JsonDict:
    """When the verdict of source -> target last changed, and what changed then and since (admin's view)."""
    history = load_history(newest, now)
    if history is None:
        return {"verdict": None, "verdict_since": None, "changes": [], "in_force": [], "searched_from": None}
    return since_in(topo, history, source, target, probe, newest, now)


def since_in(
    topo: Topo, history: History, source: Endpoint, target: Endpoint, probe: Probe, newest: int, now: datetime
) -> JsonDict:
    """:func:`verdict_since` on loaded deltas (bench/what_changed.py times this).

    The revisions are walked newest first; one whose delta touches what the walks so far
    read is explained at the revision before it, and the first whose graph verdict
    (:func:`graph_verdict`) differs from now's is where the verdict changed.
    """
    read: set[str] = set()
    result = explain_endpoints(topo_at(topo, history, newest, read), source, target, probe)
    verdict, basis = str(result["verdict"]), graph_verdict(result)
    window_start = first_in_window(history, now)
    walks, found = 0, None
    for revision, at, _causes, delta in reversed(history.rows):
        if revision < window_start:
            break
        if not moves_path(topo, history, revision, delta, read):
            continue
        was = past_verdict(topo_at(topo, history, revision - 1, read), source, target, probe)
        walks += 1
        if was != basis:
            found = (revision, at, was)
            break
        if walks >= MAX_WALKS:
            break
    oldest = found[0] if found else window_start
    changes = [c for c in path_changes(topo, history, read, oldest) if c["revision"] >= oldest]
    standing = in_force(history, read, found[0] if found else newest, oldest, topo.nodes, history.checkpoint.node)
    searched = next((at for r, at, _, _ in history.rows if r >= window_start), None)
    since: JsonDict = {
        "verdict": verdict,
        "verdict_since": {"revision": found[0], "at": found[1].isoformat(), "was": found[2]} if found else None,
        "searched_from": {"revision": window_start, "at": searched.isoformat() if searched else None},
        "walks": walks,
        "changes": changes,
        "in_force": standing,
    }
    if basis != verdict:
        since["note"] = (
            f"the graph's history shows the path {basis}: what breaks it is in the hosts' iptables "
            "(NAT rules), whose past is not kept"
        )
    return since


def moves_path(topo: Topo, history: History, revision: int, delta: g.Delta, read: set[str]) -> bool:
    """Whether ``delta`` changes what the walks read: a node (but its :data:`QUIET` attributes) or an edge list."""
    for part in ("added", "removed"):
        if any(e["source"] in read or e["target"] in read for e in delta[part]["edges"]):
            return True
    if any(node_id in read for node_id in delta["removed"]["nodes"]):
        return True
    for node in (*delta["added"]["nodes"], *delta["changed"]["nodes"]):
        if node["id"] in read:
            before = history.node_at(node["id"], revision - 1, topo.nodes.get(node["id"]))
            if before is None or quiet(before) != quiet(node):
                return True
    return False


def first_in_window(history: History, now: datetime) -> int:
    return next((r for r, at, _, _ in history.rows if at >= now - WINDOW), history.checkpoint.revision + 1)


def path_changes(topo: Topo, history: History, read: set[str], oldest: int) -> list[JsonDict]:
    """The changes to what the walks read, at revisions ``oldest`` and after, newest first."""
    out: list[JsonDict] = []
    for revision, at, causes, delta in reversed(history.rows):
        if revision < oldest:
            break
        for node_id in sorted(node_ids_touching(delta, read)):
            new = history.node_at(node_id, revision, topo.nodes.get(node_id))
            old = history.node_at(node_id, revision - 1, topo.nodes.get(node_id))
            owner = (new or old or {}).get("project_id")
            for text in describe(old, new, node_id):
                out.append({**change(revision, at, causes, node_id, text), "project_id": owner})
    return out


def node_ids_touching(delta: g.Delta, read: set[str]) -> set[str]:
    """The delta's nodes the walks read, and the ends of its edges next to them (a device added or removed)."""
    ids = delta_ids(delta) & read
    for part in ("added", "removed"):
        for edge in delta[part]["edges"]:
            if edge["source"] in read or edge["target"] in read:
                ids.update((edge["source"], edge["target"]))
    return ids


def change(revision: int, at: datetime, causes: list[Cause], node_id: str, text: str) -> JsonDict:
    return {
        "revision": revision,
        "at": at.isoformat(),
        "node": node_id,
        "change": text,
        "cause": cause_text(causes),
        "causes": causes,
    }


def path_since(
    topo: Topo,
    src: str,
    dst: str,
    probe: str,
    newest: int,
    now: datetime,
    visible: Mapping[str, list[Any]] | None = None,
    secrets: Any = None,
    project_id: str | None = None,
) -> JsonDict:
    """The API's ``since`` object for ``src``/``dst``/``probe`` (a project member: ``visible``, ``secrets``).

    The endpoints are resolved as the explainer resolves them for this caller; a member's
    changes are those of nodes they see now (or removed ones of their project), with the
    causes they may see (topology.history.listing.tenant_causes) and hidden names scrubbed.
    """
    from topology.history.listing import tenant_causes
    from topology.path.resolve import as_source, resolve

    own = topo if visible is None else Topo(visible, {})
    source = as_source(own, resolve(own, src))
    target = resolve(own, dst, near=source)
    since = verdict_since(topo, source, target, Probe.parse(probe), newest, now)
    if visible is None or project_id is None:
        since["headline"] = headline(since)
        return since
    seen = {n["id"] for n in visible.get("nodes", [])}
    kept = []
    for item in since["changes"]:
        if item["node"] not in seen and not removed_of(item, project_id, topo):
            continue
        causes = tenant_causes(item["causes"], seen, project_id)
        kept.append({**item, "change": secrets.scrub(item["change"]), "causes": causes, "cause": cause_text(causes)})
    since["changes"] = kept
    since["in_force"] = [tenant_condition(c, seen, project_id, secrets) for c in since["in_force"] if c["node"] in seen]
    since["headline"] = headline(since)
    return dict(secrets.scrub_all(since))


def tenant_condition(item: JsonDict, seen: set[str], project_id: str, secrets: Any) -> JsonDict:
    """A condition in force on a host the member sees, with the causes it may see and hidden names scrubbed."""
    from topology.history.listing import tenant_causes

    causes = tenant_causes(item["causes"], seen, project_id)
    cause = cause_text(causes) if item["revision"] is not None else item["cause"]
    return {**item, "condition": secrets.scrub(item["condition"]), "causes": causes, "cause": cause}


def removed_of(item: JsonDict, project_id: str, topo: Topo) -> bool:
    """A change of a node gone from the graph, shown to its project only (its label said so)."""
    return item["node"] not in topo.nodes and item.get("project_id") == project_id
