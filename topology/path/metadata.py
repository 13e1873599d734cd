"""The walk to the metadata address (169.254.169.254) the way Neutron serves it (ML2/OVS agents).

- A subnet on a router (legacy, or DVR on the VM's own host): the VM sends it to its default
  gateway, the router's qr-; the qrouter namespace REDIRECTs 169.254.169.254:80 to the metadata
  proxy's port 9697 (neutron-l3-agent-PREROUTING, when the L3 agent runs with
  enable_metadata_proxy); haproxy, which the L3 agent runs in that namespace, hands the request to
  the metadata agent's unix socket on the same host; the metadata agent finds the VM's port by its
  address and the router's networks and proxies to Nova's metadata API, signing the instance id.
- A network without a router: the DHCP agent (enable_isolated_metadata) puts 169.254.169.254 on
  the DHCP port's device in the qdhcp namespace (it does so on every network, but serves only the
  isolated ones, or all with force_metadata), runs haproxy there on port 80, and hands the VM a
  host route to it through the DHCP port's address; the same metadata agent behind it.

What nothing serves is broken with the reason: no REDIRECT (the proxy is off), no haproxy in the
namespace, no live metadata agent on that host, an isolated network whose qdhcp does not hold the
address. Processes are what the node agent reports per namespace (``namespaces[].processes``);
a report without them (an older agent) leaves the proxy unknown, never ok.
"""

from __future__ import annotations

from typing import Any

from topology import graph as g
from topology.kinds import DeviceOwner, NamespacePrefix
from topology.path.instance import vm_out
from topology.path.model import Endpoint, Hop, Probe, Problem, Scenario, iptables_evidence
from topology.path.router import enter_router, router_namespace, serving_router, split_devices
from topology.path.topo import Topo, is_distributed, namespace_on, network_of, port_ips_of, router_label, router_port_on
from topology.path.walk import Walk

METADATA_IP = "169.254.169.254"
PROXY_PORT = 9697  # the L3 agent's metadata_port
PROXY = "haproxy"
AGENT_TYPE = "Metadata agent"
HTTP = Probe("tcp", 80)


# --------------------------------------------------------------------------- lookups (pure)


def namespace_processes(topo: Topo, host: str | None, namespace: str) -> list[dict[str, Any]] | None:
    """The processes the host's report lists in ``namespace``; None when the report does not say
    (no report, or an agent older than ``namespaces[].processes``)."""
    for ns in (topo.reports.get(host or "") or {}).get("namespaces") or []:
        if ns.get("name") == namespace:
            found = ns.get("processes")
            return list(found) if isinstance(found, list) else None
    return None


def proxies(topo: Topo, host: str | None, namespace: str) -> list[dict[str, Any]] | None:
    found = namespace_processes(topo, host, namespace)
    return None if found is None else [p for p in found if p.get("name") == PROXY]


def redirect_rules(topo: Topo, host: str, namespace: str) -> list[str]:
    """The qrouter's nat rules that send 169.254.169.254:80 to the proxy (REDIRECT, or a DNAT)."""
    rules = topo.iptables(host, namespace, "nat").splitlines()
    return [
        r.strip()
        for r in rules
        if f"-d {METADATA_IP}/32" in r and "--dport 80" in r and ("-j REDIRECT" in r or "-j DNAT" in r)
    ]


def metadata_agent(topo: Topo, host: str) -> dict[str, Any] | None:
    return next((a for a in topo.agents(host) if a.get("agent_type") == AGENT_TYPE), None)


def dhcp_ports(topo: Topo, network: str) -> list[str]:
    return sorted(
        p["id"]
        for p in topo.ports()
        if p["attrs"].get("device_owner") == DeviceOwner.DHCP
        and g.network_id(str(p["attrs"].get("network_id"))) == network
    )


def holds_metadata_address(topo: Topo, device: str | None) -> bool:
    return (
        any(str(a).split("/")[0] == METADATA_IP for a in topo.attrs(device).get("addresses") or []) if device else False
    )


def serving_dhcp_port(topo: Topo, network: str) -> str | None:
    """The network's DHCP port whose qdhcp device holds 169.254.169.254 (isolated or forced metadata)."""
    for port in dhcp_ports(topo, network):
        host = topo.attrs(port).get("binding_host_id") or None
        if holds_metadata_address(topo, split_devices(topo, port, host)[1]):
            return port
    return None


