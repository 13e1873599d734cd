"""Seed 004 on VLANs on the real lab (scenario vlan, issue 15): net01 and net02 VLANs of physnet1, vm01 on
host 1 `controller`, vm02 on `compute2`, each host's br-vlan with one end of the veth wire as its physical
port. The real OVS agents' flows drive the walk (tests/test_path_vlan.py has the pure one): each hop over
br-vlan names where the tag is rewritten, with the matching flows and their counters; each walk is
explained and then really pinged. Broken for real, each undone: the wire's port removed from compute2's
br-vlan, compute2's OVS agent restarted without physnet1 in its bridge_mappings, the VLAN range full (refused
by Neutron, said on the map and the routers page).
All vlan rows are in this one file so that the scenario is built once per run.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

import openstack.connection
import openstack.exceptions
import pytest
from django.test import Client

from tests.broken_states import ping_stops
from tests.conftest import lab_password
from tests.test_path_broken import pings_again
from tests.test_topology_dvr import joined
from topology import services
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
Cloud = openstack.connection.Connection
JsonDict = dict[str, Any]
OUTSIDE = "192.168.1.1"
HOST1, COMPUTE2 = "controller", "compute2"
BRIDGE, WIRE = "br-vlan", {HOST1: "lab-vlan1", COMPUTE2: "lab-vlan2"}


def server(state: JsonDict, vm: str) -> str:
    return f"server:{state['vms'][vm]['server_id']}"


def walk(state: JsonDict, src: str, dst: str) -> JsonDict:
    return explain(joined(state), StoredReports(), src, dst, "icmp")


def nodes_of(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"]]


def hop(result: JsonDict, node: str) -> JsonDict:
    return next(h for h in result["hops"] if h["node"] == node)


def wire_hops(src: str, dst: str) -> list[str]:
    """br-int -> int-br-vlan -> phy-br-vlan -> br-vlan -> the wire -> the other host's, back into br-int."""
    on, at = f"iface:{src}:-:", f"iface:{dst}:-:"
    return [
        f"{on}int-br-vlan",
        f"{on}phy-br-vlan",
        f"bridge:{src}:{BRIDGE}",
        f"{on}{WIRE[src]}",
        f"{at}{WIRE[dst]}",
        f"bridge:{dst}:{BRIDGE}",
        f"{at}phy-br-vlan",
        f"{at}int-br-vlan",
        f"bridge:{dst}:br-int",
    ]


def packets(flows: list[str]) -> int:
    return sum(int(m.group(1)) for line in flows if (m := re.search(r"n_packets=(\d+)", line)))


def rewrites_to(flow: str, vid: int) -> bool:
    """The flow's action sets VLAN ``vid`` (OpenFlow 1.0's mod_vlan_vid, or 1.3's VID with its present bit)."""
    return f"mod_vlan_vid:{vid}," in flow or f"set_field:{4096 + vid}->vlan_vid" in flow


def ping(vm: str, target: str, timeout: float = 120) -> bool:
    from lab import api

    return bool(api.ping(vm, target, timeout=timeout))


def segid(state: JsonDict, network: str) -> int:
    return int(state["vlan"]["segmentation_ids"][network])


# --------------------------------------------------------------------------- the build


