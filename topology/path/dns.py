"""The VM's DNS (seed 000's last check): its resolver as DHCP hands it out, and the path to it.

Neutron's DHCP (dnsmasq in the qdhcp namespace) gives the VM the subnet's ``dns_nameservers``
when it has some; when it has none, the DHCP port's own address: dnsmasq answers the network's
names itself (host-10-0-0-5.openstacklocal) and forwards the rest to its upstream servers, the
``--server=`` options (dnsmasq_dns_servers) or the host's resolv.conf (dnsmasq_local_resolv); with
``--no-resolv`` and no ``--server`` it has no upstream and refuses every other name.

The destination "dns" names that resolver; the walk goes to it as UDP/53: to the DHCP port (then
dnsmasq and its upstream are checked, from its command line in the node agent's report), or to a
nameserver's address by the walks of its kind (a VM's port, the outside).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from topology import graph as g
from topology.kinds import NamespacePrefix
from topology.path.instance import vm_out
from topology.path.metadata import dhcp_ports, namespace_processes
from topology.path.model import Endpoint, PathError, Probe, Problem, Scenario
from topology.path.owned import to_dhcp
from topology.path.topo import Topo, namespace_on, network_of, port_ips_of, subnets_of
from topology.path.walk import Walk

DNS = Probe("udp", 53)
WORD = "dns"  # the destination that names the source's resolver
Router = Callable[[Walk, Endpoint, Endpoint], str]
Resolver = Callable[[str], Endpoint]


def nameservers(topo: Topo, subnet: str) -> list[str]:
    return [str(a) for a in topo.attrs(subnet).get("dns_nameservers") or []]


def dhcp_resolver(topo: Topo, subnet: str) -> tuple[str, str] | None:
    """(DHCP port, its address on ``subnet``): what dnsmasq hands out as the DNS server when the subnet
    names none."""
    if not topo.attrs(subnet).get("enable_dhcp", True):
        return None
    network = g.network_id(str(topo.attrs(subnet).get("network_id")))
    for port in dhcp_ports(topo, network):
        for fixed in topo.attrs(port).get("fixed_ips") or []:
            if g.subnet_id(str(fixed.get("subnet_id"))) == subnet and fixed.get("ip_address"):
                return port, str(fixed["ip_address"])
    return None


def resolver_of(topo: Topo, near: Endpoint | None) -> Endpoint:
    """The source port's resolver as DHCP hands it out: Endpoint("dns", its subnet, the address or None)."""
    if near is None or near.kind != "port":
        raise PathError(f"{WORD!r} names a VM's resolver: ask it as the destination, from a VM or a port")
    subnets = [s for s in subnets_of(topo, near.node) if topo.attrs(s).get("ip_version", 4) == 4]
    if not subnets:
        raise PathError("the source port has no IPv4 subnet: DHCP hands it no resolver")
    subnet = subnets[0]
    servers = nameservers(topo, subnet)
    if servers:
        return Endpoint("dns", subnet, servers[0])
    found = dhcp_resolver(topo, subnet)
    return Endpoint("dns", subnet, found[1] if found else None)


def upstreams(argv: list[str]) -> tuple[list[str], bool]:
    """dnsmasq's ``--server=`` values and whether it reads no resolv.conf (``--no-resolv``)."""
    servers = [a.split("=", 1)[1] for a in argv if a.startswith("--server=")]
    return servers, "--no-resolv" in argv


# --------------------------------------------------------------------------- the walk


def to_dns(walk: Walk, source: Endpoint, target: Endpoint, resolve: Resolver, route: Router) -> str:
    """To the VM's resolver, as UDP/53: to dnsmasq in qdhcp, or to a nameserver by its own walk."""
    walk.probe = DNS
    topo, subnet, address = walk.topo, target.node, target.ip
    label = topo.nodes.get(subnet, {}).get("label", subnet)
    if address is None:
        vm_out(walk, source.node)
        hop = walk.hop(subnet, f"DHCP hands the VM no DNS server on subnet {label}")
        walk.fail(
            hop,
            Problem.DNS_NO_RESOLVER,
            f"subnet {label} has no dns_nameservers and no DHCP port to answer DNS: "
            f"`openstack subnet set --dns-nameserver <address> {label}`, or enable DHCP on it",
        )
        return Scenario.TO_DNS
    if address in nameservers(topo, subnet):
        route(walk, source, resolve(address))
        return Scenario.TO_DNS
    dhcp = dhcp_resolver(topo, subnet)
    if dhcp is None:  # the address came from elsewhere: walk it as any address
        route(walk, source, resolve(address))
        return Scenario.TO_DNS
    to_dhcp(walk, source, Endpoint("dhcp", dhcp[0], address))
    if not any(h.status == "fail" for h in walk.hops):
        dnsmasq_hop(walk, dhcp[0], label)
    return Scenario.TO_DNS


def dnsmasq_hop(walk: Walk, dhcp: str, subnet_label: str) -> None:
    """dnsmasq in the qdhcp namespace answers the network's names; beyond them, its upstream."""
    topo = walk.topo
    network = network_of(topo, dhcp)
    host = topo.attrs(dhcp).get("binding_host_id") or None
    ns = namespace_on(topo, network, NamespacePrefix.QDHCP, host)
    ns_name = f"{NamespacePrefix.QDHCP}{g.id_key(network)}"
    found = namespace_processes(topo, host, ns_name)
    hop = walk.hop(ns, f"dnsmasq in {ns_name} answers the network's own names; other names go upstream", host=host)
    if found is None:
        hop.status = "unknown"
        hop.evidence = f"{host}'s report does not list the namespace's processes (node agent too old, or no report)"
        return
    dnsmasq = next((p for p in found if p.get("name") == "dnsmasq"), None)
    if dnsmasq is None:
        walk.fail(
            hop,
            Problem.DNS_NO_RESOLVER,
            f"no dnsmasq runs in {ns_name} on {host}: nothing answers DNS (or DHCP) on "
            f"{port_address(topo, dhcp)}; restart the DHCP agent on {host}",
        )
        return
    servers, no_resolv = upstreams(list_of(dnsmasq.get("argv")))
    if servers:
        hop.evidence = f"dnsmasq forwards other names to {', '.join(servers)} (--server)"
    elif no_resolv:
        walk.fail(
            hop,
            Problem.DNS_NO_UPSTREAM,
            f"dnsmasq in {ns_name} runs with --no-resolv and no --server: it has no upstream, so it answers only "
            f"the network's own names and refuses every other; set dns_nameservers on subnet {subnet_label} "
            f"(`openstack subnet set --dns-nameserver <address> {subnet_label}`) or dnsmasq_dns_servers in "
            "dhcp_agent.ini",
        )
    else:
        hop.evidence = "dnsmasq forwards other names to the servers of its host's resolv.conf (dnsmasq_local_resolv)"


def port_address(topo: Topo, port: str) -> str:
    return next(iter(port_ips_of(topo, port)), "its address")


def list_of(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
