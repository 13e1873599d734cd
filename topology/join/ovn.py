"""OVN's logical objects joined to Neutron's by Neutron's own names (docs/design.md, "OVN join").

Pure functions of the cloud snapshot: its ``ovn: {nb, sb}`` (topology/ovn/collect.py) beside
Neutron's lists. Each Neutron node OVN realizes gets ``ovn``, a compact summary (never OVN's whole
row); what does not match is a warning on the Neutron node it concerns:

- Logical_Switch ``neutron-<network id>`` -> the network; Logical_Switch_Port ``<port id>`` -> the
  port, with the chassis its SB Port_Binding is bound on;
- Logical_Router ``neutron-<router id>`` -> the router, with its NAT and the chassis holding its
  gateway (the ``cr-lrp-<port id>`` binding: OVN's "where the qrouter is active");
  Logical_Router_Port ``lrp-<port id>`` -> the router's port;
- NAT ``dnat_and_snat`` with ``neutron:fip_id`` -> the floating IP;
- Port_Group ``pg_<security group id with _>`` and its ACLs -> the security group;
- SB Chassis -> the host by hostname (:func:`chassis_by_host`, for the host nodes of the cross join).

A snapshot without ``ovn`` (an ML2/OVS cloud) is not touched: no attribute, no warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from topology import graph as g
from topology.join.parts import CloudSnapshot, JsonDict
from topology.kinds import OVN_ATTR, OVN_SNAPSHOT_KEY, DeviceOwner, OvnName

REVISION_KEY = "neutron:revision_number"
GATEWAY_CMS_OPTION = "enable-chassis-as-gw"
LOCALNET = "localnet"
# Neutron ports the OVN driver makes no Logical_Switch_Port for (a floating IP is a NAT row).
NO_LSP_OWNERS = frozenset({DeviceOwner.FLOATINGIP})


def ovn_databases(cloud: CloudSnapshot) -> tuple[JsonDict | None, JsonDict | None]:
    """The NB and SB the snapshot holds (None: not configured, or not reachable this refresh)."""
    ovn: Any = cloud.get(OVN_SNAPSHOT_KEY)  # a dict, not one of Neutron's lists
    if not isinstance(ovn, Mapping):
        return None, None
    return ovn.get("nb"), ovn.get("sb")


def switch_name(network_id: str) -> str:
    return f"{OvnName.SWITCH_PREFIX}{network_id}"


def router_name(router_id: str) -> str:
    return f"{OvnName.SWITCH_PREFIX}{router_id}"


def router_port_name(port_id: str) -> str:
    return f"{OvnName.ROUTER_PORT_PREFIX}{port_id}"


def chassisredirect_name(port_id: str) -> str:
    return f"{OvnName.CHASSISREDIRECT_PREFIX}{port_id}"


def port_group_name(secgroup_id: str) -> str:
    return f"{OvnName.PORT_GROUP_PREFIX}{secgroup_id.replace('-', '_')}"


def strip(name: str, prefix: str) -> str | None:
    return name[len(prefix) :] if name.startswith(prefix) else None


def set_ovn(graph: g.Graph, node_id: str, summary: JsonDict) -> None:
    graph.writable(node_id)["attrs"][OVN_ATTR] = summary


def revision_behind(neutron: Mapping[str, Any], external_ids: Mapping[str, str]) -> tuple[int, int] | None:
    """(OVN's, Neutron's) revision numbers when OVN's is behind; None when level or unknown."""
    ours, theirs = neutron.get("revision_number"), external_ids.get(REVISION_KEY)
    if not isinstance(ours, int) or theirs is None or not theirs.isdigit():
        return None
    return (int(theirs), ours) if int(theirs) < ours else None


def add_ovn(graph: g.Graph, cloud: CloudSnapshot) -> None:
    """The NB's and SB's rows on the Neutron nodes they realize, and their mismatches as warnings."""
    nb, sb = ovn_databases(cloud)
    if nb is None:
        return
    bindings = {b["logical_port"]: b for b in (sb or {}).get("port_bindings", [])}
    join_switches(graph, cloud, nb, bindings)
    join_routers(graph, cloud, nb, bindings)
    join_nat(graph, nb)
    join_port_groups(graph, cloud, nb)


