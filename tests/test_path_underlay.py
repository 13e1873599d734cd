"""The tunnel's underlay MTU (topology/path/underlay.py): a VXLAN network's full-size packet is its MTU plus
50 bytes on the wire (VXLAN 30, outer IPv4 20); when a device on the tunnel address's way is narrower, the
tunnel hop warns and names it. The lab's netnode test makes the same state for real (tests/
test_path_netnode_lab.py: a DF ping of the full size fails while a small one passes)."""

from __future__ import annotations

from collections.abc import Callable

from bench.synthetic import iface, ovs_iface
from tests.diagnosis_clouds import COMPUTE, NET0, NETWORK_NODE, OUTSIDE, JsonDict, diagnosed, legacy, the_problem
from topology.path import underlay

Break = Callable[[JsonDict, dict[str, JsonDict]], None]


def nic(mtus: dict[str, int]) -> Break:
    """Each host's tunnel address on a NIC ``eth2`` of the given MTU (in the root namespace)."""

    def make(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        for host, mtu in mtus.items():
            device = iface("eth2", "device", addresses=[f"{reports[host]['tunnel_ip']}/24"])
            reports[host]["interfaces"].append({**device, "mtu": mtu})

    return make


def phy_bridge(host: str, wire_mtu: int) -> Break:
    """``host``'s tunnel address on an OVS bridge's internal port (br-phy, MTU 1500), its wire ``eth2`` narrower:
    OVS's userspace datapath sends the outer packet by the bridge's system port."""

    def make(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        report = reports[host]
        internal = iface("br-phy", "tun", addresses=[f"{report['tunnel_ip']}/24"])
        report["interfaces"] += [{**internal, "mtu": 1500}, {**iface("eth2", "device"), "mtu": wire_mtu}]
        ports = [ovs_iface("br-phy", kind="internal"), ovs_iface("eth2", ofport=2)]
        report["ovs"]["bridges"].append(
            {
                "name": "br-phy",
                "datapath_type": "netdev",
                "fail_mode": None,
                "ports": [{"name": p["name"], "tag": None, "interfaces": [p]} for p in ports],
            }
        )

    return make


def network_mtu(mtu: int) -> Break:
    def make(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        next(n for n in cloud["networks"] if n["id"] == NET0)["mtu"] = mtu

    return make


def tunnel_hop(result: JsonDict, host: str) -> JsonDict:
    return next(h for h in result["hops"] if h["host"] == host and "encapsulated in vxlan" in h["what"])


def test_a_narrow_nic_on_the_receiving_host_warns_on_the_sending_tunnel_port() -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, nic({COMPUTE: 1500, NETWORK_NODE: 1400}))
    assert result["verdict"] == "ok"
    problem = the_problem(result, "vxlan_mtu_too_high", "warn")
    hop = tunnel_hop(result, COMPUTE)
    assert problem["node"] == hop["node"] and hop["status"] == "warn"
    assert f"eth2 on {NETWORK_NODE}" in problem["message"] and "has MTU 1400" in problem["message"]
    assert "1500 bytes in vxlan" in problem["message"] and "over 1350 bytes are lost" in problem["message"]
    assert [h for h in result["hops"] if h["status"] not in ("ok",)] == [hop]


def test_the_bridges_wire_is_the_narrowest_device_on_the_way() -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, nic({NETWORK_NODE: 1500}), phy_bridge(COMPUTE, 1480))
    problem = the_problem(result, "vxlan_mtu_too_high", "warn")
    assert f"eth2 on {COMPUTE}" in problem["message"] and "MTU 1480" in problem["message"]


def test_an_underlay_wide_enough_warns_of_nothing() -> None:
    assert diagnosed(legacy, "vm-1", OUTSIDE, nic({COMPUTE: 1500, NETWORK_NODE: 1500}))["problems"] == []
    assert diagnosed(legacy, "vm-1", OUTSIDE, phy_bridge(COMPUTE, 1500), nic({NETWORK_NODE: 1500}))["problems"] == []


def test_a_jumbo_underlay_carries_a_1500_byte_network() -> None:
    """Without the underlay the walk can only guess (a 1500 MTU over VXLAN warns); shown 9000, it knows."""
    guessed = diagnosed(legacy, "vm-1", OUTSIDE, network_mtu(1500))
    assert the_problem(guessed, "vxlan_mtu_too_high", "warn")["node"] == f"network:{NET0}"
    known = diagnosed(legacy, "vm-1", OUTSIDE, network_mtu(1500), nic({COMPUTE: 9000, NETWORK_NODE: 9000}))
    assert known["problems"] == []
    narrow = diagnosed(legacy, "vm-1", OUTSIDE, network_mtu(1500), nic({COMPUTE: 9000, NETWORK_NODE: 1500}))
    assert "raise the underlay's MTU to 1550, or the network's MTU to 1450 or less" in narrow["problems"][0]["message"]


def test_the_overheads_are_neutrons() -> None:
    assert underlay.needed(1450, "vxlan", "10.0.0.1") == 1500
    assert underlay.needed(1458, "gre", "10.0.0.1") == 1500
    assert underlay.needed(1450, "geneve", "fd00::1") == 1520
    assert underlay.too_small(1450, "vxlan", [None, None]) is None
