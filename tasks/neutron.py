"""Reading Neutron as the caller (for lists and pre-checks) and as the service (for what a member cannot see).

Lists for a member use the member's own token, so Neutron decides what they
see; an admin's lists use the dashboard's service connection (the whole
cloud). Pre-checks read the object as the caller: Neutron's 404 for another
project's object becomes ours, so existence is not revealed.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from keystoneauth1 import exceptions as ksa_exceptions
from rest_framework.request import Request

from dashboard import sessiontokens
from dashboard.auth import Caller, KeystoneUnavailable, keystone_unreachable
from dashboard.keystone import user_connection
from tasks.actions import Connection, neutron_call, orphan_gateway_ports, port_ips
from tasks.targets import Target, fip_targets
from topology.cloud import service_connection
from topology.kinds import DeviceOwner

JsonDict = dict[str, Any]


def token_body(token: str) -> dict[str, Any]:
    """The token body (with its catalog) of an API client's X-Auth-Token, asked of Keystone."""
    from dashboard.keystone import keystone_url

    try:
        response = service_connection().session.get(
            keystone_url().rstrip("/") + "/auth/tokens", headers={"X-Subject-Token": token}
        )
    except ksa_exceptions.ClientException as exc:
        # The token's validation may come from the cache while Keystone is down: 503, not 500.
        if keystone_unreachable(exc):
            raise KeystoneUnavailable(f"Keystone cannot be reached ({type(exc).__name__}); retry later.") from exc
        raise
    return dict(response.json())


def caller_body(request: HttpRequest | Request, caller: Caller) -> dict[str, Any]:
    """What acting as the caller needs besides the token: the token body kept at login, else Keystone's."""
    session = getattr(request, "session", None)
    from_session = session is not None and request.META.get("HTTP_X_AUTH_TOKEN") is None
    body = sessiontokens.token_body(session) if from_session and session is not None else None
    return body if body else token_body(caller.token)


def caller_connection(request: HttpRequest | Request, caller: Caller) -> Connection:
    return user_connection(caller, caller_body(request, caller))


def reader(request: HttpRequest | Request, caller: Caller) -> Connection:
    """Who lists: the admin sees the whole cloud through the service account, a member as themselves."""
    return service_connection() if caller.is_admin else caller_connection(request, caller)


def fip_dict(fip: Any) -> JsonDict:
    return {
        "id": fip.id,
        "floating_ip_address": fip.floating_ip_address,
        "floating_network_id": fip.floating_network_id,
        "port_id": fip.port_id,
        "fixed_ip_address": fip.fixed_ip_address,
        "router_id": fip.router_id,
        "status": fip.status,
        "description": fip.description or "",
        "project_id": fip.project_id,
    }


def router_dict(router: Any, interfaces: list[JsonDict]) -> JsonDict:
    info = router.external_gateway_info or {}
    return {
        "id": router.id,
        "name": router.name or "",
        "status": router.status,
        "project_id": router.project_id,
        "distributed": bool(router.is_distributed),
        "ha": bool(router.is_ha),
        "gateway": {
            "network_id": info.get("network_id"),
            "enable_snat": info.get("enable_snat"),
            "external_fixed_ips": info.get("external_fixed_ips", []),
        }
        if info
        else None,
        "interfaces": interfaces,
    }


def list_floating_ips(conn: Connection, caller: Caller) -> list[JsonDict]:
    with neutron_call():
        fips = [fip_dict(f) for f in conn.network.ips(**({} if caller.is_admin else {"project_id": caller.project_id}))]
    return sorted(fips, key=lambda f: (str(f["project_id"]), f["floating_ip_address"] or ""))


