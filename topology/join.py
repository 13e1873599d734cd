"""The join: the cloud's logical state and the nodes' physical state in one graph.

A pure function: a cloud snapshot (Neutron API dicts, field names as Neutron
sends them) and the latest agent report of each host go in, a Graph comes out.
Keys, never MAC alone (../shared/DESIGN.md "Correlation"):

- OVS Interface ``external_ids:iface-id`` -> port id;
- device names: prefix (tap, qbr, qvb, qvo, qr-, qg-, sg-, fg-, ha-) + port id, cut to
  14 characters (id[:11]);
- namespaces ``qrouter-``/``snat-`` + router id, ``fip-`` + external network id,
  ``qdhcp-`` + network id; ``rfp-``/``fpr-`` + router id[:10];
- ``vxlan-*``/``gre-*`` ``options:remote_ip`` -> the host with that tunnel IP;
- port ``binding:host_id`` -> host.

Whatever does not join is kept, with a warning on its node.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from topology import graph as g
from topology.kinds import (
    DEV_NAME_LEN,
    DEVICE_PREFIXES,
    DEVICE_ROLE,
    ID_PREFIX_LEN,
    DeviceOwner,
    EdgeKind,
    NamespacePrefix,
    NodeKind,
)

JsonDict = dict[str, Any]
CloudSnapshot = Mapping[str, list[JsonDict]]
TUNNEL_TYPES = frozenset({"vxlan", "gre", "geneve"})
# A kernel OVS datapath enslaves its ports to this device; it is not a bridge of ours.
OVS_DATAPATH_MASTER = "ovs-system"


@dataclass
class HostIndex:
    """Where things are on one host, to look up joins in O(1)."""

    host: str
    # device name -> iface node ids carrying it (one per namespace it appears in)
    by_name: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # id fragment after a device prefix (port id[:11] or, for rfp-/fpr-, router id[:10]) -> iface node ids
    by_id11: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # OVS external_ids:iface-id -> iface node ids
    by_iface_id: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    namespaces: dict[str, str] = field(default_factory=dict)  # namespace name -> node id
    linux_bridges: dict[str, str] = field(default_factory=dict)  # bridge name -> node id
    tunnel_ifaces: list[tuple[str, str]] = field(default_factory=list)  # (iface node id, remote_ip)
    veth_peers: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # namespace -> peer names
    # root-namespace interfaces already drawn inside a bridge (the others hang off the host)
    on_bridge: set[str] = field(default_factory=set)


_PREFIX3 = frozenset(p for p in DEVICE_PREFIXES if len(p) == 3)
_PREFIX4 = frozenset(p for p in DEVICE_PREFIXES if len(p) == 4)


def device_prefix(name: str) -> str | None:
    """The Neutron device prefix of an interface name (tap, qvo, qr-, rfp-, ...), if any."""
    if len(name) > 4 and name[:4] in _PREFIX4:
        return name[:4]
    if len(name) > 3 and name[:3] in _PREFIX3:
        return name[:3]
    return None


def namespace_role(name: str) -> tuple[str, str | None]:
    """The role of a namespace and the id it carries (router, network or VM name)."""
    for prefix, role in (
        (NamespacePrefix.QROUTER, "qrouter"),
        (NamespacePrefix.SNAT, "snat"),
        (NamespacePrefix.FIP, "fip"),
        (NamespacePrefix.QDHCP, "qdhcp"),
        (NamespacePrefix.VM, "vm"),
    ):
        if name.startswith(prefix):
            return role, name[len(prefix) :]
    return "other", None


def first_ipv4(port: JsonDict) -> str | None:
    for fixed in port.get("fixed_ips") or []:
        if ":" not in fixed.get("ip_address", ":"):
            return str(fixed["ip_address"])
    return None


# --------------------------------------------------------------------------- logical


def add_logical(graph: g.Graph, cloud: CloudSnapshot) -> None:
    networks = {n["id"]: n for n in cloud.get("networks", [])}
    for net in networks.values():
        graph.add_node(
            g.network_id(net["id"]),
            NodeKind.NETWORK,
            net.get("name") or net["id"][:8],
            project_id=net.get("project_id") or net.get("tenant_id"),
            status=net.get("status"),
            name=net.get("name", ""),
            external=bool(net.get("router:external")),
            shared=bool(net.get("shared")),
            admin_state_up=net.get("admin_state_up", True),
            mtu=net.get("mtu"),
            network_type=net.get("provider:network_type"),
            physical_network=net.get("provider:physical_network"),
            segmentation_id=net.get("provider:segmentation_id"),
        )
    for subnet in cloud.get("subnets", []):
        node_id = g.subnet_id(subnet["id"])
        graph.add_node(
            node_id,
            NodeKind.SUBNET,
            subnet.get("name") or subnet.get("cidr", subnet["id"][:8]),
            project_id=subnet.get("project_id") or subnet.get("tenant_id"),
            name=subnet.get("name", ""),
            cidr=subnet.get("cidr"),
            ip_version=subnet.get("ip_version"),
            gateway_ip=subnet.get("gateway_ip"),
            enable_dhcp=bool(subnet.get("enable_dhcp")),
            allocation_pools=subnet.get("allocation_pools") or [],
            network_id=subnet.get("network_id"),
        )
        if subnet.get("network_id") in networks:
            graph.add_edge(g.network_id(subnet["network_id"]), node_id, EdgeKind.MEMBER)
    add_routers(graph, cloud, networks)
    add_ports(graph, cloud)
    add_floatingips(graph, cloud)
    add_secgroups(graph, cloud)


def add_routers(graph: g.Graph, cloud: CloudSnapshot, networks: Mapping[str, JsonDict]) -> None:
    for router in cloud.get("routers", []):
        gateway = router.get("external_gateway_info") or {}
        node_id = g.router_id(router["id"])
        graph.add_node(
            node_id,
            NodeKind.ROUTER,
            router.get("name") or router["id"][:8],
            project_id=router.get("project_id") or router.get("tenant_id"),
            status=router.get("status"),
            name=router.get("name", ""),
            admin_state_up=router.get("admin_state_up", True),
            distributed=bool(router.get("distributed")),
            ha=bool(router.get("ha")),
            gateway_network_id=gateway.get("network_id"),
            enable_snat=gateway.get("enable_snat"),
            external_fixed_ips=gateway.get("external_fixed_ips") or [],
            routes=router.get("routes") or [],
        )
        if gateway.get("network_id") in networks:
            graph.add_edge(node_id, g.network_id(gateway["network_id"]), EdgeKind.GATEWAY)


def port_label(port: JsonDict) -> str:
    return first_ipv4(port) or port.get("name") or port.get("mac_address") or port["id"][:8]


def add_ports(graph: g.Graph, cloud: CloudSnapshot) -> None:
    servers = {s["id"] for s in cloud.get("servers", [])}
    for server in cloud.get("servers", []):
        graph.add_node(
            g.server_id(server["id"]),
            NodeKind.SERVER,
            server.get("name") or server["id"][:8],
            project_id=server.get("tenant_id") or server.get("project_id"),
            status=server.get("status"),
            name=server.get("name", ""),
            host=server.get("OS-EXT-SRV-ATTR:host"),
        )
    for port in cloud.get("ports", []):
        owner = port.get("device_owner") or ""
        if owner == DeviceOwner.FLOATINGIP:
            continue  # the floating IP's own node stands for it
        node_id = g.port_id(port["id"])
        graph.add_node(
            node_id,
            NodeKind.PORT,
            port_label(port),
            host=port.get("binding:host_id") or None,
            project_id=port.get("project_id") or port.get("tenant_id") or None,
            status=port.get("status"),
            name=port.get("name", ""),
            device_owner=owner,
            device_id=port.get("device_id") or "",
            mac_address=port.get("mac_address"),
            fixed_ips=port.get("fixed_ips") or [],
            admin_state_up=port.get("admin_state_up", True),
            network_id=port.get("network_id"),
            binding_host_id=port.get("binding:host_id") or "",
            vif_type=port.get("binding:vif_type"),
            vif_details=port.get("binding:vif_details") or {},
            port_security_enabled=port.get("port_security_enabled", True),
            security_groups=port.get("security_groups") or [],
        )
        graph.add_edge(node_id, g.network_id(port["network_id"]), EdgeKind.ON_NETWORK)
        for fixed in port.get("fixed_ips") or []:
            graph.add_edge(node_id, g.subnet_id(fixed["subnet_id"]), EdgeKind.IN_SUBNET)
        for group in port.get("security_groups") or []:
            graph.add_edge(node_id, g.secgroup_id(group), EdgeKind.SECURED_BY)
        add_port_owner_edges(graph, port, servers)


def add_port_owner_edges(graph: g.Graph, port: JsonDict, servers: set[str]) -> None:
    owner = port.get("device_owner") or ""
    device = port.get("device_id") or ""
    node_id = g.port_id(port["id"])
    if owner in DeviceOwner.ROUTER_INTERFACES:
        graph.add_edge(g.router_id(device), node_id, EdgeKind.ROUTER_INTERFACE)
    elif owner in (DeviceOwner.ROUTER_GATEWAY, DeviceOwner.ROUTER_SNAT, DeviceOwner.ROUTER_HA_INTERFACE):
        graph.add_edge(g.router_id(device), node_id, EdgeKind.MEMBER)
    elif owner.startswith(DeviceOwner.COMPUTE_PREFIX) and device:
        server = g.server_id(device)
        if device not in servers and server not in graph.nodes:
            # No compute API: the instance is known only by its ports' device_id.
            graph.add_node(
                server,
                NodeKind.SERVER,
                f"instance {device[:8]}",
                project_id=port.get("project_id") or port.get("tenant_id"),
                name="",
                derived_from_ports=True,
            )
        graph.add_edge(server, node_id, EdgeKind.RUNS)


def add_floatingips(graph: g.Graph, cloud: CloudSnapshot) -> None:
    for fip in cloud.get("floatingips", []):
        node_id = g.fip_id(fip["id"])
        graph.add_node(
            node_id,
            NodeKind.FLOATINGIP,
            fip.get("floating_ip_address") or fip["id"][:8],
            project_id=fip.get("project_id") or fip.get("tenant_id"),
            status=fip.get("status"),
            floating_ip_address=fip.get("floating_ip_address"),
            fixed_ip_address=fip.get("fixed_ip_address"),
            floating_network_id=fip.get("floating_network_id"),
            port_id=fip.get("port_id"),
            router_id=fip.get("router_id"),
        )
        graph.add_edge(node_id, g.network_id(fip["floating_network_id"]), EdgeKind.ON_NETWORK)
        if fip.get("port_id"):
            graph.add_edge(node_id, g.port_id(fip["port_id"]), EdgeKind.NAT)


def add_secgroups(graph: g.Graph, cloud: CloudSnapshot) -> None:
    rules: dict[str, list[JsonDict]] = defaultdict(list)
    for rule in cloud.get("security_group_rules", []):
        rules[rule["security_group_id"]].append(
            {
                key: rule.get(key)
                for key in (
                    "id",
                    "direction",
                    "ethertype",
                    "protocol",
                    "port_range_min",
                    "port_range_max",
                    "remote_ip_prefix",
                    "remote_group_id",
                )
            }
        )
    for group in cloud.get("security_groups", []):
        graph.add_node(
            g.secgroup_id(group["id"]),
            NodeKind.SECGROUP,
            group.get("name") or group["id"][:8],
            project_id=group.get("project_id") or group.get("tenant_id"),
            name=group.get("name", ""),
            rules=rules.get(group["id"], []),
        )


# --------------------------------------------------------------------------- physical


def agents_by_host(cloud: CloudSnapshot) -> dict[str, list[JsonDict]]:
    hosts: dict[str, list[JsonDict]] = defaultdict(list)
    for agent in cloud.get("agents", []):
        config = agent.get("configurations") or {}
        hosts[agent["host"]].append(
            {
                "id": agent.get("id"),
                "agent_type": agent.get("agent_type"),
                "binary": agent.get("binary"),
                "alive": bool(agent.get("alive")),
                "admin_state_up": agent.get("admin_state_up", True),
                "agent_mode": config.get("agent_mode"),
                "bridge_mappings": config.get("bridge_mappings") or {},
                "tunneling_ip": config.get("tunneling_ip"),
                "tunnel_types": config.get("tunnel_types") or [],
                "firewall_driver": config.get("firewall_driver"),
                "l2_population": config.get("l2_population"),
                "enable_distributed_routing": config.get("enable_distributed_routing"),
            }
        )
    return hosts


def host_status(agents: list[JsonDict], reported: bool) -> str:
    if agents and not all(a["alive"] for a in agents):
        return "DOWN"
    return "ACTIVE" if reported else "UNKNOWN"


def add_hosts(graph: g.Graph, cloud: CloudSnapshot, reports: Mapping[str, JsonDict]) -> dict[str, str]:
    """Host nodes for every host named by an agent, a binding or a report; returns tunnel IP -> host."""
    agents = agents_by_host(cloud)
    names = set(agents) | set(reports)
    names |= {p["binding:host_id"] for p in cloud.get("ports", []) if p.get("binding:host_id")}
    tunnels: dict[str, str] = {}
    for host in sorted(names):
        report = reports.get(host)
        tunnel_ip = (report or {}).get("tunnel_ip") or next(
            (a["tunneling_ip"] for a in agents.get(host, []) if a["tunneling_ip"]), None
        )
        if tunnel_ip:
            tunnels[tunnel_ip] = host
        node_id = g.host_id(host)
        graph.add_node(
            node_id,
            NodeKind.HOST,
            host,
            host=host,
            status=host_status(agents.get(host, []), report is not None),
            tunnel_ip=tunnel_ip,
            agents=agents.get(host, []),
            reported=report is not None,
            collected_at=(report or {}).get("collected_at"),
        )
        if report is None:
            graph.warn(node_id, f"host {host} sends no agent report: its bridges and namespaces are unknown")
    return tunnels


def iface_status(iface: JsonDict) -> str | None:
    state = (iface.get("state") or "").upper()
    if state in ("UP", "UNKNOWN"):
        return "ACTIVE"
    return "DOWN" if state == "DOWN" else None


def add_iface(graph: g.Graph, index: HostIndex, namespace: str | None, iface: JsonDict) -> str:
    name = iface["name"]
    node_id = g.iface_id(index.host, namespace, name)
    prefix = device_prefix(name)
    graph.add_node(
        node_id,
        NodeKind.IFACE,
        name,
        host=index.host,
        status=iface_status(iface),
        namespace=namespace,
        name=name,
        if_kind=iface.get("kind"),
        mac=iface.get("mac"),
        mtu=iface.get("mtu"),
        state=iface.get("state"),
        addresses=iface.get("addresses") or [],
        role=DEVICE_ROLE[prefix] if prefix else None,
    )
    index.by_name[name].append(node_id)
    if prefix:
        index.by_id11[name[len(prefix) :]].append(node_id)
    return node_id


def drop_iface(graph: g.Graph, index: HostIndex, node_id: str, name: str) -> None:
    """Forget an interface node that the map draws as something else (a bridge)."""
    graph.nodes.pop(node_id, None)
    index.by_name.pop(name, None)
    prefix = device_prefix(name)
    if prefix and node_id in index.by_id11.get(name[len(prefix) :], []):
        index.by_id11[name[len(prefix) :]].remove(node_id)


def add_namespace(graph: g.Graph, index: HostIndex, namespace: JsonDict) -> None:
    name = namespace["name"]
    role, ref = namespace_role(name)
    node_id = g.netns_id(index.host, name)
    iptables = namespace.get("iptables") or {}
    graph.add_node(
        node_id,
        NodeKind.NETNS,
        name,
        host=index.host,
        name=name,
        role=role,
        ref=ref,
        routes=namespace.get("routes") or [],
        rules=namespace.get("rules") or [],
        has_iptables=bool(iptables),
    )
    index.namespaces[name] = node_id
    graph.add_edge(g.host_id(index.host), node_id, EdgeKind.MEMBER)
    for iface in namespace.get("interfaces") or []:
        graph.add_edge(node_id, add_iface(graph, index, name, iface), EdgeKind.MEMBER)
        if iface.get("peer"):
            index.veth_peers[name].append(iface["peer"])


def add_ovs_bridges(graph: g.Graph, index: HostIndex, report: JsonDict) -> None:
    host = index.host
    for bridge in (report.get("ovs") or {}).get("bridges") or []:
        bridge_node = g.bridge_id(host, bridge["name"])
        own = graph.nodes.get(g.iface_id(host, None, bridge["name"]))
        graph.add_node(
            bridge_node,
            NodeKind.BRIDGE,
            bridge["name"],
            host=host,
            type="ovs",
            name=bridge["name"],
            datapath_type=bridge.get("datapath_type"),
            fail_mode=bridge.get("fail_mode"),
            addresses=(own or {}).get("attrs", {}).get("addresses", []),
            flow_count=len(((report.get("ovs") or {}).get("flows") or {}).get(bridge["name"], [])),
        )
        graph.add_edge(g.host_id(host), bridge_node, EdgeKind.MEMBER)
        if own is not None:  # the bridge's own internal port is the bridge itself on the map
            drop_iface(graph, index, own["id"], bridge["name"])
        for port in bridge.get("ports") or []:
            for intf in port.get("interfaces") or []:
                if intf["name"] == bridge["name"]:
                    continue
                add_ovs_interface(graph, index, bridge_node, port, intf)


def add_ovs_interface(graph: g.Graph, index: HostIndex, bridge_node: str, port: JsonDict, intf: JsonDict) -> None:
    located = index.by_name.get(intf["name"])
    if located:
        node_id = located[0]
    else:
        # Patch and userspace tunnel ports have no kernel device: OVS is all we know.
        node_id = add_iface(graph, index, None, {"name": intf["name"], "kind": intf.get("type") or "ovs"})
    external_ids = intf.get("external_ids") or {}
    options = intf.get("options") or {}
    graph.nodes[node_id]["attrs"].update(
        ovs_bridge=bridge_node.split(":", 2)[2],
        ovs_type=intf.get("type") or "system",
        tag=port.get("tag"),
        ofport=intf.get("ofport"),
        options=options,
        external_ids=external_ids,
    )
    graph.add_edge(bridge_node, node_id, EdgeKind.MEMBER)
    index.on_bridge.add(node_id)
    if external_ids.get("iface-id"):
        index.by_iface_id[external_ids["iface-id"]].append(node_id)
    if intf.get("type") == "patch" and options.get("peer"):
        peer = g.iface_id(index.host, None, options["peer"])
        graph.nodes[node_id]["attrs"]["patch_peer"] = peer
    if intf.get("type") in TUNNEL_TYPES and options.get("remote_ip"):
        index.tunnel_ifaces.append((node_id, options["remote_ip"]))


def add_linux_bridges_and_links(graph: g.Graph, index: HostIndex, report: JsonDict) -> None:
    """Linux bridges (qbr) from kernel masters, veth pairs and patch pairs."""
    host = index.host
    ovs_bridges = {b["name"] for b in (report.get("ovs") or {}).get("bridges") or []}
    scopes: list[tuple[str | None, list[JsonDict]]] = [(None, report.get("interfaces") or [])]
    scopes += [(ns["name"], ns.get("interfaces") or []) for ns in report.get("namespaces") or []]
    names_in: dict[str | None, dict[str, JsonDict]] = {ns: {i["name"]: i for i in ifs} for ns, ifs in scopes}
    for namespace, ifaces in scopes:
        for iface in ifaces:
            node_id = g.iface_id(host, namespace, iface["name"])
            if node_id not in graph.nodes:
                continue
            if iface.get("kind") == "bridge" and iface["name"] not in ovs_bridges and namespace is None:
                add_linux_bridge(graph, index, iface)
            master = iface.get("master")
            if master and master != OVS_DATAPATH_MASTER and master not in ovs_bridges and namespace is None:
                graph.add_edge(g.bridge_id(host, master), node_id, EdgeKind.MEMBER)
                index.on_bridge.add(node_id)
            if iface.get("peer"):
                add_veth(graph, index, namespace, iface, names_in)
    for node_id in [node_id for node_ids in index.by_name.values() for node_id in node_ids]:
        peer = graph.nodes[node_id]["attrs"].get("patch_peer")
        if peer in graph.nodes:
            graph.add_link(node_id, peer, EdgeKind.PATCH)


def add_linux_bridge(graph: g.Graph, index: HostIndex, iface: JsonDict) -> None:
    node_id = g.bridge_id(index.host, iface["name"])
    # The bridge device itself is drawn as the bridge, not as an interface.
    drop_iface(graph, index, g.iface_id(index.host, None, iface["name"]), iface["name"])
    graph.add_node(
        node_id,
        NodeKind.BRIDGE,
        iface["name"],
        host=index.host,
        status=iface_status(iface),
        type="linux",
        name=iface["name"],
        role=DEVICE_ROLE.get(device_prefix(iface["name"]) or "", None),
        mtu=iface.get("mtu"),
    )
    index.linux_bridges[iface["name"]] = node_id
    graph.add_edge(g.host_id(index.host), node_id, EdgeKind.MEMBER)


def add_veth(
    graph: g.Graph,
    index: HostIndex,
    namespace: str | None,
    iface: JsonDict,
    names_in: Mapping[str | None, Mapping[str, JsonDict]],
) -> None:
    peer_name = iface["peer"]
    peer_ns = iface.get("peer_netns")
    if peer_ns is None and namespace is not None:
        # A null peer_netns means "root", unless the peer sits beside it in the same namespace.
        same = names_in.get(namespace, {}).get(peer_name)
        if same is not None and same.get("peer") == iface["name"]:
            peer_ns = namespace
    peer = g.iface_id(index.host, peer_ns, peer_name)
    node_id = g.iface_id(index.host, namespace, iface["name"])
    if peer in graph.nodes:
        graph.add_link(node_id, peer, EdgeKind.VETH)
    else:
        where = f"namespace {peer_ns}" if peer_ns else "the root namespace"
        graph.warn(node_id, f"veth peer {peer_name} in {where} is not in the report")


def add_host_physical(graph: g.Graph, host: str, report: JsonDict) -> HostIndex:
    index = HostIndex(host=host)
    root = [add_iface(graph, index, None, iface) for iface in report.get("interfaces") or []]
    for namespace in report.get("namespaces") or []:
        add_namespace(graph, index, namespace)
    add_ovs_bridges(graph, index, report)
    add_linux_bridges_and_links(graph, index, report)
    # Root-namespace interfaces that sit on a bridge belong to the bridge, not to the host.
    for node_id in root:
        if node_id in graph.nodes and node_id not in index.on_bridge:
            graph.add_edge(g.host_id(host), node_id, EdgeKind.MEMBER)
    return index


def add_tunnels(graph: g.Graph, indexes: Mapping[str, HostIndex], tunnels: Mapping[str, str]) -> None:
    host_tunnel_ip = {host: ip for ip, host in tunnels.items()}
    for host, index in indexes.items():
        for node_id, remote_ip in index.tunnel_ifaces:
            peer_host = tunnels.get(remote_ip)
            graph.nodes[node_id]["attrs"]["remote_host"] = peer_host
            if peer_host is None:
                graph.warn(node_id, f"tunnel to {remote_ip}: no host has that tunnel IP")
                continue
            peer_index = indexes.get(peer_host)
            back = [
                n for n, ip in (peer_index.tunnel_ifaces if peer_index else []) if ip == host_tunnel_ip.get(host)
            ]
            if back:
                graph.add_link(node_id, back[0], EdgeKind.TUNNEL)
            else:
                graph.add_edge(node_id, g.host_id(peer_host), EdgeKind.TUNNEL)
                graph.warn(node_id, f"{peer_host} has no tunnel port back to {host}")


# --------------------------------------------------------------------------- cross joins


def port_hosts(port: JsonDict, indexes: Mapping[str, HostIndex]) -> Iterable[HostIndex]:
    """Hosts where a port's devices may be: its binding host, or every host for distributed ports."""
    host = port.get("binding:host_id")
    owner = port.get("device_owner") or ""
    if host and owner not in (DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED, DeviceOwner.HA_REPLICATED_INTERFACE):
        return [indexes[host]] if host in indexes else []
    return indexes.values()


