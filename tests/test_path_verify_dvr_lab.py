"""``GET /api/v1/path/?...&verify=1`` on the real two-host DVR lab: the explainer against both hosts' tracers.

The node agents of ``controller`` and ``compute2`` run for real, each in its
host's view, and keep their channels to a real daphne (tests/agent_feed.py's
lab_agents_feed); the path API is asked as the real admin. For every DVR walk
(east-west on one host and across the two, SNAT from compute2 through the
controller's snat namespace, floating IP out and in through each host's fip
namespace), at
every OVS bridge hop the port the walk leaves by (computed here from the
hops, not from the verify object; by a tunnel port: that port with the
network's VNI) is ofproto/trace's final output (an unlearned MAC flooded: among
its outputs), and at every router namespace
hop (qrouter, snat, fip) the device is ``ip route get``'s; the reply's own
walk (DVR east-west and SNAT are not symmetric) too. The NAT rules the walks
cite are the ones a real ping moves (iptables_counters, read before and after
through the probe API).
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
from tests.test_actions_lab import call, login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_probes_lab import wait_connected
from tests.test_topology_dvr import joined
from topology.probes.counters import NatRule, cited_nat_rules, packets_of

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"
HOSTS = ("controller", "compute2")
LOGS = ARTIFACTS / "probes-dvr"
PATCHES = ("int-br-ex", "phy-br-ex", "int-br-vlan", "phy-br-vlan", "patch-tun", "patch-int")  # crossed by the trace
JsonDict = dict[str, Any]


def server(lab: JsonDict, vm: str) -> str:
    return f"server:{lab['vms'][vm]['server_id']}"


def verify(client: Client, src: str, dst: str, probe: str = "icmp") -> Any:
    return client.get("/api/v1/path/", {"src": src, "dst": dst, "probe": probe, "verify": "1"})


def walks(lab: JsonDict) -> dict[str, tuple[str, str, str]]:
    """name -> (source, destination, the scenario the explainer must give): seed 001's walks and their kin."""
    web, db = lab["vms"]["vm-web-1"], lab["vms"]["vm-db-1"]
    return {
        "east-west on compute2": (server(lab, "vm-app-1"), server(lab, "vm-db-1"), "east-west-dvr"),
        "east-west across the hosts": (server(lab, "vm-web-1"), server(lab, "vm-db-1"), "east-west-dvr"),
        "snat from compute2": (server(lab, "vm-app-1"), OUTSIDE, "north-south-snat-dvr"),
        "fip out on controller": (server(lab, "vm-web-1"), OUTSIDE, "north-south-fip-dvr"),
        "fip out on compute2": (server(lab, "vm-db-1"), OUTSIDE, "north-south-fip-dvr"),
        "fip in on compute2": (OUTSIDE, db["floating_ip"], "inbound-fip-dvr"),
        "fip in on controller": (OUTSIDE, web["floating_ip"], "inbound-fip-dvr"),
    }


def pings(lab: JsonDict) -> dict[str, tuple[str, str]]:
    """The real packet of each walk: (from, to) for lab.api.ping."""
    web, db = lab["vms"]["vm-web-1"], lab["vms"]["vm-db-1"]
    return {
        "east-west on compute2": ("vm-app-1", db["ip"]),
        "east-west across the hosts": ("vm-web-1", db["ip"]),
        "snat from compute2": ("vm-app-1", OUTSIDE),
        "fip out on controller": ("vm-web-1", OUTSIDE),
        "fip out on compute2": ("vm-db-1", OUTSIDE),
        "fip in on compute2": ("outside", db["floating_ip"]),
        "fip in on controller": ("outside", web["floating_ip"]),
    }


@pytest.fixture
def feed(dvr_lab: JsonDict) -> Iterator[None]:
    for sender, target in pings(dvr_lab).values():  # real traffic first: bridges learn, routers resolve ARP
        assert lab_api.ping(sender, target, timeout=120), (sender, target)
    tunnel_ips = {h: str(dvr_lab["hosts"][h]["tunnel_ip"]) for h in HOSTS}
    with lab_agents_feed(settings.DATABASES["default"]["NAME"], LOGS, tunnel_ips):
        for host in HOSTS:
            wait_connected(host)
        joined(dvr_lab)
        yield


def is_ovs_bridge(node: str) -> bool:
    return node.startswith("bridge:") and node.split(":")[2].startswith("br-")


