"""The explainer answers the question asked (issue 20, items 1, 2, 3, 8, 9), pure, on synthetic clouds.

Addresses the cloud holds itself resolve to what holds them (a router's qr- and gateway address, the
DHCP port) and are walked to the namespace that answers; an address of the source's own subnet that
no port holds is broken (nobody answers its ARP), never walked out; loopback, broadcast, multicast
and link-local addresses and probes naming no port are refused; an address off the external subnet
ends at the external network's gateway. Tenants learn nothing of another project's router or DHCP
addresses: the answer is the one an unknown address gets.
"""

from __future__ import annotations

import copy
import functools
import re

import pytest

from bench.path import add_gateways_and_fips
from bench.synthetic import iface, mac, ovs_iface, synthetic_cloud, uid
from tests.diagnosis_clouds import (
    COMPUTE,
    NETWORK_NODE,
    OUTSIDE,
    QR_PORT,
    QROUTER,
    ROUTER,
    Cloud,
    JsonDict,
    dvr,
    legacy,
    namespace,
    walk,
)
from topology.join import join
from topology.path import PathError, Probe, Topo, check_arguments, explain
from topology.path.model import Scenario
from topology.path_scope import Secrets, explain_for_project
from topology.scope import scope_graph
from topology.vocabulary import map_vocabulary

QR_IP, DHCP_IP, GATEWAY_IP = "10.0.0.1", "10.0.0.2", "192.168.1.1"  # router-0's qr- and gateway, net-0's DHCP
NET0 = uid("net", 0)


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def nodes(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"]]


# --------------------------------------------------------------------------- item 8: probes


@pytest.mark.parametrize("text", ["tcp:0", "tcp:99999", "udp:65536", "tcp/70000"])
def test_a_probe_that_names_no_port_is_refused(text: str) -> None:
    with pytest.raises(PathError, match=r"does not exist \(ports are 1-65535\)"):
        Probe.parse(text)
    with pytest.raises(PathError, match="1-65535"):
        check_arguments("vm-1", OUTSIDE, text)
    cloud, reports = legacy()
    with pytest.raises(PathError, match="1-65535"):
        explain(join(cloud, reports).to_dict(), reports, "10.0.0.10", OUTSIDE, text)


def test_the_edge_ports_are_probes() -> None:
    assert Probe.parse("tcp:1") == Probe("tcp", 1)
    assert Probe.parse("udp:65535") == Probe("udp", 65535)


# --------------------------------------------------------------------------- item 3: special addresses


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "limited broadcast"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
    ],
)
def test_special_addresses_are_refused_at_either_end(address: str, why: str) -> None:
    with pytest.raises(PathError, match=f"destination {re.escape(address)} is (a|an|the) {why}"):
        check_arguments("vm-1", address, "icmp")
    with pytest.raises(PathError, match=f"source {re.escape(address)} is (a|an|the) {why}"):
        check_arguments(address, "vm-1", "icmp")
    with pytest.raises(PathError, match=why):  # explain() itself refuses it: never walked north-south
        walk(legacy(), "vm-1", address)


def test_the_metadata_address_is_not_refused_as_link_local() -> None:
    check_arguments("vm-1", "169.254.169.254", "icmp")


def test_the_subnets_broadcast_is_unknown_with_the_reason() -> None:
    result = walk(legacy(), "vm-1", "10.0.0.255")
    assert (result["verdict"], result["dst"]["kind"], codes(result)) == ("unknown", "broadcast", ["subnet_broadcast"])
    assert "broadcast" in result["hops"][-1]["what"] and not any("br-ex" in n for n in nodes(result))


# --------------------------------------------------------------------------- item 2: on-link addresses


def test_an_unallocated_address_of_the_vms_subnet_is_broken_not_outside() -> None:
    result = walk(legacy(), "vm-1", "10.0.0.77")
    assert (result["verdict"], result["dst"]["kind"]) == ("broken", "unallocated"), result
    assert codes(result) == ["address_unallocated"]
    message = result["problems"][0]["message"]
    assert "no port holds 10.0.0.77 in subnet 10.0.0.0/24" in message and "ARP" in message
    assert not any("br-ex" in n or "qrouter" in n for n in nodes(result)), "never walked north-south"


