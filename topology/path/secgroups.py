"""Security groups as the packet meets them: the source port's egress rules as it leaves, the
destination port's ingress rules against the source the packet carries when it arrives (after every
NAT on the way: a hairpin through the router arrives from the router's gateway address or the
sender's floating IP), remote-group rules resolved to the group's members' fixed addresses."""

from __future__ import annotations

import ipaddress
from typing import Literal

from topology import graph as g
from topology.kinds import EdgeKind
from topology.path.family import family
from topology.path.model import Hop, JsonDict, Probe, Problem
from topology.path.topo import Topo, port_ips
from topology.path.walk import Walk

IP_PROTOCOL_NUMBERS = {"icmp": "1", "tcp": "6", "udp": "17"}
# What a rule of ethertype IPv6 names ICMPv6 by (Neutron keeps the name it was given).
ICMP6_NAMES = ("ipv6-icmp", "icmpv6", "icmp", "58")
ETHERTYPE = {4: "IPv4", 6: "IPv6"}


def packet_family(address: str | None) -> int:
    """The family of the packet a rule judges, from its other end's address (IPv4 when none is known)."""
    return family(address) or 4


def protocol_matches(protocol: str, probe: Probe, family: int) -> bool:
    if protocol in ("", "any"):
        return True
    if probe.protocol == "icmp" and family == 6:
        return protocol in ICMP6_NAMES
    return protocol in (probe.protocol, IP_PROTOCOL_NUMBERS[probe.protocol])


Direction = Literal["ingress", "egress"]


def check_ingress(walk: Walk, port: str, src_ip: str | None, hop: Hop, seen_as: str = "") -> None:
    """Does one of the port's security groups let the probe in from ``src_ip`` (the source as it arrives)?

    ``seen_as`` says why the source is what it is (the router's SNAT of a hairpin), for the hop's text.
    """
    topo, probe = walk.topo, walk.probe
    if not topo.attrs(port).get("port_security_enabled", True):
        hop.cite("port security disabled: no filtering")
        return
    note = f" (the packet arrives from {src_ip}{': ' + seen_as if seen_as else ''})" if src_ip else ""
    groups = topo.targets(port, EdgeKind.SECURED_BY)
    if walk.dst_ip is None and groups and all(topo.attrs(group).get("stateful", True) for group in groups):
        # A reply's walk: the firewall lets it in as RELATED,ESTABLISHED; no ingress rule judges it.
        hop.cite("a reply: let in by connection tracking (stateful security groups), not by a rule")
        return
    decided = deciding_rule(topo, probe, groups, "ingress", src_ip)
    if decided is not None:
        group, rule = decided
        hop.cite(f"allowed by security group {topo.nodes[group]['label']}: {describe_rule(topo, rule)}{note}")
        return
    names = ", ".join(topo.nodes[group]["label"] for group in groups) or "none"
    walk.fail(
        hop,
        Problem.SG_NO_INGRESS,
        f"no ingress rule for {probe.describe()} from {src_ip or 'the source'} in the port's security "
        f"groups ({names}): none matches{note}; add one (e.g. `openstack security group rule create "
        f"{rule_options(probe, packet_family(src_ip))}{' --dst-port ' + str(probe.port) if probe.port else ''}"
        f"{' --remote-ip ' + host_prefix(src_ip) if src_ip else ''} <group>`)",
        port=port,
    )


def check_egress(walk: Walk, port: str, dst_ip: str | None, hop: Hop) -> None:
    """Does one of the port's security groups let the probe out to ``dst_ip`` (as the VM sends it)?

    A port with port security and no group sends nothing: the firewall drops what no rule allows.
    """
    topo, probe = walk.topo, walk.probe
    if not topo.attrs(port).get("port_security_enabled", True):
        return
    label = topo.nodes[port]["label"]
    groups = topo.targets(port, EdgeKind.SECURED_BY)
    if not groups:
        walk.fail(
            hop,
            Problem.SG_NO_EGRESS,
            f"port {label} has no security group while port security is on: its firewall drops everything "
            f"it sends; `openstack port set --security-group <group> {g.id_key(port)}`",
            port=port,
        )
        return
    decided = deciding_rule(topo, probe, groups, "egress", dst_ip)
    if decided is not None:
        group, rule = decided
        hop.cite(f"egress allowed by security group {topo.nodes[group]['label']}: {describe_rule(topo, rule)}")
        return
    names = ", ".join(topo.nodes[group]["label"] for group in groups)
    walk.fail(
        hop,
        Problem.SG_NO_EGRESS,
        f"no egress rule for {probe.describe()} to {dst_ip or 'the destination'} in the security groups of "
        f"port {label} ({names}): none matches, so it sends nothing; add one (e.g. `openstack security group "
        f"rule create --egress {rule_options(probe, packet_family(dst_ip))} <group>`)",
        port=port,
    )


