"""The explainer against the real lab (allinone, legacy router): its verdicts agree with real pings.

Each walk of seed 000 is explained and then really pinged; broken states are
made for real through Neutron and undone afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.test import Client

from tests.broken_states import admin_down, fips_disassociated, ping_stops
from tests.path_proof import nat_packets, outside_sees_the_explained_exit
from tests.test_topology_lab import keystone_token, refresh_all
from topology import services
from topology.agent.collect import collect_report
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


def fresh_graph(lab: dict[str, Any]) -> dict[str, Any]:
    return refresh_all(lab["host"]).graph


def walk(lab: dict[str, Any], src: str, dst: str, probe: str = "icmp") -> dict[str, Any]:
    return explain(fresh_graph(lab), StoredReports(), src, dst, probe)


def nodes_of(result: dict[str, Any]) -> list[str]:
    return [h["node"] for h in result["hops"]]


def codes(result: dict[str, Any]) -> set[str]:
    return {p["code"] for p in result["problems"]}


def server(lab: dict[str, Any], vm: str) -> str:
    return f"server:{lab['vms'][vm]['server_id']}"


def test_snat_walk_is_explained_and_pings(lab: dict[str, Any]) -> None:
    from lab import api

    graph = fresh_graph(lab)
    result = explain(graph, StoredReports(), server(lab, "ubuntu-01"), "192.168.1.1")
    assert result["scenario"] == "north-south-snat" and result["verdict"] == "ok", result
    host, router, port = lab["host"], lab["routers"]["router1"]["id"], lab["vms"]["ubuntu-01"]["port_id"]
    hops = nodes_of(result)
    expected = [
        f"iface:{host}:-:tap{port[:11]}",
        f"bridge:{host}:qbr{port[:11]}",
        f"iface:{host}:-:qvo{port[:11]}",
        f"bridge:{host}:br-int",
        f"netns:{host}:qrouter-{router}",
        f"bridge:{host}:br-ex",
    ]
    first = [hops.index(h) for h in expected]  # each is crossed, in this order
    assert first == sorted(first)
    snat = next(h for h in result["hops"] if h["node"] == f"netns:{host}:qrouter-{router}")
    assert f"SNAT --to-source {lab['routers']['router1']['gateway_ip']}" in snat["evidence"]
    assert api.ping("ubuntu-01", "192.168.1.1", timeout=90)
    # the outside sees router1's qg- MAC and gateway address; the SNAT rule shown counts the pings
    outside_sees_the_explained_exit(result, graph, lambda: api.ping("ubuntu-01", "192.168.1.1", timeout=30))
    assert nat_packets(walk(lab, server(lab, "ubuntu-01"), "192.168.1.1")) > nat_packets(result)


def test_fip_walks_are_explained_and_ping_both_ways(lab: dict[str, Any]) -> None:
    from lab import api

    cirros = lab["vms"]["cirros-01"]
    graph = fresh_graph(lab)
    out = explain(graph, StoredReports(), server(lab, "cirros-01"), "192.168.1.1")
    assert (out["scenario"], out["verdict"]) == ("north-south-fip", "ok"), out
    assert any(f"--to-source {cirros['floating_ip']}" in h["evidence"] for h in out["hops"])
    inbound = walk(lab, "192.168.1.1", cirros["floating_ip"])
    assert (inbound["scenario"], inbound["verdict"]) == ("inbound-fip", "ok"), inbound
    dnat = [h for h in inbound["hops"] if "DNAT" in h["evidence"]]
    assert dnat and f"--to-destination {cirros['ip']}" in dnat[0]["evidence"]
    qvo = next(h for h in inbound["hops"] if h["node"].endswith(f"qvo{cirros['port_id'][:11]}"))
    assert qvo["flows"], "the br-int flows for the VM's port/tag are shown"
    assert api.ping("cirros-01", "192.168.1.1", timeout=90)
    outside_sees_the_explained_exit(out, graph, lambda: api.ping("cirros-01", "192.168.1.1", timeout=30))
    assert nat_packets(walk(lab, server(lab, "cirros-01"), "192.168.1.1")) > nat_packets(out)
    assert api.ping("outside", cirros["floating_ip"], timeout=90)


def test_same_network_walk(lab: dict[str, Any]) -> None:
    from lab import api

    result = walk(lab, server(lab, "cirros-01"), server(lab, "ubuntu-01"))
    assert (result["scenario"], result["verdict"]) == ("same-network", "ok"), result
    assert api.ping("cirros-01", lab["vms"]["ubuntu-01"]["ip"], timeout=90)


@pytest.fixture
def disassociated(lab: dict[str, Any], admin_cloud: openstack.connection.Connection) -> Iterator[str]:
    with fips_disassociated(admin_cloud, lab, "cirros-01"):
        yield lab["floating_ips"]["cirros-01"]["floating_ip_address"]


def test_a_disassociated_fip_is_broken_and_does_not_ping(lab: dict[str, Any], disassociated: str) -> None:
    result = walk(lab, "192.168.1.1", disassociated)
    assert result["verdict"] == "broken"
    assert "fip_not_associated" in codes(result)
    assert ping_stops("outside", disassociated)


@pytest.fixture
def ubuntu_admin_down(lab: dict[str, Any], admin_cloud: openstack.connection.Connection) -> Iterator[str]:
    with admin_down(admin_cloud, lab["vms"]["ubuntu-01"]["port_id"]):
        yield lab["vms"]["ubuntu-01"]["port_id"]


def test_an_admin_down_port_is_broken_and_does_not_ping(lab: dict[str, Any], ubuntu_admin_down: str) -> None:
    result = walk(lab, server(lab, "ubuntu-01"), "192.168.1.1")
    assert result["verdict"] == "broken"
    assert "port_admin_down" in codes(result)
    failed = [h for h in result["hops"] if h["status"] == "fail"]
    assert failed and "administratively down" in failed[0]["evidence"]
    assert ping_stops("ubuntu-01", "192.168.1.1")


def test_the_path_api_keeps_tenants_to_their_own(lab: dict[str, Any], client: Client) -> None:
    fresh_graph(lab)
    cirros = lab["vms"]["cirros-01"]
    demo = client.get(
        "/api/v1/path/",
        {"src": "192.168.1.1", "dst": cirros["floating_ip"]},
        HTTP_X_AUTH_TOKEN=keystone_token(lab, "demo"),
    )
    assert demo.status_code == 200 and demo.json()["verdict"] == "ok"
    alt = client.get(
        "/api/v1/path/",
        {"src": "192.168.1.1", "dst": f"port:{cirros['port_id']}"},
        HTTP_X_AUTH_TOKEN=keystone_token(lab, "alt"),
    )
    assert alt.status_code == 404
    assert cirros["ip"] not in alt.content.decode()
    bad = client.get(
        "/api/v1/path/", {"src": "nonsense", "dst": "192.168.1.1"}, HTTP_X_AUTH_TOKEN=keystone_token(lab, "admin")
    )
    assert bad.status_code == 400 and "neither a node id" in bad.json()["detail"]


def test_stored_reports_are_read_lazily(lab: dict[str, Any]) -> None:
    services.store_report(lab["host"], dict(collect_report(lab["host"])), 0)
    reports = StoredReports()
    assert lab["host"] in list(reports)
    assert reports[lab["host"]]["host"] == lab["host"]
    with pytest.raises(KeyError):
        reports["no-such-host"]
