"""Issue 19's mixed-family question on every IPv4-only scenario (dvr, overlap, netnode), for real.

A VM with no IPv6 address asked to an IPv6 address is `broken` with `no_address_family` at the VM, for
its own project and for admin, through the public API; a real ping6 from its namespace never leaves; the
other project asking the same learns nothing of the VM. (allinone: tests/test_path_family_lab.py;
dualstack: tests/test_path_dualstack_lab.py.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.test_path_isolation_lab import ask
from tests.test_topology_dvr import joined
from tests.test_topology_lab import keystone_token

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

JsonDict = dict[str, Any]
OUTSIDE_V6 = "2001:db8::1"  # documentation prefix: nothing in these scenarios routes IPv6 at all


def no_family(client: Client, state: JsonDict, vm: str, project: str, other: str) -> None:
    from lab import api

    joined(state)
    port_id = state["vms"][vm]["port_id"]
    for who in (project, "admin"):
        status, body = ask(client, keystone_token(state, who), f"port:{port_id}", OUTSIDE_V6)
        assert status == 200, body
        result = json.loads(body)
        assert (result["verdict"], [p["code"] for p in result["problems"]]) == ("broken", ["no_address_family"])
        assert result["problems"][0]["message"] == f"{vm} has no IPv6 address; its subnets are IPv4 only"
        assert result["problems"][0]["node"] == f"port:{port_id}"
        assert not any("SNAT" in h["evidence"] for h in result["hops"]), "IPv4's SNAT is not the IPv6 packet's way"
    sent = api.run_in(vm, ["ping", "-6", "-c", "1", "-W", "1", OUTSIDE_V6])
    assert sent.returncode != 0 and "unreachable" in (sent.stdout + sent.stderr).lower(), sent
    status, body = ask(client, keystone_token(state, other), f"port:{port_id}", OUTSIDE_V6)
    assert status in (400, 404), body
    for secret in (port_id, vm, state["vms"][vm]["ip"]):
        assert secret not in body, (secret, body)


def test_on_dvr_a_vm_of_demo_behind_the_distributed_router(dvr_lab: JsonDict, client: Client) -> None:
    no_family(client, dvr_lab, "vm-app-1", "demo", "alt")


def test_on_overlap_a_vm_of_alt_on_one_of_the_two_same_subnets(overlap_lab: JsonDict, client: Client) -> None:
    no_family(client, overlap_lab, "vm02", "alt", "demo")


def test_on_netnode_a_vm_of_demo_routed_on_the_network_node(netnode_lab: JsonDict, client: Client) -> None:
    no_family(client, netnode_lab, "ubuntu-01", "demo", "alt")
