"""Seed 003 on the real lab (scenario netnode): the VMs on host 1 `controller`, router1's qrouter- and
the network's qdhcp- on the network node `compute2`, VXLAN between them. Every walk is explained and
then really pinged from the VM's namespace; the broken state `no_tunnel` is made for real (host 1's
tunnel port to the network node deleted from br-tun) and undone. All netnode rows are in this one file
so that the scenario is built once per run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.test import Client

from tests.broken_states import l3_agent_stopped, ping_stops
from tests.path_proof import nat_packets, outside_sees_the_explained_exit
from tests.test_path_broken import pings_again
from tests.test_path_isolation_lab import ask, assert_tells_nothing, state_secrets, tenant_ports
from tests.test_topology_dvr import joined
from tests.test_topology_lab import keystone_token
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
Cloud = openstack.connection.Connection
JsonDict = dict[str, Any]
OUTSIDE = "192.168.1.1"
VM_HOST, NET_NODE = "controller", "compute2"


def server(state: JsonDict, vm: str) -> str:
    return f"server:{state['vms'][vm]['server_id']}"


def walk(state: JsonDict, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    return explain(joined(state), StoredReports(), src, dst, probe)


def nodes_of(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"]]


def in_order(hops: list[str], expected: list[str]) -> None:
    """Each of `expected` is crossed, in this order (other hops may come between)."""
    at = 0
    for node in expected:
        assert node in hops[at:], (node, hops)
        at = hops.index(node, at) + 1


def tunnel_hops(state: JsonDict, src: str, dst: str, from_port: bool = False) -> list[str]:
    """br-int -> br-tun -> VXLAN port -> the peer's VXLAN port -> br-tun -> br-int, `src` to `dst`; from a
    router's qr- (`from_port`) the walk names the qr- tap on br-int instead of br-int itself."""
    return [
        *([] if from_port else [f"bridge:{src}:br-int"]),
        f"bridge:{src}:br-tun",
        f"iface:{src}:-:{vxlan_port(state, dst)}",
        f"iface:{dst}:-:{vxlan_port(state, src)}",
        f"bridge:{dst}:br-tun",
        f"bridge:{dst}:br-int",
    ]


def vxlan_port(state: JsonDict, remote: str) -> str:
    """OVS names a tunnel port after the remote address in hex: vxlan-0a00010c for 10.0.1.12."""
    ip = state["hosts"][remote]["tunnel_ip"]
    return "vxlan-" + "".join(f"{int(part):02x}" for part in ip.split("."))


def vm_side(state: JsonDict, vm: str) -> list[str]:
    port = state["vms"][vm]["port_id"][:11]
    return [f"iface:{VM_HOST}:-:tap{port}", f"bridge:{VM_HOST}:qbr{port}", f"iface:{VM_HOST}:-:qvo{port}"]


def ping(vm: str, target: str, timeout: float = 120) -> bool:
    from lab import api

    return bool(api.ping(vm, target, timeout=timeout))


def dhcp_port(admin_cloud: Cloud, state: JsonDict) -> Any:
    (port,) = admin_cloud.network.ports(network_id=state["networks"]["private"], device_owner="network:dhcp")
    return port


# --------------------------------------------------------------------------- the build


def test_router1_and_dhcp_live_on_the_network_node_and_the_vms_on_host_1(
    netnode_lab: JsonDict, admin_cloud: Cloud
) -> None:
    from lab import api

    assert netnode_lab["hosts"][NET_NODE]["role"] == "network"
    assert {v["host"] for v in netnode_lab["vms"].values()} == {VM_HOST}
    alive = {(a.host, a.agent_type) for a in admin_cloud.network.agents() if a.is_alive}
    assert {(NET_NODE, "L3 agent"), (NET_NODE, "DHCP agent"), (VM_HOST, "Open vSwitch agent")} <= alive
    assert not {t for h, t in alive if h == VM_HOST} & {"L3 agent", "DHCP agent"}, alive
    router = netnode_lab["routers"]["router1"]["id"]
    assert {a.host for a in admin_cloud.network.routers_hosting_l3_agents(router)} == {NET_NODE}
    qrouter, qdhcp = f"qrouter-{router}", f"qdhcp-{netnode_lab['networks']['private']}"
    assert {qrouter, qdhcp} <= set(api.namespaces(NET_NODE))
    assert not {qrouter, qdhcp} & set(api.namespaces(VM_HOST))
    # seed 003's dnsmasq option 26: the VMs' DHCP client set the MTU the network node's dnsmasq pushed
    for vm in netnode_lab["vms"]:
        link = api.run_on(VM_HOST, ["ip", "-n", f"vm-{vm}", "-o", "link", "show", "eth0"], capture=True).stdout
        assert " mtu 1400 " in link, link
    dnsmasq = api.run_on(NET_NODE, ["pgrep", "-a", "dnsmasq"], capture=True).stdout
    served = [line for line in dnsmasq.splitlines() if netnode_lab["networks"]["private"] in line]
    assert served and "dnsmasq-neutron.conf" in served[0], dnsmasq


