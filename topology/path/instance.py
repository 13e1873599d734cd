"""The instance's legs: from the VM to br-int (tap, qbr, qvb/qvo) and back, with the checks of its
network (external, DHCP, bridge mappings)."""

from __future__ import annotations

from topology import graph as g
from topology.kinds import DeviceOwner, EdgeKind, NamespacePrefix, NodeKind
from topology.path.family import family_ip
from topology.path.model import Hop, Problem
from topology.path.secgroups import check_egress, check_ingress
from topology.path.topo import devices_of, namespaces_of, network_of, subnets_of
from topology.path.walk import Walk


def instance_label(walk: Walk, port: str) -> str:
    servers = walk.topo.sources(port, EdgeKind.RUNS)
    return str(walk.topo.nodes[servers[0] if servers else port]["label"])


def instance_node(walk: Walk, port: str) -> str:
    """The lab's VM namespace, else the server, else the port: what the map shows as the VM."""
    for server in walk.topo.sources(port, EdgeKind.RUNS):
        namespaces = [n for n in walk.topo.targets(server, EdgeKind.BINDS) if g.id_kind(n) == NodeKind.NETNS]
        return namespaces[0] if namespaces else server
    return port


def vm_out(walk: Walk, port: str) -> str | None:
    """From the instance to br-int: tap, qbr (security groups), qvb/qvo with the local VLAN."""
    topo, ip = walk.topo, family_ip(walk.topo, port, walk.family)
    label = instance_label(walk, port)
    first = walk.hop(instance_node(walk, port), f"{label} sends {walk.probe.describe()} from {ip}")
    check_network_of_vm(walk, port, first)
    host = walk.check_port(port, first)
    if host is None:
        return None
    devices = devices_of(topo, port, host)
    walk.device_hop(devices.get("tap"), g.device_name("tap", port), host, "leaves the instance on its tap device")
    if "qbr" in devices:
        sg = walk.hop(
            devices["qbr"],
            "Linux bridge qbr: security groups track the connection's state (iptables_hybrid firewall, egress rules)",
        )
        egress(walk, port, sg)
        walk.device_hop(devices.get("qvb"), g.device_name("qvb", port), host, "veth qvb -> qvo into br-int")
        walk.vlan_hop(
            devices.get("qvo"), g.device_name("qvo", port), host, network_of(topo, port), "enters br-int on qvo"
        )
    else:
        sg = walk.vlan_hop(
            devices.get("tap"),
            g.device_name("tap", port),
            host,
            network_of(topo, port),
            "enters br-int on the tap (openvswitch firewall: security groups as conntrack flows)",
        )
        egress(walk, port, sg)
    return host


def egress(walk: Walk, port: str, hop: Hop) -> None:
    """The source port's egress rules, on a forward walk (a reply leaves by conntrack, not by a rule)."""
    if walk.dst_ip is not None:
        check_egress(walk, port, walk.dst_ip, hop)


def vm_in(walk: Walk, port: str, host: str | None, src_ip: str | None, seen_as: str = "") -> None:
    """From br-int to the instance: qvo, qvb, qbr (ingress security groups, against ``src_ip`` as the
    packet carries it there: ``seen_as`` says which NAT made it so), tap."""
    topo = walk.topo
    label = instance_label(walk, port)
    bound = topo.attrs(port).get("binding_host_id") or None
    if host is not None and bound is not None and bound != host:
        host = bound
    devices = devices_of(topo, port, host)
    if "qbr" in devices:
        walk.vlan_hop(
            devices.get("qvo"),
            g.device_name("qvo", port),
            host,
            network_of(topo, port),
            "br-int delivers to the instance's qvo",
        )
        walk.device_hop(devices.get("qvb"), g.device_name("qvb", port), host, "veth qvo -> qvb into qbr")
        sg = walk.hop(
            devices["qbr"], "Linux bridge qbr: security groups filter the packet (ingress rules, connection tracking)"
        )
    else:
        sg = walk.vlan_hop(
            devices.get("tap"),
            g.device_name("tap", port),
            host,
            network_of(topo, port),
            "br-int delivers to the tap (openvswitch firewall: ingress rules as flows)",
        )
    check_ingress(walk, port, src_ip, sg, seen_as)
    walk.device_hop(devices.get("tap"), g.device_name("tap", port), host, "tap hands the packet to the instance")
    last = walk.hop(instance_node(walk, port), f"{label} receives it on {family_ip(topo, port, walk.family)}")
    walk.check_port(port, last)


def check_network_of_vm(walk: Walk, port: str, hop: Hop) -> None:
    topo = walk.topo
    network = network_of(topo, port)
    if topo.attrs(network).get("external"):
        walk.fail(
            hop,
            Problem.VM_ON_EXTERNAL_NETWORK,
            f"the instance is plugged straight into external network {topo.nodes[network]['label']}: "
            "plug it into a tenant network behind a router, and give it a floating IP",
        )
        check_bridge_mapping(walk, port, network, hop)
    for subnet in subnets_of(topo, port):
        if topo.attrs(subnet).get("enable_dhcp") and not any(
            topo.attrs(p).get("device_owner") == DeviceOwner.DHCP for p in topo.sources(subnet, EdgeKind.IN_SUBNET)
        ):
            walk.fail(
                hop,
                Problem.NO_DHCP_PORT,
                f"subnet {topo.nodes[subnet]['label']} has DHCP enabled but no "
                "DHCP port: the instance gets no address (is a DHCP agent alive and hosting the network?)",
            )
    for namespace in namespaces_of(topo, network, NamespacePrefix.QDHCP):
        walk.check_agent(str(topo.nodes[namespace].get("host")), "DHCP agent", hop)


def check_bridge_mapping(walk: Walk, port: str, network: str, hop: Hop) -> None:
    physnet = walk.topo.attrs(network).get("physical_network")
    host = walk.topo.attrs(port).get("binding_host_id")
    if not physnet or not host:
        return
    for agent in walk.topo.agents(str(host)):
        if agent.get("agent_type") == "Open vSwitch agent" and physnet not in (agent.get("bridge_mappings") or {}):
            walk.fail(
                hop,
                Problem.BRIDGE_MAPPING_MISSING,
                f"physical network {physnet} of "
                f"{walk.topo.nodes[network]['label']} is not in the bridge_mappings of {host}'s OVS agent",
            )
