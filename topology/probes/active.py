"""An active check (issue 16 item 4): one real ping along an explained path, and the counters it moved.

Admin only. The packet is sent from the source's side, by the source host's agent
(topology/agent/counting.py ``ping``, which an agent sends only with ``active_probes`` on):

1. from a namespace on the source port's host that holds the port's MAC and address: the VM itself
   where VMs are namespaces (the lab's), so every hop is exercised;
2. else from the DHCP namespace of the source's network: the VM's own first hops (tap, qbr, qvo,
   its security groups) are not exercised, and the answer says so.

Around it, every counter the explanation cites is read before and after: each OVS bridge hop's flows
(``flow_counters`` of their tables, matched by the flow's match and actions), each NAT rule a router
hop cites (``iptables_counters``, topology/probes/counters.py), and at a qbr hop (the iptables_hybrid
firewall) the rules of the port's two chains: there the rule that moved says what the security group
did with the packet (a RETURN: let through; the fallback: dropped). Each hop gets ``active``: what
moved, by how much, and what did not; a counter not read says why. Other traffic may move a counter
too: "moved" means during the probe, not only by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from topology import graph as g
from topology.agent.counting import flow_key
from topology.kinds import FirewallChain, NamespacePrefix, NodeKind
from topology.path import Topo
from topology.probes.counters import NatRule, cited_nat_rules, packets_of
from topology.probes.verify import Asker

JsonDict = dict[str, Any]
TABLE = re.compile(r"\btable=(\d+)")
FlowPlace = tuple[str, str, int]  # host, bridge, table


@dataclass(frozen=True)
class Origin:
    host: str
    namespace: str
    said: str


def has_address(interface: Mapping[str, Any], ip: str) -> bool:
    return any(str(a).split("/")[0] == ip for a in interface.get("addresses") or [])


def origin(topo: Topo, result: Mapping[str, Any], reports: Any) -> Origin | str:
    """Where the ping is sent from, or why it cannot be."""
    src = result["src"]
    if src.get("kind") != "port" or not src.get("ip"):
        return "an active check sends from a VM's port: ask from a VM or a port"
    attrs = topo.attrs(src["node"])
    host, mac, ip = attrs.get("binding_host_id") or "", str(attrs.get("mac_address") or "").lower(), src["ip"]
    report = reports(host) if host else None
    for ns in (report or {}).get("namespaces") or []:
        for interface in ns.get("interfaces") or []:
            if str(interface.get("mac") or "").lower() == mac and has_address(interface, ip):
                return Origin(host, ns["name"], f"sent from {ip} itself ({host}:{ns['name']} holds its port)")
    dhcp = NamespacePrefix.QDHCP + str(attrs.get("network_id") or "")
    for candidate in [host, *host_names(topo)]:
        found = reports(candidate) if candidate else None
        if found and any(ns.get("name") == dhcp for ns in found.get("namespaces") or []):
            return Origin(
                candidate,
                dhcp,
                f"sent from {candidate}:{dhcp}, the DHCP namespace of the source's network: the VM's own first "
                "hops (its tap, qbr, qvo and security groups) are not exercised",
            )
    return f"no namespace to send from: none on {host or 'the port host'} holds {ip}, and no {dhcp} is reported"


def host_names(topo: Topo) -> list[str]:
    return sorted(g.id_key(node) for node in topo.nodes if g.id_kind(node) == NodeKind.HOST)


def bridge_of(node: str, reports: Any) -> tuple[str, str]:
    """(host, OVS bridge) whose flows a hop cites: a bridge hop's own, or the bridge an interface hop's port
    is on (a walk cites br-int's flows on the qvo or tap it enters by); ("", "") for any other hop."""
    kind = g.id_kind(node)
    if kind == NodeKind.BRIDGE:
        _, host, bridge = node.split(":", 2)
        return host, bridge
    if kind != NodeKind.IFACE:
        return "", ""
    _, host, namespace, name = node.split(":", 3)
    for bridge in ((reports(host) or {}).get("ovs") or {}).get("bridges") or [] if namespace == "-" else []:
        if any(i.get("name") == name for p in bridge.get("ports") or [] for i in p.get("interfaces") or []):
            return host, str(bridge.get("name"))
    return "", ""


def flow_places(hops: Sequence[Mapping[str, Any]], reports: Any) -> dict[FlowPlace, list[int]]:
    """(host, bridge, table) of every cited flow -> the hops citing flows there."""
    places: dict[FlowPlace, list[int]] = {}
    for index, hop in enumerate(hops):
        host, bridge = bridge_of(str(hop.get("node") or ""), reports)
        if not bridge or protocols_of(reports(host), bridge) is None:  # not an OVS bridge the host reported
            continue
        for line in hop.get("flows") or []:
            table = TABLE.search(line)
            places.setdefault((host, bridge, int(table.group(1)) if table else 0), []).append(index)
    return places


def protocols_of(report: Mapping[str, Any] | None, bridge: str, default: list[str] | None = None) -> list[str] | None:
    """The OVS bridge's OpenFlow versions as the host reported them; ``default`` when it reported no such bridge."""
    for entry in ((report or {}).get("ovs") or {}).get("bridges") or []:
        if entry.get("name") == bridge:
            return list(entry.get("protocols") or [])
    return default


def firewall_chains(hops: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(host, chain) of the port chains behind every qbr hop: a Linux bridge named after the port."""
    found = []
    for hop in hops:
        node = str(hop.get("node") or "")
        if g.id_kind(node) == NodeKind.BRIDGE and node.split(":", 2)[2].startswith("qbr"):
            _, host, bridge = node.split(":", 2)
            port = bridge[len("qbr") :][: FirewallChain.CHAIN_ID_LEN]
            found += [(host, FirewallChain.INGRESS + port), (host, FirewallChain.EGRESS + port)]
    return found


def rule_text(chain: str, row: Mapping[str, Any]) -> str:
    """A firewall rule's identity across readings: its chain and what it says, not its number (the agent
    renumbers a chain when it rewrites it)."""
    target = row.get("target") or "(counts)"
    return " ".join(
        str(part)
        for part in (chain, target, row.get("prot"), row.get("source"), "->", row.get("destination"), row.get("extra"))
        if part
    )


@dataclass
class Counters:
    """Counter readings: flows by (host, bridge, key), NAT rules by their index, firewall rules by
    (host, chain, rule text); or why not read."""

    flows: dict[tuple[str, str, str], int]
    nat: dict[int, int]
    missing: dict[FlowPlace, str]
    firewall: dict[tuple[str, str, str], int] = field(default_factory=dict)


def read_firewall(asker: Asker, chains: Sequence[tuple[str, str]], counters: Counters) -> None:
    for host, chain in chains:
        answer = asker.ask(host, "iptables_counters", {"table": "filter", "chain": chain})
        if isinstance(answer, str) or not answer.get("ok"):
            continue  # no such chain (the openvswitch firewall, a port without port security): nothing to count
        for row in ((answer.get("parsed") or {}).get("chains") or {}).get(chain) or []:
            counters.firewall[(host, chain, rule_text(chain, row))] = int(row["packets"])


def read(
    asker: Asker, places: Sequence[FlowPlace], rules: Sequence[NatRule], chains: Sequence[tuple[str, str]] = ()
) -> Counters:
    counters = Counters({}, {}, {})
    read_firewall(asker, chains, counters)
    for host, bridge, table in places:
        args: JsonDict = {"bridge": bridge, "table": table}
        if protocols := protocols_of(asker.reports(host), bridge):
            args["protocols"] = protocols
        answer = asker.ask(host, "flow_counters", args)
        if isinstance(answer, str) or not answer.get("ok"):
            counters.missing[(host, bridge, table)] = answer if isinstance(answer, str) else str(answer.get("error"))
            continue
        for flow in (answer.get("parsed") or {}).get("flows") or []:
            counters.flows[(host, bridge, flow["key"])] = int(flow["n_packets"])
    for index, rule in enumerate(rules):
        answer = asker.ask(rule.host, "iptables_counters", rule.probe())
        if not isinstance(answer, str) and answer.get("ok") and (count := packets_of(rule, answer)) is not None:
            counters.nat[index] = count
    return counters


@dataclass
class Changes:
    """What one hop's cited counters did during the probe."""

    moved: list[JsonDict]
    still: list[JsonDict]
    not_read: list[str]

    def add(self, counter: str, before: int, after: int) -> None:
        (self.moved if after > before else self.still).append({"counter": counter, "by": after - before})


def flow_changes(
    hop: Mapping[str, Any], where: tuple[str, str], before: Counters, after: Counters, changes: Changes
) -> None:
    host, bridge = where
    for line in hop.get("flows") or []:
        key = (host, bridge, flow_key(line))
        if key in before.flows and key in after.flows:
            changes.add(key[2], before.flows[key], after.flows[key])
            continue
        table = TABLE.search(line)
        place = (host, bridge, int(table.group(1)) if table else 0)
        changes.not_read.append(before.missing.get(place) or after.missing.get(place) or "the flow is gone or changed")


def hop_counts(
    hops: list[JsonDict], reports: Any, before: Counters, after: Counters, rules: Sequence[tuple[int, NatRule]]
) -> tuple[int, int]:
    """Each hop's ``active``; returns (hops where something moved, hops whose cited counters all stood still).
    ``rules``: the NAT rules cited on these hops, with their index among those read."""
    moved_hops = still_hops = 0
    for index, hop in enumerate(hops):
        changes = Changes([], [], [])
        flow_changes(hop, bridge_of(str(hop.get("node") or ""), reports), before, after, changes)
        for host, chain in firewall_chains([hop]):
            for key, count in after.firewall.items():
                if key[:2] == (host, chain) and count > before.firewall.get(key, count):
                    changes.add(key[2], before.firewall[key], count)
        for at, rule in rules:
            if rule.hop != index:
                continue
            if at in before.nat and at in after.nat:
                changes.add(f"{rule.chain} {rule.target} to:{rule.to}", before.nat[at], after.nat[at])
            else:
                changes.not_read.append(f"the {rule.target} rule's counter in {rule.namespace} was not read")
        if changes.moved or changes.still or changes.not_read:
            hop["active"] = {"moved": changes.moved, "still": changes.still, "not_read": changes.not_read}
            moved_hops += bool(changes.moved)
            still_hops += bool(changes.still) and not changes.moved
    return moved_hops, still_hops


def active_check(asker: Asker, topo: Topo, result: JsonDict) -> JsonDict:
    """The explainer's answer with ``active`` per hop (way back too) and the check's summary, or a 400's reason."""
    start = origin(topo, result, asker.reports)
    if isinstance(start, str):
        return {"error": start}
    dst = result["dst"].get("ip")
    if not dst:
        return {"error": "the destination has no address to send to"}
    ways = [result["hops"], *([result["return_hops"]] if "return_hops" in result else [])]
    places = sorted({place for hops in ways for place in flow_places(hops, asker.reports)})
    rules = [rule for hops in ways for rule in cited_nat_rules(hops)]
    chains = sorted({chain for hops in ways for chain in firewall_chains(hops)})
    before = read(asker, places, rules, chains)
    sent = asker.ask(start.host, "ping", {"namespace": start.namespace, "dst": dst})
    after = read(asker, places, rules, chains)
    if isinstance(sent, str) or not sent.get("ok"):
        return {"error": f"the ping was not sent: {sent if isinstance(sent, str) else sent.get('error')}"}
    numbered = list(enumerate(rules))
    there = len(cited_nat_rules(result["hops"]))
    moved, still = hop_counts(result["hops"], asker.reports, before, after, numbered[:there])
    if "return_hops" in result:
        back = hop_counts(result["return_hops"], asker.reports, before, after, numbered[there:])
        moved, still = moved + back[0], still + back[1]
    parsed = sent.get("parsed") or {}
    result["active"] = {
        "from": {"host": start.host, "namespace": start.namespace, "said": start.said},
        "to": dst,
        "answered": bool(parsed.get("answered")),
        "ping": parsed.get("summary", ""),
        "hops_moved": moved,
        "hops_still": still,
        "probes_sent": asker.sent,
    }
    return result