def bind_ports(graph: g.Graph, cloud: CloudSnapshot, indexes: Mapping[str, HostIndex]) -> None:
    port_uuids = {p["id"] for p in cloud.get("ports", [])}
    for port in cloud.get("ports", []):
        node_id = g.port_id(port["id"])
        if node_id not in graph.nodes:
            continue
        id11 = port["id"][:ID_PREFIX_LEN]
        bound: list[str] = []
        for index in port_hosts(port, indexes):
            for iface in index.by_id11.get(id11, []) + index.by_iface_id.get(port["id"], []):
                if graph.nodes[iface]["attrs"].get("role") in ("rfp", "fpr"):
                    continue  # rfp-/fpr- carry a router id, not a port id
                graph.add_edge(node_id, iface, EdgeKind.BINDS)
                bound.append(iface)
            qbr = index.linux_bridges.get(f"qbr{id11}")
            if qbr:
                graph.add_edge(node_id, qbr, EdgeKind.BINDS)
        if bound:
            what, fixed = describe_port(graph, port)
            for iface in bound:
                describe_iface(graph.nodes[iface], port["id"], what, fixed)
        warn_unbound_port(graph, port, bound, indexes)
    for index in indexes.values():
        for iface_id_value, node_ids in index.by_iface_id.items():
            if iface_id_value not in port_uuids:
                for node_id in node_ids:
                    graph.warn(node_id, f"external_ids:iface-id {iface_id_value} matches no Neutron port")


