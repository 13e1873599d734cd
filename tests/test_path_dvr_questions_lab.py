"""Issue 20's questions on the real two-host DVR lab (dvr-router distributed; vm-web-1 on controller with a
floating IP, vm-app-1 on compute2 without one), each explained and then really sent from the same
namespace: the verdict must be the real result. All DVR rows are in this one file so that the scenario
switches once.

Seed 000's checklist (its qr- gateway, the router's gateway address, an unallocated address) and the
hairpins, which on DVR go where the lab shows them going: a sender without a floating IP leaves by the
snat namespace's qg- (SNAT to the gateway address) and comes back in by fg-; a sender with one, to a
floating IP on its own host, turns in the fip namespace (never out by fg-).

The rest of the rows: from the outside the router's gateway address is answered on the snat
namespace's qg- (its RX counter moves), a VM's fixed IP is not routable (never DNATed); metadata from a
VM on either host goes to its own host's qrouter and haproxy and that host's metadata agent (compute2
runs its own, as Neutron's DVR compute nodes do), really fetched, and broken on compute2 only when its
qrouter has no haproxy; the DHCP port's and the router's addresses as the source reach a VM (pinged
from that qdhcp, and from the qrouter on the VM's host); a port without security groups sends
nothing; the router's SNAT port (sg-) answers in the snat namespace.
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest

from tests.broken_states import ping_stops, wait_until
from tests.sg_nat_proof import (
    connects,
    connects_within,
    groups_removed,
    ingress_rule,
    link_packets,
    nat_rule_packets,
    tcp_listener,
)
from tests.test_path_broken import pings_again
from tests.test_path_owned_lab import dhcp_address, private_subnet, unallocated_address
from tests.test_topology_dvr import joined
from topology.api import StoredReports
from topology.path import explain
from topology.path.metadata import METADATA_IP

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
Cloud = openstack.connection.Connection
JsonDict = dict[str, Any]
PORT = 8080
OWN_PORT = 8081  # not the previous test's: its rule, deleted, may still be applied for a few seconds


def server(state: dict[str, Any], vm: str) -> str:
    return f"server:{state['vms'][vm]['server_id']}"


def ping(vm: str, target: str, timeout: float = 120) -> bool:
    from lab import api

    return bool(api.ping(vm, target, timeout=timeout))


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def device(graph: JsonDict, prefix: str) -> str:
    return str(next(n["label"] for n in graph["nodes"] if n["id"].startswith(prefix)))


def test_seed_000s_checklist_from_a_vm_on_compute2(dvr_lab: dict[str, Any]) -> None:
    graph = joined(dvr_lab)
    vm = server(dvr_lab, "vm-app-1")
    rows = [
        (str(private_subnet(graph, dvr_lab)["attrs"]["gateway_ip"]), "ok", True),  # its qr- gateway
        (dvr_lab["routers"]["dvr-router"]["gateway_ip"], "ok", True),  # the router's gateway address
        (unallocated_address(graph, dvr_lab), "broken", False),  # nobody holds it
    ]
    for address, verdict, answers in rows:
        result = explain(graph, StoredReports(), vm, address)
        assert result["verdict"] == verdict, (address, result["scenario"], result["problems"])
        assert not any("br-ex" in h["node"] for h in result["hops"]), "answered (or not) inside the cloud"
        assert ping("vm-app-1", address, timeout=120 if answers else 10) == answers, (address, verdict)


def test_hairpin_from_a_vm_without_a_floating_ip_leaves_by_snat_and_is_judged_from_the_gateway(
    dvr_lab: dict[str, Any], admin_cloud: Cloud
) -> None:
    web = dvr_lab["vms"]["vm-web-1"]
    router = dvr_lab["routers"]["dvr-router"]
    gateway, fip = router["gateway_ip"], web["floating_ip"]
    assert ping("vm-app-1", fip), "the ICMP hairpin works (ICMP from anywhere)"
    graph = joined(dvr_lab)
    icmp = explain(graph, StoredReports(), server(dvr_lab, "vm-app-1"), fip)
    assert (icmp["scenario"], icmp["verdict"]) == ("inbound-fip-dvr", "ok"), icmp["problems"]
    snat_ns = f"snat-{router['id']}"
    assert any(h["node"] == f"netns:controller:{snat_ns}" for h in icmp["hops"]), "out by the snat namespace"
    assert any(":fg-" in h["node"] for h in icmp["hops"]), "back in by fg-"
    qg = device(graph, f"iface:controller:{snat_ns}:qg-")
    before = link_packets(f"controller:{snat_ns}", qg)
    for _ in range(3):
        assert ping("vm-app-1", fip, timeout=10)
    after = link_packets(f"controller:{snat_ns}", qg)
    assert after[1] - before[1] >= 3, f"the snat namespace's {qg} sends each ping out: {before} -> {after}"
    with tcp_listener("vm-web-1", PORT) as listener:
        result = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), fip, f"tcp:{PORT}")
        assert (result["verdict"], codes(result)) == ("broken", ["sg_no_ingress"]), result["problems"]
        assert f"from {gateway}" in result["problems"][0]["message"]
        assert not connects("vm-app-1", fip, PORT), "explained broken: the connect times out"
        group = dvr_lab["security_groups"]["demo:default"]
        project = admin_cloud.network.get_security_group(group).project_id
        with ingress_rule(
            admin_cloud, group, protocol="tcp", port_range_min=PORT, port_range_max=PORT, project_id=project
        ):
            allowed = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), fip, f"tcp:{PORT}")
            assert allowed["verdict"] == "ok", allowed["problems"]
            assert connects_within("vm-app-1", fip, PORT)
            assert set(listener.seen()) == {gateway}, "the listener sees the snat namespace's gateway address"


def test_own_floating_ip_turns_in_the_fip_namespace_and_never_leaves_by_fg(
    dvr_lab: dict[str, Any], admin_cloud: Cloud
) -> None:
    web, router = dvr_lab["vms"]["vm-web-1"], dvr_lab["routers"]["dvr-router"]
    fip, public = web["floating_ip"], dvr_lab["networks"]["public"]
    assert ping("vm-web-1", fip)
    graph = joined(dvr_lab)
    result = explain(graph, StoredReports(), server(dvr_lab, "vm-web-1"), fip)
    assert (result["scenario"], result["verdict"]) == ("hairpin-dvr", "ok"), result["problems"]
    assert not any(":fg-" in h["node"] or "br-ex" in h["node"] for h in result["hops"])
    fip_ns, qrouter = f"controller:fip-{public}", f"controller:qrouter-{router['id']}"
    fg = device(graph, f"iface:controller:fip-{public}:fg-")
    before = (link_packets(fip_ns, fg), nat_rule_packets(qrouter, "neutron-l3-agent-PREROUTING", f"to:{web['ip']}"))
    for _ in range(3):
        assert ping("vm-web-1", fip, timeout=10)
    after = (link_packets(fip_ns, fg), nat_rule_packets(qrouter, "neutron-l3-agent-PREROUTING", f"to:{web['ip']}"))
    assert after[0] == before[0], f"{fg}'s packets moved: {before[0]} -> {after[0]}"
    assert after[1] - before[1] >= 3, "the qrouter's DNAT rule (on rfp-) counts each ping"
    with tcp_listener("vm-web-1", OWN_PORT) as listener:
        tcp = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-web-1"), fip, f"tcp:{OWN_PORT}")
        assert (tcp["verdict"], codes(tcp)) == ("broken", ["sg_no_ingress"]), tcp["problems"]
        assert f"from {fip}" in tcp["problems"][0]["message"]
        assert not connects("vm-web-1", fip, OWN_PORT)
        assert listener.seen() == []


def test_from_outside_the_gateway_address_answers_on_the_snat_namespaces_qg(dvr_lab: dict[str, Any]) -> None:
    router, outside = dvr_lab["routers"]["dvr-router"], dvr_lab["outside"]["ip"]
    graph = joined(dvr_lab)
    result = explain(graph, StoredReports(), outside, router["gateway_ip"])
    assert (result["verdict"], result["scenario"]) == ("ok", "to-router"), result["problems"]
    snat_ns = f"snat-{router['id']}"
    assert result["hops"][-1]["node"] == f"netns:controller:{snat_ns}", result["hops"][-1]
    assert any(f":{snat_ns}:qg-" in h["node"] for h in result["hops"]), "in on the snat namespace's qg-"
    assert not any("DNAT" in h["evidence"] for h in result["hops"]), "the router's own address: not NATed"
    assert ping("outside", router["gateway_ip"])
    qg = device(graph, f"iface:controller:{snat_ns}:qg-")
    before = link_packets(f"controller:{snat_ns}", qg)
    for _ in range(3):
        assert ping("outside", router["gateway_ip"], timeout=10)
    after = link_packets(f"controller:{snat_ns}", qg)
    assert after[0] - before[0] >= 3, f"the snat namespace's {qg} receives each ping: {before} -> {after}"


@pytest.mark.parametrize("vm", ["vm-web-1", "vm-app-1"])  # with and without a floating IP
def test_from_outside_a_vms_fixed_ip_is_not_routable(dvr_lab: dict[str, Any], vm: str) -> None:
    from lab import api

    fixed = dvr_lab["vms"][vm]["ip"]
    result = explain(joined(dvr_lab), StoredReports(), dvr_lab["outside"]["ip"], fixed)
    assert (result["verdict"], codes(result)) == ("broken", ["not_routable_from_outside"]), result["problems"]
    assert not any("DNAT" in h["evidence"] or "DNAT" in h["what"] for h in result["hops"]), "never DNATed"
    assert not ping("outside", fixed, timeout=5), f"{fixed} answered from the outside"
    out = api.run_in("outside", ["ping", "-c", "1", "-W", "1", fixed])
    assert out.returncode != 0 and "unreachable" in (out.stdout + out.stderr).lower(), (out.stdout, out.stderr)


def fetch_instance_id(vm: str) -> str | None:
    """A real HTTP GET of 169.254.169.254 from the VM's namespace (in its host's view): its body on 200."""
    from lab import api

    res = api.run_in(vm, ["curl", "-s", "-f", "-m", "8", f"http://{METADATA_IP}/latest/meta-data/instance-id"])
    return res.stdout.strip() if res.returncode == 0 else None


@pytest.mark.parametrize(("vm", "host"), [("vm-app-1", "compute2"), ("vm-web-1", "controller")])
def test_metadata_is_served_by_the_qrouter_and_metadata_agent_of_the_vms_own_host(
    dvr_lab: dict[str, Any], vm: str, host: str
) -> None:
    server_id = dvr_lab["vms"][vm]["server_id"]
    assert wait_until(lambda: fetch_instance_id(vm) == server_id, 180), f"metadata never answered {vm}"
    result = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, vm), METADATA_IP)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-metadata", []), result
    qrouter = f"netns:{host}:qrouter-{dvr_lab['routers']['dvr-router']['id']}"
    redirect = next(h for h in result["hops"] if "REDIRECT" in h["what"])
    assert redirect["node"] == qrouter and "--to-ports 9697" in redirect["evidence"], redirect
    proxy = next(h for h in result["hops"] if "haproxy" in h["what"])
    assert proxy["node"] == qrouter and "haproxy pid" in proxy["evidence"], proxy
    assert result["hops"][-1]["node"] == f"host:{host}" and "metadata agent" in result["hops"][-1]["what"]
    assert not any(":fg-" in h["node"] or ":qg-" in h["node"] or "br-ex" in h["node"] for h in result["hops"])
    assert fetch_instance_id(vm) == server_id, "explained ok: the GET answers the VM's own instance id"


def test_no_proxy_in_compute2s_qrouter_is_broken_there_only(dvr_lab: dict[str, Any]) -> None:
    """compute2's haproxy killed while its L3 agent is stopped (its process monitor would respawn it):
    vm-app-1's metadata is broken and its GET fails, vm-web-1's (controller's qrouter) still answers."""
    from lab import hosts, procs

    router = dvr_lab["routers"]["dvr-router"]["id"]
    app, web = (dvr_lab["vms"][vm]["server_id"] for vm in ("vm-app-1", "vm-web-1"))
    assert wait_until(lambda: fetch_instance_id("vm-app-1") == app, 180), "metadata never answered vm-app-1"
    (agent,) = [d for d in hosts.agent_daemons() if d.name.endswith("neutron-l3-agent")]
    procs.stop(agent.name)
    try:
        conf = f"{hosts.STATE_PATH}/ns-metadata-proxy/{router}.conf"
        pids = [p for p in procs.all_pids() if conf in " ".join(procs.cmdline(p))]
        assert pids, "compute2's qrouter has no haproxy to kill"
        procs.kill(pids)
        result = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), METADATA_IP)
        assert (result["verdict"], codes(result)) == ("broken", ["metadata_no_proxy"]), result["problems"]
        assert f"qrouter-{router} on compute2" in result["problems"][0]["message"]
        assert fetch_instance_id("vm-app-1") is None, "explained broken: the GET fails"
        other = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-web-1"), METADATA_IP)
        assert (other["verdict"], other["problems"]) == ("ok", []), other["problems"]
        assert fetch_instance_id("vm-web-1") == web, "controller's qrouter still serves vm-web-1"
    finally:
        with procs.view(hosts.view(hosts.COMPUTE2)):
            procs.start(agent)
        assert wait_until(lambda: fetch_instance_id("vm-app-1") == app, 240), "vm-app-1's metadata not restored"


