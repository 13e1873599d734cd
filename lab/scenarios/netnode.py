"""Scenario `netnode`, from seed 003 (packstack on two nodes: a separate network node).

Host 1 `controller` is the controller and compute node: the VMs and its OVS agent only (no L3 or
DHCP agent). Host `compute2` is the network node (lab/hosts.py, host mode netnode): its own OVS
agent, the legacy L3 agent and the DHCP agent, so router1's `qrouter-` and the network's `qdhcp-`
namespaces live there; tenant traffic crosses VXLAN between the br-phy tunnel addresses 10.0.1.11 /
10.0.1.12, and the external network is compute2's br-ex wired to host 1's (the outside host's LAN).
compute2's dnsmasq pushes MTU 1400 (DHCP option 26), as the seed's packstack did with
dnsmasq-neutron.conf.

    demo: private 10.0.0.0/24, router1 (legacy, gateway on public, interface on private)
    cirros-01  controller  private  floating IP   FIP in and out through compute2's qrouter
    ubuntu-01  controller  private  none          SNAT to router1's gateway address
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab import capture, hosts, keystone, neutron, ovs, procs, rest, vm
from lab.scenarios.allinone import (
    associate_floating_ip,
    boot_vm,
    demo_network,
    open_default_security_group,
    public_network,
    vm_port,
)

log = logging.getLogger(__name__)

NAME = "netnode"
ROUTER = "router1"
VMS = ("cirros-01", "ubuntu-01")
FIP_VM = "cirros-01"
NETWORK_NODE = hosts.COMPUTE2

Json = dict[str, Any]


def hosted_on_network_node(admin: rest.Client, router_id: str, network_id: str) -> None:
    """router1 scheduled to compute2's L3 agent and the network to its DHCP agent, nowhere else."""
    l3 = {a["host"] for a in admin.get(f"/v2.0/routers/{router_id}/l3-agents")["agents"]}
    dhcp = {a["host"] for a in admin.get(f"/v2.0/networks/{network_id}/dhcp-agents")["agents"]}
    if l3 != {NETWORK_NODE} or dhcp != {NETWORK_NODE}:
        raise RuntimeError(f"router1 on {l3 or 'no L3 agent'}, DHCP on {dhcp or 'no agent'}: not {NETWORK_NODE}")


def leased_mtu(name: str) -> int:
    """The MTU of the VM's eth0 as its DHCP client set it from option 26."""
    out = procs.run(["ip", "-n", vm.namespace(name), "-o", "link", "show", "eth0"]).stdout
    words = out.split()
    return int(words[words.index("mtu") + 1])


def build() -> dict[str, Any]:
    admin = neutron.client(keystone.ADMIN)
    demo = neutron.client(keystone.DEMO)
    projects = keystone.project_ids()
    demo_id = projects["demo"]

    ovs.plug_outside()
    public, public_subnet = public_network(admin)
    private, private_subnet, router = demo_network(demo, public["id"])
    sg = open_default_security_group(demo, demo_id)
    hosted_on_network_node(admin, router["id"], private["id"])
    log.info("private, router1 and security group ready; router1 and DHCP on %s", NETWORK_NODE)
    ports = {name: vm_port(admin, name, private["id"], demo_id, host=hosts.CONTROLLER) for name in VMS}
    fip = associate_floating_ip(demo, public["id"], ports[FIP_VM]["id"])
    with ThreadPoolExecutor(max_workers=len(VMS)) as pool:
        booted = pool.map(lambda name: boot_vm(admin, name, ports[name], private, host=hosts.CONTROLLER), VMS)
        vms = dict(zip(VMS, booted, strict=True))
    vms[FIP_VM]["floating_ip"] = fip["floating_ip_address"]
    mtus = {name: leased_mtu(name) for name in VMS}
    if set(mtus.values()) != {hosts.NETNODE_MTU}:
        raise RuntimeError(f"the VMs' MTU from DHCP option 26: {mtus}, not {hosts.NETNODE_MTU}")
    log.info("VMs plugged and leased from %s's dnsmasq (MTU %s): %s", NETWORK_NODE, mtus, vms)

    # Routing is not ready when the ports turn ACTIVE: poll, never a fixed sleep.
    checks = [
        (vm.namespace(FIP_VM), ovs.OUTSIDE_IP, "FIP out"),
        (vm.namespace("ubuntu-01"), ovs.OUTSIDE_IP, "SNAT out"),
        (ovs.OUTSIDE_NS, fip["floating_ip_address"], "FIP in"),
    ]

    def check(ns: str, target: str, what: str) -> None:
        if not vm.ping(ns, target, timeout=150):
            raise RuntimeError(f"{what}: {ns} cannot ping {target} through {NETWORK_NODE}'s router1")

    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        for f in [pool.submit(check, *c) for c in checks]:
            f.result()
    router = admin.get(f"/v2.0/routers/{router['id']}")["router"]
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    capture.wait_source(FIP_VM, fip["floating_ip_address"])
    capture.wait_source("ubuntu-01", gateway_ip)
    log.info("pings through %s's router1 answered, with the expected source addresses", NETWORK_NODE)
    return {
        "projects": projects,
        "hosts": {
            hosts.CONTROLLER: {
                "role": "controller, compute",
                "tunnel_ip": hosts.TUNNEL_IPS[hosts.CONTROLLER],
                "l3_agent_mode": None,
                "netns_dir": "/run/netns",
                "bridge": hosts.PHY_BRIDGE,
            },
            NETWORK_NODE: {
                "role": "network",
                "tunnel_ip": hosts.TUNNEL_IPS[NETWORK_NODE],
                "l3_agent_mode": "legacy",
                "netns_dir": str(hosts.NETNS_DIR),
                "bridge": hosts.PHY_BRIDGE,
                "holder_pid": hosts.holder_pid(),
            },
        },
        "networks": {"public": public["id"], "private": private["id"]},
        "subnets": {"public_subnet": public_subnet["id"], "private_subnet": private_subnet["id"]},
        "dhcp": {"host": NETWORK_NODE, "namespace": f"qdhcp-{private['id']}", "mtu": hosts.NETNODE_MTU},
        "routers": {
            ROUTER: {
                "id": router["id"],
                "gateway_ip": gateway_ip,
                "distributed": False,
                "namespace": f"qrouter-{router['id']}",
                "hosts": [NETWORK_NODE],
            }
        },
        "security_groups": {"demo:default": sg["id"]},
        "vms": vms,
        "floating_ips": {
            FIP_VM: {
                "id": fip["id"],
                "floating_ip_address": fip["floating_ip_address"],
                "port_id": fip["port_id"],
                "host": NETWORK_NODE,
            }
        },
        "outside": {
            "namespace": ovs.OUTSIDE_NS,
            "ip": ovs.OUTSIDE_IP,
            "bridge": ovs.EXTERNAL_BRIDGE,
            "port": ovs.OUTSIDE_PORT,
            "host": hosts.CONTROLLER,
        },
    }
