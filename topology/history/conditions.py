"""Conditions in force when a path's verdict changed: a dead agent, a host without (fresh) reports (pure).

A change inside the window (a floating IP associated) may break a path only because of a
condition that began before it (the L3 agent on the router's host dead: nothing since is
applied there). :func:`in_force` lists, for the hosts the walks read (the hosts of the path's
hops), each condition the host's node shows at the revision the verdict changed, with the
revision it began at, walked back through the history (the latest run of revisions it held
in), its time and cause; ``since`` None when it held already at the history's checkpoint.
Conditions that began at the break or after are in the changes already and are not repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Protocol

from topology import graph as g
from topology.history.causes import Cause, cause_text
from topology.path.model import JsonDict

Holds = Callable[[g.Node], bool]


class NodeHistory(Protocol):
    """What :func:`in_force` reads of topology.history.changes.History."""

    rows: list[tuple[int, datetime, list[Cause], g.Delta]]
    node_sets: dict[str, list[tuple[int, g.Node | None]]]

    def node_at(self, node_id: str, revision: int, current: g.Node | None) -> g.Node | None: ...


def agent_dead(agent_type: str) -> Holds:
    def holds(node: g.Node) -> bool:
        agents = (node.get("attrs") or {}).get("agents") or []
        return any(a.get("agent_type") == agent_type and not a.get("alive") for a in agents)

    return holds


def stale(node: g.Node) -> bool:
    return bool((node.get("attrs") or {}).get("stale"))


def unreported(node: g.Node) -> bool:
    return not (node.get("attrs") or {}).get("reported")


def host_conditions(node: g.Node) -> list[tuple[str, Holds]]:
    """What a host's node says is wrong there, in words, with the test of whether it still holds."""
    attrs = node.get("attrs") or {}
    host = str(node.get("label") or g.id_key(str(node["id"])))
    found: list[tuple[str, Holds]] = []
    for agent in attrs.get("agents") or []:
        kind = str(agent.get("agent_type"))
        if not agent.get("alive") and all(text != f"the {kind} on {host} dead" for text, _ in found):
            found.append((f"the {kind} on {host} dead", agent_dead(kind)))
    if unreported(node):
        found.append((f"host {host} sends no agent report", unreported))
    elif stale(node):
        found.append((f"no fresh report from host {host} since {attrs['stale']}", stale))
    return found


def began(history: NodeHistory, node_id: str, revision: int, holds: Holds, before_history: g.Node | None) -> int | None:
    """The first revision of the latest run, up to ``revision``, in which ``holds`` held of the node;
    None when it held already before the deltas kept (``before_history``: the node then)."""
    start: int | None = None
    for r, node in reversed([(r, n) for r, n in history.node_sets.get(node_id, []) if r <= revision]):
        if node is None or not holds(node):
            return start
        start = r
    if start is None or (before_history is not None and holds(before_history)):
        return None
    return start


def in_force(
    history: NodeHistory,
    read: Iterable[str],
    revision: int,
    before: int,
    current: Mapping[str, g.Node],
    checkpoint_node: Callable[[str], g.Node | None],
) -> list[JsonDict]:
    """The conditions on the read hosts at ``revision`` that began before revision ``before``, oldest first.

    ``current``: the current graph's nodes; ``checkpoint_node``: a node as
    the history's checkpoint holds it (the state before the first delta kept).
    """
    rows = {r: (at, causes) for r, at, causes, _ in history.rows}
    out: list[JsonDict] = []
    for node_id in sorted(i for i in read if g.id_kind(i) == "host"):
        node = history.node_at(node_id, revision, current.get(node_id))
        if node is None:
            continue
        for text, holds in host_conditions(node):
            start = began(history, node_id, revision, holds, checkpoint_node(node_id))
            if start is not None and start >= before:
                continue  # began at the break or after: one of the changes listed
            at, causes = rows.get(start, (None, [])) if start is not None else (None, [])
            out.append(condition(node_id, text, start, at, causes))
    return sorted(out, key=lambda c: (c["revision"] is not None, c["revision"] or 0))


def condition(node_id: str, text: str, revision: int | None, at: datetime | None, causes: list[Cause]) -> JsonDict:
    return {
        "node": node_id,
        "condition": text,
        "revision": revision,
        "in_force_since": at.isoformat() if at else None,
        "cause": cause_text(causes) if revision is not None else "before the history kept",
        "causes": causes,
    }