def test_an_allocated_address_of_the_subnet_resolves_to_its_port() -> None:
    result = walk(legacy(), "vm-1", "10.0.0.10")  # vm-0
    assert (result["verdict"], result["scenario"], result["dst"]["node"]) == (
        "ok",
        "same-network",
        f"port:{uid('vmport', 0)}",
    )


# --------------------------------------------------------------------------- item 1: what the cloud holds


def test_the_vms_gateway_is_answered_by_the_qrouters_qr() -> None:
    result = walk(legacy(), "vm-1", QR_IP)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-router", []), result
    assert result["dst"] == {"kind": "router", "node": f"router:{ROUTER}", "ip": QR_IP}
    assert result["hops"][-1]["node"] == f"netns:{NETWORK_NODE}:{QROUTER}"
    assert "answers" in result["hops"][-1]["what"]
    assert any(re.search(r":qr-[0-9a-f]", n) for n in nodes(result))
    assert not any("br-ex" in n for n in nodes(result)) and not any("SNAT" in h["evidence"] for h in result["hops"])


def test_the_routers_gateway_address_is_answered_in_the_qrouter_not_snated() -> None:
    result = walk(legacy(), "vm-1", GATEWAY_IP)
    assert (result["verdict"], result["scenario"]) == ("ok", "to-router"), result
    last = result["hops"][-1]
    assert last["node"] == f"netns:{NETWORK_NODE}:{QROUTER}" and "gateway address" in last["what"]
    assert f"ip addr: {GATEWAY_IP}/16 on qg-" in last["evidence"]
    assert not any("br-ex" in n for n in nodes(result)) and not any("SNAT" in h["evidence"] for h in result["hops"])


def test_the_dhcp_port_is_answered_in_the_qdhcp_namespace() -> None:
    result = walk(legacy(), "vm-1", DHCP_IP)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-dhcp", []), result
    assert result["dst"] == {"kind": "dhcp", "node": f"port:{uid('port', 'dhcp', 0)}", "ip": DHCP_IP}
    assert result["hops"][-1]["node"] == f"netns:{NETWORK_NODE}:qdhcp-{NET0}"


def test_a_lost_qdhcp_namespace_breaks_the_walk_to_dhcp() -> None:
    cloud, reports = legacy()
    reports[NETWORK_NODE]["namespaces"].remove(namespace(reports, NETWORK_NODE, f"qdhcp-{NET0}"))
    result = walk((cloud, reports), "vm-1", DHCP_IP)
    assert result["verdict"] == "broken" and "namespace_missing" in codes(result), result


def test_a_lost_qrouter_breaks_the_walk_to_the_gateway() -> None:
    cloud, reports = legacy()
    reports[NETWORK_NODE]["namespaces"].remove(namespace(reports, NETWORK_NODE, QROUTER))
    result = walk((cloud, reports), "vm-1", QR_IP)
    assert (result["verdict"], result["scenario"]) == ("broken", "to-router") and "namespace_missing" in codes(result)


def test_dvr_the_gateway_is_answered_by_the_vms_own_hosts_qrouter() -> None:
    result = walk(dvr(), "vm-1", QR_IP)
    assert (result["verdict"], result["scenario"]) == ("ok", "to-router"), result
    assert result["hops"][-1]["node"] == f"netns:{COMPUTE}:{QROUTER}", "routed on the VM's own host"


SNAT_NS, SG_PORT, SG_IP = f"snat-{ROUTER}", uid("port", "sg", 0), "10.0.0.3"


