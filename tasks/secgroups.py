"""The Security groups page's list: groups with their rules and ports, by project for an admin.

A member lists with their own token (Neutron decides what they see) and only their project's
groups; an admin lists the whole cloud with the service account, and every group carries its
project's name, so that the one ``default`` group per project is never ambiguous (seed 000).
Three list calls (groups with their rules, ports, projects), never one per group.
"""

from __future__ import annotations

import logging
from typing import Any

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from dashboard.auth import Caller
from tasks.actions import Connection, neutron_call
from tasks.firewall_lines import describe
from tasks.secgroup_actions import ICMP_SSH_RULES
from topology.cloud import service_connection

JsonDict = dict[str, Any]
log = logging.getLogger(__name__)


def rule_dict(rule: JsonDict, group_names: dict[str, str]) -> JsonDict:
    remote = rule.get("remote_group_id")
    return {
        "id": rule["id"],
        "direction": rule["direction"],
        "ethertype": rule["ethertype"],
        "protocol": rule.get("protocol"),
        "port_range_min": rule.get("port_range_min"),
        "port_range_max": rule.get("port_range_max"),
        "remote_ip_prefix": rule.get("remote_ip_prefix"),
        "remote_group_id": remote,
        "remote_group_name": group_names.get(remote) if remote else None,
        "description": rule.get("description") or "",
        "summary": describe(rule),
    }


def opens_icmp_ssh(rules: list[JsonDict]) -> dict[str, bool]:
    """Which of seed 000's two rules (ICMP, SSH from anywhere over IPv4) the group has."""
    have = {
        (r.get("protocol"), r.get("port_range_min"), r.get("port_range_max"))
        for r in rules
        if r["direction"] == "ingress"
        and r["ethertype"] == "IPv4"
        and not r.get("remote_group_id")
        and r.get("remote_ip_prefix") in (None, "0.0.0.0/0")
    }
    wanted = {"icmp": ICMP_SSH_RULES[0], "ssh": ICMP_SSH_RULES[1]}
    return {
        name: (rule["protocol"], rule["port_range_min"], rule["port_range_max"]) in have
        for name, rule in wanted.items()
    }


def group_dict(group: Any, names: dict[str, str], ports: dict[str, list[str]], projects: dict[str, str]) -> JsonDict:
    rules = sorted(
        (rule_dict(r, names) for r in group.security_group_rules or []),
        key=lambda r: (r["direction"], r["ethertype"], str(r["protocol"]), r["port_range_min"] or 0, r["id"]),
    )
    return {
        "id": group.id,
        "name": group.name or "",
        "description": group.description or "",
        "project_id": group.project_id,
        "project_name": projects.get(group.project_id, ""),
        "stateful": bool(getattr(group, "stateful", True)),
        "rules": rules,
        "port_ids": ports.get(group.id, []),
        "opens": opens_icmp_ssh(rules),
    }


def project_names(caller: Caller) -> dict[str, str]:
    """Project id -> name: the caller's own project; for an admin, every project Keystone lists."""
    names = {caller.project_id: caller.project_name or ""} if caller.project_id else {}
    if not caller.is_admin:
        return names
    try:
        identity: Any = service_connection().identity  # Keystone v3 (the only one the dashboard speaks)
        return {**names, **{p.id: p.name for p in identity.projects()}}
    except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
        log.warning("cannot list Keystone's projects for the security groups page: %s", exc)
        return names  # the page shows ids where it has no name


def list_security_groups(conn: Connection, caller: Caller) -> list[JsonDict]:
    scope = {} if caller.is_admin else {"project_id": caller.project_id}
    with neutron_call():
        groups = list(conn.network.security_groups(**scope))
        ports_of: dict[str, list[str]] = {}
        for port in conn.network.ports(**scope):
            for group_id in port.security_group_ids or []:
                ports_of.setdefault(group_id, []).append(port.id)
    names = {g.id: g.name or g.id for g in groups}
    projects = project_names(caller)
    listed = [group_dict(g, names, ports_of, projects) for g in groups]
    return sorted(listed, key=lambda g: (g["project_name"], g["project_id"], g["name"], g["id"]))
