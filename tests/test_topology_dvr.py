"""The joined topology of the real two-host DVR lab (scenario dvr) and of overlapping subnets (overlap)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from tests.test_topology_lab import has_edge, members, nodes
from topology import services
from topology.agent.collect import collect_report

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


def host_report(state: dict[str, Any], host: str) -> dict[str, Any]:
    """The node agent's report of ``host``, collected in that host's own view (compute2: its namespaces)."""
    from lab import api

    if host == state["host"]:
        return dict(collect_report(host))
    result = api.run_on(
        host, [sys.executable, "-m", "topology.agent", "--once", "--print", "--host", host], capture=True
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def joined(state: dict[str, Any]) -> dict[str, Any]:
    for host in state["hosts"]:
        services.store_report(host, host_report(state, host), 0)
    services.refresh_cloud()
    return services.graph_state().graph


@pytest.fixture
def dvr_graph(dvr_lab: dict[str, Any]) -> dict[str, Any]:
    return joined(dvr_lab)


def test_the_two_hosts_are_joined_by_a_vxlan_tunnel(dvr_lab: dict[str, Any], dvr_graph: dict[str, Any]) -> None:
    tunnels = [e for e in dvr_graph["edges"] if e["kind"] == "tunnel"]
    ends = {(e["source"].split(":")[1], e["target"].split(":")[1]) for e in tunnels}
    assert ("compute2", "controller") in ends or ("controller", "compute2") in ends
    for edge in tunnels:
        for end in (edge["source"], edge["target"]):
            host = end.split(":")[1]
            assert end in members(dvr_graph, f"bridge:{host}:br-tun")
            assert nodes(dvr_graph)[end]["attrs"]["ovs_type"] == "vxlan"


def test_the_distributed_router_is_joined_to_its_namespaces_on_both_hosts(
    dvr_lab: dict[str, Any], dvr_graph: dict[str, Any]
) -> None:
    router = dvr_lab["routers"]["dvr-router"]["id"]
    by_id = nodes(dvr_graph)
    for host in ("controller", "compute2"):
        assert has_edge(dvr_graph, f"router:{router}", f"netns:{host}:qrouter-{router}", "binds")
    assert has_edge(dvr_graph, f"router:{router}", f"netns:controller:snat-{router}", "binds")
    assert f"netns:compute2:snat-{router}" not in by_id
    public = dvr_lab["networks"]["public"]
    for host in ("controller", "compute2"):
        fip_ns = f"netns:{host}:fip-{public}"
        assert has_edge(dvr_graph, f"network:{public}", fip_ns, "binds")
        rfp = f"iface:{host}:qrouter-{router}:rfp-{router[:10]}"
        fpr = f"iface:{host}:fip-{public}:fpr-{router[:10]}"
        assert has_edge(dvr_graph, rfp, fpr, "veth"), host
        assert has_edge(dvr_graph, f"router:{router}", rfp, "binds")
        fg = [n for n in members(dvr_graph, fip_ns) if by_id[n]["label"].startswith("fg-")]
        assert fg and by_id[fg[0]]["attrs"].get("port_id"), f"fg- on {host} joined to its port"
    snat_ns = f"netns:controller:snat-{router}"
    sg = [n for n in members(dvr_graph, snat_ns) if by_id[n]["label"].startswith("sg-")]
    assert len(sg) == 2 and all(by_id[n]["attrs"].get("port_id") for n in sg)  # one per subnet


def test_vms_on_compute2_are_joined_to_their_devices_there(dvr_lab: dict[str, Any], dvr_graph: dict[str, Any]) -> None:
    vm = dvr_lab["vms"]["vm-db-1"]
    port = f"port:{vm['port_id']}"
    assert has_edge(dvr_graph, port, f"iface:compute2:-:qvo{vm['port_id'][:11]}", "binds")
    assert nodes(dvr_graph)[port]["host"] == "compute2"
    assert "warnings" not in nodes(dvr_graph)[port]["attrs"]
