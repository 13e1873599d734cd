"""REST API v1 of the topology (docs/design.md "REST API v1")."""

from __future__ import annotations

import gzip
import logging
import random
import zlib
from typing import Any

import orjson
from django.conf import settings
from django.db import OperationalError
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import IsCloudAdmin
from topology import api_hosts, graphservice, ingest_queue, services
from topology.api_path import (  # noqa: F401 (importers)
    ActivePathView,
    PathView,
    StoredReports,
    indexed_graph,
    project_view,
)
from topology.api_schema import ErrorSerializer, ReportRejectedSerializer, TopologySerializer, caller_of
from topology.models import CloudSnapshot, HostReport
from topology.notifications import status as notification_state
from topology.ovn.backend import backend_status
from topology.ovn.monitor_apply import read_state as ovn_monitor_state
from topology.report import ACCEPTED_VERSIONS, MAX_REPORT_BYTES, validate_report
from topology.scope import VIEWS

log = logging.getLogger(__name__)


class TopologyView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("view", str, enum=list(VIEWS), default="full"),
            OpenApiParameter("collapsed", bool, description="view=physical only: hosts with counts (api_hosts.py)"),
        ],
        responses={200: TopologySerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        summary="The joined graph the caller may see",
    )
    def get(self, request: Request) -> HttpResponse:
        view = request.query_params.get("view", "full")
        if view not in VIEWS:
            return Response({"detail": f"view must be one of {', '.join(VIEWS)}"}, status=400)
        if view == "physical" and request.query_params.get("collapsed") in ("1", "true"):
            return api_hosts.collapsed_response(request)
        body = services.graph_view(view, caller_of(request).scope)
        # Served as stored: one serialization per revision and scope, shared by every browser.
        if "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", ""):
            response = HttpResponse(body, content_type="application/json")
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(gzip.decompress(body), content_type="application/json")
        response["Vary"] = "Accept-Encoding, Cookie, X-Auth-Token"
        return response


class RefreshView(APIView):
    permission_classes = [IsCloudAdmin]

    @extend_schema(
        request=None,
        responses={200: inline_serializer("Refreshed", {"revision": serializers.IntegerField()})},
        summary="Refresh the cloud snapshot now (admin)",
    )
    def post(self, request: Request) -> Response:
        services.refresh_cloud()
        return Response({"revision": services.current_revision()})


def notifications_status(snapshot: CloudSnapshot | None) -> dict[str, Any]:
    """Whether logical changes come by Neutron's notifications (the last event's time) or wait for
    the periodic refresh (how old the last one is); topology/notifications/."""
    state = notification_state.read() if settings.DASHBOARD_NOTIFICATIONS else None
    listening = state is not None and state.get("state") == "listening"
    body: dict[str, Any] = {
        "enabled": bool(settings.DASHBOARD_NOTIFICATIONS),
        "listener": state.get("state") if state else None,
        "last_event_at": state.get("last_event_at") if state else None,
        "last_event_type": state.get("last_event_type") if state else None,
        "error": state.get("error") if state else None,
        "refresh_seconds": settings.CLOUD_REFRESH_SECONDS,
    }
    if not listening:
        age = (timezone.now() - snapshot.collected_at).total_seconds() if snapshot else None
        body["last_refresh_age_seconds"] = round(age, 1) if age is not None else None
        off = "notifications are off" if not settings.DASHBOARD_NOTIFICATIONS else "the listener is not listening"
        body["message"] = (
            off
            + ": logical changes wait for the periodic refresh"
            + (f" (the last one {age:.0f} s ago)" if age is not None else " (none yet)")
        )
    else:
        body["message"] = f"listening to Neutron's notifications (last event {body['last_event_at'] or 'none yet'})"
    return body


class StatusView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Freshness of the inputs of the graph")
    def get(self, request: Request) -> Response:
        snapshot = CloudSnapshot.objects.latest_snapshot()
        body: dict[str, Any] = {
            "revision": services.current_revision(),
            "cloud": None
            if snapshot is None
            else {
                "name": snapshot.cloud,
                "collected_at": snapshot.collected_at.isoformat(),
                "api_calls": snapshot.api_calls,
                "duration": round(snapshot.duration, 3),
            },
            "notifications": notifications_status(snapshot),
        }
        backend = backend_status(
            snapshot.data if snapshot is not None else {}, settings.OVN_NB_CONNECTION, settings.OVN_SB_CONNECTION
        )
        if "ovn" in backend:
            backend["ovn"]["monitor"] = ovn_monitor_state()  # None: no monitor runs (changes wait for a refresh)
        # The mechanism for everyone; OVN's databases (their addresses in the errors) for admins only.
        body["backend"] = backend if caller_of(request).is_admin else {"mechanism": backend["mechanism"]}
        if caller_of(request).is_admin:
            body["hosts"] = [
                {"host": r.host, "collected_at": r.collected_at.isoformat(), "received_at": r.received_at.isoformat()}
                for r in HostReport.objects.order_by("host").only("host", "collected_at", "received_at")
            ]
        return Response(body)