def test_the_dhcp_port_and_the_router_as_sources_reach_the_vms_as_explained(dvr_lab: dict[str, Any]) -> None:
    """From controller's qdhcp to vm-app-1 across the tunnel; the router's qr- address from the qrouter
    on each VM's own host (every host's qrouter holds it)."""
    graph = joined(dvr_lab)
    router = dvr_lab["routers"]["dvr-router"]
    qdhcp = f"qdhcp-{dvr_lab['networks']['private']}"
    gateway = str(private_subnet(graph, dvr_lab)["attrs"]["gateway_ip"])
    rows = [
        (dhcp_address(graph, dvr_lab), "vm-app-1", f"netns:controller:{qdhcp}", f"controller:{qdhcp}"),
        (gateway, "vm-app-1", f"netns:compute2:{router['namespace']}", f"compute2:{router['namespace']}"),
        (gateway, "vm-web-1", f"netns:controller:{router['namespace']}", f"controller:{router['namespace']}"),
    ]
    for address, vm, sender, namespace in rows:
        result = explain(graph, StoredReports(), address, server(dvr_lab, vm))
        assert (result["verdict"], result["scenario"]) == ("ok", "same-network"), (address, vm, result["problems"])
        assert sender in [h["node"] for h in result["hops"][:2]], (sender, result["hops"][:2])
        assert result["hops"][-1]["what"].startswith(f"{vm} receives"), result["hops"][-1]
        assert ping(namespace, dvr_lab["vms"][vm]["ip"]), f"from {namespace}: explained ok, so it pings {vm}"


