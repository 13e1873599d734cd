"""REST API v1 of actions and jobs (docs/design.md "REST API v1").

Every action reads its object as the caller first (Neutron's 404 for another
project's object is ours too), is pre-checked where Neutron's answer can be
known in advance, and answers ``202 {"job": id}``; the job then acts with the
caller's own token. Every request to act, accepted or refused, is audited.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import Caller
from tasks import neutron
from tasks.actions import (
    ActionRefused,
    Connection,
    TransientCloudError,
    gateway_ports,
    neutron_call,
    orphan_gateway_ports,
)
from tasks.jobs import JobBusy, QueueUnavailable, audit, job_dict, submit
from tasks.models import AuditEntry, AuditResult, Job, JobKind, JobState
from tasks.targets import find_target
from tasks.views import can_act
from topology.api import ErrorSerializer, caller_of

JobAccepted = inline_serializer("JobAccepted", {"job": serializers.IntegerField()})
JobSerializer = inline_serializer(
    "Job",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.ChoiceField(choices=JobKind.ALL),
        "target": serializers.CharField(),
        # unconfirmed: Neutron took the change but the data plane did not show it in time (tasks/confirm.py)
        "state": serializers.ChoiceField(choices=JobState.ALL),
        "progress": serializers.IntegerField(min_value=0, max_value=100),
        "message": serializers.CharField(),
        "result": serializers.DictField(allow_null=True),
        "created_at": serializers.DateTimeField(),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)
ACTION_RESPONSES = {
    202: JobAccepted,
    400: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
    503: ErrorSerializer,
}


class Refused(Exception):
    """A request refused before any job is queued (status, Neutron-like sentence)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class ActionView(APIView):
    """Base of the action endpoints: sorts errors into statuses and audits refusals."""

    action = ""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ActionRefused):
            exc = Refused(exc.status, str(exc))
        if isinstance(exc, JobBusy):
            exc = Refused(409, str(exc))
        if isinstance(exc, Refused):
            if self.request.method != "GET" and isinstance(getattr(self.request, "auth", None), Caller):
                target = str(self.kwargs.get("rule_id") or self.kwargs.get("pk") or self.kwargs.get("router_id") or "")
                audit(caller_of(self.request), self.action, target, AuditResult.REFUSED, exc.detail)
            return Response({"detail": exc.detail}, status=exc.status)
        if isinstance(exc, TransientCloudError):
            return Response({"detail": str(exc)}, status=503)
        if isinstance(exc, QueueUnavailable):  # the job is failed (and audited) already, its object free
            return Response({"detail": str(exc), "job": exc.job_id}, status=503)
        return super().handle_exception(exc)

    def conn(self) -> Connection:
        return neutron.caller_connection(self.request, caller_of(self.request))

    def body_of(self, caller: Caller) -> dict[str, Any]:
        return neutron.caller_body(self.request, caller)

    def queue(self, kind: str, target: str, params: dict[str, Any], exclusive: bool = True) -> Response:
        caller = caller_of(self.request)
        if not can_act(caller):
            raise Refused(403, f"{kind} is disallowed by policy for the roles {', '.join(caller.roles) or 'none'}")
        job, _ = submit(caller, self.body_of(caller), kind, target, params, exclusive)
        return Response({"job": job.pk}, status=202)


def string_field(request: Request, name: str, required: bool = True) -> str | None:
    value = request.data.get(name) if hasattr(request.data, "get") else None
    if value is None or value == "":
        if required:
            raise Refused(400, f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise Refused(400, f"{name} must be an id")
    return value


def get_as_caller(getter: Any, object_id: str, what: str) -> Any:
    """The object as the caller sees it; 404 in Neutron's words if they may not."""
    try:
        with neutron_call():
            return getter(object_id)
    except ActionRefused as exc:
        if exc.status in (403, 404):
            raise Refused(404, f"{what} {object_id} could not be found.") from exc
        raise


# --------------------------------------------------------------------------- floating IPs


class FloatingIPListView(ActionView):
    action = JobKind.FIP_ALLOCATE

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The caller's floating IPs (admin: every project's)")
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        conn = neutron.reader(request, caller)
        return Response(
            {
                "floating_ips": neutron.list_floating_ips(conn, caller),
                "external_networks": neutron.external_networks(conn),
            }
        )

    @extend_schema(
        request=inline_serializer("Allocate", {"floating_network_id": serializers.CharField()}),
        responses=ACTION_RESPONSES,
        summary="Allocate a floating IP from an external network",
    )
    def post(self, request: Request) -> Response:
        network_id = string_field(request, "floating_network_id", required=False) or string_field(request, "network_id")
        assert network_id is not None
        network = get_as_caller(self.conn().network.get_network, network_id, "Network")
        if not network.is_router_external:
            raise Refused(400, f"Network {network_id} is not an external network: floating IPs come from one.")
        return self.queue(JobKind.FIP_ALLOCATE, network_id, {}, exclusive=False)