def test_net01_and_net02_are_vlans_of_physnet1_mapped_to_br_vlan_with_the_wire_on_both_hosts(
    vlan_lab: JsonDict, admin_cloud: Cloud
) -> None:
    from lab import api

    assert {name: v["host"] for name, v in vlan_lab["vms"].items()} == {"vm01": HOST1, "vm02": COMPUTE2}
    assert {v["ip"] for v in vlan_lab["vms"].values()} == {"192.168.101.3"}
    assert vlan_lab["lab_hosts"][COMPUTE2]["role"] == "compute"
    assert "legacy L3" in vlan_lab["lab_hosts"][HOST1]["role"]
    for name in ("net01", "net02"):
        net = admin_cloud.network.get_network(vlan_lab["networks"][name])
        assert (net.provider_network_type, net.provider_physical_network) == ("vlan", "physnet1")
        assert 100 <= net.provider_segmentation_id <= 104 and net.provider_segmentation_id == segid(vlan_lab, name)
    alive = {(a.host, a.agent_type) for a in admin_cloud.network.agents() if a.is_alive}
    assert (COMPUTE2, "Open vSwitch agent") in alive and not {t for h, t in alive if h == COMPUTE2} - {
        "Open vSwitch agent"
    }
    for agent in admin_cloud.network.agents(agent_type="Open vSwitch agent"):
        assert agent.configuration["bridge_mappings"] == {"external": "br-ex", "physnet1": BRIDGE}, agent.host
    for router in vlan_lab["routers"].values():
        assert {a.host for a in admin_cloud.network.routers_hosting_l3_agents(router["id"])} == {HOST1}
    for host, wire in WIRE.items():
        ports = api.run_on(host, ["ovs-vsctl", "list-ports", BRIDGE], capture=True).stdout.split()
        assert sorted(ports) == sorted([wire, "phy-br-vlan"]), (host, ports)


def test_the_join_draws_br_vlan_its_wire_port_and_the_patch_pair_on_both_hosts(vlan_lab: JsonDict) -> None:
    graph = joined(vlan_lab)
    by_id = {n["id"]: n for n in graph["nodes"]}
    assert {i: n["attrs"]["warnings"] for i, n in by_id.items() if n["attrs"].get("warnings")} == {}
    members = {(e["source"], e["target"]) for e in graph["edges"] if e["kind"] == "member"}
    for host, wire in WIRE.items():
        bridge = f"bridge:{host}:{BRIDGE}"
        assert bridge in by_id
        assert {(bridge, f"iface:{host}:-:{wire}"), (bridge, f"iface:{host}:-:phy-br-vlan")} <= members
        assert (f"bridge:{host}:br-int", f"iface:{host}:-:int-br-vlan") in members
        assert by_id[f"iface:{host}:-:int-br-vlan"]["attrs"]["patch_peer"] == f"iface:{host}:-:phy-br-vlan"


# --------------------------------------------------------------------------- the walks, then pings


def test_vm01_goes_out_through_router01_on_its_own_host_without_the_wire_and_pings(vlan_lab: JsonDict) -> None:
    router = vlan_lab["routers"]["router01"]
    result = walk(vlan_lab, server(vlan_lab, "vm01"), OUTSIDE)
    assert (result["scenario"], result["verdict"]) == ("north-south-fip", "ok"), result["problems"]
    hops = nodes_of(result)
    assert f"netns:{HOST1}:{router['namespace']}" in hops
    assert not any(BRIDGE in n or "vlan1" in n or n.startswith(f"iface:{COMPUTE2}") for n in hops), hops
    assert ping("vm01", OUTSIDE)
    inbound = walk(vlan_lab, OUTSIDE, vlan_lab["vms"]["vm01"]["floating_ip"])
    assert inbound["verdict"] == "ok" and nodes_of(inbound)[-1] == f"netns:{HOST1}:vm-vm01", inbound
    assert ping("outside", vlan_lab["vms"]["vm01"]["floating_ip"])


