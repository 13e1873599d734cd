"""A scenario switch on a running lab: the old scenario's resources go, agents restart when the mode changes."""

from __future__ import annotations

import logging
from pathlib import Path

from lab import (
    database,
    firewall,
    ha,
    hosts,
    keystone,
    netns,
    neutron,
    nodeagent,
    ovs,
    procs,
    rest,
)
from lab import vm as vms
from lab.laps import Laps
from lab.scenarios import SCENARIOS, host_mode
from lab.startup import _finish, _start_agents
from lab.state import State, _write_state

log = logging.getLogger(__name__)


def _switch(old: State, scenario: str) -> State:
    """From the running scenario to another: the services stay, the old scenario's resources go,
    and the agents restart only when the host mode changes (legacy on one host, dvr or netnode on two)."""
    log.info("switching scenario %s -> %s", old.get("scenario"), scenario)
    laps = Laps()
    _write_state({**old, "status": "switching", "scenario": scenario, "previous_scenario": old.get("scenario")})
    procs.stop(*nodeagent.all_names())
    _clear_scenario(old)
    if netns.exists(ovs.OUTSIDE_NS):
        # The next scenario's gateways and FIPs reuse addresses with new MACs.
        procs.run(["ip", "-n", ovs.OUTSIDE_NS, "neigh", "flush", "all"], check=False)
    laps.lap("clear")
    mode = host_mode(scenario)
    two_hosts = mode != "legacy"
    running = procs.daemon_pids()
    host1_ok = all(d.name in running for d in neutron.agent_daemons(mode))
    compute2_ok = all(n in running for n in hosts.daemon_names(mode))
    if (
        mode != neutron.host_mode()
        or not host1_ok
        or (two_hosts and not compute2_ok)
        or (not two_hosts and hosts.running())
    ):
        _restart_agents(mode)
        laps.lap("agents")
    built = SCENARIOS[scenario]()
    laps.lap("scenario")
    state = _finish(scenario, built, laps.timings, laps.t0)
    state["switched_from"] = old.get("scenario")
    _write_state(state)
    return state


def _clear_scenario(old: State) -> None:
    """Unplug the VMs (on their hosts) and delete every Neutron resource but the public network."""
    for name, v in old.get("vms", {}).items():
        try:
            with procs.view(hosts.view(v.get("host", hosts.CONTROLLER))):
                vms.unplug(name, v.get("port_id"))
        except RuntimeError as e:
            log.warning("could not unplug %s: %s", name, e)
    procs.stop(*(n for n in procs.daemon_pids() if n.startswith("udhcpc-")))
    reset_neutron(neutron.client(keystone.ADMIN))


def reset_neutron(admin: rest.Client) -> None:
    """Floating IPs, routers (interfaces first), VM ports, networks: all but `public` and its subnet.

    A failed delete is logged, not raised: the next scenario's `_ensure` reuses what is left by name.
    """

    def delete(path: str) -> None:
        try:
            admin.delete(path)
        except rest.HttpError as e:
            log.warning("DELETE %s: %s", path, e)

    for fip in admin.get("/v2.0/floatingips")["floatingips"]:
        delete(f"/v2.0/floatingips/{fip['id']}")
    for router in admin.get("/v2.0/routers")["routers"]:
        for port in admin.get(f"/v2.0/ports?device_id={router['id']}")["ports"]:
            if is_router_interface(port["device_owner"]):
                try:
                    admin.put(f"/v2.0/routers/{router['id']}/remove_router_interface", {"port_id": port["id"]})
                except rest.HttpError as e:
                    log.warning("removing interface %s of router %s: %s", port["id"], router["id"], e)
        delete(f"/v2.0/routers/{router['id']}")
    for port in admin.get("/v2.0/ports?device_owner=compute:nova")["ports"]:
        delete(f"/v2.0/ports/{port['id']}")
    for net in admin.get("/v2.0/networks")["networks"]:
        public = net["name"] == "public" and net.get("router:external")
        # On public, what DVR leaves: the hosts' floatingip_agent_gateway (fg-) ports.
        for port in admin.get(f"/v2.0/ports?network_id={net['id']}")["ports"]:
            if not port["device_owner"].startswith("network:dhcp"):
                delete(f"/v2.0/ports/{port['id']}")
        if not public:
            delete(f"/v2.0/networks/{net['id']}")
            continue
        # A scenario's own subnets on public (dualstack's IPv6 one) go too: the next gets public as built.
        for subnet in admin.get(f"/v2.0/subnets?network_id={net['id']}")["subnets"]:
            if subnet["name"] != "public_subnet":
                delete(f"/v2.0/subnets/{subnet['id']}")


def is_router_interface(device_owner: str) -> bool:
    """A router's interface on a subnet: legacy, distributed, or an HA router's (scenario ha), which must
    be removed before the router can be deleted (its ha- ports go with the router)."""
    return device_owner.startswith("network:router_interface") or device_owner == ha.HA_INTERFACE_OWNER


def _restart_agents(mode: str) -> None:
    """Stop host 1's agents, then compute2; clean the data plane; start in the new mode."""
    neutron.stop_agents()
    procs.kill([p for p in procs.lab_processes() if _is_agent_helper(p)])
    if hosts.running() or procs.daemon_pids().keys() & set(hosts.daemon_names()):
        hosts.stop_compute2()
    _clean_host1_dataplane()
    admin = neutron.client(keystone.ADMIN)
    if mode == "legacy":
        neutron.delete_agents(admin, hosts.COMPUTE2)
    # Tunnel endpoints: each agent registers its own again on start (host 1's local_ip changes).
    database.psql("DELETE FROM ml2_vxlan_endpoints", db=database.DB_NAME)
    if neutron.write_config(mode):
        log.info("Neutron's server configuration changed: restarting it")
        neutron.stop_server()
        neutron.start_server()
    _start_agents(mode)


def _is_agent_helper(pid: int) -> bool:
    """privsep helpers, dnsmasq, haproxy and keepalived (with its state-change monitor) of host 1's agents
    (they leave the agents' sessions)."""
    argv = procs.cmdline(pid)
    return any(Path(a).name in ("privsep-helper", "dnsmasq", "haproxy", *procs.KEEPALIVED_PROGRAMS) for a in argv[:2])


def _clean_host1_dataplane() -> None:
    """What host 1's stopped agents leave: their namespaces, br-int/br-tun, links, iptables, ipsets."""
    for ns in netns.list_namespaces():
        if netns.LAB_NAMESPACE.match(ns) and ns != ovs.OUTSIDE_NS:
            netns.delete(ns)
    hosts.unplug_host1()
    ovs.vsctl("del-manager", check=False)
    for br in ovs.bridges():
        ovs.vsctl("--if-exists", "del-br", br, check=False)
    # br-ex again, with the outside host's port: the agents set up the rest.
    ovs.add_bridge(ovs.EXTERNAL_BRIDGE)
    procs.run(["ip", "link", "set", ovs.EXTERNAL_BRIDGE, "up"])
    ovs.plug_outside()
    for link in netns.root_links():
        if netns.PORT_LINK.match(link) or netns.DVR_LINK.match(link):
            netns.delete_link(link)
    firewall.cleanup()
