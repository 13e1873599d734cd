"""What a hop is checked with, and what the explainer expects the tracer to find (the plan's model).

topology/probes/plan.py (ML2/OVS hops) and topology/probes/plan_ovn.py (an OVN walk's ovn_trace) make
them; topology/probes/verify.py runs them and topology/probes/compare.py judges the answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from topology.probes.packet import Neighbour

JsonDict = dict[str, Any]
TRACERS = {"ofproto_trace": "ofproto/trace", "route_get": "ip route get", "ovn_trace": "ovn-trace"}


@dataclass(frozen=True)
class Expect:
    """What the explainer says the tracer should find."""

    port: str | None = None  # ofproto_trace: the port the packet leaves the datapath by
    bridge: str | None = None  # ...on this bridge
    dev: str | None = None  # route_get: the device the route leaves by
    stops: str | None = None  # the explainer says the packet goes no further (why)
    tun_id: int | None = None  # ofproto_trace by a tunnel port: the VNI (set_field ->tun_id) it carries
    dead_ends: tuple[str, ...] = ()  # when it stops: ports it may still leave by that lead nowhere out (wires)

    def describe(self) -> str:
        if self.stops:
            wires = f" (or leaves only by {', '.join(self.dead_ends)}: a wire to a br-ex with no way out)"
            return f"stops: {self.stops}" + (wires if self.dead_ends else "")
        if self.port:
            vni = f" with tun_id {self.tun_id:#x}" if self.tun_id is not None else ""
            return f"leaves by {self.port} on {self.bridge}{vni}"
        return f"routed out of {self.dev}"


@dataclass
class Check:
    hop: int
    host: str
    kind: str  # ofproto_trace | route_get
    args: JsonDict
    expect: Expect
    macs: dict[str, Neighbour] = field(default_factory=dict)  # dl_src/dl_dst to fill from the node's ARP table
    notes: list[str] = field(default_factory=list)

    @property
    def tracer(self) -> str:
        return TRACERS.get(self.kind, self.kind)


@dataclass(frozen=True)
class NotChecked:
    hop: int
    reason: str
    tracer: str | None = None


Plan = Check | NotChecked


def stops_at(hops: Sequence[Mapping[str, Any]], at: int) -> Expect:
    return Expect(stops=f"hop {at + 1} fails: {str(hops[at].get('evidence') or hops[at].get('what'))[:200]}")


def first_failure(hops: Sequence[Mapping[str, Any]], index: int) -> Expect | None:
    """The explainer's break at or before ``index``: the packet is not expected to go on."""
    for at in range(index + 1):
        if hops[at].get("status") == "fail":
            return stops_at(hops, at)
    return None
