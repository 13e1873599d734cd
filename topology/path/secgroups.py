"""Security groups as the packet meets them: does a rule of the port's groups let the probe in?"""

from __future__ import annotations

import ipaddress

from topology import graph as g
from topology.kinds import EdgeKind
from topology.path.model import Hop, JsonDict, Probe, Problem
from topology.path.topo import Topo, port_ips
from topology.path.walk import Walk

IP_PROTOCOL_NUMBERS = {"icmp": "1", "tcp": "6", "udp": "17"}


def check_ingress(walk: Walk, port: str, src_ip: str | None, hop: Hop) -> None:
    """Does one of the port's security groups let the probe in from ``src_ip``?"""
    topo, probe = walk.topo, walk.probe
    if not topo.attrs(port).get("port_security_enabled", True):
        hop.evidence = "port security disabled: no filtering"
        return
    groups = topo.targets(port, EdgeKind.SECURED_BY)
    for group in groups:
        for rule in topo.attrs(group).get("rules", []):
            if rule_admits(topo, probe, rule, src_ip):
                hop.evidence = (
                    f"allowed by security group {topo.nodes[group]['label']}: ingress "
                    f"{rule.get('protocol') or 'any'} {rule_ports(rule)}"
                    f"from {rule.get('remote_ip_prefix') or rule.get('remote_group_id') or 'any'}"
                )
                return
    names = ", ".join(topo.nodes[group]["label"] for group in groups) or "none"
    walk.fail(
        hop,
        Problem.SG_NO_INGRESS,
        f"no ingress rule for {probe.describe()} in the port's security "
        f"groups ({names}): add one (e.g. `openstack security group rule create --protocol "
        f"{probe.protocol}{' --dst-port ' + str(probe.port) if probe.port else ''} <group>`)",
    )


def rule_admits(topo: Topo, probe: Probe, rule: JsonDict, src_ip: str | None) -> bool:
    if rule.get("direction") != "ingress" or rule.get("ethertype", "IPv4") != "IPv4":
        return False
    protocol = (rule.get("protocol") or "").lower()
    if protocol not in ("", "any", probe.protocol, IP_PROTOCOL_NUMBERS[probe.protocol]):
        return False
    low = rule.get("port_range_min")
    if probe.port is not None and low is not None and not low <= probe.port <= (rule.get("port_range_max") or low):
        return False
    prefix = rule.get("remote_ip_prefix")
    if prefix and src_ip and ipaddress.ip_address(src_ip) not in ipaddress.ip_network(prefix, strict=False):
        return False
    if rule.get("remote_group_id"):
        # Only members of that group: the source must be a port in it.
        members = topo.sources(g.secgroup_id(rule["remote_group_id"]), EdgeKind.SECURED_BY)
        return any(src_ip in port_ips(topo.node(m)) for m in members if src_ip)
    return True


def rule_ports(rule: JsonDict) -> str:
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is None:
        return ""
    return f"port {low} " if high in (None, low) else f"ports {low}-{high} "