def dvr_with_snat() -> Cloud:
    """dvr() with its SNAT host as on the lab: the subnet's sg- port and the qg- in compute0000's snat
    namespace (the qrouter there keeps the qr- only)."""
    cloud, reports = dvr()
    subnet = next(p for p in cloud["ports"] if p["id"] == QR_PORT)["fixed_ips"][0]["subnet_id"]
    cloud["ports"].append(
        {
            "id": SG_PORT,
            "network_id": NET0,
            "device_owner": "network:router_centralized_snat",
            "device_id": ROUTER,
            "project_id": "",
            "status": "ACTIVE",
            "binding:host_id": NETWORK_NODE,
            "mac_address": mac(4_000_001),
            "fixed_ips": [{"subnet_id": subnet, "ip_address": SG_IP}],
        }
    )
    report, sg11 = reports[NETWORK_NODE], SG_PORT[:11]
    qrouter = namespace(reports, NETWORK_NODE, QROUTER)
    qg = next(i for i in qrouter["interfaces"] if i["name"].startswith("qg-"))
    qrouter["interfaces"].remove(qg)
    sg = iface(f"sg-{sg11}", "veth", peer=f"tap{sg11}", addresses=[f"{SG_IP}/24"], n=7)
    snat = {"name": SNAT_NS, "routes": qrouter["routes"], "rules": [], "iptables": qrouter["iptables"]}
    report["namespaces"].append({**snat, "interfaces": [sg, qg]})
    qrouter["routes"], qrouter["iptables"] = [], {"nat": "", "filter": ""}
    report["interfaces"].append(iface(f"tap{sg11}", "veth", peer=f"sg-{sg11}", peer_netns=SNAT_NS))
    tap = ovs_iface(f"tap{sg11}", external_ids={"iface-id": SG_PORT})
    report["ovs"]["bridges"][0]["ports"].append({"name": f"tap{sg11}", "tag": 1, "interfaces": [tap]})
    return cloud, reports


def test_dvr_the_routers_gateway_address_is_answered_in_the_snat_namespace() -> None:
    """Not in the VM's host's qrouter (it holds no gateway address): by policy to the subnet's sg-, across
    to the SNAT host, answered there on qg- (not SNATed, not out by br-ex)."""
    result = walk(dvr_with_snat(), "vm-1", GATEWAY_IP)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-router", []), result
    policy = next(h for h in result["hops"] if h["node"] == f"netns:{COMPUTE}:{QROUTER}")
    assert f"to the SNAT port {SG_IP}" in policy["what"], "the VM's host's qrouter sends it to the subnet's sg-"
    assert any(re.search(rf"^iface:{NETWORK_NODE}:{SNAT_NS}:sg-", n) for n in nodes(result)), "received on sg-"
    last = result["hops"][-1]
    assert last["node"] == f"netns:{NETWORK_NODE}:{SNAT_NS}" and "gateway address" in last["what"]
    assert f"ip addr: {GATEWAY_IP}/16 on qg-" in last["evidence"]
    assert not any("br-ex" in n for n in nodes(result)), "delivered in the snat namespace, not out"
    assert not any("SNAT --to" in h["evidence"] for h in result["hops"]), "its own address: not SNATed"


def test_dvr_a_lost_snat_namespace_breaks_the_walk_to_the_gateway_address() -> None:
    cloud, reports = dvr_with_snat()
    reports[NETWORK_NODE]["namespaces"].remove(namespace(reports, NETWORK_NODE, SNAT_NS))
    result = walk((cloud, reports), "vm-1", GATEWAY_IP)
    assert (result["verdict"], result["scenario"], codes(result)) == ("broken", "to-router", ["namespace_missing"])
    assert SNAT_NS in result["problems"][0]["message"]


def test_from_outside_the_gateway_address_is_answered_by_qg_without_dnat() -> None:
    result = walk(legacy(), OUTSIDE, GATEWAY_IP)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-router", []), result
    assert any("br-ex" in n for n in nodes(result)) and any(re.search(r":qg-[0-9a-f]", n) for n in nodes(result))
    assert not any("DNAT" in h["evidence"] for h in result["hops"])


