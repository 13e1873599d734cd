"""Issue 19's question on the real allinone lab: a VM with no IPv6 address to an IPv6 address is broken.

`GET /api/v1/path/?src=port:<ubuntu-01>&dst=2001:db8::1` once answered "ok, north-south-snat" for a VM
with no IPv6 address behind a router with no IPv6 interface. It is `broken` with `no_address_family`
at the VM, and a real ping6 from ubuntu-01's namespace agrees: it never leaves (no IPv6 route). alt asks
the same of its own port and gets the same; asked of demo's VM it learns nothing of demo.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.leak_check import Cloud, leaks
from tests.test_path_isolation_lab import allinone_alt_ports, ask, state_secrets
from tests.test_topology_dvr import joined
from tests.test_topology_lab import keystone_token

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
__all__ = ["allinone_alt_ports"]  # the fixture, used by name

OUTSIDE_V6 = "2001:db8::1"  # documentation prefix: never routed anywhere, and the lab has no IPv6 route at all


def family_answer(status: int, body: str) -> dict[str, Any]:
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    assert result["verdict"] == "broken", result
    assert [p["code"] for p in result["problems"]] == ["no_address_family"], result["problems"]
    assert all("SNAT" not in h["evidence"] for h in result["hops"]), "IPv4's SNAT is not the IPv6 packet's way"
    return result


def test_the_issues_question_is_broken_for_demo_and_ping6_agrees(lab: dict[str, Any], client: Client) -> None:
    from lab import api

    joined(lab)
    ubuntu = lab["vms"]["ubuntu-01"]
    result = family_answer(*ask(client, keystone_token(lab, "demo"), f"port:{ubuntu['port_id']}", OUTSIDE_V6))
    assert result["problems"][0]["message"] == "ubuntu-01 has no IPv6 address; its subnets are IPv4 only"
    assert result["problems"][0]["node"] == f"port:{ubuntu['port_id']}"
    assert result["scenario"] == "north-south-snat" and result["src"]["ip"] == ubuntu["ip"]
    admin = family_answer(*ask(client, keystone_token(lab, "admin"), f"port:{ubuntu['port_id']}", OUTSIDE_V6))
    assert admin["problems"] == result["problems"]
    sent = api.run_in("ubuntu-01", ["ping", "-6", "-c", "1", "-W", "1", OUTSIDE_V6])
    assert sent.returncode != 0 and "unreachable" in (sent.stdout + sent.stderr).lower(), sent
    # IPv4 out is what it was: the check does not break the walks it should not
    ok = json.loads(ask(client, keystone_token(lab, "demo"), f"port:{ubuntu['port_id']}", "192.168.1.1")[1])
    assert ok["verdict"] == "ok", ok["problems"]


def test_alt_gets_the_same_of_its_own_port_and_nothing_of_demo(
    lab: dict[str, Any], admin_cloud: Cloud, client: Client, allinone_alt_ports: list[dict[str, Any]]
) -> None:
    alt = keystone_token(lab, "alt")
    own = allinone_alt_ports[1]
    result = family_answer(*ask(client, alt, f"port:{own['id']}", OUTSIDE_V6))
    assert result["problems"][0]["message"].endswith("has no IPv6 address; its subnets are IPv4 only")
    secrets = state_secrets(lab, admin_cloud, "demo", "alt")
    ubuntu = lab["vms"]["ubuntu-01"]
    theirs = ask(client, alt, f"port:{ubuntu['port_id']}", OUTSIDE_V6)
    assert theirs[0] == 404 and leaks(theirs[1], secrets) == [], theirs
    assert leaks(json.dumps(result), secrets) == []
    demo_secrets = state_secrets(lab, admin_cloud, "alt", "demo")
    demo = keystone_token(lab, "demo")
    status, body = ask(client, demo, f"port:{ubuntu['port_id']}", OUTSIDE_V6)
    assert status == 200 and leaks(body, demo_secrets) == [], body
    status, body = ask(client, demo, f"port:{own['id']}", OUTSIDE_V6)
    assert status == 404 and leaks(body, demo_secrets) == [], body


def test_the_agent_reads_the_lab_routers_ipv6_as_ip_and_ip6tables_print_it(lab: dict[str, Any]) -> None:
    """Issue 19 part 3 on real Neutron output: router1's qrouter namespace, as the L3 agent made it."""
    from lab import api
    from topology.agent.collect import collect_report

    name = f"qrouter-{lab['routers']['router1']['id']}"
    report: dict[str, Any] = dict(collect_report(lab["host"]))
    ns = next(n for n in report["namespaces"] if n["name"] == name)
    where = f"{lab['host']}:{name}"
    links = json.loads(api.run_in(where, ["ip", "-j", "-6", "addr"]).stdout or "[]")
    reported = {i["name"]: set(i["addresses"]) for i in ns["interfaces"]}
    printed = {link["ifname"]: {f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]} for link in links}
    assert printed and all(printed[dev] <= reported[dev] for dev in printed), (printed, reported)
    rules = json.loads(api.run_in(where, ["ip", "-j", "-6", "rule"]).stdout or "[]")
    assert {r["priority"] for r in rules} == {r["priority"] for r in ns["rules"] if r.get("family") == 6}
    saved = api.run_in(where, ["ip6tables-save"]).stdout
    rule_lines = {line for line in saved.splitlines() if line.startswith("-A ")}
    text = "\n".join(ns["ip6tables"].values())
    got = {line.split("] ", 1)[-1] for line in text.splitlines() if "-A " in line}
    assert got == rule_lines, (sorted(rule_lines - got)[:5], sorted(got - rule_lines)[:5])
