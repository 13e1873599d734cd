"""The tracer's answer beside the explainer's (pure): agree, disagree, or not checked.

* ofproto/trace: the datapath ports the packet leaves by (``parsed.outputs``,
  named by dpif/show) against the port the walk names next. By a tunnel port
  (``parsed.tunnels``: the tnl_push of a userspace datapath), the tunnel port
  and its VNI both against the walk's; the underlay's output after the push
  (br-phy's) is not the overlay's way on and is only shown. A bridge's own
  internal port (LOCAL, OpenFlow 65534) is the host's stack, not a way on:
  an answer that reaches only LOCAL ports, or drops, is "it stops". A flood
  (NORMAL, no learned MAC for the destination) that includes the walk's port
  agrees: a learning switch delivers an unknown unicast that way (flooded to a
  tunnel too: a copy by ``clone(tnl_push(...))``, with the network's VNI).
* ip route get: the route's device against the device the walk leaves the
  namespace by; an unreachable/blackhole/prohibit route, or the kernel's
  "RTNETLINK answers: ..." refusal, is "it stops".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from topology.probes.plan import LOCAL_OFPORT, Check
from topology.probes.plan_ovn import LOCALNET

JsonDict = dict[str, Any]
State = Literal["agree", "disagree", "not_checked"]
FLOODING = "no learned MAC for destination, flooding"
NO_ROUTE_TYPES = ("unreachable", "blackhole", "prohibit", "throw")


def not_checked(reason: str, tracer: str | None = None) -> JsonDict:
    return {"state": "not_checked", "tracer": tracer, "reason": reason}


def outputs_of(parsed: Mapping[str, Any]) -> list[str]:
    """Where the trace leaves the datapath, as ``port (bridge)``; LOCAL ports left out."""
    names = []
    for out in parsed.get("outputs") or []:
        if out.get("ofport") == LOCAL_OFPORT or (out.get("port") and out.get("port") == out.get("bridge")):
            continue
        names.append(f"{out.get('port', 'datapath port ' + str(out.get('dp_port')))} ({out.get('bridge', '?')})")
    return names


def tunnels_of(parsed: Mapping[str, Any]) -> list[str]:
    """The tunnel ports the trace leaves by (tnl_push), as ``port (bridge)``."""
    return [
        f"{t.get('port', 'tunnel datapath port ' + str(t.get('dp_port')))} ({t.get('bridge', '?')})"
        for t in parsed.get("tunnels") or []
    ]


def vnis_of(parsed: Mapping[str, Any]) -> list[int | None]:
    return [t.get("vni") for t in parsed.get("tunnels") or []]


def trace_answer(parsed: Mapping[str, Any]) -> tuple[list[str], str]:
    outputs = outputs_of(parsed) + tunnels_of(parsed)
    if outputs:
        vnis = [f"{vni:#x}" if vni is not None else "?" for vni in vnis_of(parsed)]
        return outputs, "leaves by " + ", ".join(outputs) + (f" with tun_id {', '.join(vnis)}" if vnis else "")
    if parsed.get("dropped"):
        return [], "dropped"
    locals_only = bool(parsed.get("outputs"))
    if locals_only:
        return [], "only to the bridge's own internal port (LOCAL): no way on"
    return [], f"no output (datapath actions: {parsed.get('datapath_actions') or 'none'})"


def compare_trace(check: Check, result: Mapping[str, Any]) -> JsonDict:
    parsed = result.get("parsed") or {}
    outputs, answer = trace_answer(parsed)
    expect = check.expect
    wanted = f"{expect.port} ({expect.bridge})"
    if expect.stops:
        dead_ends = [f"{port} ({expect.bridge})" for port in expect.dead_ends]
        beyond = [o for o in outputs if o not in dead_ends]
        # flooding an unlearned MAC on the way to a br-ex without a way out: to other ports of the network on
        # this side of it, and to its dead-end wires, never out of it
        flooded = bool(expect.dead_ends) and FLOODING in str(result.get("output") or "")
        through = flooded and not any(o.endswith(f" ({expect.bridge})") for o in beyond)
        state: State = "agree" if not beyond or through else "disagree"
    elif outputs == [wanted]:
        # by a tunnel port: the VNI too (the trace's tnl_push header), or it is another network's tunnel
        state = "agree" if expect.tun_id is None or vnis_of(parsed) == [expect.tun_id] else "disagree"
    elif wanted in outputs and FLOODING in str(result.get("output") or ""):
        # NORMAL floods a unicast whose MAC it has not learned (yet, or since it aged out): the model's port
        # gets it, with every other port of the VLAN. That is how a learning switch delivers it. Flooded to a
        # tunnel (a copy by clone(tnl_push...)): with the network's VNI.
        state = "agree" if expect.tun_id is None or expect.tun_id in vnis_of(parsed) else "disagree"
        answer = f"is flooded (no learned MAC for {check.args.get('dl_dst')}): {answer}"
    else:
        state = "disagree"
    return {
        "state": state,
        "answer": answer,
        "detail": {
            "outputs": outputs,
            "tunnels": list(parsed.get("tunnels") or []),
            "underlay": list(parsed.get("underlay") or []),
            "bridges": parsed.get("bridges") or [],
            "datapath_actions": parsed.get("datapath_actions"),
            "final_flow": parsed.get("final_flow"),
        },
    }


def compare_ovn(check: Check, result: Mapping[str, Any]) -> JsonDict:
    """ovn-trace's answer against the walk: delivered to the expected port (a localnet one for the outside),
    or stopped where the walk stops."""
    parsed = result.get("parsed") or {}
    delivered = parsed.get("delivered_to")
    outputs = [o for o in parsed.get("outputs") or [] if o.get("type") != "patch"]
    stop = parsed.get("dropped_at") or {}
    if delivered is None:
        answer = f"stops at {stop.get('stage', '?')} ({stop.get('direction', '?')}, match {stop.get('match', '?')})"
    else:
        answer = f"is delivered to {delivered}" + (f" ({outputs[-1]['type']} port)" if outputs[-1]["type"] else "")
    expect = check.expect
    if expect.stops:
        state: State = "agree" if delivered is None else "disagree"
    elif expect.port == LOCALNET:
        state = "agree" if outputs and outputs[-1]["type"] == LOCALNET else "disagree"
    else:
        state = "agree" if delivered == expect.port else "disagree"
    return {"state": state, "answer": answer, "detail": {"delivered_to": delivered, "dropped_at": stop or None,
            "outputs": list(parsed.get("outputs") or [])}}  # fmt: skip


def compare_route(check: Check, result: Mapping[str, Any]) -> JsonDict:
    expect = check.expect
    if not result.get("ok"):
        answer = "no route: " + str(result.get("error") or "")[:300]
        return {"state": "agree" if expect.stops else "disagree", "answer": answer, "detail": {}}
    route = dict(result.get("parsed") or {})
    if route.get("type") in NO_ROUTE_TYPES:
        answer = f"no route: {route.get('type')} {route.get('dst')}"
        return {"state": "agree" if expect.stops else "disagree", "answer": answer, "detail": {"route": route}}
    answer = f"routed out of {route.get('dev')}" + (f" via {route['via']}" if route.get("via") else "")
    state: State = "disagree" if expect.stops else ("agree" if route.get("dev") == expect.dev else "disagree")
    return {"state": state, "answer": answer, "detail": {"route": route}}


def compare(check: Check, result: Mapping[str, Any]) -> JsonDict:
    """The hop's ``verify`` object for an answered probe (the agent's result dict)."""
    if result.get("timed_out"):
        return not_checked(f"{check.tracer} did not answer in time on {check.host}", check.tracer)
    if check.kind in ("ofproto_trace", "ovn_trace") and not result.get("ok"):
        return not_checked(f"{check.tracer} failed on {check.host}: {str(result.get('error'))[:300]}", check.tracer)
    compare_kind = {"ofproto_trace": compare_trace, "ovn_trace": compare_ovn}.get(check.kind, compare_route)
    found = compare_kind(check, result)
    return {
        "state": found["state"],
        "tracer": check.tracer,
        "host": check.host,
        "packet": dict(check.args),
        "model": check.expect.describe(),
        "answer": found["answer"],
        "notes": list(check.notes),
        "detail": found["detail"],
    }
