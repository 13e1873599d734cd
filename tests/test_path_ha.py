"""HA routers in the walks (issues 15 and 20), pure: tests/diagnosis_clouds.py's legacy cloud with router-0
made an HA router, its qrouter- instance on both hosts (network node compute0000 and compute0001, where
vm-1 runs). The instance holding the VIPs (its qg-/qr- addresses) is the active one: walks go through
it and say so; none or two holding them, the walk stops there; Neutron's ha_state disagreeing with the
data plane is a warning. The HA network's ha- addresses are no destination."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.synthetic import iface, uid
from tests.diagnosis_clouds import COMPUTE, GW_PORT, NETWORK_NODE, OUTSIDE, QR_PORT, QROUTER, ROUTER, legacy, port, walk
from topology.join import join
from topology.path import PathError, Problem, explain
from topology.scheduling import DHCP_SCHEDULE_KEY, L3_HA_STATES_KEY, L3_SCHEDULE_KEY

JsonDict = dict[str, Any]
Cloud = tuple[JsonDict, dict[str, JsonDict]]
HOSTS = (NETWORK_NODE, COMPUTE)
QR_VIP = "10.0.0.1/24"
HA_NET, HA_SUBNET = uid("net", "ha"), uid("subnet", "ha")
HA_ADDRESS = {NETWORK_NODE: "169.254.192.5", COMPUTE: "169.254.192.6"}


def ha_port_id(host: str) -> str:
    return uid("port", "ha", host)


def ha_cloud(vip_hosts: set[str], states: dict[str, str | None] | None = None, bound: str | None = None) -> Cloud:
    """router-0 HA on both hosts; ``vip_hosts`` hold its VIPs; ``states``: Neutron's ha_state (default: as the
    VIPs say); ``bound``: where Neutron binds the router's ports (default: the active host)."""
    cloud, reports = legacy()
    states = states if states is not None else {h: ("active" if h in vip_hosts else "standby") for h in HOSTS}
    cloud["routers"][0]["ha"] = True
    qr = port(cloud, QR_PORT)
    qr["device_owner"] = "network:ha_router_replicated_interface"
    active = sorted(vip_hosts)
    for bound_port in (qr, port(cloud, GW_PORT)):  # Neutron binds an HA router's ports to its active host
        bound_port["binding:host_id"] = bound or (active[0] if active else NETWORK_NODE)
    instance = next(n for n in reports[NETWORK_NODE]["namespaces"] if n["name"] == QROUTER)
    gateway_addresses = next(d for d in instance["interfaces"] if d["name"].startswith("qg-"))["addresses"]
    if all(i["name"] != QROUTER for i in reports[COMPUTE]["namespaces"]):
        reports[COMPUTE]["namespaces"].append(copy.deepcopy(instance))
        copy_router_devices(reports, instance)
    for n, host in enumerate(HOSTS):
        ns = next(i for i in reports[host]["namespaces"] if i["name"] == QROUTER)
        held = host in vip_hosts
        for device in ns["interfaces"]:
            if device["name"].startswith("qr-"):
                device["addresses"] = [QR_VIP] if held else []
            elif device["name"].startswith("qg-"):
                device["addresses"] = list(gateway_addresses) if held else []
        ha_name = f"ha-{ha_port_id(host)[:11]}"
        ns["interfaces"] = [i for i in ns["interfaces"] if not i["name"].startswith("ha-")]
        ns["interfaces"].append(iface(ha_name, "veth", addresses=[f"{HA_ADDRESS[host]}/18"], n=90 + n))
        cloud["ports"] = [p for p in cloud["ports"] if p["id"] != ha_port_id(host)]
        cloud["ports"].append(ha_port(host))
    cloud.setdefault("agents", []).append(l3_agent(cloud))
    cloud["agents"] = list({(a["host"], a["agent_type"]): a for a in cloud["agents"]}.values())
    cloud[L3_SCHEDULE_KEY] = [
        {"agent_id": f"l3-{h}", "host": h, "agent_mode": "legacy", "router_ids": [ROUTER]} for h in HOSTS
    ]
    cloud[DHCP_SCHEDULE_KEY] = [
        {"agent_id": "dhcp", "host": NETWORK_NODE, "network_ids": [n["id"] for n in cloud["networks"]]}
    ]
    cloud[L3_HA_STATES_KEY] = [
        {"router_id": ROUTER, "host": h, "ha_state": s} for h, s in states.items() if s is not None
    ]
    return cloud, reports


