"""Drift between Neutron and the nodes, pure: each kind made on test_path_diagnosis's healthy synthetic cloud.

Each test breaks the agreement between the cloud snapshot and a host's report the way it breaks on a
real cloud (issue 23: Neutron 29 forgets a router's gateway but leaves its port and qg-; an L3 agent
that did not apply a floating IP change; a VM's tap gone; a device left after its port's deletion),
then checks the warning on the node (both sides named, and the fix), its kind in ``attrs.drift``, that
a logical node's warning names no host, and, where a packet crosses it, that the explainer's verdict
is what the data plane does. The same cloud with nothing broken has no drift at all.
"""

from __future__ import annotations

from typing import Any

from tests.test_path_diagnosis import (
    COMPUTE,
    GW_PORT,
    NETWORK_NODE,
    OUTSIDE,
    QROUTER,
    ROUTER,
    VM1_PORT,
    fip_address,
    legacy,
    namespace,
    port,
    the_problem,
    walk,
)
from topology.drift import DriftKind
from topology.join import JoinCache, join

JsonDict = dict[str, Any]
QG = f"iface:{NETWORK_NODE}:{QROUTER}:qg-{GW_PORT[:11]}"
QROUTER_NODE = f"netns:{NETWORK_NODE}:{QROUTER}"


def graph_of(cloud: JsonDict, reports: dict[str, JsonDict]) -> dict[str, JsonDict]:
    return {n["id"]: n for n in join(cloud, reports).to_dict()["nodes"]}


def drift_of(node: JsonDict) -> list[str]:
    return list(node["attrs"].get("drift") or [])


def warning(node: JsonDict, kind: str) -> str:
    """The node's one drift warning (it carries ``kind``)."""
    assert kind in drift_of(node), node["attrs"]
    (text,) = [w for w in node["attrs"].get("warnings") or [] if w.startswith("drift:")]
    return str(text)


