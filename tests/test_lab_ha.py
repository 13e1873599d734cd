"""Scenario ha (issue 15) on the real lab: demo's router1 is an HA router scheduled to both hosts' legacy
L3 agents, keepalived runs VRRP between its two qrouter- instances over the HA network, one active and
one standby. Neutron's word (ha_state per agent, the HA network and its ha- ports) is checked against
what each host really has (the VIPs, the qg- counters), then failover is done for real: the active
keepalived is stopped, Neutron's ha_state moves, the VMs' pings go through the new active, and the
pair is restored. All ha rows are in this one file so that the scenario is built once per run.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openstack.connection
import pytest

from lab import api, ha, hosts, keystone, neutron, procs
from tests.test_topology_dvr import joined

# django_db on every test: pytest-django runs database tests first, and these must keep the file's order.
pytestmark = [pytest.mark.lab, pytest.mark.ha_lab, pytest.mark.django_db]
JsonDict = dict[str, Any]
Cloud = openstack.connection.Connection
OUTSIDE = "192.168.1.1"
HA_CIDR = ipaddress.ip_network("169.254.192.0/18")
BURST = 10


def router_of(state: JsonDict) -> JsonDict:
    return dict(state["routers"]["router1"])


def states_now(state: JsonDict) -> dict[str, str]:
    return ha.ha_states(neutron.client(keystone.ADMIN), router_of(state)["id"])


def active_and_standby(state: JsonDict) -> tuple[str, str]:
    states = ha.wait_one_active(neutron.client(keystone.ADMIN), router_of(state)["id"])
    active = ha.active_host(states)
    assert active is not None, states
    (standby,) = set(states) - {active}
    return active, standby


def replies(vm: str, count: int = BURST) -> int:
    """Echo replies to `count` pings of the outside host from `vm` (in its host's view)."""
    out = api.run_in(vm, ["ping", "-c", str(count), "-i", "0.2", "-W", "1", OUTSIDE]).stdout
    found = re.search(r"(\d+) (?:packets )?received", out)
    return int(found.group(1)) if found else 0


def qg_tx(state: JsonDict) -> dict[str, int]:
    ns = router_of(state)["namespace"]
    return {host: ha.tx_packets(host, ns) for host in router_of(state)["hosts"]}


def test_neutron_hosts_router1_on_both_l3_agents_one_active_one_standby(ha_lab: JsonDict, admin_cloud: Cloud) -> None:
    router = router_of(ha_lab)
    assert admin_cloud.network.get_router(router["id"]).is_ha is True
    agents = list(admin_cloud.network.routers_hosting_l3_agents(router["id"]))
    assert sorted(a.host for a in agents) == [hosts.COMPUTE2, hosts.CONTROLLER]
    assert all(a.agent_type == "L3 agent" and a.is_alive for a in agents)
    assert sorted(a.ha_state for a in agents) == [ha.ACTIVE, ha.STANDBY], [(a.host, a.ha_state) for a in agents]

    ha_net = admin_cloud.network.get_network(ha_lab["networks"]["ha"])
    assert ha_net.name == ha.ha_network_name(ha_lab["projects"]["demo"])
    ha_ports = list(admin_cloud.network.ports(device_id=router["id"], device_owner=ha.HA_PORT_OWNER))
    assert sorted(p.binding_host_id for p in ha_ports) == [hosts.COMPUTE2, hosts.CONTROLLER]
    assert {p.network_id for p in ha_ports} == {ha_net.id}
    assert all(ipaddress.ip_address(p.fixed_ips[0]["ip_address"]) in HA_CIDR for p in ha_ports)
    interfaces = list(admin_cloud.network.ports(device_id=router["id"], device_owner=ha.HA_INTERFACE_OWNER))
    assert sorted(p.network_id for p in interfaces) == sorted(ha_lab["networks"][n] for n in ("private", "private2"))


def test_each_host_has_the_qrouter_with_its_ha_port_and_only_the_active_one_holds_the_vips(
    ha_lab: JsonDict,
) -> None:
    router = router_of(ha_lab)
    active, standby = active_and_standby(ha_lab)
    ns = router["namespace"]
    for host in (active, standby):
        assert ns in api.namespaces(host), (host, api.namespaces(host))
        found = ha.addresses(host, ns)
        ha_dev = [d for d in found if d.startswith("ha-")]
        assert len(ha_dev) == 1, found
        assert any(ipaddress.ip_interface(a).ip in HA_CIDR for a in found[ha_dev[0]]), found
        assert ha.keepalived_pid(host, router["id"]) is not None, f"no keepalived on {host}"
    assert ha.holds_vips(active, ns), ha.addresses(active, ns)
    assert not ha.holds_vips(standby, ns), ha.addresses(standby, ns)
    gateway = f"{router['gateway_ip']}/24"
    assert any(gateway in addrs for dev, addrs in ha.addresses(active, ns).items() if dev.startswith("qg-"))
    assert not any(gateway in addrs for addrs in ha.addresses(standby, ns).values())


def test_the_vms_ping_outside_through_the_active_instance_only(ha_lab: JsonDict) -> None:
    active, standby = active_and_standby(ha_lab)
    for vm in ("cirros-01", "ubuntu-01"):  # controller with a FIP; compute2 by SNAT over VXLAN
        assert api.ping(vm, OUTSIDE, timeout=60), vm
        before = qg_tx(ha_lab)
        got = replies(vm)
        after = qg_tx(ha_lab)
        moved = {host: after[host] - before[host] for host in after}
        print(f"{vm} ({ha_lab['vms'][vm]['host']}): {got}/{BURST} replies; qg- tx packets moved {moved}")
        assert got >= BURST - 1, (vm, got)
        assert moved[active] >= got, moved
        assert moved[standby] == 0, moved


def joined_instances(state: JsonDict) -> dict[str, JsonDict]:
    """router1's qrouter- namespace nodes in the dashboard's join of the real lab, by host."""
    graph = joined(state)
    ns = router_of(state)["namespace"]
    by_id = {n["id"]: n for n in graph["nodes"]}
    return {host: dict(by_id[f"netns:{host}:{ns}"]["attrs"]) for host in router_of(state)["hosts"]}


def assert_join_marks(state: JsonDict) -> None:
    """The join's marks agree with Neutron's ha_state and with the VIPs each host holds, with no warning."""
    active, standby = active_and_standby(state)
    marked = joined_instances(state)
    summary = {h: (a.get("ha_state"), a.get("ha_role"), a.get("ha_vips")) for h, a in marked.items()}
    print(f"join: {summary}")
    assert (marked[active]["ha_state"], marked[active]["ha_role"]) == (ha.ACTIVE, ha.ACTIVE), summary
    assert (marked[standby]["ha_state"], marked[standby]["ha_role"]) == (ha.STANDBY, ha.STANDBY), summary
    assert f"{router_of(state)['gateway_ip']}/24" in marked[active]["ha_vips"] and marked[standby]["ha_vips"] == []
    assert not any(w for a in marked.values() for w in a.get("warnings", []) if "router" in w), marked


def test_the_dashboards_join_marks_the_active_qrouter(ha_lab: JsonDict) -> None:
    assert_join_marks(ha_lab)


def test_failover_stopping_the_active_keepalived_moves_ha_state_and_the_pings_follow(ha_lab: JsonDict) -> None:
    router = router_of(ha_lab)
    admin = neutron.client(keystone.ADMIN)
    old_active, old_standby = active_and_standby(ha_lab)
    assert api.ping("ubuntu-01", OUTSIDE, timeout=60)
    fip = ha_lab["vms"]["cirros-01"]["floating_ip"]

    t0 = time.monotonic()
    stopped = ha.stop_keepalived(old_active, router["id"])

    def neutron_moved() -> float:
        assert procs.wait_for(lambda: ha.active_host(ha.ha_states(admin, router["id"])) == old_standby, 90, 0.2), (
            ha.ha_states(admin, router["id"])
        )
        return time.monotonic() - t0

    def vips_moved() -> tuple[bool, float]:
        moved = procs.wait_for(lambda: ha.holds_vips(old_standby, router["namespace"]), 90, 0.1)
        return moved, time.monotonic() - t0

    def pings_again(vm: str, target: str) -> float:
        assert api.ping(vm, target, timeout=90), f"{vm} -> {target} after failover"
        return time.monotonic() - t0

    with ThreadPoolExecutor(max_workers=4) as pool:
        neutron_s = pool.submit(neutron_moved)
        vips_s = pool.submit(vips_moved)
        snat_s = pool.submit(pings_again, "ubuntu-01", OUTSIDE)
        fip_s = pool.submit(pings_again, "outside", fip)
        took = {
            "VIPs on the new active": vips_s.result()[1],
            "SNAT ping answered (ubuntu-01 on compute2)": snat_s.result(),
            "FIP ping answered (outside -> cirros-01)": fip_s.result(),
            "Neutron ha_state moved": neutron_s.result(),
        }
    assert vips_s.result()[0], ha.addresses(old_standby, router["namespace"])
    print(f"failover: keepalived {stopped} on {old_active} stopped; {old_standby} active after:")
    for what, seconds in took.items():
        print(f"  {what}: {seconds:.1f} s")
    assert not ha.holds_vips(old_active, router["namespace"])
    before = qg_tx(ha_lab)
    got = replies("ubuntu-01")
    after = qg_tx(ha_lab)
    moved = {host: after[host] - before[host] for host in after}
    print(f"after failover: {got}/{BURST} replies; qg- tx packets moved {moved}")
    assert got >= BURST - 1 and moved[old_standby] >= got and moved[old_active] == 0, moved

    # Restore: the L3 agent's process monitor respawns the stopped keepalived (as a backup: Neutron's
    # keepalived.conf says nopreempt), and the pair is one active, one standby again.
    t1 = time.monotonic()
    assert procs.wait_for(lambda: ha.keepalived_pid(old_active, router["id"]) not in (None, stopped), 150, 0.5), (
        f"keepalived not respawned on {old_active}"
    )
    respawned = time.monotonic() - t1
    states = ha.wait_one_active(admin, router["id"], timeout=120)
    print(f"restored: keepalived respawned on {old_active} after {respawned:.1f} s more; {states}")
    assert states == {old_standby: ha.ACTIVE, old_active: ha.STANDBY}
    assert api.ping("ubuntu-01", OUTSIDE, timeout=60)


def test_after_the_failover_the_join_marks_the_new_active_qrouter(ha_lab: JsonDict) -> None:
    assert_join_marks(ha_lab)


def lab_keepalived() -> list[int]:
    """keepalived and state-change monitor processes naming the lab's directories (any host)."""
    from lab import paths

    return [
        pid
        for pid in procs.all_pids()
        if {os.path.basename(a) for a in procs.cmdline(pid)[:2]} & set(procs.KEEPALIVED_PROGRAMS)
        and any(str(paths.RUN_DIR) in a for a in procs.cmdline(pid))
    ]


def test_switching_away_kills_keepalived_and_removes_the_ha_network(ha_lab: JsonDict) -> None:
    """Last in this module: the lab leaves scenario ha for allinone (the scenario the others run on)."""
    assert lab_keepalived(), "scenario ha runs keepalived"
    t0 = time.monotonic()
    api.up("allinone")
    print(f"switch ha -> allinone: {time.monotonic() - t0:.1f} s")
    assert lab_keepalived() == []
    assert not hosts.running()
    admin = neutron.client(keystone.ADMIN)
    names = [n["name"] for n in admin.get("/v2.0/networks")["networks"]]
    assert not [n for n in names if n.startswith(ha.HA_NETWORK_PREFIX)], names
    assert admin.get(f"/v2.0/ports?device_owner={ha.HA_PORT_OWNER}")["ports"] == []
    assert admin.get(f"/v2.0/ports?device_owner={ha.HA_INTERFACE_OWNER}")["ports"] == []
    router = admin.get("/v2.0/routers?name=router1")["routers"][0]
    assert router["ha"] is False and ha_lab["routers"]["router1"]["id"] != router["id"]
