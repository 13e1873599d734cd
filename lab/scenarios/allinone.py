"""Scenario `allinone`, from seed 000 (an all-in-one packstack install).

The seed's steps, with the lab's outside host standing in for the physical
LAN behind br-ex:

    neutron subnet-create --name public_subnet --enable_dhcp=False \\
        --allocation-pool=start=192.168.1.50,end=192.168.1.150 \\
        --gateway=192.168.1.1 public 192.168.1.0/24 --dns-nameservers list=true 192.168.1.1
    neutron router-gateway-set router1 public
    (demo) security-group-rule-create --protocol icmp / tcp 22 --direction ingress default
    (demo) nova boot ... --nic net-id=<private> cirros-01 / ubuntu-01
    (demo) floatingip-create public; floatingip-associate <fip> <cirros-01 port>

Admin makes what a member may not (the external flat network and its subnet,
and the VM ports, bound to the host as Nova would); demo makes the rest.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab import hosts, keystone, neutron, ovs, procs, rest, vm

log = logging.getLogger(__name__)

NAME = "allinone"
PUBLIC_CIDR = "192.168.1.0/24"
PUBLIC_POOL = ("192.168.1.50", "192.168.1.150")
PUBLIC_GATEWAY = ovs.OUTSIDE_IP
PRIVATE_CIDR = "10.0.0.0/24"
VMS = ("cirros-01", "ubuntu-01")
FIP_VM = "cirros-01"

Json = dict[str, Any]


def _one(client: rest.Client, collection: str, **filters: str) -> Json | None:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    items = client.get(f"/v2.0/{collection}?{query}")[collection.replace("-", "_")]
    return items[0] if items else None


def _ensure(client: rest.Client, collection: str, body: Json, **filters: str) -> Json:
    """Find by `filters` (the resource's name at least) or create: a rerun adds nothing."""
    found = _one(client, collection, **filters)
    if found:
        return found
    singular = collection[:-1]
    return dict(client.post(f"/v2.0/{collection}", {singular: body})[singular])


def public_network(admin: rest.Client) -> tuple[Json, Json]:
    net = _ensure(
        admin,
        "networks",
        {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": ovs.PHYSNET,
        },
        name="public",
    )
    subnet = _ensure(
        admin,
        "subnets",
        {
            "name": "public_subnet",
            "network_id": net["id"],
            "ip_version": 4,
            "cidr": PUBLIC_CIDR,
            "enable_dhcp": False,
            "gateway_ip": PUBLIC_GATEWAY,
            "allocation_pools": [{"start": PUBLIC_POOL[0], "end": PUBLIC_POOL[1]}],
            "dns_nameservers": [PUBLIC_GATEWAY],
        },
        name="public_subnet",
        network_id=net["id"],
    )
    return net, subnet


def demo_network(demo: rest.Client, public_id: str) -> tuple[Json, Json, Json]:
    net = _ensure(demo, "networks", {"name": "private"}, name="private")
    subnet = _ensure(
        demo,
        "subnets",
        {
            "name": "private_subnet",
            "network_id": net["id"],
            "ip_version": 4,
            "cidr": PRIVATE_CIDR,
        },
        name="private_subnet",
        network_id=net["id"],
    )
    router = _ensure(demo, "routers", {"name": "router1"}, name="router1")
    if not router.get("external_gateway_info"):
        # A member may give only network_id (explicit enable_snat is refused by policy).
        router = demo.put(
            f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": {"network_id": public_id}}}
        )["router"]
    if not _one(demo, "ports", device_id=router["id"], network_id=net["id"]):
        demo.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    return net, subnet, router


def open_default_security_group(demo: rest.Client, project_id: str) -> Json:
    """Seed 000: allow ICMP and SSH in to demo's `default` group."""
    sg = _one(demo, "security-groups", name="default", project_id=project_id)
    if sg is None:
        raise RuntimeError("demo has no default security group")
    wanted: list[Json] = [{"protocol": "icmp"}, {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}]
    rules = demo.get(f"/v2.0/security-group-rules?security_group_id={sg['id']}&direction=ingress")
    have = {(r["protocol"], r["port_range_min"]) for r in rules["security_group_rules"]}
    for rule in wanted:
        if (rule["protocol"], rule.get("port_range_min")) not in have:
            demo.post(
                "/v2.0/security-group-rules",
                {
                    "security_group_rule": {
                        "security_group_id": sg["id"],
                        "direction": "ingress",
                        "ethertype": "IPv4",
                        **rule,
                    }
                },
            )
    return sg


def vm_port(
    admin: rest.Client,
    name: str,
    network_id: str,
    project_id: str,
    host: str = neutron.HOST,
    fixed_ips: list[Json] | None = None,
) -> Json:
    """The port Nova would create for server `name`: compute:nova, bound to `host`."""
    existing = _one(admin, "ports", network_id=network_id, device_owner="compute:nova", name=name)
    if existing:
        return existing
    body: Json = {
        "name": name,
        "network_id": network_id,
        "project_id": project_id,
        "device_owner": "compute:nova",
        "device_id": str(uuid.uuid4()),
        "binding:host_id": host,
    }
    if fixed_ips:
        body["fixed_ips"] = fixed_ips
    return dict(admin.post("/v2.0/ports", {"port": body})["port"])


def wait_port_active(admin: rest.Client, port_id: str, timeout: float = 60) -> None:
    def active() -> bool:
        return admin.get(f"/v2.0/ports/{port_id}")["port"]["status"] == "ACTIVE"

    if not procs.wait_for(active, timeout, interval=0.5):
        raise RuntimeError(f"port {port_id} not ACTIVE after {timeout:.0f} s")


def boot_vm(admin: rest.Client, name: str, port: Json, net: Json, host: str = neutron.HOST) -> Json:
    """Plug the VM on its port on `host`, wait for the binding to go ACTIVE, then lease its address."""
    with procs.view(hosts.view(host)):
        vm.plug(name, port["id"], port["mac_address"], port["device_id"], net["mtu"])
        wait_port_active(admin, port["id"], timeout=150)
        ip = vm.dhcp(name, timeout=90)
    if ip is None:
        raise RuntimeError(f"{name} got no DHCP lease")
    ipv4 = [a["ip_address"] for a in port["fixed_ips"] if ":" not in a["ip_address"]]
    if ip not in ipv4:
        raise RuntimeError(f"{name} leased {ip}, Neutron says {ipv4}")
    return {
        "server_id": port["device_id"],
        "port_id": port["id"],
        "mac": port["mac_address"],
        "ip": ip,
        "namespace": vm.namespace(name),
        "host": host,
        "network_id": net["id"],
        "floating_ip": None,
    }


def associate_floating_ip(demo: rest.Client, public_id: str, port_id: str) -> Json:
    fip = _one(demo, "floatingips", port_id=port_id)
    if fip:
        return fip
    fip = demo.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": public_id}})["floatingip"]
    return dict(demo.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": port_id}})["floatingip"])


def build() -> dict[str, Any]:
    admin = neutron.client(keystone.ADMIN)
    demo = neutron.client(keystone.DEMO)
    projects = keystone.project_ids()
    demo_id = projects["demo"]

    ovs.plug_outside()
    public, public_subnet = public_network(admin)
    private, private_subnet, router = demo_network(demo, public["id"])
    sg = open_default_security_group(demo, demo_id)
    log.info("networks, router1 and security group ready")
    ports = {name: vm_port(admin, name, private["id"], demo_id) for name in VMS}
    # Associated before the VMs boot, the L3 agent sets up the floating IP's
    # NAT while the VMs are plugged and leased.
    fip = associate_floating_ip(demo, public["id"], ports[FIP_VM]["id"])
    with ThreadPoolExecutor(max_workers=len(VMS)) as pool:
        # Plugging, binding and DHCP of one VM mostly wait: boot them side by side.
        booted = pool.map(lambda name: boot_vm(admin, name, ports[name], private), VMS)
        vms = dict(zip(VMS, booted, strict=True))
    vms[FIP_VM]["floating_ip"] = fip["floating_ip_address"]
    log.info("VMs plugged and leased: %s", {n: v["ip"] for n, v in vms.items()})

    # Routing is not ready when the ports turn ACTIVE: poll, never a fixed sleep.
    if not vm.ping(vm.namespace(FIP_VM), ovs.OUTSIDE_IP, timeout=120):
        raise RuntimeError(f"{FIP_VM} cannot ping the outside host {ovs.OUTSIDE_IP}")
    if not vm.ping(ovs.OUTSIDE_NS, fip["floating_ip_address"], timeout=120):
        raise RuntimeError(f"the outside host cannot ping the floating IP {fip['floating_ip_address']}")

    log.info("pings through router1 answered")
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    return {
        **one_host_state(projects, router, gateway_ip, sg, vms, fip),
        "networks": {"public": public["id"], "private": private["id"]},
        "subnets": {"public_subnet": public_subnet["id"], "private_subnet": private_subnet["id"]},
    }


def one_host_state(projects: Json, router: Json, gateway_ip: str, sg: Json, vms: Json, fip: Json) -> dict[str, Any]:
    """state.json of a one-host scenario with router1 and FIP_VM's floating IP (allinone, dualstack)."""
    return {
        "projects": projects,
        "hosts": {neutron.HOST: {"tunnel_ip": "127.0.0.1", "l3_agent_mode": "legacy", "netns_dir": "/run/netns"}},
        "routers": {
            "router1": {
                "id": router["id"],
                "gateway_ip": gateway_ip,
                "distributed": False,
                "namespace": f"qrouter-{router['id']}",
                "hosts": [neutron.HOST],
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
        },
    }
