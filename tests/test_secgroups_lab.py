"""The security groups API against the real lab: the list by project, removing one rule as a job
confirmed by the firewall chains and a real ping, and who may touch which group (demo vs alt, both ways).

The iptables lines tasks/firewall_lines.py predicts are checked against what Neutron's own OVS agent
writes for rules made for the purpose (a port range from a prefix, an ICMP type, a remote group, IPv6).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.conf import settings

from lab import api
from tasks.firewall_lines import chain_name, iptables_line
from tasks.models import AuditEntry, AuditResult, Job, JobKind, JobState
from tests.agent_feed import agent_feed
from tests.broken_states import icmp_ssh_reopened, wait_until
from tests.conftest import ARTIFACTS
from tests.lab_jobs import accepted, call, celery_worker, login, wait_job
from tests.lab_jobs import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.leak_check import leaks, project_secrets

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

Cloud = openstack.connection.Connection
NO_REPLY = 8.0  # seconds a ping that must fail is given


@pytest.fixture
def worker(lab: dict[str, Any]) -> Iterator[None]:
    with agent_feed(settings.DATABASES["default"]["NAME"], ARTIFACTS / "secgroups"), celery_worker("secgroups.log"):
        yield


@pytest.fixture
def icmp_ssh_restored(lab: dict[str, Any], demo_cloud: Cloud) -> Iterator[str]:
    """demo's default group, given back its ICMP and SSH rules from anywhere whatever the test removed."""
    group = lab["security_groups"]["demo:default"]
    yield group
    icmp_ssh_reopened(demo_cloud, group)


def icmp_rule(cloud: Cloud, group: str) -> Any:
    return next(
        r
        for r in cloud.network.security_group_rules(security_group_id=group, direction="ingress")
        if r.protocol == "icmp" and r.ether_type == "IPv4" and r.remote_group_id is None
    )


def chain_lines(port_id: str, direction: str = "ingress", family: int = 4) -> set[str]:
    save = "iptables-save" if family == 4 else "ip6tables-save"
    text = api.run_on("controller", [save, "-t", "filter"], capture=True).stdout
    head = f"-A {chain_name(direction, port_id)} "
    return {line[len(head) :] for line in text.splitlines() if line.startswith(head)}


def test_each_project_lists_its_own_groups_and_the_admin_every_default_under_its_project(
    lab: dict[str, Any], admin_cloud: Cloud, alt_cloud: Cloud
) -> None:
    list(alt_cloud.network.security_groups())  # Neutron makes alt's default group on its first list
    demo_id, alt_id = lab["projects"]["demo"], lab["projects"]["alt"]
    group = lab["security_groups"]["demo:default"]
    cirros = lab["vms"]["cirros-01"]["port_id"]

    demo = call(login(lab, "demo"), "GET", "/security-groups/").json()["security_groups"]
    assert {g["project_id"] for g in demo} == {demo_id}
    default = next(g for g in demo if g["id"] == group)
    assert default["opens"] == {"icmp": True, "ssh": True}
    assert cirros in default["port_ids"]
    assert any(r["remote_group_id"] == group and r["remote_group_name"] == "default" for r in default["rules"])
    assert "ingress IPv4 tcp 22 from 0.0.0.0/0" in {r["summary"] for r in default["rules"]}

    alt_text = call(login(lab, "alt"), "GET", "/security-groups/").content.decode()
    alt = json.loads(alt_text)["security_groups"]
    assert {g["project_id"] for g in alt} == {alt_id}
    secrets = project_secrets(admin_cloud, demo_id, alt_id, {"cirros-01": cirros})
    assert group in secrets  # the grep can fail
    assert leaks(alt_text, secrets) == []

    every = call(login(lab, "admin"), "GET", "/security-groups/").json()["security_groups"]
    defaults = {g["project_name"]: g["id"] for g in every if g["name"] == "default"}
    assert defaults["demo"] == group and defaults["alt"] == next(g["id"] for g in alt if g["name"] == "default")