def test_a_port_without_security_groups_on_compute2_sends_nothing(dvr_lab: dict[str, Any], admin_cloud: Cloud) -> None:
    app, outside = dvr_lab["vms"]["vm-app-1"], dvr_lab["outside"]["ip"]
    assert explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), outside)["verdict"] == "ok"
    assert ping("vm-app-1", outside)
    try:
        with groups_removed(admin_cloud, app["port_id"]):
            result = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), outside)
            assert (result["verdict"], codes(result)) == ("broken", ["sg_no_egress"]), result["problems"]
            assert app["port_id"] in result["problems"][0]["message"], "the problem names the port"
            assert ping_stops("vm-app-1", outside), "explained broken: the ping fails"
    finally:
        pings_again("vm-app-1", outside)


def test_the_routers_snat_port_answers_in_the_snat_namespace(dvr_lab: dict[str, Any]) -> None:
    """sg- holds an address of the VM's own subnet: switched to it across the tunnel, answered in snat-."""
    from lab import api

    graph = joined(dvr_lab)
    router = dvr_lab["routers"]["dvr-router"]
    subnet = private_subnet(graph, dvr_lab)["id"]
    sg_port, sg_ip = next(
        (n["id"].removeprefix("port:"), ip["ip_address"])
        for n in graph["nodes"]
        if n["kind"] == "port" and n["attrs"].get("device_owner") == "network:router_centralized_snat"
        for ip in n["attrs"]["fixed_ips"]
        if f"subnet:{ip['subnet_id']}" == subnet
    )
    result = explain(graph, StoredReports(), server(dvr_lab, "vm-app-1"), sg_ip)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-router", []), result
    snat_ns = f"snat-{router['id']}"
    assert result["hops"][-1]["node"] == f"netns:controller:{snat_ns}", result["hops"][-1]
    assert f"ip addr: {sg_ip}/" in result["hops"][-1]["evidence"], result["hops"][-1]
    assert not any(f"qrouter-{router['id']}" in h["node"] for h in result["hops"]), "switched, not routed"
    sg = f"sg-{sg_port[:11]}"  # the sg- of the VM's subnet (the router has one per subnet)
    assert f"iface:controller:{snat_ns}:{sg}" in {n["id"] for n in graph["nodes"]}
    assert ping("vm-app-1", sg_ip)
    before = link_packets(f"controller:{snat_ns}", sg)
    for _ in range(3):
        assert ping("vm-app-1", sg_ip, timeout=10)
    after = link_packets(f"controller:{snat_ns}", sg)
    assert after[0] - before[0] >= 3, f"the snat namespace's {sg} receives each ping: {before} -> {after}"
    neighbours = api.run_in("vm-app-1", ["ip", "neigh", "show", sg_ip]).stdout
    assert "lladdr" in neighbours, f"vm-app-1 ARPed for {sg_ip} itself (on-link): {neighbours!r}"


