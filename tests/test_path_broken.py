"""Broken states made for real, each on a legacy walk (allinone) and on a DVR walk (dvr).

Issue 6's list: router gateway cleared, floating IP disassociated, ICMP ingress rule
removed, VM port admin-down, router interface removed, outside port removed from br-ex,
an L3 agent stopped. Each state is made through Neutron's API (or OVS, for the outside
port), the explainer must say `broken` with the right problem code, the real ping must
stop, and the state is undone (and pinged back) before the next test. The legacy cases
already in test_path_lab.py (FIP disassociated, port admin-down) and test_path_dvr.py
(compute2's L3 agent stopped) are not repeated here.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.broken_states import (
    Cloud,
    admin_down,
    fips_disassociated,
    gateway_cleared,
    icmp_ingress_removed,
    interface_removed,
    l3_agent_restarted,
    l3_agent_stopped,
    outside_port_removed,
    ping_stops,
    routers_seen,
    snat_redirect_removed,
)
from tests.test_path_dvr import walk as dvr_walk
from tests.test_path_lab import codes, server
from tests.test_path_lab import walk as legacy_walk

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

OUTSIDE = "192.168.1.1"


def failed_nodes(result: dict[str, Any]) -> list[str]:
    return [h["node"] for h in result["hops"] if h["status"] == "fail"]


def assert_broken(result: dict[str, Any], code: str) -> None:
    assert result["verdict"] == "broken", result
    assert code in codes(result), result["problems"]
    assert failed_nodes(result), "a broken path shows the hop that fails"


def pings_again(vm: str, target: str) -> None:
    """After undoing a state, the path must work again (the next tests rely on it)."""
    from lab import api

    assert api.ping(vm, target, timeout=180), f"{vm} -> {target} did not come back:\n{routers_seen()}"


def snat_back_or_explained(state: dict[str, Any], cloud: Cloud, vm: str) -> None:
    """The gateway set again, the VM's ping out by SNAT comes back; or it does not and the explainer says
    so (never a wrong "ok"), then the remedy it names brings it back.

    Neutron's L3 agent on a DVR compute host sets the SNAT redirect (a policy rule and table to the
    subnet's sg- port) only when it first sees the router's gateway (dvr_local_router.external_gateway_added;
    external_gateway_updated does nothing): an agent that processed the gateway before its SNAT ports were
    there never does. Two CI runs (the first test after the switch to dvr) ended with no ping back in
    180 s and every SNAT piece but that host's in place; not reproduced in 8 local runs. Neutron's race is
    not the dashboard's to fix; saying which hop is broken is."""
    from lab import api

    if api.ping(vm, OUTSIDE, timeout=180):
        return
    seen = routers_seen()
    result = dvr_walk(state, server(state, vm), OUTSIDE)
    assert result["verdict"] == "broken", f"a wrong ok: {vm} pings {OUTSIDE} no more, the explainer says ok\n{seen}"
    print(f"{vm} -> {OUTSIDE} not back after the gateway was set again; the explainer: {result['problems']}\n{seen}")
    l3_agent_restarted(cloud, state["vms"][vm]["host"])
    pings_again(vm, OUTSIDE)


# --------------------------------------------------------------------------- legacy (allinone, router1)


def test_legacy_gateway_cleared(lab: dict[str, Any], admin_cloud: Cloud) -> None:
    with fips_disassociated(admin_cloud, lab, "cirros-01"), gateway_cleared(admin_cloud, lab, "router1"):
        result = legacy_walk(lab, server(lab, "ubuntu-01"), OUTSIDE)
        assert_broken(result, "router_no_gateway")
        assert ping_stops("ubuntu-01", OUTSIDE)
    pings_again("ubuntu-01", OUTSIDE)
    pings_again("outside", lab["vms"]["cirros-01"]["floating_ip"])


