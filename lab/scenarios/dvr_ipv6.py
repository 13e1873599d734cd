"""IPv6 on the `dvr` scenario, added and taken away again (issue 19: "DVR where it applies").

`add()` gives `public` dualstack's IPv6 subnet and dvr-router's gateway an address on it, puts SLAAC
IPv6 subnets on demo's `private` and `private2` (on dvr-router), opens ICMPv6 and SSH over IPv6 in
demo's default group, and makes the outside host the upstream router (2001:db8:1::1, the tenant prefixes
via the router's IPv6 gateway) with a second address beyond the external subnet, 2001:db8:ff::1 on its
loopback: where DVR's fip namespace leaves IPv6 unrouted. `remove()` undoes all of it, so the scenario's
IPv4 tests see the cloud `dvr` built. Documentation prefixes only (RFC 3849), inside the lab's namespaces.
"""

from __future__ import annotations

import logging
from typing import Any

from lab import hosts, keystone, netns, neutron, ovs, procs, rest, vm
from lab.scenarios import dualstack
from lab.scenarios.dvr import ROUTER, VMS

log = logging.getLogger(__name__)

Json = dict[str, Any]
BEYOND6 = "2001:db8:ff::1"  # on the outside host's loopback: not on public's IPv6 subnet
TENANT_SUBNETS = {
    "private": ("private6_subnet", dualstack.PRIVATE6_CIDR),
    "private2": ("private2_v6_subnet", dualstack.PRIVATE2_6_CIDR),
}


def add(state: Json) -> Json:
    """IPv6 beside the scenario's IPv4; what was made: subnets, the router's IPv6 gateway, VM addresses."""
    admin, demo = neutron.client(keystone.ADMIN), neutron.client(keystone.DEMO)
    router_id = state["routers"][ROUTER]["id"]
    public6 = dualstack.public6_subnet(admin, state["networks"]["public"])
    router = gateway_on(admin, router_id, public6["id"])
    subnets = {
        name: dualstack.private6_subnet(demo, router, state["networks"][network], name, cidr)["id"]
        for network, (name, cidr) in TENANT_SUBNETS.items()
    }
    dualstack.open_icmpv6_and_ssh(demo, {"id": state["security_groups"]["demo:default"]})
    gateway6 = next(
        i["ip_address"] for i in router["external_gateway_info"]["external_fixed_ips"] if ":" in i["ip_address"]
    )
    dualstack.route_outside_to_tenants(gateway6)
    netns.ip(ovs.OUTSIDE_NS, "-6", "addr", "replace", f"{BEYOND6}/128", "dev", "lo")
    addresses: dict[str, str] = {}
    for name, (host, _network) in VMS.items():
        port = admin.get(f"/v2.0/ports/{state['vms'][name]['port_id']}")["port"]
        addresses[name] = dualstack.ipv6_of(port)
        with procs.view(hosts.view(host)):
            dualstack.wait_slaac(name, addresses[name])
            if not vm.ping(vm.namespace(name), dualstack.PUBLIC6_GATEWAY, timeout=120):
                raise RuntimeError(f"{name} cannot ping6 the outside host {dualstack.PUBLIC6_GATEWAY}")
    log.info("IPv6 on dvr: gateway %s, VMs %s", gateway6, addresses)
    return {"public6_subnet": public6["id"], "subnets": subnets, "gateway6": gateway6, "ipv6": addresses}


def gateway_on(admin: rest.Client, router_id: str, subnet_id: str) -> Json:
    """The router's gateway with an address on ``subnet_id`` too (its IPv4 address kept): admin only."""
    router: Json = admin.get(f"/v2.0/routers/{router_id}")["router"]
    gateway = router["external_gateway_info"]
    fixed = [{"subnet_id": i["subnet_id"], "ip_address": i["ip_address"]} for i in gateway["external_fixed_ips"]]
    if not any(i["subnet_id"] == subnet_id for i in fixed):
        body = {"network_id": gateway["network_id"], "external_fixed_ips": [*fixed, {"subnet_id": subnet_id}]}
        router = admin.put(f"/v2.0/routers/{router_id}", {"router": {"external_gateway_info": body}})["router"]
    return router


