"""A synthetic cloud of any size, shaped like the real one (for benchmarks).

It builds what openstacksdk's collector and the node agent would return for a
cloud of ``hosts`` compute hosts (the first ``network_nodes`` of them also run
L3/DHCP: qrouter-/qdhcp- namespaces and br-ex) carrying ``ports`` VM ports,
hybrid-plugged (tap/qbr/qvb/qvo), in ``projects`` projects with one network,
subnet and legacy router each. Deterministic for a given size.
"""

from __future__ import annotations

import uuid
from typing import Any

JsonDict = dict[str, Any]


def uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def mac(n: int) -> str:
    return "fa:16:3e:" + ":".join(f"{(n >> s) & 0xFF:02x}" for s in (16, 8, 0))


def iface(
    name: str,
    kind: str,
    *,
    master: str | None = None,
    peer: str | None = None,
    peer_netns: str | None = None,
    addresses: list[str] | None = None,
    n: int = 0,
) -> JsonDict:
    return {
        "name": name,
        "kind": kind,
        "mac": mac(n),
        "mtu": 1450,
        "state": "UP",
        "addresses": addresses or [],
        "master": master,
        "peer": peer,
        "peer_netns": peer_netns,
    }


def ovs_iface(
    name: str, *, kind: str = "", options: JsonDict | None = None, external_ids: JsonDict | None = None, ofport: int = 1
) -> JsonDict:
    return {"name": name, "type": kind, "options": options or {}, "external_ids": external_ids or {}, "ofport": ofport}


def synthetic_cloud(
    hosts: int = 3, ports: int = 20, projects: int = 2, network_nodes: int = 1, tunnel_peers: int = 8
) -> tuple[JsonDict, dict[str, JsonDict]]:
    host_names = [f"compute{i:04d}" for i in range(hosts)]
    public = uid("net", "public")
    cloud: JsonDict = {
        k: []
        for k in (
            "networks",
            "subnets",
            "ports",
            "routers",
            "floatingips",
            "security_groups",
            "security_group_rules",
            "agents",
            "servers",
        )
    }
    cloud["networks"].append(
        {
            "id": public,
            "name": "public",
            "router:external": True,
            "status": "ACTIVE",
            "project_id": "admin",
            "provider:network_type": "flat",
            "mtu": 1500,
            "provider:physical_network": "external",
            "subnets": [uid("subnet", "public")],
        }
    )
    cloud["subnets"].append(
        {
            "id": uid("subnet", "public"),
            "network_id": public,
            "cidr": "192.168.0.0/16",
            "gateway_ip": "192.168.0.1",
            "ip_version": 4,
            "enable_dhcp": False,
            "project_id": "admin",
        }
    )
    reports = {h: empty_report(h, i) for i, h in enumerate(host_names)}
    for i, h in enumerate(host_names):
        add_agents(cloud, h, i, i < network_nodes)
    for p in range(projects):
        add_project(cloud, reports, host_names[:network_nodes], p, public)
    for n in range(ports):
        add_vm_port(cloud, reports, host_names[n % hosts], n, n % projects)
    for i, h in enumerate(host_names):
        add_tunnels(reports[h], i, hosts, tunnel_peers)
    return cloud, reports


def empty_report(host: str, i: int) -> JsonDict:
    tunnel_ip = f"10.{i >> 8 & 255}.{i & 255}.1"
    return {
        "version": 1,
        "host": host,
        "collected_at": "2026-11-21T09:00:00Z",
        "tunnel_ip": tunnel_ip,
        "interfaces": [iface("lo", "loopback", addresses=["127.0.0.1/8"])],
        "namespaces": [],
        "ovs": {
            "bridges": [
                {
                    "name": "br-int",
                    "datapath_type": "netdev",
                    "fail_mode": "secure",
                    "ports": [
                        {
                            "name": "patch-tun",
                            "tag": None,
                            "interfaces": [ovs_iface("patch-tun", kind="patch", options={"peer": "patch-int"})],
                        }
                    ],
                },
                {
                    "name": "br-tun",
                    "datapath_type": "netdev",
                    "fail_mode": "secure",
                    "ports": [
                        {
                            "name": "patch-int",
                            "tag": None,
                            "interfaces": [ovs_iface("patch-int", kind="patch", options={"peer": "patch-tun"})],
                        }
                    ],
                },
            ],
            "flows": {"br-int": [], "br-tun": []},
        },
    }


