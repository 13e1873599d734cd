"""The walk and its primitives: hops, problems, the checks of a port and an agent, device, VLAN,
bridge and tunnel (VNI) hops."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from topology import graph as g
from topology.kinds import TUNNEL_TYPES, EdgeKind, NodeKind
from topology.path import provider, underlay
from topology.path.model import Hop, JsonDict, Probe, Problem, Status
from topology.path.topo import Topo

VXLAN_MAX_MTU = 1450


def agent_dead_message(agent_type: str, host: str, blamed: bool) -> str:
    """A dead agent's problem: a warning (what it set up still works), or the cause of what is missing."""
    consequence = (
        "what is missing on that host is what it did not apply"
        if blamed
        else "what it set up still works, but no change since has been applied there"
    )
    return f"the {agent_type} on {host} is dead: {consequence}; restart it"


@dataclass
class Walk:
    topo: Topo
    probe: Probe
    hops: list[Hop] = field(default_factory=list)
    problems: list[JsonDict] = field(default_factory=list)
    # (host, agent type) of each dead agent met, with its problem entry (verdict.blame_dead_agents).
    dead_agents: dict[tuple[str, str], JsonDict] = field(default_factory=dict)
    # The address the source sends to, on a forward walk (its egress rules judge it); None: a reply's walk.
    dst_ip: str | None = None
    # A reply's family (its walk has no dst_ip): the forward packet's.
    reply_family: int | None = None

    @property
    def family(self) -> int:
        """The packet's address family: its destination's (4 when no address is asked), a reply's as told."""
        if self.reply_family is not None:
            return self.reply_family
        try:
            return ipaddress.ip_address(self.dst_ip or "").version
        except ValueError:
            return 4

    def hop(
        self,
        node: str | None,
        what: str,
        evidence: str = "",
        status: Status = "ok",
        flows: list[str] | None = None,
        host: str | None = None,
    ) -> Hop:
        node_id = node or ""
        hop = Hop(
            node=node_id,
            host=host or (self.topo.nodes.get(node_id, {}).get("host")),
            what=what,
            status=status if node_id in self.topo.nodes or status != "ok" else "unknown",
            evidence=evidence,
            flows=flows or [],
        )
        self.hops.append(hop)
        return hop

    def problem(
        self, code: str, message: str, node: str | None = None, severity: Status = "fail", port: str | None = None
    ) -> JsonDict:
        """``port``: the Neutron port whose fix it is (a security-group problem's), for the panel's link."""
        entry: JsonDict = {"code": code, "message": message, "node": node, "severity": severity}
        if port is not None:
            entry["port"] = port
        if entry in self.problems:
            return self.problems[self.problems.index(entry)]
        self.problems.append(entry)
        return entry

    def fail(self, hop: Hop, code: str, message: str, port: str | None = None) -> None:
        hop.status = "fail"
        hop.evidence = (hop.evidence + " " if hop.evidence else "") + message
        self.problem(code, message, hop.node or None, port=port)

    # ----------------------------------------------------------------- checks

    def check_port(self, port: str, hop: Hop) -> str | None:
        """Status, binding and the host's report; returns the host the port is bound to."""
        attrs = self.topo.attrs(port)
        label = self.topo.nodes[port]["label"]
        if not attrs.get("admin_state_up", True):
            self.fail(hop, Problem.PORT_ADMIN_DOWN, f"port {label} is administratively down: set admin_state_up")
        elif self.topo.nodes[port].get("status") not in ("ACTIVE", None):
            self.fail(
                hop,
                Problem.PORT_DOWN,
                f"port {label} is {self.topo.nodes[port].get('status')}: its L2 agent has not wired it",
            )
        host = attrs.get("binding_host_id") or None
        if host is not None and attrs.get("vif_type") == "binding_failed":
            self.fail(
                hop,
                Problem.PORT_UNBOUND,
                f"port {label} failed to bind on host {host} (vif_type binding_failed): no mechanism driver "
                f"could bind it there; check an Open vSwitch agent is alive on {host} under that `host` name",
            )
            return None
        if host is None or attrs.get("vif_type") == "unbound":
            self.fail(
                hop,
                Problem.PORT_UNBOUND,
                f"port {label} is not bound to a host (vif_type {attrs.get('vif_type')}): "
                "check the host name matches the agents' `host`",
            )
            return None
        if not self.reported(host):
            self.fail(hop, Problem.HOST_NO_REPORT, f"host {host} sends no agent report: run the node agent there")
        self.check_agent(host, "Open vSwitch agent", hop)
        return str(host)

    def check_agent(self, host: str, agent_type: str, hop: Hop) -> None:
        """A dead agent leaves its devices and rules in place: the path may still work, but nothing
        changed since is applied there. A warning, which verdict.blame_dead_agents turns into the
        cause when something on that host is missing."""
        for agent in self.topo.agents(host):
            if agent.get("agent_type") == agent_type and not agent.get("alive"):
                if hop.status == "ok":
                    hop.status = "warn"
                entry = self.problem(
                    Problem.AGENT_DEAD,
                    agent_dead_message(agent_type, host, blamed=False),
                    g.host_id(host),
                    severity="warn",
                )
                self.dead_agents.setdefault((host, agent_type), entry)

    def reported(self, host: str | None) -> bool:
        """Whether ``host`` sends agent reports (what is on a host without one is unknown, not missing)."""
        return host is None or bool(self.topo.attrs(g.host_id(host)).get("reported"))

    def flows_for(self, host: str, bridge_name: str, *needles: str) -> list[str]:
        """dump-flows lines on ``bridge_name`` that mention any needle (a tag, a VNI, an in_port)."""
        lines = self.topo.flows(host, bridge_name)
        return [line.strip() for line in lines if any(n and n in line for n in needles)][:6]

    def nat_rules(self, host: str, namespace: str, *needles: str) -> list[str]:
        rules = self.topo.iptables(host, namespace, "nat").splitlines()
        return [r for r in rules if ("-j SNAT" in r or "-j DNAT" in r) and all(n in r for n in needles)]

    # ----------------------------------------------------------------- device, VLAN and bridge hops

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
            hop.flows = self.flows_for(
                host,
                "br-int",
                f"in_port={ofport},",
                f"dl_vlan={tag},",
                f"vlan_vid={4096 + int(tag)}",
                f"set_field:{4096 + int(tag)}->vlan_vid",
            )
        return hop

    def br_int(self, host: str, what: str) -> Hop:
        return self.hop(g.bridge_id(host, "br-int"), f"br-int on {host}: {what}")

    # ----------------------------------------------------------------- tunnel hops

    def cross(
        self,
        src_host: str | None,
        dst_host: str | None,
        network: str,
        what: str = "",
        evidence: str = "",
        lead_flows: Sequence[str] = (),
    ) -> None:
        """br-int -> br-tun -> tunnel (VXLAN/GRE/Geneve) -> br-tun -> br-int when the next device is on another host
        (the sending br-int is the caller's hop; the receiving one is this walk's last).

        ``what``, ``evidence`` and ``lead_flows`` add to the sending br-tun's hop (DVR: the source MAC rewrite).
        """
        if src_host is None or dst_host is None or src_host == dst_host:
            return
        attrs = self.topo.attrs(network)
        vni = attrs.get("segmentation_id")
        kind = attrs.get("network_type") or "vxlan"
        if kind not in TUNNEL_TYPES:  # vlan, flat: over the provider bridge, never br-tun
            provider.provider_cross(self, src_host, dst_host, network, kind)
            return
        vni_text = f"VNI {vni}" if vni is not None else "its VNI"
        flows = self.flows_for(src_host, "br-tun", f"set_field:{vni}->tun_id", f"tun_id={hex(vni) if vni else 'x'}")
        tun = self.hop(
            g.bridge_id(src_host, "br-tun"),
            f"br-tun on {src_host}: local VLAN swapped for {kind} {vni_text}{what}",
            evidence,
            flows=[*lead_flows, *flows][:6],
        )
        local, remote = self.tunnel_ports(src_host, dst_host)
        if local is None and not self.reported(src_host):
            return
        if local is None:
            self.fail(
                tun,
                Problem.NO_TUNNEL,
                f"no {kind} tunnel port from {src_host} to {dst_host}: check "
                "local_ip/tunneling_ip and that both OVS agents run (l2population creates tunnels on demand)",
            )
            return
        sent = self.hop(
            local,
            f"encapsulated in {kind} ({vni_text}) to {dst_host} "
            f"({self.topo.attrs(local).get('options', {}).get('remote_ip')})",
        )
        if remote is not None:
            self.hop(remote, f"{dst_host} receives the tunnel packet")
        back = self.hop(
            g.bridge_id(dst_host, "br-tun"),
            f"br-tun on {dst_host}: {vni_text} mapped back to a local VLAN",
            flows=self.flows_for(dst_host, "br-tun", f"tun_id={hex(vni) if vni else 'x'}"),
        )
        if remote is None and self.reported(dst_host):
            # OVS takes a tunnel packet in only on a port whose remote_ip is the sender's: none, it drops it.
            self.fail(
                back,
                Problem.NO_TUNNEL,
                f"no {kind} tunnel port from {dst_host} back to {src_host}: "
                f"{dst_host} drops what {src_host} sends; check both OVS agents' local_ip/tunneling_ip "
                "and that they run (l2population creates tunnels on demand)",
            )
            return
        self.mtu_check(network, kind, sent, src_host, dst_host)
        # patch-tun -> patch-int: the destination host's br-int switches it on (to a VM's qvo, a router's
        # qr-, the DHCP port's tap). Walks that continue on another host name that br-int here, once.
        self.br_int(dst_host, "the packet comes in over the patch-tun / patch-int patch, on the network's local VLAN")

    def tunnel_ports(self, src_host: str, dst_host: str) -> tuple[str | None, str | None]:
        for node_id in self.topo.targets(g.bridge_id(src_host, "br-tun"), EdgeKind.MEMBER):
            if self.topo.attrs(node_id).get("remote_host") == dst_host:
                peers = [p for p in self.topo.linked(node_id, EdgeKind.TUNNEL) if g.id_kind(p) == NodeKind.IFACE]
                return node_id, (peers[0] if peers else None)
        return None, None

    def mtu_check(self, network: str, kind: str, sent: Hop, src_host: str, dst_host: str) -> None:
        """Whether the tunnel's underlay carries the network's full-size packets (topology/path/underlay.py),
        on the tunnel port's hop; where neither host shows its underlay, VXLAN over the usual 1500 bytes."""
        attrs = self.topo.attrs(network)
        mtu = attrs.get("mtu")
        if not isinstance(mtu, int):
            return
        options = self.topo.attrs(sent.node).get("options") or {}
        ends = [
            underlay.underlay_of(self.topo, src_host, options.get("local_ip")),
            underlay.underlay_of(self.topo, dst_host, options.get("remote_ip")),
        ]
        if any(ends):
            message = underlay.too_small(mtu, kind, ends)
            if message:
                sent.status = "warn"
                sent.evidence = (sent.evidence + " " if sent.evidence else "") + message
                label = self.topo.nodes[network]["label"]
                self.problem(Problem.VXLAN_MTU, f"network {label}: {message}", sent.node, "warn")
        elif kind == "vxlan" and mtu > VXLAN_MAX_MTU:
            self.problem(
                Problem.VXLAN_MTU,
                f"network {self.topo.nodes[network]['label']} has MTU {mtu} "
                f"over VXLAN: full-size packets exceed the underlay; set it to {VXLAN_MAX_MTU} or less",
                network,
                severity="warn",
            )
