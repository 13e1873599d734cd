"""Scenario `dvr`, from seed 001 (DVR with Open vSwitch, its three packet walks).

Host 1 `controller` runs its L3 agent in `dvr_snat` mode (network node and
compute node), host `compute2` in `dvr` mode (lab/hosts.py); VXLAN between
them over the br-phy tunnel addresses 10.0.1.11 / 10.0.1.12.

    demo: private 10.0.0.0/24, private2 10.0.2.0/24, one distributed router
          `dvr-router` (gateway on public, interfaces on both)
    vm-web-1  controller  private   floating IP   seed walk 2 (FIP in and out)
    vm-db-1   compute2    private2  floating IP   seed walk 3 (east-west from vm-web-1)
    vm-app-1  compute2    private   none          seed walk 1 (SNAT through host 1's snat-)

`distributed` is an admin-only attribute: admin creates the router for demo;
demo sets its gateway and interfaces.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab import capture, hosts, keystone, neutron, ovs, procs, rest, vm
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

NAME = "dvr"
ROUTER = "dvr-router"
NETWORKS = {"private": "10.0.0.0/24", "private2": "10.0.2.0/24"}
# name -> (host, network)
VMS = {
    "vm-web-1": (hosts.CONTROLLER, "private"),
    "vm-db-1": (hosts.COMPUTE2, "private2"),
    "vm-app-1": (hosts.COMPUTE2, "private"),
}
FIP_VMS = ("vm-web-1", "vm-db-1")

Json = dict[str, Any]


def distributed_router(admin: rest.Client, demo: rest.Client, project_id: str, public_id: str) -> Json:
    router = _one(demo, "routers", name=ROUTER)
    if router is None:
        router = dict(
            admin.post("/v2.0/routers", {"router": {"name": ROUTER, "project_id": project_id, "distributed": True}})[
                "router"
            ]
        )
    if not router.get("external_gateway_info"):
        router = demo.put(
            f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": {"network_id": public_id}}}
        )["router"]
    return router


def ping_or_fail(where: str, target: str, what: str, timeout: float = 150) -> None:
    host = VMS[where][0] if where in VMS else hosts.CONTROLLER
    ns = vm.namespace(where) if where in VMS else where
    with procs.view(hosts.view(host)):
        if not vm.ping(ns, target, timeout=timeout):
            raise RuntimeError(f"{what}: {where} cannot ping {target}")


def build() -> dict[str, Any]:
    admin = neutron.client(keystone.ADMIN)
    demo = neutron.client(keystone.DEMO)
    projects = keystone.project_ids()
    demo_id = projects["demo"]

    ovs.plug_outside()
    public, public_subnet = public_network(admin)
    nets: dict[str, Json] = {}
    subnets: dict[str, Json] = {}
    for name, cidr in NETWORKS.items():
        nets[name] = _ensure(demo, "networks", {"name": name}, name=name)
        subnets[name] = _ensure(
            demo,
            "subnets",
            {
                "name": f"{name}_subnet",
                "network_id": nets[name]["id"],
                "ip_version": 4,
                "cidr": cidr,
            },
            name=f"{name}_subnet",
            network_id=nets[name]["id"],
        )
    router = distributed_router(admin, demo, demo_id, public["id"])
    for name in NETWORKS:
        if not _one(
            demo,
            "ports",
            device_id=router["id"],
            network_id=nets[name]["id"],
            device_owner="network:router_interface_distributed",
        ):
            demo.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnets[name]["id"]})
    sg = open_default_security_group(demo, demo_id)
    log.info("networks, %s (distributed) and security group ready", ROUTER)

    ports = {name: vm_port(admin, name, nets[net]["id"], demo_id, host=host) for name, (host, net) in VMS.items()}
    fips = {name: associate_floating_ip(demo, public["id"], ports[name]["id"]) for name in FIP_VMS}
    with ThreadPoolExecutor(max_workers=len(VMS)) as pool:
        booted = pool.map(lambda name: boot_vm(admin, name, ports[name], nets[VMS[name][1]], host=VMS[name][0]), VMS)
        vms = dict(zip(VMS, booted, strict=True))
    for name, fip in fips.items():
        vms[name]["floating_ip"] = fip["floating_ip_address"]
    log.info("VMs plugged and leased: %s", {n: (v["host"], v["ip"]) for n, v in vms.items()})

    # Routing comes up 15-30 s after the ports turn ACTIVE: poll, in parallel.
    checks = [
        ("vm-web-1", ovs.OUTSIDE_IP, "FIP out (host 1's fip-)"),
        ("vm-db-1", ovs.OUTSIDE_IP, "FIP out (compute2's fip-)"),
        ("vm-app-1", ovs.OUTSIDE_IP, "SNAT through host 1's snat-"),
        ("vm-web-1", vms["vm-db-1"]["ip"], "east-west across hosts"),
        (ovs.OUTSIDE_NS, fips["vm-web-1"]["floating_ip_address"], "FIP in to host 1"),
        (ovs.OUTSIDE_NS, fips["vm-db-1"]["floating_ip_address"], "FIP in to compute2"),
    ]
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        for f in [pool.submit(ping_or_fail, *c) for c in checks]:
            f.result()
    # A ping out may answer through host 1's snat- before the VM's own host has wired
    # its FIP (fip- namespace, rule to table 16): wait until the outside sees the FIP.
    expected = {name: fip["floating_ip_address"] for name, fip in fips.items()}
    gateway = admin.get(f"/v2.0/routers/{router['id']}")["router"]["external_gateway_info"]
    expected["vm-app-1"] = gateway["external_fixed_ips"][0]["ip_address"]
    for name, ip in expected.items():  # one at a time: the capture sees every VM's pings
        capture.wait_source(name, ip, VMS[name][0])
    log.info("the three walks of seed 001 answer pings, with the expected source addresses")

    router = admin.get(f"/v2.0/routers/{router['id']}")["router"]
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    snat_ports = admin.get(f"/v2.0/ports?device_id={router['id']}&device_owner=network:router_centralized_snat")
    fip_namespace = f"fip-{public['id']}"
    return {
        "projects": projects,
        "hosts": {
            hosts.CONTROLLER: {
                "tunnel_ip": hosts.TUNNEL_IPS[hosts.CONTROLLER],
                "l3_agent_mode": "dvr_snat",
                "netns_dir": "/run/netns",
                "bridge": hosts.PHY_BRIDGE,
            },
            hosts.COMPUTE2: {
                "tunnel_ip": hosts.TUNNEL_IPS[hosts.COMPUTE2],
                "l3_agent_mode": "dvr",
                "netns_dir": str(hosts.NETNS_DIR),
                "bridge": hosts.PHY_BRIDGE,
                "holder_pid": hosts.holder_pid(),
            },
        },
        "networks": {"public": public["id"], **{n: nets[n]["id"] for n in NETWORKS}},
        "subnets": {"public_subnet": public_subnet["id"], **{f"{n}_subnet": subnets[n]["id"] for n in NETWORKS}},
        "routers": {
            ROUTER: {
                "id": router["id"],
                "gateway_ip": gateway_ip,
                "distributed": True,
                "namespace": f"qrouter-{router['id']}",
                "snat_namespace": f"snat-{router['id']}",
                "snat_host": hosts.CONTROLLER,
                "hosts": [hosts.CONTROLLER, hosts.COMPUTE2],
                "snat_ips": sorted(ip["ip_address"] for p in snat_ports["ports"] for ip in p["fixed_ips"]),
            }
        },
        "fip_namespaces": {hosts.CONTROLLER: fip_namespace, hosts.COMPUTE2: fip_namespace},
        "security_groups": {"demo:default": sg["id"]},
        "vms": vms,
        "floating_ips": {
            name: {
                "id": fip["id"],
                "floating_ip_address": fip["floating_ip_address"],
                "port_id": fip["port_id"],
                "host": VMS[name][0],
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