def test_legacy_icmp_ingress_removed(lab: dict[str, Any], admin_cloud: Cloud) -> None:
    fip = lab["vms"]["cirros-01"]["floating_ip"]
    with icmp_ingress_removed(admin_cloud, lab):
        result = legacy_walk(lab, OUTSIDE, fip)
        assert_broken(result, "sg_no_ingress")
        assert ping_stops("outside", fip)
        ssh = legacy_walk(lab, OUTSIDE, fip, "ssh")
        assert ssh["verdict"] == "ok", "the SSH rule is still there: only ICMP is refused"
    pings_again("outside", fip)


def test_legacy_interface_removed(lab: dict[str, Any], admin_cloud: Cloud) -> None:
    with (
        fips_disassociated(admin_cloud, lab, "cirros-01"),
        interface_removed(admin_cloud, lab, "router1", "private_subnet"),
    ):
        result = legacy_walk(lab, server(lab, "ubuntu-01"), OUTSIDE)
        assert_broken(result, "subnet_no_router")
        assert ping_stops("ubuntu-01", OUTSIDE)
    pings_again("ubuntu-01", OUTSIDE)


def test_legacy_outside_port_removed_from_br_ex(lab: dict[str, Any]) -> None:
    fip = lab["vms"]["cirros-01"]["floating_ip"]
    with outside_port_removed(lab["host"], lab["outside"]["port"]):
        out = legacy_walk(lab, server(lab, "cirros-01"), OUTSIDE)
        assert_broken(out, "br_ex_no_physical_port")
        assert failed_nodes(out) == [f"bridge:{lab['host']}:br-ex"]
        inbound = legacy_walk(lab, OUTSIDE, fip)
        assert_broken(inbound, "br_ex_no_physical_port")
        assert ping_stops("cirros-01", OUTSIDE)
    pings_again("cirros-01", OUTSIDE)
    pings_again("outside", fip)


def test_legacy_l3_agent_stopped(lab: dict[str, Any], admin_cloud: Cloud) -> None:
    """Its namespaces keep working (a warning), but a new floating IP is never set up (a failure)."""
    from lab import api

    ubuntu, cirros = lab["vms"]["ubuntu-01"], lab["vms"]["cirros-01"]
    with l3_agent_stopped(admin_cloud, lab["host"]):
        fip = admin_cloud.network.create_ip(
            floating_network_id=lab["networks"]["public"], port_id=ubuntu["port_id"], project_id=lab["projects"]["demo"]
        )
        try:
            result = legacy_walk(lab, OUTSIDE, fip.floating_ip_address)
            assert result["verdict"] == "broken", result
            dead = [p for p in result["problems"] if p["code"] == "agent_dead"]
            assert dead and dead[0]["severity"] == "fail" and f"L3 agent on {lab['host']}" in dead[0]["message"]
            assert not api.ping("outside", fip.floating_ip_address, timeout=20)
            old = legacy_walk(lab, OUTSIDE, cirros["floating_ip"])
            assert old["verdict"] == "ok"
            assert {p["code"]: p["severity"] for p in old["problems"]}["agent_dead"] == "warn"
            assert api.ping("outside", cirros["floating_ip"], timeout=60)
        finally:
            admin_cloud.network.delete_ip(fip)
    pings_again("ubuntu-01", OUTSIDE)


# --------------------------------------------------------------------------- DVR (dvr, dvr-router, two hosts)


def test_dvr_gateway_cleared(dvr_lab: dict[str, Any], admin_cloud: Cloud) -> None:
    with (
        fips_disassociated(admin_cloud, dvr_lab, "vm-web-1", "vm-db-1"),
        gateway_cleared(admin_cloud, dvr_lab, "dvr-router"),
    ):
        result = dvr_walk(dvr_lab, server(dvr_lab, "vm-app-1"), OUTSIDE)
        assert_broken(result, "router_no_gateway")
        assert ping_stops("vm-app-1", OUTSIDE)
    snat_back_or_explained(dvr_lab, admin_cloud, "vm-app-1")
    pings_again("outside", dvr_lab["vms"]["vm-db-1"]["floating_ip"])
    pings_again("outside", dvr_lab["vms"]["vm-web-1"]["floating_ip"])


