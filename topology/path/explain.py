"""The explainer's entry points: an explanation of the path between two endpoints, way back included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topology.path import family
from topology.path.model import Endpoint, JsonDict, Probe
from topology.path.resolve import as_source, resolve
from topology.path.route import RETURN_WALKS, route
from topology.path.topo import Topo, route_router
from topology.path.verdict import finish, worst
from topology.path.walk import Walk


def explain(
    graph: Mapping[str, list[Any]], reports: Mapping[str, JsonDict], src: str, dst: str, probe: str = "icmp"
) -> JsonDict:
    """The path from ``src`` to ``dst`` (node ids or IPs) hop by hop, checked against the live state."""
    return explain_in(Topo(graph, reports), src, dst, probe)


def explain_in(topo: Topo, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    """:func:`explain` on an already indexed graph."""
    parsed = Probe.parse(probe)
    source = as_source(topo, resolve(topo, src))
    return explain_endpoints(topo, source, resolve(topo, dst, near=source), parsed)


def explain_endpoints(topo: Topo, source: Endpoint, target: Endpoint, probe: Probe) -> JsonDict:
    """The walk between two resolved endpoints (a tenant's are resolved in what it may see: path_scope).

    The two ends' families are checked first (topology/path/family.py): when the packet's family is
    missing on the way, the answer is the hops up to where it is missing, never the other family's walk.
    """
    source = family.aligned(topo, source, target)
    walk = Walk(topo, probe)
    scenario = route(walk, source, target)
    mixed = Walk(topo, walk.probe)
    if family.mixed(mixed, source, target):
        walk = mixed
    result: JsonDict = {
        "verdict": finish(walk),
        "scenario": scenario,
        "src": {"kind": source.kind, "node": source.node, "ip": source.ip},
        "dst": {"kind": target.kind, "node": target.node, "ip": target.ip},
        "probe": walk.probe.describe(),
        "hops": [h.to_dict() for h in walk.hops],
        "problems": walk.problems,
    }
    walk_back = RETURN_WALKS.get(scenario) if walk is not mixed else None
    if walk_back is not None:
        back = Walk(topo, walk.probe)
        walk_back(back, target, source, route_router(topo, source.node, target.node) or "")
        back_verdict = finish(back)
        result["return_hops"] = [h.to_dict() for h in back.hops]
        result["return_verdict"] = back_verdict
        result["problems"] += [{**p, "direction": "return"} for p in back.problems if p not in walk.problems]
        result["verdict"] = worst(str(result["verdict"]), back_verdict)  # a ping needs the reply too
    return result
