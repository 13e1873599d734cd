"""The actions themselves: plain functions over an openstacksdk connection, called by the job runner.

Each one is idempotent: it reads the current state first, does nothing if the
state already is what was asked (a job re-run after a worker crash finds its
own earlier write), and writes with ``if_revision`` where Neutron supports it
(a concurrent change answers 412 and the job re-reads and tries again).
Neutron errors are sorted once, in :func:`neutron_call`: 4xx is a refusal
with Neutron's own message (fail at once), 5xx, 412 and connection errors
are transient (retry with backoff).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openstack.connection
from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from tasks.models import Job, JobKind
from topology.kinds import DeviceOwner

Progress = Callable[[int, str], None]
Result = dict[str, Any]
Connection = openstack.connection.Connection
Action = Callable[[Connection, Job, Progress], Result]

# The description a floating IP is allocated with, so a re-run finds the one its first run made.
ALLOCATED_BY = "dashboard job {job}"


class ActionRefused(Exception):
    """Neutron (or a pre-check) said no: a 4xx. The job fails at once with this message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TransientCloudError(Exception):
    """Worth retrying: Neutron 5xx, 412 (changed under us: re-read), connection trouble."""


def neutron_message(exc: sdk_exceptions.HttpException) -> str:
    """Neutron's own sentence (its NeutronError message), not openstacksdk's wrapping of it."""
    details = getattr(exc, "details", None)
    return str(details or exc.message or exc)


@contextmanager
def neutron_call() -> Iterator[None]:
    try:
        yield
    except sdk_exceptions.HttpException as exc:
        status = exc.status_code
        if status is None or status >= 500 or status == 412:
            raise TransientCloudError(f"Neutron answered {status}: {neutron_message(exc)}") from exc
        raise ActionRefused(neutron_message(exc), status) from exc
    except (ksa_exceptions.ConnectionError, ksa_exceptions.RetriableConnectionFailure) as exc:
        raise TransientCloudError(f"cannot reach the cloud: {exc}") from exc


def pause() -> None:
    """Between a job's steps: ``DASHBOARD_JOB_STEP_DELAY`` seconds (0 unless a test or demo widens the window)."""
    delay = float(os.environ.get("DASHBOARD_JOB_STEP_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)


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
    return {"message": f"{done} {fip.floating_ip_address}", "floating_ip_id": fip.id,
            "floating_ip_address": fip.floating_ip_address}


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
    return {"message": f"released {fip.floating_ip_address}", "floating_ip_id": fip.id}


def fip_result(fip: Any, message: str) -> Result:
    return {"message": message, "floating_ip_id": fip.id, "floating_ip_address": fip.floating_ip_address,
            "port_id": fip.port_id, "fixed_ip_address": fip.fixed_ip_address}


# --------------------------------------------------------------------------- routers


def set_router_gateway(conn: Connection, job: Job, progress: Progress) -> Result:
    network_id, enable_snat = job.params["network_id"], job.params.get("enable_snat")
    progress(20, "reading the router")
    with neutron_call():
        router = conn.network.get_router(job.target)
    info = router.external_gateway_info or {}
    if info.get("network_id") == network_id and enable_snat in (None, info.get("enable_snat")):
        return gateway_result(router, "the gateway already is on that network")
    pause()
    progress(50, "setting the external gateway")
    # A member's request carries network_id only: Neutron refuses any explicit enable_snat from members.
    gateway: dict[str, Any] = {"network_id": network_id}
    if enable_snat is not None:
        gateway["enable_snat"] = enable_snat
    with neutron_call():
        router = conn.network.update_router(router, if_revision=router.revision_number,
                                            external_gateway_info=gateway)
    return gateway_result(router, "gateway set")


def clear_router_gateway(conn: Connection, job: Job, progress: Progress) -> Result:
    progress(20, "reading the router")
    with neutron_call():
        router = conn.network.get_router(job.target)
    if not router.external_gateway_info:
        return gateway_result(router, "the router had no gateway")
    pause()
    progress(50, "clearing the external gateway")
    with neutron_call():
        router = conn.network.update_router(router, if_revision=router.revision_number, external_gateway_info={})
    return gateway_result(router, "gateway cleared")


def gateway_result(router: Any, message: str) -> Result:
    info = router.external_gateway_info or {}
    return {"message": message, "router_id": router.id, "network_id": info.get("network_id"),
            "external_fixed_ips": info.get("external_fixed_ips", [])}


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
        return {"message": "the router already has an interface on that subnet", "router_id": job.target,
                "subnet_id": subnet_id, "port_id": port.id}
    pause()
    progress(50, "adding the interface")
    with neutron_call():
        answer = conn.network.add_interface_to_router(job.target, subnet=subnet_id)
    return {"message": "interface added", "router_id": job.target, "subnet_id": subnet_id,
            "port_id": answer.get("port_id")}


def remove_router_interface(conn: Connection, job: Job, progress: Progress) -> Result:
    subnet_id = job.params["subnet_id"]
    progress(20, "reading the router's interfaces")
    if router_interface_port(conn, job.target, subnet_id) is None:
        return {"message": "the router has no interface on that subnet", "router_id": job.target,
                "subnet_id": subnet_id}
    pause()
    progress(50, "removing the interface")
    with neutron_call():
        conn.network.remove_interface_from_router(job.target, subnet=subnet_id)
    return {"message": "interface removed", "router_id": job.target, "subnet_id": subnet_id}


# --------------------------------------------------------------------------- security groups

# Seed 000's first troubleshooting step: let ping and ssh in.
ICMP_SSH_RULES: tuple[dict[str, Any], ...] = (
    {"protocol": "icmp", "port_range_min": None, "port_range_max": None},
    {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
)


def open_icmp_ssh(conn: Connection, job: Job, progress: Progress) -> Result:
    progress(20, "reading the security group's rules")
    with neutron_call():
        rules = list(conn.network.security_group_rules(security_group_id=job.target, direction="ingress"))
    have = {(r.protocol, r.port_range_min, r.port_range_max) for r in rules
            if r.ether_type == "IPv4" and r.remote_group_id is None and r.remote_ip_prefix in (None, "0.0.0.0/0")}
    added = []
    for rule in ICMP_SSH_RULES:
        key = (rule["protocol"], rule["port_range_min"], rule["port_range_max"])
        if key in have:
            continue
        progress(50, f"adding the {rule['protocol']} rule")
        try:
            with neutron_call():
                conn.network.create_security_group_rule(
                    security_group_id=job.target, direction="ingress", ether_type="IPv4", **rule)
        except ActionRefused as exc:
            if exc.status != 409:  # 409: the rule exists (a concurrent run made it)
                raise
        added.append(rule["protocol"])
    message = f"added {', '.join(added)} ingress" if added else "ICMP and SSH were already open"
    return {"message": message, "security_group_id": job.target, "added": added}


ACTIONS: dict[str, Action] = {
    JobKind.FIP_ALLOCATE: allocate_floating_ip,
    JobKind.FIP_ASSOCIATE: associate_floating_ip,
    JobKind.FIP_DISASSOCIATE: disassociate_floating_ip,
    JobKind.FIP_RELEASE: release_floating_ip,
    JobKind.GATEWAY_SET: set_router_gateway,
    JobKind.GATEWAY_CLEAR: clear_router_gateway,
    JobKind.INTERFACE_ADD: add_router_interface,
    JobKind.INTERFACE_REMOVE: remove_router_interface,
    JobKind.SECGROUP_OPEN: open_icmp_ssh,
}
