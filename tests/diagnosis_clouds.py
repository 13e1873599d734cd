"""The explainer-diagnosis tests' clouds (legacy and DVR, synthetic), their lookups, the walk and the breaks."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from bench.path import add_gateways_and_fips
from bench.synthetic import iface, mac, ovs_iface, synthetic_cloud, uid
from topology.join import join
from topology.path import explain

JsonDict = dict[str, Any]
Cloud = tuple[JsonDict, dict[str, JsonDict]]
Break = Callable[[JsonDict, dict[str, JsonDict]], None]

OUTSIDE = "192.168.0.1"  # the external subnet's gateway: a host on the outside
NETWORK_NODE, COMPUTE = "compute0000", "compute0001"
ROUTER, PUBLIC, NET0 = uid("router", 0), uid("net", "public"), uid("net", 0)
VM1_PORT = uid("vmport", 1)  # vm-1, on compute0001: its paths cross the tunnel to the network node
GW_PORT, QR_PORT, DHCP_PORT = uid("port", "gw", 0), uid("port", "qr", 0), uid("port", "dhcp", 0)
FG_PORT = uid("port", "fg", COMPUTE)
QROUTER, FIP_NS = f"qrouter-{ROUTER}", f"fip-{PUBLIC}"


# --------------------------------------------------------------------------- healthy clouds


@functools.cache
def _legacy() -> Cloud:
    cloud, reports = synthetic_cloud(hosts=2, ports=4, projects=1, network_nodes=1)
    add_gateways_and_fips(cloud, reports, fip_every=1)
    return cloud, reports


def legacy() -> Cloud:
    """One legacy router-0 on compute0000 (qr-, qg-, SNAT/DNAT rules), a floating IP on every VM."""
    return copy.deepcopy(_legacy())


@functools.cache
def _dvr() -> Cloud:
    cloud, reports = legacy()
    vm1 = port(cloud, VM1_PORT)
    fixed, address = vm1["fixed_ips"][0]["ip_address"], fip_address(cloud, VM1_PORT)
    cloud["routers"][0]["distributed"] = True
    qr = port(cloud, QR_PORT)
    qr["device_owner"], qr["binding:host_id"] = "network:router_interface_distributed", ""
    for agent in cloud["agents"]:
        agent["configurations"]["agent_mode"] = "dvr_snat" if agent["host"] == NETWORK_NODE else "dvr"
    l3_agent = uid("agent", COMPUTE, "neutron-l3-agent")
    cloud["agents"].append(
        {
            "id": l3_agent,
            "host": COMPUTE,
            "agent_type": "L3 agent",
            "binary": "neutron-l3-agent",
            "alive": True,
            "admin_state_up": True,
            "configurations": {"agent_mode": "dvr"},
        }
    )
    fg_ip = "192.168.50.2"
    cloud["ports"].append(
        {
            "id": FG_PORT,
            "network_id": PUBLIC,
            "device_owner": "network:floatingip_agent_gateway",
            "device_id": l3_agent,
            "project_id": "",
            "status": "ACTIVE",
            "binding:host_id": COMPUTE,
            "mac_address": mac(4_000_000),
            "fixed_ips": [{"subnet_id": uid("subnet", "public"), "ip_address": fg_ip}],
        }
    )
    r10, qr11, fg11 = ROUTER[:10], QR_PORT[:11], FG_PORT[:11]
    report = reports[COMPUTE]
    report["namespaces"] += [
        {
            "name": QROUTER,
            "routes": [],
            "rules": [{"from": fixed, "table": 16}],
            "iptables": {
                "filter": "",
                "nat": (
                    f"*nat\n[0:0] -A neutron-l3-agent-PREROUTING -d {address}/32 -j DNAT --to-destination {fixed}\n"
                    f"[0:0] -A neutron-l3-agent-float-snat -s {fixed}/32 -j SNAT --to-source {address}\nCOMMIT\n"
                ),
            },
            "interfaces": [
                iface(f"qr-{qr11}", "veth", peer=f"tap{qr11}", n=1),
                iface(
                    f"rfp-{r10}", "veth", peer=f"fpr-{r10}", peer_netns=FIP_NS, addresses=["169.254.106.114/31"], n=2
                ),
            ],
        },
        {
            "name": FIP_NS,
            "routes": [{"dst": f"{address}/32", "gateway": "169.254.106.114", "dev": f"fpr-{r10}"}],
            "rules": [],
            "iptables": {},
            "interfaces": [
                iface(
                    f"fpr-{r10}", "veth", peer=f"rfp-{r10}", peer_netns=QROUTER, addresses=["169.254.106.115/31"], n=3
                ),
                iface(f"fg-{fg11}", "veth", peer=f"tap{fg11}", addresses=[f"{fg_ip}/16"], n=4),
            ],
        },
    ]
    report["interfaces"] += [
        iface(f"tap{qr11}", "veth", peer=f"qr-{qr11}", peer_netns=QROUTER),
        iface(f"tap{fg11}", "veth", peer=f"fg-{fg11}", peer_netns=FIP_NS),
        iface("eth1", "physical", master="ovs-system"),
    ]
    bridges = report["ovs"]["bridges"]
    bridges[0]["ports"] += [
        {"name": f"tap{qr11}", "tag": 1, "interfaces": [ovs_iface(f"tap{qr11}", external_ids={"iface-id": QR_PORT})]},
        {"name": f"tap{fg11}", "tag": 2, "interfaces": [ovs_iface(f"tap{fg11}", external_ids={"iface-id": FG_PORT})]},
        {
            "name": "int-br-ex",
            "tag": None,
            "interfaces": [ovs_iface("int-br-ex", kind="patch", options={"peer": "phy-br-ex"})],
        },
    ]
    bridges.append(
        {
            "name": "br-ex",
            "datapath_type": "netdev",
            "fail_mode": "secure",
            "ports": [
                {
                    "name": "phy-br-ex",
                    "tag": None,
                    "interfaces": [ovs_iface("phy-br-ex", kind="patch", options={"peer": "int-br-ex"})],
                },
                {"name": "eth1", "tag": None, "interfaces": [ovs_iface("eth1")]},
            ],
        }
    )
    report["ovs"]["flows"]["br-ex"] = []
    return cloud, reports


def dvr() -> Cloud:
    """router-0 distributed: vm-1's floating IP lives in compute0001's own qrouter and fip namespaces."""
    return copy.deepcopy(_dvr())


# --------------------------------------------------------------------------- lookups and the walk


def port(cloud: JsonDict, port_id: str) -> JsonDict:
    return next(p for p in cloud["ports"] if p["id"] == port_id)


def agent(cloud: JsonDict, host: str, agent_type: str) -> JsonDict:
    return next(a for a in cloud["agents"] if a["host"] == host and a["agent_type"] == agent_type)


def namespace(reports: dict[str, JsonDict], host: str, name: str) -> JsonDict:
    return next(n for n in reports[host]["namespaces"] if n["name"] == name)


def fip_address(cloud: JsonDict, port_id: str) -> str:
    return str(next(f["floating_ip_address"] for f in cloud["floatingips"] if f["port_id"] == port_id))


def walk(cloud_reports: Cloud, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    """``src``/``dst``: a VM name, "fip:vm-N" (its floating IP) or an IP address."""
    cloud, reports = cloud_reports
    graph = join(cloud, reports).to_dict()
    servers = {n["label"]: n["id"] for n in graph["nodes"] if n["kind"] == "server"}

    def endpoint(text: str) -> str:
        if text.startswith("fip:"):
            return fip_address(cloud, uid("vmport", int(text.rsplit("-", 1)[1])))
        return str(servers.get(text, text))

    return explain(graph, reports, endpoint(src), endpoint(dst), probe)


def diagnosed(build: Callable[[], Cloud], src: str, dst: str, *breaks: Break) -> JsonDict:
    """The walk on the healthy cloud must be ok and clean; then on the same cloud with ``breaks`` made."""
    healthy = walk(build(), src, dst)
    assert (healthy["verdict"], healthy["problems"]) == ("ok", []), healthy["problems"]
    assert all(h["status"] == "ok" for h in healthy["hops"]), [h for h in healthy["hops"] if h["status"] != "ok"]
    cloud, reports = build()
    for make in breaks:
        make(cloud, reports)
    return walk((cloud, reports), src, dst)


def the_problem(result: JsonDict, code: str, severity: str = "fail") -> JsonDict:
    """The walk's only problem: ``code``, nothing else blamed alongside it."""
    assert [(p["code"], p["severity"]) for p in result["problems"]] == [(code, severity)], result["problems"]
    return dict(result["problems"][0])


