"""The explainer's OVN walks on a graph joined from REAL OVN databases (lab/ovn_dbs.py), checked by ovn-trace.

The NB is written as Neutron's OVN driver writes it (tests/test_ovn_read.py's ``_populate``, plus a
second VM port here), two chassis are registered in the SB (``chassis-add``, as ovn-controller does)
and the ports bound to them (``lsp-bind``); the Neutron side is tests/test_ovn_join.py's snapshot with
the same ids. Each walk's verdict is then put against OVN's own answer for the same packet, the real
``ovn_trace`` probe on the same southbound. Broken states are made for real in the databases (a port
unbound, the gateway's chassis removed) and undone. There is no OVN lab yet: no real ping here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.ovn_dbs import OvnDbs, ovn_databases, wait_until
from tests.test_ovn_join import EXT, PROJECT, neutron_snapshot, port
from tests.test_ovn_read import (
    GW_MAC,
    NET,
    PG,
    PORT_GW,
    PORT_RIF,
    PORT_VM,
    RIF_MAC,
    ROUTER,
    SG,
    VM_MAC,
    _populate,
    _sb_computed,
)
from topology import graph as g
from topology.agent.probes import run_probe
from topology.join import join
from topology.kinds import OVN_SNAPSHOT_KEY
from topology.ovn.collect import OvnRemotes, collect_ovn
from topology.path import explain

pytestmark = pytest.mark.ovn
PORT_B = "a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5b"
NET2, SUBNET2 = "b2c3d4e5-0000-4f60-8b9c-1d2e3f4a5b6c", "c3d4e5f6-0000-4a71-9cad-2e3f4a5b6c7d"
PORT_C, PORT_RIF2 = "d4e5f6a7-0000-4b82-adbe-3f4a5b6c7d8e", "e5f6a7b8-0000-4c93-becf-4a5b6c7d8e9f"
MAC_C = "fa:16:3e:00:0c:0c"
MAC_RIF2 = "fa:16:3e:00:01:02"
MAC_B = "fa:16:3e:00:0b:0b"
HOST_B = "compute2"
PROVNET = "provnet-f6a7b8c9-0000-4da4-8fd0-5b6c7d8e9fa0"
RULES = [
    {"id": "r-icmp", "security_group_id": SG, "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp",
     "remote_ip_prefix": None, "remote_group_id": None, "port_range_min": None, "port_range_max": None},
    {"id": "r-out", "security_group_id": SG, "direction": "egress", "ethertype": "IPv4", "protocol": None,
     "remote_ip_prefix": None, "remote_group_id": None, "port_range_min": None, "port_range_max": None},
]  # fmt: skip


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnDbs]:
    with two_chassis(tmp_path_factory.mktemp("ovn-path")) as started:
        yield started


@contextlib.contextmanager
def two_chassis(root: Path) -> Iterator[OvnDbs]:
    """Real NB/SB with northd: _populate's cloud, a second VM port, private2 and the external network."""
    with ovn_databases(root) as started:
        _populate(started)
        nb = started.nbctl
        # _populate's Address_Set pg_<sg>_ip4 is also the name northd gives the port group's own address set in
        # the SB: northd's SB commits fail on the duplicate from then on (its log says so); the driver of
        # Neutron 29 writes none, so it goes here and northd computes every later change.
        nb("destroy", "Address_Set", nb("--bare", "--columns=_uuid", "find", "Address_Set", f"name={PG}_ip4"))
        nb("lsp-add", f"neutron-{NET}", PORT_B)
        nb("lsp-set-addresses", PORT_B, f"{MAC_B} 10.0.0.6")
        nb("lsp-set-port-security", PORT_B, f"{MAC_B} 10.0.0.6")
        # private2 behind the same router, a VM port on it (east-west)
        nb("ls-add", f"neutron-{NET2}")
        nb("lsp-add", f"neutron-{NET2}", PORT_C)
        nb("lsp-set-addresses", PORT_C, f"{MAC_C} 10.0.1.5")
        nb("lrp-add", f"neutron-{ROUTER}", f"lrp-{PORT_RIF2}", MAC_RIF2, "10.0.1.1/24")
        nb("lsp-add", f"neutron-{NET2}", PORT_RIF2)
        nb("lsp-set-type", PORT_RIF2, "router")
        nb("lsp-set-addresses", PORT_RIF2, "router")
        nb("lsp-set-options", PORT_RIF2, f"router-port=lrp-{PORT_RIF2}")
        # the external network as the driver writes it: its switch with a localnet port (provnet-<segment>)
        # on physnet1, the gateway's router port, and the router's default route to the outside's gateway
        nb("ls-add", f"neutron-{EXT}")
        nb("lsp-add", f"neutron-{EXT}", PROVNET)
        nb("lsp-set-type", PROVNET, "localnet")
        nb("lsp-set-addresses", PROVNET, "unknown")
        nb("lsp-set-options", PROVNET, "network_name=physnet1")
        nb("lsp-add", f"neutron-{EXT}", PORT_GW)
        nb("lsp-set-type", PORT_GW, "router")
        nb("lsp-set-addresses", PORT_GW, "router")
        nb("lsp-set-options", PORT_GW, f"router-port=lrp-{PORT_GW}")
        nb("lr-route-add", f"neutron-{ROUTER}", "0.0.0.0/0", "172.24.4.1")
        started.sbctl("chassis-add", "chassis-2", "geneve", "127.0.0.3")
        started.sbctl("set", "Chassis", "chassis-2", f"hostname={HOST_B}")
        wait_until(lambda: _sb_computed(started), what="northd computing Port_Binding")
        wait_until(lambda: PORT_B in started.sbctl("--bare", "--columns=logical_port", "list", "Port_Binding"),
                   what="the second port's binding")  # fmt: skip
        started.sbctl("lsp-bind", PORT_VM, "chassis-1")
        started.sbctl("lsp-bind", PORT_B, "chassis-2")
        wait_until(lambda: PORT_C in started.sbctl("--bare", "--columns=logical_port", "list", "Port_Binding"),
                   what="private2's port binding")  # fmt: skip
        started.sbctl("lsp-bind", PORT_C, "chassis-2")
        started.sbctl("lsp-bind", f"cr-lrp-{PORT_GW}", "chassis-1")
        wait_until(lambda: started.nbctl("get", "Logical_Switch_Port", PORT_B, "up") == "true", what="up")
        yield started