def read_body(request: Request) -> bytes:
    """The raw body, at most MAX_REPORT_BYTES (gzip/deflate decoded with the same bound)."""
    stream = request.stream  # None for an empty body
    raw = stream.read(MAX_REPORT_BYTES + 1) if stream is not None else b""
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").lower()
    if encoding in ("gzip", "deflate") and len(raw) <= MAX_REPORT_BYTES:
        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        try:
            decoder = zlib.decompressobj(wbits)
            raw = decoder.decompress(raw, MAX_REPORT_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise ValueError(f"body is not valid {encoding}: {exc}") from exc
    if len(raw) > MAX_REPORT_BYTES:
        raise ValueError(f"report is larger than {MAX_REPORT_BYTES} bytes")
    return raw


class AgentReportView(APIView):
    """A node agent's report; the agent authenticates with its host token, not Keystone."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            202: inline_serializer(
                "ReportAccepted",
                {
                    "host": serializers.CharField(),
                    "revision": serializers.IntegerField(),
                    "queued": serializers.BooleanField(),
                },
            ),
            400: ReportRejectedSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            503: inline_serializer(
                "ReportLater",
                {
                    "detail": serializers.CharField(),
                    "host": serializers.CharField(),
                    "stored": serializers.BooleanField(),
                    "retry_after": serializers.IntegerField(),
                },
            ),
        },
        summary="Ingest a node agent report (Authorization: Bearer <host token>)",
    )
    def post(self, request: Request) -> Response:
        host = agent_host(request)
        if host is None:
            return unknown_agent_token()
        try:
            raw = read_body(request)
            # orjson: strict JSON (no NaN/Infinity, no lone surrogates), and fast on 30 MiB
            report = orjson.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return rejected([f"body: {exc}"])
        reasons = validate_report(report)
        if reasons:
            return rejected(reasons)
        if report["host"] != host:
            return Response(
                {"detail": f"this token belongs to host {host!r}, not {report['host']!r}"},
                status=status.HTTP_403_FORBIDDEN,
            )
        if settings.GRAPH_WRITER == "inline":
            services.store_report(host, report, len(raw))
            revision = graphservice.apply(hosts=[host]).revision  # this host's part and the cross joins
            return Response({"host": host, "revision": revision, "queued": False}, status=202)
        return queued_report(host, report, len(raw))


def queued_report(host: str, report: dict[str, Any], size: int) -> Response:
    """Store the report and mark the host for the graph writer: 202 at once, the join is the writer's.

    503 with Retry-After, never a 500: when the writer is behind (the report is not taken), or when
    the graph queue (Redis) is unreachable (the report is stored, the map does not show it yet).
    """
    try:
        lag = ingest_queue.pending_and_lag()[1]
    except ingest_queue.QueueDown:
        lag = 0.0  # said below, once the report is stored
    if lag > settings.GRAPH_MAX_LAG_SECONDS:
        return busy(
            host,
            f"the graph writer is behind: its oldest unapplied report is {lag:.0f} s old (more than "
            f"{settings.GRAPH_MAX_LAG_SECONDS:g} s); this report was not taken: send it again after Retry-After",
        )
    try:
        services.store_report(host, report, size)
    except OperationalError as exc:  # SQLite's busy timeout ran out ("database is locked"): later, not a 500
        log.warning("report of %s not stored: %s", host, exc)
        return busy(host, f"the database is busy ({exc}): this report was not stored; send it again after Retry-After")
    try:
        ingest_queue.mark_and_schedule(host)
    except ingest_queue.QueueDown as exc:
        log.warning("report of %s stored, but the graph queue is unreachable: %s", host, exc)
        return busy(
            host,
            "the report is stored, but the graph queue (Redis) is unreachable: the map shows it once the queue "
            "is back and the writer's sweep or the periodic rebuild applies it; send it again after Retry-After",
            stored=True,
        )
    return Response({"host": host, "revision": services.current_revision(), "queued": True}, status=202)


def busy(host: str, detail: str, *, stored: bool = False) -> Response:
    """503 with a Retry-After spread over [R, 2R] s so that many agents do not come back at once."""
    base = settings.GRAPH_RETRY_AFTER_SECONDS
    wait = base + random.randint(0, base)  # spreading retries, not a secret
    return Response(
        {"detail": detail, "host": host, "stored": stored, "retry_after": wait},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(wait)},
    )


class AgentWhoamiView(APIView):
    """Whose is this host token (``neutron-map-agent --check``): a cheap authenticated call, nothing stored."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "AgentWhoami",
                {
                    "host": serializers.CharField(),
                    "report_versions": serializers.ListField(child=serializers.IntegerField()),
                },
            ),
            401: ErrorSerializer,
        },
        summary="The host a node agent's token belongs to (Authorization: Bearer <host token>)",
    )
    def get(self, request: Request) -> Response:
        host = agent_host(request)
        if host is None:
            return unknown_agent_token()
        return Response({"host": host, "report_versions": list(ACCEPTED_VERSIONS)})


def agent_host(request: Request) -> str | None:
    """The host whose agent token the request carries (``Authorization: Bearer <host token>``), if known."""
    token = services.bearer(request.META.get("HTTP_AUTHORIZATION", ""))
    return services.host_for_token(token) if token else None


def unknown_agent_token() -> Response:
    return Response(
        {"detail": "Authorization: Bearer <host token> is missing or unknown (manage.py agent_token <host>)"},
        status=status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": "Bearer"},
    )


def rejected(reasons: list[str]) -> Response:
    return Response({"detail": "report rejected: " + "; ".join(reasons[:5]), "reasons": reasons}, status=400)
