"""Broken states made for real on the lab, each a context manager that makes it and undoes it.

Through Neutron's API (or OVS, or the agent's process), as an operator would break it by mistake;
undone in ``finally`` so a failing test leaves the lab as it found it.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import openstack.connection

Cloud = openstack.connection.Connection


def ping_stops(vm: str, target: str, timeout: float = 90) -> bool:
    """The agents apply a change a few seconds after the API takes it: poll until pings fail."""
    from lab import api

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not api.ping(vm, target, timeout=3):
            return True
    return False


ROUTER_PREFIXES = ("qrouter-", "snat-", "fip-")
SEEN_IN_ROUTER = (["ip", "-br", "addr"], ["ip", "rule"], ["ip", "route", "show", "table", "all"], ["ip", "neigh"])
SEEN_ON_HOST = (
    ["ovs-vsctl", "--columns=name,tag", "find", "Port", "tag!=[]"],
    ["ovs-ofctl", "--no-stats", "dump-flows", "br-int", "table=1"],  # DVR_TO_SRC_MAC: a remote DVR's frames in
)
COMPLAINT = re.compile(r" (WARNING|ERROR) [\w.]+ \[")  # a record's first line, not its traceback
AGENT_LOGS = (
    "neutron-l3-agent",
    "compute2-neutron-l3-agent",
    "neutron-openvswitch-agent",
    "compute2-neutron-openvswitch-agent",
)


def _noise(line: str) -> bool:
    return "table local" in line or line.startswith(("fe80", "multicast", "anycast", "lo "))


def _said(host: str, ns: str | None, argv: list[str]) -> str:
    from lab import api

    out = api.run_in(f"{host}:{ns}", argv) if ns else api.run_on(host, argv, capture=True)
    kept = [x for x in (out.stdout + out.stderr).splitlines() if not _noise(x)]
    return f"{host}:{ns or '-'} {' '.join(argv)}: {' | '.join(kept)[:1500]}"


def _agents_said() -> list[str]:
    """The last warnings and errors of the L3 and OVS agents (the lab's logs), first lines only."""
    from lab import paths

    lines: list[str] = []
    for name in AGENT_LOGS:
        log = paths.LOG_DIR / f"{name}.log"
        if log.exists():
            said = log.read_text(errors="replace").splitlines()
            heads = [x[:240] for x in said if COMPLAINT.search(x) and "oslo_config" not in x and "privsep log" not in x]
            lines += [f"{name}: {x}" for x in heads[-8:]]
    return lines


def hosts_namespaces(missing: Callable[[str], Any] = lambda _: None) -> Iterator[tuple[str, list[str]]]:
    """Each lab host of the scenario with its ``ip netns`` names; a host not in it is told to ``missing``."""
    from lab import api
    from lab.hosts import COMPUTE2, CONTROLLER

    for host in (CONTROLLER, COMPUTE2):
        try:
            names = api.namespaces(host)
        except Exception as exc:  # a host not in this scenario
            missing(f"{host}: {exc}")
            continue
        yield host, names


SNAT_OWNER = "network:router_centralized_snat"  # a DVR router's port on each subnet, in host 1's snat-


def snat_wiring() -> list[str]:
    """Each DVR router's SNAT ports and what every host holds for each, one line per port and host: the
    qrouter's static ARP entry and route table to it, br-int's DVR_TO_SRC_MAC flow for its MAC, the
    packets its device has seen. Said first when a ping does not come back, so a cut log keeps it."""
    from lab import api, keystone, neutron

    admin = neutron.client(keystone.ADMIN)
    ports = admin.get(f"/v2.0/ports?device_owner={SNAT_OWNER}")["ports"]
    lines: list[str] = []
    for host, names in hosts_namespaces():
        flows = api.run_on(host, ["ovs-ofctl", "--no-stats", "dump-flows", "br-int", "table=1"], capture=True).stdout
        macs = api.run_on(host, ["ovs-ofctl", "--no-stats", "dump-flows", "br-tun", "table=9"], capture=True).stdout
        lines.append(f"{host}: br-tun DVR MACs: {re.findall(r'dl_src=([0-9a-f:]+)', macs)}")
        for port in ports:
            qrouter, snat = f"qrouter-{port['device_id']}", f"snat-{port['device_id']}"
            ip, mac = port["fixed_ips"][0]["ip_address"], port["mac_address"]
            said = [f"{host}: SNAT port {ip} {mac} ({port['status']}, bound to {port.get('binding:host_id')})"]
            if qrouter in names:
                neigh = api.run_in(f"{host}:{qrouter}", ["ip", "neigh", "show", ip]).stdout.strip()
                routes = api.run_in(f"{host}:{qrouter}", ["ip", "route", "show", "table", "all"]).stdout
                said += [f"arp [{neigh}]", f"route to it: {f'default via {ip} ' in routes}"]
            said.append(f"br-int table 1 flow: {f'dl_dst={mac}' in flows}")
            if snat in names:
                dev = f"sg-{port['id'][:11]}"
                stats = api.run_in(f"{host}:{snat}", ["ip", "-s", "-o", "link", "show", "dev", dev]).stdout
                said.append(f"{dev}: {' '.join(stats.split())[-160:]}")
            lines.append("; ".join(said))
    return lines


def routers_seen() -> str:
    """What each host's router namespaces hold (addresses, rules, routes, neighbours, NAT), its OVS ports'
    tags and the agents' last complaints: said when a ping does not come back."""
    try:
        lines = snat_wiring()
    except Exception as exc:  # the summary must not hide the rest
        lines = [f"SNAT wiring not read: {exc!r}"]
    for host, everything in hosts_namespaces(lines.append):
        names = [n for n in everything if n.startswith(ROUTER_PREFIXES)]
        lines += [_said(host, None, argv) for argv in SEEN_ON_HOST]
        for ns in names:
            lines += [_said(host, ns, argv) for argv in SEEN_IN_ROUTER]
            if ns.startswith("snat-"):
                lines.append(_said(host, ns, ["iptables-save", "-t", "nat"]))
    return "\n".join(lines + _agents_said())


def l3_agent_alive(admin_cloud: Cloud, host: str) -> bool:
    agents = list(admin_cloud.network.agents(host=host, binary="neutron-l3-agent"))
    return bool(agents) and all(a.is_alive for a in agents)


def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(2)
    return False


@contextlib.contextmanager
def fips_disassociated(cloud: Cloud, state: dict[str, Any], *vms: str) -> Iterator[None]:
    """Neutron refuses to clear a gateway or remove an interface a floating IP needs: free them first."""
    fips = [state["floating_ips"][vm] for vm in vms]
    for fip in fips:
        cloud.network.update_ip(fip["id"], port_id=None)
    try:
        yield
    finally:
        for fip in fips:
            cloud.network.update_ip(fip["id"], port_id=fip["port_id"])


@contextlib.contextmanager
def gateway_cleared(cloud: Cloud, state: dict[str, Any], router_name: str) -> Iterator[None]:
    router = state["routers"][router_name]
    cloud.network.update_router(router["id"], external_gateway_info={})
    try:
        # Made on every host before it is undone: an agent that sees the clear and the re-set as one
        # update (its queue coalesces them) is another state than this one.
        assert wait_until(lambda: gateway_gone(router["id"]), timeout=120), routers_seen()
        yield
    finally:
        cloud.network.update_router(
            router["id"],
            external_gateway_info={
                "network_id": state["networks"]["public"],
                "external_fixed_ips": [
                    {"subnet_id": state["subnets"]["public_subnet"], "ip_address": router["gateway_ip"]}
                ],
            },
        )


SNAT_REDIRECT = re.compile(r"from \S+/\d+ lookup \d+")  # a DVR router's rule to its SNAT port, per subnet
QG_DEVICE = re.compile(r"^qg-", re.MULTILINE)  # a gateway device in `ip -br link`


def gateway_gone(router_id: str) -> bool:
    """No host still routes out for the router: no snat- namespace, no qg- device, no SNAT redirect rule."""
    from lab import api

    for host, names in hosts_namespaces():
        if f"snat-{router_id}" in names:
            return False
        if f"qrouter-{router_id}" in names:
            ns = f"{host}:qrouter-{router_id}"
            if QG_DEVICE.search(api.run_in(ns, ["ip", "-br", "link"]).stdout):
                return False
            if SNAT_REDIRECT.search(api.run_in(ns, ["ip", "rule"]).stdout):
                return False
    return True


def router_holds(router_id: str, address: str) -> bool:
    """Whether a qrouter- of the router on any host has ``address`` (``"10.0.0.1/"``) on a device."""
    from lab import api

    for host, names in hosts_namespaces():
        ns = f"qrouter-{router_id}"
        if ns in names and f" {address}" in api.run_in(f"{host}:{ns}", ["ip", "-br", "addr"]).stdout:
            return True
    return False


@contextlib.contextmanager
def interface_removed(cloud: Cloud, state: dict[str, Any], router_name: str, subnet_name: str) -> Iterator[None]:
    router, subnet = state["routers"][router_name]["id"], state["subnets"][subnet_name]
    gateway = f"{cloud.network.get_subnet(subnet).gateway_ip}/"
    cloud.network.remove_interface_from_router(router, subnet=subnet)
    try:
        # Made on every host first: until the L3 agent unplugs the qr- device, the router still routes it.
        assert wait_until(lambda: not router_holds(router, gateway), timeout=120), routers_seen()
        yield
    finally:
        cloud.network.add_interface_to_router(router, subnet=subnet)


@contextlib.contextmanager
def rules_removed(cloud: Cloud, group: str, chosen: Callable[[Any], bool], why: str) -> Iterator[None]:
    """The group's rules ``chosen`` picks deleted (``why``: that there are some), made again as they were."""
    rules = [r for r in cloud.network.security_group_rules(security_group_id=group) if chosen(r)]
    assert rules, why
    for rule in rules:
        cloud.network.delete_security_group_rule(rule)
    try:
        yield
    finally:
        for rule in rules:
            cloud.network.create_security_group_rule(
                security_group_id=group,
                direction=rule.direction,
                ethertype=rule.ether_type,
                protocol=rule.protocol,
                remote_ip_prefix=rule.remote_ip_prefix,
                remote_group_id=rule.remote_group_id,
                port_range_min=rule.port_range_min,
                port_range_max=rule.port_range_max,
                project_id=rule.project_id,
            )


def icmp_ingress_removed(cloud: Cloud, state: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
    """The rule that lets the outside ping the VMs: ICMP from anywhere, in the project's default group."""
    return rules_removed(
        cloud,
        state["security_groups"]["demo:default"],
        lambda r: r.direction == "ingress" and r.protocol == "icmp" and r.remote_group_id is None,
        "the lab opens ICMP in demo's default group",
    )


@contextlib.contextmanager
def admin_down(cloud: Cloud, port: str) -> Iterator[None]:
    cloud.network.update_port(port, admin_state_up=False)
    try:
        yield
    finally:
        cloud.network.update_port(port, admin_state_up=True)
        wait_port_active(cloud, port)


def wait_port_active(cloud: Cloud, port: str, timeout: float = 120) -> None:
    """The broken state undone for real: Neutron reports the port ACTIVE again (its L2 agent has wired
    it back), so the next test does not meet a port that is still coming up (seen in CI: the next
    test's walk from that VM was broken by the port's DOWN status)."""
    deadline = time.monotonic() + timeout
    while (status := cloud.network.get_port(port).status) != "ACTIVE":
        if time.monotonic() > deadline:
            raise AssertionError(f"port {port} is {status}, not ACTIVE, {timeout:.0f} s after admin_state_up")
        time.sleep(1)


@contextlib.contextmanager
def outside_port_removed(host: str, port: str) -> Iterator[None]:
    """br-ex loses its port to the outside (host 1: the outside host's veth; compute2: its uplink)."""
    from lab import api

    result = api.run_on(host, ["ovs-vsctl", "del-port", "br-ex", port], capture=True)
    assert result.returncode == 0, result.stderr
    try:
        yield
    finally:
        api.run_on(host, ["ovs-vsctl", "--may-exist", "add-port", "br-ex", port])


@contextlib.contextmanager
def l3_agent_stopped(cloud: Cloud, host: str) -> Iterator[None]:
    """The L3 agent on `host` stopped for real, until Neutron reports it dead (agent_down_time)."""
    from lab import hosts, neutron, procs

    daemons = neutron.agent_daemons() if host != hosts.COMPUTE2 else hosts.agent_daemons()
    (daemon,) = [d for d in daemons if d.name.endswith("neutron-l3-agent")]
    procs.stop(daemon.name)
    try:
        assert wait_until(lambda: not l3_agent_alive(cloud, host), timeout=150)
        yield
    finally:
        with procs.view(hosts.view(host)):
            procs.start(daemon)
        assert wait_until(lambda: l3_agent_alive(cloud, host), timeout=120)


def l3_agent_restarted(cloud: Cloud, host: str) -> None:
    """The L3 agent on `host` stopped and started again (its first sync processes every router afresh)."""
    from lab import hosts, neutron, procs

    daemons = neutron.agent_daemons() if host != hosts.COMPUTE2 else hosts.agent_daemons()
    (daemon,) = [d for d in daemons if d.name.endswith("neutron-l3-agent")]
    procs.stop(daemon.name)
    with procs.view(hosts.view(host)):
        procs.start(daemon)
    assert wait_until(lambda: l3_agent_alive(cloud, host), timeout=120)


@contextlib.contextmanager
def snat_redirect_removed(cloud: Cloud, state: dict[str, Any], router_name: str, vm: str) -> Iterator[None]:
    """The SNAT redirect of the VM's subnet deleted from its host's qrouter (`ip rule del`), as Neutron's L3
    agent leaves it when it saw the gateway before its SNAT ports; undone by the remedy the explainer
    names: the L3 agent restarted, whose first sync sets it again."""
    import ipaddress

    from lab import api

    host, ip = state["vms"][vm]["host"], ipaddress.ip_address(state["vms"][vm]["ip"])
    ns = f"{host}:qrouter-{state['routers'][router_name]['id']}"
    rules = api.run_in(ns, ["ip", "rule"]).stdout.splitlines()
    (priority,) = [
        line.split(":")[0]
        for line in rules
        if SNAT_REDIRECT.search(line) and ip in ipaddress.ip_network(line.split()[2], strict=False)
    ]
    assert api.run_in(ns, ["ip", "rule", "del", "priority", priority]).returncode == 0
    try:
        yield
    finally:
        l3_agent_restarted(cloud, host)


def icmp_ssh_reopened(cloud: Cloud, group: str) -> None:
    """The group given back seed 000's ICMP and SSH ingress from anywhere (IPv4) where a test removed them."""
    rules = cloud.network.security_group_rules(security_group_id=group, direction="ingress")
    have = {
        (r.protocol, r.port_range_min)
        for r in rules
        if r.ether_type == "IPv4" and r.remote_group_id is None and r.remote_ip_prefix in (None, "0.0.0.0/0")
    }
    project = cloud.network.get_security_group(group).project_id
    for protocol, port in (("icmp", None), ("tcp", 22)):
        if (protocol, port) not in have:
            cloud.network.create_security_group_rule(
                security_group_id=group,
                direction="ingress",
                ether_type="IPv4",
                protocol=protocol,
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix="0.0.0.0/0",
                project_id=project,
            )
