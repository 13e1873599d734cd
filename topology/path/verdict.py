"""The verdict of a walk: stale hosts warned, dead agents blamed, then ok / unknown / broken."""

from __future__ import annotations

from topology import graph as g
from topology.freshness import stale_message
from topology.path import ha
from topology.path.model import Problem
from topology.path.walk import Walk, agent_dead_message

VERDICT_ORDER = ("ok", "unknown", "broken")


def worst(*verdicts: str) -> str:
    return max(verdicts, key=VERDICT_ORDER.index)


def finish(walk: Walk) -> str:
    ha.name_instances(walk)
    warn_stale_hosts(walk)
    blame_dead_agents(walk)
    return verdict(walk)


def warn_stale_hosts(walk: Walk) -> None:
    """What a hop on a host without a fresh report shows is that report's: a warning, not a verdict."""
    for host in dict.fromkeys(h.host for h in walk.hops if h.host):
        since = walk.topo.attrs(g.host_id(host)).get("stale")
        if not since:
            continue
        for hop in walk.hops:
            if hop.host == host and hop.status == "ok":
                hop.status = "warn"
        walk.problem(Problem.HOST_STALE, stale_message(host, since), g.host_id(host), severity="warn")


def blame_dead_agents(walk: Walk) -> None:
    """A hop that fails on a host whose agent is dead fails because of it."""
    failed_hosts = {h.host for h in walk.hops if h.status == "fail" and h.host}
    for (host, agent_type), problem in walk.dead_agents.items():
        if host in failed_hosts:
            problem["severity"] = "fail"
            problem["message"] = agent_dead_message(agent_type, host, blamed=True)


def verdict(walk: Walk) -> str:
    if any(h.status == "fail" for h in walk.hops) or any(p["severity"] == "fail" for p in walk.problems):
        return "broken"
    if any(h.status == "unknown" for h in walk.hops):
        return "unknown"
    return "ok"
