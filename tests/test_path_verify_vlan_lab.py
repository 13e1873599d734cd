"""``GET /api/v1/path/?...&verify=1`` on the real vlan lab (seed 004 on VLANs): the explainer against the tracers.

vm01 on host 1 ``controller``, vm02 on ``compute2``, both 192.168.101.3 on VLANs of physnet1; the routers on
host 1. The node agents of both hosts run for real and keep their channels to a real daphne (as
tests/test_path_verify_netnode_lab.py). vm02's walks cross the veth wire between the hosts' br-vlan: at
every OVS bridge hop of both hosts (br-int, br-vlan, and back), the port the walk leaves by is
ofproto/trace's output for the same packet, tagged as the walk says (the local VLAN on br-int, the
segmentation id on the wire), and every qrouter hop's device is ``ip route get``'s. Broken for real and
undone: the wire's port removed from compute2's br-vlan: the walk fails at br-vlan, and compute2's tracer,
asked about the same packet there, agrees it goes no further. Grouped with the other vlan tests (vlan_lab).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from lab import api as lab_api
from tests.agent_feed import lab_agents_feed
from tests.conftest import ARTIFACTS
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_broken import pings_again
from tests.test_path_verify_dvr_lab import agreed_hops, verify
from tests.test_path_vlan_lab import BRIDGE, COMPUTE2, HOST1, OUTSIDE, server, wire_port_removed
from tests.test_probes_lab import wait_connected
from tests.test_topology_dvr import joined

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
LOGS = ARTIFACTS / "probes-vlan"
JsonDict = dict[str, Any]


@pytest.fixture
def feed(vlan_lab: JsonDict) -> Iterator[None]:
    for vm in ("vm01", "vm02"):  # real traffic first: bridges learn, the routers resolve ARP
        assert lab_api.ping(vm, OUTSIDE, timeout=120), vm
    tunnel_ips = {h: str(vlan_lab["hosts"][h]["tunnel_ip"]) for h in (HOST1, COMPUTE2)}
    with lab_agents_feed(settings.DATABASES["default"]["NAME"], LOGS, tunnel_ips):
        for host in tunnel_ips:
            wait_connected(host)
        joined(vlan_lab)
        yield


def walks(lab: JsonDict) -> dict[str, tuple[str, str, str]]:
    vm02 = lab["vms"]["vm02"]
    return {
        "vm01 out": (server(lab, "vm01"), OUTSIDE, "north-south-fip"),
        "vm02 out over the wire": (server(lab, "vm02"), OUTSIDE, "north-south-fip"),
        "vm02's floating ip in over the wire": (OUTSIDE, vm02["floating_ip"], "inbound-fip"),
    }


def answered(admin: Client, src: str, dst: str, name: str) -> JsonDict:
    response = verify(admin, src, dst)
    assert response.status_code == 200, response.content[:600]
    body: JsonDict = response.json()
    (LOGS / f"verify-{name.replace(' ', '-')}.json").write_text(json.dumps(body, indent=1))
    return body


def test_every_vlan_walk_agrees_with_both_hosts_tracers(vlan_lab: JsonDict, feed: None) -> None:
    admin = login(vlan_lab, "admin")
    failures = {}
    for name, (src, dst, scenario) in walks(vlan_lab).items():
        try:  # every walk checked, each one's failure kept: one lab run says all that is wrong
            body = answered(admin, src, dst, name)
            assert (body["scenario"], body["verdict"]) == (scenario, "ok"), body["problems"]
            assert body["verify"]["disagree"] == 0, json.dumps([body["verify"], body["problems"]])
            assert set(body["verify"]["hosts"].values()) == {"connected"}, body["verify"]
            assert agreed_hops(name, body["hops"]) >= 2
            if "wire" in name:  # both hosts' br-vlan answered, the wire crossed between them
                agreed = {h["node"] for h in body["hops"] if h["verify"]["state"] == "agree"}
                assert {f"bridge:{HOST1}:{BRIDGE}", f"bridge:{COMPUTE2}:{BRIDGE}"} <= agreed, agreed
            if "return_hops" in body:
                agreed_hops(f"{name} (reply)", body["return_hops"])
        except AssertionError as exc:
            failures[name] = str(exc)[:4000]
    assert not failures, json.dumps(failures, indent=1)
    assert lab_api.ping("vm02", OUTSIDE, timeout=30)


def test_the_wire_port_removed_is_where_the_walk_and_compute2s_tracer_both_stop(vlan_lab: JsonDict, feed: None) -> None:
    admin = login(vlan_lab, "admin")
    with wire_port_removed(COMPUTE2):
        joined(vlan_lab)  # what both agents report now
        body = answered(admin, server(vlan_lab, "vm02"), OUTSIDE, "wire removed")
        assert body["verdict"] == "broken", body["problems"]
        (hop,) = [h for h in body["hops"] if h["status"] == "fail"]
        assert hop["node"] == f"bridge:{COMPUTE2}:{BRIDGE}", hop
        check = hop["verify"]
        assert (check["state"], check["tracer"], check["host"]) == ("agree", "ofproto/trace", COMPUTE2), check
        assert check["model"].startswith("stops"), check
        assert not lab_api.ping("vm02", OUTSIDE, timeout=10)
    joined(vlan_lab)
    pings_again("vm02", OUTSIDE)
