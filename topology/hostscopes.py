"""A project member's collapsed view and host content from the parts' project rows, not the whole graph.

The writer stores, with each host part, what each project's members see of it (GraphPartScope rows,
topology/graphservice/summaries.py). A member's collapsed view is its project's rows (else the rows of
what any project sees there), merged; its links, the cross part's tunnels whose two ends it sees. Rows
are kept per project and re-read when their part's revision changes: O(the project's hosts), nothing of
another project read. None (the caller then scopes the assembled graph, topology/hostviews.py) when the
rows cannot be trusted: a part written before them (migration 0007), or written after them without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from topology import collapsed
from topology.graphservice import summaries as stored
from topology.graphservice import summary_rows
from topology.models import GraphPart, GraphPartScope, GraphPartSummary

StateKey = tuple[int, datetime | None]
RowKey = tuple[int, str]  # (revision, the row's project: the caller's or summaries.ANY_PROJECT)
Row = dict[str, Any]


@dataclass
class ScopeCache:
    """Per project, its rows by part, with what they were read at."""

    projects: dict[str, dict[str, tuple[RowKey, Row]]] = field(default_factory=dict)
    state: StateKey | None = None
    reads: int = 0  # rows read since the start (tests)

    def rows(self, state: StateKey | None, project: str) -> dict[str, Row] | None:
        """The project's row of every part it sees something of (None: not trustworthy, see the module)."""
        if self.state is not None and state != self.state and (state is None or state[0] <= self.state[0]):
            self.projects.clear()  # a reset database, not a later revision
        self.state = state
        revisions = dict(GraphPart.objects.values_list("key", "revision"))
        if set(revisions) - set(GraphPartSummary.objects.values_list("key", flat=True)):
            return None  # a part written before its summaries were (migration 0007)
        chosen: dict[str, RowKey] = {}
        for key, owner, revision in GraphPartScope.objects.filter(
            project__in=[project, stored.ANY_PROJECT]
        ).values_list("key", "project", "revision"):
            if key not in chosen or owner == project:
                chosen[key] = (revision, owner)
        # a row is made with its part, or later alone (who sees what of it changed): never older than the part
        if any(key not in revisions or revision < revisions[key] for key, (revision, _) in chosen.items()):
            return None
        held = self.projects.setdefault(project, {})
        for key in [k for k in held if k not in chosen]:
            del held[key]
        stale = [key for key, row_key in chosen.items() if key not in held or held[key][0] != row_key]
        for owner in {chosen[key][1] for key in stale}:
            keys = [key for key in stale if chosen[key][1] == owner]
            for start in range(0, len(keys), 200):
                for key, revision, body in GraphPartScope.objects.filter(
                    project=owner, key__in=keys[start : start + 200]
                ).values_list("key", "revision", "body"):
                    row = summary_rows.decode(bytes(body))
                    if row is None:
                        return None  # a row written before migration 0010
                    held[key] = ((revision, owner), row)
                    self.reads += 1
        return {key: row for key, (_, row) in held.items()}


def project_summaries(
    rows: Mapping[str, Row], tunnels: list[list[str]]
) -> tuple[dict[str, collapsed.HostSummary], dict[collapsed.HostPair, int]]:
    """The project's hosts and links: its rows merged; the tunnels whose two ends it sees."""
    summaries: dict[str, collapsed.HostSummary] = {}
    links: dict[collapsed.HostPair, int] = {}
    ends: set[str] = set()
    for row in rows.values():
        for host, summary in summary_rows.hosts_of(row).items():
            summaries[host] = collapsed.merged(summaries.get(host), summary)
        for pair, count in summary_rows.links_of(row).items():
            links[pair] = links.get(pair, 0) + count
        ends.update(row["ends"])
    seen = [{"source": s, "target": t, "kind": "tunnel"} for s, t in tunnels if s in ends and t in ends]
    for pair, count in collapsed.host_links(seen).items():
        links[pair] = links.get(pair, 0) + count
    return summaries, links


SCOPES = ScopeCache()