# --------------------------------------------------------------------------- DVR hosts' fg- addresses


def fip_gateways(graph: JsonDict) -> dict[str, str]:
    """Each DVR host's floating IP agent gateway address (its fg- port), by host."""
    return {
        str(n["attrs"]["binding_host_id"]): str(n["attrs"]["fixed_ips"][0]["ip_address"])
        for n in graph["nodes"]
        if n["kind"] == "port" and n["attrs"].get("device_owner") == "network:floatingip_agent_gateway"
    }


@pytest.mark.parametrize("sender", ["outside", "vm-web-1", "vm-app-1"])
def test_each_hosts_fg_address_is_answered_in_its_fip_namespace(dvr_lab: dict[str, Any], sender: str) -> None:
    """From the outside (br-ex, br-int, fg-), from vm-web-1 (its floating IP's fip namespace: controller's own
    fg- address is local there, compute2's is reached out by fg-) and from vm-app-1 (out by the snat
    namespace's qg-: switched to controller's fg- on br-int, by br-ex to compute2's): explained, then pinged."""
    graph = joined(dvr_lab)
    gateways = fip_gateways(graph)
    assert set(gateways) == {"controller", "compute2"}, gateways
    fip_ns = f"fip-{dvr_lab['networks']['public']}"
    src = dvr_lab["outside"]["ip"] if sender == "outside" else server(dvr_lab, sender)
    for host, address in gateways.items():
        result = explain(graph, StoredReports(), src, address)
        assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-fip-gateway", []), (
            host,
            result,
        )
        last = result["hops"][-1]
        assert last["node"] == f"netns:{host}:{fip_ns}" and f"ip addr: {address}/" in last["evidence"], last
        assert ping(sender, address), f"{sender} -> {host}'s fg- {address}: explained ok, so it answers"
        if sender == "outside":
            fg = device(graph, f"iface:{host}:{fip_ns}:fg-")
            before = link_packets(f"{host}:{fip_ns}", fg)
            for _ in range(3):
                assert ping(sender, address, timeout=10)
            after = link_packets(f"{host}:{fip_ns}", fg)
            assert after[0] - before[0] >= 3, f"{host}'s {fg} receives each ping: {before} -> {after}"