def warn_unbound_port(graph: g.Graph, port: JsonDict, bound: list[str], indexes: Mapping[str, HostIndex]) -> None:
    node_id = g.port_id(port["id"])
    host = port.get("binding:host_id")
    if host and host not in indexes:
        graph.warn(node_id, f"bound to host {host}, which sends no agent report")
    elif host and not bound and port.get("status") == "ACTIVE":
        graph.warn(node_id, f"ACTIVE and bound to {host}, but no device of it is on that host")


OWNER_WORDS: dict[str, str] = {
    DeviceOwner.DHCP: "DHCP port",
    DeviceOwner.ROUTER_GATEWAY: "gateway port",
    DeviceOwner.ROUTER_SNAT: "SNAT port",
    DeviceOwner.FIP_AGENT_GATEWAY: "floating IP agent gateway port",
    DeviceOwner.ROUTER_HA_INTERFACE: "HA port",
}


def describe_port(graph: g.Graph, port: JsonDict) -> tuple[str, str]:
    """What a port is ("interface of router router1") and its fixed IPs, said once per port."""
    owner = port.get("device_owner") or ""
    what = OWNER_WORDS.get(owner)
    if what is None and owner in DeviceOwner.ROUTER_INTERFACES:
        what = "interface"
    if what is None and owner.startswith(DeviceOwner.COMPUTE_PREFIX):
        what = "VM port"
    router = graph.nodes.get(g.router_id(port.get("device_id") or ""))
    of = f" of router {router['label']}" if router else ""
    fixed = ", ".join(ip["ip_address"] for ip in port.get("fixed_ips") or [])
    return f"{what or 'port'}{of}", fixed


