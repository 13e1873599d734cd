"""Floating IP targets (tasks.targets.fip_targets): a pure function, tested without a server.

The anchors: Horizon listed no ports behind DVR routers (bug 1388305, interfaces owned by
network:router_interface_distributed not counted) and listed other projects' ports on the
user's network (bug 1494358).
"""

from __future__ import annotations

from typing import Any

import pytest

from tasks.targets import find_target, fip_targets
from topology.kinds import DeviceOwner

PUBLIC = "net-public"
FIP = {"id": "fip-1", "floating_network_id": PUBLIC, "project_id": "demo", "floating_ip_address": "192.168.1.60"}
SUBNETS = {
    "sub-a": {"id": "sub-a", "name": "private_subnet", "cidr": "10.0.0.0/24"},
    "sub-b": {"id": "sub-b", "name": "isolated", "cidr": "10.9.0.0/24"},
    "sub-v6": {"id": "sub-v6", "name": "v6", "cidr": "fd00::/64"},
}


def port(
    pid: str,
    subnet: str,
    ip: str,
    owner: str = "compute:nova",
    project: str = "demo",
    network: str = "net-a",
    device: str = "vm",
) -> dict[str, Any]:
    return {
        "id": pid,
        "name": pid,
        "project_id": project,
        "device_owner": owner,
        "device_id": device,
        "network_id": network,
        "fixed_ips": [{"subnet_id": subnet, "ip_address": ip}],
    }


def router(rid: str, network: str | None = PUBLIC) -> dict[str, Any]:
    return {"id": rid, "external_gateway_info": {"network_id": network} if network else None}


@pytest.mark.parametrize("owner", sorted(DeviceOwner.ROUTER_INTERFACES))
def test_it_counts_every_router_interface_owner(owner: str) -> None:
    targets = fip_targets(
        FIP,
        [port("vm1", "sub-a", "10.0.0.5")],
        SUBNETS,
        [router("r1")],
        [port("ri", "sub-a", "10.0.0.1", owner=owner, device="r1")],
    )
    assert [(t.port_id, t.fixed_ip, t.reachable, t.router_id) for t in targets] == [("vm1", "10.0.0.5", True, "r1")]


def test_it_lists_an_unreachable_port_with_the_reason() -> None:
    ports = [port("vm1", "sub-a", "10.0.0.5"), port("vm2", "sub-b", "10.9.0.5", network="net-b")]
    interface = port("ri", "sub-a", "10.0.0.1", DeviceOwner.ROUTER_INTERFACE, device="r1")
    targets = fip_targets(FIP, ports, SUBNETS, [router("r1")], [interface])
    assert [t.port_id for t in targets] == ["vm1", "vm2"]  # reachable first
    unreachable = targets[1]
    assert not unreachable.reachable
    assert "isolated (10.9.0.0/24)" in unreachable.reason and "not reachable" in unreachable.reason


def test_it_needs_the_gateway_on_the_floating_ips_network() -> None:
    targets = fip_targets(
        FIP,
        [port("vm1", "sub-a", "10.0.0.5")],
        SUBNETS,
        [router("r1", "net-other")],
        [port("ri", "sub-a", "10.0.0.1", DeviceOwner.ROUTER_INTERFACE, device="r1")],
    )
    assert not targets[0].reachable


def test_it_never_lists_other_projects_ports_or_neutrons_own() -> None:
    ports = [
        port("theirs", "sub-a", "10.0.0.9", project="alt"),
        port("dhcp", "sub-a", "10.0.0.2", owner=DeviceOwner.DHCP),
        port("ri", "sub-a", "10.0.0.1", owner=DeviceOwner.ROUTER_INTERFACE, device="r1"),
        port("mine", "sub-a", "10.0.0.5"),
    ]
    targets = fip_targets(FIP, ports, SUBNETS, [router("r1")], ports)
    assert [t.port_id for t in targets] == ["mine"]


def test_each_fixed_ip_is_its_own_target_and_ipv6_has_a_reason() -> None:
    multi = port("vm1", "sub-a", "10.0.0.5")
    multi["fixed_ips"] += [
        {"subnet_id": "sub-a", "ip_address": "10.0.0.6"},
        {"subnet_id": "sub-v6", "ip_address": "fd00::5"},
    ]
    ri = port("ri", "sub-a", "10.0.0.1", DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED, device="r1")
    targets = fip_targets(FIP, [multi], SUBNETS, [router("r1")], [ri])
    assert [(t.fixed_ip, t.reachable) for t in targets] == [("10.0.0.5", True), ("10.0.0.6", True), ("fd00::5", False)]
    assert "IPv6" in targets[2].reason
    first = find_target(targets, "vm1", None)
    assert first is not None and first.fixed_ip == "10.0.0.5"
    assert find_target(targets, "vm1", "10.0.0.6").fixed_ip == "10.0.0.6"  # type: ignore[union-attr]
    assert find_target(targets, "vm1", "10.0.0.99") is None
    assert find_target(targets, "nope", None) is None


def test_it_shows_the_floating_ip_a_fixed_ip_already_has() -> None:
    ri = port("ri", "sub-a", "10.0.0.1", DeviceOwner.ROUTER_INTERFACE, device="r1")
    other = {"id": "fip-2", "port_id": "vm1", "fixed_ip_address": "10.0.0.5", "floating_ip_address": "192.168.1.61"}
    targets = fip_targets(FIP, [port("vm1", "sub-a", "10.0.0.5")], SUBNETS, [router("r1")], [ri], [other])
    assert targets[0].floating_ip == "192.168.1.61" and targets[0].reachable
