"""Graphs for the map tests that need no lab: the synthetic cloud, written as the current graph."""

from __future__ import annotations

import copy
from typing import Any

from django.utils import timezone

from bench.synthetic import iface, mac, ovs_iface, synthetic_cloud, uid
from topology import graph as g
from topology import services
from topology.join import join
from topology.models import GraphState
from topology.scope import VIEWS

GraphDict = dict[str, list[Any]]


def synthetic_graph(hosts: int = 2, ports: int = 6, projects: int = 2) -> GraphDict:
    cloud, reports = synthetic_cloud(hosts, ports, projects, 1)
    return join(cloud, reports).to_dict()


def pingable(graph: GraphDict) -> GraphDict:
    """The synthetic cloud's security groups admit ICMP in (their only ingress rule) and all out."""
    out = copy.deepcopy(graph)
    for node in out["nodes"]:
        if node["kind"] == "secgroup":
            node["attrs"]["rules"] = [
                {
                    "id": "icmp-in",
                    "direction": "ingress",
                    "ethertype": "IPv4",
                    "protocol": "icmp",
                    "remote_ip_prefix": "0.0.0.0/0",
                },
                {"id": "all-out", "direction": "egress", "ethertype": "IPv4", "protocol": None},
            ]
    return out


DVR_ROUTER = uid("router", 0)
DVR_HOSTS = ("compute0000", "compute0001")


def dvr_cloud(*, qrouter_on_second_host: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seed 001's east-west DVR case on two hosts, made from the synthetic cloud.

    Project 0's router becomes distributed with a second subnet (net-b, 10.1.0.0/24); vm-0 stays on
    net-0 on compute0000, vm-1 moves to net-b on compute0001; both hosts get the router's qrouter
    namespace with both qr- ports (DVR replicates them), so the explainer walks the request through
    compute0000's qrouter and the reply through compute0001's (``return_hops``).
    Without ``qrouter_on_second_host`` the reply's router is missing: the way back breaks, not the way there.
    """
    cloud, reports = synthetic_cloud(hosts=2, ports=3, projects=1, network_nodes=1)
    cloud, reports = copy.deepcopy(cloud), copy.deepcopy(reports)
    project = project_of(0)
    net_b, sub_b = uid("net", "dvr-b"), uid("subnet", "dvr-b")
    qr_a, qr_b = uid("port", "qr", 0), uid("port", "qr", "dvr-b")
    for router in cloud["routers"]:
        router["distributed"] = True
    cloud["networks"].append(
        {
            "id": net_b,
            "name": "net-b",
            "status": "ACTIVE",
            "project_id": project,
            "provider:network_type": "vxlan",
            "provider:segmentation_id": 200,
            "mtu": 1450,
        }
    )
    cloud["subnets"].append(
        {
            "id": sub_b,
            "network_id": net_b,
            "cidr": "10.1.0.0/24",
            "gateway_ip": "10.1.0.1",
            "ip_version": 4,
            "enable_dhcp": False,
            "project_id": project,
        }
    )
    for port in cloud["ports"]:
        if port["id"] == qr_a:
            port["device_owner"] = "network:router_interface_distributed"
        if port["id"] == uid("vmport", 1):
            port["network_id"] = net_b
            port["fixed_ips"] = [{"subnet_id": sub_b, "ip_address": "10.1.0.11"}]
    cloud["ports"].append(
        {
            "id": qr_b,
            "network_id": net_b,
            "device_owner": "network:router_interface_distributed",
            "device_id": DVR_ROUTER,
            "project_id": project,
            "status": "ACTIVE",
            "binding:host_id": "",
            "mac_address": mac(77),
            "fixed_ips": [{"subnet_id": sub_b, "ip_address": "10.1.0.1"}],
        }
    )
    tags = {qr_a: 1, qr_b: 2}
    for host in DVR_HOSTS if qrouter_on_second_host else DVR_HOSTS[:1]:
        report = reports[host]
        namespace = next((n for n in report["namespaces"] if n["name"] == f"qrouter-{DVR_ROUTER}"), None)
        if namespace is None:
            namespace = {
                "name": f"qrouter-{DVR_ROUTER}",
                "routes": [],
                "rules": [],
                "interfaces": [],
                "iptables": {"nat": "*nat\nCOMMIT\n", "filter": ""},
            }
            report["namespaces"].append(namespace)
        present = {i["name"] for i in namespace["interfaces"]}
        br_int = report["ovs"]["bridges"][0]
        for port_id, tag in tags.items():
            if f"qr-{port_id[:11]}" in present:
                continue
            namespace["interfaces"].append(iface(f"qr-{port_id[:11]}", "veth", peer=f"tap{port_id[:11]}", n=5))
            report["interfaces"].append(
                iface(f"tap{port_id[:11]}", "veth", peer=f"qr-{port_id[:11]}", peer_netns=f"qrouter-{DVR_ROUTER}")
            )
            br_int["ports"].append(
                {
                    "name": f"tap{port_id[:11]}",
                    "tag": tag,
                    "interfaces": [
                        ovs_iface(f"tap{port_id[:11]}", external_ids={"iface-id": port_id, "attached-mac": mac(5)})
                    ],
                }
            )
    for port in reports[DVR_HOSTS[1]]["ovs"]["bridges"][0]["ports"]:
        if port["name"] == f"qvo{uid('vmport', 1)[:11]}":
            port["tag"] = 2  # net-b's local VLAN there
    for agent in cloud["agents"]:
        agent["configurations"]["agent_mode"] = "dvr_snat" if agent["host"] == DVR_HOSTS[0] else "dvr"
    cloud["agents"].append(
        {
            "id": uid("agent", DVR_HOSTS[1], "neutron-l3-agent"),
            "host": DVR_HOSTS[1],
            "agent_type": "L3 agent",
            "binary": "neutron-l3-agent",
            "alive": True,
            "admin_state_up": True,
            "configurations": {"agent_mode": "dvr"},
        }
    )
    return cloud, reports


def dvr_graph(*, qrouter_on_second_host: bool = True) -> GraphDict:
    cloud, reports = dvr_cloud(qrouter_on_second_host=qrouter_on_second_host)
    return pingable(join(cloud, reports).to_dict())


def project_of(p: int) -> str:
    """The project id the synthetic cloud gives project number ``p``."""
    return uid("project", p).replace("-", "")


def publish_graph(new: GraphDict) -> int:
    """What ``services.rebuild_graph`` does with a joined graph: store it, bump the revision, publish."""
    state, _ = GraphState.objects.get_or_create(id=1)
    delta = g.diff(state.graph or {}, new)
    state.revision += 1
    state.generated_at = timezone.now()
    state.graph = copy.deepcopy(new)
    state.save()
    for view in VIEWS:
        services.store_view(state, view, None)
    services.publish_delta(state.revision, delta)
    return state.revision


def with_network(graph: GraphDict, uuid: str, name: str, project_id: str) -> GraphDict:
    out = copy.deepcopy(graph)
    out["nodes"].append(
        {
            "id": f"network:{uuid}",
            "kind": "network",
            "label": name,
            "project_id": project_id,
            "status": "ACTIVE",
            "attrs": {
                "name": name,
                "external": False,
                "shared": False,
                "network_type": "vxlan",
                "segmentation_id": 999,
            },
        }
    )
    return out