def copy_router_devices(reports: dict[str, JsonDict], instance: JsonDict) -> None:
    """compute0001's instance gets the network node's qr-/qg- peers on its br-int (their external ids name
    the same ports) and a br-ex like it."""
    source, target = reports[NETWORK_NODE], reports[COMPUTE]
    peers = {i["peer"] for i in instance["interfaces"] if i.get("peer")}
    target["interfaces"] += [copy.deepcopy(i) for i in source["interfaces"] if i["name"] in peers]
    target["interfaces"] += [copy.deepcopy(i) for i in source["interfaces"] if i["name"] == "eth1"]
    by_name = {b["name"]: b for b in target["ovs"]["bridges"]}
    for bridge in source["ovs"]["bridges"]:
        if bridge["name"] == "br-int":
            by_name["br-int"]["ports"] += [copy.deepcopy(p) for p in bridge["ports"] if p["name"] in peers]
            if not any(p["name"] == "int-br-ex" for p in by_name["br-int"]["ports"]):
                by_name["br-int"]["ports"] += [copy.deepcopy(p) for p in bridge["ports"] if p["name"] == "int-br-ex"]
        elif bridge["name"] == "br-ex" and "br-ex" not in by_name:
            target["ovs"]["bridges"].append(copy.deepcopy(bridge))


def l3_agent(cloud: JsonDict) -> JsonDict:
    template = next(a for a in cloud["agents"] if a["host"] == NETWORK_NODE and a["agent_type"] == "L3 agent")
    agent = copy.deepcopy(template)
    agent["id"], agent["host"] = uid("agent", COMPUTE, "neutron-l3-agent"), COMPUTE
    return agent


def ha_port(host: str) -> JsonDict:
    return {
        "id": ha_port_id(host),
        "network_id": HA_NET,
        "device_owner": "network:router_ha_interface",
        "device_id": ROUTER,
        "project_id": "",
        "status": "ACTIVE",
        "binding:host_id": host,
        "mac_address": "fa:16:3e:ha:00:0" + str(HOSTS.index(host)),
        "fixed_ips": [{"subnet_id": HA_SUBNET, "ip_address": HA_ADDRESS[host]}],
    }


