"""Neutron's side of an action's effect: re-read the objects, and the ports the action makes or removes.

One function per job kind, ``(conn, job, result) -> Observed``; its facts feed
the data-plane check of the same kind (tasks/dataplane.py). Gateway ports
have no project (Neutron creates them with an empty tenant_id), so a member
cannot list them: they are read with the dashboard's service account, and
only those of the job's own router are named.
"""

from __future__ import annotations

from typing import Any

from tasks.actions import (
    ALLOCATED_BY,
    Connection,
    Result,
    describe_ports,
    gateway_ports,
    icmp_ssh_rules,
    neutron_call,
    orphan_fix,
    orphan_gateway_ports,
    port_ips,
    router_interface_port,
)
from tasks.dataplane import Observed
from tasks.firewall_lines import iptables_line
from tasks.models import Job

# --------------------------------------------------------------------------- floating IPs


def fip_allocated(conn: Connection, job: Job, result: Result) -> Observed:
    marker = ALLOCATED_BY.format(job=job.uuid)
    with neutron_call():
        fip = conn.network.find_ip(result.get("floating_ip_id") or "", ignore_missing=True)
    if fip is None or fip.description != marker:
        return Observed(False, f"no floating IP marked '{marker}' in Neutron")
    return Observed(True, f"{fip.floating_ip_address} exists on network {fip.floating_network_id} ({fip.status})")


def fip_associated(conn: Connection, job: Job, result: Result) -> Observed:
    with neutron_call():
        fip = conn.network.get_ip(job.target)
    port_id, fixed_ip = job.params["port_id"], job.params.get("fixed_ip")
    if fip.port_id != port_id or fixed_ip not in (None, fip.fixed_ip_address) or not fip.router_id:
        return Observed(
            False,
            f"{fip.floating_ip_address} points at port {fip.port_id} ({fip.fixed_ip_address}), router {fip.router_id}",
        )
    facts = {
        "floating_ip_address": fip.floating_ip_address,
        "fixed_ip_address": fip.fixed_ip_address,
        "router_id": fip.router_id,
    }
    return Observed(True, f"{fip.floating_ip_address} -> {fip.fixed_ip_address} by router {fip.router_id}", facts)


def fip_disassociated(conn: Connection, job: Job, result: Result) -> Observed:
    with neutron_call():
        fip = conn.network.get_ip(job.target)
    if fip.port_id:
        return Observed(False, f"{fip.floating_ip_address} still points at {fip.fixed_ip_address}")
    return Observed(True, f"{fip.floating_ip_address} has no port", {"floating_ip_address": fip.floating_ip_address})


def fip_released(conn: Connection, job: Job, result: Result) -> Observed:
    with neutron_call():
        fip = conn.network.find_ip(job.target, ignore_missing=True)
    if fip is not None:
        return Observed(False, f"{fip.floating_ip_address} still exists")
    return Observed(True, "the floating IP is gone", {"floating_ip_address": result.get("floating_ip_address")})


# --------------------------------------------------------------------------- routers


def gateway_set(conn: Connection, job: Job, result: Result) -> Observed:
    with neutron_call():
        router = conn.network.get_router(job.target)
    info = router.external_gateway_info or {}
    if info.get("network_id") != job.params["network_id"]:
        return Observed(False, f"the router's gateway is {info.get('network_id') or 'not set'}")
    ports = gateway_ports(router.id)
    orphans = orphan_gateway_ports(router, ports)
    current = [p for p in ports if p not in orphans]
    if len(current) != 1 or orphans:
        return Observed(
            False,
            f"gateway ports: {describe_ports(current) or 'none'}; unaccounted for: {describe_ports(orphans) or 'none'}",
        )
    port = current[0]
    facts = {"router_id": router.id, "gateway_port_id": port.id, "gateway_ips": port_ips(port)}
    return Observed(True, f"gateway port {port.id} with {', '.join(port_ips(port))}", facts)


def gateway_cleared(conn: Connection, job: Job, result: Result) -> Observed:
    with neutron_call():
        router = conn.network.get_router(job.target)
    if router.external_gateway_info:
        return Observed(False, "the router still has external_gateway_info")
    left = gateway_ports(router.id)
    if left:
        return Observed(
            False,
            f"Neutron left the gateway port {describe_ports(left)} on the router while its "
            f"external_gateway_info is empty, so the router keeps routing by it: "
            f"{orphan_fix(router.id)}",
            {"orphan_port_ids": [p.id for p in left]},
        )
    return Observed(True, "no gateway and no network:router_gateway port", {"router_id": router.id})


