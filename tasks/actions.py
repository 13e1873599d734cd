"""The actions themselves: plain functions over an openstacksdk connection, called by the job runner.

Each one is idempotent: it reads the current state first, does nothing if the
state already is what was asked (a job re-run after a worker crash finds its
own earlier write), and writes with ``if_revision`` where Neutron supports it
(a concurrent change answers 412 and the job re-reads and tries again) and
where it works (not when clearing a gateway: see clear_router_gateway).
What an action returns is Neutron's answer only: tasks/confirm.py then
checks the effect, on every path, "already done" ones included.
Neutron errors are sorted once, in :func:`neutron_call`: 4xx is a refusal
with Neutron's own message (fail at once), 5xx, 412 and connection errors
are transient (retry with backoff).
"""

from __future__ import annotations

from typing import Any

from tasks.models import Job, JobKind
from tasks.neutron_calls import (
    Action,
    ActionRefused,
    Connection,
    Progress,
    Result,
    TransientCloudError,
    neutron_call,
    neutron_message,
    pause,
)
from tasks.resync import resync_router
from tasks.secgroup_actions import close_icmp_ssh, delete_rule, icmp_ssh_rules, open_icmp_ssh
from topology.cloud import service_connection
from topology.kinds import DeviceOwner

# The description a floating IP is allocated with, so a re-run finds the one its first run made.
ALLOCATED_BY = "dashboard job {job}"


# --------------------------------------------------------------------------- floating IPs


def allocate_floating_ip(conn: Connection, job: Job, progress: Progress) -> Result:
    marker = ALLOCATED_BY.format(job=job.uuid)
    progress(20, "looking for a floating IP this job already allocated")
    with neutron_call():
        mine = [ip for ip in conn.network.ips(description=marker) if ip.description == marker]
    if mine:
        fip = mine[0]
        done = "already allocated"
    else:
        pause()
        progress(50, "allocating from the external network")
        with neutron_call():
            fip = conn.network.create_ip(floating_network_id=job.target, description=marker)
        done = "allocated"
    return {
        "message": f"{done} {fip.floating_ip_address}",
        "floating_ip_id": fip.id,
        "floating_ip_address": fip.floating_ip_address,
    }


def associate_floating_ip(conn: Connection, job: Job, progress: Progress) -> Result:
    port_id, fixed_ip = job.params["port_id"], job.params.get("fixed_ip")
    progress(20, "reading the floating IP")
    with neutron_call():
        fip = conn.network.get_ip(job.target)
    if fip.port_id == port_id and fixed_ip in (None, fip.fixed_ip_address):
        return fip_result(fip, f"{fip.floating_ip_address} already points at {fip.fixed_ip_address}")
    pause()
    progress(50, "associating")
    attrs: dict[str, Any] = {"port_id": port_id}
    if fixed_ip:
        attrs["fixed_ip_address"] = fixed_ip
    with neutron_call():
        fip = conn.network.update_ip(fip, if_revision=fip.revision_number, **attrs)
    progress(80, "associated")
    pause()
    return fip_result(fip, f"{fip.floating_ip_address} now points at {fip.fixed_ip_address}")


def disassociate_floating_ip(conn: Connection, job: Job, progress: Progress) -> Result:
    progress(20, "reading the floating IP")
    with neutron_call():
        fip = conn.network.get_ip(job.target)
    if not fip.port_id:
        return fip_result(fip, f"{fip.floating_ip_address} was not associated")
    pause()
    progress(50, "disassociating")
    with neutron_call():
        fip = conn.network.update_ip(fip, if_revision=fip.revision_number, port_id=None)
    return fip_result(fip, f"{fip.floating_ip_address} disassociated")


def release_floating_ip(conn: Connection, job: Job, progress: Progress) -> Result:
    progress(20, "reading the floating IP")
    with neutron_call():
        fip = conn.network.find_ip(job.target, ignore_missing=True)
    if fip is None:  # a re-run after the first run deleted it
        return {"message": "already released", "floating_ip_id": job.target}
    pause()
    progress(50, "releasing")
    with neutron_call():
        conn.network.delete_ip(fip, ignore_missing=True, if_revision=fip.revision_number)
    return {
        "message": f"released {fip.floating_ip_address}",
        "floating_ip_id": fip.id,
        "floating_ip_address": fip.floating_ip_address,
    }


