"""The explainer's diagnoses of routers and the external network: namespaces, gateway devices, FIPs, mappings."""

from __future__ import annotations

import pytest

from bench.synthetic import mac, uid
from tests.diagnosis_clouds import (
    COMPUTE,
    FG_PORT,
    FIP_NS,
    GW_PORT,
    NET0,
    NETWORK_NODE,
    OUTSIDE,
    PUBLIC,
    QR_PORT,
    QROUTER,
    VM1_PORT,
    Break,
    JsonDict,
    diagnosed,
    dvr,
    fg_gone,
    instance,
    legacy,
    mapping_dropped,
    physnet_renamed,
    port,
    qg_gone,
    qrouter_gone,
    the_failed_hop,
    the_problem,
)

# --------------------------------------------------------------------------- routers


@pytest.mark.parametrize(("src", "dst"), [("vm-1", OUTSIDE), (OUTSIDE, "fip:vm-1")])
def test_a_legacy_qrouter_namespace_gone(src: str, dst: str) -> None:
    """Named on the host the router's ports are bound to, and the walk stops there: no guesses past it."""
    result = diagnosed(legacy, src, dst, qrouter_gone)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "namespace_missing")
    assert f"{QROUTER} of router router-0 is missing on {NETWORK_NODE}" in problem["message"]
    hop = the_failed_hop(result)
    assert (hop["node"], hop["host"]) == (f"host:{NETWORK_NODE}", NETWORK_NODE) and hop is result["hops"][-1]


@pytest.mark.parametrize(("src", "dst"), [("vm-1", OUTSIDE), (OUTSIDE, "fip:vm-1")])
def test_a_gateway_without_its_qg_device(src: str, dst: str) -> None:
    result = diagnosed(legacy, src, dst, qg_gone)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "no_qg_port")
    assert f"no qg-{GW_PORT[:11]} on {NETWORK_NODE}" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["host"] == NETWORK_NODE and "qg-" in hop["what"]


@pytest.mark.parametrize(("src", "dst"), [("vm-1", OUTSIDE), (OUTSIDE, "fip:vm-1")])
def test_a_dvr_fip_namespace_without_its_fg_device(src: str, dst: str) -> None:
    result = diagnosed(dvr, src, dst, fg_gone)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "no_fg_port")
    assert f"no fg-{FG_PORT[:11]} in the fip namespace on {COMPUTE}" in problem["message"]
    assert the_failed_hop(result)["node"] == f"netns:{COMPUTE}:{FIP_NS}"


def test_a_floating_ip_whose_subnet_has_no_router_in_the_snapshot() -> None:
    """Neutron refuses this state (RouterInterfaceInUseByFloatingIP; association checks reachability), but a
    snapshot can show it: ports listed before the user added the router interface, floating IPs listed after
    they associated the floating IP (the collector lists ports first)."""

    def listed_before_the_interface(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        cloud["ports"].remove(port(cloud, QR_PORT))

    result = diagnosed(legacy, OUTSIDE, "fip:vm-1", listed_before_the_interface)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "fip_unreachable")
    assert "subnet 10.0.0.0/24 is not attached to a router with a gateway on public" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"].startswith("fip:") and "192.168.100.2" in hop["what"]


def test_a_second_router_on_the_subnet_does_not_make_the_floating_ip_unreachable() -> None:
    """A subnet on two routers (an internal one attached by a port of its own): Neutron's floating IP goes
    through the router its router_id names, the instances' default route through the gateway IP's router."""

    def internal_router_added(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        internal = "00000000-0000-4000-8000-000000000001"  # sorts before router-0
        project = cloud["routers"][0]["project_id"]
        cloud["routers"].append(
            {
                "id": internal,
                "name": "internal",
                "status": "ACTIVE",
                "project_id": project,
                "external_gateway_info": None,
            }
        )
        cloud["ports"].append(
            {
                "id": uid("port", "internal"),
                "network_id": NET0,
                "project_id": project,
                "device_owner": "network:router_interface",
                "device_id": internal,
                "status": "ACTIVE",
                "binding:host_id": NETWORK_NODE,
                "mac_address": mac(99),
                "fixed_ips": [{"subnet_id": uid("subnet", 0), "ip_address": "10.0.0.254"}],
            }
        )

    for src, dst in ((OUTSIDE, "fip:vm-1"), ("vm-1", OUTSIDE)):
        result = diagnosed(legacy, src, dst, internal_router_added)
        assert (result["verdict"], result["problems"]) == ("ok", [])
        assert f"netns:{NETWORK_NODE}:{QROUTER}" in [h["node"] for h in result["hops"]]


# --------------------------------------------------------------------------- the external network


@pytest.mark.parametrize("make", [physnet_renamed, mapping_dropped])
@pytest.mark.parametrize(("src", "dst"), [("vm-1", OUTSIDE), (OUTSIDE, "fip:vm-1")])
def test_an_external_network_the_network_nodes_ovs_agent_does_not_map(make: Break, src: str, dst: str) -> None:
    result = diagnosed(legacy, src, dst, make)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "bridge_mapping_missing")
    physnet = "physnet1" if make is physnet_renamed else "external"
    assert (
        f"physical network {physnet} is not in the bridge_mappings of {NETWORK_NODE}'s OVS agent"
        in (problem["message"])
    )
    assert the_failed_hop(result)["node"] == f"bridge:{NETWORK_NODE}:br-int"


def test_a_vm_plugged_straight_into_the_external_network() -> None:
    """Seed 000's mistake: the instance's port on public, not on a tenant network behind router-0."""

    def on_public(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        vm1 = port(cloud, VM1_PORT)
        vm1["network_id"] = PUBLIC
        vm1["fixed_ips"] = [{"subnet_id": uid("subnet", "public"), "ip_address": "192.168.7.7"}]
        cloud["floatingips"] = [f for f in cloud["floatingips"] if f["port_id"] != VM1_PORT]

    result = diagnosed(legacy, "vm-1", OUTSIDE, on_public)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "vm_on_external_network")
    assert "plugged straight into external network public" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, "src") and hop["host"] == COMPUTE
