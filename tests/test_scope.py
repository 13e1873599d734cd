"""What a tenant may see of the graph (pure): their own things, never another project's."""

from __future__ import annotations

import json
from typing import Any

from bench.synthetic import synthetic_cloud, uid
from topology.join import join
from topology.kinds import NodeKind
from topology.scope import scope_graph


def project(p: int) -> str:
    return uid("project", p).replace("-", "")


def test_a_tenant_sees_its_own_objects_and_the_public_network_only() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=6, projects=2)
    graph = join(cloud, reports).to_dict()
    seen = scope_graph(graph, "full", project(0))
    ids = {n["id"] for n in seen["nodes"]}
    other = [p for p in cloud["ports"] if p["project_id"] == project(1)]
    assert other and not any(f"port:{p['id']}" in ids for p in other)
    text = json.dumps(seen)
    for port in other:
        assert port["mac_address"] not in text
        assert port["fixed_ips"][0]["ip_address"] not in text
        assert port["id"][:11] not in text  # not even their devices (qvo..., tap...)
    assert "router-1" not in text and "net-1" not in text
    assert f"network:{cloud['networks'][0]['id']}" in ids  # public
    own = [p for p in cloud["ports"] if p["project_id"] == project(0) and p["device_owner"] == "compute:nova"]
    host = own[0]["binding:host_id"]
    assert {
        f"port:{own[0]['id']}",
        f"iface:{host}:-:qvo{own[0]['id'][:11]}",
        f"bridge:{host}:br-int",
        f"host:{host}",
    } <= ids
    assert all(e["source"] in ids and e["target"] in ids for e in seen["edges"])


def test_views_split_logical_and_physical() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=4, projects=2)
    graph = join(cloud, reports).to_dict()
    logical = scope_graph(graph, "logical", None)
    physical = scope_graph(graph, "physical", None)
    assert logical["nodes"] and all(n["kind"] in NodeKind.LOGICAL for n in logical["nodes"])
    assert physical["nodes"] and all(n["kind"] in NodeKind.PHYSICAL for n in physical["nodes"])
    assert len(logical["nodes"]) + len(physical["nodes"]) == len(scope_graph(graph, "full", None)["nodes"])
    assert len(scope_graph(graph, "full", None)["nodes"]) == len(graph["nodes"])


def fip_namespace_graph() -> tuple[dict[str, Any], str]:
    """A cloud whose host holds the external network's fip- namespace (with a route to project 0's FIP)."""
    cloud, reports = synthetic_cloud(hosts=1, ports=2, projects=2)
    public = cloud["networks"][0]["id"]
    router = cloud["routers"][0]["id"]
    reports["compute0000"]["namespaces"].append(
        {
            "name": f"fip-{public}",
            "iptables": {},
            "routes": [
                {
                    "dst": "192.168.7.7/32",
                    "gateway": "169.254.106.114",
                    "dev": f"fpr-{router[:10]}",
                    "table": 254,
                    "src": None,
                }
            ],
            "rules": [],
            "interfaces": [
                {
                    "name": f"fpr-{router[:10]}",
                    "kind": "veth",
                    "mac": None,
                    "mtu": 1500,
                    "state": "UP",
                    "addresses": ["169.254.106.115/31"],
                    "master": None,
                    "peer": None,
                    "peer_netns": None,
                }
            ],
        }
    )
    return join(cloud, reports).to_dict(), public


def test_the_shared_fip_namespace_hides_other_projects_routes() -> None:
    graph, public = fip_namespace_graph()
    seen = scope_graph(graph, "full", project(0))
    fip_ns = next(n for n in seen["nodes"] if n["id"] == f"netns:compute0000:fip-{public}")
    assert "routes" not in fip_ns["attrs"]
    assert "192.168.7.7" not in json.dumps(seen)
    assert "192.168.7.7" not in json.dumps(scope_graph(graph, "full", project(1)))
    admin = next(n for n in scope_graph(graph, "full", None)["nodes"] if n["id"] == fip_ns["id"])
    assert admin["attrs"]["routes"][0]["dst"] == "192.168.7.7/32"


def test_it_removes_what_neutron_shows_only_to_admins() -> None:

    from topology.scope import ADMIN_ONLY_ATTRS, scope_graph

    port: dict[str, Any] = {
        "id": "port:p1",
        "kind": "port",
        "label": "10.0.0.5",
        "host": "compute1",
        "project_id": "demo",
        "attrs": {
            "binding_host_id": "compute1",
            "vif_type": "ovs",
            "vif_details": {"port_filter": True},
            "fixed_ips": [{"ip_address": "10.0.0.5"}],
            "network_id": "n1",
        },
    }
    net = {
        "id": "network:n1",
        "kind": "network",
        "label": "private",
        "project_id": "demo",
        "attrs": {"name": "private", "network_type": "vxlan", "segmentation_id": 42, "physical_network": None},
    }
    graph = {"nodes": [port, net], "edges": []}
    demo = {n["id"]: n for n in scope_graph(graph, "full", "demo")["nodes"]}
    assert set(demo) == {"port:p1", "network:n1"}
    assert not set(demo["port:p1"]["attrs"]) & ADMIN_ONLY_ATTRS["port"] and "host" not in demo["port:p1"]
    assert demo["port:p1"]["attrs"]["fixed_ips"] == [{"ip_address": "10.0.0.5"}]
    assert demo["network:n1"]["attrs"] == {"name": "private"}
    admin = {n["id"]: n for n in scope_graph(graph, "full", None)["nodes"]}
    assert admin["port:p1"]["attrs"]["binding_host_id"] == "compute1" and admin["port:p1"]["host"] == "compute1"
    assert port["attrs"]["vif_type"] == "ovs"  # the graph's own node is untouched