def fip_result(fip: Any, message: str) -> Result:
    return {
        "message": message,
        "floating_ip_id": fip.id,
        "floating_ip_address": fip.floating_ip_address,
        "port_id": fip.port_id,
        "fixed_ip_address": fip.fixed_ip_address,
        "router_id": fip.router_id,
    }


# --------------------------------------------------------------------------- routers


def set_router_gateway(conn: Connection, job: Job, progress: Progress) -> Result:
    network_id, enable_snat = job.params["network_id"], job.params.get("enable_snat")
    progress(20, "reading the router")
    with neutron_call():
        router = conn.network.get_router(job.target)
    info = router.external_gateway_info or {}
    if info.get("network_id") == network_id and enable_snat in (None, info.get("enable_snat")):
        return gateway_result(router, "the gateway already is on that network")
    orphans = orphan_gateway_ports(router, gateway_ports(router.id))
    if orphans:  # Neutron would answer "Router already has a port on subnet ...": say why, and the fix
        raise ActionRefused(
            f"the router still has the gateway port {describe_ports(orphans)} that an earlier "
            f"clear left behind: {orphan_fix(router.id)}",
            409,
        )
    pause()
    progress(50, "setting the external gateway")
    # A member's request carries network_id only: Neutron refuses any explicit enable_snat from members.
    gateway: dict[str, Any] = {"network_id": network_id}
    if enable_snat is not None:
        gateway["enable_snat"] = enable_snat
    with neutron_call():
        router = conn.network.update_router(router, if_revision=router.revision_number, external_gateway_info=gateway)
    return gateway_result(router, "gateway set")


def gateway_ports(router_id: str) -> list[Any]:
    """The router's network:router_gateway ports, read with the service account: Neutron creates them
    without a project, so the router's owner cannot list them."""
    with neutron_call():
        return list(service_connection().network.ports(device_id=router_id, device_owner=DeviceOwner.ROUTER_GATEWAY))


def port_ips(port: Any) -> list[str]:
    return [str(ip["ip_address"]) for ip in port.fixed_ips or []]


def orphan_gateway_ports(router: Any, ports: list[Any]) -> list[Any]:
    """Gateway ports the router's external_gateway_info does not account for (issue 23's leftover)."""
    info = router.external_gateway_info or {}
    current = {str(ip.get("ip_address")) for ip in info.get("external_fixed_ips") or []}
    return [p for p in ports if not info or not set(port_ips(p)) <= current]


def describe_ports(ports: list[Any]) -> str:
    return ", ".join(f"{p.id} ({', '.join(port_ips(p)) or 'no address'}, {p.status})" for p in ports)


def orphan_fix(router_id: str) -> str:
    return (
        f"an admin removes it with POST /api/v1/routers/{router_id}/repair/ (Routers page: Remove orphan gateway port)"
    )


def clear_router_gateway(conn: Connection, job: Job, progress: Progress) -> Result:
    """Clear without If-Match: Neutron 29 answers 412 to every If-Match clear, after committing half of it
    (l3_db._delete_current_gw_port bumps the revision in a transaction of its own, then the port's delete
    meets the If-Match). Concurrency is kept by re-reading the gateway right before the call instead."""
    progress(20, "reading the router and its gateway ports")
    with neutron_call():
        router = conn.network.get_router(job.target)
    orphans = orphan_gateway_ports(router, gateway_ports(router.id))
    if not router.external_gateway_info:
        if orphans:  # a half-done clear (ours or anyone's): never "nothing to do"
            raise ActionRefused(
                f"the router has no gateway in Neutron, but its gateway port "
                f"{describe_ports(orphans)} is still there and routes: {orphan_fix(router.id)}",
                409,
            )
        return gateway_result(router, "the router had no gateway")
    pause()
    with neutron_call():
        again = conn.network.get_router(job.target)
    if again.external_gateway_info != router.external_gateway_info:
        raise TransientCloudError("the router's gateway changed while the job read it: reading it again")
    progress(50, "clearing the external gateway")
    with neutron_call():
        router = conn.network.update_router(again, external_gateway_info={})
    return gateway_result(router, "gateway cleared")