def add_agents(cloud: JsonDict, host: str, i: int, network_node: bool) -> None:
    tunnel_ip = f"10.{i >> 8 & 255}.{i & 255}.1"
    kinds = [("Open vSwitch agent", "neutron-openvswitch-agent")]
    if network_node:
        kinds += [("L3 agent", "neutron-l3-agent"), ("DHCP agent", "neutron-dhcp-agent")]
    for agent_type, binary in kinds:
        cloud["agents"].append(
            {
                "id": uid("agent", host, binary),
                "host": host,
                "agent_type": agent_type,
                "binary": binary,
                "alive": True,
                "admin_state_up": True,
                "configurations": {
                    "tunneling_ip": tunnel_ip,
                    "tunnel_types": ["vxlan"],
                    "bridge_mappings": {"external": "br-ex"},
                    "agent_mode": "legacy",
                },
            }
        )


def add_project(cloud: JsonDict, reports: dict[str, JsonDict], network_nodes: list[str], p: int, public: str) -> None:
    project = uid("project", p).replace("-", "")
    net, subnet, router = uid("net", p), uid("subnet", p), uid("router", p)
    cloud["networks"].append(
        {
            "id": net,
            "name": f"net-{p}",
            "status": "ACTIVE",
            "project_id": project,
            "provider:network_type": "vxlan",
            "provider:segmentation_id": 100 + p,
            "mtu": 1450,
        }
    )
    cloud["subnets"].append(
        {
            "id": subnet,
            "network_id": net,
            "cidr": f"10.{p >> 8 & 255}.{p & 255}.0/24",
            "gateway_ip": f"10.{p >> 8 & 255}.{p & 255}.1",
            "ip_version": 4,
            "enable_dhcp": True,
            "project_id": project,
        }
    )
    cloud["routers"].append(
        {
            "id": router,
            "name": f"router-{p}",
            "status": "ACTIVE",
            "project_id": project,
            "external_gateway_info": {"network_id": public, "enable_snat": True},
        }
    )
    cloud["security_groups"].append({"id": uid("sg", p), "name": "default", "project_id": project})
    # Neutron gives every group its egress rules (IPv4 and IPv6, to anywhere): what a VM sends gets out.
    for ethertype in ("IPv4", "IPv6"):
        cloud["security_group_rules"].append(
            {
                "id": uid("rule", "egress", ethertype, p),
                "security_group_id": uid("sg", p),
                "direction": "egress",
                "ethertype": ethertype,
                "protocol": None,
                "remote_ip_prefix": None,
                "project_id": project,
            }
        )
    node = network_nodes[p % len(network_nodes)]
    report = reports[node]
    qr, dhcp = uid("port", "qr", p), uid("port", "dhcp", p)
    for port_id, owner, device, ip in (
        (qr, "network:router_interface", router, 1),
        (dhcp, "network:dhcp", "dhcp" + uid("dhcp", p), 2),
    ):
        cloud["ports"].append(
            {
                "id": port_id,
                "network_id": net,
                "device_owner": owner,
                "device_id": device,
                "project_id": project,
                "status": "ACTIVE",
                "binding:host_id": node,
                "mac_address": mac(p * 4 + ip),
                "fixed_ips": [{"subnet_id": subnet, "ip_address": f"10.{p >> 8 & 255}.{p & 255}.{ip}"}],
            }
        )
    report["namespaces"].append(
        {
            "name": f"qrouter-{router}",
            "routes": [],
            "rules": [],
            "iptables": {"nat": "*nat\nCOMMIT\n", "filter": ""},
            "interfaces": [iface(f"qr-{qr[:11]}", "veth", peer=f"tap{qr[:11]}", n=p)],
        }
    )
    report["namespaces"].append(
        {
            "name": f"qdhcp-{net}",
            "routes": [],
            "rules": [],
            # As the agent sends a namespace without those tables (topology/agent/iptables.py): both, empty.
            "iptables": {"nat": "", "filter": ""},
            "interfaces": [iface(f"tap{dhcp[:11]}", "veth", peer=f"tap{dhcp[:11]}x", n=p)],
        }
    )
    br_int = report["ovs"]["bridges"][0]
    for port_id in (qr,):
        report["interfaces"].append(
            iface(f"tap{port_id[:11]}", "veth", peer=f"qr-{port_id[:11]}", peer_netns=f"qrouter-{router}")
        )
        br_int["ports"].append(
            {
                "name": f"tap{port_id[:11]}",
                "tag": p % 4000 + 1,
                "interfaces": [
                    ovs_iface(f"tap{port_id[:11]}", external_ids={"iface-id": port_id, "attached-mac": mac(p)})
                ],
            }
        )