def test_the_topology_joins_every_port_on_both_hosts_without_warnings(
    netnode_lab: JsonDict, admin_cloud: Cloud
) -> None:
    graph = joined(netnode_lab)
    by_id = {n["id"]: n for n in graph["nodes"]}
    warned = {i: n["attrs"]["warnings"] for i, n in by_id.items() if n["attrs"].get("warnings")}
    assert warned == {}
    binds = {(e["source"], e["target"]) for e in graph["edges"] if e["kind"] == "binds"}
    bound_hosts = set()
    for port in admin_cloud.network.ports():
        host = port.binding_host_id
        if not host:
            continue
        node = f"port:{port.id}"
        assert node in by_id and by_id[node]["host"] == host, (port.device_owner, node)
        devices = [t for s, t in binds if s == node and t.startswith(f"iface:{host}:")]
        assert devices, f"{port.device_owner} port {port.id} on {host} joined to no device there"
        bound_hosts.add((host, port.device_owner))
    assert {(VM_HOST, "compute:nova"), (NET_NODE, "network:dhcp"), (NET_NODE, "network:router_gateway")} <= (
        bound_hosts
    )
    assert (NET_NODE, "network:router_interface") in bound_hosts


# --------------------------------------------------------------------------- the walks, then pings


def test_snat_walk_crosses_vxlan_to_the_network_nodes_qrouter_and_pings(netnode_lab: JsonDict) -> None:
    from lab import api

    graph = joined(netnode_lab)
    router = netnode_lab["routers"]["router1"]
    result = explain(graph, StoredReports(), server(netnode_lab, "ubuntu-01"), OUTSIDE)
    assert (result["scenario"], result["verdict"]) == ("north-south-snat", "ok"), result
    hops = nodes_of(result)
    qrouter = f"netns:{NET_NODE}:qrouter-{router['id']}"
    in_order(hops, [*vm_side(netnode_lab, "ubuntu-01"), *tunnel_hops(netnode_lab, VM_HOST, NET_NODE), qrouter])
    qg = [h for h in hops if h.startswith(f"iface:{NET_NODE}:qrouter-{router['id']}:qg-")]
    assert qg, hops
    in_order(hops, [qrouter, qg[0], f"bridge:{NET_NODE}:br-ex"])
    snat = next(h for h in result["hops"] if h["node"] == qrouter and "SNAT" in h["evidence"])
    assert f"--to-source {router['gateway_ip']}" in snat["evidence"]
    assert ping("ubuntu-01", OUTSIDE)
    outside_sees_the_explained_exit(result, graph, lambda: api.ping("ubuntu-01", OUTSIDE, timeout=30))
    assert nat_packets(walk(netnode_lab, server(netnode_lab, "ubuntu-01"), OUTSIDE)) > nat_packets(result)