def test_removing_the_icmp_rule_is_confirmed_by_the_firewall_chain_and_a_ping_and_reopening_restores_it(
    lab: dict[str, Any], worker: None, icmp_ssh_restored: str, demo_cloud: Cloud
) -> None:
    group, demo = icmp_ssh_restored, login(lab, "demo")
    cirros = lab["vms"]["cirros-01"]
    address = lab["floating_ips"]["cirros-01"]["floating_ip_address"]
    assert api.ping("outside", address, timeout=30)
    rule = icmp_rule(demo_cloud, group)

    job = wait_job(accepted(call(demo, "DELETE", f"/security-groups/{group}/rules/{rule.id}/")), timeout=120)
    assert (job.kind, job.target, job.state) == (JobKind.SECGROUP_RULE_DELETE, rule.id, JobState.SUCCEEDED), job.message
    seen = (job.result or {})["observed"]
    assert seen["dataplane_ok"] is True, job.message
    gone = "'-p icmp -j RETURN' is gone from "  # then every chain checked, ubuntu-01's and cirros-01's, in any order
    chains = seen["dataplane"][len(gone) :].split(", ")
    assert seen["dataplane"].startswith(gone) and f"controller:{chain_name('ingress', cirros['port_id'])}" in chains
    assert "removed ingress IPv4 icmp from 0.0.0.0/0" in job.message
    assert "-p icmp -j RETURN" not in chain_lines(cirros["port_id"])
    assert demo_cloud.network.find_security_group_rule(rule.id, ignore_missing=True) is None
    assert not api.ping("outside", address, timeout=NO_REPLY)

    # The same rule again: it is gone, so "not found" (and nothing queued).
    again = call(demo, "DELETE", f"/security-groups/{group}/rules/{rule.id}/")
    assert again.status_code == 404 and "could not be found" in again.json()["detail"]

    reopened = wait_job(accepted(call(demo, "POST", f"/security-groups/{group}/open-icmp-ssh/")), timeout=120)
    assert reopened.state == JobState.SUCCEEDED, reopened.message
    assert api.ping("outside", address, timeout=60)


def test_a_port_whose_other_group_makes_the_same_line_keeps_it_and_is_not_checked(
    lab: dict[str, Any], worker: None, icmp_ssh_restored: str, demo_cloud: Cloud
) -> None:
    group, demo = icmp_ssh_restored, login(lab, "demo")
    cirros, ubuntu = lab["vms"]["cirros-01"], lab["vms"]["ubuntu-01"]
    address = lab["floating_ips"]["cirros-01"]["floating_ip_address"]
    extra = demo_cloud.network.create_security_group(name="also-icmp", description="secgroups test")
    port = demo_cloud.network.get_port(cirros["port_id"])
    groups = list(port.security_group_ids)
    try:
        demo_cloud.network.create_security_group_rule(
            security_group_id=extra.id, direction="ingress", ether_type="IPv4", protocol="icmp"
        )
        demo_cloud.network.update_port(port, security_group_ids=[*groups, extra.id])
        rule = icmp_rule(demo_cloud, group)
        job = wait_job(accepted(call(demo, "DELETE", f"/security-groups/{group}/rules/{rule.id}/")), timeout=120)
        assert job.state == JobState.SUCCEEDED, job.message
        seen = (job.result or {})["observed"]
        assert f"port(s) {cirros['port_id']} keep it by another of their groups" in seen["dataplane"]
        assert chain_name("ingress", ubuntu["port_id"]) in seen["dataplane"]
        assert chain_name("ingress", cirros["port_id"]) not in seen["dataplane"]  # not checked: it keeps the line
        assert "-p icmp -j RETURN" in chain_lines(cirros["port_id"])  # the driver writes it once, for also-icmp
        assert api.ping("outside", address, timeout=30)  # and the floating IP still answers
    finally:
        demo_cloud.network.update_port(port, security_group_ids=groups)
        wait_until(lambda: demo_cloud.network.get_port(port.id).security_group_ids == groups, 30)
        demo_cloud.network.delete_security_group(extra.id, ignore_missing=True)


