"""Scenario `ha` (issue 15): demo's router1 as an HA router, VRRP between the two hosts' L3 agents.

Host mode ha (lab/neutron.py, lab/hosts.py): the server makes routers HA (`l3_ha = True`,
`max_l3_agents_per_router = 2`); host 1 `controller` runs every agent (its L3 agent legacy, the DHCP
agent for `private`), `compute2` its OVS agent without DVR, a legacy L3 agent and the metadata agent.
Neutron schedules router1 to both L3 agents: a `qrouter-` on each host, each with an `ha-` port on
"HA network project <demo's id>" (VXLAN, 169.254.192.0/18) and its keepalived; one instance active
(holding the `qg-`/`qr-` addresses), the other standby (lab/ha.py).

    demo: private 10.0.0.0/24, private2 10.0.2.0/24, router1 (ha, gateway on public, both interfaces)
    cirros-01  controller  private   floating IP   FIP in and out through the active qrouter
    ubuntu-01  compute2    private   none          SNAT to router1's gateway address, over VXLAN
    db-01      compute2    private2  none          east-west from cirros-01, routed by the active qrouter
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab import capture, ha, hosts, keystone, neutron, ovs, procs, rest, vm
from lab.scenarios.allinone import (
    _one,
    associate_floating_ip,
    boot_vm,
    demo_network,
    open_default_security_group,
    public_network,
    vm_port,
)
from lab.scenarios.dualstack import private2_ipv4

log = logging.getLogger(__name__)

NAME = "ha"
ROUTER = "router1"
VMS = {"cirros-01": hosts.CONTROLLER, "ubuntu-01": hosts.COMPUTE2, "db-01": hosts.COMPUTE2}
FIP_VM = "cirros-01"
SNAT_VM = "ubuntu-01"
EAST_VM = "db-01"  # on private2: cirros-01 -> db-01 is routed by router1's active instance
HA_HOSTS = (hosts.CONTROLLER, hosts.COMPUTE2)
ROLES = {
    hosts.CONTROLLER: "controller, compute, network (L3 HA, DHCP)",
    hosts.COMPUTE2: "compute, network (L3 HA)",
}

Json = dict[str, Any]


def ha_router(admin: rest.Client, demo: rest.Client, project_id: str) -> Json:
    """router1 for demo, made HA by admin (`ha` is an admin-only attribute): created so, or updated
    (an HA flag changes only on a router set admin down)."""
    router = _one(demo, "routers", name=ROUTER)
    if router is None:
        body = {"router": {"name": ROUTER, "project_id": project_id, "ha": True}}
        return dict(admin.post("/v2.0/routers", body)["router"])
    if not admin.get(f"/v2.0/routers/{router['id']}")["router"].get("ha"):
        path = f"/v2.0/routers/{router['id']}"
        admin.put(path, {"router": {"admin_state_up": False}})
        admin.put(path, {"router": {"ha": True}})
        admin.put(path, {"router": {"admin_state_up": True}})
    return router


def hosted_on_both(admin: rest.Client, router_id: str) -> dict[str, str]:
    """router1 on both hosts' L3 agents, an ha- port on each, one active and one standby."""
    states = ha.wait_one_active(admin, router_id)
    port_hosts = sorted(p["binding:host_id"] for p in ha.ha_ports(admin, router_id))
    if sorted(states) != sorted(HA_HOSTS) or port_hosts != sorted(HA_HOSTS):
        raise RuntimeError(f"router1 on agents {states}, ha- ports on {port_hosts}: not {HA_HOSTS}")
    return states


def check_pings(fip: str, east_ip: str) -> None:
    """FIP out and in, SNAT out from compute2, east-west to private2: through the active instance
    (polled, never a fixed sleep)."""
    checks = [
        (FIP_VM, vm.namespace(FIP_VM), ovs.OUTSIDE_IP, "FIP out"),
        (SNAT_VM, vm.namespace(SNAT_VM), ovs.OUTSIDE_IP, "SNAT out"),
        (None, ovs.OUTSIDE_NS, fip, "FIP in"),
        (FIP_VM, vm.namespace(FIP_VM), east_ip, "east-west"),
    ]

    def check(vm_name: str | None, ns: str, target: str, what: str) -> None:
        with procs.view(hosts.view(VMS.get(vm_name or "", hosts.CONTROLLER))):
            if not vm.ping(ns, target, timeout=150):
                raise RuntimeError(f"{what}: {ns} cannot ping {target} through router1")

    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        for f in [pool.submit(check, *c) for c in checks]:
            f.result()