def test_vm02_crosses_the_wire_with_each_vlan_rewrite_named_and_its_flows_count_the_ping(vlan_lab: JsonDict) -> None:
    """compute2's br-vlan rewrites the local VLAN to net02's segmentation id, host 1's br-int the id to its
    own local VLAN: the flows the walk shows are the agents' real ones, and their counters grow by a ping."""
    vm, vid = server(vlan_lab, "vm02"), segid(vlan_lab, "net02")
    result = walk(vlan_lab, vm, OUTSIDE)
    assert (result["scenario"], result["verdict"]) == ("north-south-fip", "ok"), result["problems"]
    hops = nodes_of(result)
    start = hops.index(f"iface:{COMPUTE2}:-:int-br-vlan")
    assert hops[start : start + 9] == wire_hops(COMPUTE2, HOST1), hops
    assert f"netns:{HOST1}:{vlan_lab['routers']['router02']['namespace']}" in hops[start + 9 :]
    assert not any(n.endswith(":br-tun") or ":vxlan-" in n for n in hops), hops
    leave = hop(result, f"bridge:{COMPUTE2}:{BRIDGE}")
    assert re.search(rf"local VLAN \d+ rewritten to VLAN {vid} of physical network physnet1", leave["what"]), leave
    assert leave["flows"] and all(rewrites_to(f, vid) and "n_packets=" in f for f in leave["flows"]), leave
    assert f"sets VLAN {vid}" in leave["evidence"] or f"mod_vlan_vid:{vid}," in leave["flows"][0], leave
    arrive = next(h for h in result["hops"][start:] if h["node"] == f"bridge:{HOST1}:br-int")
    assert f"VLAN {vid} rewritten to the local VLAN" in arrive["what"], arrive
    assert arrive["flows"] and all(f"dl_vlan={vid} " in f for f in arrive["flows"]), arrive["flows"]
    before = packets(leave["flows"]), packets(arrive["flows"])
    assert ping("vm02", OUTSIDE)
    after = counted_after(vlan_lab, vm, (leave["node"], arrive["node"]), start, before)
    assert after[0] > before[0] and after[1] > before[1], (before, after)


def counted_after(
    state: JsonDict, vm: str, nodes: tuple[str, str], start: int, before: tuple[int, int]
) -> tuple[int, int]:
    """The two hops' flow counters, walked again until both grew or 20 s passed: the datapath credits the
    packets that hit a cached megaflow to the OpenFlow rules only when its revalidator runs (about every
    500 ms, later under load), so a dump right after the ping can still show the old counts."""
    deadline = time.monotonic() + 20
    while True:
        again = walk(state, vm, OUTSIDE)
        after = (
            packets(hop(again, nodes[0])["flows"]),
            packets(next(h for h in again["hops"][start:] if h["node"] == nodes[1])["flows"]),
        )
        if (after[0] > before[0] and after[1] > before[1]) or time.monotonic() > deadline:
            return after
        time.sleep(1)


def test_vm02s_floating_ip_comes_in_over_the_wire_and_pings(vlan_lab: JsonDict) -> None:
    vid = segid(vlan_lab, "net02")
    result = walk(vlan_lab, OUTSIDE, vlan_lab["vms"]["vm02"]["floating_ip"])
    assert (result["scenario"], result["verdict"]) == ("inbound-fip", "ok"), result["problems"]
    hops = nodes_of(result)
    start = hops.index(f"iface:{HOST1}:-:int-br-vlan")
    assert hops[start : start + 9] == wire_hops(HOST1, COMPUTE2), hops
    assert hops[-1] == f"netns:{COMPUTE2}:vm-vm02"
    assert f"rewritten to VLAN {vid}" in hop(result, f"bridge:{HOST1}:{BRIDGE}")["what"]
    assert f"VLAN {vid} rewritten" in hop(result, f"bridge:{COMPUTE2}:br-int")["what"]
    assert ping("outside", vlan_lab["vms"]["vm02"]["floating_ip"])


# --------------------------------------------------------------------------- broken for real


@contextlib.contextmanager
def wire_port_removed(host: str) -> Iterator[None]:
    """The wire's end deleted from the host's br-vlan for real (its "NIC"); put back."""
    from lab import api

    removed = api.run_on(host, ["ovs-vsctl", "del-port", BRIDGE, WIRE[host]], capture=True)
    assert removed.returncode == 0, removed.stderr
    try:
        yield
    finally:
        api.run_on(host, ["ovs-vsctl", "--may-exist", "add-port", BRIDGE, WIRE[host]])