def graph_of(dbs: OvnDbs, reports: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    cloud = neutron_snapshot()
    cloud["ports"].append(port(PORT_B, "compute:nova", NET, "vm-b", "10.0.0.6", security_groups=[SG],
                               **{"binding:host_id": HOST_B, "mac_address": MAC_B}))  # fmt: skip
    cloud["security_group_rules"] = RULES
    cloud["networks"].append({"id": NET2, "name": "private2", "project_id": PROJECT, "status": "ACTIVE"})
    cloud["subnets"].append({"id": SUBNET2, "network_id": NET2, "cidr": "10.0.1.0/24", "ip_version": 4,
                             "gateway_ip": "10.0.1.1", "project_id": PROJECT})  # fmt: skip
    on_private2 = [{"subnet_id": SUBNET2, "ip_address": "10.0.1.5"}]
    extra = {"binding:host_id": HOST_B, "mac_address": MAC_C, "fixed_ips": on_private2}
    cloud["ports"].append(port(PORT_C, "compute:nova", NET2, "vm-c", "10.0.1.5", security_groups=[SG], **extra))
    cloud["ports"].append(port(PORT_RIF2, "network:router_interface", NET2, ROUTER, "10.0.1.1",
                               fixed_ips=[{"subnet_id": SUBNET2, "ip_address": "10.0.1.1"}]))  # fmt: skip
    cloud["subnets"].append({"id": "ext-subnet", "network_id": EXT, "cidr": "172.24.4.0/24", "ip_version": 4,
                             "gateway_ip": "172.24.4.1", "project_id": "admin"})  # fmt: skip
    macs = {PORT_VM: VM_MAC, PORT_RIF: RIF_MAC, PORT_GW: GW_MAC, PORT_RIF2: MAC_RIF2}  # Neutron's, as the LSPs'
    for each in cloud["ports"]:
        each["mac_address"] = macs.get(each["id"], each["mac_address"])
    cloud[OVN_SNAPSHOT_KEY] = collect_ovn(OvnRemotes(dbs.nb, dbs.sb, timeout=5))
    return join(cloud, reports or {}).to_dict()


def trace(dbs: OvnDbs, src_mac: str, src_ip: str, dst_mac: str, dst_ip: str, inport: str) -> dict[str, Any]:
    args = {"datapath": f"neutron-{NET}", "inport": inport, "eth_src": src_mac, "eth_dst": dst_mac,
            "ip_src": src_ip, "ip_dst": dst_ip, "ip_ttl": 64, "proto": "icmp", "icmp_type": 8,
            "ct": [["trk", "new"]]}  # a first echo request: a new connection for the stateful ACLs  # fmt: skip
    result = run_probe("ovn_trace", args, timeout=20, ovn_sb_db=dbs.sb)
    assert result["ok"], result
    parsed: dict[str, Any] = result["parsed"]
    return parsed


def test_same_network_across_two_chassis_is_one_logical_switch_and_a_geneve_tunnel(dbs: OvnDbs) -> None:
    answer = explain(graph_of(dbs), {}, g.port_id(PORT_VM), g.port_id(PORT_B))
    assert answer["scenario"] == "same-network-ovn" and answer["verdict"] == "ok", answer
    whats = [h["what"] for h in answer["hops"]]
    assert any("bound on chassis chassis-1" in w for w in whats) and any(
        "bound on chassis chassis-2" in w for w in whats
    )
    assert any(w.startswith(f"logical switch neutron-{NET}") for w in whats)
    assert "Geneve tunnel controller (127.0.0.2) -> compute2 (127.0.0.3)" in whats
    # OVN's own answer for the same packet: delivered to the destination's port
    assert trace(dbs, VM_MAC, "10.0.0.5", MAC_B, "10.0.0.6", PORT_VM)["delivered_to"] == PORT_B


def test_east_west_is_routed_by_the_distributed_router_on_the_senders_chassis(dbs: OvnDbs) -> None:
    answer = explain(graph_of(dbs), {}, g.port_id(PORT_VM), g.port_id(PORT_C))
    assert answer["scenario"] == "east-west-ovn" and answer["verdict"] == "ok", answer
    whats = [h["what"] for h in answer["hops"]]
    router = next(w for w in whats if w.startswith(f"logical router neutron-{ROUTER} (router1)"))
    assert "on the sender's chassis" in router
    assert [w.split(":")[0] for w in whats if w.startswith("logical switch")] == [
        f"logical switch neutron-{NET}",
        f"logical switch neutron-{NET2}",
    ]
    assert "Geneve tunnel controller (127.0.0.2) -> compute2 (127.0.0.3)" in whats
    # OVN routes the same packet to private2's port (the router's MAC as the first hop's destination)
    args = {"datapath": f"neutron-{NET}", "inport": PORT_VM, "eth_src": VM_MAC, "eth_dst": RIF_MAC,
            "ip_src": "10.0.0.5", "ip_dst": "10.0.1.5", "ip_ttl": 64, "proto": "icmp", "icmp_type": 8}  # fmt: skip
    traced = run_probe("ovn_trace", args, timeout=20, ovn_sb_db=dbs.sb)["parsed"]
    assert traced["delivered_to"] == PORT_C


def test_a_port_no_chassis_claims_is_broken_at_that_port(dbs: OvnDbs) -> None:
    dbs.sbctl("lsp-unbind", PORT_B)
    try:
        answer = explain(graph_of(dbs), {}, g.port_id(PORT_VM), g.port_id(PORT_B))
        assert answer["verdict"] == "broken"
        [problem] = [p for p in answer["problems"] if p["code"] == "port_unbound"]
        assert problem["node"] == g.port_id(PORT_B) and "bound on no chassis" in problem["message"]
        assert answer["hops"][-1]["node"] == g.port_id(PORT_B) and answer["hops"][-1]["status"] == "fail"
    finally:
        dbs.sbctl("lsp-bind", PORT_B, "chassis-2")


def test_north_south_snat_crosses_to_the_gateway_chassis(dbs: OvnDbs) -> None:
    answer = explain(graph_of(dbs), {}, g.port_id(PORT_B), "203.0.113.10")
    assert answer["scenario"] == "north-south-snat-ovn" and answer["verdict"] == "ok", answer
    whats = [h["what"] for h in answer["hops"]]
    assert "Geneve tunnel compute2 (127.0.0.3) -> controller (127.0.0.2)" in whats
    assert any(w.startswith("SNATs 10.0.0.6 to 172.24.4.10 on the gateway chassis") for w in whats), whats


def test_a_distributed_floating_ip_leaves_from_the_vms_own_chassis(dbs: OvnDbs) -> None:
    answer = explain(graph_of(dbs), {}, g.port_id(PORT_VM), "203.0.113.10")
    assert answer["scenario"] == "north-south-fip-ovn" and answer["verdict"] == "ok", answer
    whats = [h["what"] for h in answer["hops"]]
    assert any("to 172.24.4.20 on the VM's own chassis (distributed floating IP)" in w for w in whats), whats
    assert not any(w.startswith("Geneve tunnel") for w in whats)


def test_a_gateway_no_chassis_holds_is_broken_at_the_router(dbs: OvnDbs) -> None:
    dbs.sbctl("lsp-unbind", f"cr-lrp-{PORT_GW}")
    try:
        answer = explain(graph_of(dbs), {}, g.port_id(PORT_B), "203.0.113.10")
        assert answer["verdict"] == "broken"
        assert [p["code"] for p in answer["problems"]] == ["ovn_no_gateway_chassis"]
    finally:
        dbs.sbctl("lsp-bind", f"cr-lrp-{PORT_GW}", "chassis-1")


def test_a_chassis_whose_ovn_controller_is_away_is_the_broken_hop(dbs: OvnDbs) -> None:
    section = {"chassis": {"system_id": "chassis-2", "remote": dbs.sb, "encap_type": "geneve",
                           "encap_ip": "127.0.0.3", "bridge_mappings": {}, "cms_options": []},
               "controller": {"connection": None, "error": "ovn-controller does not answer"}}  # fmt: skip
    report = {"version": 1, "host": HOST_B, "collected_at": "2026-12-07T02:00:00Z", "tunnel_ip": None,
              "namespaces": [], "interfaces": [], "ovs": {"bridges": [], "flows": {}}, "ovn": section}  # fmt: skip
    answer = explain(graph_of(dbs, {HOST_B: report}), {}, g.port_id(PORT_B), g.port_id(PORT_VM))
    assert answer["verdict"] == "broken"
    [problem] = [p for p in answer["problems"] if p["code"] == "ovn_controller_down"]
    assert problem["node"] == g.host_id(HOST_B)


def test_a_security_group_without_the_icmp_rule_agrees_with_the_acl_ovn_traces(dbs: OvnDbs) -> None:
    """Neutron's rules judge the walk; the port group's ACLs, as northd compiled them, judge ovn-trace (a drop ACL
    stands in for the rule's removal: ovn-trace reads the ACLs, not Neutron's rules)."""
    graph = graph_of(dbs)
    rules_node = next(n for n in graph["nodes"] if n["id"] == g.secgroup_id(SG))
    rules_node["attrs"]["rules"] = [r for r in rules_node["attrs"].get("rules", []) if r.get("protocol") != "icmp"]
    answer = explain(graph, {}, g.port_id(PORT_B), g.port_id(PORT_VM))
    assert answer["verdict"] == "broken" and "sg_no_ingress" in [p["code"] for p in answer["problems"]]
    drop = f"outport == @{PG} && icmp4"  # above the group's allow-related ICMP ACL, as a rule removed leaves it
    dbs.nbctl("--type=port-group", "acl-add", PG, "to-lport", "1003", drop, "drop")
    try:
        wait_until(lambda: trace(dbs, MAC_B, "10.0.0.6", VM_MAC, "10.0.0.5", PORT_B)["delivered_to"] is None,
                   timeout=20, what="northd dropping ICMP to the port")  # fmt: skip
        last = trace(dbs, MAC_B, "10.0.0.6", VM_MAC, "10.0.0.5", PORT_B)
        dropped = last["dropped_at"]
        assert dropped is not None and dropped["stage"] == "ls_out_acl" and drop in dropped["match"]
    finally:
        dbs.nbctl("--type=port-group", "acl-del", PG, "to-lport", "1003", drop)
    wait_until(lambda: trace(dbs, MAC_B, "10.0.0.6", VM_MAC, "10.0.0.5", PORT_B)["delivered_to"] == PORT_VM,
               timeout=20, what="ICMP delivered again")  # fmt: skip


def test_a_chassis_behind_the_nb_is_a_warning_on_the_walk_that_crosses_it(dbs: OvnDbs) -> None:
    """compute2's chassis has no ovn-controller here: given its Chassis_Private (as a controller that stopped
    leaves it), a bump of the NB's nb_cfg leaves it behind for real; the walk through it warns, not fails."""
    uuid = dbs.sbctl("--bare", "--columns=_uuid", "find", "Chassis", "name=chassis-2")
    dbs.sbctl("create", "Chassis_Private", "name=chassis-2", f"chassis={uuid}", "nb_cfg=0")
    try:
        dbs.nbctl("--wait=sb", "sync")
        wanted = int(dbs.nbctl("get", "NB_Global", ".", "nb_cfg"))
        answer = explain(graph_of(dbs), {}, g.port_id(PORT_B), g.port_id(PORT_VM))
    finally:
        dbs.sbctl("destroy", "Chassis_Private", dbs.sbctl("--bare", "--columns=_uuid", "find", "Chassis_Private",
                                                         "name=chassis-2"))  # fmt: skip
    assert answer["verdict"] == "ok", answer["problems"]
    [problem] = answer["problems"]
    assert problem["code"] == "ovn_chassis_behind" and problem["severity"] == "warn", problem
    assert problem["node"] == g.host_id(HOST_B) and f"applied NB configuration 0 of {wanted}" in problem["message"]
    hop = next(h for h in answer["hops"] if h["node"] == g.host_id(HOST_B))
    assert hop["status"] == "warn", hop
    # caught up (the row gone: nothing to say), no warning
    again = explain(graph_of(dbs), {}, g.port_id(PORT_B), g.port_id(PORT_VM))
    assert again["verdict"] == "ok" and again["problems"] == [], again["problems"]
