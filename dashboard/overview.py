"""What the home page lists besides networks and routers: the project's VMs, ports and floating IPs.

Read with the caller's own token, so Neutron (and Nova, when the cloud has it) scope the lists: a
member sees its project, the admin role the whole cloud. One list call per resource type.
"""

from __future__ import annotations

from typing import Any

import openstack.connection

from tasks.neutron import fip_dict
from topology.kinds import DeviceOwner

JsonDict = dict[str, Any]


def fixed_ips(port: Any) -> list[str]:
    return [str(ip.get("ip_address")) for ip in port.fixed_ips or [] if ip.get("ip_address")]


def port_row(port: Any) -> JsonDict:
    return {
        "id": port.id,
        "name": port.name,
        "device_owner": port.device_owner or "",
        "device_id": port.device_id or "",
        "status": port.status,
        "fixed_ips": fixed_ips(port),
        "network_id": port.network_id,
    }


def server_names(conn: openstack.connection.Connection) -> dict[str, str]:
    """Nova's server names by id, or nothing on a cloud without a compute API (the lab's VMs are ports)."""
    if not conn.has_service("compute"):
        return {}
    return {server.id: server.name for server in conn.compute.servers()}


def vm_rows(ports: list[JsonDict], fips: list[JsonDict], names: dict[str, str]) -> list[JsonDict]:
    """One row per VM (a device owned by Nova), with its ports' addresses and floating IPs."""
    fip_of_port = {f["port_id"]: f["floating_ip_address"] for f in fips if f["port_id"]}
    vms: dict[str, JsonDict] = {}
    for port in ports:
        if not port["device_owner"].startswith(DeviceOwner.COMPUTE_PREFIX) or not port["device_id"]:
            continue
        vm = vms.setdefault(
            port["device_id"],
            {
                "id": port["device_id"],
                "name": names.get(port["device_id"]) or port["name"],
                "fixed_ips": [],
                "floating_ips": [],
                "ports": [],
            },
        )
        vm["fixed_ips"] += port["fixed_ips"]
        vm["ports"].append(port["id"])
        if port["id"] in fip_of_port:
            vm["floating_ips"].append(fip_of_port[port["id"]])
    return sorted(vms.values(), key=lambda vm: str(vm["name"]))


def project_resources(conn: openstack.connection.Connection) -> JsonDict:
    """The caller's VMs, ports and floating IPs, as Neutron (and Nova) show them to that token.

    A floating IP is tasks.neutron.fip_dict, the Floating IPs page's and the API's row: the home
    page's table shows its address, fixed IP, port, status and id, and vm_rows its port."""
    ports = sorted((port_row(p) for p in conn.network.ports()), key=lambda p: (str(p["name"]), p["id"]))
    fips = sorted((fip_dict(f) for f in conn.network.ips()), key=lambda f: str(f["floating_ip_address"]))
    return {"vms": vm_rows(ports, fips, server_names(conn)), "ports": ports, "floating_ips": fips}
