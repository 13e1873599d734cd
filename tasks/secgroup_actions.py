"""The security-group actions: open ICMP and SSH ingress on a group, close them again, remove one rule."""

from __future__ import annotations

from typing import Any

from tasks.firewall_lines import describe
from tasks.models import Job
from tasks.neutron_calls import ActionRefused, Connection, Progress, Result, neutron_call, pause
from topology.kinds import SECGROUP_RULE_MATCH

# --------------------------------------------------------------------------- security groups

# Seed 000's first troubleshooting step: let ping and ssh in.
ICMP_SSH_RULES: tuple[dict[str, Any], ...] = (
    {"protocol": "icmp", "port_range_min": None, "port_range_max": None},
    {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
)


def open_icmp_ssh(conn: Connection, job: Job, progress: Progress) -> Result:
    progress(20, "reading the security group's rules")
    with neutron_call():
        rules = list(conn.network.security_group_rules(security_group_id=job.target, direction="ingress"))
    have = {
        (r.protocol, r.port_range_min, r.port_range_max)
        for r in rules
        if r.ether_type == "IPv4" and r.remote_group_id is None and r.remote_ip_prefix in (None, "0.0.0.0/0")
    }
    added = []
    for rule in ICMP_SSH_RULES:
        key = (rule["protocol"], rule["port_range_min"], rule["port_range_max"])
        if key in have:
            continue
        progress(50, f"adding the {rule['protocol']} rule")
        try:
            with neutron_call():
                conn.network.create_security_group_rule(
                    security_group_id=job.target, direction="ingress", ether_type="IPv4", **rule
                )
        except ActionRefused as exc:
            if exc.status != 409:  # 409: the rule exists (a concurrent run made it)
                raise
        added.append(rule["protocol"])
    message = f"added {', '.join(added)} ingress" if added else "ICMP and SSH were already open"
    return {"message": message, "security_group_id": job.target, "added": added}


def icmp_ssh_rules(conn: Connection, group_id: str) -> list[Any]:
    """The group's IPv4 ingress rules from anywhere that match ICMP_SSH_RULES."""
    with neutron_call():
        rules = list(conn.network.security_group_rules(security_group_id=group_id, direction="ingress"))
    wanted = {(r["protocol"], r["port_range_min"], r["port_range_max"]) for r in ICMP_SSH_RULES}
    return [
        r
        for r in rules
        if r.ether_type == "IPv4"
        and r.remote_group_id is None
        and r.remote_ip_prefix in (None, "0.0.0.0/0")
        and (r.protocol, r.port_range_min, r.port_range_max) in wanted
    ]


def close_icmp_ssh(conn: Connection, job: Job, progress: Progress) -> Result:
    """The inverse of open_icmp_ssh: remove ICMP and SSH ingress from anywhere (IPv4)."""
    progress(20, "reading the security group's rules")
    removed = []
    for rule in icmp_ssh_rules(conn, job.target):
        pause()
        progress(50, f"removing the {rule.protocol} rule")
        with neutron_call():
            conn.network.delete_security_group_rule(rule, ignore_missing=True)  # a concurrent run's 404 is fine
        removed.append(rule.protocol)
    message = f"removed {', '.join(removed)} ingress" if removed else "ICMP and SSH were already closed"
    return {"message": message, "security_group_id": job.target, "removed": removed}


# --------------------------------------------------------------------------- one rule

# The fields of a rule that say what it lets through (and so which iptables line it is).
RULE_FIELDS: tuple[str, ...] = (*SECGROUP_RULE_MATCH, "remote_address_group_id")


def rule_fields(rule: Any) -> dict[str, Any]:
    """What the rule matches, as plain values under Neutron's API names (kept in the job's params: the rule
    may be gone when it runs). openstacksdk calls ``ethertype`` ``ether_type``."""
    return {name: getattr(rule, "ether_type" if name == "ethertype" else name, None) for name in RULE_FIELDS}


def delete_rule(conn: Connection, job: Job, progress: Progress) -> Result:
    """Remove one rule (the job's target) from its group (params: security_group_id, and the rule's fields)."""
    group_id = job.params["security_group_id"]
    said = describe(job.params["rule"])
    progress(20, "reading the rule")
    with neutron_call():
        rule = conn.network.find_security_group_rule(job.target, ignore_missing=True)
    done = {"security_group_id": group_id, "rule_id": job.target, "rule": said}
    if rule is None:
        return {**done, "message": f"the rule ({said}) was already removed"}
    if rule.security_group_id != group_id:
        raise ActionRefused(f"Security group rule {job.target} could not be found in group {group_id}.", 404)
    pause()
    progress(50, f"removing {said}")
    with neutron_call():
        conn.network.delete_security_group_rule(rule, ignore_missing=True)  # a concurrent run's 404 is fine
    return {**done, "message": f"removed {said}"}
