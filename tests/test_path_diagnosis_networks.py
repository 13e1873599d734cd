"""The explainer's diagnoses of tenant networks and tunnels: MTU, the DHCP port, VXLAN tunnel ports."""

from __future__ import annotations

import pytest

from tests.diagnosis_clouds import (
    COMPUTE,
    DHCP_PORT,
    NET0,
    NETWORK_NODE,
    OUTSIDE,
    JsonDict,
    diagnosed,
    failed_hops,
    instance,
    legacy,
    port,
    the_failed_hop,
    the_problem,
    tunnel_ports_gone,
)

# --------------------------------------------------------------------------- tenant networks and tunnels


def test_a_vxlan_network_with_a_1500_mtu_works_with_a_warning() -> None:
    def mtu_1500(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        next(n for n in cloud["networks"] if n["id"] == NET0)["mtu"] = 1500

    result = diagnosed(legacy, "vm-1", OUTSIDE, mtu_1500)
    assert result["verdict"] == "ok"
    problem = the_problem(result, "vxlan_mtu_too_high", "warn")
    assert problem["node"] == f"network:{NET0}"
    assert "network net-0 has MTU 1500 over VXLAN" in problem["message"] and "1450" in problem["message"]
    assert failed_hops(result) == []


def test_a_dhcp_enabled_subnet_without_its_dhcp_port() -> None:
    def dhcp_port_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        cloud["ports"].remove(port(cloud, DHCP_PORT))

    result = diagnosed(legacy, "vm-1", OUTSIDE, dhcp_port_gone)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "no_dhcp_port")
    assert "subnet 10.0.0.0/24 has DHCP enabled but no DHCP port" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, "src") and hop["host"] == COMPUTE


@pytest.mark.parametrize(
    ("gone_on", "sender", "receiver"),
    [
        (COMPUTE, COMPUTE, NETWORK_NODE),  # no way out of the sender
        (NETWORK_NODE, COMPUTE, NETWORK_NODE),  # no port back: OVS on the receiver drops the packet
    ],
)
def test_a_missing_vxlan_tunnel_port(gone_on: str, sender: str, receiver: str) -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, tunnel_ports_gone(gone_on))
    assert result["verdict"] == "broken"
    problem = the_problem(result, "no_tunnel")
    if gone_on == sender:
        assert f"no vxlan tunnel port from {sender} to {receiver}" in problem["message"]
    else:
        assert f"no vxlan tunnel port from {receiver} back to {sender}" in problem["message"]
    assert the_failed_hop(result)["node"] == f"bridge:{gone_on}:br-tun"