def build() -> dict[str, Any]:
    admin = neutron.client(keystone.ADMIN)
    demo = neutron.client(keystone.DEMO)
    projects = keystone.project_ids()
    demo_id = projects["demo"]

    ovs.plug_outside()
    public, public_subnet = public_network(admin)
    ha_router(admin, demo, demo_id)
    private, private_subnet, router = demo_network(demo, public["id"])
    private2, private2_subnet = private2_ipv4(demo, router)
    sg = open_default_security_group(demo, demo_id)
    states = hosted_on_both(admin, router["id"])
    log.info("router1 is HA: %s", states)
    nets = {name: private2 if name == EAST_VM else private for name in VMS}
    ports = {name: vm_port(admin, name, nets[name]["id"], demo_id, host=host) for name, host in VMS.items()}
    fip = associate_floating_ip(demo, public["id"], ports[FIP_VM]["id"])
    with ThreadPoolExecutor(max_workers=len(VMS)) as pool:
        booted = pool.map(lambda name: boot_vm(admin, name, ports[name], nets[name], host=VMS[name]), VMS)
        vms = dict(zip(VMS, booted, strict=True))
    vms[FIP_VM]["floating_ip"] = fip["floating_ip_address"]
    log.info("VMs plugged and leased: %s", {n: (v["host"], v["ip"]) for n, v in vms.items()})
    check_pings(fip["floating_ip_address"], vms[EAST_VM]["ip"])
    router = admin.get(f"/v2.0/routers/{router['id']}")["router"]
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    capture.wait_source(FIP_VM, fip["floating_ip_address"])
    capture.wait_source(SNAT_VM, gateway_ip, host=VMS[SNAT_VM])
    log.info("pings through router1's active instance answered, with the expected source addresses")
    return {
        "projects": projects,
        "hosts": {host: host_state(host) for host in HA_HOSTS},
        "networks": {
            "public": public["id"],
            "private": private["id"],
            "private2": private2["id"],
            "ha": ha_network_id(admin, router["id"]),
        },
        "subnets": {
            "public_subnet": public_subnet["id"],
            "private_subnet": private_subnet["id"],
            "private2_subnet": private2_subnet["id"],
        },
        "dhcp": {"host": hosts.CONTROLLER, "namespace": f"qdhcp-{private['id']}"},
        "routers": {
            ROUTER: {
                "id": router["id"],
                "gateway_ip": gateway_ip,
                "distributed": False,
                "ha": True,
                "namespace": f"qrouter-{router['id']}",
                "hosts": list(HA_HOSTS),
            }
        },
        "security_groups": {"demo:default": sg["id"]},
        "vms": vms,
        "floating_ips": {
            FIP_VM: {"id": fip["id"], "floating_ip_address": fip["floating_ip_address"], "port_id": fip["port_id"]}
        },
        "outside": {
            "namespace": ovs.OUTSIDE_NS,
            "ip": ovs.OUTSIDE_IP,
            "bridge": ovs.EXTERNAL_BRIDGE,
            "port": ovs.OUTSIDE_PORT,
            "host": hosts.CONTROLLER,
        },
    }


def ha_network_id(admin: rest.Client, router_id: str) -> str:
    """The network of router1's ha- ports (Neutron's "HA network project <project id>")."""
    nets = {p["network_id"] for p in ha.ha_ports(admin, router_id)}
    if len(nets) != 1:
        raise RuntimeError(f"router1's ha- ports on networks {nets}: not one HA network")
    return nets.pop()


def host_state(host: str) -> Json:
    info: Json = {
        "role": ROLES[host],
        "tunnel_ip": hosts.TUNNEL_IPS[host],
        "l3_agent_mode": "legacy",
        "netns_dir": "/run/netns" if host == hosts.CONTROLLER else str(hosts.NETNS_DIR),
        "bridge": hosts.PHY_BRIDGE,
    }
    if host == hosts.COMPUTE2:
        info["holder_pid"] = hosts.holder_pid()
    return info