def describe_iface(node: g.Node, port_uuid: str, what: str, fixed: str) -> None:
    """Say what an interface is in Neutron's terms, e.g. "qr interface of router router1, 10.0.0.1/24"."""
    attrs = node["attrs"]
    text = f"{attrs.get('role') or 'device'} {what}"
    if attrs.get("tag") is not None:
        text += f", VLAN tag {attrs['tag']}"
    # A device inside a namespace carries the port's address; one on a bridge only a link-local one.
    addresses = ", ".join(a for a in attrs.get("addresses") or [] if not a.startswith("fe80:")) or fixed
    if addresses:
        text += f", {addresses}"
    attrs["port_id"] = port_uuid
    attrs["describe"] = text


def bind_namespaces(graph: g.Graph, cloud: CloudSnapshot, indexes: Mapping[str, HostIndex]) -> None:
    """Routers to qrouter-/snat-, external networks to fip-, networks to qdhcp-, VMs to the lab's vm-."""
    rfp_len = DEV_NAME_LEN - len("rfp-")
    routers_by_fragment = {r["id"][:rfp_len]: g.router_id(r["id"]) for r in cloud.get("routers", [])}
    servers_by_port_id11 = {
        p["id"][:ID_PREFIX_LEN]: g.server_id(p["device_id"])
        for p in cloud.get("ports", [])
        if (p.get("device_owner") or "").startswith(DeviceOwner.COMPUTE_PREFIX) and p.get("device_id")
    }
    for index in indexes.values():
        for name, ns_node in index.namespaces.items():
            role, ref = namespace_role(name)
            target = {
                "qrouter": g.router_id(ref or ""),
                "snat": g.router_id(ref or ""),
                "fip": g.network_id(ref or ""),
                "qdhcp": g.network_id(ref or ""),
            }.get(role)
            if target and target in graph.nodes:
                graph.add_edge(target, ns_node, EdgeKind.BINDS)
            elif target:
                graph.warn(ns_node, f"{name} belongs to no {target.split(':')[0]} the cloud knows")
            elif role == "vm":
                bind_vm_namespace(graph, index, name, ref or "", servers_by_port_id11)
        for id11, node_ids in index.by_id11.items():
            router = routers_by_fragment.get(id11)
            for node_id in node_ids:
                attrs = graph.nodes[node_id]["attrs"]
                if router and attrs.get("role") in ("rfp", "fpr"):
                    graph.add_edge(router, node_id, EdgeKind.BINDS)
                    label = graph.nodes[router]["label"]
                    attrs["describe"] = f"{attrs['role']}- of router {label} (qrouter <-> fip namespace veth)"
    warn_routers_without_namespace(graph, cloud)


