"""Scenario `vlan`, from seed 004 (tenant networks as VLANs, overlapping subnets behind two routers).

Host mode vlan (lab/neutron.py, lab/hosts.py): ML2's `project_network_types = vlan` with
`network_vlan_ranges = physnet1:100:104`, both hosts' OVS agents with
`bridge_mappings = external:br-ex,physnet1:br-vlan`; each host's br-vlan has one end of the veth wire
lab-vlan1/lab-vlan2 as its physical port (the seed's br-em2 with em2 in it). Host 1 `controller` runs
every agent (the legacy L3 agent with both routers, the DHCP agent); `compute2` its OVS agent only, so
vm02's traffic crosses the wire tagged with its network's segmentation id, to its router on host 1.

    alt: router01 (gateway on public) - net01 / net01_subnet01 192.168.101.0/24 - vm01 192.168.101.3
         router02 (gateway on public) - net02 / net02_subnet01 192.168.101.0/24 - vm02 192.168.101.3
    vm01  controller  net01  floating IP   router01 on host 1
    vm02  compute2    net02  floating IP   router02 on host 1, over the VLAN wire
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab import hosts, keystone, neutron, ovs, procs, rest, vm
from lab.scenarios.allinone import _one, associate_floating_ip, boot_vm, open_default_security_group, public_network
from lab.scenarios.overlap import LAYOUT, tenant_side

log = logging.getLogger(__name__)

NAME = "vlan"
VMS = {"vm01": hosts.CONTROLLER, "vm02": hosts.COMPUTE2}
ROLES = {
    hosts.CONTROLLER: "controller, compute, network (legacy L3, DHCP)",
    hosts.COMPUTE2: "compute",
}

PROVIDER_KEYS = ("network_type", "physical_network", "segmentation_id")

Json = dict[str, Any]


def segments(admin: rest.Client, nets: dict[str, str]) -> dict[str, int]:
    """Each network's VLAN on physnet1 (its segmentation id), checked to be one of ML2's range."""
    low, high = ovs.VLAN_RANGE
    found: dict[str, int] = {}
    for name, net_id in nets.items():
        net = admin.get(f"/v2.0/networks/{net_id}")["network"]
        kind, physnet, segid = (net.get(f"provider:{key}") for key in PROVIDER_KEYS)
        if kind != "vlan" or physnet != ovs.VLAN_PHYSNET or not low <= int(segid) <= high:
            raise RuntimeError(f"{name} is {kind} on {physnet} id {segid}: not a VLAN of {ovs.VLAN_PHYSNET}")
        found[name] = int(segid)
    return found


def check_pings(fips: dict[str, str]) -> None:
    """Each VM out through its router (SNAT/FIP), and the outside host in to each FIP (polled)."""
    checks = [
        *((name, vm.namespace(name), ovs.OUTSIDE_IP) for name in VMS),
        *((hosts.CONTROLLER, ovs.OUTSIDE_NS, fip) for fip in fips.values()),
    ]

    def check(where: str, ns: str, target: str) -> None:
        with procs.view(hosts.view(VMS.get(where, where))):
            if not vm.ping(ns, target, timeout=150):
                raise RuntimeError(f"{ns} cannot ping {target}")

    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        for f in [pool.submit(check, *c) for c in checks]:
            f.result()


def build() -> dict[str, Any]:
    admin = neutron.client(keystone.ADMIN)
    alt = neutron.client(keystone.ALT)
    projects = keystone.project_ids()
    alt_id = projects["alt"]

    ovs.plug_outside()
    public, public_subnet = public_network(admin)
    sides = {
        name: tenant_side(admin, alt, alt_id, public["id"], name, *LAYOUT[name], host=host)
        for name, host in VMS.items()
    }
    nets = {LAYOUT[name][1]: side[0]["id"] for name, side in sides.items()}
    segids = segments(admin, nets)
    sg = open_default_security_group(alt, alt_id)
    log.info("net01/net02 (VLANs %s), router01/router02 and alt's security group ready", segids)
    fips = {name: associate_floating_ip(alt, public["id"], side[3]["id"]) for name, side in sides.items()}
    with ThreadPoolExecutor(max_workers=len(VMS)) as pool:
        booted = pool.map(lambda name: boot_vm(admin, name, sides[name][3], sides[name][0], host=VMS[name]), VMS)
        vms = dict(zip(VMS, booted, strict=True))
    for name, fip in fips.items():
        vms[name]["floating_ip"] = fip["floating_ip_address"]
        vms[name]["router"] = LAYOUT[name][0]
    log.info("VMs plugged and leased: %s", {n: (v["host"], v["ip"]) for n, v in vms.items()})
    check_pings({name: fip["floating_ip_address"] for name, fip in fips.items()})
    log.info("pings through router01 and router02 answered (vm02's over the VLAN wire)")
    return {
        "projects": projects,
        "hosts": {host: host_state(host) for host in ROLES},
        "networks": {"public": public["id"], **nets},
        "subnets": {
            "public_subnet": public_subnet["id"],
            **{f"{LAYOUT[n][1]}_subnet01": side[1]["id"] for n, side in sides.items()},
        },
        "vlan": {
            "physical_network": ovs.VLAN_PHYSNET,
            "bridge": ovs.VLAN_BRIDGE,
            "range": list(ovs.VLAN_RANGE),
            "wire": dict(zip(ROLES, hosts.VLAN_LINKS, strict=True)),
            "segmentation_ids": segids,
        },
        "routers": {LAYOUT[n][0]: router_state(admin, side[2]["id"], LAYOUT[n][1]) for n, side in sides.items()},
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


def router_state(admin: rest.Client, router_id: str, network: str) -> Json:
    router = admin.get(f"/v2.0/routers/{router_id}")["router"]
    gw_port = _one(admin, "ports", device_id=router_id, device_owner="network:router_gateway")
    return {
        "id": router_id,
        "gateway_ip": router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"],
        "distributed": False,
        "gateway_mac": gw_port["mac_address"] if gw_port else None,
        "namespace": f"qrouter-{router_id}",
        "hosts": [hosts.CONTROLLER],
        "network": network,
    }


def host_state(host: str) -> Json:
    info: Json = {
        "role": ROLES[host],
        "tunnel_ip": hosts.TUNNEL_IPS[host],
        "l3_agent_mode": "legacy" if host == hosts.CONTROLLER else None,
        "netns_dir": "/run/netns" if host == hosts.CONTROLLER else str(hosts.NETNS_DIR),
        "bridge": hosts.PHY_BRIDGE,
        "provider_bridge": ovs.VLAN_BRIDGE,
        "provider_port": dict(zip(ROLES, hosts.VLAN_LINKS, strict=True))[host],
    }
    if host == hosts.COMPUTE2:
        info["holder_pid"] = hosts.holder_pid()
    return info