class FloatingIPView(ActionView):
    action = JobKind.FIP_RELEASE

    @extend_schema(responses=ACTION_RESPONSES, summary="Release a floating IP")
    def delete(self, request: Request, pk: str) -> Response:
        get_as_caller(self.conn().network.get_ip, pk, "Floating IP")
        return self.queue(JobKind.FIP_RELEASE, pk, {})


class FloatingIPTargetsView(ActionView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer},
        summary="Fixed IPs the floating IP can point at, and the others with the reason",
    )
    def get(self, request: Request, pk: str) -> Response:
        conn = self.conn()
        fip = get_as_caller(conn.network.get_ip, pk, "Floating IP")
        targets = neutron.targets_for(conn, fip)
        return Response(
            {
                "floating_ip": neutron.fip_dict(fip),
                "targets": [t.to_dict() for t in targets],
                # The outside end for a path preview (GET /api/v1/path/?src=port:<id>&dst=<this>).
                "outside_ip": neutron.external_gateway_ip(conn, fip.floating_network_id),
            }
        )


class FloatingIPAssociateView(ActionView):
    action = JobKind.FIP_ASSOCIATE

    @extend_schema(
        request=inline_serializer(
            "Associate", {"port_id": serializers.CharField(), "fixed_ip": serializers.CharField(required=False)}
        ),
        responses=ACTION_RESPONSES,
        summary="Point a floating IP at a port's fixed IP (pre-checked)",
    )
    def post(self, request: Request, pk: str) -> Response:
        port_id, fixed_ip = string_field(request, "port_id"), string_field(request, "fixed_ip", required=False)
        assert port_id is not None
        conn = self.conn()
        fip = get_as_caller(conn.network.get_ip, pk, "Floating IP")
        target = find_target(neutron.targets_for(conn, fip), port_id, fixed_ip)
        if target is None:
            with_ip = f" with fixed IP {fixed_ip}" if fixed_ip else ""
            raise Refused(404, f"Port {port_id}{with_ip} could not be found.")
        if not target.reachable:
            raise Refused(400, f"{target.fixed_ip} cannot take floating IP {fip.floating_ip_address}: {target.reason}")
        return self.queue(JobKind.FIP_ASSOCIATE, pk, {"port_id": port_id, "fixed_ip": target.fixed_ip})


class FloatingIPDisassociateView(ActionView):
    action = JobKind.FIP_DISASSOCIATE

    @extend_schema(request=None, responses=ACTION_RESPONSES, summary="Disassociate a floating IP")
    def post(self, request: Request, pk: str) -> Response:
        get_as_caller(self.conn().network.get_ip, pk, "Floating IP")
        return self.queue(JobKind.FIP_DISASSOCIATE, pk, {})


# --------------------------------------------------------------------------- routers


