"""Walks on an ML2/OVN cloud (issue 17, "Explainer"): logical switches and routers, chassis, Geneve.

On OVN there is no qbr, no qrouter-/snat- namespace and no L3 agent: a VM's port is a
Logical_Switch_Port bound by ovn-controller on a chassis (the SB Port_Binding), switching and
routing are the logical pipelines compiled into each chassis's br-int, a router is distributed (it
routes on the sender's chassis) except for its gateway: SNAT (and a floating IP that is not
distributed) happens on the chassis holding the gateway port's ``cr-lrp-`` binding. What the join
put on the nodes (topology/join/ovn.py: ``attrs.ovn`` of ports, routers, hosts) is all a walk reads:

- a port: ``chassis`` (None: bound nowhere) and ``up`` (the Port_Binding's);
- a host: its SB Chassis (``chassis``, ``encaps``) and, when its agent says it, ``local.controller``;
- a router: ``gateway.active_chassis`` and its ``nat`` rows.

Security groups are judged as on ML2/OVS (topology/path/secgroups.py: Neutron's rules; on OVN they are
the ACLs of the group's port group ``pg_<id>``). The data plane's own answer for the same packet is
the ``ovn_trace`` probe (topology/agent/ovn_trace.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topology.kinds import OVN_ATTR, NodeKind
from topology.path import secgroups
from topology.path.external import outside_end
from topology.path.model import Endpoint, Hop, Problem, Scenario, Status
from topology.path.router import gateway_network, serving_router
from topology.path.topo import Topo, fip_of_port, network_of, route_router, router_label, vm_ip
from topology.path.walk import Walk

CONNECTED = "connected"
JsonDict = dict[str, Any]


def is_ovn_port(topo: Topo, port: str) -> bool:
    """Whether the join found the port in OVN's NB (an ML2/OVN cloud)."""
    return isinstance(topo.attrs(port).get(OVN_ATTR), Mapping)


def host_of_chassis(topo: Topo, chassis: str | None) -> str | None:
    """The host node whose SB Chassis is ``chassis``."""
    if chassis is None:
        return None
    for node_id, node in topo.nodes.items():
        if node.get("kind") == NodeKind.HOST and (node.get("attrs", {}).get(OVN_ATTR) or {}).get("chassis") == chassis:
            return str(node_id)
    return None


def port_hop(walk: Walk, port: str, leaving: bool) -> tuple[Hop, str | None]:
    """The VM's port as OVN has it: bound on which chassis, up or not; returns the hop and the chassis."""
    topo = walk.topo
    ovn = topo.attrs(port).get(OVN_ATTR) or {}
    chassis, up = ovn.get("chassis"), ovn.get("up")
    label = topo.nodes[port]["label"]
    where = f"bound on chassis {chassis}" if chassis else "bound on no chassis"
    verb = "sends it" if leaving else "receives it"
    hop = walk.hop(port, f"port {label} ({vm_ip(topo, port)}) {verb}: Logical_Switch_Port {port[5:]}, {where}")
    if chassis is None:
        binding_fails(walk, hop, Problem.PORT_UNBOUND, f"port {label} is bound on no chassis: no ovn-controller "
                      f"claims it (its VM's interface, iface-id {port[5:]}, is on no chassis's br-int)")  # fmt: skip
    elif up is False:
        binding_fails(walk, hop, Problem.PORT_DOWN, f"port {label}'s Port_Binding on {chassis} is up=false: "
                      "ovn-controller there has not installed it")  # fmt: skip
    return hop, chassis


def binding_fails(walk: Walk, hop: Hop, code: str, message: str) -> None:
    """The port's binding is the break: the hop fails with it as its evidence (rules judged after add theirs)."""
    hop.status = "fail"
    hop.evidence = message
    walk.problem(code, message, hop.node)