def add_vm_port(cloud: JsonDict, reports: dict[str, JsonDict], host: str, n: int, p: int) -> None:
    project = uid("project", p).replace("-", "")
    port_id, server = uid("vmport", n), uid("server", n)
    cloud["ports"].append(
        {
            "id": port_id,
            "network_id": uid("net", p),
            "device_owner": "compute:nova",
            "device_id": server,
            "project_id": project,
            "status": "ACTIVE",
            "binding:host_id": host,
            "mac_address": mac(1_000_000 + n),
            "security_groups": [uid("sg", p)],
            "fixed_ips": [{"subnet_id": uid("subnet", p), "ip_address": f"10.{p >> 8 & 255}.{p & 255}.{10 + n % 240}"}],
        }
    )
    cloud["servers"].append(
        {"id": server, "name": f"vm-{n}", "status": "ACTIVE", "tenant_id": project, "OS-EXT-SRV-ATTR:host": host}
    )
    id11 = port_id[:11]
    report = reports[host]
    report["interfaces"] += [
        iface(f"qbr{id11}", "bridge", n=n),
        iface(f"tap{id11}", "tun", master=f"qbr{id11}", n=n),
        iface(f"qvb{id11}", "veth", master=f"qbr{id11}", peer=f"qvo{id11}", n=n),
        iface(f"qvo{id11}", "veth", peer=f"qvb{id11}", n=n),
    ]
    report["ovs"]["bridges"][0]["ports"].append(
        {
            "name": f"qvo{id11}",
            "tag": p % 4000 + 1,
            "interfaces": [
                ovs_iface(
                    f"qvo{id11}",
                    external_ids={
                        "iface-id": port_id,
                        "attached-mac": mac(1_000_000 + n),
                        "iface-status": "active",
                        "vm-uuid": server,
                    },
                )
            ],
        }
    )
    report["ovs"]["flows"]["br-int"].append(
        f"cookie=0x0, duration=1.0s, table=0, n_packets=0, n_bytes=0, priority=10,in_port=qvo{id11} "
        "actions=resubmit(,24)"
    )


def add_tunnels(report: JsonDict, i: int, hosts: int, peers: int) -> None:
    br_tun = report["ovs"]["bridges"][1]
    # i+-1 .. i+-peers/2: every tunnel has its way back (as l2population makes them).
    others = {(i + step * sign) % hosts for step in range(1, peers // 2 + 1) for sign in (1, -1)} - {i}
    for j in sorted(others):
        remote = f"10.{j >> 8 & 255}.{j & 255}.1"
        name = "vxlan-" + "".join(f"{int(o):02x}" for o in remote.split("."))
        br_tun["ports"].append(
            {
                "name": name,
                "tag": None,
                "interfaces": [
                    ovs_iface(
                        name,
                        kind="vxlan",
                        options={
                            "remote_ip": remote,
                            "local_ip": report["tunnel_ip"],
                            "key": "flow",
                            "in_key": "flow",
                            "out_key": "flow",
                        },
                    )
                ],
            }
        )