def forget_gateway(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
    """Neutron 29's failed If-Match update: external_gateway_info is empty, the gateway port stays."""
    cloud["routers"][0]["external_gateway_info"] = {}


def test_the_healthy_cloud_has_no_drift() -> None:
    nodes = graph_of(*legacy())
    assert [n for n in nodes.values() if drift_of(n)] == []
    assert not any(w.startswith("drift:") for n in nodes.values() for w in n["attrs"].get("warnings") or [])


def test_an_orphan_gateway_port_is_flagged_on_the_router_its_port_and_its_qg() -> None:
    cloud, reports = legacy()
    forget_gateway(cloud, reports)
    nodes = graph_of(cloud, reports)
    on_router = warning(nodes[f"router:{ROUTER}"], DriftKind.GATEWAY_PORT_ORPHANED)
    assert "Neutron says router router-0 has no external gateway" in on_router
    assert f"gateway port {GW_PORT}" in on_router and f"qg-{GW_PORT[:11]} still holds 192.168.1.1/16" in on_router
    assert "default route goes out of it: packets still leave by it" in on_router
    assert f"Fix: remove the orphan gateway port {GW_PORT} (admin repair on the Routers page)" in on_router
    assert NETWORK_NODE not in on_router  # tenants see the router: where it runs is the admins'
    on_qg = warning(nodes[QG], DriftKind.GATEWAY_PORT_ORPHANED)
    assert f"on {NETWORK_NODE}" in on_qg and "Neutron says router router-0 has no external gateway" in on_qg
    assert DriftKind.GATEWAY_PORT_ORPHANED in drift_of(nodes[f"port:{GW_PORT}"])


def test_the_explainer_follows_the_packet_out_of_the_orphan_qg() -> None:
    cloud, reports = legacy()
    forget_gateway(cloud, reports)
    result = walk((cloud, reports), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok"  # as a ping says: the node still SNATs and routes it out
    problem = the_problem(result, "gateway_port_orphaned", "warn")
    assert problem["node"] == QG and f"remove the orphan gateway port {GW_PORT}" in problem["message"]
    (hop,) = [h for h in result["hops"] if h["node"] == QG]
    assert hop["status"] == "warn" and "drift:" in hop["evidence"]
    assert [h["status"] for h in result["hops"]].count("warn") == 1
    assert result["hops"][-1]["what"].startswith("reaches")


def test_the_explainer_follows_an_inbound_packet_into_the_orphan_qg() -> None:
    cloud, reports = legacy()
    forget_gateway(cloud, reports)
    result = walk((cloud, reports), OUTSIDE, "fip:vm-1")
    assert result["verdict"] == "ok"
    assert the_problem(result, "gateway_port_orphaned", "warn")["node"] == QG


def test_an_orphan_port_without_a_default_route_out_of_its_qg_still_breaks_the_path() -> None:
    cloud, reports = legacy()
    forget_gateway(cloud, reports)
    namespace(reports, NETWORK_NODE, QROUTER)["routes"] = []  # the L3 agent removed the route: dropped there
    result = walk((cloud, reports), "vm-1", OUTSIDE)
    assert result["verdict"] == "broken"
    assert the_problem(result, "router_no_gateway")["node"] == f"router:{ROUTER}"
    on_router = warning(graph_of(cloud, reports)[f"router:{ROUTER}"], DriftKind.GATEWAY_PORT_ORPHANED)
    assert "nothing routes out of it" in on_router


def test_an_orphan_port_whose_qg_is_gone_still_breaks_the_path() -> None:
    cloud, reports = legacy()
    forget_gateway(cloud, reports)
    ns = namespace(reports, NETWORK_NODE, QROUTER)
    ns["interfaces"] = [i for i in ns["interfaces"] if not i["name"].startswith("qg-")]
    result = walk((cloud, reports), "vm-1", OUTSIDE)
    assert result["verdict"] == "broken"
    assert the_problem(result, "router_no_gateway")
    on_router = warning(graph_of(cloud, reports)[f"router:{ROUTER}"], DriftKind.GATEWAY_PORT_ORPHANED)
    assert "no node holds its qg- device" in on_router


def vm1_fip(cloud: JsonDict) -> JsonDict:
    return next(f for f in cloud["floatingips"] if f["port_id"] == VM1_PORT)


def test_dnat_rules_left_for_a_floating_ip_neutron_disassociated() -> None:
    cloud, reports = legacy()
    fip = vm1_fip(cloud)
    fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
    nodes = graph_of(cloud, reports)
    text = warning(nodes[f"fip:{fip['id']}"], DriftKind.FIP_NAT_WITHOUT_ASSOCIATION)
    fixed = port(cloud, VM1_PORT)["fixed_ips"][0]["ip_address"]
    assert f"Neutron says floating IP {fip['floating_ip_address']} is not associated with any port" in text
    assert f"still DNATs it to {fixed}" in text and "Fix: " in text and NETWORK_NODE not in text
    on_ns = warning(nodes[QROUTER_NODE], DriftKind.FIP_NAT_WITHOUT_ASSOCIATION)
    assert f"DNAT {fip['floating_ip_address']} -> {fixed} still here on {NETWORK_NODE}" in on_ns


def test_dnat_rules_for_a_floating_ip_neutron_says_down() -> None:
    cloud, reports = legacy()
    fip = vm1_fip(cloud)
    fip["status"] = "DOWN"
    text = warning(graph_of(cloud, reports)[f"fip:{fip['id']}"], DriftKind.FIP_NAT_WITHOUT_ASSOCIATION)
    assert f"floating IP {fip['floating_ip_address']} is DOWN" in text


def test_an_active_floating_ip_without_its_dnat_rule() -> None:
    cloud, reports = legacy()
    address = fip_address(cloud, VM1_PORT)
    ns = namespace(reports, NETWORK_NODE, QROUTER)
    ns["iptables"]["nat"] = "".join(
        line + "\n" for line in ns["iptables"]["nat"].splitlines() if f"-d {address}/32" not in line
    )
    nodes = graph_of(cloud, reports)
    fip = vm1_fip(cloud)
    text = warning(nodes[f"fip:{fip['id']}"], DriftKind.FIP_NAT_MISSING)
    assert f"Neutron says floating IP {address} is ACTIVE" in text and "no DNAT rule" in text
    assert NETWORK_NODE not in text
    assert f"no DNAT rule for floating IP {address}" in warning(nodes[QROUTER_NODE], DriftKind.FIP_NAT_MISSING)
    # the explainer agrees with the data plane: the packet from outside stops in the qrouter
    result = walk((cloud, reports), OUTSIDE, "fip:vm-1")
    assert result["verdict"] == "broken"
    assert the_problem(result, "fip_not_associated")["node"] == QROUTER_NODE


def test_an_active_vm_port_without_its_tap() -> None:
    cloud, reports = legacy()
    report = reports[COMPUTE]
    report["interfaces"] = [i for i in report["interfaces"] if i["name"] != f"tap{VM1_PORT[:11]}"]
    text = warning(graph_of(cloud, reports)[f"port:{VM1_PORT}"], DriftKind.PORT_DEVICE_MISSING)
    assert f"Neutron says this port is ACTIVE on {COMPUTE}, but tap{VM1_PORT[:11]} is not on {COMPUTE}" in text
    assert "Fix: hard-reboot the instance" in text


def test_a_device_left_after_its_port_was_deleted() -> None:
    cloud, reports = legacy()
    cloud["ports"] = [p for p in cloud["ports"] if p["id"] != VM1_PORT]
    cloud["floatingips"] = [f for f in cloud["floatingips"] if f["port_id"] != VM1_PORT]
    nodes = graph_of(cloud, reports)
    text = warning(nodes[f"iface:{COMPUTE}:-:tap{VM1_PORT[:11]}"], DriftKind.DEVICE_WITHOUT_PORT)
    tap = f"tap{VM1_PORT[:11]}"
    assert f"{tap} on {COMPUTE} is named after port {VM1_PORT[:11]}..., which Neutron no longer has" in text
    assert f"ovs-vsctl --if-exists del-port tap{VM1_PORT[:11]}" in text


def test_a_join_from_cached_parts_flags_the_same_drift_and_leaves_the_parts_clean() -> None:
    cloud, reports = legacy()
    cache = JoinCache()
    healthy = join(cloud, reports, cache).to_dict()
    forget_gateway(cloud, reports)
    drifted = join(cloud, reports, cache).to_dict()
    assert drifted == join(cloud, reports).to_dict()
    assert DriftKind.GATEWAY_PORT_ORPHANED in drift_of({n["id"]: n for n in drifted["nodes"]}[QG])
    # the host part the drift was written on is shared with the cache: it was copied, not changed
    cloud["routers"][0]["external_gateway_info"] = legacy()[0]["routers"][0]["external_gateway_info"]
    assert join(cloud, reports, cache).to_dict() == healthy