@pytest.mark.parametrize(("address", "scenario"), [(QR_IP, "to-router"), (DHCP_IP, "to-dhcp")])
def test_from_outside_a_tenant_subnets_address_is_not_routable(address: str, scenario: str) -> None:
    result = walk(legacy(), OUTSIDE, address)
    assert (result["verdict"], result["scenario"], codes(result)) == ("broken", scenario, ["not_routable_from_outside"])


@pytest.mark.parametrize(
    ("source", "first"),
    [(QR_IP, f"router:{ROUTER}"), (GATEWAY_IP, f"router:{ROUTER}"), (DHCP_IP, f"netns:{NETWORK_NODE}:qdhcp-{NET0}")],
)
def test_a_router_or_dhcp_address_as_the_source_reaches_a_vm_on_its_network(source: str, first: str) -> None:
    """Not taken as outside (the issue: fip_not_associated): sent from its namespace, switched to the VM."""
    result = walk(legacy(), source, "vm-1")
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "same-network", []), result
    assert result["src"]["kind"] in ("router", "dhcp") and result["hops"][0]["node"] == first
    assert result["hops"][-1]["what"].startswith("vm-1 receives it")
    assert not any("br-ex" in n for n in nodes(result))


def test_a_router_or_dhcp_address_as_the_source_of_anything_else_is_refused() -> None:
    for source in (QR_IP, DHCP_IP):
        with pytest.raises(PathError, match="walked to a VM's port only"):
            walk(legacy(), source, OUTSIDE)


def test_a_vm_behind_the_dhcp_port_with_no_icmp_ingress_is_broken() -> None:
    cloud, reports = legacy()
    cloud["security_group_rules"] = [r for r in cloud["security_group_rules"] if r["direction"] != "ingress"]
    result = walk((cloud, reports), DHCP_IP, "vm-1")
    assert result["verdict"] == "broken" and codes(result) == ["sg_no_ingress"], result


def test_a_router_or_dhcp_port_named_by_node_id_is_what_holds_it_not_a_vm() -> None:
    """The map offers every port (and a router) as an endpoint: a qr-/qg-/DHCP port is walked to the
    namespace that answers for it, never as a VM's port (no tap, qbr or qvo of its own)."""
    gw_port, qr_port, dhcp_port = uid("port", "gw", 0), uid("port", "qr", 0), uid("port", "dhcp", 0)
    router = {"kind": "router", "node": f"router:{ROUTER}"}
    for dst, scenario, end in (
        (f"router:{ROUTER}", "to-router", {**router, "ip": QR_IP}),  # from a VM: its gateway
        (f"port:{qr_port}", "to-router", {**router, "ip": QR_IP}),
        (f"port:{gw_port}", "to-router", {**router, "ip": GATEWAY_IP}),
        (f"port:{dhcp_port}", "to-dhcp", {"kind": "dhcp", "node": f"port:{dhcp_port}", "ip": DHCP_IP}),
    ):
        result = walk(legacy(), "vm-1", dst)
        assert (result["verdict"], result["scenario"], result["dst"]) == ("ok", scenario, end), (dst, result)
    outside = walk(legacy(), OUTSIDE, f"router:{ROUTER}")
    assert (outside["scenario"], outside["dst"]["ip"]) == ("to-router", GATEWAY_IP), "from outside: its gateway"
    assert walk(legacy(), f"port:{dhcp_port}", "vm-1")["src"]["kind"] == "dhcp"


def test_the_new_scenarios_are_in_the_served_vocabulary() -> None:
    served = map_vocabulary()["scenarios"]
    assert isinstance(served, dict)
    assert {Scenario.TO_ROUTER, Scenario.TO_DHCP} <= set(served)


# --------------------------------------------------------------------------- item 9: beyond the external network


def test_an_address_off_the_external_subnet_ends_at_its_gateway() -> None:
    result = walk(legacy(), "vm-2", "8.8.8.8")
    last = result["hops"][-1]
    assert result["verdict"] == "ok" and last["node"] == f"network:{uid('net', 'public')}"
    assert "gateway 192.168.0.1" in last["what"] and "the cloud's view ends there" in last["what"]
    assert "reaches 8.8.8.8 on external network" not in last["what"]
    inside = walk(legacy(), "vm-2", OUTSIDE)["hops"][-1]["what"]
    assert inside == f"reaches {OUTSIDE} on external network public", "an address on the subnet is reached"


