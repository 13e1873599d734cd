"""Scenario dvr for real: two hosts, a distributed router, seed 001's three packet walks.

The lab switches to `dvr` once for this module and back to `allinone` after
it (the session's `lab` dict is refreshed in place, so later modules see the
rebuilt allinone's ids).
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest

pytestmark = pytest.mark.lab

OUTSIDE = "192.168.1.1"


@pytest.fixture
def dvr(dvr_lab: dict[str, Any]) -> dict[str, Any]:
    """conftest's `dvr_lab`: the lab switched to `dvr` (switched to only when needed)."""
    return dvr_lab


def one_ping(vm: str, target: str) -> None:
    from lab import api

    api.run_in(vm, ["ping", "-c", "3", "-i", "0.3", "-W", "1", target])


def sources_at_outside(vm: str) -> set[tuple[str, str]]:
    from lab import api, capture

    assert api.ping(vm, OUTSIDE, timeout=90)
    return capture.icmp_sources(lambda: one_ping(vm, OUTSIDE), seconds=4)


def test_state_names_both_hosts_and_where_each_vm_runs(dvr: dict[str, Any]) -> None:
    assert dvr["scenario"] == "dvr"
    assert dvr["hosts"]["controller"]["tunnel_ip"] == "10.0.1.11"
    assert dvr["hosts"]["compute2"]["tunnel_ip"] == "10.0.1.12"
    assert dvr["hosts"]["controller"]["l3_agent_mode"] == "dvr_snat"
    assert dvr["hosts"]["compute2"]["l3_agent_mode"] == "dvr"
    hosts = {name: vm["host"] for name, vm in dvr["vms"].items()}
    assert hosts == {"vm-web-1": "controller", "vm-db-1": "compute2", "vm-app-1": "compute2"}
    assert dvr["vms"]["vm-web-1"]["ip"].startswith("10.0.0.")
    assert dvr["vms"]["vm-app-1"]["ip"].startswith("10.0.0.")
    assert dvr["vms"]["vm-db-1"]["ip"].startswith("10.0.2.")
    assert dvr["vms"]["vm-app-1"]["floating_ip"] is None
    assert set(dvr["floating_ips"]) == {"vm-web-1", "vm-db-1"}
    assert dvr["routers"]["dvr-router"]["distributed"] is True


def test_neutron_has_a_distributed_router_and_agents_on_both_hosts(
    dvr: dict[str, Any], admin_cloud: openstack.connection.Connection
) -> None:
    net = admin_cloud.network
    router = net.get_router(dvr["routers"]["dvr-router"]["id"])
    assert router.is_distributed
    interfaces = list(net.ports(device_id=router.id, device_owner="network:router_interface_distributed"))
    assert {ip["subnet_id"] for p in interfaces for ip in p.fixed_ips} == {
        dvr["subnets"]["private_subnet"],
        dvr["subnets"]["private2_subnet"],
    }
    snat = list(net.ports(device_id=router.id, device_owner="network:router_centralized_snat"))
    assert len(snat) == 2
    alive = {(a.agent_type, a.host) for a in net.agents() if a.is_alive}
    assert {
        ("Open vSwitch agent", "controller"),
        ("L3 agent", "controller"),
        ("DHCP agent", "controller"),
        ("Open vSwitch agent", "compute2"),
        ("L3 agent", "compute2"),
    } <= alive
    modes = {a.host: a.configuration.get("agent_mode") for a in net.agents() if a.agent_type == "L3 agent"}
    assert modes == {"controller": "dvr_snat", "compute2": "dvr"}
    for name, vm in dvr["vms"].items():
        port = net.get_port(vm["port_id"])
        assert port.status == "ACTIVE", name
        assert port.binding_host_id == vm["host"], name


