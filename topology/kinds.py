"""Constants of the graph: node kinds, edge kinds, device-name prefixes.

Names follow Neutron's own vocabulary (neutron/agent/linux/interface.py,
neutron/agent/l3/*, neutron/plugins/ml2/drivers/openvswitch/agent).
"""

from __future__ import annotations

from typing import Final


class NodeKind:
    NETWORK: Final = "network"
    SUBNET: Final = "subnet"
    PORT: Final = "port"
    ROUTER: Final = "router"
    FLOATINGIP: Final = "fip"
    SERVER: Final = "server"
    SECGROUP: Final = "secgroup"
    HOST: Final = "host"
    NETNS: Final = "netns"
    BRIDGE: Final = "bridge"
    IFACE: Final = "iface"

    LOGICAL: Final = frozenset({NETWORK, SUBNET, PORT, ROUTER, FLOATINGIP, SERVER, SECGROUP})
    PHYSICAL: Final = frozenset({HOST, NETNS, BRIDGE, IFACE})


class EdgeKind:
    MEMBER: Final = "member"  # host/namespace/bridge/network contains
    VETH: Final = "veth"
    PATCH: Final = "patch"
    TUNNEL: Final = "tunnel"
    BINDS: Final = "binds"  # logical object <-> the physical thing that realizes it
    ON_NETWORK: Final = "on_network"
    IN_SUBNET: Final = "in_subnet"
    ROUTER_INTERFACE: Final = "router_interface"
    GATEWAY: Final = "gateway"
    NAT: Final = "nat"
    RUNS: Final = "runs"
    SECURED_BY: Final = "secured_by"

    # Edges that join the logical layer to the physical one.
    CROSS: Final = frozenset({BINDS})


class DeviceOwner:
    COMPUTE_PREFIX: Final = "compute:"
    DHCP: Final = "network:dhcp"
    ROUTER_INTERFACE: Final = "network:router_interface"
    ROUTER_INTERFACE_DISTRIBUTED: Final = "network:router_interface_distributed"
    ROUTER_HA_INTERFACE: Final = "network:router_ha_interface"
    HA_REPLICATED_INTERFACE: Final = "network:ha_router_replicated_interface"
    ROUTER_GATEWAY: Final = "network:router_gateway"
    ROUTER_SNAT: Final = "network:router_centralized_snat"
    FLOATINGIP: Final = "network:floatingip"
    FIP_AGENT_GATEWAY: Final = "network:floatingip_agent_gateway"

    ROUTER_INTERFACES: Final = frozenset({ROUTER_INTERFACE, ROUTER_INTERFACE_DISTRIBUTED, HA_REPLICATED_INTERFACE})


class NamespacePrefix:
    QROUTER: Final = "qrouter-"
    SNAT: Final = "snat-"
    FIP: Final = "fip-"
    QDHCP: Final = "qdhcp-"
    OVNMETA: Final = "ovnmeta-"  # ML2/OVN's metadata agent: one per network with a VM port on the chassis
    VM: Final = "vm-"  # the lab's stand-in for a VM (a namespace per instance)


# What a security-group rule matches, under Neutron's API names (the graph keeps these, with the rule's id).
SECGROUP_RULE_MATCH: Final = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
)


class FirewallChain:
    """A port's chains of Neutron's iptables_hybrid firewall (neutron/agent/linux/iptables_firewall.py
    _port_chain_name): the prefix of its direction and the port id's first CHAIN_ID_LEN characters."""

    INGRESS: Final = "neutron-openvswi-i"
    EGRESS: Final = "neutron-openvswi-o"
    BY_DIRECTION: Final = {"ingress": INGRESS, "egress": EGRESS}
    CHAIN_ID_LEN: Final = 10


# Device name prefixes; the rest of the name is the port (or router) id,
# cut to fit the kernel's interface-name limit.
# ns- is the namespace side of a DHCP port plugged with ovs_use_veth (its br-int side is tap...).
DEVICE_PREFIXES: Final = ("tap", "qbr", "qvb", "qvo", "qr-", "qg-", "sg-", "fg-", "ha-", "ns-", "rfp-", "fpr-")
ROUTER_DEVICE_PREFIXES: Final = ("rfp-", "fpr-")
ID_PREFIX_LEN: Final = 11
# Neutron cuts every device name to 14 characters (LinuxInterfaceDriver.DEV_NAME_LEN):
# a 3-character prefix keeps id[:11], the 4-character rfp-/fpr- keep router id[:10].
DEV_NAME_LEN: Final = 14

DEVICE_ROLE: Final = {
    "tap": "tap",
    "qbr": "qbr",
    "qvb": "qvb",
    "qvo": "qvo",
    "qr-": "qr",
    "qg-": "qg",
    "sg-": "sg",
    "fg-": "fg",
    "ha-": "ha",
    "ns-": "ns",
    "rfp-": "rfp",
    "fpr-": "fpr",
}

# OVS interface types that are tunnels (Interface.type): one list for the agent, the join, the explainer and the map.
TUNNEL_TYPES: Final[frozenset[str]] = frozenset({"vxlan", "gre", "geneve", "stt", "erspan", "ip6gre", "ip6erspan"})


class AgentType:
    """Neutron's ``agent_type`` of the agents that tell the ML2 backend apart (GET /v2.0/agents)."""

    OPEN_VSWITCH: Final = "Open vSwitch agent"
    OVN_CONTROLLER: Final = "OVN Controller agent"
    OVN_CONTROLLER_GATEWAY: Final = "OVN Controller Gateway agent"
    OVN_METADATA: Final = "OVN Metadata agent"

    OVN: Final = frozenset({OVN_CONTROLLER, OVN_CONTROLLER_GATEWAY, OVN_METADATA})


class Backend:
    """The cloud's ML2 mechanism, as the status says it."""

    ML2_OVN: Final = "ml2/ovn"
    ML2_OVS: Final = "ml2/ovs"
    UNKNOWN: Final = "unknown"


class OvnName:
    """How Neutron's OVN driver names its objects in the NB (neutron/common/ovn/utils.py, constants.py)."""

    SWITCH_PREFIX: Final = "neutron-"  # Logical_Switch neutron-<network id>; Logical_Router neutron-<router id>
    ROUTER_PORT_PREFIX: Final = "lrp-"  # Logical_Router_Port lrp-<port id>
    CHASSISREDIRECT_PREFIX: Final = "cr-lrp-"  # SB Port_Binding of a gateway port: where centralized SNAT runs
    PORT_GROUP_PREFIX: Final = "pg_"  # Port_Group pg_<security group id with _ for ->
    DROP_PORT_GROUP: Final = "neutron_pg_drop"
    FIP_ID_KEY: Final = "neutron:fip_id"  # NAT external_ids
    SECURITY_GROUP_ID_KEY: Final = "neutron:security_group_id"  # Port_Group external_ids
    NAT_SNAT: Final = "snat"
    NAT_DNAT_AND_SNAT: Final = "dnat_and_snat"
    PORT_BINDING_CHASSISREDIRECT: Final = "chassisredirect"


# The snapshot key the collector puts OVN's databases under, and the node attribute the join writes.
OVN_SNAPSHOT_KEY: Final = "ovn"
OVN_ATTR: Final = "ovn"
