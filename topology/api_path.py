"""The path explainer's REST API: `GET /api/v1/path/` (PathView), with the per-process caches a walk
needs (the indexed graph of the current revision, a project's view of it) and the stored reports
read host by host."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import IsCloudAdmin
from topology.api_schema import ErrorSerializer, caller_of
from topology.join.gcpause import gc_paused
from topology.models import HostReport
from topology.path import PathError, Topo, check_arguments, explain_in
from topology.path_graph import GraphKey, Indexed, current_indexed, graph_key
from topology.path_scope import Secrets, explain_for_project
from topology.path_view import project_view_of
from topology.probes import path_verify
from topology.probes.active import active_check


class StoredReports(Mapping[str, dict[str, Any]]):
    """Hosts' latest reports, read from the database only for the hosts a walk visits."""

    def __init__(self) -> None:
        self.cache: dict[str, dict[str, Any] | None] = {}

    def __getitem__(self, host: str) -> dict[str, Any]:
        if host not in self.cache:
            row = HostReport.objects.filter(host=host).only("report").first()
            self.cache[host] = row.report if row else None
        report = self.cache[host]
        if report is None:
            raise KeyError(host)
        return report

    def __iter__(self) -> Iterator[str]:
        return iter(HostReport.objects.values_list("host", flat=True))

    def __len__(self) -> int:
        return HostReport.objects.count()


class PathView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("src", str, required=True, description="node id (port:, server:, fip:, router:) or IP"),
            OpenApiParameter("dst", str, required=True, description="node id (port:, server:, fip:, router:) or IP"),
            OpenApiParameter("probe", str, default="icmp", description="icmp, ssh, tcp:PORT or udp:PORT"),
            OpenApiParameter("verify", str, description="1: check each hop with its node's tracer (admin)"),
            OpenApiParameter("since", str, description="1: when the verdict last changed, and what changed (24 h)"),
            OpenApiParameter(
                "at",
                int,
                description="a past revision (the map's timeline): the path explained on the graph as it was then",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Explain the path of a packet from src to dst, hop by hop",
    )
    def get(self, request: Request) -> Response:
        src, dst = request.query_params.get("src", "").strip(), request.query_params.get("dst", "").strip()
        if not src or not dst:
            return Response({"detail": "src and dst are required (a node id or an IP address)"}, status=400)
        probe = request.query_params.get("probe", "icmp")
        try:
            check_arguments(src, dst, probe)  # the same 400 for every caller: it needs nothing of the graph
        except PathError as exc:
            return Response({"detail": str(exc)}, status=400)
        if request.query_params.get("at", "") != "":
            return past_path(request, src, dst, probe)
        indexed = current_indexed()
        key, topo = indexed.key, indexed.topo
        scope = caller_of(request).scope
        reports_topo = topo.with_reports(StoredReports())
        if path_verify.asked(request.query_params):  # the nodes' tracers beside each hop (topology/probes/)
            status_code, body = path_verify.verified(
                caller_of(request), reports_topo, src, dst, probe, lambda: project_view(indexed, str(scope))
            )
            return Response({"revision": key[0], **body} if status_code == 200 else body, status=status_code)
        try:
            if scope is None:
                result = explain_in(reports_topo, src, dst, probe)
            else:
                visible, secrets = project_view(indexed, scope)
                result = explain_for_project(reports_topo, visible, secrets, src, dst, probe)
        except PathError as exc:
            return Response({"detail": str(exc)}, status=404 if scope is not None else 400)
        if request.query_params.get("since") == "1":
            result["since"] = since_of(reports_topo, src, dst, probe, indexed, scope)
        return Response({"revision": key[0], **result})


