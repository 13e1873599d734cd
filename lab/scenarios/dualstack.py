"""Scenario `dualstack`: seed 000's all-in-one cloud with IPv6 beside IPv4 (issue 19).

On top of `allinone`: an IPv6 subnet on `public` (static addresses, its gateway the outside host's
2001:db8:1::1) and one on demo's `private` with ``ipv6_ra_mode`` and ``ipv6_address_mode`` slaac,
both on router1, and demo's second network `private2` (IPv4 and IPv6) on router1 with VM web-01 for
east-west in both families. The L3 agent runs radvd in router1's qrouter namespace; the VMs (namespaces that
accept router advertisements) take their EUI-64 SLAAC addresses, the ones Neutron computed for their
ports, and their IPv6 default route from it. IPv6 is routed without NAT: the outside host reaches the
VMs' own addresses through a route to the tenant prefix via router1's IPv6 gateway address, as an
upstream router would. The security group allows ICMPv6 and SSH over IPv6. Documentation prefixes
only (RFC 3849): nothing of it is routed beyond the lab's namespaces.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab import keystone, netns, neutron, ovs, procs, rest, vm
from lab.scenarios import allinone
from lab.scenarios.allinone import Json

log = logging.getLogger(__name__)

NAME = "dualstack"
PUBLIC6_CIDR = "2001:db8:1::/64"
PUBLIC6_GATEWAY = "2001:db8:1::1"  # the outside host
PUBLIC6_POOL = ("2001:db8:1::50", "2001:db8:1::150")
PRIVATE6_CIDR = "2001:db8:10::/64"
# A second network of demo's on router1, dual stack too: east-west in both families.
PRIVATE2_CIDR, PRIVATE2_6_CIDR = "10.0.2.0/24", "2001:db8:12::/64"
EAST_VM = "web-01"
SLAAC = "slaac"


def public6_subnet(admin: rest.Client, public_id: str) -> Json:
    return allinone._ensure(
        admin,
        "subnets",
        {
            "name": "public6_subnet",
            "network_id": public_id,
            "ip_version": 6,
            "cidr": PUBLIC6_CIDR,
            "enable_dhcp": False,
            "gateway_ip": PUBLIC6_GATEWAY,
            "allocation_pools": [{"start": PUBLIC6_POOL[0], "end": PUBLIC6_POOL[1]}],
        },
        name="public6_subnet",
        network_id=public_id,
    )


def private6_subnet(
    demo: rest.Client, router: Json, private_id: str, name: str = "private6_subnet", cidr: str = PRIVATE6_CIDR
) -> Json:
    subnet = allinone._ensure(
        demo,
        "subnets",
        {
            "name": name,
            "network_id": private_id,
            "ip_version": 6,
            "cidr": cidr,
            "ipv6_ra_mode": SLAAC,
            "ipv6_address_mode": SLAAC,
        },
        name=name,
        network_id=private_id,
    )
    if not allinone._one(demo, "ports", device_id=router["id"], **{"fixed_ips": f"subnet_id={subnet['id']}"}):
        demo.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    return subnet


def private2_network(demo: rest.Client, router: Json) -> tuple[Json, Json, Json]:
    """demo's `private2` (IPv4 and IPv6 SLAAC) on router1 beside `private`."""
    net, subnet = private2_ipv4(demo, router)
    subnet6 = private6_subnet(demo, router, net["id"], "private2_v6_subnet", PRIVATE2_6_CIDR)
    return net, subnet, subnet6


def private2_ipv4(demo: rest.Client, router: Json) -> tuple[Json, Json]:
    """demo's `private2` with its IPv4 subnet, on router1 beside `private`."""
    net = allinone._ensure(demo, "networks", {"name": "private2"}, name="private2")
    subnet = allinone._ensure(
        demo,
        "subnets",
        {"name": "private2_subnet", "network_id": net["id"], "ip_version": 4, "cidr": PRIVATE2_CIDR},
        name="private2_subnet",
        network_id=net["id"],
    )
    if not allinone._one(demo, "ports", device_id=router["id"], network_id=net["id"]):
        demo.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    return net, subnet


def open_icmpv6_and_ssh(demo: rest.Client, sg: Json) -> None:
    """ICMPv6 (ping6) and SSH over IPv6 in to demo's `default` group, beside seed 000's IPv4 rules."""
    rules = demo.get(f"/v2.0/security-group-rules?security_group_id={sg['id']}&direction=ingress&ethertype=IPv6")
    have = {(r["protocol"], r["port_range_min"]) for r in rules["security_group_rules"]}
    for protocol, port in (("ipv6-icmp", None), ("tcp", 22)):
        if (protocol, port) in have:
            continue
        body: Json = {"security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv6", "protocol": protocol}
        if port is not None:
            body |= {"port_range_min": port, "port_range_max": port}
        demo.post("/v2.0/security-group-rules", {"security_group_rule": body})