def test_a_member_learns_of_an_fg_address_what_an_unknown_address_tells(dvr_lab: dict[str, Any], client: Any) -> None:
    """fg- ports belong to no project (Neutron shows them to admins only): demo and alt, asking from the outside
    (and demo from its VM), get for each host's fg- address the answer an address nobody holds gets."""
    import ipaddress

    from tests.test_topology_lab import keystone_token

    graph = joined(dvr_lab)
    cidr = next(
        ipaddress.ip_network(n["attrs"]["cidr"])
        for n in graph["nodes"]
        if n["id"] == f"subnet:{dvr_lab['subnets']['public_subnet']}"
    )
    held = {ip["ip_address"] for n in graph["nodes"] for ip in n["attrs"].get("fixed_ips", [])}
    held |= {str(n["attrs"].get("floating_ip_address")) for n in graph["nodes"] if n["kind"] == "floatingip"}
    nobody = next(str(a) for a in reversed(list(cidr.hosts())) if str(a) not in held)

    def ask(user: str, src: str, dst: str) -> tuple[int, str]:
        response = client.get(
            "/api/v1/path/", {"src": src, "dst": dst}, HTTP_X_AUTH_TOKEN=keystone_token(dvr_lab, user)
        )
        return response.status_code, response.content.decode().replace(dst, "X").replace("<hidden>", "X")

    askers = [
        ("demo", dvr_lab["outside"]["ip"]),
        ("alt", dvr_lab["outside"]["ip"]),
        ("demo", server(dvr_lab, "vm-app-1")),
    ]
    for user, src in askers:
        unknown = ask(user, src, nobody)
        for address in fip_gateways(graph).values():
            answer = ask(user, src, address)
            assert answer == unknown, (user, src, address, answer, unknown)
            assert "fg-" not in answer[1] and "fip-gateway" not in answer[1], answer


