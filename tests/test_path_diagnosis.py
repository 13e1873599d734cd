"""The explainer's diagnoses, pure: each problem code from one real-life break of a healthy synthetic cloud.

The cloud is bench/synthetic.py's (two hosts: compute0000 is the network node with the qrouter and
qdhcp namespaces, compute0001 a compute host) with bench/path.py's gateway port, br-ex and a floating
IP on every VM; ``dvr()`` makes its router distributed with compute0001's qrouter, fip namespace
(fpr-/fg-), rfp- and br-ex, as a DVR L3 agent builds them. Each test first walks the healthy cloud
(``ok``, no problem), then breaks exactly one thing the way it breaks on a real cloud and checks the
verdict, the problem code, that the message names what to fix, and the hop that fails (its host
and device). No lab, no database: the join and the explainer are pure functions.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest

from bench.path import add_gateways_and_fips
from bench.synthetic import iface, mac, ovs_iface, synthetic_cloud, uid
from topology.join import join
from topology.path import explain

JsonDict = dict[str, Any]
Cloud = tuple[JsonDict, dict[str, JsonDict]]
Break = Callable[[JsonDict, dict[str, JsonDict]], None]

OUTSIDE = "192.168.0.1"  # the external subnet's gateway: a host on the outside
NETWORK_NODE, COMPUTE = "compute0000", "compute0001"
ROUTER, PUBLIC, NET0 = uid("router", 0), uid("net", "public"), uid("net", 0)
VM1_PORT = uid("vmport", 1)  # vm-1, on compute0001: its paths cross the tunnel to the network node
GW_PORT, QR_PORT, DHCP_PORT = uid("port", "gw", 0), uid("port", "qr", 0), uid("port", "dhcp", 0)
FG_PORT = uid("port", "fg", COMPUTE)
QROUTER, FIP_NS = f"qrouter-{ROUTER}", f"fip-{PUBLIC}"


# --------------------------------------------------------------------------- healthy clouds


@functools.cache
def _legacy() -> Cloud:
    cloud, reports = synthetic_cloud(hosts=2, ports=4, projects=1, network_nodes=1)
    add_gateways_and_fips(cloud, reports, fip_every=1)
    return cloud, reports


def legacy() -> Cloud:
    """One legacy router-0 on compute0000 (qr-, qg-, SNAT/DNAT rules), a floating IP on every VM."""
    return copy.deepcopy(_legacy())


@functools.cache
def _dvr() -> Cloud:
    cloud, reports = legacy()
    vm1 = port(cloud, VM1_PORT)
    fixed, address = vm1["fixed_ips"][0]["ip_address"], fip_address(cloud, VM1_PORT)
    cloud["routers"][0]["distributed"] = True
    qr = port(cloud, QR_PORT)
    qr["device_owner"], qr["binding:host_id"] = "network:router_interface_distributed", ""
    for agent in cloud["agents"]:
        agent["configurations"]["agent_mode"] = "dvr_snat" if agent["host"] == NETWORK_NODE else "dvr"
    l3_agent = uid("agent", COMPUTE, "neutron-l3-agent")
    cloud["agents"].append({"id": l3_agent, "host": COMPUTE, "agent_type": "L3 agent", "binary": "neutron-l3-agent",
                            "alive": True, "admin_state_up": True, "configurations": {"agent_mode": "dvr"}})
    fg_ip = "192.168.50.2"
    cloud["ports"].append({"id": FG_PORT, "network_id": PUBLIC, "device_owner": "network:floatingip_agent_gateway",
                           "device_id": l3_agent, "project_id": "", "status": "ACTIVE", "binding:host_id": COMPUTE,
                           "mac_address": mac(4_000_000),
                           "fixed_ips": [{"subnet_id": uid("subnet", "public"), "ip_address": fg_ip}]})
    r10, qr11, fg11 = ROUTER[:10], QR_PORT[:11], FG_PORT[:11]
    report = reports[COMPUTE]
    report["namespaces"] += [
        {"name": QROUTER, "routes": [], "rules": [{"from": fixed, "table": 16}],
         "iptables": {"filter": "", "nat": (
             f"*nat\n[0:0] -A neutron-l3-agent-PREROUTING -d {address}/32 -j DNAT --to-destination {fixed}\n"
             f"[0:0] -A neutron-l3-agent-float-snat -s {fixed}/32 -j SNAT --to-source {address}\nCOMMIT\n")},
         "interfaces": [iface(f"qr-{qr11}", "veth", peer=f"tap{qr11}", n=1),
                        iface(f"rfp-{r10}", "veth", peer=f"fpr-{r10}", peer_netns=FIP_NS,
                              addresses=["169.254.106.114/31"], n=2)]},
        {"name": FIP_NS, "routes": [{"dst": f"{address}/32", "gateway": "169.254.106.114", "dev": f"fpr-{r10}"}],
         "rules": [], "iptables": {},
         "interfaces": [iface(f"fpr-{r10}", "veth", peer=f"rfp-{r10}", peer_netns=QROUTER,
                              addresses=["169.254.106.115/31"], n=3),
                        iface(f"fg-{fg11}", "veth", peer=f"tap{fg11}", addresses=[f"{fg_ip}/16"], n=4)]},
    ]
    report["interfaces"] += [iface(f"tap{qr11}", "veth", peer=f"qr-{qr11}", peer_netns=QROUTER),
                             iface(f"tap{fg11}", "veth", peer=f"fg-{fg11}", peer_netns=FIP_NS),
                             iface("eth1", "physical", master="ovs-system")]
    bridges = report["ovs"]["bridges"]
    bridges[0]["ports"] += [
        {"name": f"tap{qr11}", "tag": 1, "interfaces": [ovs_iface(f"tap{qr11}", external_ids={"iface-id": QR_PORT})]},
        {"name": f"tap{fg11}", "tag": 2, "interfaces": [ovs_iface(f"tap{fg11}", external_ids={"iface-id": FG_PORT})]},
        {"name": "int-br-ex", "tag": None,
         "interfaces": [ovs_iface("int-br-ex", kind="patch", options={"peer": "phy-br-ex"})]},
    ]
    bridges.append({"name": "br-ex", "datapath_type": "netdev", "fail_mode": "secure", "ports": [
        {"name": "phy-br-ex", "tag": None,
         "interfaces": [ovs_iface("phy-br-ex", kind="patch", options={"peer": "int-br-ex"})]},
        {"name": "eth1", "tag": None, "interfaces": [ovs_iface("eth1")]}]})
    report["ovs"]["flows"]["br-ex"] = []
    return cloud, reports


def dvr() -> Cloud:
    """router-0 distributed: vm-1's floating IP lives in compute0001's own qrouter and fip namespaces."""
    return copy.deepcopy(_dvr())


# --------------------------------------------------------------------------- lookups and the walk


def port(cloud: JsonDict, port_id: str) -> JsonDict:
    return next(p for p in cloud["ports"] if p["id"] == port_id)


def agent(cloud: JsonDict, host: str, agent_type: str) -> JsonDict:
    return next(a for a in cloud["agents"] if a["host"] == host and a["agent_type"] == agent_type)


def namespace(reports: dict[str, JsonDict], host: str, name: str) -> JsonDict:
    return next(n for n in reports[host]["namespaces"] if n["name"] == name)


def fip_address(cloud: JsonDict, port_id: str) -> str:
    return str(next(f["floating_ip_address"] for f in cloud["floatingips"] if f["port_id"] == port_id))


def walk(cloud_reports: Cloud, src: str, dst: str) -> JsonDict:
    """``src``/``dst``: a VM name, "fip:vm-N" (its floating IP) or an IP address."""
    cloud, reports = cloud_reports
    graph = join(cloud, reports).to_dict()
    servers = {n["label"]: n["id"] for n in graph["nodes"] if n["kind"] == "server"}

    def endpoint(text: str) -> str:
        if text.startswith("fip:"):
            return fip_address(cloud, uid("vmport", int(text.rsplit("-", 1)[1])))
        return str(servers.get(text, text))

    return explain(graph, reports, endpoint(src), endpoint(dst))


def diagnosed(build: Callable[[], Cloud], src: str, dst: str, *breaks: Break) -> JsonDict:
    """The walk on the healthy cloud must be ok and clean; then on the same cloud with ``breaks`` made."""
    healthy = walk(build(), src, dst)
    assert (healthy["verdict"], healthy["problems"]) == ("ok", []), healthy["problems"]
    assert all(h["status"] == "ok" for h in healthy["hops"]), [h for h in healthy["hops"] if h["status"] != "ok"]
    cloud, reports = build()
    for make in breaks:
        make(cloud, reports)
    return walk((cloud, reports), src, dst)


def the_problem(result: JsonDict, code: str, severity: str = "fail") -> JsonDict:
    """The walk's only problem: ``code``, nothing else blamed alongside it."""
    assert [(p["code"], p["severity"]) for p in result["problems"]] == [(code, severity)], result["problems"]
    return dict(result["problems"][0])


