"""The logical part of the join: networks, subnets, routers, servers, ports, floating IPs, security groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from topology import graph as g
from topology import scheduling
from topology.join.ovn import add_ovn, chassis_by_host, ovn_databases
from topology.join.parts import CloudSnapshot, Edges, JsonDict, Nodes, drop_dangling
from topology.join.segment_ranges import warn_full_vlan_ranges
from topology.kinds import (
    DEV_NAME_LEN,
    ID_PREFIX_LEN,
    SECGROUP_RULE_MATCH,
    Backend,
    DeviceOwner,
    EdgeKind,
    NodeKind,
)
from topology.ovn.backend import detect_backend


@dataclass
class LogicalPart:
    """The logical subgraph and the lookups the cross joins need, made from the cloud snapshot alone."""

    nodes: Nodes
    edges: Edges
    ports: list[JsonDict]  # the snapshot's ports, in its order
    port_uuids: set[str]
    port_node_ids: list[str | None]  # the node id of each port, in order (None: it has none)
    # what each port is and its fixed IPs, as an interface bound to it says them: made on first use
    port_words: list[tuple[str, str] | None]
    routers_by_fragment: dict[str, str]  # router id[:10] (as in rfp-/fpr-) -> router node id
    router_labels: dict[str, str]  # router id -> its node's label (said in its ports' devices' describe)
    servers_by_port_id11: dict[str, str]  # VM port id[:11] -> server node id
    router_node_ids: list[str]
    agents: dict[str, list[JsonDict]]  # host -> its Neutron agents
    bound_hosts: set[str]  # every port binding:host_id
    ports_on_host: dict[str, list[int]]  # host -> positions of the ports whose devices are on it
    ports_everywhere: list[int]  # positions of the ports whose devices may be on every host (devices_host)
    # where Neutron scheduled routers and DHCP servers (None: the snapshot does not say)
    schedule: scheduling.Schedule | None = None
    # OVN's SB Chassis by hostname (topology/join/ovn.py); empty on an ML2/OVS cloud
    chassis: dict[str, JsonDict] = field(default_factory=dict)
    southbound_read: bool = False  # the snapshot holds OVN's SB (a host missing from `chassis` then means something)
    external_physnets: frozenset[str] = frozenset()  # physical networks of the external networks
    ovn_backend: bool = False  # Neutron lists OVN agents (topology/ovn/backend.py): no qrouter-/qdhcp- expected

    def words(self, position: int) -> tuple[str, str]:
        """What the port at ``position`` is and its fixed IPs (:func:`describe_port`), said once."""
        words = self.port_words[position]
        if words is None:
            words = self.port_words[position] = describe_port(self.router_labels, self.ports[position])
        return words


def logical_part(cloud: CloudSnapshot) -> LogicalPart:
    """The logical subgraph of ``cloud`` and its lookups for the cross joins."""
    graph = g.Graph()
    lookups = add_logical(graph, cloud)
    add_ovn(graph, cloud)
    warn_full_vlan_ranges(graph, cloud)
    drop_dangling(graph.nodes, graph.edges)
    ports = list(cloud.get("ports", []))
    rfp_len = DEV_NAME_LEN - len("rfp-")
    ports_on_host, ports_everywhere = ports_by_host(ports, ha_router_ids(cloud))
    return LogicalPart(
        nodes=graph.nodes,
        edges=graph.edges,
        ports=ports,
        port_uuids=lookups.port_uuids,
        port_node_ids=lookups.port_node_ids,
        port_words=[None] * len(ports),
        routers_by_fragment={r["id"][:rfp_len]: g.router_id(r["id"]) for r in cloud.get("routers", [])},
        router_labels={r["id"]: graph.nodes[g.router_id(r["id"])]["label"] for r in cloud.get("routers", [])},
        servers_by_port_id11=lookups.servers_by_port_id11,
        router_node_ids=[g.router_id(r["id"]) for r in cloud.get("routers", [])],
        agents=agents_by_host(cloud),
        bound_hosts=lookups.bound_hosts,
        ports_on_host=ports_on_host,
        ports_everywhere=ports_everywhere,
        schedule=scheduling.schedule_of(cloud),
        chassis=chassis_by_host(cloud),
        southbound_read=ovn_databases(cloud)[1] is not None,
        external_physnets=frozenset(
            n["provider:physical_network"]
            for n in cloud.get("networks", [])
            if n.get("router:external") and n.get("provider:physical_network")
        ),
        ovn_backend=detect_backend(cloud.get("agents", [])) == Backend.ML2_OVN,
    )


def add_logical(graph: g.Graph, cloud: CloudSnapshot) -> PortLookups:
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
            # Only when set (the resolver DHCP hands out: topology/path/dns.py); absent = none.
            **nameservers_of(subnet),
            **ipv6_modes_of(subnet),
        )
        if subnet.get("network_id") in networks:
            graph.add_edge(g.network_id(subnet["network_id"]), node_id, EdgeKind.MEMBER)
    add_routers(graph, cloud, networks)
    lookups = add_ports(graph, cloud)
    add_floatingips(graph, cloud)
    add_secgroups(graph, cloud)
    return lookups


def ipv6_modes_of(subnet: JsonDict) -> JsonDict:
    """An IPv6 subnet's ``ipv6_ra_mode``/``ipv6_address_mode`` (who advertises it, how VMs get addresses;
    topology/path/routed6.py), only those Neutron set: nothing on an IPv4 subnet."""
    if subnet.get("ip_version") != 6:
        return {}
    return {key: subnet[key] for key in ("ipv6_ra_mode", "ipv6_address_mode") if subnet.get(key)}


def nameservers_of(subnet: JsonDict) -> dict[str, Any]:
    """The subnet's dns_nameservers (the resolver DHCP hands out: topology/path/dns.py), only when set."""
    return {"dns_nameservers": list(subnet["dns_nameservers"])} if subnet.get("dns_nameservers") else {}


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


