"""The explainer's answers about what the cloud holds itself, against real pings (allinone, issue 20).

Seed 000's checklist as a user runs it, each row explained and then really pinged from the same
namespace: from the VM its gateway (router1's qr- address), router1's gateway address and the DHCP
port answer, an unallocated address of its own subnet does not; from the outside host router1's
gateway address answers (qg-, not NATed), a VM's fixed IP is not routable (never DNATed). Loopback,
broadcast and multicast are refused. A project asking about another's router learns what an unknown
address tells.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from django.test import Client

from tests.test_path_lab import fresh_graph, server
from tests.test_topology_lab import keystone_token
from topology.api import StoredReports
from topology.path import PathError, explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
JsonDict = dict[str, Any]


def private_subnet(graph: JsonDict, lab: dict[str, Any]) -> JsonDict:
    return next(n for n in graph["nodes"] if n["id"] == f"subnet:{lab['subnets']['private_subnet']}")


def dhcp_address(graph: JsonDict, lab: dict[str, Any]) -> str:
    port = next(
        n
        for n in graph["nodes"]
        if n["kind"] == "port"
        and n["attrs"].get("device_owner") == "network:dhcp"
        and n["attrs"].get("network_id") == lab["networks"]["private"]
    )
    return str(port["attrs"]["fixed_ips"][0]["ip_address"])


def unallocated_address(graph: JsonDict, lab: dict[str, Any]) -> str:
    held = {ip["ip_address"] for n in graph["nodes"] if n["kind"] == "port" for ip in n["attrs"].get("fixed_ips", [])}
    cidr = ipaddress.ip_network(private_subnet(graph, lab)["attrs"]["cidr"])
    return next(str(a) for a in reversed(list(cidr.hosts())) if str(a) not in held)


def explained(graph: JsonDict, src: str, dst: str) -> JsonDict:
    return explain(graph, StoredReports(), src, dst)


def test_the_vms_gateway_router_address_and_dhcp_answer_as_explained(lab: dict[str, Any]) -> None:
    from lab import api

    graph = fresh_graph(lab)
    host, router = lab["host"], lab["routers"]["router1"]
    vm = server(lab, "ubuntu-01")
    qrouter = f"netns:{host}:{router['namespace']}"
    qdhcp = f"netns:{host}:qdhcp-{lab['networks']['private']}"
    gateway_ip = str(private_subnet(graph, lab)["attrs"]["gateway_ip"])
    rows = [
        (gateway_ip, "to-router", qrouter),  # the VM's gateway: router1's qr- address
        (router["gateway_ip"], "to-router", qrouter),  # router1's gateway address, on its qg-
        (dhcp_address(graph, lab), "to-dhcp", qdhcp),
    ]
    for address, scenario, answering in rows:
        result = explained(graph, vm, address)
        assert (result["verdict"], result["scenario"]) == ("ok", scenario), (address, result)
        assert result["hops"][-1]["node"] == answering and "answers" in result["hops"][-1]["what"], result["hops"][-1]
        assert not any("br-ex" in h["node"] for h in result["hops"]), "answered inside the cloud, not out by br-ex"
        assert api.ping("ubuntu-01", address, timeout=90), f"{address}: explained ok, so it answers a real ping"


def test_an_unallocated_address_of_the_vms_subnet_is_broken_and_does_not_answer(lab: dict[str, Any]) -> None:
    from lab import api

    graph = fresh_graph(lab)
    address = unallocated_address(graph, lab)
    result = explained(graph, server(lab, "ubuntu-01"), address)
    assert (result["verdict"], result["dst"]["kind"]) == ("broken", "unallocated"), result
    assert [p["code"] for p in result["problems"]] == ["address_unallocated"]
    assert api.ping("ubuntu-01", lab["vms"]["cirros-01"]["ip"], timeout=90), "the VM's network works otherwise"
    assert not api.ping("ubuntu-01", address, timeout=10), f"nobody holds {address}: no reply"
    neighbours = api.run_in("ubuntu-01", ["ip", "neigh", "show", address]).stdout
    assert "lladdr" not in neighbours, f"no ARP answer for {address}: {neighbours!r}"


def test_from_outside_the_routers_gateway_address_answers_on_qg(lab: dict[str, Any]) -> None:
    from lab import api

    graph = fresh_graph(lab)
    router = lab["routers"]["router1"]
    result = explained(graph, lab["outside"]["ip"], router["gateway_ip"])
    assert (result["verdict"], result["scenario"]) == ("ok", "to-router"), result
    qg = [h for h in result["hops"] if f":{router['namespace']}:qg-" in h["node"]]
    assert qg and result["hops"][-1]["node"] == f"netns:{lab['host']}:{router['namespace']}"
    assert not any("DNAT" in h["evidence"] for h in result["hops"]), "the router's own address: not NATed"
    assert api.ping("outside", router["gateway_ip"], timeout=90)
    fixed = explained(graph, lab["outside"]["ip"], str(private_subnet(graph, lab)["attrs"]["gateway_ip"]))
    assert [p["code"] for p in fixed["problems"]] == ["not_routable_from_outside"], fixed
    assert not api.ping("outside", str(private_subnet(graph, lab)["attrs"]["gateway_ip"]), timeout=5)


def test_from_outside_a_vms_fixed_ip_is_not_routable_never_dnated(lab: dict[str, Any]) -> None:
    """The issue's row: explained ok ("qrouter DNATs <its FIP> to <fixed IP>") while the outside host
    has no route to a tenant subnet: "Network is unreachable"."""
    from lab import api

    cirros = lab["vms"]["cirros-01"]
    result = explained(fresh_graph(lab), lab["outside"]["ip"], cirros["ip"])
    assert (result["verdict"], result["dst"]["kind"]) == ("broken", "fixed"), result
    assert [p["code"] for p in result["problems"]] == ["not_routable_from_outside"]
    assert cirros["floating_ip"] in result["problems"][0]["message"], "it names the address that is reachable"
    assert not any("DNAT" in h["what"] + h["evidence"] for h in result["hops"]), "a fixed IP is never DNATed"
    assert not api.ping("outside", cirros["ip"], timeout=5)
    out = api.run_in("outside", ["ping", "-c", "1", "-W", "1", cirros["ip"]])
    assert out.returncode != 0 and "unreachable" in (out.stdout + out.stderr).lower(), (out.stdout, out.stderr)
    assert api.ping("outside", cirros["floating_ip"], timeout=90), "its floating IP answers from the same place"


def test_the_dhcp_port_and_the_router_as_sources_reach_the_vm_as_explained(lab: dict[str, Any]) -> None:
    """The issue's row: given as an IP, the DHCP port's or the router's address was taken as outside
    (broken, fip_not_associated) while a ping from its namespace works on the same L2 segment."""
    from lab import api

    graph = fresh_graph(lab)
    host, router, ubuntu = lab["host"], lab["routers"]["router1"], lab["vms"]["ubuntu-01"]
    qdhcp = f"qdhcp-{lab['networks']['private']}"
    rows = [
        (dhcp_address(graph, lab), qdhcp, f"netns:{host}:{qdhcp}"),
        (str(private_subnet(graph, lab)["attrs"]["gateway_ip"]), router["namespace"], f"router:{router['id']}"),
    ]
    for address, namespace, first in rows:
        result = explained(graph, address, server(lab, "ubuntu-01"))
        assert (result["verdict"], result["scenario"]) == ("ok", "same-network"), (address, result)
        assert result["hops"][0]["node"] == first and result["hops"][-1]["what"].startswith("ubuntu-01 receives")
        assert api.ping(namespace, ubuntu["ip"], timeout=90), f"from {namespace}: explained ok, so it pings"


@pytest.mark.parametrize("address", ["127.0.0.1", "255.255.255.255", "224.0.0.1", "0.0.0.0"])
def test_special_addresses_are_refused(lab: dict[str, Any], client: Client, address: str) -> None:
    graph = fresh_graph(lab)
    with pytest.raises(PathError, match=address):
        explained(graph, server(lab, "ubuntu-01"), address)
    for user in ("admin", "demo"):
        response = client.get(
            "/api/v1/path/",
            {"src": server(lab, "ubuntu-01"), "dst": address},
            HTTP_X_AUTH_TOKEN=keystone_token(lab, user),
        )
        assert response.status_code == 400 and address in response.json()["detail"], (user, response.content)


def test_a_project_learns_nothing_of_another_projects_router(lab: dict[str, Any], client: Client) -> None:
    """demo, router1's project, is answered to-router; alt gets the answer an address nobody holds gets."""
    graph = fresh_graph(lab)
    gateway, nobody = lab["routers"]["router1"]["gateway_ip"], "192.168.1.250"
    assert nobody not in {ip["ip_address"] for n in graph["nodes"] for ip in n["attrs"].get("fixed_ips", [])}

    def ask(user: str, dst: str) -> tuple[int, JsonDict]:
        response = client.get(
            "/api/v1/path/", {"src": lab["outside"]["ip"], "dst": dst}, HTTP_X_AUTH_TOKEN=keystone_token(lab, user)
        )
        return response.status_code, response.json()

    status, demo = ask("demo", gateway)
    assert status == 200 and demo["scenario"] == "to-router", demo
    (alt_status, alt), (unknown_status, unknown) = ask("alt", gateway), ask("alt", nobody)
    assert alt_status == unknown_status == 404
    assert alt["detail"].replace(gateway, "X").replace("<hidden>", "X") == unknown["detail"].replace(nobody, "X")
    assert "router1" not in alt["detail"]
