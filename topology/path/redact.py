"""Tenant redaction of an answer: hops through what a tenant may not see keep what they do, never whose
(topology.path_scope resolves a tenant's endpoints and scrubs the text)."""

from __future__ import annotations

from topology import graph as g
from topology.kinds import NodeKind
from topology.path.model import JsonDict

INFRASTRUCTURE = (NodeKind.HOST, NodeKind.BRIDGE)


def redact_path(result: JsonDict, visible: set[str]) -> JsonDict:
    """Hops through what a tenant may not see keep what the hop does, never whose it is."""
    problems = [redact_problem(p, visible) for p in result["problems"]]
    redacted = {**result, "hops": redact_hops(result["hops"], visible), "problems": problems}
    if "return_hops" in result:
        redacted["return_hops"] = redact_hops(result["return_hops"], visible)
    return redacted


def redact_problem(problem: JsonDict, visible: set[str]) -> JsonDict:
    redacted = {**problem, "node": problem["node"] if problem["node"] in visible else None}
    if "port" in problem:
        redacted["port"] = problem["port"] if problem["port"] in visible else None
    return redacted


def redact_hops(hops: list[JsonDict], visible: set[str]) -> list[JsonDict]:
    out = []
    for hop in hops:
        node = hop["node"]
        if not node or node in visible:
            out.append(hop)
            continue
        # Another project's network is no more infrastructure than its ports (a public one is visible).
        out.append({**hop, "node": node if g.id_kind(node) in INFRASTRUCTURE else "", "evidence": "", "flows": []})
    return out
