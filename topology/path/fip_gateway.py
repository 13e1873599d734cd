"""Walks to a DVR host's floating IP agent gateway address (its fg- port, network:floatingip_agent_gateway):
answered in that host's fip namespace, by the kernel, on fg- itself.

Every DVR host with a distributed router that has a gateway holds one such port on the external network,
plugged as fg- in its fip-<external network> namespace, beside br-int's other ports of the external
network's local VLAN. From the outside it is reached by br-ex, br-int and fg-. From a VM it is an
address of the external subnet: the packet leaves the way any other packet to the outside leaves (its
floating IP's fip namespace, or the router's snat namespace), except where that way already is the
host that holds the address: in the VM's own host's fip namespace (floating IP) the address is local and
answered there, entered by fpr-; out of the snat namespace's qg- on the same host, br-int switches it to
fg- on the external network's VLAN (it never reaches br-ex).

The fg- port belongs to no project (Neutron shows it to admins only): a project member's question about its
address resolves in what the member sees (topology/path_scope.py), where it is an unknown address.
"""

from __future__ import annotations

import re

from topology import graph as g
from topology.kinds import NamespacePrefix
from topology.path.context import Leaving
from topology.path.external import external_in, external_out, outside_end, outside_hop
from topology.path.fipns import rfp_fpr_out
from topology.path.instance import vm_out
from topology.path.model import Endpoint, Hop, Problem, Scenario
from topology.path.router import enter_router, gateway_network, serving_router, split_devices
from topology.path.topo import Topo, fip_of_port, namespace_on, network_of
from topology.path.walk import Walk

DROPS = re.compile(r"-j (DROP|REJECT)\b")


def fg_host(topo: Topo, fg: str) -> str | None:
    return topo.attrs(fg).get("binding_host_id") or None


def filtering_rules(topo: Topo, host: str, namespace: str, address: str | None, protocol: str) -> list[str]:
    """The fip namespace's filter rules on its way in (INPUT) that drop or reject the probe to ``address``."""
    found = []
    for line in topo.iptables(host, namespace, "filter").splitlines():
        rule = line.split("] ", 1)[-1].strip()
        if not rule.startswith("-A ") or "INPUT" not in rule.split()[1] or not DROPS.search(rule):
            continue
        if " -d " in f" {rule}" and f"-d {address}/" not in rule:
            continue
        if " -p " in f" {rule}" and f"-p {protocol}" not in rule:
            continue
        found.append(rule)
    return found


def answers(walk: Walk, fg: str, address: str | None, entered_by_fpr: bool = False) -> Hop:
    """The fip namespace holding ``fg``'s address answers it (the kernel: a local address), unless a filter rule
    drops it there. ``entered_by_fpr``: the packet came from the host's own qrouter, not in by fg-."""
    from topology.path.owned import answered  # owned imports the walks of the route table

    topo = walk.topo
    host = fg_host(topo, fg)
    external = network_of(topo, fg)
    namespace = namespace_on_host(topo, external, host)
    _, inner = split_devices(topo, fg, host)
    if not entered_by_fpr and inner is not None:  # without it: the namespace's hop says what is missing
        enter_router(walk, "", fg, host, f"fg- of the fip namespace on {host} holds {address}")
    hop = walk.hop(
        namespace,
        f"the fip namespace on {host} answers: {address} is {host}'s floating IP agent gateway port (fg-), "
        "its own address (delivered there: not NATed, not forwarded)",
        host=host,
    )
    if namespace is None:
        walk.fail(
            hop,
            Problem.NAMESPACE_MISSING,
            f"fip-{g.id_key(external)} is missing on {host}: the DVR L3 agent there makes it when a router "
            "with a gateway has ports on the host",
        )
        return hop
    if inner is None:
        walk.fail(
            hop,
            Problem.NO_FG_PORT,
            f"no {g.device_name('fg-', fg)} in the fip namespace on {host}: the L3 agent has not plugged the "
            "floating IP agent gateway port (L3 agent in dvr mode alive?)",
        )
        return hop
    if host is not None:
        walk.check_agent(host, "L3 agent", hop)
    answered(walk, hop, inner, address)
    rules = filtering_rules(topo, host or "", str(topo.nodes[namespace]["label"]), address, walk.probe.protocol)
    if rules:
        walk.fail(hop, Problem.FIP_GATEWAY_FILTERED, f"the fip namespace on {host} drops it: {rules[0]}")
    else:
        hop.cite("iptables filter: no INPUT rule drops it")
    return hop


def namespace_on_host(topo: Topo, external: str, host: str | None) -> str | None:
    return namespace_on(topo, external, NamespacePrefix.FIP, host)


def from_outside(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """In by br-ex and br-int of the host that holds the fg- port, to fg-: answered in its fip namespace."""
    outside_hop(walk, source.node, source.ip, "a host on the outside,")
    arrive(walk, target)
    return Scenario.TO_FIP_GATEWAY


def arrive(walk: Walk, target: Endpoint) -> None:
    host = fg_host(walk.topo, target.node)
    external_in(walk, host, network_of(walk.topo, target.node), target.ip)
    answers(walk, target.node, target.ip)


def from_vm(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """Out the way the VM's packets to the external subnet go; answered where the fg- port's host has it."""
    from topology.path import dvr
    from topology.path.route import backend_of, north_south  # route imports this module

    topo, fg = walk.topo, target.node
    host = fg_host(topo, fg)
    external = network_of(topo, fg)
    router, subnet = serving_router(walk, source.node)
    if router is None or backend_of(topo, router) != "dvr" or gateway_network(walk, router) != external:
        north_south(walk, source, Endpoint("outside", external, target.ip))
        if not failed(walk):
            arrive(walk, target)
        return Scenario.TO_FIP_GATEWAY
    vm_host = vm_out(walk, source.node)
    fip = fip_of_port(topo, source.node)
    fip_address = topo.attrs(fip).get("floating_ip_address") if fip else None
    out = Leaving(source.node, source.ip or "?", vm_host, router, subnet, external, fip_address)
    ns = dvr.enter_qrouter(walk, out)
    if fip_address and vm_host == host:  # its own host's fip namespace holds the address
        dvr.fip_nat_hop(walk, out, ns)
        rfp_fpr_out(walk, router, vm_host)
        answers(walk, fg, target.ip, entered_by_fpr=True)
        return Scenario.TO_FIP_GATEWAY
    if fip_address:
        dvr.fip_out(walk, out, ns)
    else:
        snat_host = dvr.snat_out(walk, out, ns, to_br_ex=False)
        if snat_host == host and not failed(walk):
            walk.br_int(str(host), f"switches it from qg- on the external network's local VLAN to fg- on {host}")
            answers(walk, fg, target.ip)
            return Scenario.TO_FIP_GATEWAY
        if snat_host is not None:
            external_out(walk, snat_host, external)
    if not failed(walk):
        outside_end(walk, external, target.ip)
        arrive(walk, target)
    return Scenario.TO_FIP_GATEWAY


def failed(walk: Walk) -> bool:
    return any(h.status == "fail" for h in walk.hops)
