"""The explainer's result model: problem codes, scenarios, hops, probes and endpoints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

JsonDict = dict[str, Any]
MIN_PORT, MAX_PORT = 1, 65535  # a TCP/UDP port a probe may name (0 is no port)
Status = Literal["ok", "warn", "fail", "unknown"]


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
    PROVIDER_NO_PHYSICAL_PORT = "provider_no_physical_port"  # a VLAN/flat network's bridge has no NIC
    VM_ON_EXTERNAL_NETWORK = "vm_on_external_network"
    SG_NO_INGRESS = "sg_no_ingress"
    # The source port's groups allow nothing out for the probe (no group at all, or no egress rule)
    SG_NO_EGRESS = "sg_no_egress"
    VXLAN_MTU = "vxlan_mtu_too_high"
    NO_DHCP_PORT = "no_dhcp_port"
    NO_TUNNEL = "no_tunnel"
    UNKNOWN_ENDPOINT = "unknown_endpoint"
    NO_ROUTE = "no_route"
    # An address of the source's own subnet that no port holds: nobody answers ARP for it
    ADDRESS_UNALLOCATED = "address_unallocated"
    # A subnet's broadcast or network address: no one host's address
    SUBNET_BROADCAST = "subnet_broadcast"
    # An address of a tenant subnet (a router's qr-, a DHCP port) asked from the outside: not routable there
    NOT_ROUTABLE_FROM_OUTSIDE = "not_routable_from_outside"
    # Neutron says the router has no gateway, but its gateway port and qg- are left and still route (drift)
    GATEWAY_PORT_ORPHANED = "gateway_port_orphaned"
    # Metadata (topology/path/metadata.py): no REDIRECT to the proxy in the qrouter, no haproxy in the
    # namespace, no live metadata agent behind it, an isolated network whose qdhcp does not serve it
    METADATA_NO_REDIRECT = "metadata_no_redirect"
    METADATA_NO_PROXY = "metadata_no_proxy"
    METADATA_AGENT_DOWN = "metadata_agent_down"
    METADATA_NOT_SERVED = "metadata_not_served"
    # DNS (topology/path/dns.py): DHCP hands out no resolver; dnsmasq has no upstream for other names
    DNS_NO_RESOLVER = "dns_no_resolver"
    DNS_NO_UPSTREAM = "dns_no_upstream"
    # Address families (topology/path/family.py): an end without an address of the other end's family,
    # or a hop that would need that family (the router's interface, its gateway on the external side)
    NO_ADDRESS_FAMILY = "no_address_family"
    # IPv6 (topology/path/routed6.py): a subnet whose router should advertise it (ipv6_ra_mode set) has no
    # radvd in the router's namespace; an IPv6 subnet with an address mode and no ra mode expects an
    # external router's advertisements, and Neutron attaches it to no router (topology/path/family.py)
    NO_ROUTER_ADVERTISEMENT = "no_router_advertisement"
    IPV6_RA_MODE_UNSET = "ipv6_ra_mode_unset"
    # A DVR host's floating IP agent gateway address (fg-): a filter rule in its fip namespace drops the probe
    FIP_GATEWAY_FILTERED = "fip_gateway_filtered"
    # DVR east-west: the receiving br-int has no DVR_TO_SRC_MAC flow for the destination port's MAC
    DVR_TO_SRC_MAC_MISSING = "dvr_to_src_mac_missing"
    # DVR SNAT: the qrouter on the VM's host has no policy rule and table sending the subnet to its sg- port
    SNAT_REDIRECT_MISSING = "snat_redirect_missing"
    # HA routers (topology/path/ha.py): no instance holds the router's VIPs (keepalived master nowhere), two
    # do (split brain: unknown, either takes a packet), Neutron's ha_state disagrees with the instance that
    # holds them (a warning)
    HA_NO_ACTIVE = "ha_no_active"
    HA_SPLIT_BRAIN = "ha_split_brain"
    HA_STATE_MISMATCH = "ha_state_mismatch"
    # ML2/OVN (topology/path/ovn.py): a port's chassis not in the southbound, its ovn-controller not
    # connected, a router gateway that no chassis holds (no cr-lrp binding)
    OVN_CHASSIS_GONE = "ovn_chassis_gone"
    OVN_CONTROLLER_DOWN = "ovn_controller_down"
    OVN_NO_GATEWAY_CHASSIS = "ovn_no_gateway_chassis"
    OVN_CHASSIS_BEHIND = "ovn_chassis_behind"  # hv_cfg behind nb_cfg: the chassis has not caught up (a warning)


@dataclass(frozen=True)
class ScenarioText:
    """What the map says of a scenario, and whether its reply retraces the same nodes in reverse."""

    label: str
    symmetric: bool


class Scenario:
    """Scenario names: which walk explained the path (the API's ``scenario``; served to the map)."""

    NORTH_SOUTH_SNAT: Final = "north-south-snat"
    NORTH_SOUTH_SNAT_DVR: Final = "north-south-snat-dvr"
    NORTH_SOUTH_FIP: Final = "north-south-fip"
    NORTH_SOUTH_FIP_DVR: Final = "north-south-fip-dvr"
    INBOUND_FIP: Final = "inbound-fip"
    INBOUND_FIP_DVR: Final = "inbound-fip-dvr"
    EAST_WEST: Final = "east-west"
    EAST_WEST_DVR: Final = "east-west-dvr"
    SAME_NETWORK: Final = "same-network"
    TO_ROUTER: Final = "to-router"
    TO_DHCP: Final = "to-dhcp"
    TO_FIP_GATEWAY: Final = "to-fip-gateway"
    TO_METADATA: Final = "to-metadata"
    TO_DNS: Final = "to-dns"
    HAIRPIN: Final = "hairpin"
    HAIRPIN_DVR: Final = "hairpin-dvr"
    NORTH_SOUTH_ROUTED: Final = "north-south-routed"
    INBOUND_ROUTED: Final = "inbound-routed"
    NORTH_SOUTH_ROUTED_DVR: Final = "north-south-routed-dvr"
    INBOUND_ROUTED_DVR: Final = "inbound-routed-dvr"
    SAME_NETWORK_OVN: Final = "same-network-ovn"
    EAST_WEST_OVN: Final = "east-west-ovn"
    NORTH_SOUTH_SNAT_OVN: Final = "north-south-snat-ovn"
    NORTH_SOUTH_FIP_OVN: Final = "north-south-fip-ovn"

    # A scenario whose reply does not retrace it (DVR routes on each host) is walked back too.
    ABOUT: Final[dict[str, ScenarioText]] = {
        NORTH_SOUTH_SNAT: ScenarioText("north-south: out through the router's SNAT", True),
        NORTH_SOUTH_SNAT_DVR: ScenarioText("north-south (DVR): out through the snat namespace", False),
        NORTH_SOUTH_FIP: ScenarioText("north-south with a floating IP", True),
        NORTH_SOUTH_FIP_DVR: ScenarioText("north-south with a floating IP (DVR, through the fip namespace)", True),
        INBOUND_FIP: ScenarioText("inbound to a floating IP", True),
        INBOUND_FIP_DVR: ScenarioText("inbound to a floating IP (DVR, through the fip namespace)", True),
        EAST_WEST: ScenarioText("east-west through the router", True),
        EAST_WEST_DVR: ScenarioText("east-west (DVR, routed on each compute host)", False),
        SAME_NETWORK: ScenarioText("on the same network (switched, not routed)", True),
        TO_ROUTER: ScenarioText("to the router's own address (answered in its namespace)", True),
        TO_DHCP: ScenarioText("to the network's DHCP port (answered in the qdhcp namespace)", True),
        TO_FIP_GATEWAY: ScenarioText(
            "to a DVR host's floating IP agent gateway address (answered on fg- in its fip namespace)", True
        ),
        TO_METADATA: ScenarioText("to the metadata service (169.254.169.254, the router's or qdhcp's proxy)", True),
        TO_DNS: ScenarioText("to the VM's DNS resolver (as DHCP hands it out)", True),
        HAIRPIN_DVR: ScenarioText("hairpin (DVR): to a floating IP on the sender's host, back through fip", True),
        HAIRPIN: ScenarioText("hairpin: to a floating IP of the sender's own router (NATed in its qrouter)", True),
        NORTH_SOUTH_ROUTED: ScenarioText("north-south, IPv6: routed out through the router, without NAT", True),
        INBOUND_ROUTED: ScenarioText("inbound, IPv6: to the VM's own address, routed by its router", True),
        NORTH_SOUTH_ROUTED_DVR: ScenarioText(
            "north-south, IPv6 (DVR): out by the host's fip namespace or the snat one, back through snat", False
        ),
        INBOUND_ROUTED_DVR: ScenarioText(
            "inbound, IPv6 (DVR): through the snat namespace to the VM's own address", False
        ),
        SAME_NETWORK_OVN: ScenarioText("on the same network (OVN: one logical switch)", True),
        EAST_WEST_OVN: ScenarioText("east-west (OVN: routed by the distributed logical router)", True),
        NORTH_SOUTH_SNAT_OVN: ScenarioText("north-south (OVN: SNAT on the gateway chassis)", True),
        NORTH_SOUTH_FIP_OVN: ScenarioText("north-south with a floating IP (OVN: dnat_and_snat)", True),
    }


class PathError(ValueError):
    """An endpoint that names nothing in the graph (the API answers 400/404 with it)."""


# A hop's evidence is made of parts ("ip rule: ...; iptables: ..."); the iptables part cites rules of the
# host's report, " | " between them. Written by iptables_evidence, read back (verify's counters) by cited_iptables.
IPTABLES_EVIDENCE: Final = "iptables: "
EVIDENCE_PARTS: Final = "; "
RULES_CITED: Final = " | "


# A NAT hop says what it does with the verb ("SNATs it", "DNATs <FIP> to <fixed>"); "the SNAT port", "not SNATed"
# are no NAT done there.
NAT_VERB: Final = re.compile(r"\b(SNAT|DNAT)s\b")


def nat_done(what: str) -> set[str]:
    """The translations (SNAT, DNAT) a hop's ``what`` says it does."""
    return {found.group(1) for found in NAT_VERB.finditer(what)}


def iptables_evidence(rules: list[str]) -> str:
    return IPTABLES_EVIDENCE + RULES_CITED.join(rules)


def cited_iptables(evidence: str) -> list[str]:
    """The iptables rules a hop's evidence cites, wherever that part is among its parts (DVR's fip-out hop puts
    its policy rules first: "ip rule: from <VM IP> lookup 16; iptables: -A ... -j SNAT --to-source <FIP>")."""
    if evidence.startswith(IPTABLES_EVIDENCE):
        start = 0
    else:
        found = evidence.find(EVIDENCE_PARTS + IPTABLES_EVIDENCE)
        if found < 0:
            return []
        start = found + len(EVIDENCE_PARTS)
    return evidence[start + len(IPTABLES_EVIDENCE) :].split(RULES_CITED)


@dataclass
class Hop:
    node: str
    host: str | None
    what: str
    status: Status = "ok"
    evidence: str = ""
    flows: list[str] = field(default_factory=list)

    def cite(self, text: str) -> None:
        """Add ``text`` to the hop's evidence, after what is already cited there."""
        self.evidence = f"{self.evidence}; {text}" if self.evidence else text

    def to_dict(self) -> JsonDict:
        hop: JsonDict = {
            "node": self.node,
            "host": self.host,
            "what": self.what,
            "status": self.status,
            "evidence": self.evidence,
        }
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
            port = int(match.group(2))
            if not MIN_PORT <= port <= MAX_PORT:
                raise PathError(
                    f"probe {text!r}: {match.group(1).upper()} port {port} does not exist "
                    f"(ports are {MIN_PORT}-{MAX_PORT})"
                )
            return cls(match.group(1), port)
        raise PathError(f"probe {text!r}: use icmp, ssh, tcp:PORT or udp:PORT")

    def describe(self) -> str:
        return "ICMP" if self.protocol == "icmp" else f"{self.protocol.upper()}/{self.port}"


@dataclass(frozen=True)
class Endpoint:
    """A resolved source or destination: a port (with its IP), a floating IP, the outside, an address
    the cloud holds itself (a router's, a DHCP port's, a DVR host's fg-), an address of a subnet no port holds, or a
    tenant port's fixed IP asked from the outside ("fixed": not routed there, whatever its floating IP)."""

    kind: Literal[
        "port", "fip", "outside", "router", "dhcp", "fipgw", "unallocated", "broadcast", "metadata", "dns", "fixed"
    ]
    # port:/fip:/network: id (the external network for "outside"); router: id; the DHCP port; the fg- port
    # for "fipgw" (a DVR host's floating IP agent gateway); the port for "fixed"; the subnet for
    # "unallocated"/"broadcast"/"dns" (the source's resolver); "" for "metadata"
    node: str
    ip: str | None