def rule_options(probe: Probe, family: int) -> str:
    """The ``openstack security group rule create`` options for the probe's protocol in ``family``."""
    if family == 6:
        return f"--ethertype IPv6 --protocol {'ipv6-icmp' if probe.protocol == 'icmp' else probe.protocol}"
    return f"--protocol {probe.protocol}"


def host_prefix(address: str) -> str:
    return f"{address}/{128 if packet_family(address) == 6 else 32}"


def deciding_rule(
    topo: Topo, probe: Probe, groups: list[str], direction: Direction, remote_ip: str | None
) -> tuple[str, JsonDict] | None:
    """The narrowest rule of ``groups`` that admits the probe, with its group.

    Any admitting rule lets the packet through; the hop cites the most specific one (see
    ``specificity``) so its evidence does not depend on the order Neutron lists rules in.
    """
    admitting = [
        (group, rule)
        for group in groups
        for rule in topo.attrs(group).get("rules", [])
        if rule_matches(topo, probe, rule, direction, remote_ip)
    ]
    if not admitting:
        return None
    return max(admitting, key=lambda pair: (specificity(pair[1]), str(pair[1].get("id", ""))))


def specificity(rule: JsonDict) -> tuple[float, int, int]:
    """How narrow a rule is: its remote (a group or a long prefix first), a protocol, few ports."""
    prefix = rule.get("remote_ip_prefix")
    if rule.get("remote_group_id"):
        remote = 1.0
    elif prefix:
        network = ipaddress.ip_network(prefix, strict=False)
        remote = network.prefixlen / network.max_prefixlen
    else:
        remote = 0.0
    low = rule.get("port_range_min")
    ports = 65536 if low is None else (rule.get("port_range_max") or low) - low + 1
    return remote, 1 if rule.get("protocol") else 0, -ports


def rule_admits(topo: Topo, probe: Probe, rule: JsonDict, src_ip: str | None) -> bool:
    """An ingress rule that lets the probe in from ``src_ip``."""
    return rule_matches(topo, probe, rule, "ingress", src_ip)


def rule_matches(topo: Topo, probe: Probe, rule: JsonDict, direction: Direction, remote_ip: str | None) -> bool:
    """``remote_ip`` is the packet's other end: the source for ingress, the destination for egress."""
    packet = packet_family(remote_ip)
    if rule.get("direction") != direction or rule.get("ethertype", "IPv4") != ETHERTYPE[packet]:
        return False
    if not protocol_matches((rule.get("protocol") or "").lower(), probe, packet):
        return False
    low = rule.get("port_range_min")
    if probe.port is not None and low is not None and not low <= probe.port <= (rule.get("port_range_max") or low):
        return False
    prefix = rule.get("remote_ip_prefix")
    if prefix and remote_ip and ipaddress.ip_address(remote_ip) not in ipaddress.ip_network(prefix, strict=False):
        return False
    if rule.get("remote_group_id"):
        # Only the group's members (their fixed addresses: what Neutron's ipset holds, never a floating IP).
        return remote_ip is not None and remote_ip in group_addresses(topo, str(rule["remote_group_id"]))
    return True


def group_addresses(topo: Topo, group_id: str) -> list[str]:
    """The fixed addresses of a security group's member ports."""
    members = topo.sources(g.secgroup_id(group_id), EdgeKind.SECURED_BY)
    return [ip for member in members for ip in port_ips(topo.node(member))]


def describe_rule(topo: Topo, rule: JsonDict) -> str:
    """A rule as the hop names it: direction, protocol, ports, remote (a group with its members)."""
    remote = rule.get("remote_ip_prefix") or "any"
    if rule.get("remote_group_id"):
        node = topo.nodes.get(g.secgroup_id(str(rule["remote_group_id"])), {})
        members = ", ".join(group_addresses(topo, str(rule["remote_group_id"]))) or "no members"
        remote = f"members of group {node.get('label', rule['remote_group_id'])} ({members})"
    direction = "from" if rule.get("direction") == "ingress" else "to"
    rule_id = f" (rule {str(rule['id'])[:8]})" if rule.get("id") else ""
    return f"{rule.get('direction')} {rule.get('protocol') or 'any'} {rule_ports(rule)}{direction} {remote}{rule_id}"


def rule_ports(rule: JsonDict) -> str:
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is None:
        return ""
    return f"port {low} " if high in (None, low) else f"ports {low}-{high} "
