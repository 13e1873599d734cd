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

The join runs in three parts. The logical part (:func:`logical_part`) comes
from the cloud snapshot alone, and each host's physical subgraph
(:func:`host_physical`) from that host's report alone; the cross joins
(ports <-> interfaces, routers and networks <-> namespaces, tunnels between
hosts, host nodes) put them together. A :class:`JoinCache` passed to
:func:`join` keeps the parts keyed by a digest of their input, so a rebuild
after one host's report changed re-does that host and the cross joins, and
one after a cloud refresh the logical part and the cross joins; the graph is
the same as a join without a cache.
"""

from __future__ import annotations

import gc
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from topology import claims, quarantine, scheduling
from topology import graph as g
from topology.drift import mark_drift
from topology.kinds import (
    DEV_NAME_LEN,
    DEVICE_PREFIXES,
    DEVICE_ROLE,
    ID_PREFIX_LEN,
    ROUTER_DEVICE_PREFIXES,
    DeviceOwner,
    EdgeKind,
    NamespacePrefix,
    NodeKind,
)

JsonDict = dict[str, Any]
CloudSnapshot = Mapping[str, list[JsonDict]]
Nodes = dict[str, g.Node]
Edges = dict[g.EdgeKey, None]
# iface node id -> (the cached node it was copied from, port id, what, fixed IPs, the described copy)
Described = dict[str, tuple[g.Node, str, str, str, g.Node]]
TUNNEL_TYPES = frozenset({"vxlan", "gre", "geneve"})
# A kernel OVS datapath enslaves its ports to this device; it is not a bridge of ours.
OVS_DATAPATH_MASTER = "ovs-system"
ROUTER_DEVICE_ROLES = frozenset(DEVICE_ROLE[p] for p in ROUTER_DEVICE_PREFIXES)  # rfp, fpr


@dataclass
class HostIndex:
    """Where things are on one host, to look up joins in O(1)."""

    host: str
    # device name -> the first iface node id carrying it (the root namespace's, if there)
    by_name: dict[str, str] = field(default_factory=dict)
    # id fragment after a port device's prefix (port id[:11]) -> iface node ids
    by_id11: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # id fragment after rfp-/fpr- (router id[:10]) -> iface node ids
    router_devices_by_fragment: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # OVS external_ids:iface-id -> iface node ids
    by_iface_id: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    namespaces: dict[str, str] = field(default_factory=dict)  # namespace name -> node id
    linux_bridges: dict[str, str] = field(default_factory=dict)  # bridge name -> node id
    tunnel_ifaces: list[tuple[str, str]] = field(default_factory=list)  # (iface node id, remote_ip)
    # remote_ip -> the first tunnel iface towards it (the way back for a peer's tunnel)
    tunnel_to: dict[str, str] = field(default_factory=dict)
    veth_peers: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # namespace -> peer names
    # root-namespace interfaces already drawn inside a bridge (the others hang off the host)
    on_bridge: set[str] = field(default_factory=set)
    # iface node ids of rfp-/fpr- devices: their name carries a router id, not a port id
    router_devices: set[str] = field(default_factory=set)
    # iface node ids that OVS says are patch ports (options:peer)
    patch_ports: set[str] = field(default_factory=set)


@dataclass
class HostPhysical:
    """One host's physical subgraph, made from its report alone (what a JoinCache keeps per host).

    Its edges touch only its own nodes and its host node: none dangles.
    """

    host: str
    nodes: Nodes
    edges: Edges
    index: HostIndex
    # while it is made: whether an edge may point at a node it dropped or never had (then checked)
    maybe_dangling: bool = False
    host_node: str = field(init=False)  # the host's node id
    root_iface_prefix: str = field(init=False)  # its root namespace's iface node ids start so

    def __post_init__(self) -> None:
        self.host_node = g.host_id(self.host)
        self.root_iface_prefix = f"iface:{self.host}:-:"


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
    # where Neutron scheduled routers and DHCP servers (None: the snapshot does not say)
    schedule: scheduling.Schedule | None = None

    def words(self, position: int) -> tuple[str, str]:
        """What the port at ``position`` is and its fixed IPs (:func:`describe_port`), said once."""
        words = self.port_words[position]
        if words is None:
            words = self.port_words[position] = describe_port(self.router_labels, self.ports[position])
        return words


# a device prefix by its first 3 characters (rfp- and fpr- then need their "-")
_PREFIX_HEAD = {p[:3]: p for p in DEVICE_PREFIXES}
# looked up once per node or edge in the hot loops
_IFACE, _PORT, _BRIDGE = NodeKind.IFACE, NodeKind.PORT, NodeKind.BRIDGE
_MEMBER, _VETH = EdgeKind.MEMBER, EdgeKind.VETH


def device_prefix(name: str) -> str | None:
    """The Neutron device prefix of an interface name (tap, qvo, qr-, rfp-, ...), if any."""
    prefix = _PREFIX_HEAD.get(name[:3])
    if prefix is None or len(name) <= len(prefix) or (len(prefix) == 4 and name[3] != "-"):
        return None
    return prefix


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


def drop_dangling(nodes: Nodes, edges: Edges, also: str | None = None) -> None:
    """Edges to objects the input does not hold (e.g. a router the caller cannot list)."""
    if also is not None:
        nodes[also] = {}  # counted as present while checking, removed after
    dangling = [key for key in edges if key[0] not in nodes or key[1] not in nodes]
    if also is not None:
        del nodes[also]
    for key in dangling:
        del edges[key]


# --------------------------------------------------------------------------- logical


def logical_part(cloud: CloudSnapshot) -> LogicalPart:
    """The logical subgraph of ``cloud`` and its lookups for the cross joins."""
    graph = g.Graph()
    lookups = add_logical(graph, cloud)
    drop_dangling(graph.nodes, graph.edges)
    ports = list(cloud.get("ports", []))
    rfp_len = DEV_NAME_LEN - len("rfp-")
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
        schedule=scheduling.schedule_of(cloud),
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
        )
        if subnet.get("network_id") in networks:
            graph.add_edge(g.network_id(subnet["network_id"]), node_id, EdgeKind.MEMBER)
    add_routers(graph, cloud, networks)
    lookups = add_ports(graph, cloud)
    add_floatingips(graph, cloud)
    add_secgroups(graph, cloud)
    return lookups


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


SERVER_OPTIONAL_KEYS = ("host", "project_id", "status")


@dataclass
class PortLookups:
    """What the cross joins look ports up by, made in the same pass as the port nodes."""

    port_uuids: set[str] = field(default_factory=set)
    port_node_ids: list[str | None] = field(default_factory=list)  # per port, in order (None: no node)
    servers_by_port_id11: dict[str, str] = field(default_factory=dict)  # VM port id[:11] -> server node id
    bound_hosts: set[str] = field(default_factory=set)  # every port binding:host_id


def add_ports(graph: g.Graph, cloud: CloudSnapshot) -> PortLookups:
    """Servers and ports and their edges (the logical part's bulk: lookups inlined), and the port lookups."""
    nodes, edges = graph.nodes, graph.edges
    server_kind = NodeKind.SERVER
    server_ids: dict[str, str] = {}  # server uuid -> node id
    for server in cloud.get("servers", []):
        get = server.get
        node_id = server_ids[server["id"]] = f"server:{server['id']}"
        node: g.Node = {
            "id": node_id,
            "kind": server_kind,
            "label": get("name") or server["id"][:8],
            "attrs": {"name": get("name", "")},
            "host": get("OS-EXT-SRV-ATTR:host"),
            "project_id": get("tenant_id") or get("project_id"),
            "status": get("status"),
        }
        for key in SERVER_OPTIONAL_KEYS:
            if node[key] is None:
                del node[key]
        nodes[node_id] = node
    on_network, in_subnet, secured_by = EdgeKind.ON_NETWORK, EdgeKind.IN_SUBNET, EdgeKind.SECURED_BY
    floatingip, compute = DeviceOwner.FLOATINGIP, DeviceOwner.COMPUTE_PREFIX
    lookups = PortLookups()
    port_uuids, port_node_ids, servers_by_port_id11, bound_hosts = (
        lookups.port_uuids,
        lookups.port_node_ids,
        lookups.servers_by_port_id11,
        lookups.bound_hosts,
    )
    for port in cloud.get("ports", []):
        port_uuid = port["id"]
        get = port.get
        port_uuids.add(port_uuid)
        host = get("binding:host_id")
        if host:
            bound_hosts.add(host)
        owner = get("device_owner") or ""
        if owner.startswith(compute) and get("device_id"):
            server_id = server_ids.get(port["device_id"]) or g.server_id(port["device_id"])
            servers_by_port_id11[port_uuid[:ID_PREFIX_LEN]] = server_id
        if owner == floatingip:
            port_node_ids.append(None)
            continue  # the floating IP's own node stands for it
        node_id = f"port:{port_uuid}"
        port_node_ids.append(node_id)
        nodes[node_id] = port_node(node_id, port, owner)
        edges[(node_id, f"network:{port['network_id']}", on_network)] = None
        for fixed in get("fixed_ips") or ():
            edges[(node_id, f"subnet:{fixed['subnet_id']}", in_subnet)] = None
        for group in get("security_groups") or ():
            edges[(node_id, f"secgroup:{group}", secured_by)] = None
        if owner:
            add_port_owner_edges(graph, port, node_id, owner, server_ids)
    return lookups


def port_node(node_id: str, port: JsonDict, owner: str) -> g.Node:
    get = port.get
    host = get("binding:host_id")
    fixed_ips = get("fixed_ips") or []
    # the label: its first IPv4 address, else its name, MAC or id
    label = None
    for fixed in fixed_ips:
        if ":" not in fixed.get("ip_address", ":"):
            label = str(fixed["ip_address"])
            break
    # one literal with every key (a dict grown past 5 keys is resized), those the port lacks then dropped
    node: g.Node = {
        "id": node_id,
        "kind": _PORT,
        "label": label or get("name") or get("mac_address") or port["id"][:8],
        "attrs": {
            "name": get("name", ""),
            "device_owner": owner,
            "device_id": get("device_id") or "",
            "mac_address": get("mac_address"),
            "fixed_ips": fixed_ips,
            "admin_state_up": get("admin_state_up", True),
            "network_id": get("network_id"),
            "binding_host_id": host or "",
            "vif_type": get("binding:vif_type"),
            "vif_details": get("binding:vif_details") or {},
            "port_security_enabled": get("port_security_enabled", True),
            "security_groups": get("security_groups") or [],
        },
        "host": host,
        "project_id": get("project_id") or get("tenant_id"),
        "status": get("status"),
    }
    if not host:
        del node["host"]
    if not node["project_id"]:
        del node["project_id"]
    if node["status"] is None:
        del node["status"]
    return node


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
    get = port.get
    owner = get("device_owner") or ""
    what = OWNER_WORDS.get(owner)
    if what is None and owner in DeviceOwner.ROUTER_INTERFACES:
        what = "interface"
    if what is None and owner.startswith(DeviceOwner.COMPUTE_PREFIX):
        what = "VM port"
    label = router_labels.get(get("device_id") or "")
    of = f" of router {label}" if label is not None else ""
    fixed = ", ".join([ip["ip_address"] for ip in get("fixed_ips") or ()])
    return f"{what or 'port'}{of}", fixed


# --------------------------------------------------------------------------- hosts


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


def add_hosts(graph: g.Graph, logical: LogicalPart, reports: Mapping[str, JsonDict]) -> dict[str, str]:
    """Host nodes for every host named by an agent, a binding or a report; returns tunnel IP -> host."""
    agents = logical.agents
    hosts = sorted(set(agents) | set(reports) | logical.bound_hosts)
    ips = claims.resolve_tunnel_ips(hosts, agents, reports)
    for host in hosts:
        report = reports.get(host)
        host_agents = agents.get(host, [])
        tunnel_ip = ips.by_host.get(host)
        node_id = g.host_id(host)
        graph.add_node(
            node_id,
            NodeKind.HOST,
            host,
            host=host,
            status=host_status(host_agents, report is not None),
            tunnel_ip=tunnel_ip,
            agents=host_agents,
            reported=report is not None,
            collected_at=(report or {}).get("collected_at"),
        )
        if report is None:
            graph.warn(node_id, f"host {host} sends no agent report: its bridges and namespaces are unknown")
        for message in ips.warnings.get(host, ()):
            graph.warn(node_id, message)
    return ips.owner


# --------------------------------------------------------------------------- physical (one host)


_IFACE_STATUS = {"UP": "ACTIVE", "UNKNOWN": "ACTIVE", "DOWN": "DOWN"}
# the same for operstates as spelt, looked up before upper-casing one
_IFACE_STATUS_AS_SPELT: dict[str | None, str] = {
    spelt: status for state, status in _IFACE_STATUS.items() for spelt in (state, state.lower())
}


def iface_status(state: str | None) -> str | None:
    """The node status of a device in this operstate (None: unknown, no status)."""
    return _IFACE_STATUS_AS_SPELT.get(state) or _IFACE_STATUS.get(state.upper() if state else "")


def host_physical(host: str, report: JsonDict) -> HostPhysical:
    """The physical subgraph of one host: its interfaces, namespaces, OVS and Linux bridges and their links."""
    piece = HostPhysical(host, {}, {}, HostIndex(host=host))
    ovs = report.get("ovs") or {}
    bridges = ovs.get("bridges") or []
    ovs_bridges = {b["name"] for b in bridges}
    interfaces = report.get("interfaces") or []
    namespaces = report.get("namespaces") or []
    plain = plain_linux_bridges(interfaces, namespaces, bridges, ovs_bridges)
    root_prefix = piece.root_iface_prefix
    root = [
        root_prefix + iface["name"] if iface["name"] in plain else add_iface(piece, None, iface, root_prefix)
        for iface in interfaces
    ]
    in_namespaces = [add_namespace(piece, namespace) for namespace in namespaces]
    add_ovs_bridges(piece, bridges, ovs.get("flows") or {})
    scopes: list[tuple[str | None, list[JsonDict], list[str]]] = [(None, interfaces, root)]
    scopes += [(ns["name"], ns.get("interfaces") or [], ids) for ns, ids in zip(namespaces, in_namespaces, strict=True)]
    add_linux_bridges_and_links(piece, scopes, ovs_bridges, plain)
    # Root-namespace interfaces that sit on a bridge belong to the bridge, not to the host.
    nodes, edges, on_bridge, host_node = piece.nodes, piece.edges, piece.index.on_bridge, piece.host_node
    for node_id in root:
        if node_id in nodes and node_id not in on_bridge:
            edges[(host_node, node_id, EdgeKind.MEMBER)] = None
    if piece.maybe_dangling:
        drop_dangling(nodes, edges, also=host_node)
        forget_dropped(piece)
    return piece


def forget_dropped(piece: HostPhysical) -> None:
    """The index's tunnel and OVS lookups without the nodes the part dropped (an OVS interface
    named like a bridge becomes that bridge): the cross joins look nodes up by them."""
    nodes, index = piece.nodes, piece.index
    index.tunnel_ifaces = [(node_id, ip) for node_id, ip in index.tunnel_ifaces if node_id in nodes]
    index.tunnel_to = {ip: node_id for ip, node_id in index.tunnel_to.items() if node_id in nodes}
    for ip, node_id in index.tunnel_ifaces:
        index.tunnel_to.setdefault(ip, node_id)
    for iface_id, node_ids in list(index.by_iface_id.items()):
        kept = [node_id for node_id in node_ids if node_id in nodes]
        if kept:
            index.by_iface_id[iface_id] = kept
        else:
            del index.by_iface_id[iface_id]
    index.patch_ports &= nodes.keys()
    index.on_bridge &= nodes.keys()
    index.router_devices &= nodes.keys()


def plain_linux_bridges(
    interfaces: list[JsonDict], namespaces: list[JsonDict], bridges: list[JsonDict], ovs_bridges: set[str]
) -> set[str]:
    """Root Linux bridges (qbr) that nothing else in the report names: drawn as bridges at once.

    Any other Linux bridge device first becomes an interface node (OVS, a veth or a
    namespace may refer to it by name) and is turned into its bridge later.
    """
    # one pass over the root interfaces (the report's biggest list): bridges without a peer
    # are the candidates; peers are named, and so are names the root lists twice
    candidates: set[str] = set()
    named: set[str] = {""}
    for iface in interfaces:
        peer = iface.get("peer")
        if peer:
            named.add(peer)
        elif iface.get("kind") == "bridge":
            candidates.add(iface["name"])
    candidates -= ovs_bridges
    if not candidates:
        return candidates
    names = [iface["name"] for iface in interfaces]
    if len(set(names)) < len(names):
        named.update(name for name, count in Counter(names).items() if count > 1)
    for namespace in namespaces:
        for iface in namespace.get("interfaces") or []:
            named.update((iface["name"], iface.get("peer") or ""))
    for bridge in bridges:
        for port in bridge.get("ports") or []:
            for intf in port.get("interfaces") or []:
                named.add(intf["name"])
                if intf.get("type") == "patch":
                    named.add((intf.get("options") or {}).get("peer") or "")
    return candidates - named


def add_iface(piece: HostPhysical, namespace: str | None, iface: JsonDict, id_prefix: str) -> str:
    """An interface node; ``id_prefix``: its namespace's iface node id prefix (see g.iface_id)."""
    # The hottest function of the join (~70,000 calls on a 20,000-port cloud): lookups inlined.
    name = iface["name"]
    host = piece.host
    node_id = id_prefix + name
    prefix = _PREFIX_HEAD.get(name[:3])  # device_prefix(name), inlined
    if prefix is not None and (len(name) <= len(prefix) or (len(prefix) == 4 and name[3] != "-")):
        prefix = None
    role = DEVICE_ROLE[prefix] if prefix else None
    get = iface.get
    addresses = get("addresses")
    if not addresses and addresses.__class__ is not list:
        addresses = []
    state = get("state")
    # one literal with every key: a 6th key added to a 5-key dict would resize it
    node: g.Node = {
        "id": node_id,
        "kind": _IFACE,
        "label": name,
        "attrs": {
            "namespace": namespace,
            "name": name,
            "if_kind": get("kind"),
            "mac": get("mac"),
            "mtu": get("mtu"),
            "state": state,
            "addresses": addresses,  # the report's own list (a new one only if it has none)
            "role": role,
        },
        "host": host,
        "status": _IFACE_STATUS_AS_SPELT.get(state) or iface_status(state),
    }
    if node["status"] is None:
        del node["status"]
    piece.nodes[node_id] = node
    index = piece.index
    by_name = index.by_name
    if name not in by_name:
        by_name[name] = node_id
    if prefix:
        if role in ROUTER_DEVICE_ROLES:
            index.router_devices_by_fragment[name[len(prefix) :]].append(node_id)
            index.router_devices.add(node_id)
        else:
            index.by_id11[name[len(prefix) :]].append(node_id)
    return node_id


def drop_iface(piece: HostPhysical, node_id: str, name: str, linked: bool = True) -> None:
    """Forget an interface node that the map draws as something else (a bridge).

    ``linked``: an edge may point at it (the caller cannot tell that none does).
    """
    index = piece.index
    piece.maybe_dangling = piece.maybe_dangling or linked
    piece.nodes.pop(node_id, None)
    index.by_name.pop(name, None)
    prefix = device_prefix(name)
    if prefix:
        by_fragment = index.router_devices_by_fragment if node_id in index.router_devices else index.by_id11
        if node_id in by_fragment.get(name[len(prefix) :], []):
            by_fragment[name[len(prefix) :]].remove(node_id)


def add_namespace(piece: HostPhysical, namespace: JsonDict) -> list[str]:
    """A namespace and its interfaces; returns their node ids."""
    name = namespace["name"]
    host = piece.host
    role, ref = namespace_role(name)
    node_id = g.netns_id(host, name)
    iptables = namespace.get("iptables") or {}
    piece.nodes[node_id] = {
        "id": node_id,
        "kind": NodeKind.NETNS,
        "label": name,
        "attrs": {
            "name": name,
            "role": role,
            "ref": ref,
            "routes": namespace.get("routes") or [],
            "rules": namespace.get("rules") or [],
            "has_iptables": bool(iptables),
        },
        "host": host,
    }
    index, edges = piece.index, piece.edges
    index.namespaces[name] = node_id
    edges[(piece.host_node, node_id, EdgeKind.MEMBER)] = None
    ids = []
    id_prefix = f"iface:{host}:{name}:"
    for iface in namespace.get("interfaces") or []:
        iface_node = add_iface(piece, name, iface, id_prefix)
        ids.append(iface_node)
        edges[(node_id, iface_node, EdgeKind.MEMBER)] = None
        if iface.get("peer"):
            index.veth_peers[name].append(iface["peer"])
    return ids


def add_ovs_bridges(piece: HostPhysical, bridges: list[JsonDict], flows: Mapping[str, list[str]]) -> None:
    host, nodes, edges, host_node = piece.host, piece.nodes, piece.edges, piece.host_node
    for bridge in bridges:
        name = bridge["name"]
        bridge_node = g.bridge_id(host, name)
        own = nodes.get(g.iface_id(host, None, name))
        nodes[bridge_node] = {
            "id": bridge_node,
            "kind": NodeKind.BRIDGE,
            "label": name,
            "attrs": {
                "type": "ovs",
                "name": name,
                "datapath_type": bridge.get("datapath_type"),
                "fail_mode": bridge.get("fail_mode"),
                "addresses": (own or {}).get("attrs", {}).get("addresses", []),
                "flow_count": len(flows.get(name, [])),
            },
            "host": host,
        }
        edges[(host_node, bridge_node, EdgeKind.MEMBER)] = None
        if own is not None:  # the bridge's own internal port is the bridge itself on the map
            # only an earlier bridge's member edge can point at a root interface yet
            drop_iface(piece, own["id"], name, linked=own["id"] in piece.index.on_bridge)
        ovs_bridge = bridge_node.split(":", 2)[2]
        for port in bridge.get("ports") or []:
            tag = port.get("tag")
            for intf in port.get("interfaces") or []:
                if intf["name"] != name:
                    add_ovs_interface(piece, bridge_node, ovs_bridge, tag, intf)


def add_ovs_interface(piece: HostPhysical, bridge_node: str, ovs_bridge: str, tag: Any, intf: JsonDict) -> None:
    index = piece.index
    get = intf.get
    node_id = index.by_name.get(intf["name"])
    if node_id is None:
        # Patch and userspace tunnel ports have no kernel device: OVS is all we know.
        node_id = add_iface(piece, None, {"name": intf["name"], "kind": get("type") or "ovs"}, piece.root_iface_prefix)
    external_ids = get("external_ids") or {}
    options = get("options") or {}
    kind = get("type")
    attrs = piece.nodes[node_id]["attrs"]
    attrs["ovs_bridge"] = ovs_bridge
    attrs["ovs_type"] = kind or "system"
    attrs["tag"] = tag
    attrs["ofport"] = get("ofport")
    attrs["options"] = options
    attrs["external_ids"] = external_ids
    piece.edges[(bridge_node, node_id, _MEMBER)] = None
    index.on_bridge.add(node_id)
    iface_id = external_ids.get("iface-id")
    if iface_id:
        index.by_iface_id[iface_id].append(node_id)
    if kind:
        if kind == "patch" and options.get("peer"):
            attrs["patch_peer"] = g.iface_id(piece.host, None, options["peer"])
            index.patch_ports.add(node_id)
        if kind in TUNNEL_TYPES and options.get("remote_ip"):
            index.tunnel_ifaces.append((node_id, options["remote_ip"]))
            index.tunnel_to.setdefault(options["remote_ip"], node_id)


def add_linux_bridges_and_links(
    piece: HostPhysical,
    scopes: list[tuple[str | None, list[JsonDict], list[str]]],
    ovs_bridges: set[str],
    plain: set[str],
) -> None:
    """Linux bridges (qbr) from kernel masters, veth pairs and patch pairs."""
    host, nodes, edges, index = piece.host, piece.nodes, piece.edges, piece.index
    names_in: dict[str | None, dict[str, JsonDict]] = {
        ns: {i["name"]: i for i in ifs} for ns, ifs, _ in scopes if ns is not None
    }
    on_bridge = index.on_bridge
    member = EdgeKind.MEMBER
    bridge_prefix = f"bridge:{host}:"
    iface_prefix = f"iface:{host}:"
    veth = EdgeKind.VETH
    masters: list[g.EdgeKey] = []  # bridge -> member edges: the report may name a bridge it lacks
    for namespace, ifaces, node_ids in scopes:
        if namespace is not None:
            for iface, node_id in zip(ifaces, node_ids, strict=True):
                if iface.get("peer") and node_id in nodes:
                    add_veth(piece, namespace, iface, node_id, names_in)
            continue
        for iface, node_id in zip(ifaces, node_ids, strict=True):
            get = iface.get
            name = iface["name"]
            if name in plain:
                add_linux_bridge(piece, iface, was_iface=False)
            elif node_id not in nodes:
                continue
            elif get("kind") == "bridge" and name not in ovs_bridges:
                add_linux_bridge(piece, iface)
            master = get("master")
            if master and master != OVS_DATAPATH_MASTER and master not in ovs_bridges:
                key = (bridge_prefix + master, node_id, member)
                edges[key] = None
                masters.append(key)
                on_bridge.add(node_id)
            peer_name = get("peer")
            if peer_name and node_id in nodes:  # a bridge device (dropped above) is no veth end
                peer_ns = get("peer_netns")
                peer = f"{iface_prefix}{peer_ns or '-'}:{peer_name}"
                if peer in nodes:  # add_veth, inlined for the root namespace (a null peer_netns: root)
                    edges[(node_id, peer, veth) if node_id <= peer else (peer, node_id, veth)] = None
                else:
                    add_veth(piece, namespace, iface, node_id, names_in)
    if not piece.maybe_dangling:
        piece.maybe_dangling = any(source not in nodes or target not in nodes for source, target, _ in masters)
    patch_ports = index.patch_ports
    if patch_ports:
        # Only a name's first node takes OVS attributes: the patch ports are among them.
        for node_id in list(index.by_name.values()):
            if node_id in patch_ports:
                peer = nodes[node_id]["attrs"].get("patch_peer")
                if peer in nodes:
                    add_link(edges, node_id, peer, EdgeKind.PATCH)


def add_link(edges: Edges, a: str, b: str, kind: str) -> None:
    """An undirected link (veth, patch, tunnel): stored once, source < target."""
    edges[(a, b, kind) if a <= b else (b, a, kind)] = None


def add_linux_bridge(piece: HostPhysical, iface: JsonDict, was_iface: bool = True) -> None:
    """A root Linux bridge device drawn as a bridge (``was_iface``: it was an interface node first)."""
    host, name = piece.host, iface["name"]
    node_id = f"bridge:{host}:{name}"
    # The bridge device itself is drawn as the bridge, not as an interface.
    if was_iface:
        drop_iface(piece, g.iface_id(host, None, name), name)
    prefix = device_prefix(name)
    state = iface.get("state")
    node: g.Node = {
        "id": node_id,
        "kind": _BRIDGE,
        "label": name,
        "attrs": {
            "type": "linux",
            "name": name,
            "role": DEVICE_ROLE[prefix] if prefix else None,
            "mtu": iface.get("mtu"),
        },
        "host": host,
        "status": _IFACE_STATUS_AS_SPELT.get(state) or iface_status(state),
    }
    if node["status"] is None:
        del node["status"]
    piece.nodes[node_id] = node
    piece.index.linux_bridges[name] = node_id
    piece.edges[(piece.host_node, node_id, _MEMBER)] = None


def add_veth(
    piece: HostPhysical,
    namespace: str | None,
    iface: JsonDict,
    node_id: str,
    names_in: Mapping[str | None, Mapping[str, JsonDict]],
) -> None:
    peer_name = iface["peer"]
    peer_ns = iface.get("peer_netns")
    if peer_ns is None and namespace is not None:
        # A null peer_netns means "root", unless the peer sits beside it in the same namespace.
        same = names_in.get(namespace, {}).get(peer_name)
        if same is not None and same.get("peer") == iface["name"]:
            peer_ns = namespace
    peer = f"iface:{piece.host}:{peer_ns or '-'}:{peer_name}"
    if peer in piece.nodes:
        piece.edges[(node_id, peer, _VETH) if node_id <= peer else (peer, node_id, _VETH)] = None
    else:
        where = f"namespace {peer_ns}" if peer_ns else "the root namespace"
        attrs = piece.nodes[node_id]["attrs"]
        warnings = attrs.setdefault("warnings", [])
        message = f"veth peer {peer_name} in {where} is not in the report"
        if message not in warnings:
            warnings.append(message)


# --------------------------------------------------------------------------- cross joins


def add_tunnels(graph: g.Graph, indexes: Mapping[str, HostIndex], tunnels: Mapping[str, str]) -> None:
    host_tunnel_ip = {host: ip for ip, host in tunnels.items()}
    for host, index in indexes.items():
        own_ip = host_tunnel_ip.get(host)
        for node_id, remote_ip in index.tunnel_ifaces:
            peer_host = tunnels.get(remote_ip)
            graph.writable(node_id)["attrs"]["remote_host"] = peer_host
            if peer_host is None:
                graph.warn(node_id, f"tunnel to {remote_ip}: no host has that tunnel IP")
                continue
            peer_index = indexes.get(peer_host)
            back = peer_index.tunnel_to.get(own_ip) if peer_index and own_ip is not None else None
            if back is not None:
                add_link(graph.edges, node_id, back, EdgeKind.TUNNEL)
            else:
                graph.add_edge(node_id, g.host_id(peer_host), EdgeKind.TUNNEL)
                graph.warn(node_id, f"{peer_host} has no tunnel port back to {host}")


UNBOUND_OWNERS = frozenset({DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED, DeviceOwner.HA_REPLICATED_INTERFACE})


def bind_ports(
    graph: g.Graph, logical: LogicalPart, indexes: Mapping[str, HostIndex], described: Described | None = None
) -> Described:
    """Ports to their devices in a graph joined from cached parts (it shares their node dicts);
    returns the described copies of shared nodes (for the next join to reuse).

    ``described``: those of the previous join, reused when made from the same node for the same words.
    """
    nodes, edges = graph.nodes, graph.edges
    last = described or {}
    made: Described = {}
    binds = EdgeKind.BINDS
    every_host = list(indexes.values())
    port_node_ids = logical.port_node_ids
    for position, port in enumerate(logical.ports):
        node_id = port_node_ids[position]
        if node_id is None:
            continue
        port_uuid = port["id"]
        get = port.get
        host = get("binding:host_id")
        devices_on = devices_host(port)
        if devices_on is not None:
            index = indexes.get(devices_on)
            on_hosts: Iterable[HostIndex] = () if index is None else (index,)
        else:
            on_hosts = every_host
        devices, bound = port_devices(on_hosts, port_uuid)
        for device in devices:
            edges[(node_id, device, binds)] = None
        if bound:
            what, fixed = logical.words(position)
            for iface in dict.fromkeys(bound):
                base = nodes[iface]
                hit = last.get(iface)
                if (
                    hit is not None
                    and hit[0] is base
                    and hit[1] == port_uuid
                    and hit[2] == what
                    and hit[3] == fixed
                ):
                    nodes[iface] = hit[4]  # shared like the cached node: a later change copies it
                    made[iface] = hit
                    continue
                node = graph.writable(iface)
                describe_iface(node, port_uuid, what, fixed)
                if node is not base:  # a copy of a shared node: kept as described, copied again if changed
                    made[iface] = (base, port_uuid, what, fixed, node)
                    graph.disown(iface)
        if host and (host not in indexes or (not bound and get("status") == "ACTIVE")):
            warn_unbound_port(graph, port, bound, indexes)
    warn_unknown_iface_ids(graph, logical, indexes)
    return made


def port_devices(on_hosts: Iterable[HostIndex], port_uuid: str) -> tuple[list[str], list[str]]:
    """The device nodes a port binds on these hosts, in order (its interfaces, then its qbr, per host),
    and its interfaces alone (the ones its words describe)."""
    id11 = port_uuid[:ID_PREFIX_LEN]
    qbr_name = "qbr" + id11
    devices: list[str] = []
    bound: list[str] = []
    for index in on_hosts:
        named = index.by_id11.get(id11)
        if named:
            devices += named
            bound += named
        plugged = index.by_iface_id.get(port_uuid)
        if plugged:
            if index.router_devices:  # rfp-/fpr- carry a router id, not a port id
                plugged = [iface for iface in plugged if iface not in index.router_devices]
            devices += plugged
            bound += plugged
        qbr = index.linux_bridges.get(qbr_name)
        if qbr:
            devices.append(qbr)
    return devices, bound


def warn_unknown_iface_ids(graph: g.Graph, logical: LogicalPart, indexes: Mapping[str, HostIndex]) -> None:
    port_uuids = logical.port_uuids
    for index in indexes.values():
        for iface_id_value, node_ids in index.by_iface_id.items():
            if iface_id_value not in port_uuids:
                for node_id in node_ids:
                    graph.warn(node_id, f"external_ids:iface-id {iface_id_value} matches no Neutron port")


@dataclass
class ColdBinding:
    """Ports <-> devices in a join without a cache (see :func:`join_cold`), one host at a time.

    Each host's ports are matched right after its physical part is made, while its nodes
    are still in the CPU's cache; the ``binds`` edges are added at the end in the ports'
    order, and an interface that several ports bind is described by the last of them in
    that order, as :func:`bind_ports` does.
    """

    graph: g.Graph
    logical: LogicalPart
    on_host: dict[str, list[int]]  # host -> positions of the ports bound to it
    everywhere: list[int]  # positions of the ports whose devices may be on every host
    # per port position: its node id and the devices it binds, in order
    found: list[tuple[str, list[str]] | None]
    describer: dict[str, int] = field(default_factory=dict)  # iface node id -> position of its describer

    @classmethod
    def start(cls, graph: g.Graph, logical: LogicalPart) -> ColdBinding:
        on_host, everywhere = ports_by_host(logical.ports)
        return cls(graph, logical, on_host, everywhere, [None] * len(logical.ports))

    def match(self, position: int, on_hosts: Iterable[HostIndex], nodes: Nodes) -> list[str] | None:
        """Match the port at ``position`` to its devices on these hosts (``nodes`` holds them);
        returns the interfaces it binds, or None if the port has no node."""
        node_id = self.logical.port_node_ids[position]
        if node_id is None:
            return None
        devices, bound = port_devices(on_hosts, self.logical.ports[position]["id"])
        if devices:
            self.found[position] = (node_id, devices)
        if bound:
            describe_bound(nodes, self.logical, self.describer, position, bound)
        return bound

    def host(self, host: str, piece: HostPhysical) -> None:
        """Match the ports bound to ``host`` to the devices of its physical part."""
        ports, index = self.logical.ports, piece.index
        on_hosts = (index,)
        for position in self.on_host.get(host, ()):
            bound = self.match(position, on_hosts, piece.nodes)
            if bound == [] and ports[position].get("status") == "ACTIVE":
                warn_unbound_port(self.graph, ports[position], bound, {host: index})

    def finish(self, indexes: Mapping[str, HostIndex]) -> None:
        """The ports of hosts without a report, those on every host, and the edges."""
        graph, nodes = self.graph, self.graph.nodes
        ports, port_node_ids = self.logical.ports, self.logical.port_node_ids
        for host, positions in self.on_host.items():
            if host not in indexes:
                for position in positions:
                    if port_node_ids[position] is not None:
                        warn_unbound_port(graph, ports[position], [], indexes)
        every_host = list(indexes.values())
        for position in self.everywhere:
            bound = self.match(position, every_host, nodes)
            if bound is None:
                continue
            port = ports[position]
            bound_to = port.get("binding:host_id")
            if bound_to and (bound_to not in indexes or (not bound and port.get("status") == "ACTIVE")):
                warn_unbound_port(graph, port, bound, indexes)
        edges, binds = graph.edges, EdgeKind.BINDS
        for matched in self.found:
            if matched is not None:
                node_id, devices = matched
                for device in devices:
                    edges[(node_id, device, binds)] = None
        warn_unknown_iface_ids(graph, self.logical, indexes)


def devices_host(port: JsonDict) -> str | None:
    """The host a port's devices are on: its binding host; None when they may be on every host
    (unbound, or a distributed router's interfaces and HA replicated ones, plugged wherever needed)."""
    host = port.get("binding:host_id")
    if host and (port.get("device_owner") or "") not in UNBOUND_OWNERS:
        return host
    return None


def ports_by_host(ports: list[JsonDict]) -> tuple[dict[str, list[int]], list[int]]:
    """Positions of the ports whose devices are on each host, and of those that may be on every host."""
    on_host: dict[str, list[int]] = {}
    everywhere: list[int] = []
    for position, port in enumerate(ports):
        host = devices_host(port)
        if host is not None:
            positions = on_host.get(host)
            if positions is None:
                on_host[host] = [position]
            else:
                positions.append(position)
        else:
            everywhere.append(position)
    return on_host, everywhere


def describe_bound(
    nodes: Nodes, logical: LogicalPart, describer: dict[str, int], position: int, bound: list[str]
) -> None:
    """The port at ``position`` describes the interfaces it binds, unless a later port (in the
    snapshot's order) did already."""
    port = logical.ports[position]
    what, fixed = logical.words(position)
    for iface in dict.fromkeys(bound) if len(bound) > 1 else bound:
        before = describer.get(iface)
        if before is not None and before > position:
            continue
        describer[iface] = position
        describe_iface(nodes[iface], port["id"], what, fixed)


def warn_unbound_port(graph: g.Graph, port: JsonDict, bound: list[str], indexes: Mapping[str, HostIndex]) -> None:
    host = port.get("binding:host_id")
    if host and host not in indexes:
        graph.warn(g.port_id(port["id"]), f"bound to host {host}, which sends no agent report")
    elif host and not bound and port.get("status") == "ACTIVE":
        graph.warn(g.port_id(port["id"]), f"ACTIVE and bound to {host}, but no device of it is on that host")


def describe_iface(node: g.Node, port_uuid: str, what: str, fixed: str) -> None:
    """Say what an interface is in Neutron's terms, e.g. "qr interface of router router1, 10.0.0.1/24"."""
    attrs = node["attrs"]
    get = attrs.get
    text = (get("role") or "device") + " " + what
    tag = get("tag")
    if tag is not None:
        text += f", VLAN tag {tag}"
    # A device inside a namespace carries the port's address; one on a bridge only a link-local one.
    own = get("addresses")
    addresses = (", ".join(a for a in own if not a.startswith("fe80:")) if own else "") or fixed
    if addresses:
        text += ", " + addresses
    attrs["port_id"] = port_uuid
    attrs["describe"] = text


def bind_namespaces(graph: g.Graph, logical: LogicalPart, indexes: Mapping[str, HostIndex]) -> None:
    """Routers to qrouter-/snat-, external networks to fip-, networks to qdhcp-, VMs to the lab's vm-."""
    routers_by_fragment = logical.routers_by_fragment
    routers_bound: set[str] = set()
    schedule = logical.schedule
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
                # a host speaks for itself only: a namespace Neutron did not schedule there is a claim
                claim = schedule.claim_problem(index.host, role, ref or "") if schedule is not None else None
                if claim is not None:
                    graph.warn(ns_node, claim)
                    graph.warn(g.host_id(index.host), claim)
                    continue
                graph.add_edge(target, ns_node, EdgeKind.BINDS)
                routers_bound.add(target)
            elif target:
                graph.warn(ns_node, f"{name} belongs to no {target.split(':')[0]} the cloud knows")
            elif role == "vm":
                bind_vm_namespace(graph, index, name, ref or "", logical.servers_by_port_id11)
        if index.router_devices:
            bind_router_devices(graph, index, routers_by_fragment)
    for router in logical.router_node_ids:
        if router not in routers_bound:
            graph.warn(router, "no qrouter- namespace on any reporting host")


def bind_router_devices(graph: g.Graph, index: HostIndex, routers_by_fragment: Mapping[str, str]) -> None:
    """rfp-/fpr- + router id[:10] to their router."""
    for fragment, node_ids in index.router_devices_by_fragment.items():
        router = routers_by_fragment.get(fragment)
        if router is None:
            continue
        for node_id in node_ids:
            graph.add_edge(router, node_id, EdgeKind.BINDS)
            attrs = graph.writable(node_id)["attrs"]
            label = graph.nodes[router]["label"]
            attrs["describe"] = f"{attrs['role']}- of router {label} (qrouter <-> fip namespace veth)"


def bind_vm_namespace(
    graph: g.Graph, index: HostIndex, namespace: str, vm_name: str, servers_by_port_id11: Mapping[str, str]
) -> None:
    """The lab's VMs are namespaces: join one to its instance through its veth to tap<port id[:11]>."""
    for peer in index.veth_peers.get(namespace, []):
        server = servers_by_port_id11.get(peer[len("tap") :]) if peer.startswith("tap") else None
        if server and server in graph.nodes:
            graph.add_edge(server, index.namespaces[namespace], EdgeKind.BINDS)
            if graph.nodes[server]["attrs"].get("derived_from_ports"):
                node = graph.writable(server)
                node["label"] = vm_name
                node["attrs"]["name"] = vm_name


# --------------------------------------------------------------------------- entry point


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC paused while the join runs, and what it made moved to the oldest generation.

    The join allocates ~10 objects per device and frees none: the cyclic GC's passes
    over that growing heap cost more than the join itself (measured: 40% of its time).
    Paused alone, the GC would still scan all of it (~430,000 objects on a 20,000-port
    cloud) in its first young pass after the join (~0.2 s) and again in the next middle
    one. None of it is a cycle (plain dicts, lists, tuples and strings, freed by reference
    counting), so it goes straight to the oldest generation instead: ``freeze`` moves
    every tracked object to the permanent generation and resets the young count,
    ``unfreeze`` moves them all back into the oldest one, where only full collections
    (as rare as ever: objects promoted this way do not count towards triggering one)
    look at them. Nothing stays frozen, so a cycle anywhere is still collected, by the
    next full collection. If something else froze objects (a pre-fork server does), they
    are left alone and the join's objects age as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def join(
    cloud: CloudSnapshot,
    reports: Mapping[str, JsonDict],
    cache: JoinCache | None = None,
    digests: InputDigests | None = None,
) -> g.Graph:
    """Join the cloud snapshot with each host's latest agent report into one graph.

    With a ``cache``, the parts whose input did not change since the cache's last
    join are reused (the graph is the same); the graph then shares node dicts
    with the cache: read it, do not change it. ``digests``: the inputs' digests
    as :func:`digest` made them when they were stored (those missing are computed).
    """
    with gc_paused():
        if cache is None:
            return join_cold(cloud, reports)
        digests = digests or InputDigests()
        logical = cache.logical_part(cloud, digests.cloud)
        before = dict(cache.hosts)
        pieces = cache.host_parts(reports, digests.reports)
        try:
            return join_parts(logical, pieces, reports, cache)
        except Exception as exc:
            # A part made afresh broke the cross joins (a join bug a report found): those parts
            # are quarantined, their last good ones stand in, and the rest of the cloud joins.
            # join_parts copies the nodes it changes, so the cached parts are as they were.
            if not cache.rebuilt_hosts:
                raise
            rebuilt = list(cache.rebuilt_hosts)

            def joins_with(new: set[str]) -> bool:
                """Whether the join succeeds with only these hosts' new parts (the others' from ``before``)."""
                trial = {
                    host: piece if host not in rebuilt or host in new else before[host][1]
                    for host, piece in pieces.items()
                    if host not in rebuilt or host in new or host in before
                }
                try:
                    join_parts(logical, trial, reports, cache)
                except Exception:
                    return False
                return True

            cache.fail_hosts(before, quarantine.culprits(rebuilt, joins_with), exc)
            pieces = cache.host_parts(reports, digests.reports)
            return join_parts(logical, pieces, reports, cache)