@dataclass
class PortLookups:
    """What the cross joins look ports up by, made in the same pass as the port nodes."""

    port_uuids: set[str] = field(default_factory=set)
    port_node_ids: list[str | None] = field(default_factory=list)  # per port, in order (None: no node)
    servers_by_port_id11: dict[str, str] = field(default_factory=dict)  # VM port id[:11] -> server node id
    bound_hosts: set[str] = field(default_factory=set)  # every port binding:host_id


def add_ports(graph: g.Graph, cloud: CloudSnapshot) -> PortLookups:
    """Servers and ports and their edges, and the port lookups."""
    server_ids = {server["id"]: add_server(graph, server) for server in cloud.get("servers", [])}
    lookups = PortLookups()
    for port in cloud.get("ports", []):
        add_port(graph, port, server_ids, lookups)
    return lookups


def add_server(graph: g.Graph, server: JsonDict) -> str:
    """A server's node; returns its id."""
    node_id = g.server_id(server["id"])
    graph.add_node(
        node_id,
        NodeKind.SERVER,
        server.get("name") or server["id"][:8],
        host=server.get("OS-EXT-SRV-ATTR:host"),
        project_id=server.get("tenant_id") or server.get("project_id"),
        status=server.get("status"),
        name=server.get("name", ""),
    )
    return node_id


def add_port(graph: g.Graph, port: JsonDict, server_ids: Mapping[str, str], lookups: PortLookups) -> None:
    """A port's node and edges, and its lookups (no node for a floating IP's port: the floating IP's stands for it).

    ``server_ids``: server uuid -> node id, for the servers the cloud lists.
    """
    port_uuid = port["id"]
    lookups.port_uuids.add(port_uuid)
    if port.get("binding:host_id"):
        lookups.bound_hosts.add(port["binding:host_id"])
    owner = port.get("device_owner") or ""
    if owner.startswith(DeviceOwner.COMPUTE_PREFIX) and port.get("device_id"):
        server_id = server_ids.get(port["device_id"]) or g.server_id(port["device_id"])
        lookups.servers_by_port_id11[port_uuid[:ID_PREFIX_LEN]] = server_id
    if owner == DeviceOwner.FLOATINGIP:
        lookups.port_node_ids.append(None)
        return
    node_id = g.port_id(port_uuid)
    lookups.port_node_ids.append(node_id)
    add_port_node(graph, node_id, port, owner)
    graph.add_edge(node_id, g.network_id(port["network_id"]), EdgeKind.ON_NETWORK)
    for fixed in port.get("fixed_ips") or ():
        graph.add_edge(node_id, g.subnet_id(fixed["subnet_id"]), EdgeKind.IN_SUBNET)
    for group in port.get("security_groups") or ():
        graph.add_edge(node_id, g.secgroup_id(group), EdgeKind.SECURED_BY)
    if owner:
        add_port_owner_edges(graph, port, node_id, owner, server_ids)


def add_port_node(graph: g.Graph, node_id: str, port: JsonDict, owner: str) -> None:
    fixed_ips = port.get("fixed_ips") or []
    # the label: its first IPv4 address, else its name, MAC or id
    ipv4 = next((str(fixed["ip_address"]) for fixed in fixed_ips if ":" not in fixed.get("ip_address", ":")), None)
    graph.add_node(
        node_id,
        NodeKind.PORT,
        ipv4 or port.get("name") or port.get("mac_address") or port["id"][:8],
        host=port.get("binding:host_id") or None,
        project_id=port.get("project_id") or port.get("tenant_id") or None,
        status=port.get("status"),
        name=port.get("name", ""),
        device_owner=owner,
        device_id=port.get("device_id") or "",
        mac_address=port.get("mac_address"),
        fixed_ips=fixed_ips,
        admin_state_up=port.get("admin_state_up", True),
        network_id=port.get("network_id"),
        binding_host_id=port.get("binding:host_id") or "",
        vif_type=port.get("binding:vif_type"),
        vif_details=port.get("binding:vif_details") or {},
        port_security_enabled=port.get("port_security_enabled", True),
        security_groups=port.get("security_groups") or [],
    )