def bind_vm_namespace(
    graph: g.Graph, index: HostIndex, namespace: str, vm_name: str, servers_by_port_id11: Mapping[str, str]
) -> None:
    """The lab's VMs are namespaces: join one to its instance through its veth to tap<port id[:11]>."""
    for peer in index.veth_peers.get(namespace, []):
        server = servers_by_port_id11.get(peer[len("tap") :]) if peer.startswith("tap") else None
        if server and server in graph.nodes:
            graph.add_edge(server, index.namespaces[namespace], EdgeKind.BINDS)
            if graph.nodes[server]["attrs"].get("derived_from_ports"):
                graph.nodes[server]["label"] = vm_name
                graph.nodes[server]["attrs"]["name"] = vm_name


def warn_routers_without_namespace(graph: g.Graph, cloud: CloudSnapshot) -> None:
    bound = {
        source for source, target, kind in graph.edges if kind == EdgeKind.BINDS and target.startswith("netns:")
    }
    for router in cloud.get("routers", []):
        node_id = g.router_id(router["id"])
        if node_id not in bound:
            graph.warn(node_id, "no qrouter- namespace on any reporting host")


# --------------------------------------------------------------------------- entry point


@contextmanager
def gc_paused() -> Iterator[None]:
    """The join allocates ~10 objects per device and frees none: the cyclic GC's passes over
    that growing heap cost more than the join itself (measured: 40% of its time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def join(cloud: CloudSnapshot, reports: Mapping[str, JsonDict]) -> g.Graph:
    """Join the cloud snapshot with each host's latest agent report into one graph."""
    with gc_paused():
        return join_all(cloud, reports)


def join_all(cloud: CloudSnapshot, reports: Mapping[str, JsonDict]) -> g.Graph:
    graph = g.Graph()
    add_logical(graph, cloud)
    tunnels = add_hosts(graph, cloud, reports)
    indexes = {host: add_host_physical(graph, host, report) for host, report in sorted(reports.items())}
    add_tunnels(graph, indexes, tunnels)
    bind_ports(graph, cloud, indexes)
    bind_namespaces(graph, cloud, indexes)
    drop_dangling_edges(graph)
    return graph


def drop_dangling_edges(graph: g.Graph) -> None:
    """Edges to objects the snapshot does not hold (e.g. a router the caller cannot list)."""
    for key in [k for k in graph.edges if k[0] not in graph.nodes or k[1] not in graph.nodes]:
        del graph.edges[key]