class RouterListView(ActionView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Routers with gateway and interfaces")
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        conn = neutron.reader(request, caller)
        return Response(
            {
                "routers": neutron.list_routers(conn, caller),
                "external_networks": neutron.external_networks(conn),
                "subnets": neutron.project_subnets(conn, caller),
            }
        )


class RouterGatewayView(ActionView):
    action = JobKind.GATEWAY_SET

    @extend_schema(
        request=inline_serializer(
            "Gateway", {"network_id": serializers.CharField(), "enable_snat": serializers.BooleanField(required=False)}
        ),
        responses=ACTION_RESPONSES,
        summary="Set a router's external gateway",
    )
    def put(self, request: Request, router_id: str) -> Response:
        caller = caller_of(request)
        network_id = string_field(request, "network_id")
        assert network_id is not None
        params: dict[str, Any] = {"network_id": network_id}
        data = request.data if isinstance(request.data, dict) else {}
        if "enable_snat" in data:
            # Neutron's default policy: enable_snat (True or False) is an admin's attribute.
            if not caller.is_admin:
                raise Refused(403, "enable_snat is disallowed by policy: a member's gateway carries network_id only")
            if not isinstance(data["enable_snat"], bool):
                raise Refused(400, "enable_snat must be true or false")
            params["enable_snat"] = data["enable_snat"]
        conn = self.conn()
        get_as_caller(conn.network.get_router, router_id, "Router")
        network = get_as_caller(conn.network.get_network, network_id, "Network")
        if not network.is_router_external:
            raise Refused(400, f"Network {network_id} is not an external network.")
        return self.queue(JobKind.GATEWAY_SET, router_id, params)

    @extend_schema(request=None, responses=ACTION_RESPONSES, summary="Clear a router's external gateway")
    def delete(self, request: Request, router_id: str) -> Response:
        self.action = JobKind.GATEWAY_CLEAR
        get_as_caller(self.conn().network.get_router, router_id, "Router")
        return self.queue(JobKind.GATEWAY_CLEAR, router_id, {})


class RouterRepairView(ActionView):
    action = JobKind.GATEWAY_REPAIR

    @extend_schema(
        request=None,
        responses=ACTION_RESPONSES,
        summary="Admin only: remove the gateway ports the router's gateway does not account for",
        description="A network:router_gateway port left on a router whose external_gateway_info is "
        "empty (or does not list its address) keeps the router routing and blocks setting "
        "the gateway again. The job releases and deletes it, makes the L3 agent resync "
        "the router, and is confirmed like the others (the port gone in Neutron, its qg- "
        "gone from the router's namespace). 403 for anyone but an admin; 409 when the "
        "router has no such port.",
    )
    def post(self, request: Request, router_id: str) -> Response:
        caller = caller_of(request)
        if not caller.is_admin:
            raise Refused(403, f"{JobKind.GATEWAY_REPAIR} is disallowed by policy: an admin's repair")
        router = get_as_caller(self.conn().network.get_router, router_id, "Router")
        orphans = orphan_gateway_ports(router, gateway_ports(router.id))
        if not orphans:
            raise Refused(409, f"Router {router_id} has no orphan gateway port: nothing to repair.")
        return self.queue(JobKind.GATEWAY_REPAIR, router_id, {"port_ids": sorted(p.id for p in orphans)})


class RouterInterfacesView(ActionView):
    action = JobKind.INTERFACE_ADD

    @extend_schema(
        request=inline_serializer("Interface", {"subnet_id": serializers.CharField()}),
        responses=ACTION_RESPONSES,
        summary="Add a router interface on a subnet",
    )
    def post(self, request: Request, router_id: str) -> Response:
        subnet_id = string_field(request, "subnet_id")
        assert subnet_id is not None
        conn = self.conn()
        get_as_caller(conn.network.get_router, router_id, "Router")
        get_as_caller(conn.network.get_subnet, subnet_id, "Subnet")
        return self.queue(JobKind.INTERFACE_ADD, router_id, {"subnet_id": subnet_id})


class RouterInterfaceView(ActionView):
    action = JobKind.INTERFACE_REMOVE

    @extend_schema(responses=ACTION_RESPONSES, summary="Remove a router's interface on a subnet")
    def delete(self, request: Request, router_id: str, subnet_id: str) -> Response:
        conn = self.conn()
        get_as_caller(conn.network.get_router, router_id, "Router")
        get_as_caller(conn.network.get_subnet, subnet_id, "Subnet")
        return self.queue(JobKind.INTERFACE_REMOVE, router_id, {"subnet_id": subnet_id})


# --------------------------------------------------------------------------- jobs and audit


def visible_jobs(caller: Caller) -> Any:
    """The caller's own jobs; the admin sees everyone's."""
    return Job.objects.all() if caller.is_admin else Job.objects.filter(user_id=caller.user_id)


class JobListView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The caller's latest jobs")
    def get(self, request: Request) -> Response:
        jobs = visible_jobs(caller_of(request))[:100]
        return Response({"jobs": [job_dict(j) for j in jobs]})


class JobView(APIView):
    @extend_schema(responses={200: JobSerializer, 404: ErrorSerializer}, summary="One job's state")
    def get(self, request: Request, pk: int) -> Response:
        job = visible_jobs(caller_of(request)).filter(pk=pk).first()
        if job is None:
            return Response({"detail": f"Job {pk} could not be found."}, status=404)
        return Response(job_dict(job))


def audit_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "user_name": entry.user_name,
        "user_id": entry.user_id,
        "project_id": entry.project_id,
        "action": entry.action,
        "target": entry.target,
        "result": entry.result,
        "message": entry.message,
        "job": entry.job_id,
    }


class AuditView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The audit log (admin: everyone's)")
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        entries = AuditEntry.objects.all() if caller.is_admin else AuditEntry.objects.filter(user_id=caller.user_id)
        return Response({"entries": [audit_dict(e) for e in entries[:200]]})
