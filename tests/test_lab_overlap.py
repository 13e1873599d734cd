"""Scenario overlap (seed 004) for real: two routers, two networks with the same 192.168.101.0/24,
vm01 and vm02 both 192.168.101.3, each reaching the outside through its own router."""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest

pytestmark = pytest.mark.lab

OUTSIDE = "192.168.1.1"


@pytest.fixture
def overlap(overlap_lab: dict[str, Any]) -> dict[str, Any]:
    """conftest's `overlap_lab`: the lab switched to `overlap` (switched to only when needed)."""
    return overlap_lab


def test_state_has_two_routers_and_the_same_address_twice(overlap: dict[str, Any]) -> None:
    assert overlap["scenario"] == "overlap"
    assert set(overlap["routers"]) == {"router01", "router02"}
    assert overlap["vms"]["vm01"]["ip"] == overlap["vms"]["vm02"]["ip"] == "192.168.101.3"
    assert overlap["vms"]["vm01"]["floating_ip"] != overlap["vms"]["vm02"]["floating_ip"]
    assert {n for n in overlap["networks"]} == {"public", "net01", "net02"}


def test_neutron_has_seed_004s_layout(overlap: dict[str, Any], alt_cloud: openstack.connection.Connection) -> None:
    net = alt_cloud.network
    ids = {n: overlap["networks"][n] for n in ("net01", "net02")}
    cidrs = {net.get_network(i).name: [s.cidr for s in net.subnets(network_id=i)] for i in ids.values()}
    assert cidrs == {"net01": ["192.168.101.0/24"], "net02": ["192.168.101.0/24"]}
    for vm, router in (("vm01", "router01"), ("vm02", "router02")):
        r = net.get_router(overlap["routers"][router]["id"])
        assert not r.is_distributed
        (iface,) = list(net.ports(device_id=r.id, device_owner="network:router_interface"))
        assert iface.network_id == overlap["vms"][vm]["network_id"]
        assert iface.fixed_ips[0]["ip_address"] == "192.168.101.1"
        (fip,) = list(net.ips(port_id=overlap["vms"][vm]["port_id"]))
        assert fip.router_id == r.id


def test_each_router_has_its_namespace(overlap: dict[str, Any]) -> None:
    from lab import api

    names = api.namespaces("controller")
    for router in overlap["routers"].values():
        assert router["namespace"] in names
        addrs = api.run_on(
            "controller", ["ip", "netns", "exec", router["namespace"], "ip", "-4", "-o", "addr"], capture=True
        ).stdout
        assert "192.168.101.1/24" in addrs and f"{router['gateway_ip']}/24" in addrs


def test_each_vm_reaches_outside_through_its_own_router(overlap: dict[str, Any]) -> None:
    """The echo requests arriving at the outside host come from each VM's own FIP and its router's qg- MAC."""
    from lab import api, capture

    for vm, router in (("vm01", "router01"), ("vm02", "router02")):
        assert api.ping(vm, OUTSIDE, timeout=90), vm

        def three_pings(vm: str = vm) -> None:
            api.run_in(vm, ["ping", "-c", "3", "-i", "0.3", "-W", "1", OUTSIDE])

        seen = capture.icmp_sources(three_pings, seconds=4)
        assert seen == {(overlap["routers"][router]["gateway_mac"], overlap["vms"][vm]["floating_ip"])}, vm


def test_the_outside_reaches_each_vm_by_its_floating_ip(overlap: dict[str, Any]) -> None:
    from lab import api

    for vm in ("vm01", "vm02"):
        assert api.ping("outside", overlap["vms"][vm]["floating_ip"], timeout=90), vm
