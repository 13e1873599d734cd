"""Why a revision happened, inferred when it is recorded from what arrived since the previous one.

The graph service's rebuild is not told why it runs, so the cause is read from the
inputs, inside the rebuild's transaction:

- ``report``: a host whose nodes the delta touches, whose report was received after
  the previous revision (its writer lag: the revision's time minus that receipt);
- ``stale``: a host node the delta marks STALE without a report from it (no report came);
- ``cloud``: the delta touches logical objects or host nodes (their agents are Neutron's)
  and the cloud snapshot was collected after the previous revision;
- ``job``: a job running, or finished within JOB_WINDOW before the revision, whose
  target's uuid is in an id the delta touches (its refresh, or the agents' reports of its effect).

- ``reset``: the writer wrote the whole graph (its start with no stored graph): a reset row
  (topology/history/record.py ``record_reset``), no delta to infer anything else from.

A revision may have several causes; none found leaves the list empty ("unknown").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from topology import graph as g
from topology.freshness import STALE
from topology.kinds import NodeKind
from topology.models import CloudSnapshot, HostReport

Cause = dict[str, Any]
JOB_WINDOW = timedelta(minutes=2)
RESET_CAUSE: Cause = {"kind": "reset"}
MAX_HOSTS = 50  # report causes kept per revision; the first revision of a big cloud names them all otherwise


def touched_ids(delta: g.Delta) -> set[str]:
    """Every node id the delta adds, removes or changes, and the ends of its edges."""
    ids = {n["id"] for n in delta["added"]["nodes"]} | {n["id"] for n in delta["changed"]["nodes"]}
    ids.update(delta["removed"]["nodes"])
    for part in ("added", "removed"):
        for edge in delta[part]["edges"]:
            ids.update((edge["source"], edge["target"]))
    return ids


def host_of(node_id: str) -> str | None:
    """The host in a physical node's id (host:, netns:, bridge:, iface:), None for a logical one."""
    kind = g.id_kind(node_id)
    if kind not in NodeKind.PHYSICAL:
        return None
    return g.id_key(node_id).split(":", 1)[0]


def stale_hosts_marked(delta: g.Delta) -> set[str]:
    nodes = [*delta["added"]["nodes"], *delta["changed"]["nodes"]]
    return {n["label"] for n in nodes if n["kind"] == NodeKind.HOST and n.get("status") == STALE}


def infer_causes(delta: g.Delta, previous_at: datetime | None, at: datetime) -> tuple[list[Cause], float | None]:
    """The causes of the revision made at ``at`` (the previous one at ``previous_at``), and its writer lag."""
    ids = touched_ids(delta)
    hosts = {h for h in map(host_of, ids) if h}
    causes: list[Cause] = []
    lag: float | None = None
    since = Q(received_at__gt=previous_at) if previous_at else Q()
    reported = dict(
        HostReport.objects.filter(since, host__in=hosts, received_at__lte=at).values_list("host", "received_at")
    )
    if reported:
        lag = max(0.0, (at - min(reported.values())).total_seconds())
        causes.extend({"kind": "report", "host": h} for h in sorted(reported)[:MAX_HOSTS])
        if len(reported) > MAX_HOSTS:
            causes.append({"kind": "report", "more": len(reported) - MAX_HOSTS})
    causes.extend({"kind": "stale", "host": h} for h in sorted(stale_hosts_marked(delta) - set(reported)))
    # A host node's agents (alive, admin state) come from the cloud refresh, not from its report.
    if any(g.id_kind(i) in NodeKind.LOGICAL or g.id_kind(i) == NodeKind.HOST for i in ids):
        snapshot = CloudSnapshot.objects.order_by("-id").values_list("collected_at", flat=True).first()
        if snapshot is not None and (previous_at is None or snapshot > previous_at):
            causes.append({"kind": "cloud"})
    causes.extend(job_causes(ids, at))
    return causes, lag


def job_causes(ids: Iterable[str], at: datetime) -> list[Cause]:
    from tasks.models import Job, JobState

    jobs = Job.objects.filter(
        Q(state=JobState.RUNNING) | Q(finished_at__gte=at - JOB_WINDOW, finished_at__lte=at)
    ).values_list("pk", "target", "user_name", "project_id")
    text = "\n".join(ids)
    return [
        {"kind": "job", "job": pk, "user": user, "project": project}
        for pk, target, user, project in jobs
        if target and target in text
    ]


def cause_text(causes: list[Cause]) -> str:
    """``host report compute1, compute2; cloud refresh; job 17 by demo`` ("unknown" for none)."""
    reports = [c["host"] for c in causes if c["kind"] == "report" and "host" in c]
    more = sum(c.get("more", 0) for c in causes if c["kind"] == "report")
    parts: list[str] = []
    if reports:
        parts.append("host report " + ", ".join(reports) + (f" and {more} more" if more else ""))
    stale = [c["host"] for c in causes if c["kind"] == "stale"]
    if stale:
        parts.append("no fresh report from " + ", ".join(stale))
    if any(c["kind"] == "cloud" for c in causes):
        parts.append("cloud refresh")
    parts.extend(f"job {c['job']} by {c['user']}" for c in causes if c["kind"] == "job")
    if any(c["kind"] == "reset" for c in causes):
        parts.append("the graph written whole (no stored graph)")
    return "; ".join(parts) or "unknown"
