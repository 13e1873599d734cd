"""Metadata (169.254.169.254) walked the way Neutron serves it, on the diagnosis clouds (pure).

The synthetic clouds get what a lab with the metadata proxy has (lab/metadata.py): the qrouter's
REDIRECT of 169.254.169.254:80 to 9697, haproxy in the qrouter namespace (the node agent's
``namespaces[].processes``), a live metadata agent on the router's host. Each break takes one part
away and the walk must name it; the isolated network (no router) is served by qdhcp only when the
DHCP agent holds the address there (enable_isolated_metadata).
"""

from __future__ import annotations

from typing import Any

from tests.diagnosis_clouds import (
    COMPUTE,
    NET0,
    NETWORK_NODE,
    QR_PORT,
    QROUTER,
    ROUTER,
    Cloud,
    agent,
    dvr,
    legacy,
    namespace,
    port,
    walk,
)
from topology.path.metadata import METADATA_IP

JsonDict = dict[str, Any]
REDIRECT = (
    f"[3:180] -A neutron-l3-agent-PREROUTING -d {METADATA_IP}/32 -i qr-+ -p tcp -m tcp --dport 80 "
    "-j REDIRECT --to-ports 9697\n"
)
QDHCP = f"qdhcp-{NET0}"


def haproxy(resource: str, pid: int = 4242) -> JsonDict:
    return {"pid": pid, "name": "haproxy", "argv": ["haproxy", "-f", f"/state/ns-metadata-proxy/{resource}.conf"]}


def metadata_agent(host: str, alive: bool = True) -> JsonDict:
    return {
        "id": f"metadata-agent-{host}",
        "host": host,
        "agent_type": "Metadata agent",
        "binary": "neutron-metadata-agent",
        "alive": alive,
        "admin_state_up": True,
        "configurations": {},
    }


def served_by_router(cloud_reports: Cloud, host: str = NETWORK_NODE) -> Cloud:
    """The router's qrouter on ``host`` with the L3 agent's metadata proxy and a metadata agent there."""
    cloud, reports = cloud_reports
    ns = namespace(reports, host, QROUTER)
    ns["iptables"]["nat"] = ns["iptables"]["nat"].replace("COMMIT", REDIRECT + "COMMIT")
    ns["processes"] = [haproxy(ROUTER)]
    cloud["agents"].append(metadata_agent(host))
    for other in reports.values():
        for each in other["namespaces"]:
            each.setdefault("processes", [])
    return cloud, reports


def isolated(cloud_reports: Cloud) -> Cloud:
    """net-0's subnet detached from its router: its qr- port gone."""
    cloud, reports = cloud_reports
    cloud["ports"].remove(port(cloud, QR_PORT))
    cloud["routers"] = [r for r in cloud["routers"] if r["id"] != ROUTER]
    return cloud, reports


def qdhcp_serves(cloud_reports: Cloud) -> Cloud:
    """enable_isolated_metadata: 169.254.169.254 on the DHCP port's device and haproxy in qdhcp."""
    cloud, reports = cloud_reports
    ns = namespace(reports, NETWORK_NODE, QDHCP)
    ns["interfaces"][0]["addresses"] = ["10.0.0.2/24", f"{METADATA_IP}/32"]
    ns["processes"] = [haproxy(NET0, 4343)]
    return cloud, reports


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def failed(result: JsonDict) -> JsonDict:
    (hop,) = [h for h in result["hops"] if h["status"] == "fail"]
    return hop


# --------------------------------------------------------------------------- through the router


def test_metadata_goes_to_the_qrouter_redirect_haproxy_and_the_metadata_agent() -> None:
    result = walk(served_by_router(legacy()), "vm-1", METADATA_IP)
    assert (result["verdict"], result["scenario"], result["dst"]["kind"]) == ("ok", "to-metadata", "metadata")
    assert result["probe"] == "TCP/80" and result["problems"] == []
    nodes = [h["node"] for h in result["hops"]]
    assert not any("br-ex" in n or ":qg-" in n for n in nodes), "metadata never leaves by br-ex"
    redirect = next(h for h in result["hops"] if "REDIRECT" in h["what"])
    assert redirect["node"].endswith(QROUTER) and "--to-ports 9697" in redirect["evidence"]
    proxy = next(h for h in result["hops"] if "haproxy" in h["what"])
    assert "haproxy pid 4242" in proxy["evidence"]
    assert result["hops"][-1]["node"] == f"host:{NETWORK_NODE}" and "metadata agent" in result["hops"][-1]["what"]
    # vm-1 is on compute0001, the router on the network node: over the tunnel first
    assert any(n == f"bridge:{COMPUTE}:br-tun" for n in nodes)