# --------------------------------------------------------------------------- the walk


def to_metadata(walk: Walk, source: Endpoint, target: Endpoint) -> str:
    """From the VM to 169.254.169.254: through its router's qrouter, or its network's qdhcp."""
    walk.probe = HTTP  # a metadata request is HTTP to port 80, whatever was asked
    topo, port = walk.topo, source.node
    network = network_of(topo, port)
    dhcp = serving_dhcp_port(topo, network)
    router, subnet = serving_router(walk, port)
    # The DHCP agent puts the address in every qdhcp (enable_isolated_metadata) but serves it, with
    # haproxy and a host route handed to the VM, only on an isolated network, or on all with
    # force_metadata (seen as haproxy in qdhcp beside a router).
    if dhcp is not None and (router is None or dhcp_proxy_runs(topo, dhcp)):
        return via_dhcp(walk, source, dhcp)
    if router is not None and subnet is not None:
        return via_router(walk, source, router, subnet)
    return isolated_unserved(walk, source, network)


def dhcp_proxy_runs(topo: Topo, dhcp: str) -> bool:
    network = network_of(topo, dhcp)
    host = topo.attrs(dhcp).get("binding_host_id") or None
    return bool(proxies(topo, host, f"{NamespacePrefix.QDHCP}{g.id_key(network)}"))


def via_router(walk: Walk, source: Endpoint, router: str, subnet: str) -> str:
    topo = walk.topo
    name = router_label(topo, router)
    host = vm_out(walk, source.node)
    walk.br_int(
        host or "?",
        f"switches it to router {name}'s qr- port: {METADATA_IP} is off-link, sent to the VM's default gateway",
    )
    # DVR: every compute host's qrouter runs its own proxy; legacy: the one qrouter.
    on = host if is_distributed(topo, router) else None
    ns = router_namespace(walk, router, NamespacePrefix.QROUTER, on, walk.hops[-1])
    if ns is None:
        return Scenario.TO_METADATA
    router_host = str(topo.nodes[ns].get("host"))
    walk.cross(host, router_host, network_of(topo, source.node))
    enter_router(walk, router, router_port_on(topo, router, subnet), router_host, f"qr- of router {name} receives it")
    ns_name = str(topo.nodes[ns]["label"])
    hop = walk.hop(
        ns, f"qrouter on {router_host} REDIRECTs {METADATA_IP}:80 to the metadata proxy on port {PROXY_PORT}"
    )
    if not walk.reported(router_host):
        hop.status = "unknown"
        hop.evidence = f"{router_host} sends no agent report: its iptables are not known"
        return Scenario.TO_METADATA
    rules = redirect_rules(topo, router_host, ns_name)
    if rules:
        hop.evidence = iptables_evidence(rules[:1])
    else:
        walk.fail(
            hop,
            Problem.METADATA_NO_REDIRECT,
            f"no REDIRECT of {METADATA_IP}:80 in {ns_name} on {router_host}: the L3 agent there runs without "
            "the metadata proxy (enable_metadata_proxy = True in l3_agent.ini), so nothing answers metadata "
            f"for router {name}'s subnets",
        )
        return Scenario.TO_METADATA
    proxy_hop(
        walk, ns, ns_name, router_host, f"the L3 agent runs one per router: restart the L3 agent on {router_host}"
    )
    agent_hop(walk, router_host, f"router {name}'s networks")
    return Scenario.TO_METADATA