def join_switches(graph: g.Graph, cloud: CloudSnapshot, nb: JsonDict, bindings: Mapping[str, JsonDict]) -> None:
    networks = {n["id"]: n for n in cloud.get("networks", [])}
    ports = {p["id"]: p for p in cloud.get("ports", [])}
    lsps = {p["name"]: p for p in nb.get("logical_switch_ports", [])}
    switched: set[str] = set()  # networks OVN has a switch for
    for ls in nb.get("logical_switches", []):
        net_id = strip(ls["name"], OvnName.SWITCH_PREFIX)
        if net_id is None or net_id not in networks or g.network_id(net_id) not in graph.nodes:
            continue
        switched.add(net_id)
        node_id = g.network_id(net_id)
        set_ovn(graph, node_id, {"logical_switch": ls["name"], "ports": len(ls.get("ports", []))})
        behind = revision_behind(networks[net_id], ls.get("external_ids", {}))
        if behind:
            graph.warn(node_id, f"OVN NB's {ls['name']} is at revision {behind[0]}, Neutron's at {behind[1]}")
        for member in ls.get("ports", []):
            lsp = lsps.get(member["name"])
            if lsp is not None and lsp.get("type") != LOCALNET and member["name"] not in ports:
                what = f"OVN NB has Logical_Switch_Port {member['name']} on {ls['name']}"
                graph.warn(node_id, f"{what} for no Neutron port: neutron-db-sync")
    for port_id, port in ports.items():
        node_id = g.port_id(port_id)
        if node_id not in graph.nodes:
            continue
        lsp = lsps.get(port_id)
        if lsp is None:
            if port.get("network_id") in switched and port.get("device_owner") not in NO_LSP_OWNERS:
                graph.warn(node_id, f"OVN NB has no Logical_Switch_Port for port {port_id}: neutron-db-sync")
            continue
        set_ovn(graph, node_id, lsp_summary(lsp, bindings.get(port_id)))
        behind = revision_behind(port, lsp.get("external_ids", {}))
        if behind:
            graph.warn(node_id, f"OVN NB's port {port_id} is at revision {behind[0]}, Neutron's at {behind[1]}")


def lsp_summary(lsp: JsonDict, binding: JsonDict | None) -> JsonDict:
    return {
        "logical_switch_port": lsp["name"],
        "logical_switch": lsp.get("logical_switch"),
        "type": lsp.get("type") or "",
        "up": lsp.get("up"),
        "enabled": lsp.get("enabled"),
        "chassis": (binding or {}).get("chassis"),
        "binding_up": (binding or {}).get("up"),
    }


def join_routers(graph: g.Graph, cloud: CloudSnapshot, nb: JsonDict, bindings: Mapping[str, JsonDict]) -> None:
    lrs = {lr["name"]: lr for lr in nb.get("logical_routers", [])}
    lrps = {p["name"]: p for p in nb.get("logical_router_ports", [])}
    for router in cloud.get("routers", []):
        node_id = g.router_id(router["id"])
        if node_id not in graph.nodes:
            continue
        lr = lrs.get(router_name(router["id"]))
        if lr is None:
            graph.warn(node_id, f"OVN NB has no Logical_Router for router {router['id']}: neutron-db-sync")
            continue
        gateway: JsonDict = {}
        for lrp_name in lr.get("ports", []):
            port_id = strip(lrp_name, OvnName.ROUTER_PORT_PREFIX)
            lrp = lrps.get(lrp_name)
            if port_id is None or lrp is None:
                continue
            redirect = bindings.get(chassisredirect_name(port_id))
            summary = lrp_summary(lrp, redirect)
            if lrp.get("gateway_chassis") or redirect is not None:
                gateway = {"port": lrp_name, **{k: summary[k] for k in ("gateway_chassis", "active_chassis")}}
            if g.port_id(port_id) in graph.nodes:
                set_ovn(
                    graph, g.port_id(port_id), {**graph.nodes[g.port_id(port_id)]["attrs"].get(OVN_ATTR, {}), **summary}
                )
        set_ovn(
            graph,
            node_id,
            {"logical_router": lr["name"], "ports": len(lr.get("ports", [])), "gateway": gateway or None},
        )
        if router.get("external_gateway_info") and gateway and not gateway.get("active_chassis"):
            graph.warn(
                node_id,
                f"router {router['id']}'s gateway {gateway['port']} is bound to no chassis: no SNAT, no floating IP",
            )


