"""The packet-path explainer (pure): where a packet really goes, hop by hop, and what breaks it.

It walks the joined graph the way seed 001's DVR guide and seed 000's
all-in-one walk a packet: from the source port's tap through qbr, qvb/qvo
and br-int (local VLAN tag), over br-tun and a VXLAN tunnel (VNI) when the
next device is on another host, into the router's namespace (legacy
qrouter; DVR qrouter on the local host, snat on the SNAT host, fip with its
rfp/fpr pair and fg port) and out through qg/fg, br-int's patch to br-ex and
br-ex's port to the outside. Each hop carries what happens there, evidence
from the live state (tags, VNIs, iptables rules with counters, flows) and a
status; what the state does not support turns the verdict "broken" with a
problem code and a sentence naming what to fix.

Input: the graph (topology.join), the hosts' latest agent reports (for
iptables-save and dump-flows text), and the two endpoints.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from topology.drift import orphan_fix, orphan_gateway
from topology.freshness import stale_message
from topology.kinds import DeviceOwner, EdgeKind, NodeKind

JsonDict = dict[str, Any]
Status = Literal["ok", "warn", "fail", "unknown"]
VXLAN_MAX_MTU = 1450
IP_PROTOCOL_NUMBERS = {"icmp": "1", "tcp": "6", "udp": "17"}


class Problem:
    """Problem codes: stable strings clients can key on."""

    ROUTER_NO_GATEWAY = "router_no_gateway"
    SUBNET_NO_ROUTER = "subnet_no_router"
    FIP_NOT_ASSOCIATED = "fip_not_associated"
    FIP_UNREACHABLE = "fip_unreachable"
    PORT_DOWN = "port_down"
    PORT_ADMIN_DOWN = "port_admin_down"
    PORT_UNBOUND = "port_unbound"
    HOST_NO_REPORT = "host_no_report"
    HOST_STALE = "host_stale"
    AGENT_DEAD = "agent_dead"
    NAMESPACE_MISSING = "namespace_missing"
    DEVICE_MISSING = "device_missing"
    NO_QG_PORT = "no_qg_port"
    NO_FG_PORT = "no_fg_port"
    BR_EX_NO_PHYSICAL_PORT = "br_ex_no_physical_port"
    BRIDGE_MAPPING_MISSING = "bridge_mapping_missing"
    VM_ON_EXTERNAL_NETWORK = "vm_on_external_network"
    SG_NO_INGRESS = "sg_no_ingress"
    VXLAN_MTU = "vxlan_mtu_too_high"
    NO_DHCP_PORT = "no_dhcp_port"
    NO_TUNNEL = "no_tunnel"
    UNKNOWN_ENDPOINT = "unknown_endpoint"
    NO_ROUTE = "no_route"
    # Neutron says the router has no gateway, but its gateway port and qg- are left and still route (drift)
    GATEWAY_PORT_ORPHANED = "gateway_port_orphaned"


class PathError(ValueError):
    """An endpoint that names nothing in the graph (the API answers 400/404 with it)."""


@dataclass
class Hop:
    node: str
    host: str | None
    what: str
    status: Status = "ok"
    evidence: str = ""
    flows: list[str] = field(default_factory=list)

    def to_dict(self) -> JsonDict:
        hop: JsonDict = {"node": self.node, "host": self.host, "what": self.what, "status": self.status,
                         "evidence": self.evidence}
        if self.flows:
            hop["flows"] = self.flows
        return hop


@dataclass(frozen=True)
class Probe:
    """What the packet is: ICMP echo, or TCP to a port (SSH = tcp/22)."""

    protocol: str = "icmp"
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Probe:
        text = (text or "icmp").lower()
        if text in ("icmp", "ping"):
            return cls("icmp")
        if text == "ssh":
            return cls("tcp", 22)
        match = re.fullmatch(r"(tcp|udp)[:/](\d+)", text)
        if match:
            return cls(match.group(1), int(match.group(2)))
        raise PathError(f"probe {text!r}: use icmp, ssh, tcp:PORT or udp:PORT")

    def describe(self) -> str:
        return "ICMP" if self.protocol == "icmp" else f"{self.protocol.upper()}/{self.port}"


# --------------------------------------------------------------------------- the graph, indexed


class Topo:
    """The graph with the lookups a walk needs.

    Building it costs a pass over the whole graph; callers that explain many paths
    on one revision build it once and give each explanation its reports with
    :meth:`with_reports` (reports change more often than the graph: counters).
    """

    def __init__(self, graph: Mapping[str, list[Any]], reports: Mapping[str, JsonDict]) -> None:
        self.nodes: dict[str, JsonDict] = {n["id"]: n for n in graph.get("nodes", [])}
        # Flat (node, edge kind) keys: a nested defaultdict per node cost most of the build.
        self.out: dict[tuple[str, str], list[str]] = {}
        self.inn: dict[tuple[str, str], list[str]] = {}
        out, inn = self.out, self.inn
        for edge in graph.get("edges", []):
            source, target, kind = edge["source"], edge["target"], edge["kind"]
            key = (source, kind)
            if key in out:
                out[key].append(target)
            else:
                out[key] = [target]
            key = (target, kind)
            if key in inn:
                inn[key].append(source)
            else:
                inn[key] = [source]
        self.reports = reports
        self.fips_by_address: dict[str, str] = {}
        self.ports_by_ip: dict[str, list[str]] = defaultdict(list)
        self.external_subnets: list[tuple[Any, str]] = []
        for node in self.nodes.values():
            self.index_node(node)

    def index_node(self, node: JsonDict) -> None:
        attrs = node["attrs"]
        if node["kind"] == NodeKind.FLOATINGIP and attrs.get("floating_ip_address"):
            self.fips_by_address[attrs["floating_ip_address"]] = node["id"]
        elif node["kind"] == NodeKind.PORT and not attrs.get("device_owner", "").startswith("network:"):
            for ip in port_ips(node):
                self.ports_by_ip[ip].append(node["id"])
        elif node["kind"] == NodeKind.SUBNET and attrs.get("cidr"):
            network = self.nodes.get(f"network:{attrs.get('network_id')}")
            if network is not None and network["attrs"].get("external"):
                self.external_subnets.append((ipaddress.ip_network(attrs["cidr"]), network["id"]))

    def with_reports(self, reports: Mapping[str, JsonDict]) -> Topo:
        """The same indexes with other reports (a shallow copy)."""
        clone = copy.copy(self)
        clone.reports = reports
        return clone

    def node(self, node_id: str) -> JsonDict:
        return self.nodes[node_id]

    def attrs(self, node_id: str) -> JsonDict:
        return dict(self.nodes.get(node_id, {}).get("attrs", {}))

    def targets(self, node_id: str, kind: str) -> list[str]:
        return [t for t in self.out.get((node_id, kind), []) if t in self.nodes]

    def sources(self, node_id: str, kind: str) -> list[str]:
        return [s for s in self.inn.get((node_id, kind), []) if s in self.nodes]

    def linked(self, node_id: str, kind: str) -> list[str]:
        return self.targets(node_id, kind) + self.sources(node_id, kind)

    def parent(self, node_id: str) -> str | None:
        parents = self.sources(node_id, EdgeKind.MEMBER)
        return parents[0] if parents else None

    def ports(self) -> Iterable[JsonDict]:
        return (n for n in self.nodes.values() if n["kind"] == NodeKind.PORT)

    def agents(self, host: str) -> list[JsonDict]:
        return list(self.attrs(f"host:{host}").get("agents", []))

    def iptables(self, host: str, namespace: str, table: str = "nat") -> str:
        for ns in (self.reports.get(host) or {}).get("namespaces") or []:
            if ns.get("name") == namespace:
                return str((ns.get("iptables") or {}).get(table) or "")
        return ""

    def flows(self, host: str, bridge: str) -> list[str]:
        return list((((self.reports.get(host) or {}).get("ovs") or {}).get("flows") or {}).get(bridge, []))


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoint:
    """A resolved source or destination: a port (with its IP), a floating IP, or the outside."""

    kind: Literal["port", "fip", "outside"]
    node: str  # port:/fip:/network: id (the external network for "outside")
    ip: str | None


def port_ips(port: JsonDict) -> list[str]:
    return [ip["ip_address"] for ip in port["attrs"].get("fixed_ips", [])]


def port_ips_of(topo: Topo, port: str | None) -> list[str]:
    return port_ips(topo.nodes[port]) if port in topo.nodes else []


def resolve(topo: Topo, text: str, near: Endpoint | None = None) -> Endpoint:
    """A node id (port, server, fip) or an IP address; ``near`` breaks ties between overlapping IPs."""
    text = text.strip()
    if text.startswith("server:"):
        ports = topo.targets(text, EdgeKind.RUNS)
        if not ports:
            raise PathError(f"{text} has no port")
        text = ports[0]
    if text.startswith("port:"):
        if text not in topo.nodes:
            raise PathError(f"no port {text[5:]}")
        ips = port_ips(topo.node(text))
        return Endpoint("port", text, ips[0] if ips else None)
    if text.startswith("fip:"):
        if text not in topo.nodes:
            raise PathError(f"no floating IP {text[4:]}")
        return Endpoint("fip", text, topo.attrs(text).get("floating_ip_address"))
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise PathError(f"{text!r} is neither a node id (port:, server:, fip:) nor an IP address") from None
    return resolve_ip(topo, str(address), near)


def resolve_ip(topo: Topo, address: str, near: Endpoint | None) -> Endpoint:
    if address in topo.fips_by_address:
        return Endpoint("fip", topo.fips_by_address[address], address)
    ports = [topo.nodes[p] for p in topo.ports_by_ip.get(address, [])]
    if len(ports) > 1 and near is not None and near.kind == "port":
        # Overlapping tenant subnets (seed 004): the one the source can reach, through its own network/router.
        ports = [p for p in ports if reachable_from(topo, near.node, p["id"])] or ports
    if len(ports) > 1:
        raise PathError(f"{address} is the address of {len(ports)} ports (overlapping subnets): "
                        f"name one: {', '.join(p['id'] for p in ports)}")
    if ports:
        return Endpoint("port", ports[0]["id"], address)
    return Endpoint("outside", external_network_for(topo, address) or "", address)


def reachable_from(topo: Topo, src_port: str, dst_port: str) -> bool:
    src_net, dst_net = topo.attrs(src_port).get("network_id"), topo.attrs(dst_port).get("network_id")
    if src_net == dst_net:
        return True
    routers = {r for s in subnets_of(topo, src_port) for r in routers_of_subnet(topo, s)}
    return any(r in routers for s in subnets_of(topo, dst_port) for r in routers_of_subnet(topo, s))


def external_network_for(topo: Topo, address: str) -> str | None:
    """The external network whose subnet holds ``address``, if any (the outside host's side)."""
    ip = ipaddress.ip_address(address)
    return next((network for cidr, network in topo.external_subnets if ip in cidr), None)


# --------------------------------------------------------------------------- logical lookups


def subnets_of(topo: Topo, port: str) -> list[str]:
    return topo.targets(port, EdgeKind.IN_SUBNET)


def network_of(topo: Topo, port: str) -> str:
    return f"network:{topo.attrs(port).get('network_id')}"


def routers_of_subnet(topo: Topo, subnet: str) -> list[str]:
    """Routers with an interface (legacy, DVR or HA replicated) on ``subnet``."""
    routers = []
    for port in topo.sources(subnet, EdgeKind.IN_SUBNET):
        if topo.attrs(port).get("device_owner") in DeviceOwner.ROUTER_INTERFACES:
            routers += topo.sources(port, EdgeKind.ROUTER_INTERFACE)
    return sorted(set(routers))


def router_port_on(topo: Topo, router: str, subnet: str) -> str | None:
    for port in topo.targets(router, EdgeKind.ROUTER_INTERFACE):
        if subnet in subnets_of(topo, port):
            return port
    return None


def router_ports(topo: Topo, router: str, owner: str) -> list[str]:
    kinds = (EdgeKind.MEMBER, EdgeKind.ROUTER_INTERFACE)
    return [p for k in kinds for p in topo.targets(router, k) if topo.attrs(p).get("device_owner") == owner]


def fip_of_port(topo: Topo, port: str) -> str | None:
    fips = topo.sources(port, EdgeKind.NAT)
    return fips[0] if fips else None


def namespaces_of(topo: Topo, logical: str, prefix: str) -> list[str]:
    return [n for n in topo.targets(logical, EdgeKind.BINDS) if n.split(":", 2)[2].startswith(prefix)]


def devices_of(topo: Topo, port: str, host: str | None = None) -> dict[str, str]:
    """The port's devices on ``host`` by role (tap, qvo, qr, ...; "tap" prefers the root-namespace one)."""
    found: dict[str, str] = {}
    for node_id in topo.targets(port, EdgeKind.BINDS):
        node = topo.nodes[node_id]
        if host is not None and node.get("host") != host:
            continue
        role = node["attrs"].get("role") or node["attrs"].get("type") or "device"
        if node["kind"] == NodeKind.BRIDGE:
            role = "qbr"
        found.setdefault(role, node_id)
    return found


def bridge(host: str, name: str) -> str:
    return f"bridge:{host}:{name}"


# --------------------------------------------------------------------------- the walk


@dataclass
class Walk:
    topo: Topo
    probe: Probe
    hops: list[Hop] = field(default_factory=list)
    problems: list[JsonDict] = field(default_factory=list)

    def hop(self, node: str | None, what: str, evidence: str = "", status: Status = "ok",
            flows: list[str] | None = None, host: str | None = None) -> Hop:
        node_id = node or ""
        hop = Hop(node=node_id, host=host or (self.topo.nodes.get(node_id, {}).get("host")), what=what,
                  status=status if node_id in self.topo.nodes or status != "ok" else "unknown",
                  evidence=evidence, flows=flows or [])
        self.hops.append(hop)
        return hop

    def problem(self, code: str, message: str, node: str | None = None, severity: Status = "fail") -> None:
        entry = {"code": code, "message": message, "node": node, "severity": severity}
        if entry not in self.problems:
            self.problems.append(entry)

    def fail(self, hop: Hop, code: str, message: str) -> None:
        hop.status = "fail"
        hop.evidence = (hop.evidence + " " if hop.evidence else "") + message
        self.problem(code, message, hop.node or None)

    # ----------------------------------------------------------------- checks

    def check_port(self, port: str, hop: Hop) -> str | None:
        """Status, binding and the host's report; returns the host the port is bound to."""
        attrs = self.topo.attrs(port)
        label = self.topo.nodes[port]["label"]
        if not attrs.get("admin_state_up", True):
            self.fail(hop, Problem.PORT_ADMIN_DOWN, f"port {label} is administratively down: set admin_state_up")
        elif self.topo.nodes[port].get("status") not in ("ACTIVE", None):
            self.fail(hop, Problem.PORT_DOWN,
                      f"port {label} is {self.topo.nodes[port].get('status')}: its L2 agent has not wired it")
        host = attrs.get("binding_host_id") or None
        if host is not None and attrs.get("vif_type") == "binding_failed":
            self.fail(hop, Problem.PORT_UNBOUND,
                      f"port {label} failed to bind on host {host} (vif_type binding_failed): no mechanism driver "
                      f"could bind it there; check an Open vSwitch agent is alive on {host} under that `host` name")
            return None
        if host is None or attrs.get("vif_type") == "unbound":
            self.fail(hop, Problem.PORT_UNBOUND,
                      f"port {label} is not bound to a host (vif_type {attrs.get('vif_type')}): "
                      "check the host name matches the agents' `host`")
            return None
        if not self.topo.attrs(f"host:{host}").get("reported"):
            self.fail(hop, Problem.HOST_NO_REPORT, f"host {host} sends no agent report: run the node agent there")
        self.check_agent(host, "Open vSwitch agent", hop)
        return str(host)

    def check_agent(self, host: str, agent_type: str, hop: Hop) -> None:
        """A dead agent leaves its devices and rules in place: the path may still work, but nothing
        changed since is applied there. A warning, which :func:`blame_dead_agents` turns into the
        cause when something on that host is missing."""
        for agent in self.topo.agents(host):
            if agent.get("agent_type") == agent_type and not agent.get("alive"):
                if hop.status == "ok":
                    hop.status = "warn"
                self.problem(Problem.AGENT_DEAD, f"the {agent_type} on {host} is dead: what it set up still "
                             "works, but no change since has been applied there; restart it", f"host:{host}",
                             severity="warn")

    def flows_for(self, host: str, bridge_name: str, *needles: str) -> list[str]:
        """dump-flows lines on ``bridge_name`` that mention any needle (a tag, a VNI, an in_port)."""
        lines = self.topo.flows(host, bridge_name)
        return [line.strip() for line in lines if any(n and n in line for n in needles)][:6]

    def nat_rules(self, host: str, namespace: str, *needles: str) -> list[str]:
        rules = self.topo.iptables(host, namespace, "nat").splitlines()
        return [r for r in rules if ("-j SNAT" in r or "-j DNAT" in r) and all(n in r for n in needles)]

    # ----------------------------------------------------------------- segments

    def instance_label(self, port: str) -> str:
        servers = self.topo.sources(port, EdgeKind.RUNS)
        return str(self.topo.nodes[servers[0] if servers else port]["label"])

    def instance_node(self, port: str) -> str:
        """The lab's VM namespace, else the server, else the port: what the map shows as the VM."""
        for server in self.topo.sources(port, EdgeKind.RUNS):
            namespaces = [n for n in self.topo.targets(server, EdgeKind.BINDS) if n.startswith("netns:")]
            return namespaces[0] if namespaces else server
        return port

    def vm_out(self, port: str) -> str | None:
        """From the instance to br-int: tap, qbr (security groups), qvb/qvo with the local VLAN."""
        topo, ip = self.topo, (port_ips(self.topo.node(port)) or ["?"])[0]
        label = self.instance_label(port)
        first = self.hop(self.instance_node(port), f"{label} sends {self.probe.describe()} from {ip}")
        self.check_network_of_vm(port, first)
        host = self.check_port(port, first)
        if host is None:
            return None
        devices = devices_of(topo, port, host)
        self.device_hop(devices.get("tap"), f"tap{port[5:16]}", host, "leaves the instance on its tap device")
        if "qbr" in devices:
            self.hop(devices["qbr"], "Linux bridge qbr: security groups track the connection's state "
                     "(iptables_hybrid firewall, egress rules)")
            self.device_hop(devices.get("qvb"), f"qvb{port[5:16]}", host, "veth qvb -> qvo into br-int")
            self.vlan_hop(devices.get("qvo"), f"qvo{port[5:16]}", host, network_of(topo, port), "enters br-int on qvo")
        else:
            self.vlan_hop(devices.get("tap"), f"tap{port[5:16]}", host, network_of(topo, port),
                          "enters br-int on the tap (openvswitch firewall: security groups as conntrack flows)")
        return host

    def vm_in(self, port: str, host: str | None, src_ip: str | None) -> None:
        """From br-int to the instance: qvo, qvb, qbr (ingress security groups), tap."""
        topo = self.topo
        label = self.instance_label(port)
        bound = self.topo.attrs(port).get("binding_host_id") or None
        if host is not None and bound is not None and bound != host:
            host = bound
        devices = devices_of(topo, port, host)
        if "qbr" in devices:
            self.vlan_hop(devices.get("qvo"), f"qvo{port[5:16]}", host, network_of(topo, port),
                          "br-int delivers to the instance's qvo")
            self.device_hop(devices.get("qvb"), f"qvb{port[5:16]}", host, "veth qvo -> qvb into qbr")
            sg = self.hop(devices["qbr"], "Linux bridge qbr: security groups filter the packet "
                          "(ingress rules, connection tracking)")
        else:
            sg = self.vlan_hop(devices.get("tap"), f"tap{port[5:16]}", host, network_of(topo, port),
                               "br-int delivers to the tap (openvswitch firewall: ingress rules as flows)")
        self.check_ingress(port, src_ip, sg)
        self.device_hop(devices.get("tap"), f"tap{port[5:16]}", host, "tap hands the packet to the instance")
        last = self.hop(self.instance_node(port), f"{label} receives it on {(port_ips(topo.node(port)) or ['?'])[0]}")
        self.check_port(port, last)

    def reported(self, host: str | None) -> bool:
        """Whether ``host`` sends agent reports (what is on a host without one is unknown, not missing)."""
        return host is None or bool(self.topo.attrs(f"host:{host}").get("reported"))

    def device_hop(self, node: str | None, name: str, host: str | None, what: str) -> Hop:
        if node is None and not self.reported(host):
            return self.hop(None, what, f"{host} sends no agent report: {name} is not known", "unknown", host=host)
        if node is None:
            hop = self.hop(None, what, host=host)
            self.fail(hop, Problem.DEVICE_MISSING, f"{name} is missing on {host}: the agent did not plug it")
            return hop
        return self.hop(node, what, self.topo.attrs(node).get("describe", ""))

    def vlan_hop(self, node: str | None, name: str, host: str | None, network: str, what: str) -> Hop:
        hop = self.device_hop(node, name, host, what)
        if node is None or host is None:
            return hop
        tag = self.topo.attrs(node).get("tag")
        ofport = self.topo.attrs(node).get("ofport")
        net = self.topo.nodes.get(network, {}).get("label", network)
        if tag is None:
            self.fail(hop, Problem.PORT_DOWN, f"{name} has no VLAN tag on br-int: the OVS agent has not wired it")
        else:
            hop.what += f" (local VLAN tag {tag} of network {net})"
            hop.flows = self.flows_for(host, "br-int", f"in_port={ofport},", f"dl_vlan={tag},",
                                       f"vlan_vid={4096 + int(tag)}", f"set_field:{4096 + int(tag)}->vlan_vid")
        return hop

    def br_int(self, host: str, what: str) -> Hop:
        return self.hop(bridge(host, "br-int"), f"br-int on {host}: {what}")

    def cross(self, src_host: str | None, dst_host: str | None, network: str, what: str = "", evidence: str = "",
              lead_flows: Sequence[str] = ()) -> None:
        """br-int -> br-tun -> VXLAN tunnel -> br-tun -> br-int when the next device is on another host.

        ``what``, ``evidence`` and ``lead_flows`` add to the sending br-tun's hop (DVR: the source MAC rewrite).
        """
        if src_host is None or dst_host is None or src_host == dst_host:
            return
        attrs = self.topo.attrs(network)
        vni = attrs.get("segmentation_id")
        kind = attrs.get("network_type") or "vxlan"
        vni_text = f"VNI {vni}" if vni is not None else "its VNI"
        flows = self.flows_for(src_host, "br-tun", f"set_field:{vni}->tun_id", f"tun_id={hex(vni) if vni else 'x'}")
        tun = self.hop(bridge(src_host, "br-tun"), f"br-tun on {src_host}: local VLAN swapped for {kind} "
                       f"{vni_text}{what}", evidence, flows=[*lead_flows, *flows][:6])
        if kind not in ("vxlan", "gre", "geneve"):
            tun.what = f"{kind} network: over the provider bridge to {dst_host}"
            return
        local, remote = self.tunnel_ports(src_host, dst_host)
        if local is None and not self.reported(src_host):
            return
        if local is None:
            self.fail(tun, Problem.NO_TUNNEL, f"no {kind} tunnel port from {src_host} to {dst_host}: check "
                      "local_ip/tunneling_ip and that both OVS agents run (l2population creates tunnels on demand)")
            return
        self.hop(local, f"encapsulated in {kind} ({vni_text}) to {dst_host} "
                 f"({self.topo.attrs(local).get('options', {}).get('remote_ip')})")
        if remote is not None:
            self.hop(remote, f"{dst_host} receives the tunnel packet")
        back = self.hop(bridge(dst_host, "br-tun"), f"br-tun on {dst_host}: {vni_text} mapped back to a local VLAN",
                        flows=self.flows_for(dst_host, "br-tun", f"tun_id={hex(vni) if vni else 'x'}"))
        if remote is None and self.reported(dst_host):
            # OVS takes a tunnel packet in only on a port whose remote_ip is the sender's: none, it drops it.
            self.fail(back, Problem.NO_TUNNEL, f"no {kind} tunnel port from {dst_host} back to {src_host}: "
                      f"{dst_host} drops what {src_host} sends; check both OVS agents' local_ip/tunneling_ip "
                      "and that they run (l2population creates tunnels on demand)")
            return
        self.mtu_check(network)

    def tunnel_ports(self, src_host: str, dst_host: str) -> tuple[str | None, str | None]:
        for node_id in self.topo.targets(bridge(src_host, "br-tun"), EdgeKind.MEMBER):
            if self.topo.attrs(node_id).get("remote_host") == dst_host:
                peers = [p for p in self.topo.linked(node_id, EdgeKind.TUNNEL) if p.startswith("iface:")]
                return node_id, (peers[0] if peers else None)
        return None, None

    def mtu_check(self, network: str) -> None:
        attrs = self.topo.attrs(network)
        if attrs.get("network_type") == "vxlan" and (attrs.get("mtu") or 0) > VXLAN_MAX_MTU:
            self.problem(Problem.VXLAN_MTU, f"network {self.topo.nodes[network]['label']} has MTU {attrs['mtu']} "
                         f"over VXLAN: full-size packets exceed the underlay; set it to {VXLAN_MAX_MTU} or less",
                         network, severity="warn")

    def check_network_of_vm(self, port: str, hop: Hop) -> None:
        topo = self.topo
        network = network_of(topo, port)
        net = topo.attrs(network)
        if net.get("external"):
            self.fail(hop, Problem.VM_ON_EXTERNAL_NETWORK,
                      f"the instance is plugged straight into external network {topo.nodes[network]['label']}: "
                      "plug it into a tenant network behind a router, and give it a floating IP")
            self.check_bridge_mapping(port, network, hop)
        for subnet in subnets_of(topo, port):
            if topo.attrs(subnet).get("enable_dhcp") and not any(
                topo.attrs(p).get("device_owner") == DeviceOwner.DHCP for p in topo.sources(subnet, EdgeKind.IN_SUBNET)
            ):
                self.fail(hop, Problem.NO_DHCP_PORT, f"subnet {topo.nodes[subnet]['label']} has DHCP enabled but no "
                          "DHCP port: the instance gets no address (is a DHCP agent alive and hosting the network?)")
        for namespace in namespaces_of(topo, network, "qdhcp-"):
            self.check_agent(str(topo.nodes[namespace].get("host")), "DHCP agent", hop)

    def check_bridge_mapping(self, port: str, network: str, hop: Hop) -> None:
        physnet = self.topo.attrs(network).get("physical_network")
        host = self.topo.attrs(port).get("binding_host_id")
        if not physnet or not host:
            return
        for agent in self.topo.agents(str(host)):
            if agent.get("agent_type") == "Open vSwitch agent" and physnet not in (agent.get("bridge_mappings") or {}):
                self.fail(hop, Problem.BRIDGE_MAPPING_MISSING, f"physical network {physnet} of "
                          f"{self.topo.nodes[network]['label']} is not in the bridge_mappings of {host}'s OVS agent")

    def check_ingress(self, port: str, src_ip: str | None, hop: Hop) -> None:
        """Does one of the port's security groups let the probe in from ``src_ip``?"""
        topo = self.topo
        attrs = topo.attrs(port)
        if not attrs.get("port_security_enabled", True):
            hop.evidence = "port security disabled: no filtering"
            return
        groups = [g for g in topo.targets(port, EdgeKind.SECURED_BY)]
        for group in groups:
            for rule in topo.attrs(group).get("rules", []):
                if self.rule_admits(rule, src_ip, port):
                    hop.evidence = (f"allowed by security group {topo.nodes[group]['label']}: ingress "
                                    f"{rule.get('protocol') or 'any'} {rule_ports(rule)}"
                                    f"from {rule.get('remote_ip_prefix') or rule.get('remote_group_id') or 'any'}")
                    return
        names = ", ".join(topo.nodes[g]["label"] for g in groups) or "none"
        self.fail(hop, Problem.SG_NO_INGRESS, f"no ingress rule for {self.probe.describe()} in the port's security "
                  f"groups ({names}): add one (e.g. `openstack security group rule create --protocol "
                  f"{self.probe.protocol}{' --dst-port ' + str(self.probe.port) if self.probe.port else ''} <group>`)")

    def rule_admits(self, rule: JsonDict, src_ip: str | None, port: str) -> bool:
        if rule.get("direction") != "ingress" or rule.get("ethertype", "IPv4") != "IPv4":
            return False
        protocol = (rule.get("protocol") or "").lower()
        if protocol not in ("", "any", self.probe.protocol, IP_PROTOCOL_NUMBERS[self.probe.protocol]):
            return False
        low = rule.get("port_range_min")
        if self.probe.port is not None and low is not None and not low <= self.probe.port <= (
            rule.get("port_range_max") or low
        ):
            return False
        prefix = rule.get("remote_ip_prefix")
        if prefix and src_ip and ipaddress.ip_address(src_ip) not in ipaddress.ip_network(prefix, strict=False):
            return False
        if rule.get("remote_group_id"):
            # Only members of that group: the source must be a port in it.
            members = self.topo.sources(f"secgroup:{rule['remote_group_id']}", EdgeKind.SECURED_BY)
            return any(src_ip in port_ips(self.topo.node(m)) for m in members if src_ip)
        return True


def rule_ports(rule: JsonDict) -> str:
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is None:
        return ""
    return f"port {low} " if high in (None, low) else f"ports {low}-{high} "


# --------------------------------------------------------------------------- router and external segments


def split_devices(topo: Topo, port: str, host: str | None) -> tuple[str | None, str | None]:
    """A router/DHCP port's device on br-int (outer) and inside its namespace (inner).

    With ovs_use_veth the two are a veth pair (tap... on br-int, qr-... inside); otherwise
    one OVS internal port that lives in the namespace is both.
    """
    outer = inner = None
    for node_id in topo.targets(port, EdgeKind.BINDS):
        node = topo.nodes[node_id]
        if node["kind"] != NodeKind.IFACE or (host is not None and node.get("host") != host):
            continue
        if node["attrs"].get("namespace"):
            inner = node_id
        else:
            outer = node_id
    if outer is None and inner is not None and topo.attrs(inner).get("ovs_bridge"):
        outer = inner
    return outer, inner


def router_label(topo: Topo, router: str) -> str:
    return str(topo.nodes[router]["label"])


def router_namespace(walk: Walk, router: str, prefix: str, host: str | None, hop: Hop) -> str | None:
    """The router's ``prefix`` namespace (qrouter-/snat-) on ``host`` (any host if None)."""
    found = [n for n in namespaces_of(walk.topo, router, prefix)
             if host is None or walk.topo.nodes[n].get("host") == host]
    if found:
        # The namespace outlives its agent: a dead L3 agent no longer follows changes there.
        walk.check_agent(str(walk.topo.nodes[found[0]].get("host")), "L3 agent", hop)
        return found[0]
    at = host or router_bound_host(walk.topo, router)
    if host is None and at is not None:
        # A legacy router (or a DVR router's SNAT part) lives on one L3 agent's host: its ports are bound there.
        hop = walk.hop(f"host:{at}", f"router {router_label(walk.topo, router)}'s {prefix} namespace "
                       f"should be on {at}, where its ports are bound", host=at)
    walk.fail(hop, Problem.NAMESPACE_MISSING, f"{prefix}{router[7:]} of router {router_label(walk.topo, router)} "
              f"is missing on {at or 'any host'}: is the L3 agent there alive and is the router scheduled to it?")
    if at is not None:
        walk.check_agent(at, "L3 agent", hop)
    return None


def router_bound_host(topo: Topo, router: str) -> str | None:
    """The host a router's bound ports name (a legacy router's L3 agent host; DVR's SNAT host)."""
    for kind in (EdgeKind.ROUTER_INTERFACE, EdgeKind.MEMBER):
        for port in topo.targets(router, kind):
            host = topo.attrs(port).get("binding_host_id")
            if host and topo.attrs(port).get("device_owner") != DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED:
                return str(host)
    return None


def device_name(topo: Topo, port: str, inner: str | None) -> str:
    """A router-side device's name: its own, else the prefix Neutron gives the port's owner + port id[:11]."""
    if inner is not None:
        return str(topo.nodes[inner]["label"])
    prefix = {DeviceOwner.ROUTER_GATEWAY: "qg-", DeviceOwner.ROUTER_SNAT: "sg-",
              DeviceOwner.FIP_AGENT_GATEWAY: "fg-"}.get(topo.attrs(port).get("device_owner") or "", "qr-")
    return f"{prefix}{port[5:16]}"


def enter_router(walk: Walk, router: str, port: str | None, host: str | None, what: str) -> Hop:
    topo = walk.topo
    if port is None:
        hop = walk.hop(router, f"router {router_label(topo, router)}")
        walk.fail(hop, Problem.SUBNET_NO_ROUTER, f"router {router_label(topo, router)} has no interface here")
        return hop
    outer, inner = split_devices(topo, port, host)
    if outer != inner:
        walk.vlan_hop(outer, f"tap{port[5:16]}", host, network_of(topo, port), "br-int hands it to the router's port")
    return walk.device_hop(inner, device_name(topo, port, inner), host, what)


def leave_router(walk: Walk, port: str | None, host: str | None, what: str) -> Hop:
    topo = walk.topo
    if port is None:
        return walk.hop(None, what, status="unknown", host=host)
    outer, inner = split_devices(topo, port, host)
    hop = walk.device_hop(inner, device_name(topo, port, inner), host, what)
    if outer != inner:
        walk.vlan_hop(outer, f"tap{port[5:16]}", host, network_of(topo, port), "back on br-int")
    return hop


def nat_hop(walk: Walk, namespace: str | None, host: str | None, what: str, needles: tuple[str, ...],
            code_if_missing: str | None = None, missing: str = "") -> Hop:
    hop = walk.hop(namespace, what, host=host)
    if namespace is None or host is None:
        return hop
    rules = walk.nat_rules(host, walk.topo.nodes[namespace]["label"], *needles)
    if rules:
        hop.evidence = "iptables: " + " | ".join(rules[:2])
    elif code_if_missing:
        walk.fail(hop, code_if_missing, missing)
    return hop


def int_ex_patch(topo: Topo, host: str) -> tuple[str | None, str | None]:
    """br-int's int-br-ex patch port and its peer phy-br-ex on br-ex."""
    ex_ports = set(topo.targets(bridge(host, "br-ex"), EdgeKind.MEMBER))
    for node_id in topo.targets(bridge(host, "br-int"), EdgeKind.MEMBER):
        peer = topo.attrs(node_id).get("patch_peer")
        if peer in ex_ports:
            return node_id, peer
    return None, None


def br_ex_physical_port(topo: Topo, host: str) -> str | None:
    for node_id in topo.targets(bridge(host, "br-ex"), EdgeKind.MEMBER):
        if topo.attrs(node_id).get("ovs_type") not in ("patch", "internal"):
            return node_id
    return None


def external_out(walk: Walk, host: str | None, external: str) -> None:
    if host is None:
        return
    topo = walk.topo
    walk.br_int(host, "to br-ex over the int-br-ex / phy-br-ex patch (the external network's VLAN tag is "
                "stripped for a flat network)")
    check_bridge_mapping_host(walk, host, external, walk.hops[-1])
    int_side, ex_side = int_ex_patch(topo, host)
    if int_side is not None and ex_side is not None:
        walk.hop(int_side, "patch port int-br-ex", flows=walk.flows_for(host, "br-int", "output:int-br-ex",
                                                                       f"output:{topo.attrs(int_side).get('ofport')}"))
        walk.hop(ex_side, "patch port phy-br-ex into br-ex")
    ex = walk.hop(bridge(host, "br-ex"), f"br-ex on {host}: the external bridge")
    if bridge(host, "br-ex") not in topo.nodes:
        walk.fail(ex, Problem.BR_EX_NO_PHYSICAL_PORT, f"{host} has no br-ex")
        return
    physical = br_ex_physical_port(topo, host)
    if physical is None:
        walk.fail(ex, Problem.BR_EX_NO_PHYSICAL_PORT, f"br-ex on {host} has no port to the outside: "
                  "`ovs-vsctl add-port br-ex <NIC>`")
        return
    walk.hop(physical, f"leaves br-ex on {topo.nodes[physical]['label']} to the external network")


def external_in(walk: Walk, host: str | None, external: str, address: str | None) -> None:
    if host is None:
        return
    topo = walk.topo
    physical = br_ex_physical_port(topo, host)
    ex_hop = walk.hop(physical or bridge(host, "br-ex"), f"arrives from the external network for {address}")
    if physical is None:
        walk.fail(ex_hop, Problem.BR_EX_NO_PHYSICAL_PORT, f"br-ex on {host} has no port to the outside: "
                  "`ovs-vsctl add-port br-ex <NIC>`")
    walk.hop(bridge(host, "br-ex"), f"br-ex on {host} forwards it over the phy-br-ex / int-br-ex patch")
    int_side, ex_side = int_ex_patch(topo, host)
    if int_side is not None and ex_side is not None:
        walk.hop(ex_side, "patch port phy-br-ex")
        walk.hop(int_side, "patch port int-br-ex into br-int")
    walk.br_int(host, "tags it with the external network's local VLAN")
    check_bridge_mapping_host(walk, host, external, walk.hops[-1])


def outside_hop(walk: Walk, external: str, address: str | None, what: str) -> Hop:
    label = walk.topo.nodes.get(external, {}).get("label", "the external network")
    return walk.hop(external or None, f"{what} {address or ''} on external network {label}".strip(),
                    status="ok" if external in walk.topo.nodes else "unknown")


def check_bridge_mapping_host(walk: Walk, host: str, network: str, hop: Hop) -> None:
    physnet = walk.topo.attrs(network).get("physical_network")
    for agent in walk.topo.agents(host):
        if physnet and agent.get("agent_type") == "Open vSwitch agent" and physnet not in (
            agent.get("bridge_mappings") or {}
        ):
            walk.fail(hop, Problem.BRIDGE_MAPPING_MISSING, f"physical network {physnet} is not in the "
                      f"bridge_mappings of {host}'s OVS agent: add {physnet}:br-ex")


# --------------------------------------------------------------------------- scenarios


def vm_ip(topo: Topo, port: str) -> str:
    return (port_ips(topo.node(port)) or ["?"])[0]


def serving_router(walk: Walk, port: str, prefer: str | None = None) -> tuple[str | None, str | None]:
    """The router on the port's subnet, and that subnet.

    A subnet can be on several routers (one through its gateway IP, others through a port of their
    own): ``prefer`` (a floating IP's router_id) wins, then the router holding the subnet's gateway IP,
    the instances' default route.
    """
    for subnet in subnets_of(walk.topo, port):
        routers = routers_of_subnet(walk.topo, subnet)
        if prefer in routers:
            return prefer, subnet
        gateway_ip = walk.topo.attrs(subnet).get("gateway_ip")
        gateways = [r for r in routers if gateway_ip and gateway_ip in port_ips_of(walk.topo, router_port_on(
            walk.topo, r, subnet))]
        if routers:
            return (gateways or routers)[0], subnet
    subnets = subnets_of(walk.topo, port)
    return None, (subnets[0] if subnets else None)


def no_router(walk: Walk, subnet: str | None, port: str) -> str:
    hop = walk.hop(subnet or port, "looks for a router to leave the network")
    label = walk.topo.nodes[subnet]["label"] if subnet in walk.topo.nodes else "the port's subnet"
    walk.fail(hop, Problem.SUBNET_NO_ROUTER, f"subnet {label} is not attached to any router: "
              "`openstack router add subnet <router> <subnet>`")
    return "north-south-snat"


def gateway_network(walk: Walk, router: str) -> str | None:
    """The external network the router's packets leave to: its gateway's, or an orphan gateway port's
    while the node still routes out of its qg- (the walk then follows the packets, see :func:`gateway_leg`)."""
    network = walk.topo.attrs(router).get("gateway_network_id")
    if not network:
        orphan = orphan_gateway(walk.topo, router)
        if orphan is not None:
            return orphan.network
        hop = walk.hop(router, f"router {router_label(walk.topo, router)} looks for its external gateway")
        walk.fail(hop, Problem.ROUTER_NO_GATEWAY, f"router {router_label(walk.topo, router)} has no external "
                  "gateway: `openstack router set --external-gateway <external network> <router>`")
        return None
    return f"network:{network}"


def router_external(topo: Topo, router: str) -> str | None:
    """The router's external network id, as its gateway says or as an orphan gateway port still routes."""
    network = topo.attrs(router).get("gateway_network_id")
    orphan = None if network else orphan_gateway(topo, router)
    return network or (orphan.network.split(":", 1)[1] if orphan is not None else None)


def gateway_port(walk: Walk, router: str, host: str | None, what: str) -> str | None:
    """The router's gateway port, when its qg- device is on ``host``; else the walk fails there (None)."""
    gateway_ports = router_ports(walk.topo, router, DeviceOwner.ROUTER_GATEWAY)
    if not gateway_ports:
        hop = walk.hop(router, "looks for its gateway port")
        walk.fail(hop, Problem.NO_QG_PORT, f"router {router_label(walk.topo, router)} has no gateway port")
        return None
    _, inner = split_devices(walk.topo, gateway_ports[0], host)
    if inner is None:
        hop = walk.hop(None, what, host=host)
        walk.fail(hop, Problem.NO_QG_PORT, f"no qg-{gateway_ports[0][5:16]} on {host}: the L3 agent has not "
                  "plugged the router's gateway (is it alive? is br-int there?)")
        return None
    return gateway_ports[0]


def gateway_leg(walk: Walk, router: str, host: str | None, external: str, what: str) -> None:
    """Out of the router's namespace through qg- (legacy qrouter, or DVR snat)."""
    port = gateway_port(walk, router, host, what)
    if port is None:
        return
    hop = leave_router(walk, port, host, what)
    orphaned(walk, router, hop)
    external_out(walk, host, external)


def orphaned(walk: Walk, router: str, hop: Hop) -> None:
    """The drift on the qg- hop of a router whose gateway Neutron forgot while its node still routes by it."""
    orphan = orphan_gateway(walk.topo, router)
    if orphan is None or hop.node != orphan.device:
        return
    uuid = orphan.port.split(":", 1)[1]
    message = (f"Neutron says router {router_label(walk.topo, router)} has no external gateway, but its gateway "
               f"port {uuid} is left (orphaned) and {walk.topo.nodes[orphan.device]['label']} still routes out "
               f"of the router: packets still leave by it. Fix: {orphan_fix(uuid)}")
    if hop.status == "ok":
        hop.status = "warn"
    hop.evidence = (hop.evidence + " " if hop.evidence else "") + "drift: " + message
    walk.problem(Problem.GATEWAY_PORT_ORPHANED, message, hop.node, severity="warn")


def north_south(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    topo = walk.topo
    port, ip = source.node, source.ip or "?"
    host = walk.vm_out(port)
    if topo.attrs(network_of(topo, port)).get("external"):
        return "north-south-snat"  # vm_on_external_network: no router of its own to leave through
    router, subnet = serving_router(walk, port)
    if router is None:
        return no_router(walk, subnet, port)
    fip = fip_of_port(topo, port)
    distributed = bool(topo.attrs(router).get("distributed"))
    scenario = ("north-south-fip" if fip else "north-south-snat") + ("-dvr" if distributed else "")
    external = gateway_network(walk, router)
    if external is None:
        return scenario
    fip_address = topo.attrs(fip).get("floating_ip_address") if fip else None
    router_port = router_port_on(topo, router, subnet or "")
    name = router_label(topo, router)
    if not distributed:
        walk.br_int(host or "?", f"switches it toward the subnet's gateway, router {name}'s qr- port")
        ns = router_namespace(walk, router, "qrouter-", None, walk.hops[-1])
        if ns is None:
            return scenario  # no router to route it: nothing further to walk
        router_host = topo.nodes[ns].get("host")
        walk.cross(host, router_host, network_of(topo, port))
        enter_router(walk, router, router_port, router_host, f"qr- of router {name}: the gateway receives it")
        if fip:
            nat_hop(walk, ns, router_host, f"qrouter routes it to the default gateway and SNATs {ip} to its "
                    f"floating IP {fip_address}", (f"-s {ip}/32", f"--to-source {fip_address}"),
                    Problem.FIP_NOT_ASSOCIATED, f"no SNAT rule for {ip} -> {fip_address} in the qrouter namespace: "
                    "the L3 agent has not applied the floating IP")
        else:
            nat_hop(walk, ns, router_host, "qrouter routes it to the default gateway and SNATs it to the router's "
                    "gateway IP", ("-j SNAT", "-o qg-"), Problem.ROUTER_NO_GATEWAY,
                    "no SNAT rule in the qrouter namespace (is enable_snat off?)")
        gateway_leg(walk, router, router_host, external, "leaves the router on qg-")
    else:
        walk.br_int(host or "?", f"switches it to the distributed router {name}'s qr- port on this host")
        ns = router_namespace(walk, router, "qrouter-", host, walk.hops[-1])
        enter_router(walk, router, router_port, host, f"qr- of distributed router {name} on {host}")
        if fip:
            dvr_fip_out(walk, router, ns, host, ip, fip_address, external)
        else:
            dvr_snat_out(walk, router, ns, host, port, subnet, external)
    outside_hop(walk, external, target.ip if target.kind == "outside" else None, "reaches")
    return scenario


def policy_rules(topo: Topo, namespace: str | None, needle: str) -> str:
    rules = topo.attrs(namespace).get("rules", []) if namespace else []
    text = [f"from {r.get('from')} lookup {r.get('table')}" for r in rules if needle and r.get("from")
            and needle in str(r.get("from"))]
    return "ip rule: " + "; ".join(text) if text else ""


def dvr_fip_out(walk: Walk, router: str, ns: str | None, host: str | None, ip: str, fip: str | None,
                external: str) -> None:
    topo = walk.topo
    hop = nat_hop(walk, ns, host, f"qrouter's policy routing sends {ip} to the fip namespace and SNATs it to "
                  f"its floating IP {fip}", (f"-s {ip}/32", f"--to-source {fip}"), Problem.FIP_NOT_ASSOCIATED,
                  f"no SNAT rule for {ip} -> {fip} in the qrouter namespace on {host}")
    rules = policy_rules(topo, ns, ip)
    hop.evidence = "; ".join(x for x in (rules, hop.evidence) if x)
    rfp, fpr = rfp_fpr(topo, router, host)
    walk.device_hop(rfp, f"rfp-{router[7:17]}", host, "leaves qrouter on rfp- (veth to the fip namespace)")
    walk.device_hop(fpr, f"fpr-{router[7:17]}", host, "enters the fip namespace on fpr-")
    fg_leg(walk, host, external, "leaves the fip namespace on fg- towards the external network", out=True)


def rfp_fpr(topo: Topo, router: str, host: str | None) -> tuple[str | None, str | None]:
    rfp = fpr = None
    for node_id in topo.targets(router, EdgeKind.BINDS):
        node = topo.nodes[node_id]
        if node.get("host") == host and node["attrs"].get("role") == "rfp":
            rfp = node_id
        elif node.get("host") == host and node["attrs"].get("role") == "fpr":
            fpr = node_id
    return rfp, fpr


def fip_gateway_port(topo: Topo, host: str | None, external: str) -> str | None:
    for port in topo.sources(external, EdgeKind.ON_NETWORK):
        attrs = topo.attrs(port)
        if attrs.get("device_owner") == DeviceOwner.FIP_AGENT_GATEWAY and attrs.get("binding_host_id") == host:
            return port
    return None


def fg_leg(walk: Walk, host: str | None, external: str, what: str, out: bool) -> None:
    topo = walk.topo
    fg = fip_gateway_port(topo, host, external)
    namespace = next((n for n in namespaces_of(topo, external, "fip-") if topo.nodes[n].get("host") == host), None)
    ns_hop = walk.hop(namespace, f"fip namespace on {host}", host=host)
    if host is not None:
        walk.check_agent(host, "L3 agent", ns_hop)
    if namespace is None:
        walk.fail(ns_hop, Problem.NAMESPACE_MISSING, f"fip-{external[8:]} is missing on {host}: the DVR L3 agent "
                  "there makes it when a router with a gateway has ports on the host")
    if fg is None:
        walk.fail(ns_hop, Problem.NO_FG_PORT, f"no fg- port on {host}: the floating IP agent gateway port is "
                  "missing (L3 agent in dvr mode alive?)")
        return
    if split_devices(topo, fg, host)[1] is None:
        walk.fail(ns_hop, Problem.NO_FG_PORT, f"no fg-{fg[5:16]} in the fip namespace on {host}: the L3 agent has "
                  "not plugged the floating IP agent gateway port (L3 agent in dvr mode alive?)")
        return
    if out:
        leave_router(walk, fg, host, what)
        external_out(walk, host, external)
    else:
        enter_router(walk, "", fg, host, what)


def dvr_snat_out(walk: Walk, router: str, ns: str | None, host: str | None, port: str, subnet: str | None,
                 external: str) -> None:
    topo = walk.topo
    snat_ports = [p for p in router_ports(topo, router, DeviceOwner.ROUTER_SNAT) if subnet in subnets_of(topo, p)]
    sg_ip = vm_ip(topo, snat_ports[0]) if snat_ports else "?"
    hop = walk.hop(ns, f"qrouter on {host} routes it by policy to the SNAT port {sg_ip} of its subnet", host=host)
    hop.evidence = policy_rules(topo, ns, ".")
    snat = router_namespace(walk, router, "snat-", None, hop)
    if snat is None:
        return
    snat_host = topo.nodes[snat].get("host")
    walk.br_int(host or "?", f"back on br-int, toward sg- {sg_ip} on {snat_host}")
    walk.cross(host, snat_host, network_of(topo, port), f" (the source MAC becomes {host}'s DVR MAC)")
    enter_router(walk, router, snat_ports[0] if snat_ports else None, snat_host,
                 f"sg- of router {router_label(topo, router)} in the snat namespace receives it")
    nat_hop(walk, snat, snat_host, "the snat namespace SNATs it to the router's gateway IP", ("-j SNAT", "-o qg-"),
            Problem.ROUTER_NO_GATEWAY, "no SNAT rule in the snat namespace (is enable_snat off?)")
    gateway_leg(walk, router, snat_host, external, "leaves the snat namespace on qg-")


def inbound_fip(walk: Walk, fip: str, src_ip: str | None) -> str:
    topo = walk.topo
    attrs = topo.attrs(fip)
    address, external = attrs.get("floating_ip_address"), f"network:{attrs.get('floating_network_id')}"
    outside_hop(walk, external, src_ip, "a host on the outside,")
    if not attrs.get("port_id") or f"port:{attrs['port_id']}" not in topo.nodes:
        hop = walk.hop(fip, f"floating IP {address}")
        walk.fail(hop, Problem.FIP_NOT_ASSOCIATED, f"floating IP {address} is not associated with any port: "
                  "`openstack floating ip set --port <port> <floating ip>`")
        return "inbound-fip"
    port = f"port:{attrs['port_id']}"
    router, subnet = serving_router(walk, port, f"router:{attrs['router_id']}" if attrs.get("router_id") else None)
    if router is None or router_external(topo, router) != attrs.get("floating_network_id"):
        hop = walk.hop(fip, f"floating IP {address} -> {vm_ip(topo, port)}")
        where = f"subnet {topo.nodes[subnet]['label']}" if subnet in topo.nodes else "the port's subnet"
        walk.fail(hop, Problem.FIP_UNREACHABLE, f"{where} is not attached to a router with a gateway on "
                  f"{topo.nodes.get(external, {}).get('label', 'the external network')}: "
                  "External network is not reachable from the port's subnet")
        return "inbound-fip"
    fixed = attrs.get("fixed_ip_address") or vm_ip(topo, port)
    vm_host = topo.attrs(port).get("binding_host_id") or None
    router_port = router_port_on(topo, router, subnet or "")
    name = router_label(topo, router)
    if not topo.attrs(router).get("distributed"):
        ns = router_namespace(walk, router, "qrouter-", None, walk.hops[-1])
        if ns is None:
            return "inbound-fip"
        router_host = topo.nodes[ns].get("host")
        external_in(walk, router_host, external, address)
        what = f"qg- of router {name} answers ARP for {address} (it holds the floating IP)"
        gateway = gateway_port(walk, router, router_host, what)
        if gateway is None:
            return "inbound-fip"
        hop = enter_router(walk, router, gateway, router_host, what)
        orphaned(walk, router, hop)
        if address and f"{address}/32" not in topo.attrs(hop.node).get("addresses", []) and hop.status == "ok":
            hop.status = "warn"
            hop.evidence += f" ({address}/32 not on qg- yet)"
        nat_hop(walk, ns, router_host, f"qrouter DNATs {address} to {fixed}",
                ("PREROUTING", f"-d {address}/32", f"--to-destination {fixed}"), Problem.FIP_NOT_ASSOCIATED,
                f"no DNAT rule for {address} in the qrouter namespace: the L3 agent has not applied the floating IP")
        leave_router(walk, router_port, router_host, "qr- hands it to the tenant network")
        walk.cross(router_host, vm_host, network_of(topo, port))
        walk.vm_in(port, vm_host, src_ip)
        return "inbound-fip"
    external_in(walk, vm_host, external, address)
    fg_leg(walk, vm_host, external, f"fg- in the fip namespace answers ARP for {address} (proxy ARP)", out=False)
    rfp, fpr = rfp_fpr(topo, router, vm_host)
    ns_fip = next((n for n in namespaces_of(topo, external, "fip-") if topo.nodes[n].get("host") == vm_host), None)
    fip_routes = topo.attrs(ns_fip).get("routes", []) if ns_fip else []
    routes = [r for r in fip_routes if str(r.get("dst", "")).startswith(f"{address}/")]
    fpr_hop = walk.device_hop(fpr, f"fpr-{router[7:17]}", vm_host, f"the fip namespace routes {address} over fpr-")
    if routes:
        fpr_hop.evidence = f"route {routes[0]['dst']} via {routes[0].get('gateway')} dev {routes[0].get('dev')}"
    walk.device_hop(rfp, f"rfp-{router[7:17]}", vm_host, "enters the distributed router's qrouter on rfp-")
    ns = router_namespace(walk, router, "qrouter-", vm_host, walk.hops[-1])
    nat_hop(walk, ns, vm_host, f"qrouter DNATs {address} to {fixed}",
            ("PREROUTING", f"-d {address}/32", f"--to-destination {fixed}"),
            Problem.FIP_NOT_ASSOCIATED, f"no DNAT rule for {address} in the qrouter namespace on {vm_host}")
    leave_router(walk, router_port, vm_host, "qr- hands it to the tenant network")
    walk.vm_in(port, vm_host, src_ip)
    return "inbound-fip-dvr"


def same_network(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    host = walk.vm_out(source.node)
    walk.br_int(host or "?", "switches it within the network's local VLAN")
    dst_host = walk.topo.attrs(target.node).get("binding_host_id") or None
    walk.cross(host, dst_host, network_of(walk.topo, source.node))
    if dst_host and host and dst_host != host:
        walk.br_int(dst_host, "switches it to the destination's port")
    walk.vm_in(target.node, dst_host, source.ip)
    return "same-network"


def dvr_mac_rewrite(walk: Walk, host: str | None, qr_port: str | None) -> tuple[str, str] | None:
    """The host's DVR MAC and the br-tun flow (DVR_PROCESS table) that puts it on a routed packet.

    A distributed router's qr- MAC is the same on every host, so before a routed packet enters
    the tunnel br-tun replaces it with the sending host's own DVR MAC (`mod_dl_src`).
    """
    if host is None or qr_port is None:
        return None
    qr_mac = str(walk.topo.attrs(qr_port).get("mac_address") or "")
    if not qr_mac:
        return None
    for line in walk.topo.flows(host, "br-tun"):
        if f"dl_src={qr_mac}" not in line:
            continue
        found = re.search(r"mod_dl_src:([0-9a-f:]{17})|set_field:([0-9a-f:]{17})->eth_src", line)
        if found:
            return found.group(1) or found.group(2), line.strip()
    return None


def east_west(walk: Walk, source: Endpoint, target: Endpoint, router: str) -> str:
    topo = walk.topo
    name = router_label(topo, router)
    src_subnet = next(s for s in subnets_of(topo, source.node) if router in routers_of_subnet(topo, s))
    dst_subnet = next(s for s in subnets_of(topo, target.node) if router in routers_of_subnet(topo, s))
    dst_host = topo.attrs(target.node).get("binding_host_id") or None
    host = walk.vm_out(source.node)
    distributed = bool(topo.attrs(router).get("distributed"))
    walk.br_int(host or "?", f"switches it to the gateway of its subnet, router {name}'s qr- port")
    if distributed:
        router_host = host
        ns = router_namespace(walk, router, "qrouter-", host, walk.hops[-1])
    else:
        ns = router_namespace(walk, router, "qrouter-", None, walk.hops[-1])
        if ns is None:
            return "east-west"
        router_host = topo.nodes[ns].get("host")
        walk.cross(host, router_host, network_of(topo, source.node))
    enter_router(walk, router, router_port_on(topo, router, src_subnet), router_host,
                 f"qr- of router {name} ({topo.nodes[src_subnet]['label']}'s gateway)")
    walk.hop(ns, f"qrouter on {router_host} routes it to {topo.nodes[dst_subnet]['label']}", host=router_host)
    leaving = router_port_on(topo, router, dst_subnet)
    leave_router(walk, leaving, router_host, f"leaves on the qr- of {topo.nodes[dst_subnet]['label']}")
    if distributed:
        rewrite = dvr_mac_rewrite(walk, router_host, leaving)
        mac, evidence, flows = (f" {rewrite[0]}", f"DVR MAC {rewrite[0]}: {rewrite[1]}", [rewrite[1]]) if rewrite \
            else ("", "", [])
        walk.cross(router_host, dst_host, network_of(topo, target.node),
                   f" (br-tun rewrites the source MAC to {router_host}'s DVR MAC{mac})", evidence, flows)
    else:
        walk.cross(router_host, dst_host, network_of(topo, target.node))
    if distributed and dst_host != router_host:
        walk.br_int(str(dst_host), "replaces the DVR MAC with the destination subnet's gateway MAC")
    walk.vm_in(target.node, dst_host, source.ip)
    return "east-west-dvr" if distributed else "east-west"


# --------------------------------------------------------------------------- entry point


def explain(graph: Mapping[str, list[Any]], reports: Mapping[str, JsonDict], src: str, dst: str,
            probe: str = "icmp") -> JsonDict:
    """The path from ``src`` to ``dst`` (node ids or IPs) hop by hop, checked against the live state."""
    return explain_in(Topo(graph, reports), src, dst, probe)


def explain_in(topo: Topo, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    """:func:`explain` on an already indexed graph."""
    parsed = Probe.parse(probe)
    source = as_source(topo, resolve(topo, src))
    return explain_endpoints(topo, source, resolve(topo, dst, near=source), parsed)


def explain_endpoints(topo: Topo, source: Endpoint, target: Endpoint, probe: Probe) -> JsonDict:
    """The walk between two resolved endpoints (a tenant's are resolved in what it may see: path_scope)."""
    walk = Walk(topo, probe)
    scenario = route(walk, source, target)
    result: JsonDict = {
        "verdict": finish(walk),
        "scenario": scenario,
        "src": {"kind": source.kind, "node": source.node, "ip": source.ip},
        "dst": {"kind": target.kind, "node": target.node, "ip": target.ip},
        "probe": walk.probe.describe(),
        "hops": [h.to_dict() for h in walk.hops],
        "problems": walk.problems,
    }
    if scenario == "east-west-dvr":
        back = Walk(topo, walk.probe)
        east_west(back, target, source, route_router(topo, source, target) or "")
        back_verdict = finish(back)
        result["return_hops"] = [h.to_dict() for h in back.hops]
        result["return_verdict"] = back_verdict
        result["problems"] += [{**p, "direction": "return"} for p in back.problems if p not in walk.problems]
        result["verdict"] = worst(str(result["verdict"]), back_verdict)  # a ping needs the reply too
    return result


VERDICT_ORDER = ("ok", "unknown", "broken")


def worst(*verdicts: str) -> str:
    return max(verdicts, key=VERDICT_ORDER.index)


def as_source(topo: Topo, endpoint: Endpoint) -> Endpoint:
    """A floating IP as a source stands for its port."""
    if endpoint.kind == "fip":
        port = topo.attrs(endpoint.node).get("port_id")
        if port and f"port:{port}" in topo.nodes:
            return Endpoint("port", f"port:{port}", topo.attrs(endpoint.node).get("fixed_ip_address"))
        raise PathError(f"floating IP {endpoint.ip} is not associated: it sends nothing")
    return endpoint


def route_router(topo: Topo, source: Endpoint, target: Endpoint) -> str | None:
    src_routers = {r for s in subnets_of(topo, source.node) for r in routers_of_subnet(topo, s)}
    for subnet in subnets_of(topo, target.node):
        for router in routers_of_subnet(topo, subnet):
            if router in src_routers:
                return router
    return None


def route(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    topo = walk.topo
    if source.kind == "port" and target.kind == "port":
        if network_of(topo, source.node) == network_of(topo, target.node):
            return same_network(walk, source, target)
        router = route_router(topo, source, target)
        if router is not None:
            return east_west(walk, source, target, router)
        fip = fip_of_port(topo, target.node)
        if fip is not None:  # no router joins them: through the destination's floating IP
            north_south(walk, source, Endpoint("outside", f"network:{topo.attrs(fip).get('floating_network_id')}",
                                               topo.attrs(fip).get("floating_ip_address")))
            return inbound_fip(walk, fip, source.ip)
        return unrouted(walk, source, target)
    if source.kind == "port" and target.kind == "outside":
        return north_south(walk, source, target)
    if source.kind == "port" and target.kind == "fip":
        fip_net = f"network:{topo.attrs(target.node).get('floating_network_id')}"
        north_south(walk, source, Endpoint("outside", fip_net, target.ip))
        return inbound_fip(walk, target.node, source.ip)
    if source.kind == "outside" and target.kind == "fip":
        return inbound_fip(walk, target.node, source.ip)
    if source.kind == "outside" and target.kind == "port":
        fip = fip_of_port(topo, target.node)
        if fip is not None:
            return inbound_fip(walk, fip, source.ip)
        hop = walk.hop(target.node, f"{target.ip} has no floating IP")
        walk.fail(hop, Problem.FIP_NOT_ASSOCIATED, f"{target.ip} is a fixed IP behind a router: the outside reaches "
                  "it only through a floating IP associated with its port")
        return "inbound-fip"
    raise PathError("one end must be a port, a VM or a floating IP of the cloud")


def unrouted(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """Two networks no router joins: name the subnet that has no router, if one of them has none."""
    topo = walk.topo
    hop = walk.hop(target.node, f"{target.ip} is on another network")
    (src_router, src_subnet), (dst_router, dst_subnet) = (serving_router(walk, e.node) for e in (source, target))
    lonely = [(subnet, other) for subnet, router, other in ((src_subnet, src_router, dst_router),
                                                             (dst_subnet, dst_router, src_router)) if router is None]
    if lonely:
        subnet, other = lonely[0]
        label = topo.nodes[subnet]["label"] if subnet in topo.nodes else "a subnet"
        fix = router_label(topo, other) if other else "<router>"
        walk.fail(hop, Problem.SUBNET_NO_ROUTER, f"subnet {label} is not attached to any router, so nothing routes "
                  f"between the two networks: `openstack router add subnet {fix} {label}`")
    else:
        walk.fail(hop, Problem.NO_ROUTE, "no router joins the two subnets and the destination has no floating IP")
    return "east-west"


def finish(walk: Walk) -> str:
    warn_stale_hosts(walk)
    blame_dead_agents(walk)
    return verdict(walk)


def warn_stale_hosts(walk: Walk) -> None:
    """What a hop on a host without a fresh report shows is that report's: a warning, not a verdict."""
    for host in dict.fromkeys(h.host for h in walk.hops if h.host):
        since = walk.topo.attrs(f"host:{host}").get("stale")
        if not since:
            continue
        for hop in walk.hops:
            if hop.host == host and hop.status == "ok":
                hop.status = "warn"
        walk.problem(Problem.HOST_STALE, stale_message(host, since), f"host:{host}", severity="warn")


def blame_dead_agents(walk: Walk) -> None:
    """A hop that fails on a host whose agent is dead fails because of it."""
    failed_hosts = {h.host for h in walk.hops if h.status == "fail" and h.host}
    for problem in walk.problems:
        if problem["code"] == Problem.AGENT_DEAD and (problem["node"] or "")[5:] in failed_hosts:
            problem["severity"] = "fail"
            problem["message"] = problem["message"].replace(
                "what it set up still works, but no change since has been applied there",
                "what is missing on that host is what it did not apply",
            )


def verdict(walk: Walk) -> str:
    if any(h.status == "fail" for h in walk.hops) or any(p["severity"] == "fail" for p in walk.problems):
        return "broken"
    if any(h.status == "unknown" for h in walk.hops):
        return "unknown"
    return "ok"


# --------------------------------------------------------------------------- tenants


INFRASTRUCTURE = (NodeKind.HOST, NodeKind.BRIDGE)


def redact_path(result: JsonDict, visible: set[str]) -> JsonDict:
    """Hops through what a tenant may not see keep what the hop does, never whose it is."""
    problems = [{**p, "node": p["node"] if p["node"] in visible else None} for p in result["problems"]]
    redacted = {**result, "hops": redact_hops(result["hops"], visible), "problems": problems}
    if "return_hops" in result:
        redacted["return_hops"] = redact_hops(result["return_hops"], visible)
    return redacted


def redact_hops(hops: list[JsonDict], visible: set[str]) -> list[JsonDict]:
    out = []
    for hop in hops:
        node = hop["node"]
        if not node or node in visible:
            out.append(hop)
            continue
        kind = node.split(":", 1)[0]
        # Another project's network is no more infrastructure than its ports (a public one is visible).
        out.append({**hop, "node": node if kind in INFRASTRUCTURE else "",
                    "evidence": "", "flows": []})
    return out