def test_the_wire_port_removed_from_compute2s_br_vlan_is_named_and_the_ping_fails(vlan_lab: JsonDict) -> None:
    vm = server(vlan_lab, "vm02")
    with wire_port_removed(COMPUTE2):
        result = walk(vlan_lab, vm, OUTSIDE)
        assert result["verdict"] == "broken", result
        (problem,) = [p for p in result["problems"] if p["severity"] == "fail"]
        assert problem["code"] == "provider_no_physical_port" and problem["node"] == f"bridge:{COMPUTE2}:{BRIDGE}"
        assert [h["node"] for h in result["hops"] if h["status"] == "fail"] == [f"bridge:{COMPUTE2}:{BRIDGE}"]
        assert ping_stops("vm02", OUTSIDE)
    assert walk(vlan_lab, vm, OUTSIDE)["verdict"] == "ok"
    pings_again("vm02", OUTSIDE)


def restart_ovs_agent(host: str, conf_text: str) -> None:
    """compute2's OVS agent stopped, its file rewritten, started again; until Neutron has its new report."""
    from lab import hosts, keystone, neutron, procs

    (daemon,) = [d for d in hosts.agent_daemons("vlan") if d.name.endswith("neutron-openvswitch-agent")]
    since = neutron.now_utc()
    procs.stop(daemon.name)
    hosts.OVS_AGENT_CONF.write_text(conf_text)
    with procs.view(hosts.view(host)):
        procs.start(daemon)
        admin = neutron.client(keystone.ADMIN)
        neutron.wait_agents_alive(admin, host=host, types=("Open vSwitch agent",), started_after=since)


@contextlib.contextmanager
def bridge_mapping_dropped(host: str) -> Iterator[None]:
    """The host's OVS agent restarted for real without physnet1 in bridge_mappings; restored after."""
    from lab import hosts

    was = hosts.OVS_AGENT_CONF.read_text()
    without = was.replace(",physnet1:br-vlan", "")
    assert without != was
    restart_ovs_agent(host, without)
    try:
        yield
    finally:
        restart_ovs_agent(host, was)


def test_compute2_without_the_bridge_mapping_is_named_and_the_ping_fails(
    vlan_lab: JsonDict, admin_cloud: Cloud
) -> None:
    vm = server(vlan_lab, "vm02")
    with bridge_mapping_dropped(COMPUTE2):
        (agent,) = admin_cloud.network.agents(host=COMPUTE2, agent_type="Open vSwitch agent")
        assert agent.configuration["bridge_mappings"] == {"external": "br-ex"}
        result = walk(vlan_lab, vm, OUTSIDE)
        assert result["verdict"] == "broken", result
        (problem,) = [p for p in result["problems"] if p["severity"] == "fail"]
        assert problem["code"] == "bridge_mapping_missing", problem
        assert problem["node"] == f"bridge:{COMPUTE2}:br-int" and "physnet1" in problem["message"], problem
        assert ping_stops("vm02", OUTSIDE)
    pings_again("vm02", OUTSIDE)
    assert walk(vlan_lab, vm, OUTSIDE)["verdict"] == "ok"


@contextlib.contextmanager
def vlan_range_filled(alt: Cloud) -> Iterator[tuple[list[Any], openstack.exceptions.HttpException]]:
    """physnet1:100:104 has five VLANs, net01 and net02 hold two: alt makes networks until Neutron refuses
    the next (no VLAN left to allocate); yields them and the refusal, deletes them after."""
    made: list[Any] = []
    try:
        for i in range(3):
            made.append(alt.network.create_network(name=f"vlan-fill-{i}"))
        with pytest.raises(openstack.exceptions.HttpException) as refused:
            made.append(alt.network.create_network(name="vlan-fill-full"))
        yield made, refused.value
    finally:
        for net in made:
            alt.network.delete_network(net)


