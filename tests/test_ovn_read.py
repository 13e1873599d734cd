"""topology/ovn reads real OVN databases: NB + SB ovsdb-servers and ovn-northd started in tmp_path.

No Neutron and no lab: the NB is written with ovn-nbctl the way Neutron's OVN driver names things
(../shared/OVN.md), a chassis is registered with ``ovn-sbctl chassis-add`` (no ovn-controller),
and northd computes Datapath_Binding/Port_Binding for real.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.ovn_dbs import OvnDbs, ovn_databases, wait_until
from topology.ovn.connection import NB_SCHEMA, OvnUnavailable
from topology.ovn.northbound import read_northbound
from topology.ovn.southbound import read_southbound

pytestmark = pytest.mark.ovn

NET = "6a1e0d3e-9a55-4a8e-9f0c-1d2f3a4b5c6d"
PORT_VM = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
PORT_RIF = "1c2d3e4f-5061-4b7c-9d8e-0f1a2b3c4d5e"
PORT_GW = "2d3e4f50-6172-4c8d-ae9f-1a2b3c4d5e6f"
ROUTER = "3e4f5061-7283-4d9e-bfa0-2b3c4d5e6f70"
SG = "4f506172-8394-4eaf-80b1-3c4d5e6f7081"
PG = "pg_" + SG.replace("-", "_")
SUBNET = "50617283-94a5-4fb0-91c2-4d5e6f708192"
FIP = "61728394-a5b6-4fc1-a2d3-5e6f708192a3"
VM_MAC = "fa:16:3e:11:22:33"
RIF_MAC = "fa:16:3e:44:55:66"
GW_MAC = "fa:16:3e:77:88:99"


def _populate(dbs: OvnDbs) -> dict[str, str]:
    """What Neutron's OVN driver writes for one network, one VM port, a router with a gateway and a FIP."""
    nb = dbs.nbctl
    ls = f"neutron-{NET}"
    nb("ls-add", ls, "--", "set", "Logical_Switch", ls, "external_ids:neutron\\:network_name=private")
    nb("lsp-add", ls, PORT_VM)
    nb("lsp-set-addresses", PORT_VM, f"{VM_MAC} 10.0.0.5")
    nb("lsp-set-port-security", PORT_VM, f"{VM_MAC} 10.0.0.5")
    nb("set", "Logical_Switch_Port", PORT_VM, 'external_ids:"neutron:device_owner"="compute:nova"')
    nb("lsp-add", ls, PORT_RIF)
    nb("lsp-set-type", PORT_RIF, "router")
    nb("lsp-set-addresses", PORT_RIF, "router")
    nb("lsp-set-options", PORT_RIF, f"router-port=lrp-{PORT_RIF}")
    nb("set", "Logical_Switch_Port", PORT_RIF, 'external_ids:"neutron:device_owner"="network:router_interface"')

    lr = f"neutron-{ROUTER}"
    nb("lr-add", lr, "--", "set", "Logical_Router", lr, "external_ids:neutron\\:router_name=router1")
    nb("lrp-add", lr, f"lrp-{PORT_RIF}", RIF_MAC, "10.0.0.1/24")
    nb("lrp-add", lr, f"lrp-{PORT_GW}", GW_MAC, "172.24.4.10/24")
    nb("lrp-set-gateway-chassis", f"lrp-{PORT_GW}", "chassis-1", "1")
    nb("lr-nat-add", lr, "snat", "172.24.4.10", "10.0.0.0/24")
    nb("lr-nat-add", lr, "dnat_and_snat", "172.24.4.20", "10.0.0.5", PORT_VM, VM_MAC)
    fip_uuid = nb("--bare", "--columns=_uuid", "find", "NAT", "type=dnat_and_snat")
    nb("set", "NAT", fip_uuid, f'external_ids:"neutron:fip_id"="{FIP}"')

    nb("pg-add", PG, PORT_VM, "--", "set", "Port_Group", PG, f'external_ids:"neutron:security_group_id"="{SG}"')
    nb("--type=port-group", "acl-add", PG, "to-lport", "1002", f"outport == @{PG} && ip4 && icmp4", "allow-related")
    nb("--type=port-group", "acl-add", PG, "from-lport", "1002", f"inport == @{PG} && ip4", "allow-related")
    icmp_acl = nb("--bare", "--columns=_uuid", "find", "ACL", "direction=to-lport")
    nb("set", "ACL", icmp_acl, 'external_ids:"neutron:security_group_rule_id"="rule-icmp"')
    nb("create", "Address_Set", f"name={PG}_ip4", 'addresses="10.0.0.5"')

    dhcp = nb("dhcp-options-create", "10.0.0.0/24", f"subnet_id={SUBNET}")
    dhcp = dhcp or nb("--bare", "--columns=_uuid", "find", "DHCP_Options", "cidr=10.0.0.0/24")
    nb("dhcp-options-set-options", dhcp, "lease_time=43200", "router=10.0.0.1", "server_id=10.0.0.1",
       f"server_mac={RIF_MAC}", "mtu=1442")  # fmt: skip
    nb("set", "Logical_Switch_Port", PORT_VM, f"dhcpv4_options={dhcp}")

    nb("ha-chassis-group-add", "default_ha_chassis_group")
    nb("ha-chassis-group-add-chassis", "default_ha_chassis_group", "chassis-1", "32767")
    nb("lb-add", "lb-web", "10.0.0.100:80", "10.0.0.5:8080", "tcp")

    dbs.sbctl("chassis-add", "chassis-1", "geneve", "127.0.0.2")
    dbs.sbctl("set", "Chassis", "chassis-1", "hostname=controller",
              'other_config:ovn-cms-options="enable-chassis-as-gw"')  # fmt: skip
    return {"dhcp": dhcp, "fip_nat": fip_uuid, "icmp_acl": icmp_acl}


