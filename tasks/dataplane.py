"""What the node agents' reports say about an action's effect: pure functions over report dicts.

Each check takes the facts the Neutron check gathered (tasks/effects.py) and
the latest reports of the hosts that reported since the job was requested
(``{host: report}``, docs/design.md "Agent report"), and answers an
:class:`Observed` (``ok`` or not, with the evidence in words), or ``None``
when no reporting host is where the effect would show (the router is hosted,
or the port plugged, elsewhere): nothing to confirm in the data plane there.
The names are Neutron's agents': ``qg-``/``qr-`` plus the port id's first 11
characters in ``qrouter-``/``snat-<router id>``, DNAT rules of the L3 agent,
and the ``neutron-openvswi-i<port id[:10]>`` chains of the iptables_hybrid
firewall in the root namespace.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tasks.firewall_lines import chain_name
from topology.kinds import ID_PREFIX_LEN, NamespacePrefix

Report = Mapping[str, Any]
Reports = Mapping[str, Report]
Facts = dict[str, Any]

# What the driver writes for an ingress rule from anywhere (IPv4, no remote group), after the chain name.
ICMP_RULE = "-p icmp -j RETURN"
SSH_RULE = "-p tcp -m tcp --dport 22 -j RETURN"


@dataclass(frozen=True)
class Observed:
    ok: bool
    message: str
    facts: Facts = field(default_factory=dict)


def router_namespaces(reports: Reports, router_id: str) -> Iterator[tuple[str, Report]]:
    """(host, namespace) of every qrouter-/snat- namespace of the router on the reporting hosts."""
    names = {NamespacePrefix.QROUTER + router_id, NamespacePrefix.SNAT + router_id}
    for host, report in sorted(reports.items()):
        for ns in report.get("namespaces") or []:
            if ns.get("name") in names:
                yield host, ns


def devices(ns: Report, prefix: str) -> dict[str, list[str]]:
    """The namespace's interfaces named ``prefix...``, with their addresses."""
    return {
        str(i.get("name")): list(i.get("addresses") or [])
        for i in ns.get("interfaces") or []
        if str(i.get("name", "")).startswith(prefix)
    }


def device_name(prefix: str, port_id: str) -> str:
    return prefix + port_id[:ID_PREFIX_LEN]


def has_address(addresses: list[str], ip: str) -> bool:
    return any(a.split("/")[0] == ip for a in addresses)


def rule_lines(text: str) -> Iterator[str]:
    """iptables-save rules without their ``[packets:bytes]`` counters."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            line = line.split("]", 1)[-1].strip()
        if line.startswith("-A "):
            yield line


def dnat_rules(reports: Reports, address: str) -> list[str]:
    """Where the L3 agent translates ``address``: ``host:namespace`` of each DNAT rule for it."""
    found = []
    for host, report in sorted(reports.items()):
        for ns in report.get("namespaces") or []:
            nat = (ns.get("iptables") or {}).get("nat") or ""
            if any(f"-d {address}/32" in r and "-j DNAT" in r for r in rule_lines(nat)):
                found.append(f"{host}:{ns.get('name')}")
    return found


# --------------------------------------------------------------------------- floating IPs


def fip_nat_present(facts: Facts, reports: Reports) -> Observed | None:
    address, fixed, router = facts["floating_ip_address"], facts["fixed_ip_address"], facts["router_id"]
    hosted = list(router_namespaces(reports, router))
    if not hosted:
        return None
    wanted = f"-j DNAT --to-destination {fixed}"
    for host, ns in hosted:
        nat = (ns.get("iptables") or {}).get("nat") or ""
        if any(f"-d {address}/32" in r and r.endswith(wanted) for r in rule_lines(nat)):
            return Observed(True, f"DNAT {address} -> {fixed} in {host}:{ns['name']}")
    where = ", ".join(f"{h}:{ns['name']}" for h, ns in hosted)
    return Observed(False, f"no DNAT {address} -> {fixed} yet in {where}")


def fip_nat_absent(facts: Facts, reports: Reports) -> Observed | None:
    address = facts.get("floating_ip_address")
    if not address or not reports:
        return None
    left = dnat_rules(reports, address)
    if left:
        return Observed(False, f"DNAT for {address} still in {', '.join(left)}")
    return Observed(True, f"no DNAT for {address} on {', '.join(sorted(reports))}")


# --------------------------------------------------------------------------- router gateway


def gateway_device_present(facts: Facts, reports: Reports) -> Observed | None:
    router, port, ips = facts["router_id"], facts["gateway_port_id"], facts["gateway_ips"]
    hosted = list(router_namespaces(reports, router))
    if not hosted:
        return None
    name = device_name("qg-", port)
    for host, ns in hosted:
        addresses = devices(ns, "qg-").get(name)
        if addresses is not None and all(has_address(addresses, ip) for ip in ips):
            return Observed(True, f"{name} with {', '.join(ips)} in {host}:{ns['name']}")
    where = ", ".join(f"{h}:{ns['name']}" for h, ns in hosted)
    return Observed(False, f"no {name} with {', '.join(ips)} yet in {where}")


def gateway_devices_only(facts: Facts, reports: Reports) -> Observed | None:
    """No qg- device left but the current gateway port's (none when the router has no gateway)."""
    if not reports:
        return None
    router, keep = facts["router_id"], facts.get("gateway_port_id")
    allowed = {device_name("qg-", keep)} if keep else set()
    hosted = list(router_namespaces(reports, router))
    extra = [
        f"{name} in {host}:{ns['name']}" for host, ns in hosted for name in devices(ns, "qg-") if name not in allowed
    ]
    if extra:
        return Observed(False, f"still routing out by {', '.join(extra)}")
    where = ", ".join(f"{h}:{ns['name']}" for h, ns in hosted) or f"no namespace of the router on {', '.join(reports)}"
    return Observed(True, f"no {'other ' if keep else ''}qg- device in {where}")


