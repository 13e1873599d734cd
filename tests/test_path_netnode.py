"""Seed 003's shape without a lab: the VM on a compute node, its legacy router's qrouter- and its network's
qdhcp- on the network node (tests/diagnosis_clouds.py `legacy`: vm-1 on compute0001, router-0 and DHCP on
compute0000). The walk crosses the tunnel and then the network node's own br-int before the qr- or the
DHCP port's tap, and the way back crosses the compute node's br-int before the VM's qvo."""

from __future__ import annotations

from typing import Any

from tests.diagnosis_clouds import COMPUTE, DHCP_PORT, NETWORK_NODE, OUTSIDE, QROUTER, legacy, port, walk

JsonDict = dict[str, Any]


def nodes_of(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"]]


def after_the_tunnel(result: JsonDict, src: str, dst: str) -> list[str]:
    """The hops from `src`'s br-tun on: it, the two tunnel ports, `dst`'s br-tun, and what follows."""
    hops = nodes_of(result)
    at = hops.index(f"bridge:{src}:br-tun")
    assert hops[at + 1].startswith(f"iface:{src}:-:vxlan-") and hops[at + 2].startswith(f"iface:{dst}:-:vxlan-")
    return hops[at + 3 :]


def test_out_to_the_network_nodes_qrouter_crosses_its_br_int_first() -> None:
    result = walk(legacy(), "vm-1", OUTSIDE)
    assert (result["scenario"], result["verdict"]) == ("north-south-fip", "ok"), result["problems"]
    hops = nodes_of(result)
    assert hops.index(f"bridge:{COMPUTE}:br-int") < hops.index(f"bridge:{COMPUTE}:br-tun")
    rest = after_the_tunnel(result, COMPUTE, NETWORK_NODE)
    assert rest[:2] == [f"bridge:{NETWORK_NODE}:br-tun", f"bridge:{NETWORK_NODE}:br-int"], rest
    assert f":{QROUTER}:qr-" in rest[3] or f":{QROUTER}:qr-" in rest[2], rest
    came_in = next(h for h in result["hops"] if h["node"] == f"bridge:{NETWORK_NODE}:br-int")
    assert "patch-tun" in came_in["what"] and came_in["status"] == "ok"


def test_in_from_the_network_nodes_qrouter_crosses_the_compute_nodes_br_int_before_the_vm() -> None:
    result = walk(legacy(), OUTSIDE, "fip:vm-1")
    assert (result["scenario"], result["verdict"]) == ("inbound-fip", "ok"), result["problems"]
    rest = after_the_tunnel(result, NETWORK_NODE, COMPUTE)
    assert rest[:2] == [f"bridge:{COMPUTE}:br-tun", f"bridge:{COMPUTE}:br-int"], rest
    assert rest[2].startswith(f"iface:{COMPUTE}:-:qvo"), rest


def test_to_the_network_nodes_dhcp_port_crosses_its_br_int_to_the_tap() -> None:
    cloud = legacy()
    address = port(cloud[0], DHCP_PORT)["fixed_ips"][0]["ip_address"]
    result = walk(cloud, "vm-1", address)
    assert result["verdict"] == "ok", result["problems"]
    rest = after_the_tunnel(result, COMPUTE, NETWORK_NODE)
    assert rest[:2] == [f"bridge:{NETWORK_NODE}:br-tun", f"bridge:{NETWORK_NODE}:br-int"], rest
    assert rest[-1].startswith(f"netns:{NETWORK_NODE}:qdhcp-"), rest


def test_a_failed_crossing_stops_at_the_sending_br_tun() -> None:
    from tests.diagnosis_clouds import diagnosed, tunnel_ports_gone

    result = diagnosed(legacy, "vm-1", OUTSIDE, tunnel_ports_gone(COMPUTE))
    assert result["verdict"] == "broken"
    hops = nodes_of(result)
    failed = hops.index(f"bridge:{COMPUTE}:br-tun")
    assert result["hops"][failed]["status"] == "fail"
    # the crossing stops at the failed br-tun: neither the network node's br-tun nor its br-int follow it
    assert hops[failed + 1] not in (f"bridge:{NETWORK_NODE}:br-tun", f"bridge:{NETWORK_NODE}:br-int"), hops
    assert f"bridge:{NETWORK_NODE}:br-tun" not in hops