def via_dhcp(walk: Walk, source: Endpoint, dhcp: str) -> str:
    topo = walk.topo
    network = network_of(topo, source.node)
    address = next(iter(port_ips_of(topo, dhcp)), "?")
    host = vm_out(walk, source.node)
    walk.br_int(
        host or "?",
        f"switches it to the DHCP port: DHCP gave the VM a host route to {METADATA_IP} via {address} "
        "(the network's metadata is served in its qdhcp namespace)",
    )
    dhcp_host = topo.attrs(dhcp).get("binding_host_id") or None
    walk.cross(host, dhcp_host, network)
    outer, inner = split_devices(topo, dhcp, dhcp_host)
    if outer is not None and outer != inner:
        walk.vlan_hop(outer, g.device_name("tap", dhcp), dhcp_host, network, "br-int hands it to the DHCP port's tap")
    device = walk.device_hop(
        inner, g.device_name("tap", dhcp), dhcp_host, "the DHCP port's device in qdhcp receives it"
    )
    walk.check_port(dhcp, device)
    ns = namespace_on(topo, network, NamespacePrefix.QDHCP, dhcp_host)
    ns_name = f"{NamespacePrefix.QDHCP}{g.id_key(network)}"
    hop = walk.hop(
        ns,
        f"qdhcp on {dhcp_host} holds {METADATA_IP} on the DHCP port's device (enable_isolated_metadata)",
        host=dhcp_host,
    )
    hop.evidence = f"ip addr: {METADATA_IP}/32 on {topo.nodes[inner]['label']}" if inner in topo.nodes else ""
    if dhcp_host:
        walk.check_agent(str(dhcp_host), "DHCP agent", hop)
    proxy_hop(walk, ns, ns_name, dhcp_host, f"the DHCP agent runs it: restart the DHCP agent on {dhcp_host}")
    if dhcp_host:
        agent_hop(walk, str(dhcp_host), f"network {topo.nodes.get(network, {}).get('label', network)}")
    return Scenario.TO_METADATA


def proxy_hop(walk: Walk, ns: str | None, ns_name: str, host: str | None, fix: str) -> Hop:
    """haproxy in the namespace: what the node agent found running there."""
    found = proxies(walk.topo, host, ns_name)
    hop = walk.hop(ns, f"the metadata proxy ({PROXY}) in {ns_name} takes the request", host=host)
    if found is None:
        hop.status = "unknown"
        hop.evidence = f"{host}'s report does not list the namespace's processes (node agent too old, or no report)"
    elif found:
        hop.evidence = f"{PROXY} pid {found[0].get('pid')}: {' '.join(found[0].get('argv') or [])[:200]}"
    else:
        walk.fail(hop, Problem.METADATA_NO_PROXY, f"no metadata proxy ({PROXY}) runs in {ns_name} on {host}: {fix}")
    return hop


def agent_hop(walk: Walk, host: str, where: str) -> Hop:
    """The metadata agent on the same host, behind the proxy's unix socket, and on to Nova."""
    hop = walk.hop(
        g.host_id(host),
        f"the metadata agent on {host} gets it on its unix socket (metadata_proxy), finds the VM's port by its "
        f"address on {where} and proxies it to Nova's metadata API, the instance id signed with the shared secret",
        host=host,
    )
    agent = metadata_agent(walk.topo, host)
    if agent is None:
        walk.fail(
            hop,
            Problem.METADATA_AGENT_DOWN,
            f"no metadata agent on {host} (Neutron lists none): start neutron-metadata-agent there; "
            "without it the proxy answers every request with an error",
        )
    elif not agent.get("alive"):
        walk.fail(
            hop,
            Problem.METADATA_AGENT_DOWN,
            f"the metadata agent on {host} is dead (no heartbeat): if neutron-metadata-agent is not running, "
            "the proxy answers every request with an error; restart it",
        )
    return hop


def isolated_unserved(walk: Walk, source: Endpoint, network: str) -> str:
    """No router on the VM's subnet and no qdhcp holding the address: nothing answers."""
    topo = walk.topo
    label = topo.nodes.get(network, {}).get("label", network)
    vm_out(walk, source.node)
    ports = dhcp_ports(topo, network)
    hop = walk.hop(network, f"network {label} has no router: only its qdhcp namespace could serve {METADATA_IP}")
    if ports and not all(walk.reported(topo.attrs(p).get("binding_host_id") or None) for p in ports):
        hop.status = "unknown"
        hop.evidence = "the DHCP port's host sends no agent report: whether it holds the address is not known"
        return Scenario.TO_METADATA
    reason = (
        "its DHCP namespace does not hold it: set enable_isolated_metadata = True in dhcp_agent.ini "
        "(or attach the subnet to a router)"
        if ports
        else "it has no DHCP port either (DHCP disabled?): attach the subnet to a router, or enable DHCP "
        "with enable_isolated_metadata"
    )
    walk.fail(hop, Problem.METADATA_NOT_SERVED, f"nothing serves {METADATA_IP} on network {label}: {reason}")
    return Scenario.TO_METADATA