def test_fip_walks_out_and_in_through_the_network_node_and_ping(netnode_lab: JsonDict) -> None:
    from lab import api

    cirros = netnode_lab["vms"]["cirros-01"]
    router = netnode_lab["routers"]["router1"]["id"]
    qrouter = f"netns:{NET_NODE}:qrouter-{router}"
    graph = joined(netnode_lab)
    out = explain(graph, StoredReports(), server(netnode_lab, "cirros-01"), OUTSIDE)
    assert (out["scenario"], out["verdict"]) == ("north-south-fip", "ok"), out
    in_order(nodes_of(out), [*vm_side(netnode_lab, "cirros-01"), *tunnel_hops(netnode_lab, VM_HOST, NET_NODE), qrouter])
    assert any(h["node"] == qrouter and f"--to-source {cirros['floating_ip']}" in h["evidence"] for h in out["hops"])
    inbound = explain(graph, StoredReports(), OUTSIDE, cirros["floating_ip"])
    assert (inbound["scenario"], inbound["verdict"]) == ("inbound-fip", "ok"), inbound
    hops = nodes_of(inbound)
    in_order(
        hops,
        [
            f"bridge:{NET_NODE}:br-ex",
            qrouter,
            *tunnel_hops(netnode_lab, NET_NODE, VM_HOST, from_port=True),
            vm_side(netnode_lab, "cirros-01")[-1],
        ],
    )
    dnat = next(h for h in inbound["hops"] if h["node"] == qrouter and "DNAT" in h["evidence"])
    assert f"--to-destination {cirros['ip']}" in dnat["evidence"]
    assert ping("cirros-01", OUTSIDE)
    outside_sees_the_explained_exit(out, graph, lambda: api.ping("cirros-01", OUTSIDE, timeout=30))
    assert ping("outside", cirros["floating_ip"])


def test_dhcp_walk_goes_to_the_network_nodes_qdhcp_and_pings(netnode_lab: JsonDict, admin_cloud: Cloud) -> None:
    port = dhcp_port(admin_cloud, netnode_lab)
    address = port.fixed_ips[0]["ip_address"]
    result = walk(netnode_lab, server(netnode_lab, "ubuntu-01"), address)
    assert result["verdict"] == "ok", result
    qdhcp = f"netns:{NET_NODE}:qdhcp-{netnode_lab['networks']['private']}"
    in_order(
        nodes_of(result), [*vm_side(netnode_lab, "ubuntu-01"), *tunnel_hops(netnode_lab, VM_HOST, NET_NODE), qdhcp]
    )
    assert ping("ubuntu-01", address)


# --------------------------------------------------------------------------- broken for real: no_tunnel


@contextlib.contextmanager
def tunnel_removed(state: JsonDict) -> Iterator[str]:
    """Host 1's VXLAN port to the network node deleted from br-tun, for real; put back as it was (the
    same name, options and OpenFlow port number, so the OVS agent's flows that name it work again)."""
    from lab import api

    name = vxlan_port(state, NET_NODE)
    columns = api.run_on(VM_HOST, ["ovs-vsctl", "get", "Interface", name, "ofport", "options"], capture=True)
    assert columns.returncode == 0, columns.stderr
    ofport, options = columns.stdout.split("\n", 1)
    removed = api.run_on(VM_HOST, ["ovs-vsctl", "del-port", "br-tun", name], capture=True)
    assert removed.returncode == 0, removed.stderr
    try:
        yield name
    finally:
        api.run_on(
            VM_HOST,
            [
                "ovs-vsctl",
                "--may-exist",
                "add-port",
                "br-tun",
                name,
                "--",
                "set",
                "Interface",
                name,
                "type=vxlan",
                f"ofport_request={ofport.strip()}",
                f"options={options.strip()}",
            ],
        )


def test_no_tunnel_names_the_tunnel_hop_broken_and_the_ping_fails(netnode_lab: JsonDict) -> None:
    with tunnel_removed(netnode_lab):
        result = walk(netnode_lab, server(netnode_lab, "ubuntu-01"), OUTSIDE)
        assert result["verdict"] == "broken", result
        assert "no_tunnel" in {p["code"] for p in result["problems"]}
        failed = [h for h in result["hops"] if h["status"] == "fail"]
        assert failed[0]["node"] == f"bridge:{VM_HOST}:br-tun", failed
        assert NET_NODE in failed[0]["evidence"] or NET_NODE in json.dumps(result["problems"])
        assert ping_stops("ubuntu-01", OUTSIDE)
    assert walk(netnode_lab, server(netnode_lab, "ubuntu-01"), OUTSIDE)["verdict"] == "ok"
    pings_again("ubuntu-01", OUTSIDE)