def join_cold(cloud: CloudSnapshot, reports: Mapping[str, JsonDict]) -> g.Graph:
    """The join without a cache: the graph is made in the parts' own dicts, host by host."""
    logical = logical_part(cloud)
    graph = g.Graph(nodes=logical.nodes, edges=logical.edges)
    tunnels = add_hosts(graph, logical, reports)
    binding = ColdBinding.start(graph, logical)
    nodes_update, edges_update = graph.nodes.update, graph.edges.update
    indexes: dict[str, HostIndex] = {}
    for host, report in sorted(reports.items()):
        piece, failed = quarantine.build_part(host, report, host_physical)
        if piece is None or failed is not None:
            graph.warn(g.host_id(host), (failed or quarantine.not_encodable(host)).warning(host))
            continue
        nodes_update(piece.nodes)
        edges_update(piece.edges)
        indexes[host] = piece.index
        binding.host(host, piece)
    add_tunnels(graph, indexes, tunnels)
    binding.finish(indexes)
    bind_namespaces(graph, logical, indexes)
    mark_drift(graph, logical, indexes, reports)
    return graph


def join_parts(
    logical: LogicalPart,
    pieces: Mapping[str, HostPhysical],
    reports: Mapping[str, JsonDict],
    cache: JoinCache,
) -> g.Graph:
    """The cross joins of cached parts: the logical part, host nodes and each host's physical part
    in one graph, which shares the parts' nodes and copies those it changes."""
    graph = g.Graph(nodes=dict(logical.nodes), edges=dict(logical.edges), owned=set())
    tunnels = add_hosts(graph, logical, reports)
    for host, failed in cache.quarantined.items():
        graph.warn(g.host_id(host), failed.warning(host))
    nodes_update, edges_update = graph.nodes.update, graph.edges.update
    for piece in pieces.values():
        nodes_update(piece.nodes)
        edges_update(piece.edges)
    indexes = {host: piece.index for host, piece in pieces.items()}
    add_tunnels(graph, indexes, tunnels)
    cache.described = bind_ports(graph, logical, indexes, cache.described)
    bind_namespaces(graph, logical, indexes)
    mark_drift(graph, logical, indexes, reports)
    return graph


