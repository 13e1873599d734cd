"""Drift made for real on the lab (allinone): the map flags it and the explainer agrees with pings.

Issue 23: Neutron 29's ``PUT /v2.0/routers/<id>`` with ``If-Match: revision_number=N`` and an empty
``external_gateway_info`` answers 412 after it committed ``gw_port = None``: the router says it has no
gateway, its ``network:router_gateway`` port and the qg- in qrouter stay, and the VMs still reach the
outside. The fixture makes exactly that through the raw API as admin and undoes it in ``finally``.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.test import Client

from tests.broken_states import fips_disassociated, ping_stops, wait_until
from tests.path_proof import outside_sees_the_explained_exit
from tests.test_topology_lab import get_topology, keystone_token, refresh_all
from topology.api import StoredReports
from topology.drift import DriftKind
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
Cloud = openstack.connection.Connection
GATEWAY_OWNER = "network:router_gateway"


def gateway_ports(cloud: Cloud, router: str) -> list[Any]:
    return list(cloud.network.ports(device_id=router, device_owner=GATEWAY_OWNER))


def remove_orphan(cloud: Cloud, port_id: str) -> None:
    """What removes an orphan gateway port: Neutron refuses to delete a port a router owns (409), so the
    port is first released (device_owner and device_id emptied), then deleted."""
    cloud.network.update_port(port_id, device_owner="", device_id="")
    cloud.network.delete_port(port_id, ignore_missing=True)


def set_gateway_back(cloud: Cloud, lab: dict[str, Any]) -> None:
    router = lab["routers"]["router1"]
    cloud.network.update_router(
        router["id"],
        external_gateway_info={
            "network_id": lab["networks"]["public"],
            "external_fixed_ips": [{"subnet_id": lab["subnets"]["public_subnet"], "ip_address": router["gateway_ip"]}],
        },
    )


@contextlib.contextmanager
def orphan_gateway_made(cloud: Cloud, lab: dict[str, Any]) -> Iterator[str]:
    """router1 left with no gateway in Neutron and its gateway port orphaned; yields that port's id."""
    from lab import api

    router = lab["routers"]["router1"]["id"]
    try:
        with fips_disassociated(cloud, lab, "cirros-01"):
            # the L3 agent applies it a moment later: the raw update comes after, as in the issue
            assert ping_stops("outside", lab["vms"]["cirros-01"]["floating_ip"])
            try:
                revision = cloud.network.get_router(router).revision_number
                answer = cloud.network.put(
                    f"/routers/{router}",
                    json={"router": {"external_gateway_info": {}}},
                    headers={"If-Match": f"revision_number={revision}"},
                    raise_exc=False,
                )
                assert answer.status_code == 412, (answer.status_code, answer.text)
                assert not cloud.network.get_router(router).external_gateway_info
                (orphan,) = gateway_ports(cloud, router)
                yield str(orphan.id)
            finally:
                for port in gateway_ports(cloud, router):
                    if not cloud.network.get_router(router).external_gateway_info:
                        remove_orphan(cloud, port.id)
                if not cloud.network.get_router(router).external_gateway_info:
                    set_gateway_back(cloud, lab)
    finally:
        floating_ip = lab["vms"]["cirros-01"]["floating_ip"]
        assert api.ping("outside", floating_ip, timeout=90), "cirros-01's floating IP answers again"


def nodes_by_id(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in graph["nodes"]}


def drift_warnings(node: dict[str, Any]) -> list[str]:
    return [w for w in node["attrs"].get("warnings") or [] if w.startswith("drift:")]


def test_the_healthy_lab_has_no_drift(lab: dict[str, Any]) -> None:
    graph = refresh_all(lab["host"]).graph
    assert {n["id"]: n["attrs"]["drift"] for n in graph["nodes"] if n["attrs"].get("drift")} == {}
    assert [w for n in graph["nodes"] for w in drift_warnings(n)] == []