# --------------------------------------------------------------------------- tenant scoping


@functools.cache
def _two_projects() -> Cloud:
    cloud, reports = synthetic_cloud(hosts=2, ports=6, projects=2, network_nodes=1)
    add_gateways_and_fips(cloud, reports, fip_every=1)
    return cloud, reports


def two_projects() -> tuple[JsonDict, Topo]:
    """Two projects, each with a network behind a router of its own: net-0 (10.0.0.0/24, router-0,
    gateway 192.168.1.1) and net-1 (10.0.1.0/24, router-1, gateway 192.168.1.2)."""
    cloud, reports = copy.deepcopy(_two_projects())
    graph = join(cloud, reports).to_dict()
    return graph, Topo(graph, reports)


def project_of(graph: JsonDict, network: str) -> str:
    return str(next(n["project_id"] for n in graph["nodes"] if n["id"] == f"network:{uid('net', network)}"))


def ask(graph: JsonDict, topo: Topo, network: str, src: str, dst: str) -> JsonDict:
    visible = scope_graph(graph, "full", project_of(graph, network))
    secrets = Secrets.of(graph["nodes"], {n["id"] for n in visible["nodes"]})
    return explain_for_project(topo, visible, secrets, src, dst)


def answer_shape(result: JsonDict, asked: str) -> str:
    """The answer with the asked address (or what hid it) blanked: what the caller learns beyond its question."""
    text = repr({k: v for k, v in result.items()})
    return text.replace(asked, "<asked>").replace("<hidden>", "<asked>")


@pytest.mark.parametrize(
    ("caller", "vm_port", "theirs"),
    [
        ("0", uid("vmport", 0), {"qr": "10.0.1.1", "dhcp": "10.0.1.2", "unheld": "10.0.1.77"}),
        ("1", uid("vmport", 1), {"qr": "10.0.0.1", "dhcp": "10.0.0.2", "unheld": "10.0.0.77"}),
    ],
)
def test_a_tenant_learns_nothing_of_another_projects_router_or_dhcp(
    caller: str, vm_port: str, theirs: dict[str, str]
) -> None:
    graph, topo = two_projects()
    src = f"port:{vm_port}"
    unknown = answer_shape(ask(graph, topo, caller, src, theirs["unheld"]), theirs["unheld"])
    for kind in ("qr", "dhcp"):
        result = ask(graph, topo, caller, src, theirs[kind])
        assert result["dst"]["kind"] == "outside", (kind, result["dst"])
        assert answer_shape(result, theirs[kind]) == unknown, kind
    # the same questions about its own router and DHCP port are answered
    own_subnet = "10.0.0" if caller == "0" else "10.0.1"
    assert ask(graph, topo, caller, src, f"{own_subnet}.1")["scenario"] == "to-router"
    assert ask(graph, topo, caller, src, f"{own_subnet}.2")["scenario"] == "to-dhcp"


@pytest.mark.parametrize(
    ("caller", "theirs", "own"), [("0", "192.168.1.2", "192.168.1.1"), ("1", "192.168.1.1", "192.168.1.2")]
)
def test_from_outside_a_tenant_reaches_its_own_routers_gateway_only(caller: str, theirs: str, own: str) -> None:
    graph, topo = two_projects()
    mine = ask(graph, topo, caller, OUTSIDE, own)
    assert (mine["verdict"], mine["scenario"]) == ("ok", "to-router"), mine
    errors = []
    for address in (theirs, "192.168.1.77"):  # the other project's gateway, an address nobody holds
        with pytest.raises(PathError) as refused:
            ask(graph, topo, caller, OUTSIDE, address)
        errors.append(str(refused.value).replace(address, "<asked>").replace("<hidden>", "<asked>"))
    assert errors[0] == errors[1], "the other project's gateway answers as an unknown address does"
