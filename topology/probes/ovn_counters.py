"""An OVN check's OpenFlow evidence (issue 17): the logical flows ovn-trace met, found by cookie on br-int.

ovn-controller gives each OpenFlow flow it installs for a logical flow the cookie of that flow's first 32
bits (ovn-trace prints the same 8 hex digits as the stage's ``uuid``). After an ovn_trace answer, the
source chassis's agent is asked for br-int's flows of those cookies (``flow_counters`` with ``cookies``):
each stage gets how many OpenFlow flows carry it there and their packet counters. A stage with none on
the chassis is named in the check's notes (ovn-controller has not installed it, or it runs on another
chassis: a remote port's egress, the gateway's redirect). Pure but for the asker it is handed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from topology.agent.counting import MAX_COOKIES

JsonDict = dict[str, Any]
INTEGRATION_BRIDGE = "br-int"


def stages_met(parsed: Mapping[str, Any]) -> list[JsonDict]:
    """Every stage of the trace with a logical flow uuid, in order: (direction, datapath, table, stage, uuid)."""
    out = []
    for pipeline in parsed.get("pipelines") or []:
        for stage in pipeline.get("stages") or []:
            uuid = str(stage.get("uuid") or "")[:8].lower()
            if len(uuid) == 8 and all(c in "0123456789abcdef" for c in uuid):
                where = {"direction": pipeline.get("direction"), "datapath": pipeline.get("datapath")}
                out.append({**where, "table": stage.get("table"), "stage": stage.get("stage"), "uuid": uuid})
    return out


def cookies_of(stages: list[JsonDict]) -> list[int]:
    return list(dict.fromkeys(int(s["uuid"], 16) for s in stages))[:MAX_COOKIES]


def by_stage(stages: list[JsonDict], flows: list[Mapping[str, Any]]) -> list[JsonDict]:
    """Each stage with the OpenFlow flows of its cookie: how many, and their packets."""
    counted: dict[int, list[int]] = {}
    for flow in flows:
        counted.setdefault(int(flow.get("cookie") or 0), []).append(int(flow.get("n_packets") or 0))
    out = []
    for stage in stages:
        packets = counted.get(int(stage["uuid"], 16), [])
        out.append({**stage, "openflow_flows": len(packets), "n_packets": sum(packets)})
    return out


def attach(check_result: JsonDict, host: str, trace: Mapping[str, Any],
           ask: Callable[[str, str, JsonDict], JsonDict | str]) -> None:  # fmt: skip
    """The check's ``detail.openflow``: its stages' flows on ``host``'s br-int; notes for what is missing."""
    stages = stages_met(trace.get("parsed") or {})
    if not stages:
        return
    answer = ask(host, "flow_counters", {"bridge": INTEGRATION_BRIDGE, "cookies": cookies_of(stages)})
    notes = check_result.setdefault("notes", [])
    if isinstance(answer, str) or not answer.get("ok"):
        why = answer if isinstance(answer, str) else str(answer.get("error"))[:200]
        notes.append(f"br-int's flows by cookie on {host}: not read ({why})")
        return
    parsed = answer.get("parsed") or {}
    counted = by_stage(stages, parsed.get("flows") or [])
    check_result.setdefault("detail", {})["openflow"] = {"host": host, "bridge": INTEGRATION_BRIDGE, "stages": counted}
    missing = [f"{s['stage']} ({s['uuid']})" for s in counted if not s["openflow_flows"]]
    if missing:
        notes.append(
            f"{len(missing)} of {len(counted)} logical flows met have no OpenFlow flow on {host}'s br-int "
            f"(not installed there, or run on another chassis): {', '.join(missing[:6])}"
        )
    if parsed.get("incomplete"):
        notes.append(f"br-int's flows by cookie on {host}: incomplete ({parsed['incomplete']})")