def gateway_repaired(conn: Connection, job: Job, result: Result) -> Observed:
    with neutron_call():
        router = conn.network.get_router(job.target)
    ports = gateway_ports(router.id)
    orphans = orphan_gateway_ports(router, ports)
    if orphans:
        return Observed(False, f"gateway ports still unaccounted for: {describe_ports(orphans)}")
    keep = [p.id for p in ports]
    message = f"the gateway port {keep[0]} is the router's own" if keep else "no network:router_gateway port left"
    return Observed(True, message, {"router_id": router.id, "gateway_port_id": keep[0] if keep else None})


def subnet_facts(conn: Connection, job: Job) -> dict[str, Any]:
    with neutron_call():
        subnet = conn.network.get_subnet(job.params["subnet_id"])
    return {"router_id": job.target, "subnet_id": subnet.id, "cidr": subnet.cidr}


def interface_added(conn: Connection, job: Job, result: Result) -> Observed:
    port = router_interface_port(conn, job.target, job.params["subnet_id"])
    if port is None:
        return Observed(False, f"the router has no interface port on subnet {job.params['subnet_id']}")
    ip = next(str(i["ip_address"]) for i in port.fixed_ips if i.get("subnet_id") == job.params["subnet_id"])
    facts = {**subnet_facts(conn, job), "port_id": port.id, "ip_address": ip}
    return Observed(True, f"interface port {port.id} with {ip} ({port.status})", facts)


def interface_removed(conn: Connection, job: Job, result: Result) -> Observed:
    port = router_interface_port(conn, job.target, job.params["subnet_id"])
    if port is not None:
        return Observed(False, f"the interface port {port.id} is still there")
    facts = subnet_facts(conn, job)
    return Observed(True, f"no interface port on {facts['cidr']}", facts)


# --------------------------------------------------------------------------- security groups


def open_protocols(conn: Connection, group_id: str) -> set[str]:
    """Which of ICMP and SSH (tcp) the group lets in from anywhere (IPv4), as Neutron has it."""
    return {str(r.protocol) for r in icmp_ssh_rules(conn, group_id)}


def group_ports(conn: Connection, group_id: str) -> list[str]:
    with neutron_call():
        group = conn.network.get_security_group(group_id)
        ports = conn.network.ports(project_id=group.project_id)
        return sorted(p.id for p in ports if group_id in (p.security_group_ids or []))


def secgroup_opened(conn: Connection, job: Job, result: Result) -> Observed:
    have = open_protocols(conn, job.target)
    if have != {"icmp", "tcp"}:
        return Observed(False, f"ingress from anywhere allows only {', '.join(sorted(have)) or 'neither'}")
    ports = group_ports(conn, job.target)
    return Observed(True, f"ICMP and SSH ingress rules ({len(ports)} port(s) in the group)", {"port_ids": ports})


def secgroup_closed(conn: Connection, job: Job, result: Result) -> Observed:
    have = open_protocols(conn, job.target)
    if have:
        return Observed(False, f"ingress from anywhere still allows {', '.join(sorted(have))}")
    ports = group_ports(conn, job.target)
    return Observed(
        True, f"no ICMP or SSH ingress rule from anywhere ({len(ports)} port(s) in the group)", {"port_ids": ports}
    )


def secgroup_rule_deleted(conn: Connection, job: Job, result: Result) -> Observed:
    """The rule is gone from Neutron; the facts say which ports' chains must lose its iptables line.

    A port keeps the line where another rule of its groups makes the same one (the driver writes
    each line once per chain): those ports are not checked.
    """
    group_id, rule = job.params["security_group_id"], job.params["rule"]
    with neutron_call():
        left = conn.network.find_security_group_rule(job.target, ignore_missing=True)
    if left is not None:
        return Observed(False, f"rule {job.target} is still in group {group_id}")
    line = iptables_line(rule)
    ports, kept = ports_keeping(conn, group_id, rule, line)
    facts = {"port_ids": [p for p in ports if p not in kept], "kept_by_others": kept, "line": line, **rule}
    return Observed(True, f"rule {job.target} is gone ({len(ports)} port(s) in the group)", facts)


def ports_keeping(
    conn: Connection, group_id: str, rule: dict[str, Any], line: str | None
) -> tuple[list[str], list[str]]:
    """(the group's ports, those of them whose other groups' rules still make ``line``)."""
    with neutron_call():
        group = conn.network.get_security_group(group_id)
        ports = [p for p in conn.network.ports(project_id=group.project_id) if group_id in (p.security_group_ids or [])]
        groups = {g.id: g for g in conn.network.security_groups(project_id=group.project_id)}
    kept = []
    for port in ports:
        lines = {
            iptables_line(r)
            for gid in port.security_group_ids or []
            for r in (groups[gid].security_group_rules or [] if gid in groups else [])
            if r["direction"] == rule["direction"] and r["ethertype"] == rule["ethertype"]
        }
        if line is not None and line in lines:
            kept.append(port.id)
    return sorted(p.id for p in ports), sorted(kept)