def test_namespaces_are_on_the_right_hosts(dvr: dict[str, Any]) -> None:
    from lab import api

    router = dvr["routers"]["dvr-router"]["id"]
    fip = f"fip-{dvr['networks']['public']}"
    host1, host2 = api.namespaces("controller"), api.namespaces("compute2")
    assert f"qrouter-{router}" in host1 and f"qrouter-{router}" in host2
    assert f"snat-{router}" in host1 and f"snat-{router}" not in host2
    assert fip in host1 and fip in host2
    assert "vm-vm-web-1" in host1 and "vm-vm-web-1" not in host2
    assert {"vm-vm-db-1", "vm-vm-app-1"} <= set(host2) and "vm-vm-db-1" not in host1
    assert not any(ns.startswith("qdhcp-") for ns in host2)
    # `lab exec` sees the same as the collector would on compute2
    out = api.run_on("compute2", ["ip", "netns", "list"], capture=True).stdout
    assert f"qrouter-{router}" in out and f"snat-{router}" not in out


def test_dvr_plumbing_of_seed_001(dvr: dict[str, Any]) -> None:
    from lab import api

    router = dvr["routers"]["dvr-router"]["id"]
    qrouter, fip_ns = f"qrouter-{router}", f"fip-{dvr['networks']['public']}"
    # Neutron cuts rfp-/fpr- names at 14 characters: router id[:10] (port devices keep id[:11]).
    for host in ("controller", "compute2"):
        links = api.run_on(host, ["ip", "netns", "exec", qrouter, "ip", "-o", "link"], capture=True).stdout
        assert f"rfp-{router[:10]}@" in links, host
        fip_links = api.run_on(host, ["ip", "netns", "exec", fip_ns, "ip", "-o", "link"], capture=True).stdout
        assert f"fpr-{router[:10]}@" in fip_links and "fg-" in fip_links, host
    # policy routing: the VM with a FIP leaves through the fip namespace (table 16)
    web = dvr["vms"]["vm-web-1"]["ip"]
    rules = api.run_on("controller", ["ip", "netns", "exec", qrouter, "ip", "rule"], capture=True).stdout
    assert f"from {web} lookup 16" in rules
    # the tunnel: br-tun of each host has a VXLAN port to the other's br-phy address
    assert "vxlan-0a00010c" in api.run_on("controller", ["ovs-vsctl", "list-ports", "br-tun"], capture=True).stdout
    assert "vxlan-0a00010b" in api.run_on("compute2", ["ovs-vsctl", "list-ports", "br-tun"], capture=True).stdout


def test_snat_walk_through_host1s_snat_namespace(dvr: dict[str, Any]) -> None:
    """Seed 001 walk 1: vm-app-1 (compute2, no FIP) reaches outside as the router's SNAT address."""
    seen = sources_at_outside("vm-app-1")
    assert {ip for _, ip in seen} == {dvr["routers"]["dvr-router"]["gateway_ip"]}


def test_fip_walk_out_from_each_host(dvr: dict[str, Any]) -> None:
    """Seed 001 walk 2, outbound: each VM with a FIP leaves as its FIP from its own host's fip- namespace."""
    for vm in ("vm-web-1", "vm-db-1"):
        seen = sources_at_outside(vm)
        assert {ip for _, ip in seen} == {dvr["vms"][vm]["floating_ip"]}, vm


def test_fip_walk_in_to_each_host(dvr: dict[str, Any]) -> None:
    """Seed 001 walk 2, inbound: outside reaches both FIPs (fg- on host 1 and on compute2)."""
    from lab import api

    for vm in ("vm-web-1", "vm-db-1"):
        assert api.ping("outside", dvr["vms"][vm]["floating_ip"], timeout=90), vm


def test_east_west_across_hosts(dvr: dict[str, Any]) -> None:
    """Seed 001 walk 3: private (host 1) <-> private2 (compute2) routed by the DVR, and same-net across hosts."""
    from lab import api

    web, db, app = (dvr["vms"][n]["ip"] for n in ("vm-web-1", "vm-db-1", "vm-app-1"))
    assert api.ping("vm-web-1", db, timeout=90)
    assert api.ping("vm-db-1", web, timeout=90)
    assert api.ping("vm-web-1", app, timeout=90)


def test_up_again_is_a_no_op(dvr: dict[str, Any]) -> None:
    from lab import api

    assert api.up("dvr")["up_at"] == dvr["up_at"]