def ipv6_of(port: Json) -> str:
    return next(a["ip_address"] for a in port["fixed_ips"] if ":" in a["ip_address"])


def slaac_address(name: str) -> str | None:
    """The VM's global IPv6 address once SLAAC configured it (DAD done), else None."""
    out = netns.ip(vm.namespace(name), "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global")
    for line in out.splitlines():
        if "tentative" not in line:
            return line.split()[3].split("/")[0]
    return None


def wait_slaac(name: str, expected: str, timeout: float = 90) -> None:
    if not procs.wait_for(lambda: slaac_address(name) == expected, timeout, interval=0.5):
        raise RuntimeError(f"{name} has {slaac_address(name)} by SLAAC after {timeout:.0f} s, Neutron says {expected}")


def route_outside_to_tenants(gateway6: str) -> None:
    """The outside host as an upstream router: its own IPv6 address, the tenant prefixes via router1."""
    netns.ip(ovs.OUTSIDE_NS, "-6", "addr", "replace", f"{PUBLIC6_GATEWAY}/64", "dev", "eth0", "nodad")
    for prefix in (PRIVATE6_CIDR, PRIVATE2_6_CIDR):
        netns.ip(ovs.OUTSIDE_NS, "-6", "route", "replace", prefix, "via", gateway6, "dev", "eth0")


def build() -> dict[str, Any]:
    admin = neutron.client(keystone.ADMIN)
    demo = neutron.client(keystone.DEMO)
    projects = keystone.project_ids()
    demo_id = projects["demo"]

    ovs.plug_outside()
    public, public_subnet = allinone.public_network(admin)
    public6 = public6_subnet(admin, public["id"])  # before the gateway: router1's gets an address of each
    private, private_subnet, router = allinone.demo_network(demo, public["id"])
    private6 = private6_subnet(demo, router, private["id"])
    private2, private2_subnet, private2_6 = private2_network(demo, router)
    sg = allinone.open_default_security_group(demo, demo_id)
    open_icmpv6_and_ssh(demo, sg)
    router = demo.get(f"/v2.0/routers/{router['id']}")["router"]
    gateway_ips = [ip["ip_address"] for ip in router["external_gateway_info"]["external_fixed_ips"]]
    gateway6 = next((ip for ip in gateway_ips if ":" in ip), None)
    if gateway6 is None:
        raise RuntimeError(f"router1's gateway has no IPv6 address: {gateway_ips}")
    route_outside_to_tenants(gateway6)
    log.info("dual-stack networks, router1 (%s) and security group ready", ", ".join(gateway_ips))

    networks = {**{name: private for name in allinone.VMS}, EAST_VM: private2}
    ports = {name: allinone.vm_port(admin, name, net["id"], demo_id) for name, net in networks.items()}
    fip = allinone.associate_floating_ip(demo, public["id"], ports[allinone.FIP_VM]["id"])
    with ThreadPoolExecutor(max_workers=len(networks)) as pool:
        booted = pool.map(lambda name: allinone.boot_vm(admin, name, ports[name], networks[name]), networks)
        vms = dict(zip(networks, booted, strict=True))
    for name, port in ports.items():
        vms[name]["ipv6"] = ipv6_of(port)
        wait_slaac(name, vms[name]["ipv6"])
    vms[allinone.FIP_VM]["floating_ip"] = fip["floating_ip_address"]
    log.info("VMs leased and SLAAC-configured: %s", {n: (v["ip"], v["ipv6"]) for n, v in vms.items()})

    for name in networks:
        if not vm.ping(vm.namespace(name), PUBLIC6_GATEWAY, timeout=120):
            raise RuntimeError(f"{name} cannot ping6 the outside host {PUBLIC6_GATEWAY}")
    if not vm.ping(vm.namespace(allinone.FIP_VM), ovs.OUTSIDE_IP, timeout=120):
        raise RuntimeError(f"{allinone.FIP_VM} cannot ping the outside host {ovs.OUTSIDE_IP}")
    log.info("ping and ping6 through router1 answered")
    gateway_ip = next(ip for ip in gateway_ips if ":" not in ip)
    state = allinone.one_host_state(projects, router, gateway_ip, sg, vms, fip)
    state["routers"]["router1"]["gateway_ipv6"] = gateway6
    state["outside"]["ipv6"] = PUBLIC6_GATEWAY
    return {
        **state,
        "networks": {"public": public["id"], "private": private["id"], "private2": private2["id"]},
        "subnets": {
            "public_subnet": public_subnet["id"],
            "public6_subnet": public6["id"],
            "private_subnet": private_subnet["id"],
            "private6_subnet": private6["id"],
            "private2_subnet": private2_subnet["id"],
            "private2_v6_subnet": private2_6["id"],
        },
    }