# --------------------------------------------------------------------------- broken for real: the underlay's MTU

NARROW = 1420  # the wire's MTU: VXLAN needs the VM's 1,400 bytes + 50 (1,450), the network's 1,450 + 50


@contextlib.contextmanager
def underlay_narrowed(mtu: int) -> Iterator[None]:
    """The tunnel's wire (br-phy's system port on each host: lab-tun1, lab-tun2) set to ``mtu`` for real;
    put back as it was."""
    from lab import api, hosts

    ends = list(zip((VM_HOST, NET_NODE), hosts.TUNNEL_LINKS, strict=True))
    was = {host: link_mtu(host, link) for host, link in ends}
    try:
        for host, link in ends:
            assert api.run_on(host, ["ip", "link", "set", link, "mtu", str(mtu)]).returncode == 0
        yield
    finally:
        for host, link in ends:
            api.run_on(host, ["ip", "link", "set", link, "mtu", str(was[host])])


def link_mtu(host: str, link: str) -> int:
    from lab import api

    shown = api.run_on(host, ["ip", "-j", "link", "show", link], capture=True)
    assert shown.returncode == 0, shown.stderr
    return int(json.loads(shown.stdout)[0]["mtu"])


def df_ping(vm: str, target: str, payload: int) -> bool:
    """Three pings of ``payload`` bytes that may not be fragmented (the IP packet is 28 bytes more)."""
    from lab import api

    sent = api.run_in(vm, ["ping", "-c", "3", "-W", "2", "-M", "do", "-s", str(payload), target])
    return sent.returncode == 0


def test_an_underlay_narrower_than_vxlan_needs_warns_on_the_tunnel_and_full_size_df_pings_fail(
    netnode_lab: JsonDict,
) -> None:
    vm, full, small = server(netnode_lab, "ubuntu-01"), 1400 - 28, 1300 - 28
    codes = {p["code"] for p in walk(netnode_lab, vm, OUTSIDE)["problems"]}
    assert "vxlan_mtu_too_high" not in codes and df_ping("ubuntu-01", OUTSIDE, full)
    with underlay_narrowed(NARROW):
        result = walk(netnode_lab, vm, OUTSIDE)
        assert result["verdict"] == "ok", result["problems"]
        tunnel = f"iface:{VM_HOST}:-:{vxlan_port(netnode_lab, NET_NODE)}"
        (warned,) = [p for p in result["problems"] if p["code"] == "vxlan_mtu_too_high" and p["node"] == tunnel]
        assert warned["severity"] == "warn"
        assert f"lab-tun1 on {VM_HOST}" in warned["message"] and f"has MTU {NARROW}" in warned["message"]
        assert "1500 bytes in vxlan" in warned["message"]
        assert next(h for h in result["hops"] if h["node"] == tunnel)["status"] == "warn"
        assert not df_ping("ubuntu-01", OUTSIDE, full), "a full-size packet crossed a wire too narrow for it"
        assert df_ping("ubuntu-01", OUTSIDE, small), "a small packet must still cross"
    assert "vxlan_mtu_too_high" not in {p["code"] for p in walk(netnode_lab, vm, OUTSIDE)["problems"]}
    assert df_ping("ubuntu-01", OUTSIDE, full)


# --------------------------------------------------------------------------- broken for real: the L3 agent