def failed_hops(result: JsonDict) -> list[JsonDict]:
    return [h for h in result["hops"] if h["status"] == "fail"]


def the_failed_hop(result: JsonDict) -> JsonDict:
    (hop,) = failed_hops(result)
    return hop


def instance(result: JsonDict, end: str) -> str:
    """The instance (server) node vm-1's walk starts at (``src``) or ends at (``dst``)."""
    node = str(result["hops"][0 if end == "src" else -1]["node"])
    assert node.startswith("server:"), node
    return node


# --------------------------------------------------------------------------- breaks


def vm1_port_down(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """Neutron marks the port DOWN (its L2 agent reported the device down)."""
    port(cloud, VM1_PORT)["status"] = "DOWN"


def vm1_qvo_untagged(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The OVS agent has not wired vm-1's qvo into br-int: no local VLAN tag."""
    qvo = next(p for p in reports[COMPUTE]["ovs"]["bridges"][0]["ports"] if p["name"] == f"qvo{VM1_PORT[:11]}")
    qvo["tag"] = None


def ovs_agent_dead(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    agent(cloud, COMPUTE, "Open vSwitch agent")["alive"] = False


def dhcp_agent_dead(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    agent(cloud, NETWORK_NODE, "DHCP agent")["alive"] = False


def qrouter_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The network node lost router-0's namespace (rebooted; its L3 agent has not rebuilt it)."""
    reports[NETWORK_NODE]["namespaces"].remove(namespace(reports, NETWORK_NODE, QROUTER))


def qg_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The L3 agent did not plug router-0's gateway: no qg- in its qrouter namespace."""
    ns = namespace(reports, NETWORK_NODE, QROUTER)
    ns["interfaces"] = [i for i in ns["interfaces"] if i["name"] != f"qg-{GW_PORT[:11]}"]


def fg_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """compute0001's fip namespace has no fg- device (the DVR L3 agent did not plug its gateway port)."""
    ns = namespace(reports, COMPUTE, FIP_NS)
    ns["interfaces"] = [i for i in ns["interfaces"] if i["name"] != f"fg-{FG_PORT[:11]}"]


def physnet_renamed(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The external network was created on a physical network no OVS agent maps."""
    next(n for n in cloud["networks"] if n["id"] == PUBLIC)["provider:physical_network"] = "physnet1"


def mapping_dropped(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The network node's OVS agent runs without bridge_mappings (openvswitch_agent.ini lost external:br-ex)."""
    agent(cloud, NETWORK_NODE, "Open vSwitch agent")["configurations"]["bridge_mappings"] = {}


def tunnel_ports_gone(host: str) -> Break:
    """``host``'s br-tun has no VXLAN port to the other host (wrong local_ip, or its OVS agent never made it)."""

    def make(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        br_tun = reports[host]["ovs"]["bridges"][1]
        br_tun["ports"] = [p for p in br_tun["ports"] if not p["name"].startswith("vxlan-")]

    return make


# --------------------------------------------------------------------------- the healthy walks


@pytest.mark.parametrize(("build", "src", "dst", "scenario"), [
    (legacy, "vm-1", OUTSIDE, "north-south-fip"),
    (legacy, OUTSIDE, "fip:vm-1", "inbound-fip"),
    (legacy, "vm-1", "vm-0", "same-network"),
    (dvr, "vm-1", OUTSIDE, "north-south-fip-dvr"),
    (dvr, OUTSIDE, "fip:vm-1", "inbound-fip-dvr"),
])
def test_the_healthy_clouds_walk_ok_across_both_hosts(build: Callable[[], Cloud], src: str, dst: str,
                                                       scenario: str) -> None:
    result = walk(build(), src, dst)
    assert (result["scenario"], result["verdict"], result["problems"]) == (scenario, "ok", [])
    assert {h["host"] for h in result["hops"] if h["host"]} == (
        {NETWORK_NODE, COMPUTE} if build is legacy else {COMPUTE})


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(("src", "dst", "end"), [("vm-1", OUTSIDE, "src"), (OUTSIDE, "fip:vm-1", "dst")])
def test_a_port_neutron_marks_down(src: str, dst: str, end: str) -> None:
    result = diagnosed(legacy, src, dst, vm1_port_down)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_down")
    assert "10.0.0.11 is DOWN" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, end) and hop["host"] == COMPUTE


def test_a_qvo_the_ovs_agent_has_not_tagged() -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, vm1_qvo_untagged)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_down")
    assert f"qvo{VM1_PORT[:11]} has no VLAN tag on br-int" in problem["message"]
    assert the_failed_hop(result)["node"] == f"iface:{COMPUTE}:-:qvo{VM1_PORT[:11]}"


def test_a_port_whose_binding_failed() -> None:
    def binding_failed(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        port(cloud, VM1_PORT)["binding:vif_type"] = "binding_failed"

    result = diagnosed(legacy, "vm-1", OUTSIDE, binding_failed)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_unbound")
    assert "10.0.0.11" in problem["message"] and f"bind on host {COMPUTE}" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, "src") and hop["host"] == COMPUTE


def test_a_port_never_bound() -> None:
    def unbound(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        vm1 = port(cloud, VM1_PORT)
        vm1["binding:host_id"], vm1["binding:vif_type"] = "", "unbound"

    result = diagnosed(legacy, "vm-1", OUTSIDE, unbound)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_unbound")
    assert "port 10.0.0.11 is not bound to a host (vif_type unbound)" in problem["message"]
    assert the_failed_hop(result)["node"] == instance(result, "src")


def test_a_host_whose_node_agent_sends_no_report() -> None:
    """What is on a host without a report is unknown: the report is the fault, not missing devices."""
    def node_agent_stopped(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        del reports[COMPUTE]

    result = diagnosed(legacy, "vm-1", OUTSIDE, node_agent_stopped)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "host_no_report")
    assert f"host {COMPUTE} sends no agent report" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, "src") and hop["host"] == COMPUTE
    on_host = [h for h in result["hops"][1:] if h["host"] == COMPUTE or COMPUTE in h["node"]]
    assert on_host and all(h["status"] == "unknown" for h in on_host)


def test_a_tap_device_gone_from_the_host() -> None:
    """The instance's tap is gone (instance shut off or crashed) while Neutron's port stays ACTIVE."""
    def tap_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        interfaces = reports[COMPUTE]["interfaces"]
        interfaces.remove(next(i for i in interfaces if i["name"] == f"tap{VM1_PORT[:11]}"))

    result = diagnosed(legacy, "vm-1", OUTSIDE, tap_gone)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "device_missing")
    assert f"tap{VM1_PORT[:11]} is missing on {COMPUTE}" in problem["message"]
    hop = the_failed_hop(result)
    assert (hop["host"], hop["what"]) == (COMPUTE, "leaves the instance on its tap device")


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
        cloud["routers"].append({"id": internal, "name": "internal", "status": "ACTIVE", "project_id": project,
                                 "external_gateway_info": None})
        cloud["ports"].append({"id": uid("port", "internal"), "network_id": NET0, "project_id": project,
                               "device_owner": "network:router_interface", "device_id": internal,
                               "status": "ACTIVE", "binding:host_id": NETWORK_NODE, "mac_address": mac(99),
                               "fixed_ips": [{"subnet_id": uid("subnet", 0), "ip_address": "10.0.0.254"}]})

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
    assert f"physical network {physnet} is not in the bridge_mappings of {NETWORK_NODE}'s OVS agent" in (
        problem["message"])
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


@pytest.mark.parametrize(("gone_on", "sender", "receiver"), [
    (COMPUTE, COMPUTE, NETWORK_NODE),  # no way out of the sender
    (NETWORK_NODE, COMPUTE, NETWORK_NODE),  # no port back: OVS on the receiver drops the packet
])
def test_a_missing_vxlan_tunnel_port(gone_on: str, sender: str, receiver: str) -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, tunnel_ports_gone(gone_on))
    assert result["verdict"] == "broken"
    problem = the_problem(result, "no_tunnel")
    if gone_on == sender:
        assert f"no vxlan tunnel port from {sender} to {receiver}" in problem["message"]
    else:
        assert f"no vxlan tunnel port from {receiver} back to {sender}" in problem["message"]
    assert the_failed_hop(result)["node"] == f"bridge:{gone_on}:br-tun"


# --------------------------------------------------------------------------- agents


@pytest.mark.parametrize(("make", "agent_type", "host"), [
    (ovs_agent_dead, "Open vSwitch agent", COMPUTE),
    (dhcp_agent_dead, "DHCP agent", NETWORK_NODE),
])
def test_a_dead_agent_warns_while_what_it_set_up_still_works(make: Break, agent_type: str, host: str) -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, make)
    assert result["verdict"] == "ok"
    problem = the_problem(result, "agent_dead", "warn")
    assert problem["node"] == f"host:{host}" and f"the {agent_type} on {host} is dead" in problem["message"]
    assert failed_hops(result) == []
    assert [h["node"] for h in result["hops"] if h["status"] == "warn"] == [instance(result, "src")]


def test_a_dead_ovs_agent_is_the_cause_of_the_port_it_never_wired() -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, ovs_agent_dead, vm1_qvo_untagged)
    assert result["verdict"] == "broken"
    problems = {p["code"]: p for p in result["problems"]}
    assert set(problems) == {"agent_dead", "port_down"}
    dead = problems["agent_dead"]
    assert dead["severity"] == "fail" and f"the Open vSwitch agent on {COMPUTE} is dead" in dead["message"]
    assert "what is missing on that host is what it did not apply" in dead["message"]
    assert the_failed_hop(result)["node"] == f"iface:{COMPUTE}:-:qvo{VM1_PORT[:11]}"


def test_a_dead_l3_agent_is_the_cause_of_the_qrouter_namespace_it_did_not_rebuild() -> None:
    def l3_agent_dead(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        agent(cloud, NETWORK_NODE, "L3 agent")["alive"] = False

    result = diagnosed(legacy, "vm-1", OUTSIDE, l3_agent_dead, qrouter_gone)
    assert result["verdict"] == "broken"
    problems = {p["code"]: p for p in result["problems"]}
    assert set(problems) == {"namespace_missing", "agent_dead"}
    assert problems["agent_dead"]["severity"] == "fail"
    assert f"the L3 agent on {NETWORK_NODE} is dead" in problems["agent_dead"]["message"]
    assert the_failed_hop(result)["node"] == f"host:{NETWORK_NODE}"