# --------------------------------------------------------------------------- compute2's metadata agent


def test_a_dead_metadata_agent_on_compute2_is_broken_there_only(dvr_lab: dict[str, Any]) -> None:
    """compute2's neutron-metadata-agent really stopped until Neutron reports it dead: vm-app-1's metadata is
    broken `metadata_agent_down` naming compute2 and its GET fails; vm-web-1's (controller's agent) is ok and
    fetched. Restarted: both ok and fetched."""
    from lab import hosts, keystone, metadata, neutron, procs

    app, web = (dvr_lab["vms"][vm]["server_id"] for vm in ("vm-app-1", "vm-web-1"))
    assert wait_until(lambda: fetch_instance_id("vm-app-1") == app, 180), "metadata never answered vm-app-1"
    (agent,) = [d for d in hosts.agent_daemons("dvr") if d.name.endswith(metadata.AGENT_NAME)]
    admin = neutron.client(keystone.ADMIN)

    def alive() -> bool:
        return neutron.agents_alive(admin, hosts.COMPUTE2, (metadata.AGENT_TYPE,))

    procs.stop(agent.name)
    try:
        assert wait_until(lambda: not alive(), 240), "still reported alive"
        result = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-app-1"), METADATA_IP)
        assert (result["verdict"], codes(result)) == ("broken", ["metadata_agent_down"]), result["problems"]
        assert "metadata agent on compute2 is dead" in result["problems"][0]["message"], result["problems"]
        assert fetch_instance_id("vm-app-1") is None, "explained broken: the GET fails"
        other = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, "vm-web-1"), METADATA_IP)
        assert (other["verdict"], other["problems"]) == ("ok", []), other["problems"]
        assert fetch_instance_id("vm-web-1") == web, "controller's metadata agent still serves vm-web-1"
    finally:
        with procs.view(hosts.view(hosts.COMPUTE2)):
            procs.start(agent)
        assert wait_until(lambda: alive(), 240), "not alive again"
        assert wait_until(lambda: fetch_instance_id("vm-app-1") == app, 240), "vm-app-1's metadata not restored"
    for vm, server_id in (("vm-app-1", app), ("vm-web-1", web)):
        again = explain(joined(dvr_lab), StoredReports(), server(dvr_lab, vm), METADATA_IP)
        assert (again["verdict"], again["problems"]) == ("ok", []), (vm, again["problems"])
        assert fetch_instance_id(vm) == server_id, vm