def test_an_orphan_gateway_port_is_flagged_and_the_explainer_follows_the_packets(
    lab: dict[str, Any], admin_cloud: Cloud, client: Client
) -> None:
    from lab import api

    host, router = lab["host"], lab["routers"]["router1"]["id"]
    ubuntu = f"server:{lab['vms']['ubuntu-01']['server_id']}"
    with orphan_gateway_made(admin_cloud, lab) as orphan:
        qg = f"iface:{host}:qrouter-{router}:qg-{orphan[:11]}"
        # the node agent's next report and the cloud's next snapshot, then the graph rebuilt
        graph = refresh_all(host).graph
        nodes = nodes_by_id(graph)
        assert DriftKind.GATEWAY_PORT_ORPHANED in nodes[f"router:{router}"]["attrs"].get("drift", [])
        (on_router,) = drift_warnings(nodes[f"router:{router}"])
        assert f"gateway port {orphan}" in on_router and "packets still leave by it" in on_router, on_router
        assert f"remove the orphan gateway port {orphan}" in on_router
        assert DriftKind.GATEWAY_PORT_ORPHANED in nodes[qg]["attrs"].get("drift", [])

        admin = nodes_by_id(get_topology(client, keystone_token(lab, "admin")).json())
        assert drift_warnings(admin[f"router:{router}"]) == [on_router] and drift_warnings(admin[qg])
        demo = nodes_by_id(get_topology(client, keystone_token(lab, "demo")).json())
        assert drift_warnings(demo[f"router:{router}"]) == [on_router]
        assert host not in on_router  # where the router runs is not the tenant's to see
        assert qg not in demo and f"port:{orphan}" not in demo  # the orphan port is Neutron's, not demo's
        alt = get_topology(client, keystone_token(lab, "alt")).content.decode()
        assert orphan not in alt and router not in alt

        result = explain(graph, StoredReports(), ubuntu, "192.168.1.1")
        assert result["verdict"] == "ok", (result["problems"], [h for h in result["hops"] if h["status"] != "ok"])
        (problem,) = [p for p in result["problems"] if p["code"] == "gateway_port_orphaned"]
        assert problem["node"] == qg and problem["severity"] == "warn"
        assert [h["status"] for h in result["hops"] if h["node"] == qg] == ["warn"]
        assert api.ping("ubuntu-01", "192.168.1.1", timeout=90)  # the verdict agrees: it still answers
        # and the packets leave by the orphan qg- with the SNAT rule the explainer quoted
        outside_sees_the_explained_exit(result, graph, lambda: api.ping("ubuntu-01", "192.168.1.1", timeout=30))
    healed = nodes_by_id(refresh_all(host).graph)
    assert not drift_warnings(healed[f"router:{router}"])
    assert wait_until(lambda: api.ping("ubuntu-01", "192.168.1.1", timeout=5), 60)


def qrouter_nat(router: str, *argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", f"qrouter-{router}", *argv], input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout


def echo_ttl(target: str) -> int | None:
    """The TTL of the outside's echo reply from ``target`` (64 from the qrouter itself, 63 through it)."""
    from lab import api

    for _ in range(5):
        done = api.run_in("outside", ["ping", "-c", "1", "-W", "2", target])
        for word in done.stdout.split():
            if word.startswith("ttl="):
                return int(word[4:])
    return None


def dnat_rule_present(router: str, address: str, fixed: str) -> bool:
    rules = qrouter_nat(router, "iptables", "-t", "nat", "-S", "neutron-l3-agent-PREROUTING")
    return any(f"-d {address}/32" in rule and f"--to-destination {fixed}" in rule for rule in rules.splitlines())


def dnat_rule_removed(host: str, router: str, address: str, fixed: str) -> dict[str, Any]:
    """The floating IP's DNAT rule deleted in the qrouter, then the host's report refreshed; the graph.

    The L3 agent rewrites a router's whole iptables model whenever it processes the router: right
    after the previous test put router1's gateway and floating IPs back, it may still be doing so
    and restore the rule under us (seen in CI). Only then is the deletion made again; a graph taken
    while the rule is really absent is returned whatever it says.
    """
    graph: dict[str, Any] = {}
    for _ in range(5):
        if dnat_rule_present(router, address, fixed):
            qrouter_nat(
                router, "iptables", "-t", "nat", "-D", "neutron-l3-agent-PREROUTING",
                "-d", f"{address}/32", "-j", "DNAT", "--to-destination", fixed,
            )  # fmt: skip
        graph = refresh_all(host).graph
        if not dnat_rule_present(router, address, fixed):
            return graph
        time.sleep(3)  # the agent put it back while processing the router: let it finish
    return graph


def test_a_floating_ip_without_its_dnat_rule_is_flagged_and_broken(lab: dict[str, Any]) -> None:
    host, router = lab["host"], lab["routers"]["router1"]["id"]
    cirros = lab["vms"]["cirros-01"]
    address, fixed = cirros["floating_ip"], cirros["ip"]
    # Healthy: the VM answers through the router (one hop: TTL 63), no drift on the floating IP.
    assert echo_ttl(address) == 63
    fip = f"fip:{lab['floating_ips']['cirros-01']['id']}"
    assert not drift_warnings(nodes_by_id(refresh_all(host).graph)[fip])
    saved = qrouter_nat(router, "iptables-save", "-t", "nat")
    try:
        graph = dnat_rule_removed(host, router, address, fixed)
        nodes = nodes_by_id(graph)
        (text,) = drift_warnings(nodes[fip])
        assert f"Neutron says floating IP {address} is ACTIVE" in text and "no DNAT rule" in text
        assert DriftKind.FIP_NAT_MISSING in nodes[f"netns:{host}:qrouter-{router}"]["attrs"]["drift"]
        result = explain(graph, StoredReports(), "192.168.1.1", address)
        assert result["verdict"] == "broken"
        failed = [h for h in result["hops"] if h["status"] == "fail"]
        assert [h["node"] for h in failed] == [f"netns:{host}:qrouter-{router}"]
        # The data plane agrees: the echo is no longer forwarded to cirros-01; only the qrouter, which holds
        # the floating IP on its qg-, answers it itself (TTL 64), or nothing does.
        assert wait_until(lambda: echo_ttl(address) in (64, None), 40)
    finally:
        qrouter_nat(router, "iptables-restore", stdin=saved)  # the saved text holds the nat table alone
    assert wait_until(lambda: echo_ttl(address) == 63, 60)
    assert not drift_warnings(nodes_by_id(refresh_all(host).graph)[fip])