def nodes_of(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"]]


def codes(result: JsonDict) -> list[tuple[str, str]]:
    return [(p["code"], p["severity"]) for p in result["problems"]]


def instance_hop(result: JsonDict, host: str) -> JsonDict:
    return next(h for h in result["hops"] if h["node"] == f"netns:{host}:{QROUTER}")


def tunnel_to(result: JsonDict, src: str, dst: str) -> bool:
    hops = nodes_of(result)
    return f"bridge:{src}:br-tun" in hops and f"bridge:{dst}:br-tun" in hops


# --------------------------------------------------------------------------- the active instance


def test_vm1_on_compute0001_crosses_the_tunnel_to_the_active_instance_on_the_network_node() -> None:
    result = walk(ha_cloud({NETWORK_NODE}), "vm-1", OUTSIDE)
    assert (result["scenario"], result["verdict"], result["problems"]) == ("north-south-fip", "ok", [])
    assert tunnel_to(result, COMPUTE, NETWORK_NODE)
    assert not any(h["node"] == f"netns:{COMPUTE}:{QROUTER}" for h in result["hops"])
    hop = instance_hop(result, NETWORK_NODE)
    assert f"the active instance on {NETWORK_NODE} (standby on {COMPUTE})" in hop["what"], hop
    assert f"bridge:{NETWORK_NODE}:br-ex" in nodes_of(result)


def test_after_a_failover_the_walk_stays_on_vm1s_own_host_where_the_vips_are() -> None:
    result = walk(ha_cloud({COMPUTE}), "vm-1", OUTSIDE)
    assert (result["verdict"], result["problems"]) == ("ok", [])
    assert not tunnel_to(result, COMPUTE, NETWORK_NODE), nodes_of(result)
    assert f"the active instance on {COMPUTE} (standby on {NETWORK_NODE})" in instance_hop(result, COMPUTE)["what"]
    assert f"bridge:{COMPUTE}:br-ex" in nodes_of(result)
    assert not any(h["node"] == f"netns:{NETWORK_NODE}:{QROUTER}" for h in result["hops"])


@pytest.mark.parametrize("active", HOSTS)
def test_the_floating_ip_comes_in_by_the_active_instances_br_ex_and_qg(active: str) -> None:
    result = walk(ha_cloud({active}), OUTSIDE, "fip:vm-1")
    assert (result["scenario"], result["verdict"], result["problems"]) == ("inbound-fip", "ok", [])
    hops = nodes_of(result)
    assert f"bridge:{active}:br-ex" in hops and f"netns:{active}:{QROUTER}" in hops
    assert "the active instance on " + active in instance_hop(result, active)["what"]
    standby = next(h for h in HOSTS if h != active)
    assert f"netns:{standby}:{QROUTER}" not in hops and f"bridge:{standby}:br-ex" not in hops
    assert tunnel_to(result, NETWORK_NODE, COMPUTE) == (active == NETWORK_NODE)


def test_snat_out_of_a_vm_without_a_floating_ip_goes_through_the_active_instance() -> None:
    cloud, reports = ha_cloud({NETWORK_NODE})
    cloud["floatingips"] = [f for f in cloud["floatingips"] if f["port_id"] != uid("vmport", 1)]
    result = walk((cloud, reports), "vm-1", OUTSIDE)
    assert (result["scenario"], result["verdict"]) == ("north-south-snat", "ok"), result["problems"]
    assert "SNAT --to-source" in instance_hop(result, NETWORK_NODE)["evidence"]


# --------------------------------------------------------------------------- diagnoses


def test_no_instance_holding_the_vips_is_ha_no_active_and_the_walk_stops() -> None:
    result = walk(ha_cloud(set(), {NETWORK_NODE: "standby", COMPUTE: "standby"}), "vm-1", OUTSIDE)
    assert result["verdict"] == "broken"
    assert codes(result) == [(Problem.HA_NO_ACTIVE, "fail")], result["problems"]
    failed = [h for h in result["hops"] if h["status"] == "fail"]
    assert [h["node"] for h in failed] == [f"router:{ROUTER}"]
    assert "VRRP master on none of" in failed[0]["evidence"]
    assert not any(QROUTER in h["node"] for h in result["hops"])


def test_two_instances_holding_the_vips_is_ha_split_brain_and_the_path_unknown() -> None:
    # the lab's split brain (VRRP dropped): the pings went through, but a VM on controller left by compute2's
    # instance: which one takes a packet is where the bridges learned the shared MACs, not in the reports
    result = walk(ha_cloud(set(HOSTS), {NETWORK_NODE: "active", COMPUTE: "active"}), "vm-1", OUTSIDE)
    assert result["verdict"] == "unknown"
    assert codes(result) == [(Problem.HA_SPLIT_BRAIN, "unknown")], result["problems"]
    message = result["problems"][0]["message"]
    assert NETWORK_NODE in message and COMPUTE in message and "IP protocol 112" in message
    assert [h["node"] for h in result["hops"] if h["status"] != "ok"] == [f"router:{ROUTER}"]
    assert not any(QROUTER in h["node"] for h in result["hops"])


def test_neutron_lagging_the_vips_is_a_warning_and_the_walk_follows_the_vips() -> None:
    # the VIPs moved to compute0001, Neutron still says the network node is active
    result = walk(ha_cloud({COMPUTE}, {NETWORK_NODE: "active", COMPUTE: "standby"}), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok"
    assert codes(result) == [(Problem.HA_STATE_MISMATCH, "warn")], result["problems"]
    assert f"netns:{COMPUTE}:{QROUTER}" in nodes_of(result)
    assert "the walk follows the VIPs" in result["problems"][0]["message"]


def test_right_after_a_failover_neutrons_binding_of_the_gateway_port_lags_and_the_walk_still_leaves_by_qg() -> None:
    # seen on the lab: the VIPs on the new active 0.9 s after the failover, Neutron's ha_state and the gateway
    # port's binding:host_id still the old active's; the new active's qg- is the router's all the same
    stale: dict[str, str | None] = {NETWORK_NODE: "active", COMPUTE: "standby"}
    result = walk(ha_cloud({COMPUTE}, stale, bound=NETWORK_NODE), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok", result["problems"]
    assert codes(result) == [(Problem.HA_STATE_MISMATCH, "warn")], result["problems"]
    hops = nodes_of(result)
    assert f"bridge:{COMPUTE}:br-ex" in hops and f"bridge:{NETWORK_NODE}:br-ex" not in hops, hops


def test_without_neutrons_ha_state_the_vips_still_choose_the_instance() -> None:
    result = walk(ha_cloud({COMPUTE}, {NETWORK_NODE: None, COMPUTE: None}), "vm-1", OUTSIDE)
    assert (result["verdict"], result["problems"]) == ("ok", [])
    assert f"netns:{COMPUTE}:{QROUTER}" in nodes_of(result)


# --------------------------------------------------------------------------- the router's own addresses


@pytest.mark.parametrize("active", HOSTS)
def test_the_qr_vip_answers_from_the_active_instance(active: str) -> None:
    result = walk(ha_cloud({active}), "vm-1", QR_VIP.split("/")[0])
    assert (result["scenario"], result["verdict"]) == ("to-router", "ok"), result["problems"]
    last = result["hops"][-1]
    assert last["node"] == f"netns:{active}:{QROUTER}" and "answers" in last["what"], last
    assert f"the active instance on {active}" in last["what"]
    assert f"ip addr: {QR_VIP}" in last["evidence"]


def graph_of(cloud: Cloud) -> dict[str, list[Any]]:
    return join(*cloud).to_dict()


@pytest.mark.parametrize("host", HOSTS)
def test_an_ha_port_address_is_refused_as_the_vrrp_networks(host: str) -> None:
    cloud = ha_cloud({NETWORK_NODE})
    graph = graph_of(cloud)
    vm1 = next(n["id"] for n in graph["nodes"] if n["kind"] == "server" and n["label"] == "vm-1")
    for dst in (HA_ADDRESS[host], f"port:{ha_port_id(host)}"):
        with pytest.raises(PathError, match=r"HA network \(169\.254\.192\.0/18\).*VRRP"):
            explain(graph, cloud[1], vm1, dst)
    with pytest.raises(PathError, match="VRRP"):
        explain(graph, cloud[1], f"port:{ha_port_id(host)}", vm1)


def test_the_api_refuses_the_ha_range_for_every_caller_before_any_walk() -> None:
    # check_arguments needs no graph: a tenant learns nothing of the cloud from it, only what the range is
    from topology.path import check_arguments

    for address in ("169.254.192.1", "169.254.255.254"):
        with pytest.raises(PathError, match="keepalived's VRRP"):
            check_arguments("10.0.0.5", address, "icmp")
    with pytest.raises(PathError, match="link-local"):
        check_arguments("10.0.0.5", "169.254.0.1", "icmp")  # the ha- device's VRRP VIP: link-local, as before