def repair_router_gateway(conn: Connection, job: Job, progress: Progress) -> Result:
    """Admin only: remove the gateway ports the router's gateway does not account for, then make the
    L3 agent process the router again (tasks/resync.py) so the orphan's qg- goes from its namespace;
    tasks/confirm.py then waits for a node report without it.

    Neutron refuses to delete a port owned by a router (ServicePortInUse): the port is released from
    the router first (device_owner and device_id emptied), which only an admin may do.
    """
    progress(20, "reading the router and its gateway ports")
    with neutron_call():
        router = conn.network.get_router(job.target)
        orphans = orphan_gateway_ports(
            router, list(conn.network.ports(device_id=router.id, device_owner=DeviceOwner.ROUTER_GATEWAY))
        )
    removed = []
    for port in orphans:
        pause()
        progress(50, f"removing the orphan gateway port {port.id}")
        with neutron_call():
            conn.network.update_port(port, device_owner="", device_id="")
            conn.network.delete_port(port, ignore_missing=True)
        removed.append({"port_id": port.id, "ips": port_ips(port)})
    progress(80, "making the L3 agent process the router again")
    with neutron_call():  # a real change, on every path (a retry too): see tasks/resync.py for why
        resynced = resync_router(conn, router.id)
    message = (
        f"removed the orphan gateway port {', '.join(r['port_id'] for r in removed)}"
        if removed
        else "the router had no orphan gateway port"
    )
    return {"message": message, "router_id": router.id, "removed": removed, "resync": resynced}


def gateway_result(router: Any, message: str) -> Result:
    info = router.external_gateway_info or {}
    return {
        "message": message,
        "router_id": router.id,
        "network_id": info.get("network_id"),
        "external_fixed_ips": info.get("external_fixed_ips", []),
    }


def router_interface_port(conn: Connection, router_id: str, subnet_id: str) -> Any | None:
    with neutron_call():
        ports = list(conn.network.ports(device_id=router_id))
    for port in ports:
        if port.device_owner in DeviceOwner.ROUTER_INTERFACES and any(
            ip.get("subnet_id") == subnet_id for ip in port.fixed_ips or []
        ):
            return port
    return None


def add_router_interface(conn: Connection, job: Job, progress: Progress) -> Result:
    subnet_id = job.params["subnet_id"]
    progress(20, "reading the router's interfaces")
    port = router_interface_port(conn, job.target, subnet_id)
    if port is not None:
        return {
            "message": "the router already has an interface on that subnet",
            "router_id": job.target,
            "subnet_id": subnet_id,
            "port_id": port.id,
        }
    pause()
    progress(50, "adding the interface")
    with neutron_call():
        answer = conn.network.add_interface_to_router(job.target, subnet=subnet_id)
    return {
        "message": "interface added",
        "router_id": job.target,
        "subnet_id": subnet_id,
        "port_id": answer.get("port_id"),
    }


def remove_router_interface(conn: Connection, job: Job, progress: Progress) -> Result:
    subnet_id = job.params["subnet_id"]
    progress(20, "reading the router's interfaces")
    port = router_interface_port(conn, job.target, subnet_id)
    if port is None:
        return {
            "message": "the router has no interface on that subnet",
            "router_id": job.target,
            "subnet_id": subnet_id,
        }
    pause()
    progress(50, "removing the interface")
    with neutron_call():
        conn.network.remove_interface_from_router(job.target, subnet=subnet_id)
    return {"message": "interface removed", "router_id": job.target, "subnet_id": subnet_id, "port_id": port.id}


ACTIONS: dict[str, Action] = {
    JobKind.FIP_ALLOCATE: allocate_floating_ip,
    JobKind.FIP_ASSOCIATE: associate_floating_ip,
    JobKind.FIP_DISASSOCIATE: disassociate_floating_ip,
    JobKind.FIP_RELEASE: release_floating_ip,
    JobKind.GATEWAY_SET: set_router_gateway,
    JobKind.GATEWAY_CLEAR: clear_router_gateway,
    JobKind.GATEWAY_REPAIR: repair_router_gateway,
    JobKind.INTERFACE_ADD: add_router_interface,
    JobKind.INTERFACE_REMOVE: remove_router_interface,
    JobKind.SECGROUP_OPEN: open_icmp_ssh,
    JobKind.SECGROUP_CLOSE: close_icmp_ssh,
    JobKind.SECGROUP_RULE_DELETE: delete_rule,
}


__all__ = [
    "ACTIONS",
    "ALLOCATED_BY",
    "Action",
    "ActionRefused",
    "Connection",
    "Progress",
    "Result",
    "TransientCloudError",
    "close_icmp_ssh",
    "icmp_ssh_rules",
    "neutron_call",
    "neutron_message",
    "open_icmp_ssh",
    "pause",
]