def _sb_computed(dbs: OvnDbs) -> bool:
    ports = dbs.sbctl("--bare", "--columns=logical_port", "list", "Port_Binding").split()
    return f"cr-lrp-{PORT_GW}" in ports and PORT_VM in ports


@pytest.fixture(scope="module")
def ovn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OvnDbs, dict[str, str]]]:
    with ovn_databases(tmp_path_factory.mktemp("ovn")) as dbs:
        made = _populate(dbs)
        wait_until(lambda: _sb_computed(dbs), what="northd computing Port_Binding")
        # Stands in for ovn-controller claiming the VM's port: sets Port_Binding chassis (and up, on
        # 23.03); northd then reports the NB port up.
        dbs.sbctl("lsp-bind", PORT_VM, "chassis-1")
        wait_until(lambda: dbs.nbctl("get", "Logical_Switch_Port", PORT_VM, "up") == "true", what="LSP up")
        yield dbs, made


def _one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


def test_northbound_switches_and_ports(ovn: tuple[OvnDbs, dict[str, str]]) -> None:
    dbs, made = ovn
    nb = read_northbound(dbs.nb, timeout=5)
    ls = _one(nb["logical_switches"], name=f"neutron-{NET}")
    assert ls["external_ids"] == {"neutron:network_name": "private"}
    lsps = {p["name"]: p for p in nb["logical_switch_ports"]}
    assert sorted(p["name"] for p in ls["ports"]) == sorted([PORT_VM, PORT_RIF])
    assert {p["uuid"] for p in ls["ports"]} == {lsps[PORT_VM]["uuid"], lsps[PORT_RIF]["uuid"]}
    vm = lsps[PORT_VM]
    assert vm["logical_switch"] == f"neutron-{NET}"
    assert vm["type"] == ""
    assert vm["addresses"] == [f"{VM_MAC} 10.0.0.5"]
    assert vm["port_security"] == [f"{VM_MAC} 10.0.0.5"]
    assert vm["external_ids"] == {"neutron:device_owner": "compute:nova"}
    assert vm["up"] is True  # bound to chassis-1 (lsp-bind): northd says so
    assert vm["enabled"] is None  # unset (OVN treats it as enabled)
    assert vm["dhcpv4_options"] == [made["dhcp"]]
    rif = lsps[PORT_RIF]
    assert (rif["type"], rif["addresses"], rif["options"]) == ("router", ["router"], {"router-port": f"lrp-{PORT_RIF}"})
    assert rif["external_ids"]["neutron:device_owner"] == "network:router_interface"