def add_port_owner_edges(
    graph: g.Graph, port: JsonDict, node_id: str, owner: str, server_ids: Mapping[str, str]
) -> None:
    """``server_ids``: server uuid -> node id, for the servers the cloud lists."""
    device = port.get("device_id") or ""
    if owner in DeviceOwner.ROUTER_INTERFACES:
        graph.add_edge(g.router_id(device), node_id, EdgeKind.ROUTER_INTERFACE)
    elif owner in (DeviceOwner.ROUTER_GATEWAY, DeviceOwner.ROUTER_SNAT, DeviceOwner.ROUTER_HA_INTERFACE):
        graph.add_edge(g.router_id(device), node_id, EdgeKind.MEMBER)
    elif owner.startswith(DeviceOwner.COMPUTE_PREFIX) and device:
        server = server_ids.get(device) or g.server_id(device)
        if device not in server_ids and server not in graph.nodes:
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
        rules[rule["security_group_id"]].append({key: rule.get(key) for key in ("id", *SECGROUP_RULE_MATCH)})
    for group in cloud.get("security_groups", []):
        graph.add_node(
            g.secgroup_id(group["id"]),
            NodeKind.SECGROUP,
            group.get("name") or group["id"][:8],
            project_id=group.get("project_id") or group.get("tenant_id"),
            name=group.get("name", ""),
            rules=rules.get(group["id"], []),
            stateful=group.get("stateful", True),  # a reply is let in by conntrack unless False
        )


UNBOUND_OWNERS = frozenset({DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED, DeviceOwner.HA_REPLICATED_INTERFACE})


def devices_host(port: JsonDict, ha_routers: frozenset[str] = frozenset()) -> str | None:
    """The host a port's devices are on: its binding host; None when they may be on every host
    (unbound, or a distributed router's interfaces and HA replicated ones, plugged wherever needed, and an
    HA router's gateway port: its qg- is in each instance, Neutron binds it to the active one's host and
    moves the binding seconds after a failover)."""
    host = port.get("binding:host_id")
    owner = port.get("device_owner") or ""
    if owner == DeviceOwner.ROUTER_GATEWAY and port.get("device_id") in ha_routers:
        return None
    if host and owner not in UNBOUND_OWNERS:
        return host
    return None


def ha_router_ids(cloud: CloudSnapshot) -> frozenset[str]:
    return frozenset(r["id"] for r in cloud.get("routers", []) if r.get("ha"))


def ports_by_host(
    ports: list[JsonDict], ha_routers: frozenset[str] = frozenset()
) -> tuple[dict[str, list[int]], list[int]]:
    """Positions of the ports whose devices are on each host, and of those that may be on every host."""
    on_host: dict[str, list[int]] = {}
    everywhere: list[int] = []
    for position, port in enumerate(ports):
        host = devices_host(port, ha_routers)
        if host is not None:
            on_host.setdefault(host, []).append(position)
        else:
            everywhere.append(position)
    return on_host, everywhere


OWNER_WORDS: dict[str, str] = {
    DeviceOwner.DHCP: "DHCP port",
    DeviceOwner.ROUTER_GATEWAY: "gateway port",
    DeviceOwner.ROUTER_SNAT: "SNAT port",
    DeviceOwner.FIP_AGENT_GATEWAY: "floating IP agent gateway port",
    DeviceOwner.ROUTER_HA_INTERFACE: "HA port",
}


def describe_port(router_labels: Mapping[str, str], port: JsonDict) -> tuple[str, str]:
    """What a port is ("interface of router router1") and its fixed IPs, said once per port.

    ``router_labels``: router id -> its node's label (LogicalPart.router_labels).
    """
    owner = port.get("device_owner") or ""
    what = OWNER_WORDS.get(owner)
    if what is None and owner in DeviceOwner.ROUTER_INTERFACES:
        what = "interface"
    if what is None and owner.startswith(DeviceOwner.COMPUTE_PREFIX):
        what = "VM port"
    label = router_labels.get(port.get("device_id") or "")
    of = f" of router {label}" if label is not None else ""
    fixed = ", ".join([ip["ip_address"] for ip in port.get("fixed_ips") or ()])
    return f"{what or 'port'}{of}", fixed


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