def test_a_full_vlan_range_refuses_the_next_network(vlan_lab: JsonDict) -> None:
    """Neutron refuses a sixth network of physnet1:100:104; deleted, the range has room again."""
    from tests.conftest import lab_connection

    alt = lab_connection("lab-alt")
    with vlan_range_filled(alt) as (made, refused):
        assert {n.provider_segmentation_id for n in made} <= {None}, "a project sees no provider attributes"
        assert refused.status_code in (409, 503), refused
        assert "network" in str(refused).lower() and "available" in str(refused).lower(), refused
    spare = alt.network.create_network(name="vlan-fill-again")
    alt.network.delete_network(spare)


FULL = "no VLAN ids free on physnet1: VLAN range 100-104 (5 ids) all in use; new VLAN networks will be refused"
FOR_MEMBERS = "no VLAN ids free on physnet1: new VLAN networks will be refused"


def session_client(state: JsonDict, user: str) -> Client:
    """The Django test client logged in as ``user`` through the real Keystone (a session, as a browser)."""
    client = Client()
    form = {"username": user, "password": lab_password(state, user), "domain": "Default", "next": "/"}
    assert client.post("/login/", form).status_code == 302
    return client


def dashboard_says(state: JsonDict, user: str) -> tuple[dict[str, list[str]], str, str]:
    """What ``user`` is shown now: the map API's warnings by node, its whole text, and the routers page."""
    client = session_client(state, user)
    topology = client.get("/api/v1/topology/?view=full")
    assert topology.status_code == 200, topology.content[:300]
    found = {n["id"]: n["attrs"]["warnings"] for n in topology.json()["nodes"] if n["attrs"].get("warnings")}
    routers = client.get("/routers/")
    assert routers.status_code == 200
    return found, topology.content.decode(), routers.content.decode()


def test_a_full_vlan_range_is_said_on_the_map_and_the_routers_page_and_gone_once_freed(
    vlan_lab: JsonDict, admin_cloud: Cloud
) -> None:
    """The cloud refresh reads Neutron's network_segment_range plugin: with physnet1:100:104 filled for real,
    every VLAN network of physnet1 carries the warning on the map and the routers page says it; alt sees it
    without the range on its own networks, demo none of alt's networks; deleted, it is gone."""
    from tests.conftest import lab_connection

    (vlan_range,) = [r for r in admin_cloud.network.network_segment_ranges() if r.network_type == "vlan"]
    assert (vlan_range.physical_network, vlan_range.minimum, vlan_range.maximum) == ("physnet1", 100, 104)
    assert joined(vlan_lab) and dashboard_says(vlan_lab, "admin")[0] == {}
    with vlan_range_filled(lab_connection("lab-alt")) as (made, _):
        services.refresh_cloud()
        assert not admin_cloud.network.get_network_segment_range(vlan_range.id).available
        nets = {*vlan_lab["networks"].values(), *(n.id for n in made)} - {vlan_lab["networks"]["public"]}
        found, _, page = dashboard_says(vlan_lab, "admin")
        assert found == {f"network:{n}": [FULL] for n in nets}, found
        assert f'<p class="warn vlan-range-full">{FULL}</p>' in page
        alt_found, _, alt_page = dashboard_says(vlan_lab, "alt")
        assert alt_found == {f"network:{n}": [FOR_MEMBERS] for n in nets}, alt_found
        assert FOR_MEMBERS in alt_page and "100-104" not in alt_page
        demo_found, demo_text, demo_page = dashboard_says(vlan_lab, "demo")
        assert demo_found == {} and FOR_MEMBERS in demo_page
        for secret in (*nets, *(n.name for n in made), "net01", "net02", vlan_lab["projects"]["alt"]):
            assert secret not in demo_text and secret not in demo_page, secret
    services.refresh_cloud()
    found, _, page = dashboard_says(vlan_lab, "admin")
    assert found == {} and "vlan-range-full" not in page