def test_northbound_router_ports_gateway_and_nat(ovn: tuple[OvnDbs, dict[str, str]]) -> None:
    dbs, made = ovn
    nb = read_northbound(dbs.nb, timeout=5)
    lr = _one(nb["logical_routers"], name=f"neutron-{ROUTER}")
    assert lr["external_ids"] == {"neutron:router_name": "router1"}
    assert lr["ports"] == sorted([f"lrp-{PORT_RIF}", f"lrp-{PORT_GW}"])
    lrps = {p["name"]: p for p in nb["logical_router_ports"]}
    assert (lrps[f"lrp-{PORT_RIF}"]["networks"], lrps[f"lrp-{PORT_RIF}"]["mac"]) == (["10.0.0.1/24"], RIF_MAC)
    gw = lrps[f"lrp-{PORT_GW}"]
    assert (gw["networks"], gw["mac"], gw["logical_router"]) == (["172.24.4.10/24"], GW_MAC, f"neutron-{ROUTER}")
    assert [(g["chassis_name"], g["priority"]) for g in gw["gateway_chassis"]] == [("chassis-1", 1)]
    assert lrps[f"lrp-{PORT_RIF}"]["gateway_chassis"] == []
    assert [g["name"] for g in nb["gateway_chassis"]] == [f"lrp-{PORT_GW}-chassis-1"]

    nats = {n["type"]: n for n in nb["nat"]}
    assert sorted(nats) == ["dnat_and_snat", "snat"]
    assert len(nb["nat"]) == 2 and sorted(lr["nat"]) == sorted(n["uuid"] for n in nb["nat"])
    snat = nats["snat"]
    assert (snat["external_ip"], snat["logical_ip"], snat["external_mac"], snat["logical_port"]) == (
        "172.24.4.10", "10.0.0.0/24", None, None,
    )  # fmt: skip
    fip = nats["dnat_and_snat"]
    assert fip["uuid"] == made["fip_nat"]
    assert (fip["external_ip"], fip["logical_ip"], fip["external_mac"], fip["logical_port"]) == (
        "172.24.4.20", "10.0.0.5", VM_MAC, PORT_VM,
    )  # fmt: skip
    assert fip["external_ids"] == {"neutron:fip_id": FIP}
    assert {n["logical_router"] for n in nb["nat"]} == {f"neutron-{ROUTER}"}


def test_northbound_security_groups_dhcp_ha_lb_global(ovn: tuple[OvnDbs, dict[str, str]]) -> None:
    dbs, made = ovn
    nb = read_northbound(dbs.nb, timeout=5)
    pg = _one(nb["port_groups"], name=PG)
    assert pg["ports"] == [PORT_VM]
    assert pg["external_ids"] == {"neutron:security_group_id": SG}
    acls = [a for a in nb["acls"] if a["port_group"] == PG]
    assert sorted(pg["acls"]) == sorted(a["uuid"] for a in acls) and len(acls) == 2
    icmp = _one(acls, direction="to-lport")
    assert icmp["uuid"] == made["icmp_acl"]
    assert (icmp["priority"], icmp["match"], icmp["action"]) == (
        1002,
        f"outport == @{PG} && ip4 && icmp4",
        "allow-related",
    )
    assert icmp["external_ids"] == {"neutron:security_group_rule_id": "rule-icmp"}
    assert icmp["logical_switch"] is None
    assert icmp["tier"] is None  # ACL.tier is not in OVN 23.03's schema (7.0.0): read as absent, no crash
    egress = _one(acls, direction="from-lport")
    assert (egress["match"], egress["action"]) == (f"inport == @{PG} && ip4", "allow-related")

    assert _one(nb["address_sets"], name=f"{PG}_ip4")["addresses"] == ["10.0.0.5"]
    dhcp = _one(nb["dhcp_options"], uuid=made["dhcp"])
    assert dhcp["cidr"] == "10.0.0.0/24" and dhcp["external_ids"] == {"subnet_id": SUBNET}
    assert dhcp["options"] == {
        "lease_time": "43200", "router": "10.0.0.1", "server_id": "10.0.0.1", "server_mac": RIF_MAC, "mtu": "1442",
    }  # fmt: skip
    ha = _one(nb["ha_chassis_groups"], name="default_ha_chassis_group")
    assert ha["ha_chassis"] == [{"chassis_name": "chassis-1", "priority": 32767}]
    lb = _one(nb["load_balancers"], name="lb-web")
    assert (lb["vips"], lb["protocol"]) == ({"10.0.0.100:80": "10.0.0.5:8080"}, "tcp")
    glob = nb["nb_global"]
    assert isinstance(glob["nb_cfg"], int) and isinstance(glob["sb_cfg"], int) and isinstance(glob["hv_cfg"], int)


