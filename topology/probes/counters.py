"""The NAT rules a walk cites, as ``iptables_counters`` probes, and their counters read back (pure).

A router namespace hop whose ``what`` says SNAT or DNAT cites the rules it
found in the host's report (``iptables: -A <chain> <match> -j DNAT
--to-destination <address> | ...``, topology/path/router.py's nat_hop; on
DVR's fip-out hop after its policy rules: topology/path/model.py's
cited_iptables finds that part wherever it is). Each
becomes a NatRule: the probe reads its chain of the nat table in that
namespace (``iptables -t nat -L <chain> -v -n -x``), and ``packets_of``
finds the rule's row by its target, its addresses, its in and out
interfaces and its translation (``to:<address>``: Neutron's SNAT by qg- and
its SNAT of DNATed traffic translate to the same address). Read before and after a real packet, the difference says
whether the rule the explainer cites is the one that packet met.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from topology.path.model import cited_iptables, nat_done

JsonDict = dict[str, Any]
CHAIN = re.compile(r"-A (\S+)")
TARGET = re.compile(r"-j (SNAT|DNAT)\b")
TO = re.compile(r"--to-(?:source|destination) ([0-9a-fA-F.:]+)")
SOURCE = re.compile(r"(?:^| )-s (\S+)")
DESTINATION = re.compile(r"(?:^| )-d (\S+)")
IN_INTERFACE = re.compile(r"(?:^| )(! )?-i (\S+)")
OUT_INTERFACE = re.compile(r"(?:^| )(! )?-o (\S+)")
ANY_INTERFACE = "*"  # iptables -L's in/out column for a rule that names none


@dataclass(frozen=True)
class NatRule:
    hop: int
    host: str
    namespace: str
    chain: str
    target: str  # SNAT | DNAT
    to: str
    source: str | None = None
    destination: str | None = None
    in_interface: str = ANY_INTERFACE  # as iptables -L -v shows it: "*", "qg-x" or "!qg-x"
    out_interface: str = ANY_INTERFACE

    def probe(self) -> JsonDict:
        return {"namespace": self.namespace, "table": "nat", "chain": self.chain}


def plain(address: str | None) -> str | None:
    """``-d 192.168.1.54/32`` is listed as ``192.168.1.54`` by ``iptables -L -n``."""
    if address is None:
        return None
    return address[: -len("/32")] if address.endswith("/32") else address


def rule_of(hop_index: int, host: str, namespace: str, line: str) -> NatRule | None:
    chain, target, to = CHAIN.search(line), TARGET.search(line), TO.search(line)
    if not (chain and target and to):
        return None
    source, destination = SOURCE.search(line), DESTINATION.search(line)
    return NatRule(
        hop_index,
        host,
        namespace,
        chain.group(1),
        target.group(1),
        to.group(1),
        plain(source.group(1)) if source else None,
        plain(destination.group(1)) if destination else None,
        interface(IN_INTERFACE.search(line)),
        interface(OUT_INTERFACE.search(line)),
    )


def interface(match: re.Match[str] | None) -> str:
    """``-o qg-x`` as iptables -L -v lists it (``qg-x``; negated ``!qg-x``; none ``*``)."""
    if match is None:
        return ANY_INTERFACE
    return ("!" if match.group(1) else "") + match.group(2)


def cited_nat_rules(hops: Sequence[Mapping[str, Any]]) -> list[NatRule]:
    """The SNAT/DNAT rules the walk's router namespace hops cite, in the hops' order."""
    rules = []
    for index, hop in enumerate(hops):
        what, evidence, node = str(hop.get("what") or ""), str(hop.get("evidence") or ""), str(hop.get("node") or "")
        if not nat_done(what) or not node.startswith("netns:"):
            continue
        _, host, namespace = node.split(":", 2)
        for line in cited_iptables(evidence):
            rule = rule_of(index, host, namespace, line)
            if rule is not None:
                rules.append(rule)
    return rules


def packets_of(rule: NatRule, answer: Mapping[str, Any]) -> int | None:
    """The packet counter of ``rule``'s row in an ``iptables_counters`` answer; None when no one row matches."""
    rows = ((answer.get("parsed") or {}).get("chains") or {}).get(rule.chain) or []
    matching = [
        row
        for row in rows
        if row.get("target") == rule.target
        and f"to:{rule.to}" in str(row.get("extra") or "").split()
        and (rule.source is None or row.get("source") == rule.source)
        and (rule.destination is None or row.get("destination") == rule.destination)
    ]
    if len(matching) > 1:  # e.g. Neutron's SNAT by qg- and its SNAT of DNATed packets: told apart by interface
        matching = [row for row in matching if interfaces(row) == (rule.in_interface, rule.out_interface)]
    return int(matching[0]["packets"]) if len(matching) == 1 else None


def interfaces(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row.get("in") or ANY_INTERFACE), str(row.get("out") or ANY_INTERFACE)
