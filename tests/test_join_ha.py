"""HA routers' instances in the join (issue 15): Neutron's ha_state per agent beside the host's own word,
which qrouter- holds the router's qg-/qr- addresses (the VRRP master's VIPs). Pure: a synthetic cloud."""

from __future__ import annotations

import copy
from typing import Any

from bench.synthetic import synthetic_cloud, uid
from topology.join import join
from topology.join.ha import vips
from topology.scheduling import DHCP_SCHEDULE_KEY, L3_HA_STATES_KEY, L3_SCHEDULE_KEY

ROUTER = uid("router", 0)
HOSTS = ("compute0000", "compute0001")
QR_VIP, HA_ADDRESS = "10.0.0.1/24", "169.254.192.5/18"
JsonDict = dict[str, Any]


def ha_cloud(states: dict[str, str | None], vip_hosts: set[str]) -> tuple[JsonDict, JsonDict]:
    """router-0 as an HA router with an instance on both hosts; `vip_hosts` hold its qr- address."""
    cloud, reports = synthetic_cloud(hosts=2, ports=1, projects=1, network_nodes=1)
    cloud, reports = copy.deepcopy(cloud), copy.deepcopy(reports)
    instance = next(n for n in reports[HOSTS[0]]["namespaces"] if n["name"] == f"qrouter-{ROUTER}")
    reports[HOSTS[1]]["namespaces"].append(copy.deepcopy(instance))
    for host in HOSTS:
        ns = next(n for n in reports[host]["namespaces"] if n["name"] == f"qrouter-{ROUTER}")
        ha_port = {"name": f"ha-{uid('port', 'ha', host)[:11]}", "kind": "veth", "addresses": [HA_ADDRESS]}
        ns["interfaces"].append(ha_port)
        qr = next(i for i in ns["interfaces"] if i["name"].startswith("qr-"))
        qr["addresses"] = [QR_VIP, "fe80::f816:3eff:fe00:1/64"] if host in vip_hosts else ["fe80::f816:3eff:fe00:1/64"]
    cloud[L3_SCHEDULE_KEY] = [
        {"agent_id": f"l3-{host}", "host": host, "agent_mode": "legacy", "router_ids": [ROUTER]} for host in HOSTS
    ]
    cloud[DHCP_SCHEDULE_KEY] = []
    cloud[L3_HA_STATES_KEY] = [
        {"router_id": ROUTER, "host": host, "ha_state": state} for host, state in states.items() if state is not None
    ]
    return cloud, reports


def instances(cloud: JsonDict, reports: JsonDict) -> dict[str, JsonDict]:
    graph = join(cloud, reports).to_dict()
    found = {n["id"]: n["attrs"] for n in graph["nodes"]}
    return {host: found[f"netns:{host}:qrouter-{ROUTER}"] for host in HOSTS}


def test_the_active_instance_is_the_one_neutron_says_and_that_holds_the_vips() -> None:
    marked = instances(*ha_cloud({HOSTS[0]: "active", HOSTS[1]: "standby"}, {HOSTS[0]}))
    assert {h: (a["ha_state"], a["ha_role"], a["ha_vips"]) for h, a in marked.items()} == {
        HOSTS[0]: ("active", "active", [QR_VIP]),
        HOSTS[1]: ("standby", "standby", []),
    }
    assert not any(a.get("warnings") for a in marked.values())


def test_after_a_failover_the_marks_follow_neutron_and_the_vips() -> None:
    marked = instances(*ha_cloud({HOSTS[0]: "standby", HOSTS[1]: "active"}, {HOSTS[1]}))
    assert (marked[HOSTS[0]]["ha_role"], marked[HOSTS[1]]["ha_role"]) == ("standby", "active")


def test_neutron_and_the_hosts_disagreeing_is_said_on_the_instance() -> None:
    # Neutron still says compute0000 is active (its snapshot predates the failover), the VIPs moved.
    marked = instances(*ha_cloud({HOSTS[0]: "active", HOSTS[1]: "standby"}, {HOSTS[1]}))
    assert marked[HOSTS[1]]["ha_role"] == "active" and marked[HOSTS[1]]["ha_state"] == "standby"
    assert any("two active instances?" in w for w in marked[HOSTS[1]]["warnings"]), marked[HOSTS[1]]
    assert any("not the VRRP master here" in w for w in marked[HOSTS[0]]["warnings"]), marked[HOSTS[0]]


def test_without_neutrons_ha_state_the_hosts_word_still_marks_the_active_instance() -> None:
    marked = instances(*ha_cloud({HOSTS[0]: None, HOSTS[1]: None}, {HOSTS[0]}))
    assert marked[HOSTS[0]]["ha_state"] is None and marked[HOSTS[0]]["ha_role"] == "active"
    assert marked[HOSTS[1]]["ha_role"] == "standby"
    assert not any(a.get("warnings") for a in marked.values())


def test_a_legacy_router_is_not_marked() -> None:
    cloud, reports = synthetic_cloud(hosts=1, ports=1, projects=1, network_nodes=1)
    graph = join(cloud, reports).to_dict()
    qrouter = next(n for n in graph["nodes"] if n["id"] == f"netns:compute0000:qrouter-{ROUTER}")
    assert not {"ha_state", "ha_role", "ha_vips"} & qrouter["attrs"].keys()


def test_link_local_and_ha_addresses_are_not_vips() -> None:
    ns = {
        "interfaces": [
            {"name": "qg-1", "addresses": ["192.168.1.60/24", "fe80::1/64"]},
            {"name": "qr-2", "addresses": ["10.0.0.1/24", "not an address"]},
            {"name": "ha-3", "addresses": [HA_ADDRESS, "169.254.0.1/24"]},
        ]
    }
    assert vips(ns) == ["10.0.0.1/24", "192.168.1.60/24"]