def digest(value: object) -> bytes | None:
    """A digest of a JSON value (None if it is not JSON: then it is not cached).

    The dashboard computes it once, when it stores a report or a snapshot, and passes it
    to :func:`join` (:class:`InputDigests`) instead of hashing every input on every rebuild.
    """
    try:
        return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), digest_size=16).digest()
    except TypeError:
        return None


@dataclass(frozen=True)
class InputDigests:
    """The digests of a join's inputs, made when they were stored: the cloud snapshot's,
    and each host's report's (hosts not named have theirs computed by the join)."""

    cloud: bytes | None = None
    reports: Mapping[str, bytes] = field(default_factory=dict)


@dataclass
class JoinCache:
    """The parts of the last join, keyed by a digest of their input, for :func:`join` to reuse.

    ``rebuilt_hosts`` and ``rebuilt_logical`` say what the last join had to make afresh.
    """

    hosts: dict[str, tuple[bytes, HostPhysical]] = field(default_factory=dict)
    logical: tuple[bytes, LogicalPart] | None = None
    # the interfaces that ports bound in the last join, as described (see bind_ports)
    described: Described = field(default_factory=dict)
    rebuilt_hosts: list[str] = field(default_factory=list)
    rebuilt_logical: bool = False
    # hosts whose report the last join could not use (topology/quarantine.py), and why
    quarantined: dict[str, quarantine.Quarantined] = field(default_factory=dict)
    # host -> the digest of a report that failed the join, and why (not tried again)
    failed: dict[str, tuple[bytes, quarantine.Quarantined]] = field(default_factory=dict)

    def logical_part(self, cloud: CloudSnapshot, key: bytes | None = None) -> LogicalPart:
        """The logical part of ``cloud``; ``key``: its digest, if known."""
        key = key or digest(cloud)
        cached = self.logical
        self.rebuilt_logical = cached is None or key is None or cached[0] != key
        if cached is not None and not self.rebuilt_logical:
            return cached[1]
        part = logical_part(cloud)
        self.logical = (key, part) if key is not None else None
        return part

    def host_parts(
        self, reports: Mapping[str, JsonDict], keys: Mapping[str, bytes] | None = None
    ) -> dict[str, HostPhysical]:
        """Each host's physical part, in host order; hosts that no longer report are forgotten.

        ``keys``: the digests of the reports, for the hosts whose digest is known.
        """
        keys = keys or {}
        kept: dict[str, tuple[bytes, HostPhysical]] = {}
        pieces: dict[str, HostPhysical] = {}
        rebuilt: list[str] = []
        quarantined: dict[str, quarantine.Quarantined] = {}
        for host, report in sorted(reports.items()):
            key = keys.get(host) or digest(report)
            cached = self.hosts.get(host)
            if key is not None and cached is not None and cached[0] == key:
                piece = cached[1]
            else:
                made, failed = self.build(host, report, key)
                if made is None or failed is not None:
                    # the last good part (kept for the next join too), else the host node alone
                    if cached is not None:
                        kept[host], pieces[host] = cached, cached[1]
                    quarantined[host] = replace(failed or quarantine.not_encodable(host), kept_last=cached is not None)
                    continue
                piece = made
                rebuilt.append(host)
            if key is not None:
                kept[host] = (key, piece)
            pieces[host] = piece
        self.hosts, self.rebuilt_hosts, self.quarantined = kept, rebuilt, quarantined
        self.failed = {host: self.failed[host] for host in quarantined if host in self.failed}
        return pieces

    def fail_hosts(self, before: dict[str, tuple[bytes, HostPhysical]], hosts: list[str], exc: Exception) -> None:
        """The new parts of ``hosts`` failed the join: not tried again with the same report, and
        their parts from ``before`` (the cache's hosts before the last :meth:`host_parts`) kept."""
        quarantine.log.error("the join failed with the new parts of %s", hosts, exc_info=exc)
        why = quarantine.Quarantined(f"the join failed on it: {type(exc).__name__}", kept_last=False)
        for host in hosts:
            self.failed[host] = (self.hosts[host][0], why)
            if host in before:
                self.hosts[host] = before[host]
            else:
                del self.hosts[host]

    def build(
        self, host: str, report: JsonDict, key: bytes | None
    ) -> tuple[HostPhysical | None, quarantine.Quarantined | None]:
        """A host's part made afresh; None and why if its report cannot be joined."""
        if key is None:
            return None, None  # not encodable: quarantine.not_encodable says so
        failed = self.failed.get(host)
        if failed is not None and failed[0] == key:
            return None, failed[1]  # this very report failed before: not tried again
        made, why = quarantine.build_part(host, report, host_physical)
        if why is not None:
            self.failed[host] = (key, why)
        return made, why
