"""``verify=1``: every hop of an explained path checked by the node's own tracer, over the agent channel.

For each hop, topology/probes/plan.py builds the probe (the packet as the
walk describes it there, or why it cannot); this module asks the hops'
hosts (a host whose agent is not connected answers "not connected" for all
its hops at once, nothing is queued), puts each answer beside the model's
(topology/probes/compare.py), turns a disagreeing hop's status to warn at
least and lists the disagreements first among the problems.

Every probe is checked against its host's last report before it is sent
(topology/probes/validate.py): what the walk gives is never trusted as is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from topology.agent.probes import ProbeInvalid
from topology.path import Probe, Topo
from topology.probes import ovn_counters
from topology.probes.compare import compare, not_checked
from topology.probes.plan import Check, Neighbour, NotChecked, plan
from topology.probes.presence import is_connected
from topology.probes.request import NotConnected, ProbeTimeout, run_on_host
from topology.probes.validate import validate_for_host

JsonDict = dict[str, Any]
PROBE_TIMEOUT_S = 5.0
# Probes in flight at once per verify: an agent runs at most 4 at a time (topology/agent/channel.py).
WORKERS = 4
DISAGREES = "tracer_disagrees"
Runner = Callable[[str, str, JsonDict, float], JsonDict]
Reports = Callable[[str], Mapping[str, Any] | None]


@dataclass
class Asker:
    """Sends probes host by host: presence asked once per host, every probe validated against its report."""

    reports: Reports
    run: Runner = run_on_host
    connected: Callable[[str], bool] = is_connected
    timeout: float = PROBE_TIMEOUT_S
    hosts: dict[str, str] = field(default_factory=dict)  # host -> "connected" | why not
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def host_state(self, host: str) -> str:
        with self.lock:
            return self._host_state(host)

    def _host_state(self, host: str) -> str:
        if host not in self.hosts:
            if not host:
                self.hosts[host] = "the hop names no host"
            elif self.reports(host) is None:
                self.hosts[host] = f"no report from host {host}"
            elif not self.connected(host):
                self.hosts[host] = f"the agent of host {host} is not connected"
            else:
                self.hosts[host] = "connected"
        return self.hosts[host]

    def ask(self, host: str, kind: str, args: JsonDict) -> JsonDict | str:
        """The agent's result, or why there is none (a sentence)."""
        state = self.host_state(host)
        if state != "connected":
            return state
        try:
            clean = validate_for_host(kind, args, self.reports(host) or {})
        except ProbeInvalid as exc:
            return f"refused before the agent: {exc}"
        with self.lock:
            self.sent += 1
        try:
            return self.run(host, kind, clean, self.timeout)
        except NotConnected:
            with self.lock:
                self.hosts[host] = f"the agent of host {host} is not connected"
            return self.hosts[host]
        except ProbeTimeout as exc:
            # A wedged agent: its other hops are not waited for again (each would cost the whole bound).
            with self.lock:
                self.hosts[host] = f"the agent of host {host} did not answer: {exc}"
            return self.hosts[host]


def neighbour_mac(answer: JsonDict | str, neighbour: Neighbour) -> str:
    """The router's ARP entry for a peer outside the cloud: its MAC, or a sentence why not."""
    if isinstance(answer, str):
        return answer
    entries = [e for e in (answer.get("parsed") or {}).get("neighbours") or [] if e.get("lladdr")]
    if entries:
        return str(entries[0]["lladdr"])
    return (
        f"{neighbour.namespace} has no ARP entry for {neighbour.ip} on {neighbour.dev}: "
        "the outside peer's MAC is not known"
    )


def run_check(asker: Asker, check: Check, macs: Mapping[Neighbour, str]) -> JsonDict:
    for key, neighbour in check.macs.items():
        mac = macs[neighbour]
        if ":" not in mac or " " in mac:
            return not_checked(mac, check.tracer)
        check.args[key] = mac
        check.notes.append(f"{key} {mac}: {neighbour.namespace}'s ARP entry for {neighbour.ip} on {neighbour.dev}")
    answer = asker.ask(check.host, check.kind, check.args)
    if isinstance(answer, str):
        return not_checked(answer, check.tracer)
    result = compare(check, answer)
    if check.kind == "ovn_trace" and result["state"] != "not_checked":
        ovn_counters.attach(result, check.host, answer, asker.ask)
    return result


def verify_hops(
    asker: Asker, topo: Topo, hops: Sequence[Mapping[str, Any]], src_ip: str | None, dst_ip: str | None, probe: Probe
) -> list[JsonDict]:
    """One ``verify`` object per hop. The MACs of outside peers first, then every hop's probe, WORKERS at once."""
    planned = plan(topo, hops, src_ip, dst_ip, probe)
    checks = [item for item in planned if isinstance(item, Check)]
    neighbours = list(dict.fromkeys(n for c in checks for n in c.macs.values()))
    with ThreadPoolExecutor(max(1, WORKERS)) as pool:
        answers = pool.map(lambda n: asker.ask(n.host, "neigh_show", n.args()), neighbours)
        macs = {n: neighbour_mac(answer, n) for n, answer in zip(neighbours, answers, strict=True)}
        verified = dict(
            zip((c.hop for c in checks), pool.map(lambda c: run_check(asker, c, macs), checks), strict=True)
        )
    return [
        not_checked(item.reason, item.tracer) if isinstance(item, NotChecked) else verified[item.hop]
        for item in planned
    ]


def disagreement(hop: Mapping[str, Any], number: str, check: Mapping[str, Any]) -> JsonDict:
    message = (
        f"hop {number} ({str(hop.get('what'))[:80]}): the explainer says the packet {check['model']}, "
        f"but {check['tracer']} on {check['host']} says it {check['answer']}"
    )
    return {"code": DISAGREES, "message": message, "node": hop.get("node") or None, "severity": "warn"}


def apply(hops: list[JsonDict], checks: list[JsonDict], prefix: str) -> list[JsonDict]:
    """Each hop gets its ``verify``; a disagreeing hop turns warn at least. Returns the disagreements."""
    found = []
    for index, (hop, check) in enumerate(zip(hops, checks, strict=True)):
        hop["verify"] = check
        if check["state"] == "disagree":
            if hop.get("status") in ("ok", "unknown"):
                hop["status"] = "warn"
            found.append(disagreement(hop, f"{prefix}{index + 1}", check))
    return found


def verify_result(asker: Asker, topo: Topo, result: JsonDict, probe: Probe) -> JsonDict:
    """The explainer's answer with a ``verify`` per hop (way back too) and the summary."""
    src_ip, dst_ip = result["src"].get("ip"), result["dst"].get("ip")
    there = verify_hops(asker, topo, result["hops"], src_ip, dst_ip, probe)
    found = apply(result["hops"], there, "")
    if "return_hops" in result:
        back = verify_hops(asker, topo, result["return_hops"], dst_ip, src_ip, probe)
        found += [{**p, "direction": "return"} for p in apply(result["return_hops"], back, "R")]
    else:
        back = []
    result["problems"] = found + list(result["problems"])  # disagreements first in the narrative
    states = [c["state"] for c in there + back]
    result["verify"] = {
        "agree": states.count("agree"),
        "disagree": states.count("disagree"),
        "not_checked": states.count("not_checked"),
        "probes_sent": asker.sent,
        "hosts": dict(sorted((h, s) for h, s in asker.hosts.items() if h)),
    }
    return result
