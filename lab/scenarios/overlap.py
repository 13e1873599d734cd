"""Scenario `overlap`, from seed 004 (overlapping tenant subnets behind two routers).

    alt: router01 (gateway on public) - net01 / net01_subnet01 192.168.101.0/24 - vm01 192.168.101.3
         router02 (gateway on public) - net02 / net02_subnet01 192.168.101.0/24 - vm02 192.168.101.3
    each VM with its own floating IP; each router SNATs its own network.

One host, legacy routers (the seed is a Folsom single-node setup); the
seed's public01 10.64.201.0/24 is the lab's `public` 192.168.1.0/24 with the
outside host at 192.168.1.1. The VM ports ask for 192.168.101.3 explicitly
(Neutron's allocation is random).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab import hosts, keystone, neutron, ovs, procs, rest, vm
from lab.scenarios.allinone import (
    _ensure,
    _one,
    associate_floating_ip,
    boot_vm,
    open_default_security_group,
    public_network,
    vm_port,
)

log = logging.getLogger(__name__)

NAME = "overlap"
CIDR = "192.168.101.0/24"
VM_IP = "192.168.101.3"
# vm -> (router, network)
LAYOUT = {"vm01": ("router01", "net01"), "vm02": ("router02", "net02")}

Json = dict[str, Any]


def tenant_side(
    admin: rest.Client,
    alt: rest.Client,
    alt_id: str,
    public_id: str,
    vm_name: str,
    router_name: str,
    net_name: str,
    host: str = hosts.CONTROLLER,
) -> tuple[Json, Json, Json, Json]:
    """Network, subnet, the VM's port bound to `host` (right after the subnet, before the DHCP agent takes
    an address for its port: Neutron allocates at random), router with gateway and interface."""
    net = _ensure(alt, "networks", {"name": net_name}, name=net_name)
    subnet_name = f"{net_name}_subnet01"
    subnet = _ensure(
        alt,
        "subnets",
        {
            "name": subnet_name,
            "network_id": net["id"],
            "ip_version": 4,
            "cidr": CIDR,
        },
        name=subnet_name,
        network_id=net["id"],
    )
    fixed_ips = [{"subnet_id": subnet["id"], "ip_address": VM_IP}]
    port = vm_port(admin, vm_name, net["id"], alt_id, fixed_ips=fixed_ips, host=host)
    router = _ensure(alt, "routers", {"name": router_name}, name=router_name)
    if not router.get("external_gateway_info"):
        router = alt.put(
            f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": {"network_id": public_id}}}
        )["router"]
    if not _one(alt, "ports", device_id=router["id"], network_id=net["id"]):
        alt.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    return net, subnet, router, port


def build() -> dict[str, Any]:
    admin = neutron.client(keystone.ADMIN)
    alt = neutron.client(keystone.ALT)
    projects = keystone.project_ids()
    alt_id = projects["alt"]

    ovs.plug_outside()
    public, public_subnet = public_network(admin)
    sides: dict[str, tuple[Json, Json, Json, Json]] = {}
    for vm_name, (router_name, net_name) in LAYOUT.items():
        sides[vm_name] = tenant_side(admin, alt, alt_id, public["id"], vm_name, router_name, net_name)
    ports = {vm_name: side[3] for vm_name, side in sides.items()}
    sg = open_default_security_group(alt, alt_id)
    log.info("net01/net02, router01/router02 and alt's security group ready")
    fips = {name: associate_floating_ip(alt, public["id"], ports[name]["id"]) for name in LAYOUT}
    with ThreadPoolExecutor(max_workers=len(LAYOUT)) as pool:
        booted = pool.map(lambda name: boot_vm(admin, name, ports[name], sides[name][0]), LAYOUT)
        vms = dict(zip(LAYOUT, booted, strict=True))
    for name, fip in fips.items():
        vms[name]["floating_ip"] = fip["floating_ip_address"]
        vms[name]["router"] = LAYOUT[name][0]
    log.info("VMs plugged and leased: %s", {n: v["ip"] for n, v in vms.items()})

    def check(src: str, target: str) -> None:
        with procs.view(hosts.view(hosts.CONTROLLER)):
            if not vm.ping(vm.namespace(src) if src in LAYOUT else src, target, timeout=120):
                raise RuntimeError(f"{src} cannot ping {target}")

    checks = [
        *((name, ovs.OUTSIDE_IP) for name in LAYOUT),
        *((ovs.OUTSIDE_NS, fip["floating_ip_address"]) for fip in fips.values()),
    ]
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        for f in [pool.submit(check, *c) for c in checks]:
            f.result()
    log.info("pings through router01 and router02 answered")

    routers: dict[str, Json] = {}
    for vm_name, (router_name, net_name) in LAYOUT.items():
        router = admin.get(f"/v2.0/routers/{sides[vm_name][2]['id']}")["router"]
        gw = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        gw_port = _one(admin, "ports", device_id=router["id"], device_owner="network:router_gateway")
        routers[router_name] = {
            "id": router["id"],
            "gateway_ip": gw,
            "distributed": False,
            "gateway_mac": gw_port["mac_address"] if gw_port else None,
            "namespace": f"qrouter-{router['id']}",
            "hosts": [hosts.CONTROLLER],
            "network": net_name,
        }
    return {
        "projects": projects,
        "hosts": {hosts.CONTROLLER: {"tunnel_ip": "127.0.0.1", "l3_agent_mode": "legacy", "netns_dir": "/run/netns"}},
        "networks": {"public": public["id"], **{net: sides[v][0]["id"] for v, (_, net) in LAYOUT.items()}},
        "subnets": {
            "public_subnet": public_subnet["id"],
            **{f"{net}_subnet01": sides[v][1]["id"] for v, (_, net) in LAYOUT.items()},
        },
        "routers": routers,
        "security_groups": {"alt:default": sg["id"]},
        "vms": vms,
        "floating_ips": {
            name: {
                "id": fip["id"],
                "floating_ip_address": fip["floating_ip_address"],
                "port_id": fip["port_id"],
                "router": LAYOUT[name][0],
            }
            for name, fip in fips.items()
        },
        "outside": {
            "namespace": ovs.OUTSIDE_NS,
            "ip": ovs.OUTSIDE_IP,
            "bridge": ovs.EXTERNAL_BRIDGE,
            "port": ovs.OUTSIDE_PORT,
            "host": hosts.CONTROLLER,
        },
    }