def is_router_namespace(node: str) -> bool:
    return node.startswith("netns:") and node.split(":")[2].startswith(("qrouter-", "snat-", "fip-"))


def explainer_exit(hops: list[JsonDict], at: int) -> str:
    """The port the walk leaves the OVS datapath by after hop ``at``: the next interface hop that is neither
    a patch port nor a bridge (a tunnel port included: the packet leaves this host's datapath there)."""
    for hop in hops[at + 1 :]:
        node = hop["node"]
        if is_ovs_bridge(node) or node.endswith(PATCHES):
            continue
        assert node.startswith("iface:") and node.split(":")[2] == "-", (at, node)
        return str(node.rsplit(":", 1)[1])
    raise AssertionError(f"no port after hop {at + 1}")


def traced_exit(check: JsonDict) -> list[str]:
    detail = check["detail"]
    return [o.split(" ")[0] for o in detail["outputs"]]  # compare's outputs: the tunnel ports (tnl_push) included


def agreed_hops(name: str, hops: list[JsonDict]) -> int:
    """Every bridge and router namespace hop agrees, with the output the walk itself names; how many."""
    traced = 0
    for at, hop in enumerate(hops):
        check, node = hop["verify"], hop["node"]
        if is_ovs_bridge(node):
            assert check["state"] == "agree" and check["tracer"] == "ofproto/trace", json.dumps([name, at, hop])
            port = explainer_exit(hops, at)
            if check["answer"].startswith("is flooded"):  # an unlearned MAC: the walk's port among the VLAN's
                assert port in traced_exit(check), (name, at, port, check)
            else:
                assert traced_exit(check) == [port], (name, at, port, check)
            if port.startswith("vxlan-"):  # the tunnel's VNI is the network's, as the walk says
                vni = check["detail"]["tunnels"][0]["vni"]
                assert check["model"].endswith(f"with tun_id {vni:#x}"), (name, at, check)
            traced += 1
        elif is_router_namespace(node):
            assert check["state"] == "agree" and check["tracer"] == "ip route get", json.dumps([name, at, hop])
            leaves_by = hops[at + 1]["node"].rsplit(":", 1)[1]
            assert check["detail"]["route"]["dev"] == leaves_by, (name, at, check)
            traced += 1
    return traced


def counters(admin: Client, rule: NatRule) -> int | None:
    response = call(admin, "POST", f"/hosts/{rule.host}/probes/", {"kind": "iptables_counters", "args": rule.probe()})
    assert response.status_code == 200, response.content[:400]
    return packets_of(rule, response.json()["result"])


def test_every_dvr_walk_agrees_with_both_hosts_tracers(dvr_lab: JsonDict, feed: None) -> None:
    admin = login(dvr_lab, "admin")
    failures = {}
    for name, walk in walks(dvr_lab).items():
        try:  # every walk checked, each one's failure kept: one lab run says all that is wrong
            agrees(admin, dvr_lab, name, walk)
        except AssertionError as exc:
            failures[name] = str(exc)[:4000]
    assert not failures, json.dumps(failures, indent=1)


def agrees(admin: Client, lab: JsonDict, name: str, walk: tuple[str, str, str]) -> None:
    src, dst, scenario = walk
    response = verify(admin, src, dst)
    assert response.status_code == 200, response.content[:600]
    body = response.json()
    assert (body["scenario"], body["verdict"]) == (scenario, "ok"), body["problems"]
    assert body["verify"]["disagree"] == 0, json.dumps([body["verify"], body["problems"]])
    assert set(body["verify"]["hosts"].values()) == {"connected"}, body["verify"]
    traced = agreed_hops(name, body["hops"])
    assert traced >= (2 if name == "east-west on compute2" else 3), traced
    if "return_hops" in body:
        agreed_hops(f"{name} (reply)", body["return_hops"])
    if name == "east-west across the hosts":
        assert {h["host"] for h in body["hops"] if h["verify"]["state"] == "agree"} == set(HOSTS)
    rules = cited_nat_rules(body["hops"])
    if name.startswith("east-west"):
        assert rules == [], rules
        return
    assert rules, [(h["what"], h["evidence"]) for h in body["hops"]]
    sender, target = pings(lab)[name]
    before = [counters(admin, rule) for rule in rules]
    assert None not in before, rules
    assert lab_api.ping(sender, target, timeout=30)
    after = [counters(admin, rule) for rule in rules]
    assert all(b - a >= 1 for a, b in zip(before, after, strict=True)), (rules, before, after)  # type: ignore[operator]
