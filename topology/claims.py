"""What a host's report may claim: its tunnel IP, and the router and DHCP namespaces on it.

An agent speaks for its own host only. Its report's ``tunnel_ip`` is believed
only where Neutron does not say otherwise: Neutron's L2 agent's
``configurations.tunneling_ip`` wins, and an IP that two hosts claim belongs to
the one Neutron gives it to (or to none if Neutron does not say), with a
warning on both. Router and DHCP namespaces are joined only on the hosts
Neutron scheduled them to (topology/scheduling.py); a claim elsewhere is a
warning on that host's namespace, never the real thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


@dataclass
class TunnelIps:
    """Each host's tunnel IP as the join believes it, the IP -> host map, and the warnings of conflicts."""

    by_host: dict[str, str | None] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # tunnel IP -> host
    warnings: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # host -> warnings


def resolve_tunnel_ips(
    hosts: list[str], agents: Mapping[str, list[JsonDict]], reports: Mapping[str, JsonDict]
) -> TunnelIps:
    """The tunnel IP of each host: Neutron's agent's ``tunneling_ip``, else its report's, unless claimed twice."""
    result = TunnelIps()
    # IP -> hosts claiming it, by Neutron (an agent's configurations) and by report
    by_neutron: dict[str, list[str]] = defaultdict(list)
    by_report: dict[str, list[str]] = defaultdict(list)
    for host in hosts:
        neutron_ip = next((a["tunneling_ip"] for a in agents.get(host, ()) if a.get("tunneling_ip")), None)
        report = reports.get(host)
        reported = report.get("tunnel_ip") if report is not None else None
        if neutron_ip:
            by_neutron[neutron_ip].append(host)
            if reported and reported != neutron_ip:
                result.warnings[host].append(
                    f"reports tunnel IP {reported}, but Neutron's agent says {neutron_ip}: {neutron_ip} is used"
                )
        elif reported:
            by_report[reported].append(host)
    for ip, claimers in by_neutron.items():
        if len(claimers) == 1:
            result.owner[ip] = claimers[0]
        else:
            for host in claimers:
                others = ", ".join(h for h in claimers if h != host)
                result.warnings[host].append(
                    f"Neutron's agents give tunnel IP {ip} to {others} too: tunnels are ambiguous"
                )
    for ip, claimers in by_report.items():
        owner = result.owner.get(ip)
        if owner is None and len(claimers) == 1 and ip not in by_neutron:
            result.owner[ip] = claimers[0]
            continue
        for host in claimers:
            if owner is not None:
                result.warnings[host].append(
                    f"its report claims tunnel IP {ip}, which Neutron's agent gives to {owner}: not believed"
                )
                result.warnings[owner].append(f"host {host} claims its tunnel IP {ip}: not believed")
            else:
                others = ", ".join(h for h in claimers if h != host) or "another host"
                result.warnings[host].append(f"reports tunnel IP {ip}, as {others} does: tunnels are ambiguous")
    for ip, host in result.owner.items():
        result.by_host[host] = ip
    return result
