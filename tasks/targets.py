"""Which fixed IPs a floating IP can point at, and why the others cannot (a pure function).

Neutron associates a floating IP with a fixed IP only if the fixed IP's
subnet is attached to a router whose gateway is on the floating IP's network
("External network ... is not reachable from subnet ..."). Horizon got this
wrong twice: it counted only ``network:router_interface`` (bug 1388305: no
ports behind DVR or HA routers) and it listed ports of other projects on the
user's networks (bug 1494358). Here every router interface owner counts, only
the floating IP's project's ports are candidates, every fixed IP is its own
target, and a fixed IP that cannot be used is listed with the reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from topology.kinds import DeviceOwner

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Target:
    port_id: str
    port_name: str
    device_id: str
    device_owner: str
    network_id: str
    subnet_id: str
    subnet_name: str
    fixed_ip: str
    reachable: bool
    reason: str = ""
    router_id: str | None = None
    floating_ip: str | None = None  # the floating IP this fixed IP already has, if any

    def to_dict(self) -> JsonDict:
        return asdict(self)


def gateway_routers(routers: Iterable[JsonDict], network_id: str) -> set[str]:
    return {r["id"] for r in routers if (r.get("external_gateway_info") or {}).get("network_id") == network_id}


def attached_subnets(router_ports: Iterable[JsonDict], routers: set[str]) -> dict[str, str]:
    """subnet id -> router id, for every interface (legacy, DVR, HA) of the given routers."""
    found: dict[str, str] = {}
    for port in router_ports:
        if port.get("device_owner") in DeviceOwner.ROUTER_INTERFACES and port.get("device_id") in routers:
            for ip in port.get("fixed_ips") or []:
                found.setdefault(ip["subnet_id"], port["device_id"])
    return found


def candidate(port: JsonDict, project_id: str) -> bool:
    """A port a floating IP may point at: the floating IP's project's, not one of Neutron's own."""
    owner = port.get("device_owner") or ""
    return port.get("project_id") == project_id and not owner.startswith("network:")


def fip_targets(
    fip: JsonDict,
    ports: Iterable[JsonDict],
    subnets: Mapping[str, JsonDict],
    routers: Iterable[JsonDict],
    router_ports: Iterable[JsonDict],
    fips: Iterable[JsonDict] = (),
) -> list[Target]:
    network_id = fip["floating_network_id"]
    reachable = attached_subnets(router_ports, gateway_routers(routers, network_id))
    taken = {
        (f.get("port_id"), f.get("fixed_ip_address")): f.get("floating_ip_address")
        for f in fips
        if f.get("port_id") and f.get("id") != fip.get("id")
    }
    targets = []
    for port in ports:
        if not candidate(port, fip.get("project_id") or ""):
            continue
        for ip in port.get("fixed_ips") or []:
            subnet = subnets.get(ip["subnet_id"], {})
            reason = why_not(port, ip, subnet, network_id, reachable)
            targets.append(
                Target(
                    port_id=port["id"],
                    port_name=port.get("name") or "",
                    device_id=port.get("device_id") or "",
                    device_owner=port.get("device_owner") or "",
                    network_id=port["network_id"],
                    subnet_id=ip["subnet_id"],
                    subnet_name=subnet.get("name") or "",
                    fixed_ip=ip["ip_address"],
                    reachable=not reason,
                    reason=reason,
                    router_id=reachable.get(ip["subnet_id"]) if not reason else None,
                    floating_ip=taken.get((port["id"], ip["ip_address"])),
                )
            )
    return sorted(targets, key=lambda t: (not t.reachable, t.port_name, t.fixed_ip))


def why_not(port: JsonDict, ip: JsonDict, subnet: JsonDict, network_id: str, reachable: Mapping[str, str]) -> str:
    """Empty if the fixed IP can take the floating IP, else the reason in one sentence."""
    if ipaddress.ip_address(ip["ip_address"]).version != 4:
        return "an IPv6 address: floating IPs are IPv4"
    if port["network_id"] == network_id:
        return "the port is on the floating IP's external network itself"
    if ip["subnet_id"] not in reachable:
        label = subnet.get("name") or ip["subnet_id"]
        cidr = f" ({subnet['cidr']})" if subnet.get("cidr") else ""
        return (
            f"subnet {label}{cidr} is not attached to a router whose gateway is on the floating IP's "
            "network: the external network is not reachable from it"
        )
    return ""


def find_target(targets: Iterable[Target], port_id: str, fixed_ip: str | None) -> Target | None:
    """The target a request names: the port's only (or first reachable) IPv4 if no fixed IP is given."""
    mine = [t for t in targets if t.port_id == port_id and fixed_ip in (None, t.fixed_ip)]
    if not mine:
        return None
    return next((t for t in mine if t.reachable), mine[0])