def lrp_summary(lrp: JsonDict, redirect: JsonDict | None) -> JsonDict:
    return {
        "logical_router_port": lrp["name"],
        "networks": lrp.get("networks", []),
        "gateway_chassis": [
            {"chassis": c["chassis_name"], "priority": c.get("priority")} for c in lrp.get("gateway_chassis", [])
        ],
        # the chassisredirect binding's chassis: where the router's centralized SNAT really runs
        "active_chassis": (redirect or {}).get("chassis"),
    }


def nat_summary(nat: JsonDict) -> JsonDict:
    return {k: nat.get(k) for k in ("type", "external_ip", "logical_ip", "logical_port", "external_mac")}


def join_nat(graph: g.Graph, nb: JsonDict) -> None:
    by_router: dict[str, list[JsonDict]] = {}
    for nat in nb.get("nat", []):
        by_router.setdefault(nat.get("logical_router") or "", []).append(nat)
        fip = nat.get("external_ids", {}).get(OvnName.FIP_ID_KEY)
        if nat.get("type") == OvnName.NAT_DNAT_AND_SNAT and fip and g.fip_id(fip) in graph.nodes:
            set_ovn(graph, g.fip_id(fip), {"nat": nat_summary(nat), "logical_router": nat.get("logical_router")})
    for lr_name, rows in by_router.items():
        router = strip(lr_name, OvnName.SWITCH_PREFIX)
        if router is None or g.router_id(router) not in graph.nodes:
            continue
        node = graph.writable(g.router_id(router))
        summary = dict(node["attrs"].get(OVN_ATTR) or {})
        summary["nat"] = sorted((nat_summary(n) for n in rows), key=lambda n: (n["type"], n["external_ip"] or ""))
        node["attrs"][OVN_ATTR] = summary


def join_port_groups(graph: g.Graph, cloud: CloudSnapshot, nb: JsonDict) -> None:
    groups = {pg["name"]: pg for pg in nb.get("port_groups", [])}
    acl_direction = Counter[tuple[str, str]]()
    for acl in nb.get("acls", []):
        if acl.get("port_group"):
            acl_direction[(acl["port_group"], acl.get("direction", ""))] += 1
    for sg in cloud.get("security_groups", []):
        node_id = g.secgroup_id(sg["id"])
        if node_id not in graph.nodes:
            continue
        name = port_group_name(sg["id"])
        pg = groups.get(name)
        if pg is None:
            graph.warn(node_id, f"OVN NB has no Port_Group {name} for security group {sg['id']}: neutron-db-sync")
            continue
        acls = {d: acl_direction[(name, d)] for d in ("from-lport", "to-lport")}
        set_ovn(graph, node_id, {"port_group": name, "ports": len(pg.get("ports", [])), "acls": acls})


def chassis_by_host(cloud: CloudSnapshot) -> dict[str, JsonDict]:
    """SB Chassis by hostname: the summary the host node carries (chassis name, encaps, gateway, nb_cfg)."""
    _, sb = ovn_databases(cloud)
    if sb is None:
        return {}
    caught_up = {c.get("chassis") or c["name"]: c.get("nb_cfg") for c in sb.get("chassis_private", [])}
    wanted = nb_cfg_wanted(cloud)
    out: dict[str, JsonDict] = {}
    for chassis in sb.get("chassis", []):
        host = chassis.get("hostname") or chassis["name"]
        applied = caught_up.get(chassis["name"])
        out[host] = {
            "chassis": chassis["name"],
            "encaps": [{"type": e["type"], "ip": e["ip"]} for e in chassis.get("encaps", [])],
            "gateway": GATEWAY_CMS_OPTION in chassis.get("cms_options", []),
            "nb_cfg": applied,
            "nb_cfg_wanted": wanted,
            "behind": wanted is not None and applied is not None and applied < wanted,
        }
    return out


def nb_cfg_wanted(cloud: CloudSnapshot) -> int | None:
    """NB_Global's nb_cfg: the configuration sequence number every chassis is asked to reach (Neutron bumps it
    to check its OVN agents are alive; each ovn-controller writes the one it applied in Chassis_Private)."""
    nb, _ = ovn_databases(cloud)
    value = ((nb or {}).get("nb_global") or {}).get("nb_cfg")
    return value if isinstance(value, int) else None
