"""``GET /api/v1/path/?...&verify=1`` on the real netnode lab (seed 003): the explainer against both hosts' tracers.

The VMs on host 1 ``controller``, router1's qrouter- and the qdhcp- on the
network node ``compute2``; the node agents of both run for real, each in its
host's view, and keep their channels to a real daphne (tests/agent_feed.py's
lab_agents_feed). For every walk of tests/test_path_netnode_lab.py (SNAT out,
the floating IP out and in, DHCP), at every OVS bridge hop the port the walk
leaves by (computed from the hops: by a tunnel port with the network's VNI)
is ofproto/trace's final output on that host, and at every qrouter hop the
device is ``ip route get``'s (the checks of test_path_verify_dvr_lab.py); the
NAT rules the walks cite are the ones a real ping moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.test import Client

from lab import api as lab_api
from tests.agent_feed import fed_lab
from tests.conftest import ARTIFACTS
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_verify_dvr_lab import agreed_hops, counters, verify
from topology.probes.counters import cited_nat_rules

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"
VM_HOST, NET_NODE = "controller", "compute2"
LOGS = ARTIFACTS / "probes-netnode"
JsonDict = dict[str, Any]
Cloud = openstack.connection.Connection


def server(lab: JsonDict, vm: str) -> str:
    return f"server:{lab['vms'][vm]['server_id']}"


def dhcp_address(admin_cloud: Cloud, lab: JsonDict) -> str:
    (port,) = admin_cloud.network.ports(network_id=lab["networks"]["private"], device_owner="network:dhcp")
    return str(port.fixed_ips[0]["ip_address"])


def walks(lab: JsonDict, dhcp: str) -> dict[str, tuple[str, str, str, tuple[str, str]]]:
    """name -> (source, destination, the scenario the explainer must give, the real ping's (from, to))."""
    cirros = lab["vms"]["cirros-01"]
    return {
        "snat out": (server(lab, "ubuntu-01"), OUTSIDE, "north-south-snat", ("ubuntu-01", OUTSIDE)),
        "fip out": (server(lab, "cirros-01"), OUTSIDE, "north-south-fip", ("cirros-01", OUTSIDE)),
        "fip in": (OUTSIDE, cirros["floating_ip"], "inbound-fip", ("outside", cirros["floating_ip"])),
        "dhcp": (server(lab, "ubuntu-01"), dhcp, "to-dhcp", ("ubuntu-01", dhcp)),
    }


@pytest.fixture
def feed(netnode_lab: JsonDict) -> Iterator[None]:
    with fed_lab(netnode_lab, LOGS, [(vm, OUTSIDE) for vm in ("ubuntu-01", "cirros-01")], [VM_HOST, NET_NODE]):
        yield


def test_every_netnode_walk_agrees_with_both_hosts_tracers(
    netnode_lab: JsonDict, feed: None, admin_cloud: Cloud
) -> None:
    admin = login(netnode_lab, "admin")
    dhcp = dhcp_address(admin_cloud, netnode_lab)
    failures = {}
    for name, walk in walks(netnode_lab, dhcp).items():
        try:  # every walk checked, each one's failure kept: one lab run says all that is wrong
            agrees(admin, name, walk)
        except AssertionError as exc:
            failures[name] = str(exc)[:4000]
    assert not failures, json.dumps(failures, indent=1)


def agrees(admin: Client, name: str, walk: tuple[str, str, str, tuple[str, str]]) -> None:
    src, dst, scenario, (sender, target) = walk
    response = verify(admin, src, dst)
    assert response.status_code == 200, response.content[:600]
    body = response.json()
    assert (body["scenario"], body["verdict"]) == (scenario, "ok"), body["problems"]
    assert body["verify"]["disagree"] == 0, json.dumps([body["verify"], body["problems"]])
    assert set(body["verify"]["hosts"].values()) == {"connected"}, body["verify"]
    assert agreed_hops(name, body["hops"]) >= 3
    # Every walk crosses the tunnel: both hosts' tracers answered for it.
    assert {h["host"] for h in body["hops"] if h["verify"]["state"] == "agree"} == {VM_HOST, NET_NODE}
    if "return_hops" in body:
        agreed_hops(f"{name} (reply)", body["return_hops"])
    rules = cited_nat_rules(body["hops"])
    if name == "dhcp":
        assert rules == [], rules
        assert lab_api.ping(sender, target, timeout=30)
        return
    assert rules and all(rule.host == NET_NODE for rule in rules), rules
    before = [counters(admin, rule) for rule in rules]
    assert None not in before, rules
    assert lab_api.ping(sender, target, timeout=30)
    after = [counters(admin, rule) for rule in rules]
    assert all(b - a >= 1 for a, b in zip(before, after, strict=True)), (rules, before, after)  # type: ignore[operator]
