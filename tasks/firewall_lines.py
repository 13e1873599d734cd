"""The iptables line a security-group rule becomes on a port, as Neutron's iptables_hybrid driver writes it.

Pure: what ``neutron/agent/linux/iptables_firewall.py`` (Neutron 29) builds for one rule
in a port's chain, in the form iptables-save prints it (the driver writes its arguments
in that form so that it can find them again). Used to see in the node agents' reports
that a rule the dashboard removed has left every port's chain. ``None`` where the line
cannot be known from the rule alone: an unknown protocol name, a remote address group.

- chains: ``neutron-openvswi-i<port id[:10]>`` (ingress) and ``-o`` (egress);
- a remote prefix is ``-s`` (ingress) or ``-d`` (egress), dropped when it is ``/0``,
  ``/32``/``/128`` added to a bare address;
- a remote group is an ipset match, ``-m set --match-set N<ethertype><group id>`` cut at
  29 characters, ``src`` (ingress) or ``dst`` (egress) — where ipset is on, the default;
- a protocol is ``-p <name>``, then ``-m <name>`` when ports are given; one port is
  ``--dport N``, a range ``-m multiport --dports N:M``; ICMP's type/code are
  ``--icmp-type T[/C]`` (``--icmpv6-type`` for IPv6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from topology.kinds import FirewallChain

Rule = Mapping[str, Any]

CHAIN_PREFIX: Final = FirewallChain.BY_DIRECTION
IPSET_NAME_MAX: Final = 29  # ipset_manager: 31 characters less the swap suffix "-n"
IPSET_DIRECTION: Final = {"ingress": "src", "egress": "dst"}
PREFIX_FLAG: Final = {"ingress": "-s", "egress": "-d"}
# Names and numbers a rule may carry -> what iptables-save prints (neutron_lib IPTABLES_PROTOCOL_NAME_MAP).
PROTOCOL_NAMES: Final = {
    "icmp": "icmp",
    "1": "icmp",
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "ipv6-icmp": "ipv6-icmp",
    "icmpv6": "ipv6-icmp",
    "58": "ipv6-icmp",
    "sctp": "sctp",
    "132": "sctp",
    "dccp": "dccp",
    "33": "dccp",
}
# The match module iptables adds for a protocol with ports (neutron_lib IPTABLES_PROTOCOL_MAP).
PORT_MODULES: Final = {"tcp": "tcp", "udp": "udp", "sctp": "sctp", "dccp": "dccp", "icmp": "icmp", "ipv6-icmp": "icmp6"}
PORT_PROTOCOLS: Final = frozenset({"tcp", "udp", "sctp", "dccp"})
ANY_PROTOCOL: Final = frozenset({"", "any", "0"})


def chain_name(direction: str, port_id: str) -> str:
    return CHAIN_PREFIX[direction] + port_id[: FirewallChain.CHAIN_ID_LEN]


def protocol_name(rule: Rule) -> str | None:
    """The name iptables-save prints, "" for any protocol, None for one this table does not know."""
    protocol = str(rule.get("protocol") or "").lower()
    if protocol in ANY_PROTOCOL:
        return ""
    name = PROTOCOL_NAMES.get(protocol)
    if name == "icmp" and rule.get("ethertype") == "IPv6":
        return "ipv6-icmp"  # an IPv6 rule's "icmp" is ICMPv6 (Neutron's legacy names)
    return name


def prefix_args(rule: Rule) -> list[str]:
    prefix = str(rule.get("remote_ip_prefix") or "")
    if not prefix or prefix.endswith("/0"):
        return []
    if "/" not in prefix:
        prefix += "/128" if ":" in prefix else "/32"
    return [PREFIX_FLAG[str(rule["direction"])], prefix]


def port_args(protocol: str, low: Any, high: Any, ethertype: str) -> list[str]:
    if low is None:
        return []
    if protocol in ("icmp", "ipv6-icmp"):
        flag = "--icmpv6-type" if protocol == "ipv6-icmp" or ethertype == "IPv6" else "--icmp-type"
        return [flag, f"{low}/{high}" if high is not None else f"{low}"]
    if protocol not in PORT_PROTOCOLS:
        return []
    if low == high:
        return ["--dport", f"{low}"]
    return ["-m", "multiport", "--dports", f"{low}:{high}"]


def protocol_args(rule: Rule, protocol: str) -> list[str]:
    if not protocol:
        return []
    args = ["-p", protocol]
    if rule.get("port_range_min") is not None and protocol in PORT_MODULES:
        args += ["-m", PORT_MODULES[protocol]]
    return args + port_args(protocol, rule.get("port_range_min"), rule.get("port_range_max"), str(rule["ethertype"]))


def ipset_name(group_id: str, ethertype: str) -> str:
    return ("N" + ethertype + group_id)[:IPSET_NAME_MAX]


def iptables_line(rule: Rule) -> str | None:
    """What follows ``-A <chain> `` for ``rule`` (a Neutron security-group rule as the API gives it)."""
    protocol = protocol_name(rule)
    if protocol is None or rule.get("remote_address_group_id"):
        return None
    direction = str(rule.get("direction"))
    if direction not in CHAIN_PREFIX:
        return None
    args = protocol_args(rule, protocol)
    if rule.get("remote_group_id"):
        group = ipset_name(str(rule["remote_group_id"]), str(rule["ethertype"]))
        args += ["-m", "set", "--match-set", group, IPSET_DIRECTION[direction]]
    else:
        args = prefix_args(rule) + args
    return " ".join([*args, "-j", "RETURN"])


def describe(rule: Rule) -> str:
    """One line for a person: ``ingress IPv4 tcp 22 from 0.0.0.0/0``."""
    protocol = str(rule.get("protocol") or "any")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    ports = "" if low is None else f" {low}" if low == high or high is None else f" {low}-{high}"
    if protocol in ("icmp", "ipv6-icmp", "icmpv6", "1", "58") and low is not None:
        ports = f" type {low}" + (f" code {high}" if high is not None else "")
    toward = "from" if rule.get("direction") == "ingress" else "to"
    remote = (
        f"group {rule['remote_group_id']}"
        if rule.get("remote_group_id")
        else str(rule.get("remote_ip_prefix") or ("::/0" if rule.get("ethertype") == "IPv6" else "0.0.0.0/0"))
    )
    return f"{rule.get('direction')} {rule.get('ethertype')} {protocol}{ports} {toward} {remote}"
