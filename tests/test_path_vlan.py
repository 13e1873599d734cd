"""A VLAN tenant network between two hosts (seed 004), pure: the synthetic legacy cloud's network made
``provider:network_type vlan`` on physnet1 (segmentation id 101), a provider bridge br-vlan on both
hosts with its phy-br-vlan / int-br-vlan patch and its NIC, and the OVS agent's rewrite flows as
Neutron's agent writes them (br_phys/br_int provision_local_vlan). vm-1 on compute0001 reaches its
router on compute0000 over br-vlan, never br-tun; a host without the mapping and a bridge without its
NIC are named. The real scenario is the lab's `vlan` (issue 15, tests/test_path_vlan_lab.py).
"""

from __future__ import annotations

from typing import Any

from bench.synthetic import ovs_iface
from tests.diagnosis_clouds import COMPUTE, NET0, NETWORK_NODE, OUTSIDE, Cloud, agent, legacy, walk

SEGID = 101
PHYS_FLOW = "cookie=0x1, duration=5.1s, table=0, n_packets=12, n_bytes=1176, priority=4,in_port=2,dl_vlan={tag} actions=mod_vlan_vid:101,NORMAL"  # noqa: E501
INT_FLOW = "cookie=0x2, duration=5.1s, table=0, n_packets=12, n_bytes=1176, priority=3,in_port=9,dl_vlan=101 actions=mod_vlan_vid:{tag},resubmit(,60)"  # noqa: E501


NIC = {"name": "eth2", "kind": "physical", "master": "ovs-system", "mac": "52:54:00:00:00:02", "addresses": [],
       "mtu": 1500, "state": "UP", "ifindex": 40, "netns": None}  # fmt: skip


def patch_port(name: str, peer: str, ofport: int) -> dict[str, Any]:
    return {
        "name": name,
        "tag": None,
        "interfaces": [ovs_iface(name, kind="patch", options={"peer": peer}, ofport=ofport)],
    }


def vlan_cloud(
    *, mapped_on: tuple[str, ...] = (COMPUTE, NETWORK_NODE), nic_on: tuple[str, ...] = (COMPUTE, NETWORK_NODE)
) -> Cloud:
    cloud, reports = legacy()
    network = next(n for n in cloud["networks"] if n["id"] == NET0)
    network.update({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
                    "provider:segmentation_id": SEGID})  # fmt: skip
    for host in (COMPUTE, NETWORK_NODE):
        conf = agent(cloud, host, "Open vSwitch agent")["configurations"]
        conf["bridge_mappings"] = {
            **(conf.get("bridge_mappings") or {}),
            **({"physnet1": "br-vlan"} if host in mapped_on else {}),
        }
        report = reports[host]
        bridges = report["ovs"]["bridges"]
        br_int = next(b for b in bridges if b["name"] == "br-int")
        br_int["ports"].append(patch_port("int-br-vlan", "phy-br-vlan", 9))
        ports: list[dict[str, Any]] = [patch_port("phy-br-vlan", "int-br-vlan", 2)]
        if host in nic_on:
            ports.append({"name": "eth2", "tag": None, "interfaces": [ovs_iface("eth2", ofport=3)]})
            report["interfaces"].append(NIC)
        bridges.append({"name": "br-vlan", "datapath_type": "netdev", "fail_mode": "secure", "ports": ports})
        tag = 1  # the network's local VLAN on both hosts in the synthetic cloud
        report["ovs"]["flows"]["br-vlan"] = [PHYS_FLOW.format(tag=tag)]
        report["ovs"]["flows"].setdefault("br-int", []).append(INT_FLOW.format(tag=tag))
    return cloud, reports


def nodes(result: dict[str, Any]) -> list[str]:
    return [h["node"] for h in result["hops"]]


def test_a_vlan_network_crosses_by_the_provider_bridge_with_each_rewrite_named() -> None:
    result = walk(vlan_cloud(), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok", result["problems"]
    hops = nodes(result)
    assert not any(n.endswith(":br-tun") or ":vxlan-" in n for n in hops), hops
    sent = hops.index(f"bridge:{COMPUTE}:br-vlan")
    on = f"iface:{COMPUTE}:-:"
    assert hops[sent - 2 : sent + 2] == [
        f"{on}int-br-vlan",
        f"{on}phy-br-vlan",
        f"bridge:{COMPUTE}:br-vlan",
        f"{on}eth2",
    ]
    out = result["hops"][sent]
    assert "local VLAN 1 rewritten to VLAN 101 of physical network physnet1" in out["what"]
    assert out["flows"] == [PHYS_FLOW.format(tag=1)]
    got = hops.index(f"bridge:{NETWORK_NODE}:br-vlan")
    assert hops[got - 1] == f"iface:{NETWORK_NODE}:-:eth2"
    assert hops[got + 1 : got + 4] == [
        f"iface:{NETWORK_NODE}:-:phy-br-vlan", f"iface:{NETWORK_NODE}:-:int-br-vlan", f"bridge:{NETWORK_NODE}:br-int",
    ]  # fmt: skip
    back = result["hops"][got + 3]
    assert "VLAN 101 rewritten to the local VLAN 1" in back["what"] and back["flows"] == [INT_FLOW.format(tag=1)]


def test_a_host_without_the_bridge_mapping_is_named() -> None:
    result = walk(vlan_cloud(mapped_on=(NETWORK_NODE,)), "vm-1", OUTSIDE)
    assert result["verdict"] == "broken"
    (problem,) = [p for p in result["problems"] if p["code"] == "bridge_mapping_missing"]
    assert f"bridge_mappings of {COMPUTE}'s OVS agent" in problem["message"] and "physnet1" in problem["message"]


def test_a_provider_bridge_without_its_nic_is_named_on_either_side() -> None:
    for host in (COMPUTE, NETWORK_NODE):
        others = tuple(h for h in (COMPUTE, NETWORK_NODE) if h != host)
        result = walk(vlan_cloud(nic_on=others), "vm-1", OUTSIDE)
        assert result["verdict"] == "broken", host
        (problem,) = [p for p in result["problems"] if p["code"] == "provider_no_physical_port"]
        assert f"br-vlan on {host} has no port onto the physical network" in problem["message"]


def test_openflow_13_rewrites_are_read_as_vlan_ids() -> None:
    """The node agent dumps flows in OpenFlow 1.3 (the real agent's, scenario vlan): the VID carries 4096."""
    cloud, reports = vlan_cloud()
    for host in (COMPUTE, NETWORK_NODE):
        flows = reports[host]["ovs"]["flows"]
        flows["br-vlan"] = [f.replace("mod_vlan_vid:101,", "set_field:4197->vlan_vid,") for f in flows["br-vlan"]]
        flows["br-int"] = [f.replace("mod_vlan_vid:1,", "set_field:4097->vlan_vid,") for f in flows["br-int"]]
    result = walk((cloud, reports), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok", result["problems"]
    out = next(h for h in result["hops"] if h["node"] == f"bridge:{COMPUTE}:br-vlan")
    assert out["flows"] and "set_field:4197->vlan_vid" in out["flows"][0]
    assert out["evidence"].startswith("set_field:4197->vlan_vid sets VLAN 101")
    back = next(h for h in result["hops"] if h["node"] == f"bridge:{NETWORK_NODE}:br-int" and "rewritten" in h["what"])
    assert "set_field:4097->vlan_vid sets VLAN 1" in back["evidence"], back
