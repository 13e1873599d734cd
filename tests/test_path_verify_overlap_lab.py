"""``GET /api/v1/path/?...&verify=1`` on the real overlap lab (seed 004): the same address twice, each traced.

alt's vm01 and vm02 are both 192.168.101.3, behind router01 and router02; the
controller's node agent runs for real and keeps its channel to a real daphne
(tests/agent_feed.py). For each VM's floating IP out and in, every OVS bridge
hop's output is ofproto/trace's for the packet the walk describes there (the
two networks' local VLAN tags tell the same address apart on br-int) and every
qrouter hop's device is ``ip route get``'s in that VM's own router (the
checks of test_path_verify_dvr_lab.py); the NAT rules cited are in the VM's
own router's namespace, and a real ping moves them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from lab import api as lab_api
from tests.agent_feed import HOST, agent_feed
from tests.conftest import ARTIFACTS
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_verify_dvr_lab import agreed_hops, counters, verify
from tests.test_probes_lab import wait_connected
from tests.test_topology_dvr import joined
from topology.probes.counters import cited_nat_rules

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"
VMS = {"vm01": "router01", "vm02": "router02"}
LOGS = ARTIFACTS / "probes-overlap"
JsonDict = dict[str, Any]


def server(lab: JsonDict, vm: str) -> str:
    return f"server:{lab['vms'][vm]['server_id']}"


def walks(lab: JsonDict) -> dict[str, tuple[str, str, str, str, tuple[str, str]]]:
    """name -> (source, destination, scenario, the router it must cross, the real ping's (from, to))."""
    out = {}
    for vm, router in VMS.items():
        fip = lab["vms"][vm]["floating_ip"]
        out[f"{vm} fip out"] = (server(lab, vm), OUTSIDE, "north-south-fip", router, (vm, OUTSIDE))
        out[f"{vm} fip in"] = (OUTSIDE, fip, "inbound-fip", router, ("outside", fip))
    return out


@pytest.fixture
def feed(overlap_lab: JsonDict) -> Iterator[None]:
    for _, _, _, _, (sender, target) in walks(overlap_lab).values():  # real traffic first: ARP, MAC learning
        assert lab_api.ping(sender, target, timeout=120), (sender, target)
    with agent_feed(settings.DATABASES["default"]["NAME"], LOGS):
        wait_connected(HOST)
        joined(overlap_lab)
        yield


def test_each_overlapping_vms_walks_agree_with_the_tracers_in_its_own_router(overlap_lab: JsonDict, feed: None) -> None:
    admin = login(overlap_lab, "admin")
    failures = {}
    for name, walk in walks(overlap_lab).items():
        try:  # every walk checked, each one's failure kept
            agrees(admin, overlap_lab, name, walk)
        except AssertionError as exc:
            failures[name] = str(exc)[:4000]
    assert not failures, json.dumps(failures, indent=1)


def agrees(admin: Client, lab: JsonDict, name: str, walk: tuple[str, str, str, str, tuple[str, str]]) -> None:
    src, dst, scenario, router, (sender, target) = walk
    response = verify(admin, src, dst)
    assert response.status_code == 200, response.content[:600]
    body = response.json()
    assert (body["scenario"], body["verdict"]) == (scenario, "ok"), body["problems"]
    assert body["verify"]["disagree"] == 0, json.dumps([body["verify"], body["problems"]])
    assert agreed_hops(name, body["hops"]) >= 3
    qrouter = f"qrouter-{lab['routers'][router]['id']}"
    traced_routers = {h["node"].split(":")[2] for h in body["hops"] if ":qrouter-" in h["node"]}
    assert traced_routers == {qrouter}, (traced_routers, qrouter)
    if "return_hops" in body:
        agreed_hops(f"{name} (reply)", body["return_hops"])
    rules = cited_nat_rules(body["hops"])
    assert rules and {rule.namespace for rule in rules} == {qrouter}, rules
    before = [counters(admin, rule) for rule in rules]
    assert None not in before, rules
    assert lab_api.ping(sender, target, timeout=30)
    after = [counters(admin, rule) for rule in rules]
    assert all(b - a >= 1 for a, b in zip(before, after, strict=True)), (rules, before, after)  # type: ignore[operator]