class ActivePathView(APIView):
    permission_classes = [IsCloudAdmin]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 403: ErrorSerializer},
        summary="Admin: send one real ping along the path and say which cited counters it moved",
        description="Body {src, dst} as GET /api/v1/path/ takes them (ICMP only). The source host's agent "
        "sends the ping (only with active_probes on) from the VM's own namespace where it is one, "
        "else from the DHCP namespace of its network; every flow and NAT rule the hops cite is read "
        "before and after. Each hop gets `active` {moved, still, not_read}; `active` sums it up.",
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        src, dst = str(body.get("src") or "").strip(), str(body.get("dst") or "").strip()
        if not src or not dst:
            return Response({"detail": "src and dst are required (a node id or an IP address)"}, status=400)
        if str(body.get("probe") or "icmp") != "icmp":
            return Response({"detail": "an active check sends ICMP echo only: probe must be icmp"}, status=400)
        try:
            check_arguments(src, dst, "icmp")
            indexed = current_indexed()
            topo = indexed.topo.with_reports(StoredReports())
            result = explain_in(topo, src, dst, "icmp")
        except PathError as exc:
            return Response({"detail": str(exc)}, status=400)
        checked = active_check(path_verify.new_asker(), topo, result)
        if "error" in checked:
            return Response({"detail": checked["error"]}, status=400)
        return Response({"revision": indexed.key[0], **checked})


def past_path(request: Request, src: str, dst: str, probe: str) -> Response:
    """``?at=<revision>``: the path on the graph of that revision (topology/history/path_at.py), scoped as live."""
    from topology.history.past import UnknownRevision
    from topology.history.path_at import past_indexed, past_marker, past_project_view
    from topology.history.replay import HistoryGap

    text = request.query_params.get("at", "")
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        return Response({"detail": "at must be a positive integer (a revision)"}, status=400)
    if path_verify.asked(request.query_params) or request.query_params.get("since") == "1":
        return Response({"detail": "at= explains a past revision: verify and since are asked of the live path"}, 400)
    try:
        key, _, topo = past_indexed(int(text))
    except UnknownRevision as exc:
        return Response(exc.body(), status=404)
    except HistoryGap as exc:  # rows deleted by hand
        return Response({"detail": f"this revision cannot be rebuilt: {exc}"}, status=409)
    scope = caller_of(request).scope
    reports_topo = topo.with_reports(StoredReports())  # today's: the history keeps no report
    try:
        if scope is None:
            result = explain_in(reports_topo, src, dst, probe)
        else:
            visible, secrets = past_project_view(key, topo, scope)
            result = explain_for_project(reports_topo, visible, secrets, src, dst, probe)
    except PathError as exc:
        return Response({"detail": str(exc)}, status=404 if scope is not None else 400)
    return Response({"revision": key[0], **result, "past": past_marker(key, graph_key()[0])})


def since_of(topo: Topo, src: str, dst: str, probe: str, indexed: Indexed, scope: str | None) -> dict[str, Any]:
    """The ``since`` object (topology/history/changes.py) in the caller's scope."""
    from django.utils import timezone

    from topology.history.changes import path_since

    revision = indexed.key[0]
    if scope is None:
        return path_since(topo, src, dst, probe, revision, timezone.now())
    visible, secrets = project_view(indexed, scope)
    return path_since(topo, src, dst, probe, revision, timezone.now(), visible, secrets, scope)


# What a project may see of the current revision and the tokens it may not, per process
# (topology/path_view.py: a pass over the Topo's nodes and edge lists, the tokens counted once per
# revision), which a tenant's second question should not pay again.
_PROJECT_VIEWS: dict[tuple[GraphKey, str], tuple[dict[str, Any], Secrets]] = {}
PROJECT_VIEWS_KEPT = 16


def project_view(indexed: Indexed, scope: str) -> tuple[dict[str, Any], Secrets]:
    graph_at = indexed.key
    key = (graph_at, scope)
    if key not in _PROJECT_VIEWS:
        for old in [k for k in _PROJECT_VIEWS if k[0] != graph_at] + list(_PROJECT_VIEWS)[:-PROJECT_VIEWS_KEPT]:
            _PROJECT_VIEWS.pop(old, None)
        with gc_paused():
            _PROJECT_VIEWS[key] = project_view_of(indexed.topo, indexed.tokens(), scope)
    return _PROJECT_VIEWS[key]


def indexed_graph() -> tuple[GraphKey, dict[str, Any], Topo]:
    """The current revision's key, whole graph and Topo (topology/path_graph.py)."""
    indexed = current_indexed()
    return indexed.key, indexed.graph, indexed.topo