def chassis_hop(walk: Walk, chassis: str | None, what: str) -> str | None:
    """The chassis's br-int running the logical pipelines; fails when its ovn-controller is away."""
    topo = walk.topo
    if chassis is None:
        return None
    host = host_of_chassis(topo, chassis)
    if host is None:
        walk.hop(None, f"chassis {chassis}: {what}", status="fail")
        walk.problem(
            Problem.OVN_CHASSIS_GONE,
            f"chassis {chassis} is not in the southbound: its ovn-controller is gone, nothing there applies the "
            "logical flows",
        )
        return None
    ovn = topo.attrs(host).get(OVN_ATTR) or {}
    local = ovn.get("local") or {}
    hop = walk.hop(host, f"chassis {chassis} ({topo.nodes[host]['label']}): br-int {what}", host=host[5:])
    if ovn.get("behind") and hop.status == "ok":
        hop.status = "warn"
        walk.problem(
            Problem.OVN_CHASSIS_BEHIND,
            f"chassis {chassis} ({topo.nodes[host]['label']}) has applied NB configuration {ovn.get('nb_cfg')} "
            f"of {ovn.get('nb_cfg_wanted')}: its ovn-controller has not caught up, so what this walk reads "
            "from the NB may not be on its br-int yet",
            host,
            severity="warn",
        )
    if local and local.get("controller") != CONNECTED:
        hop.status = "fail"
        walk.problem(
            Problem.OVN_CONTROLLER_DOWN,
            f"ovn-controller on {topo.nodes[host]['label']} is not connected to the southbound: "
            "its br-int no longer follows the cloud",
            host,
        )
    return host


def switch_hop(walk: Walk, port: str) -> None:
    network = network_of(walk.topo, port)
    ovn = walk.topo.attrs(network).get(OVN_ATTR) or {}
    name = ovn.get("logical_switch") or f"neutron-{network[8:]}"
    walk.hop(network, f"logical switch {name}: port security, the port groups' ACLs (security groups), L2 lookup")


def tunnel_hop(walk: Walk, from_host: str | None, to_host: str | None) -> None:
    """Geneve between two chassis when the packet changes chassis; nothing on one chassis."""
    if from_host is None or to_host is None or from_host == to_host:
        return
    topo = walk.topo
    ips = [((topo.attrs(h).get(OVN_ATTR) or {}).get("encaps") or [{}])[0].get("ip") for h in (from_host, to_host)]
    names = [topo.nodes[h]["label"] for h in (from_host, to_host)]
    status: Status = "ok" if all(ips) else "fail"
    walk.hop(
        to_host, f"Geneve tunnel {names[0]} ({ips[0]}) -> {names[1]} ({ips[1]})", status=status, host=from_host[5:]
    )
    if status == "fail":
        walk.problem(Problem.NO_TUNNEL, f"no Geneve encap between {names[0]} and {names[1]} in the southbound")


def leave(walk: Walk, port: str) -> str | None:
    """From the VM to its chassis's pipelines, its egress rules judged; the chassis's host (None: stops)."""
    hop, chassis = port_hop(walk, port, leaving=True)
    secgroups.check_egress(walk, port, walk.dst_ip, hop)
    return chassis_hop(walk, chassis, "runs the ingress pipeline of the port's logical switch")


def arrive(walk: Walk, port: str, from_host: str | None, src_ip: str | None) -> None:
    """Over the tunnel (when the chassis differ) to the destination port, its ingress rules judged."""
    ovn = walk.topo.attrs(port).get(OVN_ATTR) or {}
    to_host = host_of_chassis(walk.topo, ovn.get("chassis"))
    tunnel_hop(walk, from_host, to_host)
    hop, _ = port_hop(walk, port, leaving=False)
    binding = hop.evidence
    secgroups.check_ingress(walk, port, src_ip, hop)
    if binding and binding not in hop.evidence:  # the rules' verdict follows the binding's break
        hop.evidence = f"{binding}; {hop.evidence}" if hop.evidence else binding