def remove(state: Json, added: Json) -> None:
    """Everything `add()` made, gone: the outside's and the VMs' IPv6 too."""
    admin, demo = neutron.client(keystone.ADMIN), neutron.client(keystone.DEMO)
    router_id = state["routers"][ROUTER]["id"]
    netns.ip(ovs.OUTSIDE_NS, "-6", "addr", "flush", "dev", "eth0", "scope", "global")
    netns.ip(ovs.OUTSIDE_NS, "-6", "addr", "flush", "dev", "lo", "scope", "global")
    for cidr in (dualstack.PRIVATE6_CIDR, dualstack.PRIVATE2_6_CIDR):
        procs.run(["ip", "-n", ovs.OUTSIDE_NS, "-6", "route", "del", cidr], check=False)
    for subnet_id in added["subnets"].values():
        try:
            demo.put(f"/v2.0/routers/{router_id}/remove_router_interface", {"subnet_id": subnet_id})
        except rest.HttpError as error:
            log.warning("remove_router_interface %s: %s", subnet_id, error)
        demo.delete(f"/v2.0/subnets/{subnet_id}")
    public6 = added["public6_subnet"]
    for port in admin.get(f"/v2.0/ports?network_id={state['networks']['public']}")["ports"]:
        kept = [{"subnet_id": i["subnet_id"], "ip_address": i["ip_address"]} for i in port["fixed_ips"]]
        if len(kept) == len(without := [i for i in kept if i["subnet_id"] != public6]):
            continue
        if port["device_owner"] == "network:router_gateway":
            body = {"network_id": state["networks"]["public"], "external_fixed_ips": without}
            admin.put(f"/v2.0/routers/{router_id}", {"router": {"external_gateway_info": body}})
        else:
            admin.put(f"/v2.0/ports/{port['id']}", {"port": {"fixed_ips": without}})
    admin.delete(f"/v2.0/subnets/{public6}")
    group = state["security_groups"]["demo:default"]
    rules = demo.get(f"/v2.0/security-group-rules?security_group_id={group}&direction=ingress&ethertype=IPv6")
    for rule in rules["security_group_rules"]:
        if rule["protocol"] in ("ipv6-icmp", "tcp") and not rule["remote_group_id"]:
            demo.delete(f"/v2.0/security-group-rules/{rule['id']}")
    resync_ovs_agents(state)
    for name, (host, _network) in VMS.items():
        with procs.view(hosts.view(host)):
            for flush in (("addr", "flush", "dev", "eth0", "scope", "global"), ("route", "flush", "proto", "ra")):
                procs.run(["ip", "-n", vm.namespace(name), "-6", *flush], check=False)
    log.info("IPv6 taken off dvr")


def resync_ovs_agents(state: Json) -> None:
    """Restart both hosts' OVS agents and wait until east-west answers again across the hosts.

    Taking a dual-stack network's IPv6 router interface off a distributed router makes Neutron's OVS
    agent delete that network's DVR_TO_SRC_MAC flows on br-int (table 1) for the IPv4 subnet's ports
    too, so IPv4 routed into the host from another one is dropped; an agent's restart (a full resync)
    rebuilds them (measured on the lab: east-west answers again about 10 s after the restarts).
    """
    for host, daemons in ((hosts.COMPUTE2, hosts.agent_daemons()), (hosts.CONTROLLER, neutron.agent_daemons())):
        (daemon,) = [d for d in daemons if d.name.endswith("neutron-openvswitch-agent")]
        procs.stop(daemon.name)
        with procs.view(hosts.view(host)):
            procs.start(daemon)
    pairs = (("vm-web-1", "vm-db-1"), ("vm-db-1", "vm-web-1"))
    for source, target in pairs:
        with procs.view(hosts.view(VMS[source][0])):
            if not vm.ping(vm.namespace(source), state["vms"][target]["ip"], timeout=120):
                raise RuntimeError(f"{source} cannot ping {target} after the OVS agents' resync")
