"""The explainer's return walk (DVR east-west), pure: on a synthetic two-host DVR cloud, no lab.

Seed 001: behind a distributed router the request is routed by the sender's host and the reply by
the destination host. A ping needs both, so a reply lost on the way back makes the path broken;
a tenant sees the way back redacted like the way there.
"""

from __future__ import annotations

import copy
from typing import Any

from bench.synthetic import uid
from tests.map_fixtures import DVR_HOSTS, DVR_ROUTER, dvr_cloud, pingable, project_of
from topology.join import join
from topology.path import explain, redact_path
from topology.scope import scope_graph


def explained(
    *,
    qrouter_on_second_host: bool = True,
    flows: dict[str, list[str]] | None = None,
    br_int: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    cloud, reports = dvr_cloud(qrouter_on_second_host=qrouter_on_second_host)
    for bridge, added in (("br-tun", flows), ("br-int", br_int)):
        for line_host, lines in (added or {}).items():
            reports[line_host].setdefault("ovs", {}).setdefault("flows", {}).setdefault(bridge, []).extend(lines)
    graph = pingable(join(cloud, reports).to_dict())
    servers = sorted((n for n in graph["nodes"] if n["kind"] == "server"), key=lambda n: n["label"])
    vm0, vm1 = (next(s for s in servers if s["label"] == name) for name in ("vm-0", "vm-1"))
    result = explain(graph, reports, vm0["id"], vm1["id"])
    result["_graph"] = graph
    return result


def test_the_reply_is_walked_through_the_destination_hosts_qrouter() -> None:
    result = explained()
    assert (result["scenario"], result["verdict"], result["return_verdict"]) == ("east-west-dvr", "ok", "ok")
    there = [h["node"] for h in result["hops"]]
    back = [h["node"] for h in result["return_hops"]]
    sender, receiver = (f"netns:{host}:qrouter-{DVR_ROUTER}" for host in DVR_HOSTS)
    assert sender in there and sender not in back
    assert receiver in back and receiver not in there


def test_the_receiving_br_int_is_one_hop_that_restores_the_gateway_mac() -> None:
    """The tunnel crossing ends on the receiving host's br-int (entered by patch-int); the DVR MAC's
    replacement is said there, not as a second hop of that bridge that no tracer could be asked about."""
    result = explained()
    there = [h["node"] for h in result["hops"]]
    receiving = f"bridge:{DVR_HOSTS[1]}:br-int"
    assert there.count(receiving) == 1, there
    hop = result["hops"][there.index(receiving)]
    assert there[there.index(receiving) - 1] == f"bridge:{DVR_HOSTS[1]}:br-tun", there
    assert "replaces the DVR MAC with the destination subnet's gateway MAC" in hop["what"], hop


TABLE1_DROP = "cookie=0x2, table=1, n_packets=13, n_bytes=1758, priority=1 actions=drop"


def test_the_receiving_br_int_without_its_dvr_to_src_mac_flow_drops_the_routed_packet() -> None:
    """As the lab shows after a dual-stack network's IPv6 router interface is removed: the receiving
    host's table 1 keeps only its drop, the walk (which once said ok while pings failed) breaks there."""
    result = explained(br_int={DVR_HOSTS[1]: [TABLE1_DROP]})
    assert result["verdict"] == "broken"
    assert [p["code"] for p in result["problems"]] == ["dvr_to_src_mac_missing"], result["problems"]
    failed = next(h for h in result["hops"] if h["status"] == "fail")
    assert failed["node"] == f"bridge:{DVR_HOSTS[1]}:br-int"
    assert "restart neutron-openvswitch-agent on " + DVR_HOSTS[1] in result["problems"][0]["message"]


def test_with_the_flow_the_hop_cites_it() -> None:
    cloud, _ = dvr_cloud()
    vm1_mac = next(p["mac_address"] for p in cloud["ports"] if p["id"] == uid("vmport", 1))
    flow = (
        f"cookie=0x2, table=1, n_packets=4, n_bytes=392, priority=20,dl_vlan=2,dl_dst={vm1_mac} "
        "actions=mod_dl_src:fa:16:3e:8a:ba:99,resubmit(,58)"
    )
    result = explained(br_int={DVR_HOSTS[1]: [flow, TABLE1_DROP]})
    assert result["verdict"] == "ok", result["problems"]
    hop = next(h for h in result["hops"] if h["node"] == f"bridge:{DVR_HOSTS[1]}:br-int")
    assert hop["evidence"] == f"DVR_TO_SRC_MAC: {flow}" and hop["flows"] == [flow]


def test_a_reply_lost_on_the_way_back_breaks_the_path_and_says_where() -> None:
    result = explained(qrouter_on_second_host=False)
    assert result["verdict"] == "broken" and result["return_verdict"] == "broken"
    assert all(h["status"] != "fail" for h in result["hops"]), "the way there works"
    back = [p for p in result["problems"] if p.get("direction") == "return"]
    assert back and back[0]["code"] == "namespace_missing" and DVR_HOSTS[1] in back[0]["message"]


def test_the_dvr_mac_the_sending_hosts_br_tun_writes_is_named_with_its_flow() -> None:
    cloud, _ = dvr_cloud()
    qr_b = next(
        p
        for p in cloud["ports"]
        if p["device_owner"] == "network:router_interface_distributed" and p["fixed_ips"][0]["ip_address"] == "10.1.0.1"
    )
    flow = (
        f"cookie=0x1, table=1, n_packets=7, n_bytes=686, priority=1,dl_vlan=2,dl_src={qr_b['mac_address']} "
        "actions=set_field:fa:16:3f:00:00:01->eth_src,goto_table:2"
    )
    result = explained(flows={DVR_HOSTS[0]: [flow]})
    tun = next(h for h in result["hops"] if h["node"] == f"bridge:{DVR_HOSTS[0]}:br-tun")
    assert tun["evidence"].startswith("DVR MAC fa:16:3f:00:00:01") and tun["flows"][0] == flow
    assert "DVR MAC fa:16:3f:00:00:01" in tun["what"]


def test_a_tenant_sees_the_way_back_redacted_like_the_way_there() -> None:
    cloud, _ = dvr_cloud()
    qr_a = next(
        p
        for p in cloud["ports"]
        if p["fixed_ips"][0]["ip_address"] == "10.0.0.1" and p["device_owner"] == "network:router_interface_distributed"
    )
    flow = f"table=1, priority=1,dl_vlan=1,dl_src={qr_a['mac_address']} actions=mod_dl_src:fa:16:3f:00:00:02"
    result = explained(flows={DVR_HOSTS[1]: [flow]})
    tun = f"bridge:{DVR_HOSTS[1]}:br-tun"
    back = next(h for h in result["return_hops"] if h["node"] == tun)
    assert back["flows"] == [flow] and "fa:16:3f:00:00:02" in back["evidence"], "the reply's DVR MAC, for admins"
    visible = {n["id"] for n in scope_graph(result["_graph"], "full", project_of(0))["nodes"]}
    assert tun not in visible
    redacted = redact_path({k: v for k, v in result.items() if k != "_graph"}, visible)
    hidden = next(h for h in redacted["return_hops"] if h["node"] == tun)
    assert hidden["flows"] == [] and hidden["evidence"] == "" and hidden["what"] == back["what"]
    assert len(redacted["return_hops"]) == len(result["return_hops"])


def test_a_subnet_detached_from_the_router_is_named_not_just_unrouted() -> None:
    cloud, reports = dvr_cloud()
    cloud["ports"] = [
        p
        for p in cloud["ports"]
        if p["fixed_ips"][0]["ip_address"] != "10.1.0.1" or p["device_owner"] != "network:router_interface_distributed"
    ]
    graph = pingable(join(cloud, reports).to_dict())
    vm0, vm1 = (
        next(n["id"] for n in graph["nodes"] if n["kind"] == "server" and n["label"] == name)
        for name in ("vm-0", "vm-1")
    )
    result = explain(graph, reports, vm0, vm1)
    assert result["verdict"] == "broken"
    (problem,) = result["problems"]
    assert problem["code"] == "subnet_no_router" and "router add subnet router-0" in problem["message"]


def test_a_security_group_problem_names_the_port_to_fix_and_a_tenant_keeps_it_only_if_visible() -> None:
    cloud, reports = dvr_cloud()
    graph = pingable(join(cloud, reports).to_dict())
    vm0, vm1 = (
        next(n["id"] for n in graph["nodes"] if n["kind"] == "server" and n["label"] == name)
        for name in ("vm-0", "vm-1")
    )
    result = explain(graph, reports, vm0, vm1, "tcp:8080")  # pingable() lets only ICMP in
    (problem,) = [p for p in result["problems"] if p["code"] == "sg_no_ingress"]
    port = problem["port"]
    assert port.startswith("port:") and any(e["source"] == vm1 and e["target"] == port for e in graph["edges"])
    visible = {n["id"] for n in scope_graph(graph, "full", project_of(0))["nodes"]}
    assert port in visible
    kept = redact_path({k: v for k, v in result.items() if k != "_graph"}, visible)
    assert next(p for p in kept["problems"] if p["code"] == "sg_no_ingress")["port"] == port
    hidden = redact_path({k: v for k, v in result.items() if k != "_graph"}, visible - {port})
    assert next(p for p in hidden["problems"] if p["code"] == "sg_no_ingress")["port"] is None


def test_a_reply_is_let_in_by_connection_tracking_not_judged_by_the_sources_ingress_rules() -> None:
    cloud, reports = dvr_cloud()
    graph = pingable(join(cloud, reports).to_dict())
    servers = {n["label"]: n["id"] for n in graph["nodes"] if n["kind"] == "server"}
    for node in graph["nodes"]:  # TCP/8080 in from 10.0.0.10 (vm-0) only: vm-0 itself admits no TCP/8080
        if node["kind"] == "secgroup":
            node["attrs"]["rules"].append(
                {"id": "web-in", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                 "port_range_min": 8080, "port_range_max": 8080, "remote_ip_prefix": "10.0.0.10/32"}
            )  # fmt: skip
    result = explain(graph, reports, servers["vm-0"], servers["vm-1"], "tcp:8080")
    assert (result["verdict"], result["return_verdict"]) == ("ok", "ok"), result["problems"]
    assert any("connection tracking" in h["evidence"] for h in result["return_hops"])
    stateless = copy.deepcopy(graph)
    for node in stateless["nodes"]:
        if node["kind"] == "secgroup":
            node["attrs"]["stateful"] = False  # a stateless group: its rules judge the reply too
    result = explain(stateless, reports, servers["vm-0"], servers["vm-1"], "tcp:8080")
    assert result["return_verdict"] == "broken"
    assert [p["code"] for p in result["problems"] if p.get("direction") == "return"] == ["sg_no_ingress"]