def same_network(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    host = leave(walk, source.node)
    switch_hop(walk, source.node)
    arrive(walk, target.node, host, source.ip)
    return Scenario.SAME_NETWORK_OVN


def router_hop(walk: Walk, router: str, what: str) -> JsonDict:
    ovn = walk.topo.attrs(router).get(OVN_ATTR) or {}
    name = ovn.get("logical_router") or f"neutron-{router[7:]}"
    walk.hop(router, f"logical router {name} ({router_label(walk.topo, router)}): {what}")
    return dict(ovn)


def east_west(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    router = route_router(walk.topo, source.node, target.node) or ""
    host = leave(walk, source.node)
    switch_hop(walk, source.node)
    router_hop(walk, router, "routes it on the sender's chassis (distributed: no namespace, no gateway chassis)")
    switch_hop(walk, target.node)
    arrive(walk, target.node, host, source.ip)
    return Scenario.EAST_WEST_OVN


def gateway(walk: Walk, router: str, ovn: Mapping[str, Any]) -> str | None:
    """The host of the chassis holding the router's gateway (cr-lrp), or None with the problem said."""
    active = (ovn.get("gateway") or {}).get("active_chassis")
    if active is None:
        walk.hop(router, f"router {router_label(walk.topo, router)}'s gateway is active on no chassis", status="fail")
        walk.problem(
            Problem.OVN_NO_GATEWAY_CHASSIS,
            f"router {router_label(walk.topo, router)} has a gateway but no chassis holds it (no Gateway_Chassis "
            "of its gateway port is alive, or none has enable-chassis-as-gw): nothing SNATs its traffic",
            router,
        )
        return None
    return host_of_chassis(walk.topo, active)


def nat_of(ovn: Mapping[str, Any], kind: str, logical_ip: str | None = None) -> JsonDict | None:
    for nat in ovn.get("nat") or []:
        if nat.get("type") == kind and (logical_ip is None or nat.get("logical_ip") == logical_ip):
            return dict(nat)
    return None


def north_south(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """Out through the router: SNAT on the gateway chassis, or the floating IP's dnat_and_snat (on the VM's own
    chassis when it is distributed: the NAT row names the port and a MAC)."""
    topo = walk.topo
    port = source.node
    fip = fip_of_port(topo, port)
    router, _subnet = serving_router(walk, port, topo.attrs(fip).get("router_id") if fip else None)
    host = leave(walk, port)
    if router is None:
        walk.problem(Problem.SUBNET_NO_ROUTER, f"the subnet of {vm_ip(topo, port)} is on no router", port)
        return Scenario.NORTH_SOUTH_SNAT_OVN
    switch_hop(walk, port)
    ovn = router_hop(walk, router, "routes it toward its gateway port")
    own = vm_ip(topo, port)
    nat = nat_of(ovn, "dnat_and_snat", own) if fip else None
    distributed = bool(nat and nat.get("logical_port") and nat.get("external_mac"))
    out_host = host if distributed else gateway(walk, router, ovn)
    if out_host is None and not distributed:
        return Scenario.NORTH_SOUTH_FIP_OVN if fip else Scenario.NORTH_SOUTH_SNAT_OVN
    tunnel_hop(walk, host, out_host)
    rule = nat or nat_of(ovn, "snat")
    if rule is None:
        walk.hop(router, f"no NAT rule of router {router_label(topo, router)} covers {own}", status="fail")
        walk.problem(Problem.ROUTER_NO_GATEWAY, f"router {router_label(topo, router)} SNATs nothing for {own}", router)
        return Scenario.NORTH_SOUTH_SNAT_OVN
    what = "DNATs/SNATs" if nat else "SNATs"
    where = "on the VM's own chassis (distributed floating IP)" if distributed else "on the gateway chassis"
    walk.hop(out_host, f"{what} {own} to {rule.get('external_ip')} {where} ({rule.get('type')} NAT row)",
             evidence=f"NAT {rule.get('type')} {rule.get('external_ip')} <- {rule.get('logical_ip')}")  # fmt: skip
    outside_end(walk, gateway_network(walk, router) or "", target.ip)
    return Scenario.NORTH_SOUTH_FIP_OVN if fip else Scenario.NORTH_SOUTH_SNAT_OVN