def test_dvr_fip_disassociated(dvr_lab: dict[str, Any], admin_cloud: Cloud) -> None:
    fip = dvr_lab["vms"]["vm-db-1"]["floating_ip"]
    with fips_disassociated(admin_cloud, dvr_lab, "vm-db-1"):
        result = dvr_walk(dvr_lab, OUTSIDE, fip)
        assert_broken(result, "fip_not_associated")
        assert ping_stops("outside", fip)
    pings_again("outside", fip)


def test_dvr_icmp_ingress_removed(dvr_lab: dict[str, Any], admin_cloud: Cloud) -> None:
    fip = dvr_lab["vms"]["vm-db-1"]["floating_ip"]
    with icmp_ingress_removed(admin_cloud, dvr_lab):
        result = dvr_walk(dvr_lab, OUTSIDE, fip)
        assert_broken(result, "sg_no_ingress")
        assert all(":compute2:" in n for n in failed_nodes(result)), "refused on vm-db-1's host"
        assert ping_stops("outside", fip)
    pings_again("outside", fip)


def test_dvr_port_admin_down(dvr_lab: dict[str, Any], admin_cloud: Cloud) -> None:
    db = dvr_lab["vms"]["vm-db-1"]
    with admin_down(admin_cloud, db["port_id"]):
        result = dvr_walk(dvr_lab, OUTSIDE, db["floating_ip"])
        assert_broken(result, "port_admin_down")
        assert ping_stops("outside", db["floating_ip"])
    pings_again("outside", db["floating_ip"])


def test_dvr_interface_removed(dvr_lab: dict[str, Any], admin_cloud: Cloud) -> None:
    db = dvr_lab["vms"]["vm-db-1"]
    with (
        fips_disassociated(admin_cloud, dvr_lab, "vm-db-1"),
        interface_removed(admin_cloud, dvr_lab, "dvr-router", "private2_subnet"),
    ):
        result = dvr_walk(dvr_lab, server(dvr_lab, "vm-web-1"), server(dvr_lab, "vm-db-1"))
        assert_broken(result, "subnet_no_router")
        assert ping_stops("vm-web-1", db["ip"])
    pings_again("vm-web-1", db["ip"])
    pings_again("outside", db["floating_ip"])


def test_dvr_outside_port_removed_from_compute2s_br_ex(dvr_lab: dict[str, Any]) -> None:
    """compute2 loses its uplink: its own FIP breaks (DVR: it answers for it), host 1's does not."""
    from lab import hosts

    db, web = dvr_lab["vms"]["vm-db-1"], dvr_lab["vms"]["vm-web-1"]
    with outside_port_removed("compute2", hosts.EXTERNAL_LINKS[1]):
        result = dvr_walk(dvr_lab, OUTSIDE, db["floating_ip"])
        assert_broken(result, "br_ex_no_physical_port")
        assert failed_nodes(result)[0].startswith("bridge:compute2:br-ex")
        assert ping_stops("outside", db["floating_ip"])
        other = dvr_walk(dvr_lab, OUTSIDE, web["floating_ip"])
        assert other["verdict"] == "ok", other
        pings_again("outside", web["floating_ip"])
    pings_again("outside", db["floating_ip"])


def test_dvr_snat_redirect_lost_on_the_vms_host(dvr_lab: dict[str, Any], admin_cloud: Cloud) -> None:
    """compute2's qrouter without the policy rule that sends vm-app-1's subnet to its sg- port: every other
    SNAT piece is in place (the snat namespace, its rules, the table itself), the ping out dies in the
    qrouter, and the explainer says so there (tests/test_path_snat_redirect.py pins the walk)."""
    router = dvr_lab["routers"]["dvr-router"]["id"]
    with snat_redirect_removed(admin_cloud, dvr_lab, "dvr-router", "vm-app-1"):
        result = dvr_walk(dvr_lab, server(dvr_lab, "vm-app-1"), OUTSIDE)
        assert_broken(result, "snat_redirect_missing")
        assert failed_nodes(result) == [f"netns:compute2:qrouter-{router}"], result["hops"]
        assert ping_stops("vm-app-1", OUTSIDE)
    pings_again("vm-app-1", OUTSIDE)
