"""Issue 20's questions on the real two-host DVR lab (dvr-router distributed; vm-web-1 on controller with a
floating IP, vm-app-1 on compute2 without one), each explained and then really sent from the same
namespace: the verdict must be the real result. All DVR rows are in this one file so that the scenario
switches once.

Seed 000's checklist (its qr- gateway, the router's gateway address, an unallocated address) and the
hairpins, which on DVR go where the lab shows them going: a sender without a floating IP leaves by the
snat namespace's qg- (SNAT to the gateway address) and comes back in by fg-; a sender with one, to a
floating IP on its own host, turns in the fip namespace (never out by fg-).
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest

from tests.sg_nat_proof import connects, connects_within, ingress_rule, link_packets, nat_rule_packets, tcp_listener
from tests.test_path_owned_lab import private_subnet, unallocated_address
from tests.test_topology_dvr import joined
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
Cloud = openstack.connection.Connection
JsonDict = dict[str, Any]
PORT = 8080
OWN_PORT = 8081  # not the previous test's: its rule, deleted, may still be applied for a few seconds


def server(state: dict[str, Any], vm: str) -> str:
    return f"server:{state['vms'][vm]['server_id']}"


def ping(vm: str, target: str, timeout: float = 120) -> bool:
    from lab import api

    return bool(api.ping(vm, target, timeout=timeout))


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def device(graph: JsonDict, prefix: str) -> str:
    return str(next(n["label"] for n in graph["nodes"] if n["id"].startswith(prefix)))


def test_seed_000s_checklist_from_a_vm_on_compute2(dvr_lab: dict[str, Any]) -> None:
    graph = joined(dvr_lab)
    vm = server(dvr_lab, "vm-app-1")
    rows = [
        (str(private_subnet(graph, dvr_lab)["attrs"]["gateway_ip"]), "ok", True),  # its qr- gateway
        (dvr_lab["routers"]["dvr-router"]["gateway_ip"], "ok", True),  # the router's gateway address
        (unallocated_address(graph, dvr_lab), "broken", False),  # nobody holds it
    ]
    for address, verdict, answers in rows:
        result = explain(graph, StoredReports(), vm, address)
        assert result["verdict"] == verdict, (address, result["scenario"], result["problems"])
        assert not any("br-ex" in h["node"] for h in result["hops"]), "answered (or not) inside the cloud"
        assert ping("vm-app-1", address, timeout=120 if answers else 10) == answers, (address, verdict)


def test_hairpin_from_a_vm_without_a_floating_ip_leaves_by_snat_and_is_judged_from_the_gateway(
    dvr_lab: dict[str, Any], admin_cloud: Cloud
) -> None:
    web = dvr_lab["vms"]["vm-web-1"]
    router = dvr_lab["routers"]["dvr-router"]
    gateway, fip = router["gateway_ip"], web["floating_ip"]
    assert ping("vm-app-1", fip), "the ICMP hairpin works (ICMP from anywhere)"
    graph = joined(dvr_lab)
    icmp = explain(graph, StoredReports(), server(dvr_lab, "vm-app-1"), fip)
    assert (icmp["scenario"], icmp["verdict"]) == ("inbound-fip-dvr", "ok"), icmp["problems"]
    snat_ns = f"snat-{router['id']}"
    assert any(h["node"] == f"netns:controller:{snat_ns}" for h in icmp["hops"]), "out by the snat namespace"
    assert any(":fg-" in h["node"] for h in icmp["hops"]), "back in by fg-"
    qg = device(graph, f"iface:controller:{snat_ns}:qg-")
    before = link_packets(f"controller:{snat_ns}", qg)
    for _ in range(3):
        assert ping("vm-app-1", fip, timeout=10)
    after = link_packets(f"controller:{snat_ns}", qg)
    assert after[1] - before[1] >= 3, f"the snat namespace's {qg} sends each ping out: {before} -> {after}"
    with tcp_listener("vm-web-1", PORT) as listener:
        result = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), fip, f"tcp:{PORT}")
        assert (result["verdict"], codes(result)) == ("broken", ["sg_no_ingress"]), result["problems"]
        assert f"from {gateway}" in result["problems"][0]["message"]
        assert not connects("vm-app-1", fip, PORT), "explained broken: the connect times out"
        group = dvr_lab["security_groups"]["demo:default"]
        project = admin_cloud.network.get_security_group(group).project_id
        with ingress_rule(
            admin_cloud, group, protocol="tcp", port_range_min=PORT, port_range_max=PORT, project_id=project
        ):
            allowed = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), fip, f"tcp:{PORT}")
            assert allowed["verdict"] == "ok", allowed["problems"]
            assert connects_within("vm-app-1", fip, PORT)
            assert set(listener.seen()) == {gateway}, "the listener sees the snat namespace's gateway address"


def test_own_floating_ip_turns_in_the_fip_namespace_and_never_leaves_by_fg(
    dvr_lab: dict[str, Any], admin_cloud: Cloud
) -> None:
    web, router = dvr_lab["vms"]["vm-web-1"], dvr_lab["routers"]["dvr-router"]
    fip, public = web["floating_ip"], dvr_lab["networks"]["public"]
    assert ping("vm-web-1", fip)
    graph = joined(dvr_lab)
    result = explain(graph, StoredReports(), server(dvr_lab, "vm-web-1"), fip)
    assert (result["scenario"], result["verdict"]) == ("hairpin-dvr", "ok"), result["problems"]
    assert not any(":fg-" in h["node"] or "br-ex" in h["node"] for h in result["hops"])
    fip_ns, qrouter = f"controller:fip-{public}", f"controller:qrouter-{router['id']}"
    fg = device(graph, f"iface:controller:fip-{public}:fg-")
    before = (link_packets(fip_ns, fg), nat_rule_packets(qrouter, "neutron-l3-agent-PREROUTING", f"to:{web['ip']}"))
    for _ in range(3):
        assert ping("vm-web-1", fip, timeout=10)
    after = (link_packets(fip_ns, fg), nat_rule_packets(qrouter, "neutron-l3-agent-PREROUTING", f"to:{web['ip']}"))
    assert after[0] == before[0], f"{fg}'s packets moved: {before[0]} -> {after[0]}"
    assert after[1] - before[1] >= 3, "the qrouter's DNAT rule (on rfp-) counts each ping"
    with tcp_listener("vm-web-1", OWN_PORT) as listener:
        tcp = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-web-1"), fip, f"tcp:{OWN_PORT}")
        assert (tcp["verdict"], codes(tcp)) == ("broken", ["sg_no_ingress"]), tcp["problems"]
        assert f"from {fip}" in tcp["problems"][0]["message"]
        assert not connects("vm-web-1", fip, OWN_PORT)
        assert listener.seen() == []