def test_no_redirect_means_the_proxy_is_off() -> None:
    cloud, reports = served_by_router(legacy())
    ns = namespace(reports, NETWORK_NODE, QROUTER)
    ns["iptables"]["nat"] = ns["iptables"]["nat"].replace(REDIRECT, "")
    result = walk((cloud, reports), "vm-1", METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_no_redirect"])
    assert "enable_metadata_proxy" in failed(result)["evidence"]


def test_no_haproxy_in_the_qrouter_is_named() -> None:
    cloud, reports = served_by_router(legacy())
    namespace(reports, NETWORK_NODE, QROUTER)["processes"] = []
    result = walk((cloud, reports), "vm-1", METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_no_proxy"])
    assert f"no metadata proxy (haproxy) runs in {QROUTER} on {NETWORK_NODE}" in failed(result)["evidence"]


def test_an_old_agents_report_leaves_the_proxy_unknown_not_ok() -> None:
    cloud, reports = served_by_router(legacy())
    del namespace(reports, NETWORK_NODE, QROUTER)["processes"]
    result = walk((cloud, reports), "vm-1", METADATA_IP)
    assert (result["verdict"], result["problems"]) == ("unknown", [])


def test_no_metadata_agent_or_a_dead_one_is_broken() -> None:
    cloud, reports = served_by_router(legacy())
    cloud["agents"] = [a for a in cloud["agents"] if a["agent_type"] != "Metadata agent"]
    result = walk((cloud, reports), "vm-1", METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_agent_down"])
    assert f"no metadata agent on {NETWORK_NODE}" in failed(result)["evidence"]
    cloud, reports = served_by_router(legacy())
    agent(cloud, NETWORK_NODE, "Metadata agent")["alive"] = False
    result = walk((cloud, reports), "vm-1", METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_agent_down"])
    assert "is dead" in failed(result)["evidence"]


def test_dvr_metadata_is_served_by_the_qrouter_on_the_vms_own_host() -> None:
    """DVR: each compute host's qrouter has its own proxy; the network node's does not serve vm-1."""
    result = walk(served_by_router(dvr(), host=COMPUTE), "vm-1", METADATA_IP)
    assert (result["verdict"], result["scenario"]) == ("ok", "to-metadata"), result["problems"]
    redirect = next(h for h in result["hops"] if "REDIRECT" in h["what"])
    assert redirect["host"] == COMPUTE and result["hops"][-1]["node"] == f"host:{COMPUTE}"
    assert not any(h["node"] == f"bridge:{COMPUTE}:br-tun" for h in result["hops"]), "routed on its own host"
    # served on the network node only: vm-1's own qrouter has no proxy
    result = walk(served_by_router(dvr(), host=NETWORK_NODE), "vm-1", METADATA_IP)
    assert result["verdict"] == "broken" and "metadata_no_redirect" in codes(result)


# --------------------------------------------------------------------------- an isolated network


def test_an_isolated_network_without_isolated_metadata_is_not_served() -> None:
    result = walk(isolated(served_by_router(legacy())), "vm-1", METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_not_served"])
    assert "enable_isolated_metadata = True" in failed(result)["evidence"]


def test_an_isolated_network_is_served_in_qdhcp_with_isolated_metadata() -> None:
    result = walk(qdhcp_serves(isolated(served_by_router(legacy()))), "vm-1", METADATA_IP)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-metadata", [])
    held = next(h for h in result["hops"] if "holds 169.254.169.254" in h["what"])
    assert held["node"].endswith(QDHCP) and f"{METADATA_IP}/32" in held["evidence"]
    assert "haproxy pid 4343" in next(h for h in result["hops"] if "haproxy" in h["what"])["evidence"]
    assert not any(QROUTER in h["node"] for h in result["hops"])


def test_qdhcp_without_its_haproxy_is_broken() -> None:
    cloud, reports = qdhcp_serves(isolated(served_by_router(legacy())))
    namespace(reports, NETWORK_NODE, QDHCP)["processes"] = []
    result = walk((cloud, reports), "vm-1", METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_no_proxy"])
    assert "restart the DHCP agent" in failed(result)["evidence"]


def test_qdhcp_holding_the_address_on_a_routed_network_does_not_serve_it() -> None:
    """enable_isolated_metadata puts 169.254.169.254 in every qdhcp; a routed network is still served
    by its router (no haproxy in qdhcp, no host route handed out), as on the lab."""
    cloud, reports = qdhcp_serves(served_by_router(legacy()))
    namespace(reports, NETWORK_NODE, QDHCP)["processes"] = []
    result = walk((cloud, reports), "vm-1", METADATA_IP)
    assert (result["verdict"], result["problems"]) == ("ok", [])
    assert any("REDIRECT" in h["what"] for h in result["hops"]) and not any(QDHCP in h["node"] for h in result["hops"])


def test_force_metadata_serves_a_routed_network_from_qdhcp() -> None:
    """haproxy in qdhcp beside a router: force_metadata, the VM's host route goes to the DHCP port."""
    result = walk(qdhcp_serves(served_by_router(legacy())), "vm-1", METADATA_IP)
    assert (result["verdict"], result["problems"]) == ("ok", [])
    assert any(h["node"].endswith(QDHCP) and "haproxy" in h["what"] for h in result["hops"])
    assert not any("REDIRECT" in h["what"] for h in result["hops"])