def test_southbound_chassis_datapaths_and_bindings(ovn: tuple[OvnDbs, dict[str, str]]) -> None:
    dbs, _ = ovn
    nb = read_northbound(dbs.nb, timeout=5)
    sb = read_southbound(dbs.sb, timeout=5)
    ch = _one(sb["chassis"], name="chassis-1")
    assert ch["hostname"] == "controller"
    assert [(e["type"], e["ip"], e["chassis_name"]) for e in ch["encaps"]] == [("geneve", "127.0.0.2", "chassis-1")]
    assert ch["other_config"]["ovn-cms-options"] == "enable-chassis-as-gw"
    assert ch["cms_options"] == ["enable-chassis-as-gw"]
    assert [(e["type"], e["ip"]) for e in sb["encaps"]] == [("geneve", "127.0.0.2")]
    assert sb["chassis_private"] == []  # written by ovn-controller, which is not running here

    ls_uuid = _one(nb["logical_switches"], name=f"neutron-{NET}")["uuid"]
    lr_uuid = _one(nb["logical_routers"], name=f"neutron-{ROUTER}")["uuid"]
    dps = {d["external_ids"].get("name"): d for d in sb["datapath_bindings"]}
    assert dps[f"neutron-{NET}"]["external_ids"]["logical-switch"] == ls_uuid
    assert dps[f"neutron-{ROUTER}"]["external_ids"]["logical-router"] == lr_uuid
    assert len({d["tunnel_key"] for d in sb["datapath_bindings"]}) == len(sb["datapath_bindings"]) == 2

    pbs = {p["logical_port"]: p for p in sb["port_bindings"]}
    vm = pbs[PORT_VM]
    assert (vm["type"], vm["chassis"], vm["datapath"]) == ("", "chassis-1", dps[f"neutron-{NET}"]["uuid"])
    assert isinstance(vm["tunnel_key"], int) and vm["up"] is True
    assert pbs[PORT_RIF]["type"] == "patch" and pbs[PORT_RIF]["chassis"] is None
    assert pbs[f"lrp-{PORT_GW}"]["type"] == "patch"
    cr = pbs[f"cr-lrp-{PORT_GW}"]
    assert (cr["type"], cr["datapath"]) == ("chassisredirect", dps[f"neutron-{ROUTER}"]["uuid"])
    assert cr["options"]["distributed-port"] == f"lrp-{PORT_GW}"


def test_output_is_json_serializable(ovn: tuple[OvnDbs, dict[str, str]]) -> None:
    dbs, _ = ovn
    for read, remote in ((read_northbound, dbs.nb), (read_southbound, dbs.sb)):
        out = read(remote, timeout=5)
        assert json.loads(json.dumps(out)) == out


def test_missing_database_is_a_clear_error_within_the_timeout(tmp_path: Path) -> None:
    remote = f"unix:{tmp_path / 'nb.sock'}"  # no server there
    start = time.monotonic()
    with pytest.raises(OvnUnavailable, match=rf"{NB_SCHEMA} at {remote}: .*retrieve schema"):
        read_northbound(remote, timeout=2)
    assert time.monotonic() - start < 2.5


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    """A listener that accepts and never speaks OVSDB (a hung server): OvnUnavailable at the deadline."""
    path = tmp_path / "mute.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        start = time.monotonic()
        with pytest.raises(OvnUnavailable, match=r"no answer within 1 s"):
            read_southbound(f"unix:{path}", timeout=1)
        assert 0.9 < time.monotonic() - start < 1.5
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_second_database_is_read_not_the_first_one_again(
    ovn: tuple[OvnDbs, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """ovsdbapp keeps the connection on the API class: a second cloud must not read the first's NB."""
    first, _ = ovn
    assert _one(read_northbound(first.nb, timeout=5)["logical_switches"], name=f"neutron-{NET}")
    with ovn_databases(tmp_path_factory.mktemp("ovn2")) as second:
        second.nbctl("ls-add", "other-cloud")
        assert [s["name"] for s in read_northbound(second.nb, timeout=5)["logical_switches"]] == ["other-cloud"]
    assert _one(read_northbound(first.nb, timeout=5)["logical_switches"], name=f"neutron-{NET}")
