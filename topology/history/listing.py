"""The list of revisions a caller may see (GET /api/v1/topology/history/).

Admins get every revision with the counts stored when it was recorded. A project
member gets, for each revision, what their own topology API would have shown
change: the graph is replayed (topology.history.replay) and each revision's
delta is seen through topology.scope as the map's websocket does for them
(topology.history.visibility keeps scope's visible sets up to date delta by delta)
(nodes that came into or went out of their view, visible nodes whose redacted
form changed, edges between visible nodes). Revisions that changed nothing they
may see are left out, and so are causes that name another project's job or a
host they do not see.
"""

from __future__ import annotations

from typing import Any, TypedDict

from topology import graph as g
from topology.history.causes import Cause, cause_text
from topology.history.models import GraphRevision
from topology.history.replay import Replay
from topology.history.visibility import ProjectView
from topology.scope import redact_admin_only, redact_shared

MAX_LIMIT = 200


class Counts(TypedDict):
    added: dict[str, int]
    removed: dict[str, int]
    changed: dict[str, int]


def counts(added_nodes: int, added_edges: int, removed_nodes: int, removed_edges: int, changed: int) -> Counts:
    return {
        "added": {"nodes": added_nodes, "edges": added_edges},
        "removed": {"nodes": removed_nodes, "edges": removed_edges},
        "changed": {"nodes": changed},
    }


def entry(row: GraphRevision, causes: list[Cause], made: Counts) -> dict[str, Any]:
    return {
        "revision": row.revision,
        "at": row.at.isoformat(),
        "cause": cause_text(causes),
        "causes": causes,
        "counts": made,
    }


def window(before: int | None, limit: int) -> tuple[int, int]:
    """The revisions (first, last) a page looks at: ``limit`` of them, ending just before ``before``."""
    newest = GraphRevision.objects.order_by("-revision").values_list("revision", flat=True).first() or 0
    last = min(newest, before - 1) if before else newest
    return max(1, last - max(1, min(limit, MAX_LIMIT)) + 1), last


def admin_page(first: int, last: int) -> list[dict[str, Any]]:
    rows = GraphRevision.objects.filter(revision__gte=first, revision__lte=last).defer("delta_gz", "checkpoint_gz")
    return [
        {
            **entry(
                row,
                row.causes,
                counts(row.added_nodes, row.added_edges, row.removed_nodes, row.removed_edges, row.changed_nodes),
            ),
            "writer_lag": row.writer_lag,
        }
        for row in rows.order_by("-revision")
    ]


def redacted(node: g.Node) -> g.Node:
    return redact_admin_only(redact_shared(node))


def changed_in_view(delta: g.Delta, old: dict[str, g.Node | None], seen: set[str]) -> int:
    """Visible nodes changed in place whose redacted form (what the member gets) changed."""
    count = 0
    for node in delta["changed"]["nodes"]:
        before = old.get(node["id"])
        if node["id"] in seen and (before is None or redacted(before) != redacted(node)):
            count += 1
    return count


def tenant_causes(causes: list[Cause], seen: set[str], project_id: str) -> list[Cause]:
    def shown(cause: Cause) -> bool:
        if cause["kind"] in ("report", "stale"):
            return "host" in cause and g.host_id(cause["host"]) in seen
        if cause["kind"] == "job":
            return bool(cause.get("project") == project_id)
        return cause["kind"] in ("cloud", "reset")

    return [c for c in causes if shown(c)]


def tenant_page(first: int, last: int, project_id: str) -> list[dict[str, Any]]:
    oldest = (
        GraphRevision.objects.filter(checkpoint_gz__isnull=False)
        .order_by("revision")
        .values_list("revision", flat=True)
        .first()
    )
    if oldest is None or last <= oldest:
        return []
    replay = Replay(max(first - 1, oldest))
    view = ProjectView(replay.nodes, replay.edges.values(), project_id)
    before = view.visible()
    out: list[dict[str, Any]] = []
    for row, delta in replay.deltas(last):
        old = {n["id"]: replay.nodes.get(n["id"]) for n in delta["changed"]["nodes"]}
        replay.apply(row, delta)
        view.update(replay.nodes, delta)
        after = view.visible()
        changed = changed_in_view(delta, old, before & after)
        made = counts(
            len(after - before),
            sum(1 for e in delta["added"]["edges"] if e["source"] in after and e["target"] in after),
            len(before - after),
            sum(1 for e in delta["removed"]["edges"] if e["source"] in before and e["target"] in before),
            changed,
        )
        if any(n for part in (made["added"], made["removed"], made["changed"]) for n in part.values()):
            out.append(entry(row, tenant_causes(row.causes, before | after, project_id), made))
        before = after
    return out[::-1]


def history_page(scope: str | None, before: int | None, limit: int) -> dict[str, Any]:
    """The page of revisions before ``before`` (newest first) for ``scope`` (None: admin)."""
    first, last = window(before, limit)
    revisions = admin_page(first, last) if scope is None else tenant_page(first, last, scope)
    oldest = GraphRevision.objects.order_by("revision").values_list("revision", flat=True).first()
    return {"revisions": revisions, "next_before": first if oldest is not None and first > oldest else None}