def failed_hops(result: JsonDict) -> list[JsonDict]:
    return [h for h in result["hops"] if h["status"] == "fail"]


def the_failed_hop(result: JsonDict) -> JsonDict:
    (hop,) = failed_hops(result)
    return hop


def instance(result: JsonDict, end: str) -> str:
    """The instance (server) node vm-1's walk starts at (``src``) or ends at (``dst``)."""
    node = str(result["hops"][0 if end == "src" else -1]["node"])
    assert node.startswith("server:"), node
    return node


# --------------------------------------------------------------------------- breaks


def vm1_port_down(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """Neutron marks the port DOWN (its L2 agent reported the device down)."""
    port(cloud, VM1_PORT)["status"] = "DOWN"


def vm1_qvo_untagged(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The OVS agent has not wired vm-1's qvo into br-int: no local VLAN tag."""
    qvo = next(p for p in reports[COMPUTE]["ovs"]["bridges"][0]["ports"] if p["name"] == f"qvo{VM1_PORT[:11]}")
    qvo["tag"] = None


def ovs_agent_dead(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    agent(cloud, COMPUTE, "Open vSwitch agent")["alive"] = False


def dhcp_agent_dead(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    agent(cloud, NETWORK_NODE, "DHCP agent")["alive"] = False


def qrouter_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The network node lost router-0's namespace (rebooted; its L3 agent has not rebuilt it)."""
    reports[NETWORK_NODE]["namespaces"].remove(namespace(reports, NETWORK_NODE, QROUTER))


def qg_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The L3 agent did not plug router-0's gateway: no qg- in its qrouter namespace."""
    ns = namespace(reports, NETWORK_NODE, QROUTER)
    ns["interfaces"] = [i for i in ns["interfaces"] if i["name"] != f"qg-{GW_PORT[:11]}"]


def fg_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """compute0001's fip namespace has no fg- device (the DVR L3 agent did not plug its gateway port)."""
    ns = namespace(reports, COMPUTE, FIP_NS)
    ns["interfaces"] = [i for i in ns["interfaces"] if i["name"] != f"fg-{FG_PORT[:11]}"]


def physnet_renamed(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The external network was created on a physical network no OVS agent maps."""
    next(n for n in cloud["networks"] if n["id"] == PUBLIC)["provider:physical_network"] = "physnet1"


def mapping_dropped(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """The network node's OVS agent runs without bridge_mappings (openvswitch_agent.ini lost external:br-ex)."""
    agent(cloud, NETWORK_NODE, "Open vSwitch agent")["configurations"]["bridge_mappings"] = {}


def tunnel_ports_gone(host: str) -> Break:
    """``host``'s br-tun has no VXLAN port to the other host (wrong local_ip, or its OVS agent never made it)."""

    def make(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        br_tun = reports[host]["ovs"]["bridges"][1]
        br_tun["ports"] = [p for p in br_tun["ports"] if not p["name"].startswith("vxlan-")]

    return make