def test_the_network_nodes_l3_agent_stopped(netnode_lab: JsonDict, admin_cloud: Cloud) -> None:
    """Stopped for real on compute2: router1's qrouter keeps routing (a warning naming the agent, the old
    floating IP answers), but a floating IP made meanwhile is never set up there (broken, blamed on the
    agent, and really unanswered); started again, the new one works."""
    from lab import api

    ubuntu, cirros = netnode_lab["vms"]["ubuntu-01"], netnode_lab["vms"]["cirros-01"]
    with l3_agent_stopped(admin_cloud, NET_NODE):
        fip = admin_cloud.network.create_ip(
            floating_network_id=netnode_lab["networks"]["public"],
            port_id=ubuntu["port_id"],
            project_id=netnode_lab["projects"]["demo"],
        )
        try:
            new = walk(netnode_lab, OUTSIDE, fip.floating_ip_address)
            assert new["verdict"] == "broken", new["problems"]
            dead = [p for p in new["problems"] if p["code"] == "agent_dead"]
            assert dead and dead[0]["severity"] == "fail" and f"L3 agent on {NET_NODE}" in dead[0]["message"]
            assert not api.ping("outside", fip.floating_ip_address, timeout=20)
            old = walk(netnode_lab, OUTSIDE, cirros["floating_ip"])
            assert old["verdict"] == "ok", old["problems"]
            assert {p["code"]: p["severity"] for p in old["problems"]}["agent_dead"] == "warn"
            assert api.ping("outside", cirros["floating_ip"], timeout=60)
            assert api.ping("ubuntu-01", OUTSIDE, timeout=60)  # SNAT in the qrouter still runs
        finally:
            admin_cloud.network.delete_ip(fip)
    pings_again("ubuntu-01", OUTSIDE)
    assert walk(netnode_lab, server(netnode_lab, "ubuntu-01"), OUTSIDE)["problems"] == []


# --------------------------------------------------------------------------- tenant isolation


@pytest.fixture
def netnode_alt_ports(netnode_lab: JsonDict) -> Iterator[list[JsonDict]]:
    """alt gets demo's subnet again (10.0.0.0/24) with an address of its own."""
    from tests.conftest import lab_connection

    with tenant_ports(lab_connection("lab-alt"), "leak-alt", "10.0.0.0/24", ["10.0.0.200"]) as ports:
        joined(netnode_lab)
        yield ports


def test_alt_learns_nothing_of_demos_netnode_paths(
    netnode_lab: JsonDict, admin_cloud: Cloud, client: Client, netnode_alt_ports: list[JsonDict]
) -> None:
    cirros, ubuntu = netnode_lab["vms"]["cirros-01"], netnode_lab["vms"]["ubuntu-01"]
    secrets = state_secrets(netnode_lab, admin_cloud, "demo", "alt")
    router = netnode_lab["routers"]["router1"]["id"]
    assert {cirros["port_id"], cirros["floating_ip"], router} <= secrets
    admin_status, admin_body = ask(client, keystone_token(netnode_lab, "admin"), OUTSIDE, cirros["floating_ip"])
    assert admin_status == 200 and router in admin_body, "the admin's answer names demo's router: the grep can find it"
    own = f"port:{netnode_alt_ports[0]['id']}"
    dhcp = dhcp_port(admin_cloud, netnode_lab)
    assert_tells_nothing(
        client,
        keystone_token(netnode_lab, "alt"),
        secrets,
        [
            (OUTSIDE, cirros["floating_ip"]),
            (own, cirros["floating_ip"]),
            (own, ubuntu["ip"]),
            (f"server:{ubuntu['server_id']}", OUTSIDE),
            (f"port:{ubuntu['port_id']}", dhcp.fixed_ips[0]["ip_address"]),
            (OUTSIDE, f"port:{dhcp.id}"),
            (OUTSIDE, f"fip:{netnode_lab['floating_ips']['cirros-01']['id']}"),
        ],
        probes=("icmp", "udp:67"),
    )


def test_demo_learns_nothing_of_alt_on_the_netnode_lab(
    netnode_lab: JsonDict, admin_cloud: Cloud, client: Client, netnode_alt_ports: list[JsonDict]
) -> None:
    secrets = state_secrets(netnode_lab, admin_cloud, "alt", "demo")
    theirs = netnode_alt_ports[0]
    assert theirs["id"] in secrets and "10.0.0.200" in secrets
    answers = assert_tells_nothing(
        client,
        keystone_token(netnode_lab, "demo"),
        secrets,
        [
            (server(netnode_lab, "ubuntu-01"), "10.0.0.200"),
            (server(netnode_lab, "ubuntu-01"), f"port:{theirs['id']}"),
            (f"port:{theirs['id']}", OUTSIDE),
        ],
        probes=("icmp",),
    )
    own_walk = json.loads(answers[0][1])
    assert own_walk["src"]["node"] == f"port:{netnode_lab['vms']['ubuntu-01']['port_id']}" and own_walk["hops"]