def list_routers(conn: Connection, caller: Caller) -> list[JsonDict]:
    """Routers with their gateway and interfaces: two list calls, never one per router."""
    scope = {} if caller.is_admin else {"project_id": caller.project_id}
    with neutron_call():
        routers = list(conn.network.routers(**scope))
        ports = list(conn.network.ports(device_owner=sorted(DeviceOwner.ROUTER_INTERFACES), **scope))
    interfaces: dict[str, list[JsonDict]] = {}
    for port in ports:
        for ip in port.fixed_ips or []:
            interfaces.setdefault(port.device_id, []).append(
                {
                    "port_id": port.id,
                    "subnet_id": ip["subnet_id"],
                    "ip_address": ip["ip_address"],
                    "device_owner": port.device_owner,
                }
            )
    listed = sorted((router_dict(r, interfaces.get(r.id, [])) for r in routers), key=lambda r: (r["name"], r["id"]))
    if caller.is_admin:  # gateway ports have no project: only the whole-cloud view can list them
        add_orphan_gateway_ports(conn, routers, listed)
    return listed


def add_orphan_gateway_ports(conn: Connection, routers: list[Any], listed: list[JsonDict]) -> None:
    """Each router's ``orphan_gateway_ports``: gateway ports its gateway does not account for (issue 23)."""
    with neutron_call():
        ports = list(conn.network.ports(device_owner=DeviceOwner.ROUTER_GATEWAY))
    by_router: dict[str, list[Any]] = {}
    for port in ports:
        by_router.setdefault(port.device_id, []).append(port)
    found = {r.id: orphan_gateway_ports(r, by_router.get(r.id, [])) for r in routers}
    for router in listed:
        router["orphan_gateway_ports"] = [
            {"port_id": p.id, "ips": port_ips(p), "status": p.status} for p in found.get(router["id"], [])
        ]


def external_networks(conn: Connection) -> list[JsonDict]:
    with neutron_call():
        nets = conn.network.networks(is_router_external=True)
        return sorted(({"id": n.id, "name": n.name or ""} for n in nets), key=lambda n: n["name"])


def project_subnets(conn: Connection, caller: Caller) -> list[JsonDict]:
    """Subnets a router interface can go on: the caller's project's (admin: all but external networks')."""
    with neutron_call():
        external = {n["id"] for n in external_networks(conn)}
        subnets = conn.network.subnets(**({} if caller.is_admin else {"project_id": caller.project_id}))
        return sorted(
            (
                {
                    "id": s.id,
                    "name": s.name or "",
                    "cidr": s.cidr,
                    "network_id": s.network_id,
                    "project_id": s.project_id,
                }
                for s in subnets
                if s.network_id not in external
            ),
            key=lambda s: (s["name"], s["cidr"]),
        )


def targets_for(conn: Connection, fip: Any) -> list[Target]:
    """The targets of ``fip``: the caller's view of ports and subnets, the service's of routers.

    Routers and their interface ports are read with the service account because the
    router serving a member's subnet may belong to another project (an admin's shared
    router); only whether a subnet is attached is used, never the other router's details.
    """
    service = service_connection()
    with neutron_call():
        ports = [p.to_dict() for p in conn.network.ports(project_id=fip.project_id)]
        subnets = {s.id: s.to_dict() for s in conn.network.subnets()}
        fips = [f.to_dict() for f in conn.network.ips(project_id=fip.project_id)]
        routers = [r.to_dict() for r in service.network.routers()]
        wanted = {
            r["id"]
            for r in routers
            if (r.get("external_gateway_info") or {}).get("network_id") == fip.floating_network_id
        }
        router_ports = [
            p.to_dict()
            for p in service.network.ports(device_owner=sorted(DeviceOwner.ROUTER_INTERFACES))
            if p.device_id in wanted
        ]
    return fip_targets(fip_dict(fip), ports, subnets, routers, router_ports, fips)


def external_gateway_ip(conn: Connection, network_id: str) -> str | None:
    """An address on the external network's side (its subnet's gateway): the outside end of a path preview."""
    with neutron_call():
        for subnet in conn.network.subnets(network_id=network_id, ip_version=4):
            if subnet.gateway_ip:
                return str(subnet.gateway_ip)
    return None