# --------------------------------------------------------------------------- router interfaces


def in_subnet(addresses: list[str], cidr: str) -> list[str]:
    net = ipaddress.ip_network(cidr, strict=False)
    out = []
    for a in addresses:
        try:
            if ipaddress.ip_address(a.split("/")[0]) in net:
                out.append(a)
        except ValueError:
            continue
    return out


def interface_device_present(facts: Facts, reports: Reports) -> Observed | None:
    router, port, ip = facts["router_id"], facts["port_id"], facts["ip_address"]
    hosted = list(router_namespaces(reports, router))
    if not hosted:
        return None
    name = device_name("qr-", port)
    for host, ns in hosted:
        addresses = devices(ns, "qr-").get(name)
        if addresses is not None and has_address(addresses, ip):
            return Observed(True, f"{name} with {ip} in {host}:{ns['name']}")
    where = ", ".join(f"{h}:{ns['name']}" for h, ns in hosted)
    return Observed(False, f"no {name} with {ip} yet in {where}")


def interface_device_absent(facts: Facts, reports: Reports) -> Observed | None:
    router, cidr = facts["router_id"], facts["cidr"]
    hosted = list(router_namespaces(reports, router))
    if not reports:
        return None
    left = [
        f"{name} ({', '.join(found)}) in {host}:{ns['name']}"
        for host, ns in hosted
        for name, addresses in devices(ns, "qr-").items()
        if (found := in_subnet(addresses, cidr))
    ]
    if left:
        return Observed(False, f"still on {cidr}: {', '.join(left)}")
    where = ", ".join(f"{h}:{ns['name']}" for h, ns in hosted) or f"no namespace of the router on {', '.join(reports)}"
    return Observed(True, f"no qr- device on {cidr} in {where}")


# --------------------------------------------------------------------------- security groups


def port_chains(facts: Facts, reports: Reports) -> list[tuple[str, str, set[str]]]:
    """(host, chain, its rules) for each port of the group whose firewall chain is on a reporting host."""
    found = []
    for host, report in sorted(reports.items()):
        rules = list(rule_lines((report.get("iptables") or {}).get("filter") or ""))
        for port in facts["port_ids"]:
            chain = chain_name("ingress", port)
            mine = {r[len(f"-A {chain} ") :] for r in rules if r.startswith(f"-A {chain} ")}
            if mine:
                found.append((host, chain, mine))
    return found


def firewall_rules(facts: Facts, reports: Reports, present: bool) -> Observed | None:
    chains = port_chains(facts, reports)
    if not chains:
        return None
    wanted = {ICMP_RULE, SSH_RULE}
    wrong = [
        f"{host}:{chain}" for host, chain, rules in chains if (not wanted <= rules if present else bool(wanted & rules))
    ]
    if wrong:
        return Observed(False, f"{', '.join(wrong)} {'do not yet allow' if present else 'still allow'} ICMP and SSH")
    where = ", ".join(f"{h}:{c}" for h, c, _ in chains)
    return Observed(True, f"{where} {'allow' if present else 'no longer allow'} ICMP and SSH")


def firewall_open(facts: Facts, reports: Reports) -> Observed | None:
    return firewall_rules(facts, reports, present=True)


def firewall_closed(facts: Facts, reports: Reports) -> Observed | None:
    return firewall_rules(facts, reports, present=False)


def chain_rules(report: Report, ethertype: str, chain: str) -> set[str] | None:
    """The rules of ``chain`` in the root namespace's filter table (ip6tables for IPv6); None: no such chain."""
    table = (report.get("ip6tables" if ethertype == "IPv6" else "iptables") or {}).get("filter") or ""
    head = f"-A {chain} "
    rules = {r[len(head) :] for r in rule_lines(table) if r.startswith(head)}
    return rules or None


def firewall_rule_absent(facts: Facts, reports: Reports) -> Observed | None:
    """The removed rule's line is in none of its ports' chains on the reporting hosts (tasks/firewall_lines.py)."""
    line = facts.get("line")
    if line is None:
        return None  # a rule whose iptables form is not known: nothing to look for
    direction, ethertype = str(facts["direction"]), str(facts["ethertype"])
    seen, left = [], []
    for host, report in sorted(reports.items()):
        for port in facts["port_ids"]:
            chain = chain_name(direction, port)
            rules = chain_rules(report, ethertype, chain)
            if rules is None:
                continue
            seen.append(f"{host}:{chain}")
            if line in rules:
                left.append(f"{host}:{chain}")
    kept = facts.get("kept_by_others") or []
    also = f"; port(s) {', '.join(kept)} keep it by another of their groups" if kept else ""
    if not seen:
        return None
    if left:
        return Observed(False, f"{', '.join(left)} still hold '{line}'{also}")
    return Observed(True, f"'{line}' is gone from {', '.join(seen)}{also}")