def test_the_predicted_iptables_lines_are_what_the_ovs_agent_writes(lab: dict[str, Any], demo_cloud: Cloud) -> None:
    cirros = lab["vms"]["cirros-01"]["port_id"]
    extra = demo_cloud.network.create_security_group(name="lines", description="secgroups test")
    port = demo_cloud.network.get_port(cirros)
    groups = list(port.security_group_ids)
    specs = [
        {"direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 8000,
         "port_range_max": 8099, "remote_ip_prefix": "192.168.1.0/24"},
        {"direction": "ingress", "ether_type": "IPv4", "protocol": "icmp", "port_range_min": 8, "port_range_max": 0},
        {"direction": "egress", "ether_type": "IPv4", "protocol": "udp", "port_range_min": 53,
         "port_range_max": 53, "remote_ip_prefix": "192.168.1.1/32"},
        {"direction": "ingress", "ether_type": "IPv4", "protocol": "udp", "remote_group_id": groups[0]},
        {"direction": "ingress", "ether_type": "IPv6", "protocol": "tcp", "port_range_min": 80,
         "port_range_max": 80, "remote_ip_prefix": "2001:db8::/64"},
    ]  # fmt: skip
    try:
        rules = [demo_cloud.network.create_security_group_rule(security_group_id=extra.id, **s) for s in specs]
        demo_cloud.network.update_port(port, security_group_ids=[*groups, extra.id])
        for rule in rules:
            line = iptables_line({**rule.to_dict(), "ethertype": rule.ether_type})
            assert line is not None
            where = (cirros, rule.direction, 6 if rule.ether_type == "IPv6" else 4)
            assert wait_until(lambda line=line, where=where: line in chain_lines(*where), 60), (
                line,
                sorted(chain_lines(*where)),
            )
    finally:
        demo_cloud.network.update_port(port, security_group_ids=groups)
        wait_until(lambda: demo_cloud.network.get_port(port.id).security_group_ids == groups, 30)
        demo_cloud.network.delete_security_group(extra.id, ignore_missing=True)


def test_another_projects_group_or_rule_is_not_found_and_nothing_is_queued(
    lab: dict[str, Any], demo_cloud: Cloud, alt_cloud: Cloud
) -> None:
    demo, alt = login(lab, "demo"), login(lab, "alt")
    demo_group = lab["security_groups"]["demo:default"]
    demo_rule = icmp_rule(demo_cloud, demo_group)
    alt_group = alt_cloud.network.create_security_group(name="alt-only", description="secgroups test")
    try:
        alt_rule = alt_cloud.network.create_security_group_rule(
            security_group_id=alt_group.id, direction="ingress", ether_type="IPv4", protocol="icmp"
        )
        other_demo = next(
            r for r in demo_cloud.network.security_group_rules(security_group_id=demo_group) if r.id != demo_rule.id
        )
        attempts = [
            (alt, f"/security-groups/{demo_group}/rules/{demo_rule.id}/", demo_group),  # alt vs demo
            (alt, f"/security-groups/{alt_group.id}/rules/{demo_rule.id}/", demo_rule.id),  # alt's group, demo's rule
            (demo, f"/security-groups/{alt_group.id}/rules/{alt_rule.id}/", alt_group.id),  # demo vs alt
            (demo, f"/security-groups/{demo_group}/rules/{alt_rule.id}/", alt_rule.id),
            (demo, f"/security-groups/{demo_group}/rules/not-a-rule/", "not-a-rule"),
        ]
        for client, path, named in attempts:
            response = call(client, "DELETE", path)
            assert response.status_code == 404, (path, response.status_code, response.content[:300])
            detail = response.json()["detail"]
            assert "could not be found" in detail and named in detail, detail
            assert "default" not in detail and "alt-only" not in detail  # no name of the other side's
        # A rule of demo's own group asked under another of its groups: not found *in that group*.
        own_other = demo_cloud.network.create_security_group(name="demo-other", description="secgroups test")
        try:
            response = call(demo, "DELETE", f"/security-groups/{own_other.id}/rules/{other_demo.id}/")
            assert (
                response.status_code == 404
                and f"could not be found in group {own_other.id}" in response.json()["detail"]
            )
        finally:
            demo_cloud.network.delete_security_group(own_other.id, ignore_missing=True)
        assert not Job.objects.filter(kind=JobKind.SECGROUP_RULE_DELETE).exists()
        refused = AuditEntry.objects.filter(action=JobKind.SECGROUP_RULE_DELETE, result=AuditResult.REFUSED)
        assert refused.count() == len(attempts) + 1
        assert demo_cloud.network.find_security_group_rule(demo_rule.id, ignore_missing=True) is not None
        assert alt_cloud.network.find_security_group_rule(alt_rule.id, ignore_missing=True) is not None
    finally:
        alt_cloud.network.delete_security_group(alt_group.id, ignore_missing=True)
